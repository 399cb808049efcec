package containerruntime

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

// lbProxy is the load balancers' data plane: a TCP listener per floating
// IP:port and VIP:port, each forwarding to the first member that answers.
type lbProxy struct {
	r         *Runtime
	mu        sync.Mutex
	listeners map[string]*lbListener // by listen address
	conns     map[net.Conn]bool
	closed    bool
}

type lbListener struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []string // host:port, in order of preference
}

func newLBProxy(r *Runtime) *lbProxy {
	return &lbProxy{r: r, listeners: map[string]*lbListener{}, conns: map[net.Conn]bool{}}
}

// forwarded reports whether the proxy serves a frontend: TCP listeners and
// HTTP/HTTPS ones (passed through as TCP, as an amphora passes HTTPS); UDP,
// SCTP and TERMINATED_HTTPS (TLS termination) are not served.
func forwarded(f openstacktest.Frontend) bool {
	switch f.Protocol {
	case "TCP", "HTTP", "HTTPS":
		return true
	}
	return false
}

// desired maps each listen address to its backends.
func desiredListeners(fronts []openstacktest.Frontend) map[string][]string {
	out := map[string][]string{}
	for _, f := range fronts {
		if !forwarded(f) {
			continue
		}
		var backends []string
		for _, b := range f.Backends {
			backends = append(backends, net.JoinHostPort(b.Address, strconv.Itoa(b.Port)))
		}
		port := strconv.Itoa(f.Port)
		addrs := append([]string{f.VIPAddress}, f.FloatingIPs...)
		for _, a := range addrs {
			if a == "" {
				continue
			}
			out[net.JoinHostPort(a, port)] = backends
		}
	}
	return out
}

// apply makes the listeners match fronts: new ones open, gone ones close
// (their open connections stay), the others get the new members.
func (p *lbProxy) apply(fronts []openstacktest.Frontend) error {
	want := desiredListeners(fronts)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	var errs []error
	for addr, l := range p.listeners {
		if _, ok := want[addr]; !ok {
			l.ln.Close()
			delete(p.listeners, addr)
			p.r.log.V(1).Info("load balancer listener closed", "address", addr)
		}
	}
	for addr, backends := range want {
		if l := p.listeners[addr]; l != nil {
			l.mu.Lock()
			l.backends = backends
			l.mu.Unlock()
			continue
		}
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l := &lbListener{ln: ln, backends: backends}
		p.listeners[addr] = l
		p.r.log.V(1).Info("load balancer listening", "address", addr, "members", backends)
		p.r.wg.Add(1)
		go p.serve(l)
	}
	return errors.Join(errs...)
}

func (p *lbProxy) serve(l *lbListener) {
	defer p.r.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c, true) {
			c.Close()
			return
		}
		p.r.wg.Add(1)
		go p.forward(l, c)
	}
}

// track adds or removes a connection; false when the proxy is closed.
func (p *lbProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.closed {
			return false
		}
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	return true
}

// forward connects c to the first member that accepts a connection.
func (p *lbProxy) forward(l *lbListener, c net.Conn) {
	defer p.r.wg.Done()
	defer p.track(c, false)
	defer c.Close()
	l.mu.Lock()
	backends := l.backends
	l.mu.Unlock()
	var b net.Conn
	for _, addr := range backends {
		d := net.Dialer{Timeout: 2 * time.Second}
		conn, err := d.DialContext(p.r.ctx, "tcp4", addr)
		if err == nil {
			b = conn
			break
		}
	}
	if b == nil {
		return
	}
	if !p.track(b, true) {
		b.Close()
		return
	}
	defer p.track(b, false)
	defer b.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	<-done
}

// close stops every listener and connection.
func (p *lbProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for addr, l := range p.listeners {
		l.ln.Close()
		delete(p.listeners, addr)
	}
	for c := range p.conns {
		c.Close()
	}
}

// addresses lists the listen addresses (for tests and logs).
func (p *lbProxy) addresses() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for a := range p.listeners {
		out = append(out, a)
	}
	return out
}

// setFrontends is OnLoadBalancers: VIPs on the host, listeners, and the
// DNAT rules in every running container.
func (r *Runtime) setFrontends(ctx context.Context, fronts []openstacktest.Frontend) {
	r.lbMu.Lock()
	defer r.lbMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.frontends = fronts
	var ids []string
	for _, m := range r.machines {
		if m.containerID != "" {
			ids = append(ids, m.containerID)
		}
	}
	r.mu.Unlock()
	if err := r.applyVIPs(ctx, fronts); err != nil {
		r.log.Error(err, "load balancer VIP addresses")
	}
	if err := r.lb.apply(fronts); err != nil {
		r.log.Error(err, "load balancer listeners")
	}
	for _, id := range ids {
		c, err := r.opts.Engine.InspectContainer(ctx, id)
		if err != nil || !c.State.Running || c.State.Pid == 0 {
			continue // gone or stopped: afterStart applies them on the next start
		}
		if err := r.applyNetnsLB(ctx, c.State.Pid, fronts); err != nil {
			r.log.Error(err, "load balancer rules in a container", "container", id)
		}
	}
}

// Listeners are the load balancer's current listen addresses (ip:port).
func (r *Runtime) Listeners() []string { return r.lb.addresses() }
