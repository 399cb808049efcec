package openstacktest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// hookRecorder records hook calls; spawn, stop, start and reboot block on
// their gate until the test lets them go, and fail when told.
type hookRecorder struct {
	mu       sync.Mutex
	calls    []string
	spawned  []openstacktest.BootEvent
	gate     chan struct{}
	fail     atomic.Bool
	attached *openstacktest.Server
}

func (h *hookRecorder) record(call string) {
	h.mu.Lock()
	h.calls = append(h.calls, call)
	h.mu.Unlock()
}

func (h *hookRecorder) blocking(name string) func(context.Context, openstacktest.BootEvent) error {
	return func(ctx context.Context, ev openstacktest.BootEvent) error {
		h.record(name + " " + ev.Name)
		<-h.gate
		if h.fail.Load() {
			return errors.New(name + " failed: no such container")
		}
		return nil
	}
}

func (h *hookRecorder) hooks() openstacktest.ServerHooks {
	return openstacktest.ServerHooks{
		Attach: func(s *openstacktest.Server) { h.attached = s },
		OnSpawn: func(ctx context.Context, ev openstacktest.BootEvent) error {
			h.mu.Lock()
			h.spawned = append(h.spawned, ev)
			h.mu.Unlock()
			return h.blocking("spawn")(ctx, ev)
		},
		OnActive: func(_ context.Context, ev openstacktest.BootEvent) error { h.record("active " + ev.Name); return nil },
		OnStop:   h.blocking("stop"),
		OnStart:  h.blocking("start"),
		OnReboot: func(ctx context.Context, ev openstacktest.BootEvent, hard bool) error {
			kind := "soft"
			if hard {
				kind = "hard"
			}
			return h.blocking("reboot-"+kind)(ctx, ev)
		},
		OnDelete: func(_ context.Context, ev openstacktest.BootEvent) { h.record("delete " + ev.Name) },
	}
}

