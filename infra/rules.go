package infra

import (
	"fmt"
	"sort"
	"strings"
)

// ruleKey is a security group rule in a canonical form, so that desired and
// observed rules compare equal whatever spelling the cloud answers with.
type ruleKey struct {
	Direction  string
	EtherType  string
	Protocol   string
	PortMin    int
	PortMax    int
	RemoteCIDR string
	// RemoteGroup is a role for desired rules and a group ID for observed
	// ones until resolved.
	RemoteGroup string
}

func (k ruleKey) String() string {
	proto := k.Protocol
	if proto == "" {
		proto = "any"
	}
	ports := ""
	if k.PortMin != 0 || k.PortMax != 0 {
		ports = fmt.Sprintf(" %d-%d", k.PortMin, k.PortMax)
	}
	remote := k.RemoteCIDR
	if k.RemoteGroup != "" {
		remote = "group " + k.RemoteGroup
	}
	if remote == "" {
		remote = "anywhere"
	}
	return fmt.Sprintf("%s %s %s%s %s", k.Direction, k.EtherType, proto, ports, remote)
}

var protocolNumbers = map[string]string{
	"1": "icmp", "6": "tcp", "17": "udp", "132": "sctp", "58": "ipv6-icmp",
	"icmpv6": "ipv6-icmp", "any": "",
}

// canonicalRule normalizes a rule: protocol names over numbers, the
// everything CIDRs as none, PortMax defaulting to PortMin.
func canonicalRule(direction, etherType, protocol string, portMin, portMax int, remoteCIDR, remoteGroup string) ruleKey {
	k := ruleKey{Direction: direction, EtherType: etherType, Protocol: strings.ToLower(protocol),
		PortMin: portMin, PortMax: portMax, RemoteCIDR: remoteCIDR, RemoteGroup: remoteGroup}
	if k.Direction == "" {
		k.Direction = "ingress"
	}
	if k.EtherType == "" {
		k.EtherType = "IPv4"
	}
	if p, ok := protocolNumbers[k.Protocol]; ok {
		k.Protocol = p
	}
	if k.PortMax == 0 {
		k.PortMax = k.PortMin
	}
	if k.RemoteCIDR == "0.0.0.0/0" || k.RemoteCIDR == "::/0" {
		k.RemoteCIDR = ""
	}
	return k
}

func (r Rule) key() ruleKey {
	return canonicalRule(r.Direction, r.EtherType, r.Protocol, r.PortMin, r.PortMax, r.RemoteCIDR, string(r.RemoteRole))
}

// desiredRule is a rule the SDK keeps in a managed group.
type desiredRule struct {
	key         ruleKey
	description string
}

// desiredRules returns the rules each managed group must hold, without
// duplicates, in a stable order.
func (s Spec) desiredRules() map[Role][]desiredRule {
	out := map[Role][]desiredRule{}
	add := func(role Role, r Rule) {
		k := r.key()
		for _, d := range out[role] {
			if d.key == k {
				return
			}
		}
		out[role] = append(out[role], desiredRule{key: k, description: r.Description})
	}
	tcp := func(port int, desc string, from Role) Rule {
		return Rule{Description: desc, Protocol: "tcp", PortMin: port, RemoteRole: from}
	}
	for _, role := range Roles() {
		// Egress open, as Neutron's default rules of a new group have it.
		add(role, Rule{Description: "egress IPv4", Direction: "egress", EtherType: "IPv4"})
		add(role, Rule{Description: "egress IPv6", Direction: "egress", EtherType: "IPv6"})
	}
	port := s.APIServer.Port
	for _, c := range s.APIServer.AllowedCIDRs {
		add(RoleControlPlane, Rule{Description: "Kubernetes API", Protocol: "tcp", PortMin: port, RemoteCIDR: c})
	}
	if s.NodeCIDR != "" {
		// The load balancer reaches its members from the node subnet.
		add(RoleControlPlane, Rule{Description: "Kubernetes API from the load balancer and nodes", Protocol: "tcp", PortMin: port, RemoteCIDR: s.NodeCIDR})
	} else {
		add(RoleControlPlane, Rule{Description: "Kubernetes API from nodes", Protocol: "tcp", PortMin: port, RemoteRole: RoleNode})
	}
	add(RoleControlPlane, Rule{Description: "etcd", Protocol: "tcp", PortMin: 2379, PortMax: 2380, RemoteRole: RoleControlPlane})
	add(RoleControlPlane, tcp(10250, "kubelet", RoleControlPlane))
	add(RoleControlPlane, tcp(10257, "kube-controller-manager", RoleControlPlane))
	add(RoleControlPlane, tcp(10259, "kube-scheduler", RoleControlPlane))
	add(RoleWorker, tcp(10250, "kubelet from the control plane", RoleControlPlane))
	if s.SecurityGroups.NodePorts {
		for _, c := range s.SecurityGroups.NodePortCIDRs {
			add(RoleWorker, Rule{Description: "NodePorts", Protocol: "tcp", PortMin: 30000, PortMax: 32767, RemoteCIDR: c})
		}
	}
	for _, r := range s.SecurityGroups.CNIRules {
		if r.RemoteCIDR == "" && r.RemoteRole == "" {
			r.RemoteRole = RoleNode
		}
		add(RoleNode, r)
	}
	roles := make([]Role, 0, len(s.SecurityGroups.Extra))
	for role := range s.SecurityGroups.Extra {
		roles = append(roles, role)
	}
	sort.Slice(roles, func(i, j int) bool { return roles[i] < roles[j] })
	for _, role := range roles {
		for _, r := range s.SecurityGroups.Extra[role] {
			add(role, r)
		}
	}
	return out
}

// observedRule is a rule read from the cloud.
type observedRule struct {
	id  string
	key ruleKey // RemoteGroup holds the remote group's ID
}

// ruleDiff says which desired rules are missing from a group and which
// observed rules are foreign to it. groupIDs maps roles to group IDs.
func ruleDiff(desired []desiredRule, observed []observedRule, groupIDs map[Role]string) (missing []desiredRule, foreign []observedRule) {
	resolve := func(k ruleKey) ruleKey {
		if k.RemoteGroup != "" {
			k.RemoteGroup = groupIDs[Role(k.RemoteGroup)]
		}
		return k
	}
	want := map[ruleKey]bool{}
	for _, d := range desired {
		want[resolve(d.key)] = true
	}
	have := map[ruleKey]bool{}
	for _, o := range observed {
		if want[o.key] && !have[o.key] {
			have[o.key] = true
			continue
		}
		foreign = append(foreign, o)
	}
	for _, d := range desired {
		if !have[resolve(d.key)] {
			missing = append(missing, d)
		}
	}
	return missing, foreign
}
