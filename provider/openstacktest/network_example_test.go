package openstacktest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

// Example_network builds what a control plane machine needs on the
// simulated Neutron and Octavia with plain gophercloud calls: a network
// routed to the external network "public", a port with a floating IP from
// the loopback pool, and a load balancer whose VIP is on the subnet.
func Example_network() {
	s, err := openstacktest.NewServer(openstacktest.WithSeed(1), openstacktest.WithLoadBalancerDelay(10*time.Millisecond))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	cloud, err := s.Cloud(ctx)
	if err != nil {
		panic(err)
	}
	nc := cloud.Network

	pages, err := networks.List(nc, networks.ListOpts{Name: openstacktest.ExternalNetwork}).AllPages(ctx)
	if err != nil {
		panic(err)
	}
	public, _ := networks.ExtractNetworks(pages)
	net, err := networks.Create(ctx, nc, networks.CreateOpts{Name: "demo"}).Extract()
	if err != nil {
		panic(err)
	}
	sub, err := subnets.Create(ctx, nc, subnets.CreateOpts{NetworkID: net.ID, CIDR: "10.6.0.0/24", IPVersion: 4}).Extract()
	if err != nil {
		panic(err)
	}
	rt, err := routers.Create(ctx, nc, routers.CreateOpts{Name: "demo", GatewayInfo: &routers.GatewayInfo{NetworkID: public[0].ID}}).Extract()
	if err != nil {
		panic(err)
	}
	if _, err := routers.AddInterface(ctx, nc, rt.ID, routers.AddInterfaceOpts{SubnetID: sub.ID}).Extract(); err != nil {
		panic(err)
	}
	port, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: net.ID, Name: "demo-cp-0"}).Extract()
	if err != nil {
		panic(err)
	}
	fip, err := floatingips.Create(ctx, nc, floatingips.CreateOpts{FloatingNetworkID: public[0].ID, PortID: port.ID}).Extract()
	if err != nil {
		panic(err)
	}
	fmt.Println("gateway", rt.GatewayInfo.ExternalFixedIPs[0].IPAddress)
	fmt.Println("port", port.FixedIPs[0].IPAddress, "floating IP", fip.FloatingIP, fip.Status)

	lb, err := loadbalancers.Create(ctx, cloud.LoadBalancer, loadbalancers.CreateOpts{Name: "demo-api", VipSubnetID: sub.ID}).Extract()
	if err != nil {
		panic(err)
	}
	fmt.Println("load balancer", lb.VipAddress, lb.ProvisioningStatus)
	for lb.ProvisioningStatus != "ACTIVE" {
		time.Sleep(5 * time.Millisecond)
		if lb, err = loadbalancers.Get(ctx, cloud.LoadBalancer, lb.ID).Extract(); err != nil {
			panic(err)
		}
	}
	fmt.Println("load balancer", lb.ProvisioningStatus)
	// Output:
	// gateway 127.42.0.127
	// port 10.6.0.168 floating IP 127.42.0.151 DOWN
	// load balancer 10.6.0.50 PENDING_CREATE
	// load balancer ACTIVE
}
