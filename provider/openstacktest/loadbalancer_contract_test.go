package openstacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/providers"
	lbquotas "github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/quotas"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// octaviaError is the parsed body of an Octavia error answer.
type octaviaError struct {
	Status      int
	FaultString string
}

// wantOctaviaError fails unless err is an Octavia error with status; it
// returns the fault string.
func wantOctaviaError(t *testing.T, err error, status int) string {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d", status)
	}
	var ue gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &ue) {
		t.Fatalf("error %v is not an unexpected response code", err)
	}
	var body struct {
		FaultCode   string `json:"faultcode"`
		FaultString string `json:"faultstring"`
	}
	if jerr := json.Unmarshal(ue.Body, &body); jerr != nil || body.FaultCode == "" {
		t.Fatalf("error body %q is not Octavia's shape: %v", ue.Body, jerr)
	}
	if ue.Actual != status {
		t.Fatalf("got %d (%s), want %d", ue.Actual, body.FaultString, status)
	}
	return body.FaultString
}

// waitActive polls a load balancer until it is ACTIVE.
func waitActive(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, id string) *loadbalancers.LoadBalancer {
	t.Helper()
	return cloudtest.WaitLoadBalancerActive(t, ctx, c, id)
}

// waitGone polls a load balancer until it answers 404.
func waitGone(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, id string) {
	t.Helper()
	pause := 5 * time.Millisecond
	for {
		lb, err := loadbalancers.Get(ctx, c, id).Extract()
		if gophercloud.ResponseCodeIs(err, 404) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if lb.ProvisioningStatus != "PENDING_DELETE" {
			t.Fatalf("deleted load balancer is %s", lb.ProvisioningStatus)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("load balancer %s never went away", id)
		case <-time.After(pause):
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// lbNet makes a network and subnet for load balancer tests. On a real cloud
// it deletes them when the test ends, with the ports left on the network;
// load balancers go first (their cleanups, registered later, run earlier).
func lbNet(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, name, cidr string) netFixture {
	t.Helper()
	f := makeNet(t, ctx, c, name, cidr)
	onRealCleanup(t, func(ctx context.Context) {
		pages, err := ports.List(c, ports.ListOpts{NetworkID: f.net.ID}).AllPages(ctx)
		if err == nil {
			ps, _ := ports.ExtractPorts(pages)
			for _, p := range ps {
				_ = ports.Delete(ctx, c, p.ID).ExtractErr()
			}
		}
		if err := networks.Delete(ctx, c, f.net.ID).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, 404) {
			t.Logf("clean up network %s: %v", f.net.ID, err)
		}
	})
	return f
}

// deleteLBLater deletes the load balancer with cascade when the test ends
// on a real cloud, and waits until it is gone.
func deleteLBLater(t *testing.T, c *gophercloud.ServiceClient, id string) {
	t.Helper()
	onRealCleanup(t, func(ctx context.Context) {
		for ctx.Err() == nil {
			err := loadbalancers.Delete(ctx, c, id, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr()
			if err == nil || gophercloud.ResponseCodeIs(err, 404) {
				break
			}
			if !gophercloud.ResponseCodeIs(err, 409) { // 409 while PENDING_*: wait
				t.Logf("clean up load balancer %s: %v", id, err)
				return
			}
			time.Sleep(time.Second)
		}
		for ctx.Err() == nil {
			if err := loadbalancers.Get(ctx, c, id).Err; gophercloud.ResponseCodeIs(err, 404) {
				return
			}
			time.Sleep(time.Second)
		}
		t.Logf("clean up load balancer %s: still there", id)
	})
}

// netPorts returns the IDs of the ports on a network, sorted.
func netPorts(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, networkID string) []string {
	t.Helper()
	pages, err := ports.List(c, ports.ListOpts{NetworkID: networkID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ports.ExtractPorts(pages)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	sort.Strings(ids)
	return ids
}

// activeOperating is the operating status of an ACTIVE load balancer and of
// a monitored member: ONLINE once amphorae report health; OFFLINE and
// NO_MONITOR on the local real services, whose no-op amphorae never do.
func activeOperating(e *cloudtest.Env) (lb, member string) {
	if e.LocalStack() {
		return "OFFLINE", "NO_MONITOR"
	}
	return "ONLINE", "ONLINE"
}

// TestLoadBalancerStack builds a load balancer with a listener, pool, member
// and health monitor, reads its status tree and deletes it with cascade: its
// VIP is a Neutron port Octavia made on the VIP subnet, and goes with it.
func TestLoadBalancerStack(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(20*time.Millisecond)))
	ctx := testContext(t)
	cloud := e.Cloud(ctx)
	c, nc := cloud.LoadBalancer, cloud.Network
	f := lbNet(t, ctx, nc, e.Name("lb"), "10.20.0.0/24")
	var before []openstacktest.Resource
	if s := e.Sim(); s != nil {
		before = s.Snapshot()
	}
	portsBefore := netPorts(t, ctx, nc, f.net.ID)
	name, tag := e.Name("demo-api"), e.Name("openstrap-cluster=demo")
	wantLB, wantMember := activeOperating(e)

	lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: name, VipSubnetID: f.sub.ID,
		Tags: []string{tag}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteLBLater(t, c, lb.ID)
	if lb.ProvisioningStatus != "PENDING_CREATE" || lb.OperatingStatus != "OFFLINE" || lb.Provider != "amphora" ||
		!lb.UpdatedAt.IsZero() || lb.VipNetworkID != f.net.ID || lb.VipSubnetID != f.sub.ID ||
		!netip.MustParsePrefix("10.20.0.0/24").Contains(netip.MustParseAddr(lb.VipAddress)) {
		t.Errorf("new load balancer: %+v", lb)
	}
	vip, err := ports.Get(ctx, nc, lb.VipPortID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if vip.DeviceOwner != "Octavia" || vip.Name != "octavia-lb-"+lb.ID || vip.DeviceID != "lb-"+lb.ID ||
		vip.NetworkID != f.net.ID || vip.AdminStateUp || vip.Status != "DOWN" || vip.ProjectID != cloud.ProjectID ||
		len(vip.SecurityGroups) != 1 ||
		len(vip.Tags) != 0 || len(vip.FixedIPs) != 1 ||
		vip.FixedIPs[0].IPAddress != lb.VipAddress || vip.FixedIPs[0].SubnetID != f.sub.ID {
		t.Errorf("VIP port: %+v", vip)
	}
	lb = waitActive(t, ctx, c, lb.ID)
	if lb.OperatingStatus != wantLB || lb.UpdatedAt.IsZero() {
		t.Errorf("active load balancer: operating status %s (want %s), updated_at %v", lb.OperatingStatus, wantLB, lb.UpdatedAt)
	}

	li, err := listeners.Create(ctx, c, listeners.CreateOpts{Name: "demo-api-6443", LoadbalancerID: lb.ID,
		Protocol: listeners.ProtocolTCP, ProtocolPort: 6443, AllowedCIDRs: []string{"10.0.0.0/8"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if li.ProvisioningStatus != "PENDING_CREATE" || li.ProtocolPort != 6443 || len(li.AllowedCIDRs) != 1 {
		t.Errorf("listener: %+v", li)
	}
	waitActive(t, ctx, c, lb.ID)
	pool, err := pools.Create(ctx, c, pools.CreateOpts{Name: "demo-api", ListenerID: li.ID, Protocol: pools.ProtocolTCP,
		LBMethod: pools.LBMethodRoundRobin}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, c, lb.ID)
	li, err = listeners.Get(ctx, c, li.ID).Extract()
	if err != nil || li.DefaultPoolID != pool.ID || li.ProvisioningStatus != "ACTIVE" {
		t.Errorf("listener after pool: %+v, %v", li, err)
	}
	member, err := pools.CreateMember(ctx, c, pool.ID, pools.CreateMemberOpts{Name: "cp-0", Address: "10.20.0.10",
		ProtocolPort: 6443, SubnetID: f.sub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if member.OperatingStatus != "NO_MONITOR" {
		t.Errorf("new member without a monitor: operating status %s, want NO_MONITOR", member.OperatingStatus)
	}
	// Zed's attributes: tenant_id beside project_id, updated_at null until
	// a change; no hsts_* on listeners, no vnic_type or description on
	// members (later releases added them).
	for url, want := range map[string]map[string]bool{
		c.ServiceURL("lbaas", "listeners", li.ID):                     {"tenant_id": true, "hsts_max_age": false},
		c.ServiceURL("lbaas", "pools", pool.ID, "members", member.ID): {"tenant_id": true, "vnic_type": false, "description": false},
	} {
		var raw map[string]map[string]any
		if _, err := c.Get(ctx, url, &raw, nil); err != nil {
			t.Fatal(err)
		}
		for _, obj := range raw {
			for key, there := range want {
				if _, ok := obj[key]; ok != there {
					t.Errorf("%s: attribute %s present = %v, want %v", url, key, ok, there)
				}
			}
			if obj["tenant_id"] != obj["project_id"] {
				t.Errorf("%s: tenant_id %v, project_id %v", url, obj["tenant_id"], obj["project_id"])
			}
		}
	}
	waitActive(t, ctx, c, lb.ID)
	hm, err := monitors.Create(ctx, c, monitors.CreateOpts{PoolID: pool.ID, Type: monitors.TypeTCP, Delay: 5, Timeout: 3, MaxRetries: 3}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, c, lb.ID)
	got, err := pools.GetMember(ctx, c, pool.ID, member.ID).Extract()
	if err != nil || got.ProvisioningStatus != "ACTIVE" || got.OperatingStatus != wantMember || got.Weight != 1 {
		t.Errorf("member: %+v, %v (want operating status %s)", got, err, wantMember)
	}
	// A member added under the monitor starts OFFLINE.
	second, err := pools.CreateMember(ctx, c, pool.ID, pools.CreateMemberOpts{Name: "cp-1", Address: "10.20.0.11",
		ProtocolPort: 6443, SubnetID: f.sub.ID}).Extract()
	if err != nil || second.OperatingStatus != "OFFLINE" || second.ProvisioningStatus != "PENDING_CREATE" {
		t.Errorf("new member under a monitor: %+v, %v", second, err)
	}
	waitActive(t, ctx, c, lb.ID)

	tree, err := loadbalancers.GetStatuses(ctx, c, lb.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	var treeMembers []string
	if tl := tree.Loadbalancer; tl != nil && len(tl.Listeners) == 1 && len(tl.Listeners[0].Pools) == 1 {
		for _, m := range tl.Listeners[0].Pools[0].Members {
			treeMembers = append(treeMembers, m.Address)
		}
	}
	sort.Strings(treeMembers)
	if !cmp.Equal(treeMembers, []string{"10.20.0.10", "10.20.0.11"}) {
		t.Errorf("status tree: %+v (members %v)", tree.Loadbalancer, treeMembers)
	}

	// Filters: tags, VIP port, name (each with the name, since a real
	// project may hold other load balancers).
	for _, tc := range []struct {
		name string
		opts loadbalancers.ListOpts
		want int
	}{
		{"tag", loadbalancers.ListOpts{Name: name, Tags: []string{tag}}, 1},
		{"other tag", loadbalancers.ListOpts{Name: name, Tags: []string{"openstrap-cluster=other"}}, 0},
		{"not tag", loadbalancers.ListOpts{Name: name, TagsNot: []string{tag}}, 0},
		{"vip port", loadbalancers.ListOpts{VipPortID: lb.VipPortID}, 1},
		{"vip address", loadbalancers.ListOpts{Name: name, VipAddress: lb.VipAddress}, 1},
		{"name", loadbalancers.ListOpts{Name: "nope"}, 0},
	} {
		pages, err := loadbalancers.List(c, tc.opts).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lbs, _ := loadbalancers.ExtractLoadBalancers(pages)
		if len(lbs) != tc.want {
			t.Errorf("filter %s: %d load balancers, want %d", tc.name, len(lbs), tc.want)
		}
	}

	msg := wantOctaviaError(t, loadbalancers.Delete(ctx, c, lb.ID, nil).ExtractErr(), 400)
	if want := fmt.Sprintf("Validation failure: Cannot delete Load Balancer %s - it has children", lb.ID); msg != want {
		t.Errorf("delete with children: %q, want %q", msg, want)
	}
	// The VIP port belongs to Octavia: Neutron lets the user delete it,
	// which is why nobody should; only the load balancer's delete does.
	if err := loadbalancers.Delete(ctx, c, lb.ID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, c, lb.ID)
	for name, err := range map[string]error{
		"listener": listeners.Get(ctx, c, li.ID).Err,
		"pool":     pools.Get(ctx, c, pool.ID).Err,
		"member":   pools.GetMember(ctx, c, pool.ID, member.ID).Err,
		"monitor":  monitors.Get(ctx, c, hm.ID).Err,
		"VIP port": ports.Get(ctx, nc, vip.ID).Err,
	} {
		if !gophercloud.ResponseCodeIs(err, 404) {
			t.Errorf("%s after cascade delete: %v, want 404", name, err)
		}
	}
	if diff := cmp.Diff(portsBefore, netPorts(t, ctx, nc, f.net.ID)); diff != "" {
		t.Errorf("ports left on the VIP network (-before +after):\n%s", diff)
	}
	if s := e.Sim(); s != nil {
		if diff := cmp.Diff(before, s.Snapshot()); diff != "" {
			t.Errorf("resources left behind (-before +after):\n%s", diff)
		}
	}
}

// TestLoadBalancerPendingConflict checks that a busy load balancer refuses
// changes to itself and its children with Octavia's 409.
func TestLoadBalancerPendingConflict(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(time.Second)))
	ctx := testContext(t)
	cloud := e.Cloud(testContext(t))
	c := cloud.LoadBalancer
	f := lbNet(t, ctx, cloud.Network, e.Name("pend"), "10.21.0.0/24")
	lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: "pend", VipNetworkID: f.net.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteLBLater(t, c, lb.ID)
	// Octavia answers changes to the load balancer itself with its state,
	// changes to its children with "immutable".
	self := fmt.Sprintf("Invalid state PENDING_CREATE of loadbalancer resource %s", lb.ID)
	child := fmt.Sprintf("Load Balancer %s is immutable and cannot be updated.", lb.ID)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"listener", func() error {
			_, err := listeners.Create(ctx, c, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: listeners.ProtocolTCP, ProtocolPort: 80}).Extract()
			return err
		}, child},
		{"pool", func() error {
			_, err := pools.Create(ctx, c, pools.CreateOpts{LoadbalancerID: lb.ID, Protocol: pools.ProtocolTCP, LBMethod: pools.LBMethodRoundRobin}).Extract()
			return err
		}, child},
		{"update", func() error {
			name := "renamed"
			_, err := loadbalancers.Update(ctx, c, lb.ID, loadbalancers.UpdateOpts{Name: &name}).Extract()
			return err
		}, self},
		{"delete", func() error { return loadbalancers.Delete(ctx, c, lb.ID, nil).ExtractErr() }, self},
	} {
		if msg := wantOctaviaError(t, tc.call(), 409); msg != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, msg, tc.want)
		}
	}
}

// TestLoadBalancerErrors checks Octavia's answers to invalid requests.
func TestLoadBalancerErrors(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(0)))
	ctx := testContext(t)
	cloud := e.Cloud(testContext(t))
	c := cloud.LoadBalancer
	f := lbNet(t, ctx, cloud.Network, e.Name("lberr"), "10.22.0.0/24")
	lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: "e", VipSubnetID: f.sub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteLBLater(t, c, lb.ID)
	waitActive(t, ctx, c, lb.ID)
	li, err := listeners.Create(ctx, c, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: listeners.ProtocolHTTP, ProtocolPort: 80}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, c, lb.ID)
	pool, err := pools.Create(ctx, c, pools.CreateOpts{ListenerID: li.ID, Protocol: pools.ProtocolHTTP, LBMethod: pools.LBMethodLeastConnections}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, c, lb.ID)
	if _, err := pools.CreateMember(ctx, c, pool.ID, pools.CreateMemberOpts{Address: "10.22.0.5", ProtocolPort: 8080}).Extract(); err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, c, lb.ID)
	if _, err := monitors.Create(ctx, c, monitors.CreateOpts{PoolID: pool.ID, Type: monitors.TypeHTTP, Delay: 5, Timeout: 3, MaxRetries: 3}).Extract(); err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, c, lb.ID)

	cases := []struct {
		name   string
		call   func() error
		status int
		msg    string
	}{
		{"unknown load balancer", func() error { return loadbalancers.Get(ctx, c, "nope").Err }, 404, "Load Balancer nope not found."},
		{"no VIP", func() error {
			_, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: "x"}).Extract()
			return err
		},
			400, "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id."},
		// Octavia looks the VIP's subnet, network or port up in Neutron
		// with the user's token.
		{"unknown VIP subnet", func() error {
			_, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{VipSubnetID: "6f2c9a2e-0000-4000-8000-000000000001"}).Extract()
			return err
		}, 400, "Subnet 6f2c9a2e-0000-4000-8000-000000000001 not found."},
		{"unknown VIP network", func() error {
			_, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{VipNetworkID: "6f2c9a2e-0000-4000-8000-000000000002"}).Extract()
			return err
		}, 400, "Network 6f2c9a2e-0000-4000-8000-000000000002 not found."},
		{"unknown VIP port", func() error {
			_, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{VipPortID: "6f2c9a2e-0000-4000-8000-000000000003"}).Extract()
			return err
		}, 400, "Port 6f2c9a2e-0000-4000-8000-000000000003 not found."},
		{"unknown provider", func() error {
			_, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{VipSubnetID: f.sub.ID, Provider: "ovn-x"}).Extract()
			return err
		}, 400, ""},
		{"duplicate listener port", func() error {
			_, err := listeners.Create(ctx, c, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: listeners.ProtocolTCP, ProtocolPort: 80}).Extract()
			return err
		}, 409, ""},
		{"listener port out of range", func() error {
			_, err := listeners.Create(ctx, c, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: listeners.ProtocolTCP, ProtocolPort: 70000}).Extract()
			return err
		}, 400, ""},
		{"pool without parent", func() error {
			_, err := pools.Create(ctx, c, pools.CreateOpts{Protocol: pools.ProtocolTCP, LBMethod: pools.LBMethodRoundRobin}).Extract()
			return err
		}, 400, ""},
		{"second default pool", func() error {
			_, err := pools.Create(ctx, c, pools.CreateOpts{ListenerID: li.ID, Protocol: pools.ProtocolHTTP, LBMethod: pools.LBMethodRoundRobin}).Extract()
			return err
		}, 409, ""},
		{"pool protocol mismatch", func() error {
			l2, err := listeners.Create(ctx, c, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: listeners.ProtocolUDP, ProtocolPort: 53}).Extract()
			if err != nil {
				return err
			}
			waitActive(t, ctx, c, lb.ID)
			_, err = pools.Create(ctx, c, pools.CreateOpts{ListenerID: l2.ID, Protocol: pools.ProtocolHTTP, LBMethod: pools.LBMethodRoundRobin}).Extract()
			return err
		}, 400, ""},
		{"duplicate member", func() error {
			_, err := pools.CreateMember(ctx, c, pool.ID, pools.CreateMemberOpts{Address: "10.22.0.5", ProtocolPort: 8080}).Extract()
			return err
		}, 409, ""},
		{"second health monitor", func() error {
			_, err := monitors.Create(ctx, c, monitors.CreateOpts{PoolID: pool.ID, Type: monitors.TypeTCP, Delay: 5, Timeout: 3, MaxRetries: 3}).Extract()
			return err
		}, 409, ""},
		{"unknown member", func() error { return pools.GetMember(ctx, c, pool.ID, "nope").Err }, 404, "Member nope not found."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantOctaviaError(t, tc.call(), tc.status)
			if tc.msg != "" && msg != tc.msg {
				t.Errorf("message %q, want %q", msg, tc.msg)
			}
		})
	}
}