func (h *hookRecorder) seen(call string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.calls {
		if c == call {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serverState is a server's status and task state.
func serverState(t *testing.T, e *serverEnv, id string) (string, any) {
	t.Helper()
	raw := rawGet(t, e.c.Compute, "2.1", e.c.Compute.ServiceURL("servers", id))
	srv := raw["server"].(map[string]any)
	return srv["status"].(string), srv["OS-EXT-STS:task_state"]
}

// TestSpawnAndActionHooks: the server stays BUILD/spawning while OnSpawn
// runs and gets everything cloud-init needs in its event; stop, start and
// reboot wait for their hooks; a failed stop reverts, a failed reboot is
// ERROR with a fault; a failed spawn is ERROR with Nova's fault, the
// driver's error in details for admins only.
func TestSpawnAndActionHooks(t *testing.T) {
	h := &hookRecorder{gate: make(chan struct{})}
	e := newServerEnv(t, openstacktest.WithBootDelay(20*time.Millisecond), openstacktest.WithServerHooks(h.hooks()))
	if h.attached != e.s {
		t.Fatal("Attach did not get the Server")
	}
	ctx := testContext(t)
	kp, err := keypairs.Create(ctx, e.c.Compute, keypairs.CreateOpts{Name: "hook-key"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := servers.Create(ctx, e.c.Compute, keypairs.CreateOptsExt{CreateOptsBuilder: servers.CreateOpts{
		Name: "Node_0.Example", ImageRef: e.img, FlavorRef: "1", UserData: []byte("#cloud-config\n"),
		Networks: []servers.Network{{UUID: e.net.ID}}}, KeyName: kp.Name}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "spawn hook", func() bool { return h.seen("spawn Node_0.Example") })
	time.Sleep(50 * time.Millisecond)
	if st, task := serverState(t, e, srv.ID); st != "BUILD" || task != "spawning" {
		t.Fatalf("while spawning: %s/%v, want BUILD/spawning", st, task)
	}
	h.mu.Lock()
	ev := h.spawned[0]
	h.mu.Unlock()
	if ev.Hostname != "node-0-example" || ev.KeyName != "hook-key" || ev.PublicKey != kp.PublicKey || string(ev.UserData) != "#cloud-config\n" {
		t.Errorf("event: hostname %q key %q public key %q user data %q", ev.Hostname, ev.KeyName, ev.PublicKey, ev.UserData)
	}
	if len(ev.Ports) != 1 || ev.Ports[0].NetworkID != e.net.ID || ev.Ports[0].NetworkName != e.net.Name ||
		len(ev.Ports[0].MACAddress) != 17 || len(ev.Ports[0].FixedIPs) != 1 {
		t.Fatalf("ports: %+v", ev.Ports)
	}
	if fi := ev.Ports[0].FixedIPs[0]; fi.SubnetID != e.net.SubnetID || fi.CIDR != "10.20.0.0/16" || fi.GatewayIP != "10.20.0.1" ||
		!strings.HasPrefix(fi.Address, "10.20.") || ev.Addresses[e.net.Name][0] != fi.Address {
		t.Errorf("fixed IP: %+v", fi)
	}
	h.gate <- struct{}{}
	waitServer(t, e.c.Compute, srv.ID, "ACTIVE")
	waitFor(t, "active hook", func() bool { return h.seen("active Node_0.Example") })

	// Stop waits for its hook; a failed stop reverts to ACTIVE.
	if err := servers.Stop(ctx, e.c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stop hook", func() bool { return h.seen("stop Node_0.Example") })
	time.Sleep(50 * time.Millisecond)
	if st, task := serverState(t, e, srv.ID); st != "ACTIVE" || task != "powering-off" {
		t.Fatalf("while the stop hook runs: %s/%v", st, task)
	}
	h.fail.Store(true)
	h.gate <- struct{}{}
	waitFor(t, "stop reverted", func() bool { st, task := serverState(t, e, srv.ID); return st == "ACTIVE" && task == nil })
	if errs := e.s.HookErrors(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "stop failed") {
		t.Errorf("hook errors: %v", errs)
	}
	h.fail.Store(false)
	if err := servers.Stop(ctx, e.c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	h.gate <- struct{}{}
	waitServer(t, e.c.Compute, srv.ID, "SHUTOFF")
	if err := servers.Start(ctx, e.c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	h.gate <- struct{}{}
	waitServer(t, e.c.Compute, srv.ID, "ACTIVE")
	if err := servers.Reboot(ctx, e.c.Compute, srv.ID, servers.RebootOpts{Type: servers.SoftReboot}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	h.gate <- struct{}{}
	waitServer(t, e.c.Compute, srv.ID, "ACTIVE")
	if !h.seen("reboot-soft Node_0.Example") || !h.seen("start Node_0.Example") {
		t.Errorf("calls: %v", h.calls)
	}
	// A failed hard reboot: ERROR with a fault.
	if err := servers.Reboot(ctx, e.c.Compute, srv.ID, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	h.fail.Store(true)
	h.gate <- struct{}{}
	got := waitServer(t, e.c.Compute, srv.ID, "ERROR")
	if got.Fault.Code != 500 || got.Fault.Message != "reboot-hard failed: no such container" {
		t.Errorf("reboot fault: %+v", got.Fault)
	}

	// A failed spawn: ERROR, Nova's message, details for admins only.
	bad, err := servers.Create(ctx, e.c.Compute, servers.CreateOpts{Name: "bad", ImageRef: e.img, FlavorRef: "1",
		Networks: []servers.Network{{UUID: e.net.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	h.gate <- struct{}{}
	got = waitServer(t, e.c.Compute, bad.ID, "ERROR")
	if got.Fault.Code != 500 || got.Fault.Message != openstacktest.SpawnFault(bad.ID) || got.Fault.Details != "" {
		t.Errorf("spawn fault as member: %+v", got.Fault)
	}
	admin := adminCloud(t, e.s)
	raw := rawGet(t, admin.Compute, "2.1", admin.Compute.ServiceURL("servers", bad.ID))
	fault := raw["server"].(map[string]any)["fault"].(map[string]any)
	if fault["details"] != "spawn failed: no such container" {
		t.Errorf("spawn fault as admin: %v", fault)
	}
	if h.seen("active bad") {
		t.Error("OnActive ran for a server that failed to spawn")
	}
	if err := servers.Delete(ctx, e.c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delete hook", func() bool { return h.seen("delete Node_0.Example") })
}

// TestLoadBalancerHook: the hook gets the full frontend set after each
// change (listener, pool, member, floating IP on the VIP), one call at a
// time.
func TestLoadBalancerHook(t *testing.T) {
	var mu sync.Mutex
	var got [][]openstacktest.Frontend
	var inHook, overlap atomic.Int32
	hooks := openstacktest.ServerHooks{OnLoadBalancers: func(_ context.Context, f []openstacktest.Frontend) {
		if inHook.Add(1) > 1 {
			overlap.Add(1)
		}
		defer inHook.Add(-1)
		time.Sleep(20 * time.Millisecond) // slow: later changes coalesce
		mu.Lock()
		got = append(got, f)
		mu.Unlock()
	}}
	e := newServerEnv(t, openstacktest.WithLoadBalancerDelay(5*time.Millisecond), openstacktest.WithServerHooks(hooks))
	ctx := testContext(t)
	last := func() []openstacktest.Frontend {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return nil
		}
		return got[len(got)-1]
	}
	waitFor(t, "the initial empty set", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 && len(got[0]) == 0 })

	c := e.c.LoadBalancer
	b := cloudtest.NewTCPLoadBalancer(t, ctx, e.c, cloudtest.TCPLoadBalancerSpec{Name: "api", VIPSubnetID: e.net.SubnetID, Port: 6443,
		MemberAddress: "10.20.0.10", MemberSubnetID: e.net.SubnetID})
	lb, li, pool, m := b.LB, b.Listener, b.Pool, b.Member
	waitFor(t, "a frontend with the member", func() bool {
		f := last()
		return len(f) == 1 && len(f[0].Backends) == 1
	})
	f := last()[0]
	if f.VIPAddress != lb.VipAddress || f.Port != 6443 || f.Protocol != "TCP" || f.ListenerID != li.ID || f.VIPNetworkID != e.net.ID ||
		f.Backends[0] != (openstacktest.Backend{MemberID: m.ID, Address: "10.20.0.10", Port: 6443, SubnetID: e.net.SubnetID}) ||
		len(f.FloatingIPs) != 0 {
		t.Errorf("frontend: %+v", f)
	}

	// A floating IP on the VIP port shows in the frontend.
	fip := cloudtest.ExternalFloatingIP(t, ctx, e.c, e.net.SubnetID, lb.VipPortID)
	waitFor(t, "the floating IP", func() bool { f := last(); return len(f) == 1 && len(f[0].FloatingIPs) == 1 })
	if f := last()[0]; f.FloatingIPs[0] != fip.FloatingIP {
		t.Errorf("floating IPs: %v, want %s", f.FloatingIPs, fip.FloatingIP)
	}
	if got := e.s.Frontends(); len(got) != 1 || got[0].FloatingIPs[0] != fip.FloatingIP {
		t.Errorf("Frontends(): %+v", got)
	}
	// Removing the member empties the backends; the whole LB going empties
	// the set.
	if err := pools.DeleteMember(ctx, c, pool.ID, m.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no backends", func() bool { f := last(); return len(f) == 1 && len(f[0].Backends) == 0 })
	if err := loadbalancers.Delete(ctx, c, lb.ID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no frontends", func() bool { f := last(); return f != nil && len(f) == 0 })
	if overlap.Load() != 0 {
		t.Error("OnLoadBalancers ran concurrently with itself")
	}
	mu.Lock()
	n := len(got)
	mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	if len(got) != n {
		t.Errorf("hook called %d more times with no change", len(got)-n)
	}
	mu.Unlock()
}
