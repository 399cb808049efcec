package openstacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/attributestags"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsbinding"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/quotas"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// neutronError is the parsed body of a Neutron error answer.
type neutronError struct {
	Status  int
	Type    string
	Message string
}

// asNeutronError extracts status, type and message from a gophercloud error.
func asNeutronError(t *testing.T, err error) neutronError {
	t.Helper()
	var ue gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &ue) {
		t.Fatalf("error %v is not an unexpected response code", err)
	}
	var body struct {
		NeutronError struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"NeutronError"`
	}
	if jerr := json.Unmarshal(ue.Body, &body); jerr != nil {
		t.Fatalf("error body %q is not Neutron's shape: %v", ue.Body, jerr)
	}
	return neutronError{Status: ue.Actual, Type: body.NeutronError.Type, Message: body.NeutronError.Message}
}

// wantNeutronError fails unless err is a Neutron error with status and type.
func wantNeutronError(t *testing.T, err error, status int, typ string) neutronError {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d %s", status, typ)
	}
	ne := asNeutronError(t, err)
	if ne.Status != status || ne.Type != typ {
		t.Fatalf("got %d %s (%s), want %d %s", ne.Status, ne.Type, ne.Message, status, typ)
	}
	return ne
}

// publicNetwork finds the seeded external network.
func publicNetwork(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient) networks.Network {
	t.Helper()
	opts := external.ListOptsExt{ListOptsBuilder: networks.ListOpts{Name: openstacktest.ExternalNetwork}, External: new(bool)}
	*opts.External = true
	pages, err := networks.List(c, opts).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nets, err := networks.ExtractNetworks(pages)
	if err != nil || len(nets) != 1 {
		t.Fatalf("external network %q: %v, %d found", openstacktest.ExternalNetwork, err, len(nets))
	}
	return nets[0]
}

// netFixture is a tenant network with a subnet.
type netFixture struct {
	net networks.Network
	sub subnets.Subnet
}

func makeNet(t *testing.T, ctx context.Context, c *gophercloud.ServiceClient, name, cidr string) netFixture {
	t.Helper()
	n, err := networks.Create(ctx, c, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatalf("create network %s: %v", name, err)
	}
	sub, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: n.ID, Name: name, CIDR: cidr, IPVersion: 4}).Extract()
	if err != nil {
		t.Fatalf("create subnet %s: %v", cidr, err)
	}
	return netFixture{net: *n, sub: *sub}
}

// TestNetworkRoundTrip walks network → subnet → router (gateway and
// interface) → security group and rules → port → floating IP and back,
// and checks that nothing is left behind.
func TestNetworkRoundTrip(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	cloud := e.Cloud(ctx)
	c := cloud.Network
	before := e.Snapshot(ctx)
	pub := publicNetwork(t, ctx, c)
	if !pub.AdminStateUp || pub.Status != "ACTIVE" || len(pub.Subnets) != 1 {
		t.Fatalf("public network: %+v", pub)
	}

	n, err := networks.Create(ctx, c, networks.CreateOpts{Name: "demo-net"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if n.Status != "ACTIVE" || n.ProjectID != cloud.ProjectID || n.TenantID != n.ProjectID || n.CreatedAt.IsZero() {
		t.Errorf("network: %+v", n)
	}
	sub, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.6.0.0/24", IPVersion: 4,
		DNSNameservers: []string{"8.8.8.8"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]subnets.AllocationPool{{Start: "10.6.0.2", End: "10.6.0.254"}}, sub.AllocationPools); diff != "" || sub.GatewayIP != "10.6.0.1" || !sub.EnableDHCP {
		t.Errorf("subnet defaults: gateway %s dhcp %v pools (-want +got):\n%s", sub.GatewayIP, sub.EnableDHCP, diff)
	}
	n, err = networks.Get(ctx, c, n.ID).Extract()
	if err != nil || len(n.Subnets) != 1 || n.Subnets[0] != sub.ID || n.RevisionNumber == 0 {
		t.Errorf("network after subnet: %+v, %v", n, err)
	}

	rt, err := routers.Create(ctx, c, routers.CreateOpts{Name: "demo-router",
		GatewayInfo: &routers.GatewayInfo{NetworkID: pub.ID}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if rt.GatewayInfo.NetworkID != pub.ID || len(rt.GatewayInfo.ExternalFixedIPs) != 1 ||
		!netip.MustParsePrefix("127.42.0.0/24").Contains(netip.MustParseAddr(rt.GatewayInfo.ExternalFixedIPs[0].IPAddress)) {
		t.Errorf("router gateway: %+v", rt.GatewayInfo)
	}
	iface, err := routers.AddInterface(ctx, c, rt.ID, routers.AddInterfaceOpts{SubnetID: sub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	ifPort, err := ports.Get(ctx, c, iface.PortID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if ifPort.DeviceOwner != "network:router_interface" || ifPort.DeviceID != rt.ID || ifPort.FixedIPs[0].IPAddress != "10.6.0.1" {
		t.Errorf("interface port: %+v", ifPort)
	}

	sg, err := groups.Create(ctx, c, groups.CreateOpts{Name: "demo-sg"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if len(sg.Rules) != 2 {
		t.Errorf("new group has %d rules, want the 2 egress rules", len(sg.Rules))
	}
	rule, err := rules.Create(ctx, c, rules.CreateOpts{SecGroupID: sg.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4,
		Protocol: rules.ProtocolTCP, PortRangeMin: 6443, PortRangeMax: 6443, RemoteIPPrefix: "10.0.0.0/8"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if rule.PortRangeMin != 6443 || rule.Protocol != "tcp" || rule.RemoteIPPrefix != "10.0.0.0/8" {
		t.Errorf("rule: %+v", rule)
	}
	if _, err := rules.Create(ctx, c, rules.CreateOpts{SecGroupID: sg.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4,
		RemoteGroupID: sg.ID}).Extract(); err != nil {
		t.Fatal(err)
	}

	port, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: n.ID, Name: "demo-port", SecurityGroups: &[]string{sg.ID},
		AllowedAddressPairs: []ports.AddressPair{{IPAddress: "10.6.0.100"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// Neutron picks the address at random from the pool (TestNetworkIPAM).
	portIP := ""
	if len(port.FixedIPs) == 1 && inPrefix("10.6.0.0/24", port.FixedIPs[0].IPAddress) && port.FixedIPs[0].IPAddress != "10.6.0.1" {
		portIP = port.FixedIPs[0].IPAddress
	}
	if port.Status != "DOWN" || len(port.FixedIPs) != 1 || port.FixedIPs[0].IPAddress != portIP ||
		!strings.HasPrefix(port.MACAddress, "fa:16:3e:") || port.AllowedAddressPairs[0].MACAddress != port.MACAddress {
		t.Errorf("port: %+v", port)
	}

	fip, err := floatingips.Create(ctx, c, floatingips.CreateOpts{FloatingNetworkID: pub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if fip.Status != "DOWN" || fip.PortID != "" || !netip.MustParsePrefix("127.42.0.0/24").Contains(netip.MustParseAddr(fip.FloatingIP)) {
		t.Errorf("new floating IP: %+v", fip)
	}
	fip, err = floatingips.Update(ctx, c, fip.ID, floatingips.UpdateOpts{PortID: &port.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// The update answers before the L3 agent acts: still DOWN. The agent
	// then reports ACTIVE (the local services have none: it stays DOWN).
	if fip.Status != "DOWN" || fip.PortID != port.ID || fip.FixedIP != portIP || fip.RouterID != rt.ID {
		t.Errorf("associated floating IP: %+v", fip)
	}
	associated := "ACTIVE"
	if e.LocalStack() {
		associated = "DOWN" // no L3 agent brings it up
	}
	if got, err := floatingips.Get(ctx, c, fip.ID).Extract(); err != nil || got.Status != associated {
		t.Errorf("associated floating IP read back: %+v, %v; want status %s", got, err, associated)
	}
	// One fixed IP, one floating IP per external network; the gateway stays
	// while a floating IP needs it.
	fip2, err := floatingips.Create(ctx, c, floatingips.CreateOpts{FloatingNetworkID: pub.ID, Description: "second"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, err = floatingips.Update(ctx, c, fip2.ID, floatingips.UpdateOpts{PortID: &port.ID}).Extract()
	wantNeutronError(t, err, 409, "FloatingIPPortAlreadyAssociated")
	_, err = routers.Update(ctx, c, rt.ID, routers.UpdateOpts{GatewayInfo: &routers.GatewayInfo{}}).Extract()
	wantNeutronError(t, err, 409, "RouterExternalGatewayInUseByFloatingIp")
	pages, err := ports.List(c, ports.ListOpts{FixedIPs: []ports.FixedIPOpts{{IPAddress: portIP}}}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps, _ := ports.ExtractPorts(pages); len(ps) != 1 || ps[0].ID != port.ID {
		t.Errorf("ports by fixed IP: %+v", ps)
	}
	// The subnet cannot go while the router interface holds it, nor the
	// interface while a floating IP needs it.
	wantNeutronError(t, subnets.Delete(ctx, c, sub.ID).ExtractErr(), 409, "SubnetInUse")
	wantNeutronError(t, routers.Delete(ctx, c, rt.ID).ExtractErr(), 409, "RouterInUse")
	_, err = routers.RemoveInterface(ctx, c, rt.ID, routers.RemoveInterfaceOpts{SubnetID: sub.ID}).Extract()
	wantNeutronError(t, err, 409, "RouterInterfaceInUseByFloatingIP")
	wantNeutronError(t, groups.Delete(ctx, c, sg.ID).ExtractErr(), 409, "SecurityGroupInUse")
	wantNeutronError(t, networks.Delete(ctx, c, n.ID).ExtractErr(), 409, "NetworkInUse")

	empty := ""
	fip, err = floatingips.Update(ctx, c, fip.ID, floatingips.UpdateOpts{PortID: &empty}).Extract()
	if err != nil || fip.Status != associated || fip.PortID != "" || fip.FixedIP != "" {
		t.Errorf("disassociated floating IP: %+v, %v; want the status from before, %s", fip, err, associated)
	}
	if got, err := floatingips.Get(ctx, c, fip.ID).Extract(); err != nil || got.Status != "DOWN" {
		t.Errorf("disassociated floating IP read back: %+v, %v; want DOWN", got, err)
	}

	// Tear down in dependency order.
	for _, step := range []struct {
		name string
		err  error
	}{
		{"floating IP", floatingips.Delete(ctx, c, fip.ID).ExtractErr()},
		{"second floating IP", floatingips.Delete(ctx, c, fip2.ID).ExtractErr()},
		{"port", ports.Delete(ctx, c, port.ID).ExtractErr()},
		{"group", groups.Delete(ctx, c, sg.ID).ExtractErr()},
		{"interface", func() error {
			_, err := routers.RemoveInterface(ctx, c, rt.ID, routers.RemoveInterfaceOpts{SubnetID: sub.ID}).Extract()
			return err
		}()},
		{"router", routers.Delete(ctx, c, rt.ID).ExtractErr()},
		{"network", networks.Delete(ctx, c, n.ID).ExtractErr()},
	} {
		if step.err != nil {
			t.Fatalf("delete %s: %v", step.name, step.err)
		}
	}
	if _, err := subnets.Get(ctx, c, sub.ID).Extract(); err == nil {
		t.Error("subnet survived its network")
	}
	if diff := cmp.Diff(before, e.Snapshot(ctx)); diff != "" {
		t.Errorf("resources left behind (-before +after):\n%s", diff)
	}
}

// TestNetworkErrors checks each error case against Neutron's status codes
// and exception names.
func TestNetworkErrors(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(testContext(t)).Network
	pub := publicNetwork(t, ctx, c)
	f := makeNet(t, ctx, c, "errs", "10.7.0.0/24")
	rt, err := routers.Create(ctx, c, routers.CreateOpts{Name: "errs", GatewayInfo: &routers.GatewayInfo{NetworkID: pub.ID}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	sg, err := groups.Create(ctx, c, groups.CreateOpts{Name: "errs"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	port, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: f.net.ID, FixedIPs: []ports.IP{{SubnetID: f.sub.ID, IPAddress: "10.7.0.50"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// A second network whose subnet has room for two addresses only.
	small, err := networks.Create(ctx, c, networks.CreateOpts{Name: "small"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: small.ID, CIDR: "10.8.0.0/24", IPVersion: 4,
		AllocationPools: []subnets.AllocationPool{{Start: "10.8.0.10", End: "10.8.0.11"}}}).Extract(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: small.ID}).Extract(); err != nil {
			t.Fatal(err)
		}
	}
	fip, err := floatingips.Create(ctx, c, floatingips.CreateOpts{FloatingNetworkID: pub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := routers.AddInterface(ctx, c, rt.ID, routers.AddInterfaceOpts{SubnetID: f.sub.ID}).Extract(); err != nil {
		t.Fatal(err)
	}
	// An unrouted network for the floating IP reachability check.
	lone := makeNet(t, ctx, c, "lone", "10.9.0.0/24")
	lonePort, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: lone.net.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	tcp := rules.CreateOpts{SecGroupID: sg.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4,
		Protocol: rules.ProtocolTCP, PortRangeMin: 22, PortRangeMax: 22}
	if _, err := rules.Create(ctx, c, tcp).Extract(); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		call   func() error
		status int
		typ    string
		msg    string
	}{
		{"unknown network", func() error { _, err := networks.Get(ctx, c, "nope").Extract(); return err },
			404, "NetworkNotFound", "Network nope could not be found."},
		{"unknown port", func() error { _, err := ports.Get(ctx, c, "nope").Extract(); return err }, 404, "PortNotFound", ""},
		{"unknown security group", func() error { _, err := groups.Get(ctx, c, "nope").Extract(); return err }, 404, "SecurityGroupNotFound", ""},
		{"network with ports", func() error { return networks.Delete(ctx, c, f.net.ID).ExtractErr() }, 409, "NetworkInUse", ""},
		{"subnet with router interface", func() error { return subnets.Delete(ctx, c, f.sub.ID).ExtractErr() }, 409, "SubnetInUse", ""},
		{"router with interfaces", func() error { return routers.Delete(ctx, c, rt.ID).ExtractErr() }, 409, "RouterInUse", ""},
		{"interface twice", func() error {
			_, err := routers.AddInterface(ctx, c, rt.ID, routers.AddInterfaceOpts{SubnetID: f.sub.ID}).Extract()
			return err
		}, 400, "BadRequest", ""},
		{"remove missing interface", func() error {
			_, err := routers.RemoveInterface(ctx, c, rt.ID, routers.RemoveInterfaceOpts{SubnetID: lone.sub.ID}).Extract()
			return err
		}, 404, "RouterInterfaceNotFoundForSubnet", ""},
		{"remove unknown interface port", func() error {
			_, err := routers.RemoveInterface(ctx, c, rt.ID, routers.RemoveInterfaceOpts{PortID: port.ID}).Extract()
			return err
		}, 404, "RouterInterfaceNotFound", ""},
		{"gateway on internal network", func() error {
			_, err := routers.Update(ctx, c, rt.ID, routers.UpdateOpts{GatewayInfo: &routers.GatewayInfo{NetworkID: f.net.ID}}).Extract()
			return err
		}, 400, "BadRequest", ""},
		{"router interface port deleted directly", func() error {
			pages, err := ports.List(c, ports.ListOpts{DeviceID: rt.ID, DeviceOwner: "network:router_interface"}).AllPages(ctx)
			if err != nil {
				return err
			}
			ps, _ := ports.ExtractPorts(pages)
			return ports.Delete(ctx, c, ps[0].ID).ExtractErr()
		}, 409, "ServicePortInUse", ""},
		{"duplicate rule", func() error { _, err := rules.Create(ctx, c, tcp).Extract(); return err },
			409, "SecurityGroupRuleExists", ""},
		{"port range reversed", func() error {
			o := tcp
			o.PortRangeMin, o.PortRangeMax = 90, 80
			_, err := rules.Create(ctx, c, o).Extract()
			return err
		}, 400, "SecurityGroupInvalidPortRange", ""},
		{"port range without protocol", func() error {
			o := tcp
			o.Protocol = ""
			_, err := rules.Create(ctx, c, o).Extract()
			return err
		}, 400, "SecurityGroupProtocolRequiredWithPorts", ""},
		{"prefix and group", func() error {
			o := tcp
			o.RemoteIPPrefix, o.RemoteGroupID, o.PortRangeMin, o.PortRangeMax = "10.0.0.0/8", sg.ID, 23, 23
			_, err := rules.Create(ctx, c, o).Extract()
			return err
		}, 400, "SecurityGroupMultipleRemoteEntites", "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided."},
		{"ethertype against prefix", func() error {
			o := tcp
			o.RemoteIPPrefix, o.PortRangeMin, o.PortRangeMax = "::/0", 24, 24
			_, err := rules.Create(ctx, c, o).Extract()
			return err
		}, 400, "SecurityGroupRuleParameterConflict", ""},
		{"group in use", func() error {
			if _, err := ports.Update(ctx, c, lonePort.ID, ports.UpdateOpts{SecurityGroups: &[]string{sg.ID}}).Extract(); err != nil {
				return err
			}
			return groups.Delete(ctx, c, sg.ID).ExtractErr()
		}, 409, "SecurityGroupInUse", ""},
		{"fixed IP taken", func() error {
			_, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: f.net.ID, FixedIPs: []ports.IP{{SubnetID: f.sub.ID, IPAddress: "10.7.0.50"}}}).Extract()
			return err
		}, 409, "IpAddressAlreadyAllocated", "IP address 10.7.0.50 already allocated in subnet " + f.sub.ID},
		{"fixed IP outside subnet", func() error {
			_, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: f.net.ID, FixedIPs: []ports.IP{{SubnetID: f.sub.ID, IPAddress: "10.99.0.5"}}}).Extract()
			return err
		}, 400, "InvalidIpForSubnet", ""},
		{"addresses exhausted", func() error {
			_, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: small.ID}).Extract()
			return err
		},
			409, "IpAddressGenerationFailure", "No more IP addresses available on network " + small.ID + "."},
		{"floating IP without a router", func() error {
			_, err := floatingips.Update(ctx, c, fip.ID, floatingips.UpdateOpts{PortID: &lonePort.ID}).Extract()
			return err
		}, 404, "ExternalGatewayForFloatingIPNotFound", ""},
		{"floating IP on internal network", func() error {
			_, err := floatingips.Create(ctx, c, floatingips.CreateOpts{FloatingNetworkID: f.net.ID}).Extract()
			return err
		}, 400, "BadRequest", ""},
		{"malformed CIDR", func() error {
			_, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: lone.net.ID, CIDR: "10.1.0.0/33", IPVersion: 4}).Extract()
			return err
		}, 400, "InvalidInput", "Invalid input for operation: 10.1.0.0/33 is not in a CIDR format."},
		{"overlapping subnet", func() error {
			_, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: lone.net.ID, CIDR: "10.9.0.128/25", IPVersion: 4}).Extract()
			return err
		}, 400, "InvalidInput", ""},
		{"pool beyond CIDR", func() error {
			_, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: small.ID, CIDR: "10.10.0.0/24", IPVersion: 4,
				AllocationPools: []subnets.AllocationPool{{Start: "10.10.0.10", End: "10.10.1.10"}}}).Extract()
			return err
		}, 400, "OutOfBoundsAllocationPool", ""},
		{"overlapping pools", func() error {
			_, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: small.ID, CIDR: "10.10.0.0/24", IPVersion: 4,
				AllocationPools: []subnets.AllocationPool{{Start: "10.10.0.10", End: "10.10.0.30"}, {Start: "10.10.0.20", End: "10.10.0.40"}}}).Extract()
			return err
		}, 409, "OverlappingAllocationPools", ""},
		{"gateway in pool", func() error {
			gw := "10.10.0.20"
			_, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: small.ID, CIDR: "10.10.0.0/24", IPVersion: 4, GatewayIP: &gw,
				AllocationPools: []subnets.AllocationPool{{Start: "10.10.0.10", End: "10.10.0.30"}}}).Extract()
			return err
		}, 409, "GatewayConflictWithAllocationPools", ""},
		{"tags on create", func() error {
			_, err := c.Post(ctx, c.ServiceURL("networks"), map[string]any{"network": map[string]any{"name": "x", "tags": []string{"a"}}}, nil, nil)
			return err
		}, 400, "HTTPBadRequest", "Attribute 'tags' not allowed in POST"},
		{"unknown attribute", func() error {
			_, err := c.Post(ctx, c.ServiceURL("networks"), map[string]any{"network": map[string]any{"colour": "red"}}, nil, nil)
			return err
		}, 400, "HTTPBadRequest", "Unrecognized attribute(s) 'colour'"},
		{"unknown filter", func() error {
			_, err := c.Get(ctx, c.ServiceURL("networks")+"?colour=red", nil, nil)
			return err
		}, 400, "HTTPBadRequest", "['colour'] is invalid attribute for filtering"},
		{"default group by a member", func() error {
			pages, err := groups.List(c, groups.ListOpts{Name: "default"}).AllPages(ctx)
			if err != nil {
				return err
			}
			gs, _ := groups.ExtractGroups(pages)
			return groups.Delete(ctx, c, gs[0].ID).ExtractErr()
		}, 409, "SecurityGroupInUse", ""}, // the ports above use it: Neutron checks that first
		{"external network by a member", func() error {
			_, err := networks.Create(ctx, c, external.CreateOptsExt{CreateOptsBuilder: networks.CreateOpts{Name: "x"}, External: new(bool)}).Extract()
			if err != nil {
				return err
			}
			t := true
			_, err = networks.Create(ctx, c, external.CreateOptsExt{CreateOptsBuilder: networks.CreateOpts{Name: "y"}, External: &t}).Extract()
			return err
		}, 403, "PolicyNotAuthorized", "(rule:create_network and rule:create_network:router:external) is disallowed by policy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ne := wantNeutronError(t, tc.call(), tc.status, tc.typ)
			if tc.msg != "" && ne.Message != tc.msg {
				t.Errorf("message %q, want %q", ne.Message, tc.msg)
			}
		})
	}
}

// TestNetworkDefaultSecurityGroup checks the default group Neutron creates
// for a project and its rules.
func TestNetworkDefaultSecurityGroup(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(testContext(t)).Network
	pages, err := groups.List(c, groups.ListOpts{Name: "default"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := groups.ExtractGroups(pages)
	if err != nil || len(gs) != 1 {
		t.Fatalf("default groups: %d, %v", len(gs), err)
	}
	type ruleKey struct{ Dir, Ether, Remote string }
	var got []ruleKey
	for _, r := range gs[0].Rules {
		got = append(got, ruleKey{r.Direction, r.EtherType, r.RemoteGroupID})
	}
	sort.Slice(got, func(i, j int) bool { return fmt.Sprint(got[i]) < fmt.Sprint(got[j]) })
	want := []ruleKey{{"egress", "IPv4", ""}, {"egress", "IPv6", ""}, {"ingress", "IPv4", gs[0].ID}, {"ingress", "IPv6", gs[0].ID}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default rules (-want +got):\n%s", diff)
	}
	// A port without security groups gets the default one.
	f := makeNet(t, ctx, c, "sgdef", "10.11.0.0/24")
	p, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: f.net.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{gs[0].ID}, p.SecurityGroups); diff != "" {
		t.Errorf("port groups (-want +got):\n%s", diff)
	}
}

// TestNetworkTags checks the tags API and the four tag filters.
func TestNetworkTags(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(testContext(t)).Network
	tagsOf := map[string][]string{"a": {"red", "blue"}, "b": {"red"}, "c": {"green"}, "d": nil}
	ids := map[string]string{}
	for name, tags := range tagsOf {
		n, err := networks.Create(ctx, c, networks.CreateOpts{Name: "tag-" + name}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		ids[n.ID] = name
		if tags != nil {
			got, err := attributestags.ReplaceAll(ctx, c, "networks", n.ID, attributestags.ReplaceAllOpts{Tags: tags}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			// The answer is the list as sent, not sorted.
			if diff := cmp.Diff(tags, got); diff != "" {
				t.Errorf("replace tags (-want +got):\n%s", diff)
			}
		}
	}
	list := func(o networks.ListOpts) []string {
		t.Helper()
		pages, err := networks.List(c, o).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := networks.ExtractNetworks(pages)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range ns {
			if name, ok := ids[n.ID]; ok {
				out = append(out, name)
			}
		}
		sort.Strings(out)
		return out
	}
	for _, tc := range []struct {
		name string
		opts networks.ListOpts
		want []string
	}{
		{"tags all", networks.ListOpts{Tags: "red,blue"}, []string{"a"}},
		{"tags any", networks.ListOpts{TagsAny: "blue,green"}, []string{"a", "c"}},
		{"not tags", networks.ListOpts{NotTags: "red,blue"}, []string{"b", "c", "d"}},
		{"not tags any", networks.ListOpts{NotTagsAny: "red,green"}, []string{"d"}},
		{"name filter", networks.ListOpts{Name: "tag-b"}, []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, list(tc.opts)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	var id string
	for k, v := range ids {
		if v == "d" {
			id = k
		}
	}
	if err := attributestags.Add(ctx, c, "networks", id, "k8s").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if ok, err := attributestags.Confirm(ctx, c, "networks", id, "k8s").Extract(); err != nil || !ok {
		t.Errorf("confirm added tag: %v, %v", ok, err)
	}
	if ok, _ := attributestags.Confirm(ctx, c, "networks", id, "absent").Extract(); ok {
		t.Error("confirm reports an absent tag")
	}
	wantNeutronError(t, attributestags.Delete(ctx, c, "networks", id, "absent").ExtractErr(), 404, "TagNotFound")
	if err := attributestags.Delete(ctx, c, "networks", id, "k8s").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if got, err := attributestags.List(ctx, c, "networks", id).Extract(); err != nil || len(got) != 0 {
		t.Errorf("tags after delete: %v, %v", got, err)
	}
	// Tags work on the other taggable collections too.
	sg, err := groups.Create(ctx, c, groups.CreateOpts{Name: "tagged"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if err := attributestags.Add(ctx, c, "security-groups", sg.ID, "openstrap-cluster=demo").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	pages, err := groups.List(c, groups.ListOpts{Tags: "openstrap-cluster=demo"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gs, _ := groups.ExtractGroups(pages); len(gs) != 1 || gs[0].ID != sg.ID {
		t.Errorf("groups by tag: %+v", gs)
	}
}

// TestNetworkPagination pages through networks with limit and marker.
func TestNetworkPagination(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx).Network
	name := e.Name("page")
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		n, err := networks.Create(ctx, c, networks.CreateOpts{Name: name}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = networks.Delete(context.Background(), c, n.ID).ExtractErr() })
		want[n.ID] = true
	}
	if sim := e.Sim(); sim != nil {
		sim.ResetCalls()
	}
	pagesSeen := 0
	got := map[string]bool{}
	err := networks.List(c, networks.ListOpts{Name: name, Limit: 3}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		ns, err := networks.ExtractNetworks(p)
		if err != nil {
			return false, err
		}
		if len(ns) > 3 {
			t.Errorf("page of %d networks with limit 3", len(ns))
		}
		pagesSeen++
		for _, n := range ns {
			if got[n.ID] {
				t.Errorf("network %s on two pages", n.ID)
			}
			got[n.ID] = true
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 7 networks by that name: pages of 3, 3 and 1.
	if pagesSeen != 3 || len(got) != 7 {
		t.Errorf("%d pages, %d networks; want 3 pages, 7 networks", pagesSeen, len(got))
	}
	for id := range want {
		if !got[id] {
			t.Errorf("network %s missing from the pages", id)
		}
	}
	if sim := e.Sim(); sim != nil {
		if n := sim.Calls()["GET /network/v2.0/networks"]; n != 3 {
			t.Errorf("%d list calls, want 3", n)
		}
	}
	// fields= keeps only the named attributes.
	var raw struct {
		Networks []map[string]any `json:"networks"`
	}
	if _, err := c.Get(ctx, c.ServiceURL("networks")+"?fields=id&fields=name&limit=1&name="+name, &raw, nil); err != nil {
		t.Fatal(err)
	}
	if len(raw.Networks) != 1 || len(raw.Networks[0]) != 2 || raw.Networks[0]["name"] != name {
		t.Errorf("fields=id,name: %v", raw.Networks)
	}
}

// TestNetworkQuotas checks quota reads, updates and the OverQuota answer.
func TestNetworkQuotas(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	member := e.Cloud(ctx)
	c, admin := member.Network, e.AdminCloud(ctx).Network
	project := member.ProjectID
	q, err := quotas.Get(ctx, c, project).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if !e.IsReal() && (q.Network != 100 || q.Port != 500 || q.Router != 10 || q.FloatingIP != 50 || q.SecurityGroup != 10 || q.SecurityGroupRule != 100) {
		t.Errorf("the simulator's default quotas: %+v", q)
	}
	before, err := quotas.GetDetail(ctx, c, project).Extract()
	if err != nil {
		t.Fatal(err)
	}
	limit := before.Network.Used + 2
	if _, err := quotas.Update(ctx, c, project, quotas.UpdateOpts{Network: &limit}).Extract(); err == nil {
		t.Error("a member changed its own quota")
	}
	if _, err := quotas.Update(ctx, admin, project, quotas.UpdateOpts{Network: &limit}).Extract(); err != nil {
		t.Fatal(err)
	}
	reset := false
	t.Cleanup(func() {
		if !reset {
			_ = quotas.Delete(context.Background(), admin, project).ExtractErr()
		}
	})
	name := e.Name("q")
	for i := 0; i < 2; i++ {
		n, err := networks.Create(ctx, c, networks.CreateOpts{Name: name}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = networks.Delete(context.Background(), c, n.ID).ExtractErr() })
	}
	_, err = networks.Create(ctx, c, networks.CreateOpts{Name: name}).Extract()
	ne := wantNeutronError(t, err, 409, "OverQuota")
	if ne.Message != "Quota exceeded for resources: ['network']." {
		t.Errorf("message %q", ne.Message)
	}
	d, err := quotas.GetDetail(ctx, c, project).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if d.Network.Used != limit || d.Network.Limit != limit || d.SecurityGroup.Used < 1 || d.SecurityGroupRule.Used < 4 {
		t.Errorf("quota details: %+v, want %d networks used of %d, the default group and its rules", d, limit, limit)
	}
	if !e.IsReal() && (d.SecurityGroup.Used != 1 || d.SecurityGroupRule.Used != 4) {
		t.Errorf("the simulator's fresh project: %+v", d)
	}
	// Deleting the project's quotas brings back the defaults.
	if err := quotas.Delete(ctx, admin, project).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	reset = true
	if got, err := quotas.Get(ctx, c, project).Extract(); err != nil || got.Network != q.Network {
		t.Errorf("after quota reset: %+v, %v; want %d networks", got, err, q.Network)
	}
	n, err := networks.Create(ctx, c, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatalf("after quota reset: %v", err)
	}
	t.Cleanup(func() { _ = networks.Delete(context.Background(), c, n.ID).ExtractErr() })
}

// TestNetworkConcurrentPorts creates many ports on one subnet at once: no
// address or MAC may be handed out twice.
func TestNetworkConcurrentPorts(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(testContext(t)).Network
	f := makeNet(t, ctx, c, "conc", "10.12.0.0/24")
	const workers, each = 16, 5
	var mu sync.Mutex
	ips, macs := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				p, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: f.net.ID}).Extract()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				ips[p.FixedIPs[0].IPAddress]++
				macs[p.MACAddress]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(ips) != workers*each || len(macs) != workers*each {
		t.Errorf("%d distinct addresses and %d distinct MACs for %d ports", len(ips), len(macs), workers*each)
	}
	pages, err := ports.List(c, ports.ListOpts{NetworkID: f.net.ID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps, _ := ports.ExtractPorts(pages); len(ps) != workers*each {
		t.Errorf("%d ports listed, want %d", len(ps), workers*each)
	}
}

// TestNetworkPortBinding checks binding fields: an admin binds a port to a
// host and it becomes ACTIVE; members do not see the admin-only fields.
func TestNetworkPortBinding(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(testContext(t)).Network
	admin := e.AdminCloud(testContext(t)).Network
	f := makeNet(t, ctx, c, "bind", "10.13.0.0/24")
	p, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: f.net.ID, DeviceID: "vm-1", DeviceOwner: "compute:nova"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != "DOWN" {
		t.Errorf("unbound port status %s", p.Status)
	}
	var bound struct {
		ports.Port
		portsbinding.PortsBindingExt
	}
	if err := ports.Update(ctx, admin, p.ID, portsbinding.UpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{},
		HostID: new(string)}).ExtractInto(&bound); err != nil {
		t.Fatal(err)
	}
	host := "compute-1"
	if err := ports.Update(ctx, admin, p.ID, portsbinding.UpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{},
		HostID: &host}).ExtractInto(&bound); err != nil {
		t.Fatal(err)
	}
	if bound.Status != "ACTIVE" || bound.HostID != host || bound.VIFType != "ovs" || bound.VNICType != "normal" {
		t.Errorf("bound port: status %s host %q vif %q vnic %q", bound.Status, bound.HostID, bound.VIFType, bound.VNICType)
	}
	var raw struct {
		Port map[string]any `json:"port"`
	}
	if _, err := c.Get(ctx, c.ServiceURL("ports", p.ID), &raw, nil); err != nil {
		t.Fatal(err)
	}
	if _, seen := raw.Port["binding:host_id"]; seen || raw.Port["status"] != "ACTIVE" || raw.Port["binding:vnic_type"] != "normal" {
		t.Errorf("member view of a bound port: %v", raw.Port)
	}
	// A member may not bind.
	_, err = ports.Update(ctx, c, p.ID, portsbinding.UpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{}, HostID: &host}).Extract()
	if ne := wantNeutronError(t, err, 403, "PolicyNotAuthorized"); ne.Message != "(rule:update_port and rule:update_port:binding:host_id) is disallowed by policy" {
		t.Errorf("message %q", ne.Message)
	}
}

// TestNetworkStateSurvivesRestart keeps the state in a directory and starts
// a second server on it: resources and address allocations survive.
func TestNetworkStateSurvivesRestart(t *testing.T) {
	cloudtest.RequireSim(t, cloudtest.NeedsSimFeature)
	dir := t.TempDir()
	ctx := testContext(t)
	s1, err := openstacktest.NewServer(openstacktest.WithStateDir(dir), openstacktest.WithLoadBalancerDelay(0))
	if err != nil {
		t.Fatal(err)
	}
	cloud := memberCloud(t, s1)
	f := makeNet(t, ctx, cloud.Network, "keep", "10.14.0.0/24")
	p1, err := ports.Create(ctx, cloud.Network, ports.CreateOpts{NetworkID: f.net.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	lb, err := loadbalancers.Create(ctx, cloud.LoadBalancer, loadbalancers.CreateOpts{Name: "keep", VipSubnetID: f.sub.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, ctx, cloud.LoadBalancer, lb.ID)
	before := s1.Snapshot()
	s1.Close()

	s2 := openstacktest.NewTestServer(t, openstacktest.WithStateDir(dir))
	if diff := cmp.Diff(before, s2.Snapshot()); diff != "" {
		t.Errorf("state after restart (-before +after):\n%s", diff)
	}
	cloud = memberCloud(t, s2)
	if got, err := ports.Get(ctx, cloud.Network, p1.ID).Extract(); err != nil || got.FixedIPs[0].IPAddress != p1.FixedIPs[0].IPAddress {
		t.Errorf("port after restart: %+v, %v", got, err)
	}
	p2, err := ports.Create(ctx, cloud.Network, ports.CreateOpts{NetworkID: f.net.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if p2.FixedIPs[0].IPAddress == p1.FixedIPs[0].IPAddress || p2.FixedIPs[0].IPAddress == lb.VipAddress {
		t.Errorf("address %s handed out twice after restart", p2.FixedIPs[0].IPAddress)
	}
}

// BenchmarkNetworkCreateList measures a create/list mix over HTTP: each
// iteration creates a port, gets its network, reads the first page of the
// network's ports and lists the default security group: 4 requests.
func BenchmarkNetworkCreateList(b *testing.B) {
	s := openstacktest.NewTestServer(b)
	ctx := context.Background()
	c, err := s.Cloud(ctx)
	if err != nil {
		b.Fatal(err)
	}
	nc := c.Network
	n, err := networks.Create(ctx, nc, networks.CreateOpts{Name: "bench"}).Extract()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := subnets.Create(ctx, nc, subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.100.0.0/16", IPVersion: 4}).Extract(); err != nil {
		b.Fatal(err)
	}
	admin := adminCloud(b, s)
	unlimited := -1
	if _, err := quotas.Update(ctx, admin.Network, openstacktest.MemberProjectID, quotas.UpdateOpts{Port: &unlimited}).Extract(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	reqs := 0
	for i := 0; i < b.N; i++ {
		if _, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID}).Extract(); err != nil {
			b.Fatal(err)
		}
		if _, err := networks.Get(ctx, nc, n.ID).Extract(); err != nil {
			b.Fatal(err)
		}
		// One page: what a caller looking for its own port reads.
		if err := ports.List(nc, ports.ListOpts{NetworkID: n.ID, Limit: 20}).EachPage(ctx, func(context.Context, pagination.Page) (bool, error) {
			return false, nil
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := groups.List(nc, groups.ListOpts{Name: "default"}).AllPages(ctx); err != nil {
			b.Fatal(err)
		}
		reqs += 4
	}
	b.ReportMetric(float64(reqs)/time.Since(start).Seconds(), "req/s")
}

// TestNetworkFloatingIPPool checks that floating IPs come from the
// configured pool until it runs out.
func TestNetworkFloatingIPPool(t *testing.T) {
	cloudtest.RequireSim(t, cloudtest.NeedsSimFeature)
	s := openstacktest.NewTestServer(t, openstacktest.WithFloatingIPPool("127.50.0.0/29"))
	ctx := testContext(t)
	c := memberCloud(t, s).Network
	pub := publicNetwork(t, ctx, c)
	var got []string
	for i := 0; i < 5; i++ {
		fip, err := floatingips.Create(ctx, c, floatingips.CreateOpts{FloatingNetworkID: pub.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fip.FloatingIP)
	}
	sort.Strings(got)
	want := []string{"127.50.0.2", "127.50.0.3", "127.50.0.4", "127.50.0.5", "127.50.0.6"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("floating IPs (-want +got):\n%s", diff)
	}
	_, err := floatingips.Create(ctx, c, floatingips.CreateOpts{FloatingNetworkID: pub.ID}).Extract()
	wantNeutronError(t, err, 400, "ExternalIpAddressExhausted")
}

// TestNetworkRouterInterfaceByPort attaches a router through a port the
// user made and detaches it again, which deletes the port.
func TestNetworkRouterInterfaceByPort(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(testContext(t)).Network
	f := makeNet(t, ctx, c, "ifport", "10.15.0.0/24")
	rt, err := routers.Create(ctx, c, routers.CreateOpts{Name: "ifport"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if rt.GatewayInfo.NetworkID != "" || rt.Status != "ACTIVE" {
		t.Errorf("router without gateway: %+v", rt)
	}
	p, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: f.net.ID, FixedIPs: []ports.IP{{SubnetID: f.sub.ID, IPAddress: "10.15.0.254"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	info, err := routers.AddInterface(ctx, c, rt.ID, routers.AddInterfaceOpts{PortID: p.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if info.PortID != p.ID || info.SubnetID != f.sub.ID || info.ID != rt.ID {
		t.Errorf("interface info: %+v", info)
	}
	got, err := ports.Get(ctx, c, p.ID).Extract()
	wantStatus := "ACTIVE"
	if e.LocalStack() {
		wantStatus = "DOWN" // no L3 agent brings it up
	}
	if err != nil || got.DeviceOwner != "network:router_interface" || got.DeviceID != rt.ID || got.Status != wantStatus {
		t.Errorf("interface port: %+v, %v", got, err)
	}
	// The same port cannot be attached twice, nor a second interface on
	// the subnet.
	_, err = routers.AddInterface(ctx, c, rt.ID, routers.AddInterfaceOpts{PortID: p.ID}).Extract()
	wantNeutronError(t, err, 409, "PortInUse")
	_, err = routers.AddInterface(ctx, c, rt.ID, routers.AddInterfaceOpts{SubnetID: f.sub.ID}).Extract()
	wantNeutronError(t, err, 400, "BadRequest")

	if _, err := routers.RemoveInterface(ctx, c, rt.ID, routers.RemoveInterfaceOpts{PortID: p.ID}).Extract(); err != nil {
		t.Fatal(err)
	}
	if _, err := ports.Get(ctx, c, p.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("interface port after removal: %v, want 404", err)
	}
	if err := routers.Delete(ctx, c, rt.ID).ExtractErr(); err != nil {
		t.Errorf("delete router without interfaces: %v", err)
	}
}

// TestNetworkDualStack gives a port one address from each IP version when
// its network has an IPv4 and an IPv6 subnet.
func TestNetworkDualStack(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(testContext(t)).Network
	f := makeNet(t, ctx, c, "dual", "10.16.0.0/24")
	v6, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: f.net.ID, CIDR: "fd00:16::/64", IPVersion: 6}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// The default IPv6 gateway is the Subnet-Router anycast address.
	if v6.GatewayIP != "fd00:16::" || v6.AllocationPools[0].Start != "fd00:16::1" || v6.AllocationPools[0].End != "fd00:16::ffff:ffff:ffff:ffff" {
		t.Errorf("IPv6 subnet: gateway %s pools %+v", v6.GatewayIP, v6.AllocationPools)
	}
	p, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: f.net.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range p.FixedIPs {
		got = append(got, ip.IPAddress)
	}
	if len(got) != 2 || !inPrefix("10.16.0.0/24", got[0]) || !inPrefix("fd00:16::/64", got[1]) || got[0] == "10.16.0.1" || got[1] == "fd00:16::" {
		t.Errorf("dual-stack port addresses %v, want one from each pool, not a gateway", got)
	}
	_, err = subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: f.net.ID, CIDR: "fd00:17::/64", IPVersion: 4}).Extract()
	wantNeutronError(t, err, 400, "InvalidInput")
}

// inPrefix reports whether addr lies in the prefix.
func inPrefix(prefix, addr string) bool {
	a, err := netip.ParseAddr(addr)
	return err == nil && netip.MustParsePrefix(prefix).Contains(a)
}

// TestNetworkSubnetCIDRForms pins how Neutron reads a subnet's cidr: trailing
// zero octets may be left out and host bits are cleared (checked on Zed).
func TestNetworkSubnetCIDRForms(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx).Network
	n, err := networks.Create(ctx, c, networks.CreateOpts{Name: "cidr-forms"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"10.31.0/24", "10.31.0.0/24"},
		{"10.32/16", "10.32.0.0/16"},
		{"10.33.0.1/24", "10.33.0.0/24"},
	} {
		sn, err := subnets.Create(ctx, c, subnets.CreateOpts{NetworkID: n.ID, CIDR: tc.in, IPVersion: 4}).Extract()
		if err != nil {
			t.Errorf("cidr %s: %v", tc.in, err)
			continue
		}
		if sn.CIDR != tc.want {
			t.Errorf("cidr %s stored as %s, want %s", tc.in, sn.CIDR, tc.want)
		}
	}
	if err := networks.Delete(ctx, c, n.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
}

// TestNetworkIPAM pins how Neutron's IPAM (neutrondb_ipam) picks a port's
// address: DHCP ports take the first free address of the pool, other ports
// one at random among the first free ones.
func TestNetworkIPAM(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx).Network
	f := makeNet(t, ctx, c, e.Name("ipam"), "10.17.0.0/24")
	create := func(owner string) string {
		t.Helper()
		p, err := ports.Create(ctx, c, ports.CreateOpts{NetworkID: f.net.ID, DeviceOwner: owner}).Extract()
		if err != nil {
			t.Fatalf("create port (owner %q): %v", owner, err)
		}
		t.Cleanup(func() { _ = ports.Delete(context.Background(), c, p.ID).ExtractErr() })
		if len(p.FixedIPs) != 1 {
			t.Fatalf("port fixed IPs %+v", p.FixedIPs)
		}
		return p.FixedIPs[0].IPAddress
	}
	taken := map[string]bool{}
	if ip := create("network:dhcp"); ip != "10.17.0.2" {
		t.Errorf("first DHCP port got %s, want the pool's first address 10.17.0.2", ip)
	}
	taken["10.17.0.2"] = true
	var picked []string
	for range 6 {
		ip := create("")
		a := netip.MustParseAddr(ip)
		if taken[ip] || !inPrefix("10.17.0.0/24", ip) || a.Less(netip.MustParseAddr("10.17.0.2")) || a == netip.MustParseAddr("10.17.0.255") {
			t.Errorf("port got %s: taken already, or outside the pool 10.17.0.2-10.17.0.254", ip)
		}
		taken[ip] = true
		picked = append(picked, ip)
	}
	if diff := cmp.Diff([]string{"10.17.0.3", "10.17.0.4", "10.17.0.5", "10.17.0.6", "10.17.0.7", "10.17.0.8"}, picked); diff == "" {
		t.Errorf("six ports got the next free addresses in order %v; Neutron picks at random", picked)
	}
	first := ""
	for a := netip.MustParseAddr("10.17.0.2"); ; a = a.Next() {
		if !taken[a.String()] {
			first = a.String()
			break
		}
	}
	if ip := create("network:dhcp"); ip != first {
		t.Errorf("second DHCP port got %s, want the first free address %s", ip, first)
	}
}
