package infra_test

import (
	"context"
	"slices"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

func getSubnet(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, id string) *subnets.Subnet {
	t.Helper()
	x, err := subnets.Get(ctx, c, id).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func getRouter(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, id string) *routers.Router {
	t.Helper()
	x, err := routers.Get(ctx, c, id).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func getGroup(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, id string) *groups.SecGroup {
	t.Helper()
	x, err := groups.Get(ctx, c, id).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func getFIP(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, id string) *floatingips.FloatingIP {
	t.Helper()
	x, err := floatingips.Get(ctx, c, id).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func routerHasSubnet(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, routerID, subnetID string) bool {
	t.Helper()
	pages, err := ports.List(c, ports.ListOpts{DeviceID: routerID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ports.ExtractPorts(pages)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(ps, func(p ports.Port) bool {
		return slices.ContainsFunc(p.FixedIPs, func(ip ports.IP) bool { return ip.SubnetID == subnetID })
	})
}

func createNetwork(t *testing.T, c *gophercloud.ServiceClient, name string) *networks.Network {
	t.Helper()
	n, err := networks.Create(context.Background(), c, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func createSubnet(t *testing.T, c *gophercloud.ServiceClient, networkID, name, cidr string) *subnets.Subnet {
	t.Helper()
	s, err := subnets.Create(context.Background(), c, subnets.CreateOpts{NetworkID: networkID, Name: name, CIDR: cidr, IPVersion: 4}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
