package openstacktest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sync"
)

// FaultAction is what an injected fault does to a matching request.
type FaultAction int

const (
	// Respond answers with the fault's Status, Header and Body instead of
	// handling the request.
	Respond FaultAction = iota
	// DropBefore closes the connection without handling the request: the
	// call never happened.
	DropBefore
	// DropAfter handles the request, then closes the connection without
	// answering: the call happened but the client cannot know.
	DropAfter
	// Hang never answers; the request ends when the client gives up or the
	// server closes.
	Hang
)

// Fault describes an injected failure. The zero value of each matcher
// matches every request.
type Fault struct {
	// Method matches the HTTP method ("" for any).
	Method string
	// Path is a regular expression matched against the URL path, for
	// example `^/network/v2\.0/ports`. Service prefixes are /identity,
	// /compute, /network, /load-balancer, /image and /volume.
	Path string
	// Action is what happens to a matching request.
	Action FaultAction
	// Status, Header and Body are the answer for Respond. Status defaults to
	// 500 and Body to the service's usual error body for that status.
	Status int
	Header http.Header
	Body   string
	// Skip lets this many matching requests through before the fault
	// starts, so that "the k-th call" can be targeted.
	Skip int
	// Times is how many requests the fault affects; 0 means until removed.
	Times int
	// Probability, when in (0,1), affects each matching request at random
	// with that probability.
	Probability float64
	// Writes, when true, matches only the requests Calls.Writes counts:
	// neither GET nor HEAD, and not the Keystone token request. With Skip
	// and Times it targets "the k-th write", whatever its service.
	Writes bool
	// Match, when set, is one more matcher, asked after the others. It runs
	// with the server's fault lock held: it must be quick, must not read the
	// request body and must not call the Server.
	Match func(r *http.Request) bool
	// OnApply, when set, is called when the fault affects a request, before
	// its Action, with the fault lock held: every request matched after it
	// sees what it did (a test sets a flag that another fault's Match reads,
	// to fail everything after "the process died" at this request). It must
	// be quick, must not read the request body and must not call the Server;
	// start a goroutine for slower work.
	OnApply func(r *http.Request)
}

type activeFault struct {
	Fault
	re      *regexp.Regexp
	seen    int
	applied int
}

type faults struct {
	mu     sync.Mutex
	rng    *rand.Rand
	active []*activeFault
	total  int
}

// InjectFault adds a fault and returns a function that removes it. It panics
// on an invalid Path, like regexp.MustCompile, since tests write it.
func (s *Server) InjectFault(f Fault) (remove func()) {
	af := &activeFault{Fault: f}
	if f.Path != "" {
		af.re = regexp.MustCompile(f.Path)
	}
	if af.Status == 0 {
		af.Status = http.StatusInternalServerError
	}
	s.faults.mu.Lock()
	s.faults.active = append(s.faults.active, af)
	s.faults.mu.Unlock()
	return func() {
		s.faults.mu.Lock()
		defer s.faults.mu.Unlock()
		for i, a := range s.faults.active {
			if a == af {
				s.faults.active = append(s.faults.active[:i], s.faults.active[i+1:]...)
				return
			}
		}
	}
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.active = nil
	s.faults.mu.Unlock()
}

// FaultsApplied reports how many requests injected faults have affected in
// total, so a test can tell whether its fault was reached.
func (s *Server) FaultsApplied() int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.total
}

// match returns the fault to apply to r, if any.
func (f *faults) match(r *http.Request) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.active {
		if a.Method != "" && a.Method != r.Method {
			continue
		}
		if a.re != nil && !a.re.MatchString(r.URL.Path) {
			continue
		}
		if a.Writes && !isWriteRequest(r) {
			continue
		}
		if a.Match != nil && !a.Match(r) {
			continue
		}
		if a.Times > 0 && a.applied >= a.Times {
			continue
		}
		a.seen++
		if a.seen <= a.Skip {
			continue
		}
		if a.Probability > 0 && a.Probability < 1 && f.rng.Float64() >= a.Probability {
			continue
		}
		a.applied++
		f.total++
		if a.OnApply != nil {
			a.OnApply(r)
		}
		fault := a.Fault
		return &fault
	}
	return nil
}

// isWriteRequest reports whether Calls.Writes counts r.
func isWriteRequest(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method+" "+r.URL.Path != tokenRoute
}

func (a FaultAction) String() string {
	switch a {
	case Respond:
		return "respond"
	case DropBefore:
		return "drop-before"
	case DropAfter:
		return "drop-after"
	case Hang:
		return "hang"
	}
	return fmt.Sprintf("FaultAction(%d)", int(a))
}
