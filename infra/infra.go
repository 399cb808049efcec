package infra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/gophercloud/gophercloud/v2"

	"github.com/openstrap/openstrap/internal/retry"
	"github.com/openstrap/openstrap/provider"
)

// Infra manages the network infrastructure of clusters on one cloud. It is
// safe for concurrent use; calls for the same cluster should not overlap
// (two concurrent Ensures of one cluster may both create a resource).
type Infra struct {
	cloud *provider.Cloud
	o     options
	err   error // from an option; returned by every call

	// noFullyPopulated is set once Octavia refused a load balancer created
	// together with its listener, pool and monitor.
	noFullyPopulated atomic.Bool

	// lastDepth is the longest chain of dependent API calls of the last
	// Ensure, Plan or Delete (see export_test.go).
	lastDepth atomic.Int64
}

// New returns an Infra working on cloud. An invalid option makes every call
// fail with its error.
func New(cloud *provider.Cloud, opts ...Option) *Infra {
	inf := &Infra{cloud: cloud, o: defaultOptions()}
	for _, opt := range opts {
		if err := opt.apply(&inf.o); err != nil {
			inf.err = err
		}
	}
	if inf.err == nil && cloud == nil {
		inf.err = errors.New("infra: New: nil cloud")
	}
	return inf
}

// EnsureOption configures one Ensure or Plan call.
type EnsureOption interface {
	applyEnsure(*ensureOptions)
}

type ensureOptions struct {
	known Status
}

type ensureOptionFunc func(*ensureOptions)

func (f ensureOptionFunc) applyEnsure(o *ensureOptions) { f(o) }

// WithStatus passes the Status of an earlier Ensure: its IDs are looked up
// first, and the external network is not looked up again when the spec
// names the same one.
func WithStatus(st Status) EnsureOption {
	return ensureOptionFunc(func(o *ensureOptions) { o.known = st })
}

// Ensure converges the cloud to spec and returns what exists. It can be
// called again after any failure, including a process killed between two API
// calls: it finds what an earlier call created by name and ownership tag and
// creates only what is missing. An Ensure that finds everything in place
// makes no write call.
func (inf *Infra) Ensure(ctx context.Context, spec Spec, opts ...EnsureOption) (Status, error) {
	r, err := inf.newRun(ctx, &spec, false, opts)
	if err != nil {
		return Status{}, err
	}
	log := r.log.WithValues("cluster", spec.Cluster)
	log.Info("ensuring cluster infrastructure")
	start := time.Now()
	st, err := r.ensure(ctx)
	inf.lastDepth.Store(r.depth.Load())
	if err != nil {
		return st, err
	}
	log.Info("cluster infrastructure ready", "endpoint", st.APIEndpoint.String(), "duration", time.Since(start).Round(time.Millisecond))
	return st, nil
}

// Plan reports what Ensure would create, change or delete, making only read
// calls.
func (inf *Infra) Plan(ctx context.Context, spec Spec, opts ...EnsureOption) (Plan, error) {
	r, err := inf.newRun(ctx, &spec, true, opts)
	if err != nil {
		return Plan{}, err
	}
	_, err = r.ensure(ctx)
	inf.lastDepth.Store(r.depth.Load())
	r.mu.Lock()
	defer r.mu.Unlock()
	return Plan{Changes: r.changes}, err
}

func (inf *Infra) newRun(ctx context.Context, spec *Spec, dry bool, opts []EnsureOption) (*run, error) {
	if inf.err != nil {
		return nil, inf.err
	}
	spec.Default()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	var eo ensureOptions
	for _, o := range opts {
		o.applyEnsure(&eo)
	}
	r := inf.run(ctx, spec.Cluster)
	r.spec = *spec
	r.dry = dry
	r.known = eo.known
	if r.known.Cluster != "" && r.known.Cluster != spec.Cluster {
		return nil, invalid("WithStatus", r.known.Cluster, "is the status of another cluster than "+spec.Cluster)
	}
	return r, nil
}

// run is the state of one Ensure, Plan, Delete or member call.
type run struct {
	inf   *Infra
	spec  Spec
	names names
	tag   string
	known Status
	dry   bool
	log   logr.Logger
	sem   chan struct{}

	mu      sync.Mutex
	changes []Change

	depth atomic.Int64
	bg    []waiter

	// busyIsPending: with WithoutWaiting, outside Delete, Octavia's 409 on
	// an object that is PENDING_* is ErrPending rather than retried.
	busyIsPending bool
}

func (inf *Infra) run(ctx context.Context, cluster string) *run {
	log := inf.o.log
	if !inf.o.logSet {
		log = logr.FromContextOrDiscard(ctx)
	}
	return &run{
		inf:   inf,
		names: names{cluster: cluster},
		tag:   OwnerTag(cluster),
		log:   log,
		sem:   make(chan struct{}, inf.o.concurrency),

		busyIsPending: inf.o.noWait,
	}
}

// Retry policies: Neutron retries transient errors; Octavia also 409 while a
// load balancer is PENDING_*.
var (
	neutronPolicy = retry.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second}
	octaviaPolicy = retry.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second, RetryConflict: true}
)

// do runs op with retries. op makes its API calls through r.call.
// With WithoutWaiting, a 409 the policy would retry (Octavia refusing a
// change to a load balancer, or its pool, that is PENDING_*) ends the call
// with ErrPending instead: the caller comes back later.
func (r *run) do(ctx context.Context, p retry.Policy, op func(context.Context) error) error {
	if !p.RetryConflict || !r.busyIsPending {
		return retry.Do(ctx, p, op)
	}
	return retry.Do(ctx, p, func(ctx context.Context) error {
		err := op(ctx)
		if gophercloud.ResponseCodeIs(err, http.StatusConflict) && !provider.IsQuota(err) {
			return retry.Permanent(fmt.Errorf("load balancer busy in Octavia (%w): %w", provider.ErrPending, err))
		}
		return err
	})
}

