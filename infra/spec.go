package infra

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/openstrap/openstrap/provider"
)

// TagPrefix starts the ownership tag every resource the SDK creates carries:
// TagPrefix + cluster name.
const TagPrefix = "openstrap-cluster="

// OwnerTag returns the ownership tag of cluster's resources.
func OwnerTag(cluster string) string { return TagPrefix + cluster }

// DefaultAPIServerPort is the port of the API server load balancer's
// listener and of its members.
const DefaultAPIServerPort = 6443

// Role names a managed security group. Machines get the Node group plus the
// group of their role.
type Role string

// Managed security group roles.
const (
	// RoleControlPlane is for control-plane machines: API server, etcd,
	// kubelet, controller-manager and scheduler ports.
	RoleControlPlane Role = "control-plane"
	// RoleWorker is for worker machines: kubelet from the control plane and,
	// optionally, NodePorts.
	RoleWorker Role = "worker"
	// RoleNode is for every machine: node-to-node traffic of the CNI.
	RoleNode Role = "node"
)

// Roles lists the managed security group roles in a fixed order.
func Roles() []Role { return []Role{RoleControlPlane, RoleWorker, RoleNode} }

// Ref points at an existing resource the caller owns, by ID, by name or by
// tags (all of them). The zero Ref points at nothing.
type Ref struct {
	ID   string
	Name string
	Tags []string
}

// IsZero reports whether r points at nothing.
func (r Ref) IsZero() bool { return r.ID == "" && r.Name == "" && len(r.Tags) == 0 }

// String describes r for messages.
func (r Ref) String() string {
	switch {
	case r.ID != "":
		return "id " + r.ID
	case r.Name != "":
		return "name " + strconv.Quote(r.Name)
	case len(r.Tags) > 0:
		return "tags " + strings.Join(r.Tags, ",")
	}
	return "nothing"
}

// Rule is one security group rule.
type Rule struct {
	// Description is stored on the rule.
	Description string
	// Direction is "ingress" (the default) or "egress".
	Direction string
	// EtherType is "IPv4" (the default) or "IPv6".
	EtherType string
	// Protocol is "tcp", "udp", "icmp", another IANA name or a protocol
	// number such as "4"; empty means any.
	Protocol string
	// PortMin and PortMax bound the destination ports for tcp and udp;
	// PortMax defaults to PortMin.
	PortMin, PortMax int
	// RemoteCIDR is the allowed source (or destination for egress).
	RemoteCIDR string
	// RemoteRole allows traffic from the managed group of that role instead
	// of a CIDR.
	RemoteRole Role
}

// SecurityGroups configures the managed security groups.
type SecurityGroups struct {
	// Unmanaged, when true, creates no security groups; machines use
	// whatever groups the caller gives them.
	Unmanaged bool
	// CNIRules are allowed between all nodes (in the Node group, from the
	// Node group). Nil means DefaultCNIRules; an empty non-nil slice means none.
	CNIRules []Rule
	// NodePorts opens 30000-32767/tcp on workers from NodePortCIDRs.
	NodePorts bool
	// NodePortCIDRs are the sources allowed to reach NodePorts; default
	// 0.0.0.0/0.
	NodePortCIDRs []string
	// Extra rules per role, added to the managed ones.
	Extra map[Role][]Rule
}

// APIServer configures the cluster's API endpoint.
type APIServer struct {
	// DisableLoadBalancer creates no Octavia load balancer; the endpoint is
	// then the floating IP (if any), which AddAPIServerMember attaches to the
	// first control-plane machine.
	DisableLoadBalancer bool
	// Port is the listener's and the members' port; default 6443.
	Port int
	// AllowedCIDRs may reach the API server; default 0.0.0.0/0.
	AllowedCIDRs []string
	// FloatingIP is the address of an existing floating IP to use for the
	// endpoint. It is associated and disassociated, never deleted.
	FloatingIP string
	// DisableFloatingIP makes an internal-only endpoint (the load
	// balancer's VIP).
	DisableFloatingIP bool
	// LoadBalancerProvider is Octavia's provider (e.g. "amphora", "ovn");
	// empty uses the cloud's default.
	LoadBalancerProvider string
}

