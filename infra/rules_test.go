package infra

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func keys(rs []desiredRule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.key.String())
	}
	return out
}

func TestDesiredRules(t *testing.T) {
	s := Spec{Cluster: "demo", ExternalNetwork: "public", SecurityGroups: SecurityGroups{
		NodePorts: true,
		Extra:     map[Role][]Rule{RoleWorker: {{Protocol: "TCP", PortMin: 80, RemoteCIDR: "10.0.0.0/8"}}},
	}}
	s.Default()
	got := map[Role][]string{}
	for role, rs := range s.desiredRules() {
		got[role] = keys(rs)
	}
	egress := []string{"egress IPv4 any anywhere", "egress IPv6 any anywhere"}
	want := map[Role][]string{
		RoleControlPlane: append(egress[:2:2],
			"ingress IPv4 tcp 6443-6443 anywhere",
			"ingress IPv4 tcp 6443-6443 10.6.0.0/24",
			"ingress IPv4 tcp 2379-2380 group control-plane",
			"ingress IPv4 tcp 10250-10250 group control-plane",
			"ingress IPv4 tcp 10257-10257 group control-plane",
			"ingress IPv4 tcp 10259-10259 group control-plane"),
		RoleWorker: append(egress[:2:2],
			"ingress IPv4 tcp 10250-10250 group control-plane",
			"ingress IPv4 tcp 30000-32767 anywhere",
			"ingress IPv4 tcp 80-80 10.0.0.0/8"),
		RoleNode: append(egress[:2:2],
			"ingress IPv4 tcp 179-179 group node",
			"ingress IPv4 4 group node",
			"ingress IPv4 udp 4789-4789 group node",
			"ingress IPv4 udp 8472-8472 group node"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("desiredRules (-want +got):\n%s", diff)
	}
}

func TestDesiredRulesDeduplicates(t *testing.T) {
	s := Spec{Cluster: "demo", ExternalNetwork: "public", APIServer: APIServer{AllowedCIDRs: []string{"10.6.0.0/24"}}}
	s.Default()
	n := 0
	for _, r := range s.desiredRules()[RoleControlPlane] {
		if r.key.PortMin == 6443 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d rules for 6443 from the same CIDR, want 1", n)
	}
}

func TestCanonicalRule(t *testing.T) {
	tests := []struct {
		name string
		a, b ruleKey
	}{
		{"protocol number", canonicalRule("ingress", "IPv4", "6", 22, 22, "", ""), canonicalRule("", "", "tcp", 22, 0, "", "")},
		{"any CIDR", canonicalRule("egress", "IPv4", "", 0, 0, "0.0.0.0/0", ""), canonicalRule("egress", "IPv4", "", 0, 0, "", "")},
		{"any IPv6", canonicalRule("egress", "IPv6", "any", 0, 0, "::/0", ""), canonicalRule("egress", "IPv6", "", 0, 0, "", "")},
		{"case", canonicalRule("ingress", "IPv4", "UDP", 1, 2, "", ""), canonicalRule("ingress", "IPv4", "udp", 1, 2, "", "")},
	}
	for _, tt := range tests {
		if tt.a != tt.b {
			t.Errorf("%s: %v != %v", tt.name, tt.a, tt.b)
		}
	}
}

func TestRuleDiff(t *testing.T) {
	ids := map[Role]string{RoleControlPlane: "cp-id", RoleNode: "node-id"}
	desired := []desiredRule{
		{key: Rule{Direction: "egress"}.key()},
		{key: Rule{Protocol: "tcp", PortMin: 2379, PortMax: 2380, RemoteRole: RoleControlPlane}.key()},
		{key: Rule{Protocol: "4", RemoteRole: RoleNode}.key()},
	}
	observed := []observedRule{
		{id: "e", key: canonicalRule("egress", "IPv4", "", 0, 0, "", "")},
		{id: "etcd", key: canonicalRule("ingress", "IPv4", "tcp", 2379, 2380, "", "cp-id")},
		{id: "dup", key: canonicalRule("ingress", "IPv4", "tcp", 2379, 2380, "", "cp-id")},
		{id: "ssh", key: canonicalRule("ingress", "IPv4", "tcp", 22, 22, "0.0.0.0/0", "")},
	}
	missing, foreign := ruleDiff(desired, observed, ids)
	if got := keys(missing); !cmp.Equal(got, []string{"ingress IPv4 4 group node"}) {
		t.Errorf("missing = %v", got)
	}
	var fids []string
	for _, f := range foreign {
		fids = append(fids, f.id)
	}
	if !cmp.Equal(fids, []string{"dup", "ssh"}) {
		t.Errorf("foreign = %v, want [dup ssh]", fids)
	}
}