// TestLoadBalancerQuotaAndPages checks Octavia's quota answer and
// pagination.
func TestLoadBalancerQuotaAndPages(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(0)))
	ctx := testContext(t)
	cloud := e.Cloud(ctx)
	c := cloud.LoadBalancer
	admin := e.AdminCloud(ctx).LoadBalancer
	project := cloud.ProjectID
	f := lbNet(t, ctx, cloud.Network, e.Name("lbq"), "10.23.0.0/24")
	q, err := lbquotas.Get(ctx, c, project).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if q.Loadbalancer != -1 || q.Listener != -1 {
		t.Errorf("default quota: %+v", q)
	}
	t.Cleanup(func() {
		// Back to the defaults (DELETE /v2/lbaas/quotas/{project}).
		_, _ = admin.Delete(context.Background(), admin.ServiceURL("quotas", project), nil)
	})
	// The project may hold other load balancers: five more than it has.
	pages, err := loadbalancers.List(c, loadbalancers.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	existing, err := loadbalancers.ExtractLoadBalancers(pages)
	if err != nil {
		t.Fatal(err)
	}
	limit := len(existing) + 5
	if _, err := lbquotas.Update(ctx, admin, project, lbquotas.UpdateOpts{Loadbalancer: &limit}).Extract(); err != nil {
		t.Fatal(err)
	}
	name := e.Name("q")
	var ids []string
	for i := 0; i < 5; i++ {
		lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: name, VipSubnetID: f.sub.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		deleteLBLater(t, c, lb.ID)
		ids = append(ids, lb.ID)
	}
	_, err = loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: name + "-over", VipSubnetID: f.sub.ID}).Extract()
	if msg := wantOctaviaError(t, err, 403); msg != "Quota has been met for resources: Load Balancer" {
		t.Errorf("quota message %q", msg)
	}

	var got []string
	pagesSeen := 0
	err = loadbalancers.List(c, loadbalancers.ListOpts{Name: name, Limit: 2}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		lbs, err := loadbalancers.ExtractLoadBalancers(p)
		if err != nil {
			return false, err
		}
		pagesSeen++
		for _, lb := range lbs {
			got = append(got, lb.ID)
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	sort.Strings(got)
	if diff := cmp.Diff(ids, got); diff != "" || pagesSeen != 3 {
		t.Errorf("%d pages, want 3; IDs (-want +got):\n%s", pagesSeen, diff)
	}

	// A fully populated create counts its children against their quotas.
	unlimited, zero := -1, 0
	if _, err := lbquotas.Update(ctx, admin, project, lbquotas.UpdateOpts{Loadbalancer: &unlimited, Pool: &zero}).Extract(); err != nil {
		t.Fatal(err)
	}
	_, err = loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: name + "-graph", VipSubnetID: f.sub.ID,
		Listeners: []listeners.CreateOpts{{Protocol: listeners.ProtocolTCP, ProtocolPort: 80,
			DefaultPool: &pools.CreateOpts{Name: "p", Protocol: pools.ProtocolTCP, LBMethod: pools.LBMethodRoundRobin}}}}).Extract()
	if msg := wantOctaviaError(t, err, 403); msg != "Quota has been met for resources: Pool" {
		t.Errorf("graph over the pool quota: %q", msg)
	}
}