// call runs one API call within the concurrency limit and counts it on the
// caller's chain of dependent calls.
func (r *run) call(ctx context.Context, op func(context.Context) error) error {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.sem }()
	if c, ok := ctx.Value(chainKey{}).(*chain); ok {
		c.n++
		for {
			d := r.depth.Load()
			if c.n <= d || r.depth.CompareAndSwap(d, c.n) {
				break
			}
		}
	}
	return op(ctx)
}

// chain counts the dependent API calls made one after another by one
// goroutine, to measure the critical path.
type chain struct{ n int64 }

type chainKey struct{}

func chainOf(ctx context.Context) int64 {
	if c, ok := ctx.Value(chainKey{}).(*chain); ok {
		return c.n
	}
	return 0
}

func withChain(ctx context.Context, n int64) (context.Context, *chain) {
	c := &chain{n: n}
	return context.WithValue(ctx, chainKey{}, c), c
}

// errSkipped marks a step not run because a step it depends on failed.
var errSkipped = errors.New("skipped: a resource it depends on failed")

// waiter is a step others can depend on.
type waiter interface {
	wait() (depth int64, err error)
}

// future is a step running in its own goroutine.
type future[T any] struct {
	done  chan struct{}
	v     T
	err   error
	depth int64
}

func (f *future[T]) wait() (int64, error) {
	<-f.done
	return f.depth, f.err
}

func (f *future[T]) get() (T, error) {
	<-f.done
	return f.v, f.err
}

// spawn starts fn once deps are done, on a chain that continues the longest
// of theirs. If a dependency failed, fn is not run.
func spawn[T any](ctx context.Context, fn func(context.Context) (T, error), deps ...waiter) *future[T] {
	f := &future[T]{done: make(chan struct{})}
	start := chainOf(ctx)
	go func() {
		defer close(f.done)
		for _, d := range deps {
			depth, err := d.wait()
			if err != nil {
				f.err = errSkipped
				return
			}
			start = max(start, depth)
		}
		cctx, c := withChain(ctx, start)
		f.v, f.err = fn(cctx)
		f.depth = c.n
	}()
	return f
}

// parallel runs fn for 0..n-1 concurrently, each on its own chain, and
// continues the caller's chain with the longest.
func parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	if n == 0 {
		return nil
	}
	start := chainOf(ctx)
	errs := make([]error, n)
	depths := make([]int64, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, c := withChain(ctx, start)
			errs[i] = fn(cctx, i)
			depths[i] = c.n
		}()
	}
	wg.Wait()
	if c, ok := ctx.Value(chainKey{}).(*chain); ok {
		for _, d := range depths {
			c.n = max(c.n, d)
		}
	}
	return errors.Join(errs...)
}

// joinErrs joins the errors of steps, leaving out skipped ones.
func joinErrs(errs ...error) error {
	var out []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, errSkipped) {
			out = append(out, err)
		}
	}
	return errors.Join(out...)
}

// fail wraps err into a provider.Error naming the resource.
func (r *run) fail(op, kind, name, id, hint string, err error) error {
	if err == nil {
		return nil
	}
	var pe *provider.Error
	if errors.As(err, &pe) && pe.Kind == kind && pe.Name == name {
		return err
	}
	return &provider.Error{Op: op, Kind: kind, Name: name, ID: id, Cloud: r.inf.cloud.Name, Hint: hint, Err: err}
}

// event logs a decision and reports it to the progress callback.
func (r *run) event(e Event) {
	kv := []any{"resource", e.Resource, "name", e.Name, "id", e.ID, "action", string(e.Action)}
	if e.Duration > 0 {
		kv = append(kv, "duration", e.Duration.Round(time.Millisecond))
	}
	// A failure is returned to the caller, not logged here.
	if e.Err == nil {
		r.log.V(1).Info("resource", kv...)
	}
	if r.inf.o.progress != nil {
		r.inf.o.progress(e)
	}
}

// planned records a change in dry-run mode.
func (r *run) planned(c Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
}

// query is a list filter in OpenStack's query-string form; it serves every
// gophercloud list call this package makes, including repeated keys.
type query url.Values

func (q query) encode() (string, error) {
	if len(q) == 0 {
		return "", nil
	}
	return "?" + url.Values(q).Encode(), nil
}

func (q query) ToNetworkListQuery() (string, error)      { return q.encode() }
func (q query) ToSubnetListQuery() (string, error)       { return q.encode() }
func (q query) ToPortListQuery() (string, error)         { return q.encode() }
func (q query) ToRouterListQuery() (string, error)       { return q.encode() }
func (q query) ToFloatingIPListQuery() (string, error)   { return q.encode() }
func (q query) ToLoadBalancerListQuery() (string, error) { return q.encode() }
func (q query) ToListenerListQuery() (string, error)     { return q.encode() }
func (q query) ToPoolListQuery() (string, error)         { return q.encode() }
func (q query) ToMonitorListQuery() (string, error)      { return q.encode() }
func (q query) ToMembersListQuery() (string, error)      { return q.encode() }
func (q query) ToVolumeListQuery() (string, error)       { return q.encode() }

// q builds a query from key, value pairs.
func q(kv ...string) query {
	v := query{}
	for i := 0; i+1 < len(kv); i += 2 {
		v[kv[i]] = append(v[kv[i]], kv[i+1])
	}
	return v
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

func now() time.Time                  { return time.Now() }
func since(t time.Time) time.Duration { return time.Since(t) }
