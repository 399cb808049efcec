package cloudtest

import (
	"context"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// Setup steps that tests of servers behind load balancers share (the
// simulator's hook tests, the container runtime's tests). They fail the
// test on any error and leave deleting what they create to the test (the
// simulator's end, or a cascade delete).

// NewNetwork creates a network and an IPv4 subnet of cidr on it, and
// returns their IDs.
func NewNetwork(t testing.TB, ctx context.Context, c *provider.Cloud, name, cidr string) (networkID, subnetID string) {
	t.Helper()
	n, err := networks.Create(ctx, c.Network, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := subnets.Create(ctx, c.Network, subnets.CreateOpts{NetworkID: n.ID, CIDR: cidr, IPVersion: 4}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return n.ID, sub.ID
}

// TCPLoadBalancerSpec says what NewTCPLoadBalancer builds.
type TCPLoadBalancerSpec struct {
	Name        string
	VIPSubnetID string
	// Port is the listener's and the member's port.
	Port          int
	MemberAddress string
	// MemberSubnetID is the member's subnet; none when empty.
	MemberSubnetID string
}

// TCPLoadBalancer is what NewTCPLoadBalancer built.
type TCPLoadBalancer struct {
	LB       *loadbalancers.LoadBalancer
	Listener *listeners.Listener
	Pool     *pools.Pool
	Member   *pools.Member
}

// NewTCPLoadBalancer creates a load balancer with a TCP listener, a
// round-robin pool and one member, waiting for the load balancer to be
// ACTIVE after each step as Octavia requires.
func NewTCPLoadBalancer(t testing.TB, ctx context.Context, c *provider.Cloud, s TCPLoadBalancerSpec) *TCPLoadBalancer {
	t.Helper()
	lbc := c.LoadBalancer
	lb, err := loadbalancers.Create(ctx, lbc, loadbalancers.CreateOpts{Name: s.Name, VipSubnetID: s.VIPSubnetID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	WaitLoadBalancerActive(t, ctx, lbc, lb.ID)
	li, err := listeners.Create(ctx, lbc, listeners.CreateOpts{LoadbalancerID: lb.ID, Protocol: listeners.ProtocolTCP, ProtocolPort: s.Port}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	WaitLoadBalancerActive(t, ctx, lbc, lb.ID)
	pool, err := pools.Create(ctx, lbc, pools.CreateOpts{ListenerID: li.ID, Protocol: pools.ProtocolTCP, LBMethod: pools.LBMethodRoundRobin}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	WaitLoadBalancerActive(t, ctx, lbc, lb.ID)
	m, err := pools.CreateMember(ctx, lbc, pool.ID, pools.CreateMemberOpts{Address: s.MemberAddress, ProtocolPort: s.Port, SubnetID: s.MemberSubnetID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	WaitLoadBalancerActive(t, ctx, lbc, lb.ID)
	return &TCPLoadBalancer{LB: lb, Listener: li, Pool: pool, Member: m}
}

// WaitLoadBalancerActive polls a load balancer until its provisioning
// status is ACTIVE, failing the test when ctx ends first.
func WaitLoadBalancerActive(t testing.TB, ctx context.Context, c *gophercloud.ServiceClient, id string) *loadbalancers.LoadBalancer {
	t.Helper()
	pause := 5 * time.Millisecond
	for {
		lb, err := loadbalancers.Get(ctx, c, id).Extract()
		if err != nil {
			t.Fatalf("get load balancer %s: %v", id, err)
		}
		if lb.ProvisioningStatus == "ACTIVE" {
			return lb
		}
		select {
		case <-ctx.Done():
			t.Fatalf("load balancer %s still %s", id, lb.ProvisioningStatus)
		case <-time.After(pause):
		}
		pause = min(2*pause, 250*time.Millisecond) // a real Octavia takes seconds
	}
}

// ExternalFloatingIP routes subnetID to the external network
// (openstacktest.ExternalNetwork) through a new router and gives portID a
// floating IP from it.
func ExternalFloatingIP(t testing.TB, ctx context.Context, c *provider.Cloud, subnetID, portID string) *floatingips.FloatingIP {
	t.Helper()
	page, err := networks.List(c.Network, networks.ListOpts{Name: openstacktest.ExternalNetwork}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := networks.ExtractNetworks(page)
	if err != nil || len(ext) == 0 {
		t.Fatalf("external network %q: %d found, %v", openstacktest.ExternalNetwork, len(ext), err)
	}
	r, err := routers.Create(ctx, c.Network, routers.CreateOpts{Name: "r", GatewayInfo: &routers.GatewayInfo{NetworkID: ext[0].ID}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := routers.AddInterface(ctx, c.Network, r.ID, routers.AddInterfaceOpts{SubnetID: subnetID}).Extract(); err != nil {
		t.Fatal(err)
	}
	fip, err := floatingips.Create(ctx, c.Network, floatingips.CreateOpts{FloatingNetworkID: ext[0].ID, PortID: portID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return fip
}
