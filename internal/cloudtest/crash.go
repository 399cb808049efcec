package cloudtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// CrashAction says where a crash point cuts a request.
type CrashAction int

const (
	// CrashBefore fails the request without sending it: the cloud never
	// saw the call.
	CrashBefore CrashAction = iota
	// CrashAfter sends the request and lets the cloud handle it, then
	// throws the answer away and fails: the call happened but the client
	// cannot know.
	CrashAfter
)

func (a CrashAction) String() string {
	switch a {
	case CrashBefore:
		return "crash-before"
	case CrashAfter:
		return "crash-after"
	}
	return fmt.Sprintf("CrashAction(%d)", int(a))
}

// ErrCrashPoint is what a request cut by a Crasher fails with. It wraps
// io.ErrUnexpectedEOF, as a connection dropped mid-call does.
var ErrCrashPoint = fmt.Errorf("connection lost at a crash point: %w", io.ErrUnexpectedEOF)

// Crasher is an http.RoundTripper that counts a client's requests and cuts
// a chosen one, as a dropped connection or a dying process would. It works
// on the client's side, so crash sweeps run against any cloud, the
// simulator or a real one.
type Crasher struct {
	base http.RoundTripper

	mu      sync.Mutex
	count   int
	writes  int
	armed   bool
	at      int
	match   func(*http.Request) bool
	action  CrashAction
	onCut   func()
	applied int
}

// NewCrasher returns a Crasher sending requests through base
// (http.DefaultTransport when nil).
func NewCrasher(base http.RoundTripper) *Crasher {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Crasher{base: base}
}

// Reset zeroes the request counts.
func (c *Crasher) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count, c.writes = 0, 0
}

// Writes returns the requests other than GET and HEAD sent (or cut) since
// Reset: a test asserts with it that a call changed nothing.
func (c *Crasher) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// Count returns the requests sent (or cut) since Reset or Arm.
func (c *Crasher) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// Applied returns how many requests were cut so far.
func (c *Crasher) Applied() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applied
}

// Arm cuts the k-th request from now (k >= 1) with action, once. onCut, when
// not nil, runs at the cut, before the request fails: a test cancels the
// caller's context there to kill it at that point. The returned func
// disarms it.
func (c *Crasher) Arm(k int, action CrashAction, onCut func()) (disarm func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count, c.armed, c.at, c.match, c.action, c.onCut = 0, true, k, nil, action, onCut
	return c.disarm
}

// ArmWhen is Arm for the first request from now that match accepts.
func (c *Crasher) ArmWhen(match func(*http.Request) bool, action CrashAction, onCut func()) (disarm func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count, c.armed, c.at, c.match, c.action, c.onCut = 0, true, 0, match, action, onCut
	return c.disarm
}

func (c *Crasher) disarm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
}

// RoundTrip implements http.RoundTripper.
func (c *Crasher) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.count++
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		c.writes++
	}
	cut := c.armed && (c.match == nil && c.count == c.at || c.match != nil && c.match(req))
	action, onCut := c.action, c.onCut
	if cut {
		c.armed = false
		c.applied++
	}
	c.mu.Unlock()
	if !cut {
		return c.base.RoundTrip(req)
	}
	if action == CrashAfter {
		resp, err := c.base.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	} else if req.Body != nil {
		_ = req.Body.Close()
	}
	if onCut != nil {
		onCut()
	}
	return nil, ErrCrashPoint
}

// Settler is an http.RoundTripper whose requests run to completion on the
// cloud even when their caller gives up, as the requests a dying process
// already sent do. Wait returns when the cloud has answered every request
// sent so far, so that a test looks at the cloud only after the dust has
// settled.
type Settler struct {
	base http.RoundTripper
	wg   sync.WaitGroup
}

// NewSettler returns a Settler sending requests through base
// (http.DefaultTransport when nil).
func NewSettler(base http.RoundTripper) *Settler {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Settler{base: base}
}

// Wait blocks until every request sent so far has been answered.
func (s *Settler) Wait() { s.wg.Wait() }

type settled struct {
	resp *http.Response
	err  error
}

// RoundTrip implements http.RoundTripper.
func (s *Settler) RoundTrip(req *http.Request) (*http.Response, error) {
	done := make(chan settled, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		resp, err := s.base.RoundTrip(req.WithContext(context.WithoutCancel(req.Context())))
		select {
		case done <- settled{resp, err}:
		case <-req.Context().Done():
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}