// Spec describes a cluster's network infrastructure. Zero values are useful:
// Default fills them in.
type Spec struct {
	// Cluster names the cluster; every created resource is named
	// "<Cluster>-..." and tagged OwnerTag(Cluster).
	Cluster string
	// NodeCIDR is the subnet of the machines; default 10.6.0.0/24.
	NodeCIDR string
	// DNSNameservers for the subnet.
	DNSNameservers []string
	// MTU of the created network; 0 leaves the cloud's default.
	MTU int
	// ExternalNetwork is the ID or name of the external network for the
	// router's gateway and the floating IPs. Empty with ExternalNetworkTags
	// empty means an internal-only cluster: no router, no floating IP.
	ExternalNetwork string
	// ExternalNetworkTags picks the external network by tags instead.
	ExternalNetworkTags []string

	// Network, Subnet and Router bring the caller's own resources instead of
	// creating them. A bring-your-own network needs its subnet (Subnet, or
	// the network's only subnet, or the one whose CIDR is NodeCIDR); with it
	// no router is created or changed. A bring-your-own router with a
	// created network gets an interface on the created subnet, removed
	// again by Delete.
	Network Ref
	Subnet  Ref
	Router  Ref

	// SecurityGroups configures the managed security groups.
	SecurityGroups SecurityGroups
	// APIServer configures the API endpoint.
	APIServer APIServer
}

// DefaultCNIRules allow the usual CNIs between nodes: Calico BGP (179/tcp),
// IP-in-IP (protocol 4), VXLAN (4789/udp) and Cilium VXLAN (8472/udp).
func DefaultCNIRules() []Rule {
	return []Rule{
		{Description: "Calico BGP", Protocol: "tcp", PortMin: 179},
		{Description: "IP-in-IP", Protocol: "4"},
		{Description: "VXLAN", Protocol: "udp", PortMin: 4789},
		{Description: "Cilium VXLAN", Protocol: "udp", PortMin: 8472},
	}
}

// Default fills in defaults for zero fields.
func (s *Spec) Default() {
	if s.NodeCIDR == "" && s.Network.IsZero() {
		s.NodeCIDR = "10.6.0.0/24"
	}
	if s.APIServer.Port == 0 {
		s.APIServer.Port = DefaultAPIServerPort
	}
	if len(s.APIServer.AllowedCIDRs) == 0 {
		s.APIServer.AllowedCIDRs = []string{"0.0.0.0/0"}
	}
	if s.SecurityGroups.CNIRules == nil {
		s.SecurityGroups.CNIRules = DefaultCNIRules()
	}
	if s.SecurityGroups.NodePorts && len(s.SecurityGroups.NodePortCIDRs) == 0 {
		s.SecurityGroups.NodePortCIDRs = []string{"0.0.0.0/0"}
	}
}

