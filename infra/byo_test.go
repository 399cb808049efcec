package infra_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

func TestBringYourOwnNetwork(t *testing.T) {
	e := newNetEnv(t)
	ctx := testCtx(t)
	netName := e.ct.Name("user-net")
	n := createNetwork(t, e.cloud.Network, netName)
	onReal(t, e, func(ctx context.Context) error { return networks.Delete(ctx, e.cloud.Network, n.ID).ExtractErr() })
	s := createSubnet(t, e.cloud.Network, n.ID, "user-subnet", "192.168.50.0/24")
	createSubnet(t, e.cloud.Network, n.ID, "user-other", "192.168.51.0/24")
	before := e.snapshot()

	spec := e.spec(netOnlySpec())
	spec.NodeCIDR = ""
	spec.Network = infra.Ref{Name: netName}
	spec.Subnet = infra.Ref{ID: s.ID}
	inf := infra.New(e.cloud)
	st, err := inf.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.NetworkID != n.ID || st.SubnetID != s.ID || st.RouterID != "" || st.NodeCIDR != "192.168.50.0/24" {
		t.Errorf("status %+v does not use the user's network and subnet", st)
	}
	got := map[string]int{}
	for _, r := range owned(e.snapshot(), e.cluster) {
		got[r.Kind]++
	}
	if diff := cmp.Diff(map[string]int{"security_group": 3, "floatingip": 1}, got); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	e.resetCalls()
	if _, err := inf.Ensure(ctx, spec, infra.WithStatus(st)); err != nil {
		t.Fatal(err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("second Ensure made %d writes", w)
	}
	// Without Spec.Subnet and two subnets, the one matching NodeCIDR is used.
	spec.Subnet = infra.Ref{}
	spec.NodeCIDR = "192.168.51.0/24"
	st2, err := inf.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st2.SubnetID == s.ID {
		t.Errorf("NodeCIDR 192.168.51.0/24 picked subnet %s", st2.SubnetID)
	}
	if err := inf.Delete(ctx, e.cluster); err != nil {
		t.Fatal(err)
	}
	if diff := e.changed(before, e.snapshot()); diff != "" {
		t.Errorf("after Delete, user resources changed (-before +after):\n%s", diff)
	}
}

func TestBringYourOwnRouter(t *testing.T) {
	e := newNetEnv(t)
	ctx := testCtx(t)
	ext := externalNetworkID(t, e)
	rtrName := e.ct.Name("user-router")
	rtr, err := routers.Create(ctx, e.cloud.Network, routers.CreateOpts{Name: rtrName,
		GatewayInfo: &routers.GatewayInfo{NetworkID: ext}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	onReal(t, e, func(ctx context.Context) error { return routers.Delete(ctx, e.cloud.Network, rtr.ID).ExtractErr() })
	before := e.snapshot()
	spec := e.spec(netOnlySpec())
	spec.Router = infra.Ref{Name: rtrName}
	inf := infra.New(e.cloud)
	st, err := inf.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.RouterID != rtr.ID {
		t.Errorf("RouterID = %s, want the user's %s", st.RouterID, rtr.ID)
	}
	if !routerHasSubnet(t, ctx, e.cloud.Network, rtr.ID, st.SubnetID) {
		t.Error("the user's router has no interface on the cluster subnet")
	}
	if got := getRouter(t, ctx, e.cloud.Network, rtr.ID); len(got.Tags) != 0 || got.Name != rtrName {
		t.Errorf("the user's router was changed: %+v", got)
	}
	if n := count(owned(e.snapshot(), e.cluster), "router"); n != 0 {
		t.Errorf("%d routers created", n)
	}
	if err := inf.Delete(ctx, e.cluster); err != nil {
		t.Fatal(err)
	}
	if diff := e.changed(before, e.snapshot()); diff != "" {
		t.Errorf("after Delete (-before +after):\n%s", diff)
	}
}

func TestDriftCorrection(t *testing.T) {
	e := newNetEnv(t)
	ctx := testCtx(t)
	inf := infra.New(e.cloud)
	spec := e.spec(netOnlySpec())
	st, err := inf.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	c := e.cloud.Network
	cp := st.SecurityGroups[infra.RoleControlPlane]
	// Delete the managed etcd rule.
	var etcd string
	for _, r := range getGroup(t, ctx, c, cp).Rules {
		if r.PortRangeMin == 2379 {
			etcd = r.ID
		}
	}
	if err := rules.Delete(ctx, c, etcd).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// Add a foreign rule to a managed group.
	ssh, err := rules.Create(ctx, c, rules.CreateOpts{SecGroupID: cp, Direction: "ingress", EtherType: "IPv4",
		Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22, RemoteIPPrefix: "0.0.0.0/0"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// An unmanaged group with the same kind of rule.
	mine, err := groups.Create(ctx, c, groups.CreateOpts{Name: e.cluster + "-bastion"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	onReal(t, e, func(ctx context.Context) error { return groups.Delete(ctx, c, mine.ID).ExtractErr() })
	if _, err := rules.Create(ctx, c, rules.CreateOpts{SecGroupID: mine.ID, Direction: "ingress", EtherType: "IPv4",
		Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22, RemoteIPPrefix: "0.0.0.0/0"}).Extract(); err != nil {
		t.Fatal(err)
	}
	mineBefore := getGroup(t, ctx, c, mine.ID)

	plan, err := inf.Plan(ctx, spec, infra.WithStatus(st))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 2 {
		t.Errorf("plan:\n%s", plan)
	}
	e.resetCalls()
	if _, err := inf.Ensure(ctx, spec, infra.WithStatus(st)); err != nil {
		t.Fatal(err)
	}
	if calls := e.calls(); calls["POST /network/v2.0/security-group-rules"] != 1 || calls["DELETE /network/v2.0/security-group-rules/{id}"] != 1 || calls.Writes() != 2 {
		t.Errorf("drift correction calls: %v", calls)
	}
	after := getGroup(t, ctx, c, cp)
	hasEtcd := slices.ContainsFunc(after.Rules, func(r rules.SecGroupRule) bool {
		return r.PortRangeMin == 2379 && r.PortRangeMax == 2380 && r.RemoteGroupID == cp
	})
	hasSSH := slices.ContainsFunc(after.Rules, func(r rules.SecGroupRule) bool { return r.ID == ssh.ID })
	if !hasEtcd || hasSSH {
		t.Errorf("after Ensure: etcd rule back = %v (want true), foreign ssh rule there = %v (want false)", hasEtcd, hasSSH)
	}
	if diff := cmp.Diff(mineBefore, getGroup(t, ctx, c, mine.ID)); diff != "" {
		t.Errorf("unmanaged group changed:\n%s", diff)
	}
	e.resetCalls()
	if _, err := inf.Ensure(ctx, spec, infra.WithStatus(st)); err != nil {
		t.Fatal(err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("Ensure after correction made %d writes", w)
	}
	// A changed spec: the subnet's DNS nameservers are updated in place.
	spec.DNSNameservers = []string{"192.0.2.53"}
	if _, err := inf.Ensure(ctx, spec, infra.WithStatus(st)); err != nil {
		t.Fatal(err)
	}
	if got := getSubnet(t, ctx, c, st.SubnetID).DNSNameservers; !cmp.Equal(got, spec.DNSNameservers) {
		t.Errorf("subnet DNS nameservers = %v, want %v", got, spec.DNSNameservers)
	}
	if err := inf.Delete(ctx, e.cluster); err != nil {
		t.Fatal(err)
	}
	if _, err := groups.Get(ctx, c, mine.ID).Extract(); err != nil {
		t.Errorf("unmanaged group gone after Delete: %v", err)
	}
}

func TestDeleteLeavesForeignResources(t *testing.T) {
	e := newNetEnv(t)
	ctx := testCtx(t)
	inf := infra.New(e.cloud)
	other := netOnlySpec()
	other.Cluster = e.ct.Cluster("other")
	other.NodeCIDR = "10.7.0.0/24"
	if _, err := inf.Ensure(ctx, other); err != nil {
		t.Fatal(err)
	}
	n := createNetwork(t, e.cloud.Network, e.ct.Name("user-net"))
	onReal(t, e, func(ctx context.Context) error { return networks.Delete(ctx, e.cloud.Network, n.ID).ExtractErr() })
	before := e.snapshot()
	if _, err := inf.Ensure(ctx, e.spec(netOnlySpec())); err != nil {
		t.Fatal(err)
	}
	// An untagged leftover named like the cluster's resources but tagged
	// for another cluster is never touched.
	if err := inf.Delete(ctx, e.cluster); err != nil {
		t.Fatal(err)
	}
	if diff := e.changed(before, e.snapshot()); diff != "" {
		t.Errorf("Delete touched foreign resources (-before +after):\n%s", diff)
	}
}

func TestDeleteRefusesWhileServersUseTheNetwork(t *testing.T) {
	e := newNetEnv(t)
	ctx := testCtx(t)
	inf := infra.New(e.cloud)
	st, err := inf.Ensure(ctx, e.spec(netOnlySpec()))
	if err != nil {
		t.Fatal(err)
	}
	// A server on the cluster network, in the control-plane group.
	srv, err := servers.Create(ctx, e.cloud.Compute, servers.CreateOpts{Name: e.cluster + "-cp-0", ImageRef: imageID(t, e), FlavorRef: "1",
		Networks: []servers.Network{{UUID: st.NetworkID}}, SecurityGroups: []string{st.SecurityGroups[infra.RoleControlPlane]}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteServerOnReal(t, e, srv.ID)
	// Wait until it is ACTIVE: a real Nova creates the server's port while
	// it builds, the simulator at once.
	for {
		got, err := servers.Get(ctx, e.cloud.Compute, srv.ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == "ACTIVE" {
			break
		}
		if got.Status == "ERROR" {
			t.Fatalf("server %s went to ERROR", srv.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := e.snapshot()
	e.resetCalls()
	err = inf.Delete(ctx, e.cluster)
	if !errors.Is(err, infra.ErrInUse) || !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("Delete = %v, want ErrInUse and provider.ErrConflict", err)
	}
	if !strings.Contains(err.Error(), srv.ID) || !strings.Contains(err.Error(), "infra.Force()") {
		t.Errorf("error %q does not name the server and the way out", err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("refusing Delete made %d writes", w)
	}
	if diff := e.changed(before, e.snapshot()); diff != "" {
		t.Errorf("refusing Delete changed (-before +after):\n%s", diff)
	}
	if err := inf.Delete(ctx, e.cluster, infra.Force()); err != nil {
		t.Fatal(err)
	}
	after := e.snapshot()
	if left := owned(after, e.cluster); len(left) > 0 {
		t.Errorf("forced Delete left %v", left)
	}
	// The server stays (it is not the infrastructure's); it lost its port.
	// Servers are left out on both sides: a real cloud may hold others.
	noServers := func(rs []openstacktest.Resource) []openstacktest.Resource {
		var out []openstacktest.Resource
		for _, r := range rs {
			if r.Kind != "server" {
				out = append(out, r)
			}
		}
		return out
	}
	if diff := e.changed(noServers(e.base), noServers(after)); diff != "" {
		t.Errorf("after forced Delete (-before Ensure +after):\n%s", diff)
	}
}

func imageID(t *testing.T, e *env) string {
	t.Helper()
	for _, r := range e.snapshot() {
		if r.Kind == "image" && r.Name == openstacktest.ImageName {
			return r.ID
		}
	}
	t.Fatal("no image")
	return ""
}

func externalNetworkID(t *testing.T, e *env) string {
	t.Helper()
	for _, r := range e.snapshot() {
		if r.Kind == "network" && r.Name == openstacktest.ExternalNetwork {
			return r.ID
		}
	}
	t.Fatal("no external network")
	return ""
}
