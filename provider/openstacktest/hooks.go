package openstacktest

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode"
)

// Frontend is one listener of a load balancer as a machine runtime serves
// it: connections to the VIP address or to a floating IP associated with
// the VIP port, on Port, go to one of Backends.
type Frontend struct {
	LoadBalancerID string
	ListenerID     string
	// Protocol is the listener's (TCP, HTTP, ...); Port its protocol port.
	Protocol     string
	Port         int
	VIPAddress   string
	VIPNetworkID string
	VIPSubnetID  string
	// FloatingIPs are associated with the VIP port, sorted.
	FloatingIPs []string
	// Backends are the members of the listener's default pool with
	// admin_state_up, sorted by address and port.
	Backends []Backend
}

// Backend is one pool member.
type Backend struct {
	MemberID string
	Address  string
	Port     int
	SubnetID string
}

// Frontends returns what load balancers serve now (see
// ServerHooks.OnLoadBalancers).
func (s *Server) Frontends() []Frontend {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frontendsLocked()
}

// frontendsLocked computes the frontends: objects still being created
// (PENDING_CREATE) or administratively down serve nothing; objects being
// deleted serve until they are gone, as an amphora does. Callers hold s.mu.
func (s *Server) frontendsLocked() []Frontend {
	l := s.lbs()
	ns := s.nst()
	serving := func(x *lbStd) bool { return x.AdminStateUp && x.Provisioning != lbPendingCreate }
	members := map[string][]Backend{}
	for _, m := range l.Members {
		if serving(&m.lbStd) {
			members[m.PoolID] = append(members[m.PoolID], Backend{MemberID: m.ID, Address: m.Address, Port: m.Port, SubnetID: m.SubnetID})
		}
	}
	out := []Frontend{}
	for _, li := range l.Listeners {
		lb := l.LoadBalancers[li.LoadBalancerID]
		if lb == nil || !serving(&lb.lbStd) || !serving(&li.lbStd) {
			continue
		}
		f := Frontend{LoadBalancerID: lb.ID, ListenerID: li.ID, Protocol: li.Protocol, Port: li.Port,
			VIPAddress: lb.VIPAddress, VIPNetworkID: lb.VIPNetworkID, VIPSubnetID: lb.VIPSubnetID,
			FloatingIPs: []string{}, Backends: []Backend{}}
		for _, fip := range ns.FloatingIPs {
			if lb.VIPPortID != "" && fip.AssocPortID == lb.VIPPortID {
				f.FloatingIPs = append(f.FloatingIPs, fip.FloatingIP)
			}
		}
		sort.Strings(f.FloatingIPs)
		if p := l.Pools[li.DefaultPoolID]; p != nil && serving(&p.lbStd) {
			f.Backends = append(f.Backends, members[p.ID]...)
		}
		sort.Slice(f.Backends, func(i, j int) bool {
			a, b := f.Backends[i], f.Backends[j]
			if a.Address != b.Address {
				return a.Address < b.Address
			}
			if a.Port != b.Port {
				return a.Port < b.Port
			}
			return a.MemberID < b.MemberID
		})
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].LoadBalancerID != out[j].LoadBalancerID {
			return out[i].LoadBalancerID < out[j].LoadBalancerID
		}
		return out[i].Port < out[j].Port || out[i].Port == out[j].Port && out[i].ListenerID < out[j].ListenerID
	})
	return out
}

// lbHookState is the OnLoadBalancers delivery: the latest frontends and a
// signal for the one goroutine that delivers them.
type lbHookState struct {
	started bool
	latest  []Frontend
	signal  chan struct{}
}

// noteFrontends recomputes the frontends and wakes the delivery goroutine
// when they changed. Callers hold s.mu.
func (s *Server) noteFrontends() {
	if s.opts.hooks.OnLoadBalancers == nil {
		return
	}
	f := s.frontendsLocked()
	if s.lbHook.started && reflect.DeepEqual(f, s.lbHook.latest) {
		return
	}
	s.lbHook.started, s.lbHook.latest = true, f
	select {
	case s.lbHook.signal <- struct{}{}:
	default:
	}
}

// deliverFrontends runs OnLoadBalancers with the latest frontends each time
// they change, one call at a time, until the Server closes.
func (s *Server) deliverFrontends() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.lbHook.signal:
		}
		s.mu.Lock()
		f := s.lbHook.latest
		s.mu.Unlock()
		s.opts.hooks.OnLoadBalancers(s.ctx, f)
	}
}

