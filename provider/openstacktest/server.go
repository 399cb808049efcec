package openstacktest

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

// Server is a running OpenStack simulator.
type Server struct {
	// URL is the base URL of the simulator, such as http://127.0.0.1:41234.
	// The identity endpoint is URL + "/identity/v3".
	URL string

	opts   options
	hs     *httptest.Server
	mux    *http.ServeMux
	faults faults

	ctx    context.Context // cancelled by Close; hooks and hangs end with it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	callsMu sync.Mutex
	calls   map[string]int
	latency time.Duration

	mu       sync.Mutex // guards st, rng and hookErrs; held while a handler runs
	st       *state
	rng      *rand.Rand
	idSeed   uint64
	hookErrs []error
	lbHook   lbHookState
}

// state is everything the simulated cloud knows; it is what WithStateDir
// persists.
type state struct {
	Identity     identityState `json:"identity"`
	Compute      computeState  `json:"compute"`
	Network      networkState  `json:"network"`
	LoadBalancer lbState       `json:"loadBalancer"`
	Image        imageState    `json:"image"`
	Volume       volumeState   `json:"volume"`
	// Counter feeds deterministic IDs across restarts.
	Counter uint64 `json:"counter"`
}

// NewServer starts a simulator seeded with what a fresh cloud has: an admin
// and a member project and user, an external network with a floating-IP
// subnet, flavors, an image, default security groups and quotas. With
// WithStateDir it loads the state kept there instead, when there is one.
func NewServer(opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt.apply(&o); err != nil {
			return nil, err
		}
	}
	s := &Server{opts: o, mux: http.NewServeMux(), calls: map[string]int{}, latency: o.latency}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	seed := o.seed
	if !o.seeded {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	}
	s.idSeed = seed
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.faults.rng = rand.New(rand.NewPCG(seed^0x5851f42d4c957f2d, seed))

	loaded, err := s.load()
	if err != nil {
		return nil, err
	}
	if !loaded {
		s.st = &state{}
		s.seed()
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	s.routes()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("openstacktest: listen on %s: %w", o.addr, err)
	}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.hs.Listener.Close()
	s.hs.Listener = ln
	s.hs.Start()
	s.URL = s.hs.URL

	if o.hooks.OnLoadBalancers != nil {
		s.lbHook.signal = make(chan struct{}, 1)
		s.wg.Add(1)
		go s.deliverFrontends()
	}
	// Attach may use the Server at once (even from a goroutine).
	if o.hooks.Attach != nil {
		o.hooks.Attach(s)
	}
	s.wg.Add(1)
	go s.tick()
	return s, nil
}

// NewTestServer starts a Server for a test and closes it when the test ends.
func NewTestServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, ends hanging requests, waits for running hooks and
// saves the state when WithStateDir is set.
func (s *Server) Close() {
	s.cancel()
	s.hs.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.save(); err != nil {
		s.opts.log.Error(err, "save state on close")
	}
}

// SetLatency changes the delay added to every request.
func (s *Server) SetLatency(d time.Duration) {
	s.callsMu.Lock()
	s.latency = d
	s.callsMu.Unlock()
}

// HookErrors returns the errors that ServerHooks.OnActive returned so far.
func (s *Server) HookErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.hookErrs...)
}

// Calls counts requests per operation since the start or the last
// ResetCalls. Keys are the operation's method and route, such as
// "POST /network/v2.0/ports" or "GET /compute/v2.1/servers/{id}".
type Calls map[string]int

// Total is the number of requests.
func (c Calls) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Reads is the number of GET and HEAD requests.
func (c Calls) Reads() int {
	n := 0
	for k, v := range c {
		if isRead(k) {
			n += v
		}
	}
	return n
}

// Writes is the number of requests that are not reads, token requests
// excepted.
func (c Calls) Writes() int {
	n := 0
	for k, v := range c {
		if !isRead(k) && k != tokenRoute {
			n += v
		}
	}
	return n
}

func isRead(key string) bool {
	return len(key) > 4 && (key[:4] == "GET " || key[:5] == "HEAD ")
}

// Calls returns a copy of the call counters.
func (s *Server) Calls() Calls {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	c := make(Calls, len(s.calls))
	for k, v := range s.calls {
		c[k] = v
	}
	return c
}

// ResetCalls sets every call counter to zero.
func (s *Server) ResetCalls() {
	s.callsMu.Lock()
	s.calls = map[string]int{}
	s.callsMu.Unlock()
}

