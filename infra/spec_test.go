package infra

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/provider"
)

func TestSpecDefault(t *testing.T) {
	s := Spec{Cluster: "demo", ExternalNetwork: "public"}
	s.Default()
	want := Spec{
		Cluster: "demo", ExternalNetwork: "public", NodeCIDR: "10.6.0.0/24",
		APIServer:      APIServer{Port: 6443, AllowedCIDRs: []string{"0.0.0.0/0"}},
		SecurityGroups: SecurityGroups{CNIRules: DefaultCNIRules()},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Default() mismatch (-want +got):\n%s", diff)
	}
	// An explicit empty CNI rule list stays empty; a BYO network keeps no
	// default CIDR.
	s = Spec{Cluster: "demo", Network: Ref{ID: "n"}, SecurityGroups: SecurityGroups{CNIRules: []Rule{}, NodePorts: true}}
	s.Default()
	if s.NodeCIDR != "" || len(s.SecurityGroups.CNIRules) != 0 || !cmp.Equal(s.SecurityGroups.NodePortCIDRs, []string{"0.0.0.0/0"}) {
		t.Errorf("Default() = %+v", s)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Spec)
		field  string // "" when valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"internal-only", func(s *Spec) { s.ExternalNetwork = ""; s.APIServer.DisableFloatingIP = true }, ""},
		{"empty cluster", func(s *Spec) { s.Cluster = "" }, "Cluster"},
		{"upper-case cluster", func(s *Spec) { s.Cluster = "Demo" }, "Cluster"},
		{"cluster ends with dash", func(s *Spec) { s.Cluster = "demo-" }, "Cluster"},
		{"long cluster", func(s *Spec) { s.Cluster = strings.Repeat("a", 41) }, "Cluster"},
		{"bad CIDR", func(s *Spec) { s.NodeCIDR = "10.6.0.0/33" }, "NodeCIDR"},
		{"host bits", func(s *Spec) { s.NodeCIDR = "10.6.0.1/24" }, "NodeCIDR"},
		{"IPv6 CIDR", func(s *Spec) { s.NodeCIDR = "fd00::/64" }, "NodeCIDR"},
		{"tiny CIDR", func(s *Spec) { s.NodeCIDR = "10.6.0.0/30" }, "NodeCIDR"},
		{"bad nameserver", func(s *Spec) { s.DNSNameservers = []string{"8.8.8.8", "dns"} }, "DNSNameservers[1]"},
		{"bad MTU", func(s *Spec) { s.MTU = 20 }, "MTU"},
		{"MTU with BYO network", func(s *Spec) { s.MTU = 1400; s.Network = Ref{ID: "n"} }, "MTU"},
		{"two external selectors", func(s *Spec) { s.ExternalNetworkTags = []string{"a"} }, "ExternalNetworkTags"},
		{"ref with ID and name", func(s *Spec) { s.Network = Ref{ID: "a", Name: "b"} }, "Network"},
		{"subnet without network", func(s *Spec) { s.Subnet = Ref{Name: "s"} }, "Subnet"},
		{"floating IP without external", func(s *Spec) { s.ExternalNetwork = "" }, "ExternalNetwork"},
		{"port 0 after default", func(s *Spec) { s.APIServer.Port = 70000 }, "APIServer.Port"},
		{"allowed CIDR", func(s *Spec) { s.APIServer.AllowedCIDRs = []string{"x"} }, "APIServer.AllowedCIDRs[0]"},
		{"fixed and no FIP", func(s *Spec) { s.APIServer.FloatingIP = "1.2.3.4"; s.APIServer.DisableFloatingIP = true }, "APIServer.FloatingIP"},
		{"bad fixed FIP", func(s *Spec) { s.APIServer.FloatingIP = "1.2.3" }, "APIServer.FloatingIP"},
		{"nodeport CIDR", func(s *Spec) { s.SecurityGroups.NodePortCIDRs = []string{"1.2.3.4"} }, "SecurityGroups.NodePortCIDRs[0]"},
		{"rule direction", func(s *Spec) { s.SecurityGroups.CNIRules = []Rule{{Direction: "in"}} }, "SecurityGroups.CNIRules[0].Direction"},
		{"rule ports without tcp", func(s *Spec) { s.SecurityGroups.CNIRules = []Rule{{Protocol: "icmp", PortMin: 5}} }, "SecurityGroups.CNIRules[0].Protocol"},
		{"rule port range", func(s *Spec) { s.SecurityGroups.CNIRules = []Rule{{Protocol: "tcp", PortMin: 5, PortMax: 4}} }, "SecurityGroups.CNIRules[0].PortMin"},
		{"rule remote both", func(s *Spec) {
			s.SecurityGroups.Extra = map[Role][]Rule{RoleWorker: {{RemoteCIDR: "1.0.0.0/8", RemoteRole: RoleNode}}}
		}, "SecurityGroups.Extra[worker][0].RemoteRole"},
		{"extra unknown role", func(s *Spec) { s.SecurityGroups.Extra = map[Role][]Rule{"db": nil} }, "SecurityGroups.Extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Spec{Cluster: "demo", NodeCIDR: "10.6.0.0/24", ExternalNetwork: "public"}
			tt.mutate(&s)
			s.Default()
			err := s.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error about %s", tt.field)
			}
			if !errors.Is(err, provider.ErrInvalidSpec) {
				t.Errorf("Validate() = %v, does not match provider.ErrInvalidSpec", err)
			}
			if !strings.Contains(err.Error(), "spec: "+tt.field+" ") {
				t.Errorf("Validate() = %q, does not name field %s", err, tt.field)
			}
		})
	}
}

func TestNames(t *testing.T) {
	n := names{cluster: "demo"}
	got := []string{n.network(), n.subnet(), n.router(), n.group(RoleControlPlane), n.group(RoleWorker), n.group(RoleNode), n.loadBalancer()}
	want := []string{"demo-network", "demo-subnet", "demo-router", "demo-control-plane", "demo-worker", "demo-node", "demo-kubeapi"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if OwnerTag("demo") != "openstrap-cluster=demo" {
		t.Errorf("OwnerTag = %q", OwnerTag("demo"))
	}
}