var clusterName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate checks the spec (after Default). Its errors name the field and
// value and match provider.ErrInvalidSpec.
func (s Spec) Validate() error {
	if !clusterName.MatchString(s.Cluster) || len(s.Cluster) > 40 {
		return invalid("Cluster", s.Cluster, "must be 1-40 lower-case letters, digits or '-', starting and ending with a letter or digit")
	}
	if s.NodeCIDR != "" {
		p, err := netip.ParsePrefix(s.NodeCIDR)
		if err != nil || !p.Addr().Is4() || p.Bits() > 29 || p.Masked() != p {
			return invalid("NodeCIDR", s.NodeCIDR, "must be an IPv4 network address with a prefix of at most /29, such as 10.6.0.0/24")
		}
	} else if s.Network.IsZero() {
		return invalid("NodeCIDR", s.NodeCIDR, "is required unless Network is given")
	}
	for i, ns := range s.DNSNameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			return invalid(fmt.Sprintf("DNSNameservers[%d]", i), ns, "must be an IP address")
		}
	}
	if s.MTU != 0 && (s.MTU < 68 || s.MTU > 65535) {
		return invalid("MTU", strconv.Itoa(s.MTU), "must be 0 (cloud default) or between 68 and 65535")
	}
	if s.ExternalNetwork != "" && len(s.ExternalNetworkTags) > 0 {
		return invalid("ExternalNetworkTags", strings.Join(s.ExternalNetworkTags, ","), "conflicts with ExternalNetwork; give one of them")
	}
	for _, r := range []struct {
		field string
		ref   Ref
	}{{"Network", s.Network}, {"Subnet", s.Subnet}, {"Router", s.Router}} {
		if err := validRef(r.field, r.ref); err != nil {
			return err
		}
	}
	if !s.Subnet.IsZero() && s.Network.IsZero() {
		return invalid("Subnet", s.Subnet.String(), "needs Network: a bring-your-own subnet lives in a bring-your-own network")
	}
	if s.MTU != 0 && !s.Network.IsZero() {
		return invalid("MTU", strconv.Itoa(s.MTU), "applies only to a created network, not to Network "+s.Network.String())
	}
	if s.APIServer.Port < 1 || s.APIServer.Port > 65535 {
		return invalid("APIServer.Port", strconv.Itoa(s.APIServer.Port), "must be between 1 and 65535")
	}
	for i, c := range s.APIServer.AllowedCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			return invalid(fmt.Sprintf("APIServer.AllowedCIDRs[%d]", i), c, "must be a CIDR")
		}
	}
	if s.APIServer.FloatingIP != "" {
		if s.APIServer.DisableFloatingIP {
			return invalid("APIServer.FloatingIP", s.APIServer.FloatingIP, "conflicts with APIServer.DisableFloatingIP")
		}
		if _, err := netip.ParseAddr(s.APIServer.FloatingIP); err != nil {
			return invalid("APIServer.FloatingIP", s.APIServer.FloatingIP, "must be an IP address")
		}
	}
	if s.wantsFloatingIP() && !s.hasExternal() {
		return invalid("ExternalNetwork", "", "is required for the API server's floating IP; set APIServer.DisableFloatingIP for an internal-only cluster")
	}
	for i, c := range s.SecurityGroups.NodePortCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			return invalid(fmt.Sprintf("SecurityGroups.NodePortCIDRs[%d]", i), c, "must be a CIDR")
		}
	}
	for i, r := range s.SecurityGroups.CNIRules {
		if err := validRule(fmt.Sprintf("SecurityGroups.CNIRules[%d]", i), r); err != nil {
			return err
		}
	}
	for role, rules := range s.SecurityGroups.Extra {
		if !validRole(role) {
			return invalid("SecurityGroups.Extra", string(role), "is not a role; use control-plane, worker or node")
		}
		for i, r := range rules {
			if err := validRule(fmt.Sprintf("SecurityGroups.Extra[%s][%d]", role, i), r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s Spec) hasExternal() bool { return s.ExternalNetwork != "" || len(s.ExternalNetworkTags) > 0 }

func (s Spec) wantsFloatingIP() bool { return !s.APIServer.DisableFloatingIP }

func validRole(r Role) bool { return r == RoleControlPlane || r == RoleWorker || r == RoleNode }

func validRef(field string, r Ref) error {
	n := 0
	if r.ID != "" {
		n++
	}
	if r.Name != "" {
		n++
	}
	if len(r.Tags) > 0 {
		n++
	}
	if n > 1 {
		return invalid(field, fmt.Sprintf("%+v", r), "give one of ID, Name or Tags")
	}
	return nil
}

func validRule(field string, r Rule) error {
	switch r.Direction {
	case "", "ingress", "egress":
	default:
		return invalid(field+".Direction", r.Direction, `must be "ingress" or "egress"`)
	}
	switch r.EtherType {
	case "", "IPv4", "IPv6":
	default:
		return invalid(field+".EtherType", r.EtherType, `must be "IPv4" or "IPv6"`)
	}
	if r.RemoteCIDR != "" && r.RemoteRole != "" {
		return invalid(field+".RemoteRole", string(r.RemoteRole), "conflicts with RemoteCIDR")
	}
	if r.RemoteRole != "" && !validRole(r.RemoteRole) {
		return invalid(field+".RemoteRole", string(r.RemoteRole), "is not a role; use control-plane, worker or node")
	}
	if r.RemoteCIDR != "" {
		if _, err := netip.ParsePrefix(r.RemoteCIDR); err != nil {
			return invalid(field+".RemoteCIDR", r.RemoteCIDR, "must be a CIDR")
		}
	}
	if r.PortMin < 0 || r.PortMin > 65535 || r.PortMax < 0 || r.PortMax > 65535 || (r.PortMax != 0 && r.PortMax < r.PortMin) {
		return invalid(field+".PortMin", fmt.Sprintf("%d-%d", r.PortMin, r.PortMax), "must be a port range within 0-65535")
	}
	p := strings.ToLower(r.Protocol)
	if (r.PortMin != 0 || r.PortMax != 0) && p != "tcp" && p != "udp" && p != "sctp" && p != "6" && p != "17" && p != "132" {
		return invalid(field+".Protocol", r.Protocol, "ports need tcp, udp or sctp")
	}
	return nil
}

func invalid(field, value, why string) error {
	return fmt.Errorf("infra spec: %s %q %s: %w", field, value, why, provider.ErrInvalidSpec)
}

// names are the deterministic names of a cluster's resources.
type names struct{ cluster string }

func (n names) network() string      { return n.cluster + "-network" }
func (n names) subnet() string       { return n.cluster + "-subnet" }
func (n names) router() string       { return n.cluster + "-router" }
func (n names) group(r Role) string  { return n.cluster + "-" + string(r) }
func (n names) loadBalancer() string { return n.cluster + "-kubeapi" }
func (n names) listener() string     { return n.cluster + "-kubeapi" }
func (n names) pool() string         { return n.cluster + "-kubeapi" }
func (n names) monitor() string      { return n.cluster + "-kubeapi" }
func (n names) floatingIP() string   { return n.cluster + "-kubeapi" }