// TestLoadBalancerBatchMembers replaces a pool's members in one request:
// unlisted members go, new ones come, listed ones are updated.
func TestLoadBalancerBatchMembers(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(0)))
	ctx := testContext(t)
	cloud := e.Cloud(testContext(t))
	c := cloud.LoadBalancer
	f := lbNet(t, ctx, cloud.Network, e.Name("batch"), "10.24.0.0/24")
	lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: "batch", VipSubnetID: f.sub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteLBLater(t, c, lb.ID)
	waitActive(t, ctx, c, lb.ID)
	pool, err := pools.Create(ctx, c, pools.CreateOpts{LoadbalancerID: lb.ID, Protocol: pools.ProtocolTCP, LBMethod: pools.LBMethodRoundRobin}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, c, lb.ID)
	for _, addr := range []string{"10.24.0.10", "10.24.0.11"} {
		if _, err := pools.CreateMember(ctx, c, pool.ID, pools.CreateMemberOpts{Address: addr, ProtocolPort: 6443}).Extract(); err != nil {
			t.Fatal(err)
		}
		waitActive(t, ctx, c, lb.ID)
	}
	five := 5
	err = pools.BatchUpdateMembers(ctx, c, pool.ID, []pools.BatchUpdateMemberOpts{
		{Address: "10.24.0.11", ProtocolPort: 6443, Weight: &five},
		{Address: "10.24.0.12", ProtocolPort: 6443},
	}).ExtractErr()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, c, lb.ID)
	pages, err := pools.ListMembers(c, pool.ID, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := pools.ExtractMembers(pages)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range ms {
		got[m.Address] = m.Weight
	}
	if diff := cmp.Diff(map[string]int{"10.24.0.11": 5, "10.24.0.12": 1}, got); diff != "" {
		t.Errorf("members after batch update (-want +got):\n%s", diff)
	}

	pp, err := providers.List(c, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := providers.ExtractProviders(pp)
	if len(ps) == 0 || ps[0].Name != "amphora" {
		t.Errorf("providers: %+v", ps)
	}
}

// TestLoadBalancerVIPPort builds a load balancer on a port the user made:
// it takes the port's address, leaves the port as it was and leaves it
// behind when deleted.
func TestLoadBalancerVIPPort(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(0)))
	ctx := testContext(t)
	cloud := e.Cloud(ctx)
	c, nc := cloud.LoadBalancer, cloud.Network
	f := lbNet(t, ctx, nc, e.Name("vipport"), "10.25.0.0/24")
	p, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: f.net.ID, Name: "my-vip",
		FixedIPs: []ports.IP{{SubnetID: f.sub.ID, IPAddress: "10.25.0.100"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	name := e.Name("vipport")
	lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: name, VipPortID: p.ID,
		Tags: []string{"a", "b"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteLBLater(t, c, lb.ID)
	if lb.VipAddress != "10.25.0.100" || lb.VipSubnetID != f.sub.ID || lb.VipNetworkID != f.net.ID || lb.VipPortID != p.ID {
		t.Errorf("load balancer on a port: %+v", lb)
	}
	waitActive(t, ctx, c, lb.ID)
	if got, err := ports.Get(ctx, nc, p.ID).Extract(); err != nil || got.Name != "my-vip" || got.DeviceOwner != "" ||
		got.DeviceID != "" || !got.AdminStateUp {
		t.Errorf("user's VIP port under the load balancer: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		opts loadbalancers.ListOpts
		want int
	}{
		{loadbalancers.ListOpts{Name: name, Tags: []string{"a", "b"}}, 1},
		{loadbalancers.ListOpts{Name: name, Tags: []string{"a", "z"}}, 0},
		{loadbalancers.ListOpts{Name: name, TagsAny: []string{"z", "b"}}, 1},
		{loadbalancers.ListOpts{Name: name, TagsNotAny: []string{"z", "b"}}, 0},
		{loadbalancers.ListOpts{Name: name, TagsNot: []string{"a", "z"}}, 1},
	} {
		pages, err := loadbalancers.List(c, tc.opts).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lbs, _ := loadbalancers.ExtractLoadBalancers(pages); len(lbs) != tc.want {
			t.Errorf("%+v: %d load balancers, want %d", tc.opts, len(lbs), tc.want)
		}
	}
	// A port some device uses cannot be a VIP.
	used, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: f.net.ID, Name: "used", DeviceID: "some-device"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: name + "-used", VipPortID: used.ID}).Extract()
	if msg, want := wantOctaviaError(t, err, 400), "Validation failure: Port "+used.ID+" is already used by device some-device "; msg != want {
		t.Errorf("VIP on a used port: %q, want %q", msg, want)
	}
	if err := loadbalancers.Delete(ctx, c, lb.ID, nil).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, c, lb.ID)
	if got, err := ports.Get(ctx, nc, p.ID).Extract(); err != nil || got.FixedIPs[0].IPAddress != "10.25.0.100" {
		t.Errorf("user's VIP port after delete: %+v, %v", got, err)
	}
}

