package openstacktest

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNetworkInternalPortAPI exercises the port API the compute and load
// balancer sides call: creation with IPAM and the default group, binding,
// PortInUse, lookup with floating IPs, deletion.
func TestNetworkInternalPortAPI(t *testing.T) {
	s := NewTestServer(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.nst()

	var public *netNetwork
	for _, n := range ns.Networks {
		if n.Name == ExternalNetwork {
			public = n
		}
	}
	if public == nil || !public.External || len(public.Subnets) != 1 {
		t.Fatalf("seeded external network: %+v", public)
	}
	pubSub := ns.Subnets[public.Subnets[0]]
	if pubSub.CIDR != "127.42.0.0/24" || pubSub.GatewayIP != "127.42.0.1" ||
		!cmp.Equal(pubSub.Pools, []ipRange{{Start: "127.42.0.2", End: "127.42.0.254"}}) {
		t.Errorf("seeded external subnet: %+v", pubSub)
	}

	// A tenant network with a subnet, made directly in the state.
	net := &netNetwork{AdminStateUp: true, PortSecurityEnabled: true, Subnets: []string{}}
	net.init(s, s.newID(), MemberProjectID)
	net.Name = "internal"
	ns.Networks[net.ID] = net
	sub := &netSubnet{NetworkID: net.ID, CIDR: "10.30.0.0/29", IPVersion: 4, GatewayIP: "10.30.0.1", Allocated: map[string]string{}}
	sub.init(s, s.newID(), MemberProjectID)
	sub.Pools = []ipRange{{Start: "10.30.0.2", End: "10.30.0.6"}}
	ns.Subnets[sub.ID] = sub
	net.Subnets = append(net.Subnets, sub.ID)

	if _, e := s.netCreatePort(portSpec{ProjectID: MemberProjectID, NetworkID: "missing"}); e == nil || e.Status != 404 || e.Type != "NetworkNotFound" {
		t.Errorf("unknown network: %v", e)
	}
	if _, e := s.netCreatePort(portSpec{ProjectID: MemberProjectID, NetworkID: public.ID}); e == nil || e.Status != 403 {
		t.Errorf("port on another project's external network: %v", e)
	}

	pi, e := s.netCreatePort(portSpec{ProjectID: MemberProjectID, NetworkID: net.ID, Name: "vm0", DeviceID: "server-1", DeviceOwner: "compute:nova"})
	if e != nil {
		t.Fatal(e)
	}
	// Neutron's IPAM picks at random from the pool.
	vm0IP := ""
	if len(pi.FixedIPs) == 1 && ipInPools(sub.Pools, netip.MustParseAddr(pi.FixedIPs[0])) {
		vm0IP = pi.FixedIPs[0]
	}
	claim := "10.30.0.5"
	if vm0IP == claim {
		claim = "10.30.0.6"
	}
	if vm0IP == "" || pi.NetworkName != "internal" || pi.DeviceID != "server-1" {
		t.Errorf("created port: %+v", pi)
	}
	p := ns.Ports[pi.ID]
	def, _ := s.netSecurityGroupID(MemberProjectID, "default")
	if !cmp.Equal(p.SecurityGroups, []string{def}) || s.portStatus(p) != "ACTIVE" {
		t.Errorf("Nova port: groups %v status %s", p.SecurityGroups, s.portStatus(p))
	}

	fixed, e := s.netCreatePort(portSpec{ProjectID: MemberProjectID, NetworkID: net.ID,
		FixedIPs: []fixedIPSpec{{IPAddress: claim}}, SecurityGroups: []string{}})
	if e != nil {
		t.Fatal(e)
	}
	if !cmp.Equal(fixed.FixedIPs, []string{claim}) || len(ns.Ports[fixed.ID].SecurityGroups) != 0 || s.portStatus(ns.Ports[fixed.ID]) != "DOWN" {
		t.Errorf("port with a fixed IP: %+v", ns.Ports[fixed.ID])
	}
	if _, e := s.netCreatePort(portSpec{ProjectID: MemberProjectID, NetworkID: net.ID, FixedIPs: []fixedIPSpec{{IPAddress: claim}}}); e == nil || e.Type != "IpAddressAlreadyAllocated" {
		t.Errorf("taken address: %v", e)
	}

	if e := s.netBindPort(fixed.ID, "server-2", "compute:nova"); e != nil {
		t.Fatal(e)
	}
	if s.portStatus(ns.Ports[fixed.ID]) != "ACTIVE" {
		t.Error("bound port is not ACTIVE")
	}
	if e := s.netBindPort(fixed.ID, "server-3", "compute:nova"); e == nil || e.Status != 409 || e.Type != "PortInUse" {
		t.Errorf("binding a bound port: %v", e)
	}
	s.netUnbindPort(fixed.ID)
	if got, _ := s.netPort(fixed.ID); got.DeviceID != "" || s.portStatus(ns.Ports[fixed.ID]) != "DOWN" {
		t.Errorf("unbound port: %+v", got)
	}

	// A floating IP on the first port shows in netPort and goes when the
	// port is deleted.
	fip := &netFloatingIP{FloatingNetworkID: public.ID, FloatingIP: "127.42.0.9", AssocPortID: pi.ID, FixedIP: vm0IP}
	fip.init(s, s.newID(), MemberProjectID)
	ns.FloatingIPs[fip.ID] = fip
	if got, ok := s.netPort(pi.ID); !ok || !cmp.Equal(got.FloatingIPs, []string{"127.42.0.9"}) {
		t.Errorf("port floating IPs: %+v", got)
	}
	s.netDeletePort(pi.ID)
	if _, ok := s.netPort(pi.ID); ok || fip.AssocPortID != "" || fip.FixedIP != "" {
		t.Errorf("after delete: floating IP %+v", fip)
	}
	if _, used := sub.Allocated[vm0IP]; used {
		t.Error("deleted port's address still allocated")
	}

	if id, ok := s.netSubnetNetwork(sub.ID); !ok || id != net.ID {
		t.Errorf("subnet network: %s %v", id, ok)
	}
	if _, e := s.netSecurityGroupID(MemberProjectID, "absent"); e == nil || e.Status != 404 {
		t.Errorf("unknown group: %v", e)
	}

	// Exhaustion: the pool has five addresses, one is taken.
	for i := 0; i < 4; i++ {
		if _, e := s.netCreatePort(portSpec{ProjectID: MemberProjectID, NetworkID: net.ID}); e != nil {
			t.Fatalf("port %d: %v", i, e)
		}
	}
	if _, e := s.netCreatePort(portSpec{ProjectID: MemberProjectID, NetworkID: net.ID}); e == nil || e.Type != "IpAddressGenerationFailure" {
		t.Errorf("exhausted subnet: %v", e)
	}
}

// TestIPHelpers checks the address arithmetic behind IPAM.
func TestIPHelpers(t *testing.T) {
	for _, tc := range []struct {
		cidr, gw string
		want     []ipRange
	}{
		{"10.0.0.0/24", "10.0.0.1", []ipRange{{"10.0.0.2", "10.0.0.254"}}},
		{"10.0.0.0/24", "10.0.0.100", []ipRange{{"10.0.0.1", "10.0.0.99"}, {"10.0.0.101", "10.0.0.254"}}},
		{"10.0.0.0/24", "", []ipRange{{"10.0.0.1", "10.0.0.254"}}},
		{"10.0.0.0/30", "10.0.0.1", []ipRange{{"10.0.0.2", "10.0.0.2"}}},
		{"fd00::/64", "fd00::1", []ipRange{{"fd00::2", "fd00::ffff:ffff:ffff:ffff"}}},
	} {
		var gw netip.Addr
		if tc.gw != "" {
			gw = netip.MustParseAddr(tc.gw)
		}
		got := ipDefaultPools(netip.MustParsePrefix(tc.cidr), gw)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s gateway %q (-want +got):\n%s", tc.cidr, tc.gw, diff)
		}
	}
}