// SpawnFault is the fault message Nova records when the compute driver
// fails to spawn an instance and no other host is left to retry on (the
// conductor's MaxRetriesExceeded); the driver's error goes to the fault's
// details, which Nova shows to administrators only (code 500).
func SpawnFault(serverID string) string {
	return fmt.Sprintf("Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance %s.", serverID)
}

// faultMessage is Nova's fault message for an exception: its text cut to
// 255 characters (exception_to_dict's safe_truncate).
func faultMessage(err error) string {
	m := err.Error()
	if len(m) > 255 {
		m = m[:255]
	}
	return m
}

// sanitizeHostname is nova.utils.sanitize_hostname: characters outside
// Latin-1 dropped, cut to 63, space, underscore and dot become hyphens,
// anything but word characters and hyphens dropped, lower case, leading and
// trailing dots and hyphens trimmed; "Server-<id>" when nothing is left.
func sanitizeHostname(name, serverID string) string {
	var b strings.Builder
	n := 0
	for _, r := range name {
		if r > 0xFF {
			continue
		}
		if n == 63 {
			break
		}
		n++
		switch {
		case r == ' ' || r == '_' || r == '.':
			b.WriteRune('-')
		case r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	h := strings.Trim(b.String(), ".-")
	if h == "" {
		return "Server-" + serverID
	}
	return h
}

// runSpawn starts OnSpawn for a BUILD server whose build delay passed and
// settles it when the hook returns. Callers hold s.mu.
func (s *Server) runSpawn(v *nServer) {
	c := &s.st.Compute
	if c.hookBusy == nil {
		c.hookBusy = map[string]bool{}
	}
	if c.hookBusy[v.ID] {
		return
	}
	c.hookBusy[v.ID] = true
	v.TaskState = "spawning"
	ev, id, hook := s.bootEvent(v), v.ID, s.opts.hooks.OnSpawn
	s.goHook(func(ctx context.Context) {
		err := hook(ctx, ev)
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(c.hookBusy, id)
		v, ok := c.Servers[id]
		if !ok || v.Status != "BUILD" || !v.DeleteAt.IsZero() || ctx.Err() != nil {
			return
		}
		now := s.now()
		v.UpdatedAt, v.TaskState = now, ""
		if err != nil {
			s.hookErrs = append(s.hookErrs, err)
			v.Status, v.Fault = "ERROR", &nFault{Code: 500, Message: SpawnFault(id), Details: faultMessage(err), Created: now}
		} else {
			v.Status, v.LaunchedAt = "ACTIVE", now
			s.fireActive(v)
		}
		if err := s.save(); err != nil {
			s.opts.log.Error(err, "save state")
		}
	})
}

// fireActive runs OnActive for v. Callers hold s.mu.
func (s *Server) fireActive(v *nServer) {
	if s.opts.hooks.OnActive == nil {
		return
	}
	ev := s.bootEvent(v)
	hook := s.opts.hooks.OnActive
	s.goHook(func(ctx context.Context) {
		if err := hook(ctx, ev); err != nil {
			s.mu.Lock()
			s.hookErrs = append(s.hookErrs, err)
			s.mu.Unlock()
		}
	})
}

// runAction starts the hook of a server action just accepted (os-stop,
// os-start, reboot); the transition waits for it (advanceCompute). Callers
// hold s.mu.
func (s *Server) runAction(v *nServer, action string, hard bool) {
	h := s.opts.hooks
	var hook func(context.Context, BootEvent) error
	switch action {
	case "os-stop":
		hook = h.OnStop
	case "os-start":
		hook = h.OnStart
	case "reboot":
		if h.OnReboot != nil {
			hook = func(ctx context.Context, ev BootEvent) error { return h.OnReboot(ctx, ev, hard) }
		}
	}
	if hook == nil {
		return
	}
	c := &s.st.Compute
	if c.hookBusy == nil {
		c.hookBusy = map[string]bool{}
	}
	c.hookBusy[v.ID] = true
	ev, id := s.bootEvent(v), v.ID
	s.goHook(func(ctx context.Context) {
		err := hook(ctx, ev)
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(c.hookBusy, id)
		if err == nil {
			return
		}
		s.hookErrs = append(s.hookErrs, fmt.Errorf("%s of server %s: %w", action, id, err))
		v, ok := c.Servers[id]
		if !ok || v.NextStatus == "" || !v.DeleteAt.IsZero() {
			return
		}
		now := s.now()
		v.NextStatus, v.TaskState, v.UpdatedAt = "", "", now
		if action == "reboot" {
			v.Status, v.Fault = "ERROR", &nFault{Code: 500, Message: faultMessage(err), Created: now}
		}
		if err := s.save(); err != nil {
			s.opts.log.Error(err, "save state")
		}
	})
}