// TestLoadBalancerConcurrentMembers has many clients add members to one
// pool at once: while the load balancer is busy the others get 409 and
// retry, and every member ends up created exactly once.
func TestLoadBalancerConcurrentMembers(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(5*time.Millisecond)))
	ctx := testContext(t)
	cloud := e.Cloud(testContext(t))
	c := cloud.LoadBalancer
	f := lbNet(t, ctx, cloud.Network, e.Name("lbconc"), "10.26.0.0/24")
	lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: "conc", VipSubnetID: f.sub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteLBLater(t, c, lb.ID)
	waitActive(t, ctx, c, lb.ID)
	pool, err := pools.Create(ctx, c, pools.CreateOpts{LoadbalancerID: lb.ID, Protocol: pools.ProtocolTCP, LBMethod: pools.LBMethodRoundRobin}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, c, lb.ID)
	const clients = 8
	conflicts := make(chan int, clients)
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		go func() {
			n := 0
			for {
				_, err := pools.CreateMember(ctx, c, pool.ID, pools.CreateMemberOpts{Address: fmt.Sprintf("10.26.0.%d", 10+i), ProtocolPort: 6443}).Extract()
				if gophercloud.ResponseCodeIs(err, 409) {
					n++
					time.Sleep(2 * time.Millisecond)
					continue
				}
				conflicts <- n
				errs <- err
				return
			}
		}()
	}
	total := 0
	for i := 0; i < clients; i++ {
		total += <-conflicts
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitActive(t, ctx, c, lb.ID)
	pages, err := pools.ListMembers(c, pool.ID, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := pools.ExtractMembers(pages)
	if len(ms) != clients {
		t.Errorf("%d members, want %d", len(ms), clients)
	}
	if total == 0 {
		t.Error("no client saw a 409 while the load balancer was busy")
	}
}

// TestLoadBalancerFullyPopulated creates a load balancer with its listener,
// pool, member and health monitor in one request, as Octavia's "fully
// populated" create allows: the answer holds the listener and the pool
// (with its member) in full, all PENDING_CREATE, and a cascade delete takes
// everything, VIP port included.
func TestLoadBalancerFullyPopulated(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(20*time.Millisecond)))
	ctx := testContext(t)
	cloud := e.Cloud(ctx)
	c, nc := cloud.LoadBalancer, cloud.Network
	f := lbNet(t, ctx, nc, e.Name("full"), "10.27.0.0/24")
	name, tag := e.Name("full"), e.Name("full-tag")
	lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: name, VipSubnetID: f.sub.ID, Tags: []string{tag},
		Listeners: []listeners.CreateOpts{{Name: "full-6443", Protocol: listeners.ProtocolTCP, ProtocolPort: 6443,
			AllowedCIDRs: []string{"10.0.0.0/8"}, Tags: []string{tag},
			DefaultPool: &pools.CreateOpts{Name: "full-pool", Protocol: pools.ProtocolTCP, LBMethod: pools.LBMethodRoundRobin,
				Tags:    []string{tag},
				Members: []pools.CreateMemberOpts{{Name: "cp-0", Address: "10.27.0.10", ProtocolPort: 6443, SubnetID: f.sub.ID}},
				Monitor: monitors.CreateOpts{Name: "full-hm", Type: monitors.TypeTCP, Delay: 5, Timeout: 3, MaxRetries: 3,
					Tags: []string{tag}}}}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteLBLater(t, c, lb.ID)
	if lb.ProvisioningStatus != "PENDING_CREATE" || lb.OperatingStatus != "OFFLINE" || lb.VipSubnetID != f.sub.ID {
		t.Errorf("new load balancer: %+v", lb)
	}
	if len(lb.Listeners) != 1 || len(lb.Pools) != 1 {
		t.Fatalf("answer has %d listeners and %d pools, want 1 and 1: %+v", len(lb.Listeners), len(lb.Pools), lb)
	}
	li, pool := lb.Listeners[0], lb.Pools[0]
	if li.Name != "full-6443" || li.ProvisioningStatus != "PENDING_CREATE" || li.ProtocolPort != 6443 ||
		li.DefaultPoolID != pool.ID || !cmp.Equal(li.AllowedCIDRs, []string{"10.0.0.0/8"}) || !cmp.Equal(li.Tags, []string{tag}) {
		t.Errorf("listener in the answer: %+v", li)
	}
	if pool.Name != "full-pool" || pool.ProvisioningStatus != "PENDING_CREATE" || pool.LBMethod != "ROUND_ROBIN" ||
		len(pool.Listeners) != 1 || pool.Listeners[0].ID != li.ID || len(pool.Members) != 1 {
		t.Fatalf("pool in the answer: %+v", pool)
	}
	if m := pool.Members[0]; m.Name != "cp-0" || m.Address != "10.27.0.10" || m.ProtocolPort != 6443 ||
		m.SubnetID != f.sub.ID || m.ProvisioningStatus != "PENDING_CREATE" || m.OperatingStatus != "NO_MONITOR" || m.Weight != 1 {
		t.Errorf("member in the answer: %+v", m)
	}
	// Real Octavia (Zed) answers "healthmonitor": null here; the monitor is
	// there all the same.
	hms, err := monitors.List(c, monitors.ListOpts{PoolID: pool.ID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hm, err := monitors.ExtractMonitors(hms)
	if err != nil || len(hm) != 1 || hm[0].Name != "full-hm" || hm[0].Type != "TCP" || hm[0].Delay != 5 ||
		!cmp.Equal(hm[0].Tags, []string{tag}) {
		t.Errorf("health monitor: %+v, %v", hm, err)
	}
	lbActive := waitActive(t, ctx, c, lb.ID)
	if lbActive.VipPortID == "" || len(lbActive.Listeners) != 1 || lbActive.Listeners[0].ID != li.ID ||
		len(lbActive.Pools) != 1 || lbActive.Pools[0].ID != pool.ID {
		t.Errorf("load balancer after create: %+v", lbActive)
	}
	t.Run("children_become_ACTIVE", func(t *testing.T) {
		cloudtest.RequireSim(t, cloudtest.NeedsGraphCreateChildren)
		status := func(x any, err error) string {
			if err != nil {
				t.Fatal(err)
			}
			switch v := x.(type) {
			case *listeners.Listener:
				return v.ProvisioningStatus
			case *pools.Pool:
				return v.ProvisioningStatus
			case *pools.Member:
				return v.ProvisioningStatus
			case *monitors.Monitor:
				return v.ProvisioningStatus
			}
			return ""
		}
		for what, got := range map[string]string{
			"listener":       status(listeners.Get(ctx, c, li.ID).Extract()),
			"pool":           status(pools.Get(ctx, c, pool.ID).Extract()),
			"member":         status(pools.GetMember(ctx, c, pool.ID, pool.Members[0].ID).Extract()),
			"health monitor": status(monitors.Get(ctx, c, hm[0].ID).Extract()),
		} {
			if got != "ACTIVE" {
				t.Errorf("%s is %s after the load balancer is ACTIVE", what, got)
			}
		}
	})

	if err := loadbalancers.Delete(ctx, c, lb.ID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, c, lb.ID)
	for what, err := range map[string]error{
		"listener": listeners.Get(ctx, c, li.ID).Err,
		"pool":     pools.Get(ctx, c, pool.ID).Err,
		"VIP port": ports.Get(ctx, nc, lb.VipPortID).Err,
	} {
		if !gophercloud.ResponseCodeIs(err, 404) {
			t.Errorf("%s after cascade delete: %v, want 404", what, err)
		}
	}
}

// TestLoadBalancerFullyPopulatedErrors checks Octavia's answers to broken
// fully populated creates: no load balancer is made, but the VIP port
// Octavia allocated before it read the listeners stays.
func TestLoadBalancerFullyPopulatedErrors(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(0)))
	ctx := testContext(t)
	cloud := e.Cloud(ctx)
	c, nc := cloud.LoadBalancer, cloud.Network
	f := lbNet(t, ctx, nc, e.Name("fullerr"), "10.28.0.0/24")
	name := e.Name("fullerr")
	portsBefore := netPorts(t, ctx, nc, f.net.ID)
	// Raw bodies: gophercloud refuses some of these before sending them.
	withPool := func(pool map[string]any) map[string]any {
		return map[string]any{"loadbalancer": map[string]any{"name": name, "vip_subnet_id": f.sub.ID,
			"listeners": []any{map[string]any{"protocol": "TCP", "protocol_port": 6443, "default_pool": pool}}}}
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"unnamed pool", withPool(map[string]any{"protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}),
			"Validation failure: Pools must be named when creating a fully populated loadbalancer."},
		{"pool without algorithm", withPool(map[string]any{"name": "p", "protocol": "TCP", "admin_state_up": true}),
			"Validation failure: Pool definition for 'p' missing required attribute: lb_algorithm"},
		{"pool by a name nobody defines", withPool(map[string]any{"name": "nope"}),
			"Validation failure: Pool 'nope' was referenced but no full definition was found."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Post(ctx, c.ServiceURL("lbaas", "loadbalancers"), tc.body, nil, &gophercloud.RequestOpts{OkCodes: []int{201}})
			if msg := wantOctaviaError(t, err, 400); msg != tc.msg {
				t.Errorf("message %q, want %q", msg, tc.msg)
			}
		})
	}
	pages, err := loadbalancers.List(c, loadbalancers.ListOpts{Name: name}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lbs, _ := loadbalancers.ExtractLoadBalancers(pages); len(lbs) != 0 {
		t.Errorf("refused creates left %d load balancers", len(lbs))
	}
	// Octavia made the VIP port before it read the listeners, and leaves
	// it behind: one port per refused create.
	left := 0
	for _, id := range netPorts(t, ctx, nc, f.net.ID) {
		if slices.Contains(portsBefore, id) {
			continue
		}
		p, err := ports.Get(ctx, nc, id).Extract()
		if err != nil || p.DeviceOwner != "Octavia" || !strings.HasPrefix(p.Name, "octavia-lb-") {
			t.Errorf("unexpected port after refused creates: %+v, %v", p, err)
		}
		left++
	}
	if left != 3 {
		t.Errorf("%d VIP ports left by 3 refused creates, want 3", left)
	}
}

// TestLoadBalancerVIPOnExternalNetwork puts a VIP on the external network
// by its ID: Octavia makes the port as admin, in the user's project. By the
// external subnet's ID it is refused: Neutron does not show a member that
// subnet, and Octavia looks it up with the member's token.
func TestLoadBalancerVIPOnExternalNetwork(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithLoadBalancerDelay(0)))
	ctx := testContext(t)
	cloud := e.Cloud(ctx)
	c, nc := cloud.LoadBalancer, cloud.Network
	pub := publicNetwork(t, ctx, nc)
	lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: e.Name("ext-vip"), VipNetworkID: pub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteLBLater(t, c, lb.ID)
	if lb.VipNetworkID != pub.ID || len(pub.Subnets) != 1 || lb.VipSubnetID != pub.Subnets[0] ||
		!netip.MustParsePrefix("127.42.0.0/24").Contains(netip.MustParseAddr(lb.VipAddress)) {
		t.Errorf("load balancer on the external network: %+v", lb)
	}
	vip, err := ports.Get(ctx, nc, lb.VipPortID).Extract()
	if err != nil || vip.ProjectID != cloud.ProjectID || vip.DeviceOwner != "Octavia" || len(vip.SecurityGroups) != 1 {
		t.Errorf("VIP port on the external network: %+v, %v", vip, err)
	}
	_, err = loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{Name: e.Name("ext-vip-sub"), VipSubnetID: pub.Subnets[0]}).Extract()
	if msg, want := wantOctaviaError(t, err, 400), "Subnet "+pub.Subnets[0]+" not found."; msg != want {
		t.Errorf("VIP by the external subnet: %q, want %q", msg, want)
	}
	waitActive(t, ctx, c, lb.ID)
	if err := loadbalancers.Delete(ctx, c, lb.ID, nil).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, c, lb.ID)
	if err := ports.Get(ctx, nc, lb.VipPortID).Err; !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("VIP port after delete: %v, want 404", err)
	}
}