// TestNetworkPortUpdateKeepsAddressesOnFailure checks that a fixed_ips
// update that cannot be satisfied leaves the port's addresses allocated.
func TestNetworkPortUpdateKeepsAddressesOnFailure(t *testing.T) {
	s := NewTestServer(t)
	s.mu.Lock()
	ns := s.nst()
	net := &netNetwork{AdminStateUp: true, PortSecurityEnabled: true}
	net.init(s, s.newID(), MemberProjectID)
	ns.Networks[net.ID] = net
	sub := &netSubnet{NetworkID: net.ID, CIDR: "10.31.0.0/29", IPVersion: 4, GatewayIP: "10.31.0.1", Allocated: map[string]string{}}
	sub.init(s, s.newID(), MemberProjectID)
	sub.Pools = []ipRange{{Start: "10.31.0.2", End: "10.31.0.3"}}
	ns.Subnets[sub.ID] = sub
	net.Subnets = []string{sub.ID}
	a, e := s.netCreatePort(portSpec{ProjectID: MemberProjectID, NetworkID: net.ID})
	if e != nil {
		t.Fatal(e)
	}
	if _, e := s.netCreatePort(portSpec{ProjectID: MemberProjectID, NetworkID: net.ID}); e != nil {
		t.Fatal(e)
	}
	s.mu.Unlock()

	// Keep the address and ask for one more from a full pool: 409, and the
	// kept address must stay allocated to the port.
	body := `{"port": {"fixed_ips": [{"ip_address": "` + a.FixedIPs[0] + `"}, {"subnet_id": "` + sub.ID + `"}]}}`
	tok := &token{ProjectID: MemberProjectID, Roles: []string{"member"}}
	req := httptest.NewRequest(http.MethodPut, "/network/v2.0/ports/"+a.ID, strings.NewReader(body))
	req.SetPathValue("id", a.ID)
	rec := httptest.NewRecorder()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updatePort(rec, req, tok)
	if rec.Code != http.StatusConflict {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}
	if sub.Allocated[a.FixedIPs[0]] != a.ID {
		t.Errorf("address %s lost by a failed update: %v", a.FixedIPs[0], sub.Allocated)
	}
}
