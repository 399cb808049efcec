package infra_test

import (
	"context"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/openstrap/openstrap/infra"
)

// Without a load balancer, the endpoint's floating IP goes to the first
// control-plane machine and is released when it leaves.
func TestFloatingIPEndpointWithoutLoadBalancer(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	inf := infra.New(e.cloud)
	st, err := inf.Ensure(ctx, e.spec(netOnlySpec()))
	if err != nil {
		t.Fatal(err)
	}
	if st.APIEndpoint.Host != st.FloatingIP.Address || st.LoadBalancer.ID != "" {
		t.Fatalf("status %+v", st)
	}
	addrOf := func(name string) (string, string) {
		p, err := ports.Create(ctx, e.cloud.Network, ports.CreateOpts{NetworkID: st.NetworkID, Name: name + "-0"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		onReal(t, e, func(ctx context.Context) error { return ports.Delete(ctx, e.cloud.Network, p.ID).ExtractErr() })
		srv, err := servers.Create(ctx, e.cloud.Compute, servers.CreateOpts{Name: name, ImageRef: imageID(t, e), FlavorRef: "1",
			Networks: []servers.Network{{Port: p.ID}}}, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		deleteServerOnReal(t, e, srv.ID)
		return p.FixedIPs[0].IPAddress, p.ID
	}
	a0, p0 := addrOf("demo-cp-0")
	a1, _ := addrOf("demo-cp-1")
	pool := inf.APIServerPool(st)
	fipPort := func() string {
		f, err := floatingips.Get(ctx, e.cloud.Network, st.FloatingIP.ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		return f.PortID
	}
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"first machine gets it", func() error { return pool.AddMember(ctx, "demo-cp-0", a0) }, p0},
		{"second leaves it", func() error { return pool.AddMember(ctx, "demo-cp-1", a1) }, p0},
		{"removing another keeps it", func() error { return pool.RemoveMember(ctx, "demo-cp-1") }, p0},
		{"removing the holder frees it", func() error { return pool.RemoveMember(ctx, "demo-cp-0") }, ""},
		{"again", func() error { return pool.RemoveMember(ctx, "demo-cp-0") }, ""},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := fipPort(); got != s.want {
			t.Errorf("%s: floating IP on port %q, want %q", s.name, got, s.want)
		}
	}
}

// A caller's floating IP is associated with the VIP, kept by Delete.
func TestFixedFloatingIP(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	ext := externalNetworkID(t, e)
	fip, err := floatingips.Create(ctx, e.cloud.Network, floatingips.CreateOpts{FloatingNetworkID: ext, Description: "reserved"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = floatingips.Delete(context.Background(), e.cloud.Network, fip.ID).ExtractErr() })
	spec := e.spec(baseSpec())
	spec.APIServer.FloatingIP = fip.FloatingIP
	inf := infra.New(e.cloud)
	st, err := inf.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.APIEndpoint.Host != fip.FloatingIP || st.FloatingIP.ID != fip.ID || st.FloatingIP.Owned {
		t.Errorf("status %+v does not use the caller's floating IP %s", st, fip.FloatingIP)
	}
	if got := getFIP(t, ctx, e.cloud.Network, fip.ID); got.PortID != st.LoadBalancer.VIPPortID || len(got.Tags) != 0 {
		t.Errorf("floating IP %+v: want it on the VIP port %s, untagged", got, st.LoadBalancer.VIPPortID)
	}
	e.resetCalls()
	if _, err := inf.Ensure(ctx, spec, infra.WithStatus(st)); err != nil {
		t.Fatal(err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("second Ensure made %d writes", w)
	}
	if err := inf.Delete(ctx, e.cluster); err != nil {
		t.Fatal(err)
	}
	if got := getFIP(t, ctx, e.cloud.Network, fip.ID); got.PortID != "" {
		t.Errorf("after Delete the floating IP is on port %q", got.PortID)
	}
}

// An internal-only cluster: no router, no floating IP; the endpoint is the
// VIP.
func TestInternalOnlyCluster(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	spec := infra.Spec{Cluster: e.cluster, NodeCIDR: "10.6.0.0/24", APIServer: infra.APIServer{DisableFloatingIP: true}}
	inf := infra.New(e.cloud)
	st, err := inf.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.RouterID != "" || st.FloatingIP.ID != "" || st.APIEndpoint.Host != st.LoadBalancer.VIPAddress || st.APIEndpoint.Host == "" {
		t.Errorf("status %+v", st)
	}
	if err := inf.Delete(ctx, e.cluster); err != nil {
		t.Fatal(err)
	}
	if diff := e.changed(e.base, e.snapshot()); diff != "" {
		t.Errorf("after Delete (-before +after):\n%s", diff)
	}
}