// Resource is one live simulated resource, as Snapshot reports it.
type Resource struct {
	// Service is "compute", "network", "load-balancer", "image", "volume" or
	// "identity".
	Service string
	// Kind is the resource type, such as "server", "port" or "loadbalancer".
	Kind      string
	ID        string
	Name      string
	ProjectID string
	Status    string
	Tags      []string
}

// HasTag reports whether the resource carries tag.
func (r Resource) HasTag(tag string) bool {
	for _, t := range r.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Snapshot lists every live resource, sorted by service, kind, name and ID,
// so that a test can assert that nothing leaked.
func (s *Server) Snapshot() []Resource {
	s.mu.Lock()
	s.advanceLocked()
	var out []Resource
	out = append(out, s.snapshotIdentity()...)
	out = append(out, s.snapshotCompute()...)
	out = append(out, s.snapshotNetwork()...)
	out = append(out, s.snapshotLoadBalancer()...)
	out = append(out, s.snapshotImage()...)
	out = append(out, s.snapshotVolume()...)
	s.mu.Unlock()
	SortResources(out)
	return out
}

// SortResources orders resources by service, kind, name and ID, the order
// Snapshot returns, so that snapshots taken elsewhere compare equal.
func SortResources(rs []Resource) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
}

// newID returns a UUID (version 4 layout). Callers hold s.mu.
func (s *Server) newID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randHex returns n random bytes in hex. Callers hold s.mu.
func (s *Server) randHex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	return fmt.Sprintf("%x", b)
}

// now is the simulator's clock, in UTC.
func (s *Server) now() time.Time { return time.Now().UTC() }

// tick advances timed state transitions (BUILD to ACTIVE, PENDING_* to
// ACTIVE, ...) even when no request arrives, so that hooks run on time.
func (s *Server) tick() {
	defer s.wg.Done()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.mu.Lock()
			s.advanceLocked()
			s.mu.Unlock()
		}
	}
}

// advanceLocked applies every state transition that is due and starts the
// hooks they fire. Callers hold s.mu.
func (s *Server) advanceLocked() {
	now := s.now()
	changed := s.advanceCompute(now)
	changed = s.advanceLoadBalancer(now) || changed
	changed = s.advanceVolume(now) || changed
	s.noteFrontends()
	if changed {
		if err := s.save(); err != nil {
			s.opts.log.Error(err, "save state")
		}
	}
}

// goHook runs fn in its own goroutine with the server's context. Callers
// hold s.mu (or not); fn must lock s.mu itself if it touches state.
func (s *Server) goHook(fn func(ctx context.Context)) {
	if s.ctx.Err() != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
}

const stateFile = "state.json"

// load reads the persisted state, if any.
func (s *Server) load() (bool, error) {
	if s.opts.stateDir == "" {
		return false, nil
	}
	b, err := os.ReadFile(filepath.Join(s.opts.stateDir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("openstacktest: load state: %w", err)
	}
	st := &state{}
	if err := json.Unmarshal(b, st); err != nil {
		return false, fmt.Errorf("openstacktest: load state from %s: %w", filepath.Join(s.opts.stateDir, stateFile), err)
	}
	s.st = st
	// Keep IDs unique after a restart with the same seed.
	s.rng = rand.New(rand.NewPCG(s.idSeed+st.Counter, s.idSeed^0x9e3779b97f4a7c15))
	return true, nil
}

// save writes the state when WithStateDir is set. Callers hold s.mu.
func (s *Server) save() error {
	if s.opts.stateDir == "" || s.st == nil {
		return nil
	}
	s.st.Counter++
	b, err := json.Marshal(s.st)
	if err != nil {
		return fmt.Errorf("openstacktest: save state: %w", err)
	}
	if err := os.MkdirAll(s.opts.stateDir, 0o700); err != nil {
		return fmt.Errorf("openstacktest: save state: %w", err)
	}
	tmp, err := os.CreateTemp(s.opts.stateDir, stateFile+".*")
	if err != nil {
		return fmt.Errorf("openstacktest: save state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("openstacktest: save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("openstacktest: save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.opts.stateDir, stateFile)); err != nil {
		return fmt.Errorf("openstacktest: save state: %w", err)
	}
	return nil
}

// bufferedWriter holds a handler's answer so that a DropAfter fault can
// discard it after the handler ran.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
