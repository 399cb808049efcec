package openstacktest

import (
	"net/http"
	"sort"
	"time"
)

// networkState is Neutron's state: every map is keyed by ID.
type networkState struct {
	Networks       map[string]*netNetwork    `json:"networks"`
	Subnets        map[string]*netSubnet     `json:"subnets"`
	Ports          map[string]*netPort       `json:"ports"`
	Routers        map[string]*netRouter     `json:"routers"`
	SecurityGroups map[string]*netSecGroup   `json:"securityGroups"`
	SGRules        map[string]*netSGRule     `json:"securityGroupRules"`
	FloatingIPs    map[string]*netFloatingIP `json:"floatingIPs"`
	// Quotas holds per-project limits that differ from the defaults.
	Quotas map[string]map[string]int `json:"quotas"`
	// MACs maps every MAC address in use to its port, to keep them unique.
	MACs map[string]string `json:"macs"`
}

// netStd holds Neutron's standard attributes.
type netStd struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	ProjectID   string    `json:"projectID"`
	Tags        []string  `json:"tags"`
	Revision    int       `json:"revision"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// neutronTime is Neutron's timestamp format.
const neutronTime = "2006-01-02T15:04:05Z"

func (n *netStd) init(s *Server, id, projectID string) {
	now := s.now()
	n.ID, n.ProjectID, n.CreatedAt, n.UpdatedAt = id, projectID, now, now
	n.Tags = []string{}
}

// touch records a change.
func (n *netStd) touch(s *Server) {
	n.Revision++
	n.UpdatedAt = s.now()
}

// renderStd adds the standard attributes to m; tags only when tagged is set.
func (n *netStd) renderStd(m map[string]any, tagged bool) map[string]any {
	m["id"] = n.ID
	m["name"] = n.Name
	m["description"] = n.Description
	m["project_id"] = n.ProjectID
	m["tenant_id"] = n.ProjectID
	m["revision_number"] = n.Revision
	m["created_at"] = n.CreatedAt.Format(neutronTime)
	m["updated_at"] = n.UpdatedAt.Format(neutronTime)
	if tagged {
		tags := append([]string{}, n.Tags...)
		sort.Strings(tags)
		m["tags"] = tags
	}
	return m
}

// netNetwork is a Neutron network.
type netNetwork struct {
	netStd
	AdminStateUp        bool     `json:"adminStateUp"`
	Shared              bool     `json:"shared"`
	External            bool     `json:"external"`
	MTU                 int      `json:"mtu"`
	PortSecurityEnabled bool     `json:"portSecurityEnabled"`
	Subnets             []string `json:"subnets"`
	NetworkType         string   `json:"networkType"`
	PhysicalNetwork     string   `json:"physicalNetwork"`
	SegmentationID      int      `json:"segmentationID"`
}

// ipRange is an allocation pool.
type ipRange struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// netSubnet is a Neutron subnet with its IP allocations.
type netSubnet struct {
	netStd
	NetworkID       string    `json:"networkID"`
	CIDR            string    `json:"cidr"`
	IPVersion       int       `json:"ipVersion"`
	GatewayIP       string    `json:"gatewayIP"`
	Pools           []ipRange `json:"pools"`
	DNSNameservers  []string  `json:"dnsNameservers"`
	HostRoutes      []any     `json:"hostRoutes"`
	EnableDHCP      bool      `json:"enableDHCP"`
	IPv6RAMode      string    `json:"ipv6RAMode"`
	IPv6AddressMode string    `json:"ipv6AddressMode"`
	// Allocated maps each allocated address to its port.
	Allocated map[string]string `json:"allocated"`
}

// netFixedIP is one address of a port.
type netFixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

// netAddressPair is an allowed address pair.
type netAddressPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address"`
}

// netPort is a Neutron port.
type netPort struct {
	netStd
	NetworkID           string           `json:"networkID"`
	MACAddress          string           `json:"macAddress"`
	AdminStateUp        bool             `json:"adminStateUp"`
	FixedIPs            []netFixedIP     `json:"fixedIPs"`
	SecurityGroups      []string         `json:"securityGroups"`
	AddressPairs        []netAddressPair `json:"addressPairs"`
	DeviceID            string           `json:"deviceID"`
	DeviceOwner         string           `json:"deviceOwner"`
	PortSecurityEnabled bool             `json:"portSecurityEnabled"`
	HostID              string           `json:"hostID"`
	VNICType            string           `json:"vnicType"`
	Profile             map[string]any   `json:"profile"`
	DNSName             string           `json:"dnsName"`
	ExtraDHCPOpts       []any            `json:"extraDHCPOpts"`
}

// Neutron's device owners for ports it manages itself.
const (
	ownerRouterInterface = "network:router_interface"
	ownerRouterGateway   = "network:router_gateway"
	ownerFloatingIP      = "network:floatingip"
	ownerDHCP            = "network:dhcp"
)

// netRouter is a Neutron router.
type netRouter struct {
	netStd
	AdminStateUp bool `json:"adminStateUp"`
	// GatewayNetworkID is the external network of the gateway ("" for none);
	// GatewayPortID its port.
	GatewayNetworkID string `json:"gatewayNetworkID"`
	GatewayPortID    string `json:"gatewayPortID"`
	EnableSNAT       bool   `json:"enableSNAT"`
	Routes           []any  `json:"routes"`
}

// netSecGroup is a security group.
type netSecGroup struct {
	netStd
	Stateful bool `json:"stateful"`
}

// netSGRule is a security group rule.
type netSGRule struct {
	netStd
	SecurityGroupID string `json:"securityGroupID"`
	Direction       string `json:"direction"`
	EtherType       string `json:"etherType"`
	Protocol        string `json:"protocol"`
	PortMin         *int   `json:"portMin"`
	PortMax         *int   `json:"portMax"`
	RemoteIPPrefix  string `json:"remoteIPPrefix"`
	RemoteGroupID   string `json:"remoteGroupID"`
}

// netFloatingIP is a floating IP.
type netFloatingIP struct {
	netStd
	FloatingNetworkID string `json:"floatingNetworkID"`
	FloatingIP        string `json:"floatingIP"`
	// PortID is the floating IP's own port on the external network;
	// AssocPortID the port it is associated with.
	PortID       string `json:"portID"`
	AssocPortID  string `json:"assocPortID"`
	FixedIP      string `json:"fixedIP"`
	RouterID     string `json:"routerID"`
	SubnetID     string `json:"subnetID"`
	DNSName      string `json:"dnsName"`
	DNSDomain    string `json:"dnsDomain"`
	QoSPolicyID  string `json:"qosPolicyID"`
	PortForwards []any  `json:"portForwards"`
	// Status is what the L3 agent last reported; writes answer with it
	// before the agent acts (empty in old state files: derived).
	Status string `json:"status,omitempty"`
}

// nst returns the network state, creating its maps on first use (also after
// loading an older state file).
func (s *Server) nst() *networkState {
	n := &s.st.Network
	if n.Networks == nil {
		n.Networks = map[string]*netNetwork{}
	}
	if n.Subnets == nil {
		n.Subnets = map[string]*netSubnet{}
	}
	if n.Ports == nil {
		n.Ports = map[string]*netPort{}
	}
	if n.Routers == nil {
		n.Routers = map[string]*netRouter{}
	}
	if n.SecurityGroups == nil {
		n.SecurityGroups = map[string]*netSecGroup{}
	}
	if n.SGRules == nil {
		n.SGRules = map[string]*netSGRule{}
	}
	if n.FloatingIPs == nil {
		n.FloatingIPs = map[string]*netFloatingIP{}
	}
	if n.Quotas == nil {
		n.Quotas = map[string]map[string]int{}
	}
	if n.MACs == nil {
		n.MACs = map[string]string{}
	}
	return n
}

// seedNetwork creates the external network "public" with a subnet over the
// floating IP pool, and the default security groups of the seeded projects.
// Callers hold s.mu.
func (s *Server) seedNetwork() {
	ns := s.nst()
	net := &netNetwork{AdminStateUp: true, External: true, MTU: 1500, PortSecurityEnabled: true,
		NetworkType: "flat", PhysicalNetwork: "public"}
	net.init(s, s.newID(), AdminProjectID)
	net.Name = ExternalNetwork
	ns.Networks[net.ID] = net

	pool := s.opts.fipPool
	gw := pool.Addr().Next()
	sub := &netSubnet{NetworkID: net.ID, CIDR: pool.String(), IPVersion: 4, GatewayIP: gw.String(),
		DNSNameservers: []string{}, HostRoutes: []any{}, EnableDHCP: false, Allocated: map[string]string{}}
	sub.init(s, s.newID(), AdminProjectID)
	sub.Name = ExternalNetwork + "-subnet"
	sub.Pools = ipDefaultPools(pool, gw)
	ns.Subnets[sub.ID] = sub
	net.Subnets = []string{sub.ID}

	s.ensureDefaultSecGroup(AdminProjectID)
	s.ensureDefaultSecGroup(MemberProjectID)
}

// snapshotNetwork lists every live Neutron resource. Callers hold s.mu.
func (s *Server) snapshotNetwork() []Resource {
	ns := s.nst()
	var out []Resource
	add := func(kind string, n *netStd, status string) {
		out = append(out, Resource{Service: string(svcNetwork), Kind: kind, ID: n.ID, Name: n.Name,
			ProjectID: n.ProjectID, Status: status, Tags: append([]string(nil), n.Tags...)})
	}
	for _, n := range ns.Networks {
		add("network", &n.netStd, "ACTIVE")
	}
	for _, n := range ns.Subnets {
		add("subnet", &n.netStd, "")
	}
	for _, p := range ns.Ports {
		add("port", &p.netStd, s.portStatus(p))
	}
	for _, r := range ns.Routers {
		add("router", &r.netStd, "ACTIVE")
	}
	for _, g := range ns.SecurityGroups {
		add("security_group", &g.netStd, "")
	}
	for _, r := range ns.SGRules {
		add("security_group_rule", &r.netStd, "")
	}
	for _, f := range ns.FloatingIPs {
		add("floatingip", &f.netStd, fipStatus(f))
	}
	return out
}

// routesNetwork registers Neutron's API.
func (s *Server) routesNetwork() {
	const p = "/network/v2.0"
	h := func(pattern string, fn handlerFunc) { s.handle(svcNetwork, pattern, fn) }
	s.handle(svcNetwork, "GET /network/{$}", s.neutronVersions, routeOpts{public: true})
	s.handle(svcNetwork, "GET /network/v2.0/{$}", s.neutronResources, routeOpts{public: true})
	h("GET "+p+"/extensions", s.neutronExtensions)

	h("GET "+p+"/networks", s.listNetworks)
	h("POST "+p+"/networks", s.createNetwork)
	h("GET "+p+"/networks/{id}", s.getNetwork)
	h("PUT "+p+"/networks/{id}", s.updateNetwork)
	h("DELETE "+p+"/networks/{id}", s.deleteNetwork)

	h("GET "+p+"/subnets", s.listSubnets)
	h("POST "+p+"/subnets", s.createSubnet)
	h("GET "+p+"/subnets/{id}", s.getSubnet)
	h("PUT "+p+"/subnets/{id}", s.updateSubnet)
	h("DELETE "+p+"/subnets/{id}", s.deleteSubnet)

	h("GET "+p+"/ports", s.listPorts)
	h("POST "+p+"/ports", s.createPort)
	h("GET "+p+"/ports/{id}", s.getPort)
	h("PUT "+p+"/ports/{id}", s.updatePort)
	h("DELETE "+p+"/ports/{id}", s.deletePort)

	h("GET "+p+"/routers", s.listRouters)
	h("POST "+p+"/routers", s.createRouter)
	h("GET "+p+"/routers/{id}", s.getRouter)
	h("PUT "+p+"/routers/{id}", s.updateRouter)
	h("DELETE "+p+"/routers/{id}", s.deleteRouter)
	h("PUT "+p+"/routers/{id}/add_router_interface", s.addRouterInterface)
	h("PUT "+p+"/routers/{id}/remove_router_interface", s.removeRouterInterface)

	h("GET "+p+"/security-groups", s.listSecGroups)
	h("POST "+p+"/security-groups", s.createSecGroup)
	h("GET "+p+"/security-groups/{id}", s.getSecGroup)
	h("PUT "+p+"/security-groups/{id}", s.updateSecGroup)
	h("DELETE "+p+"/security-groups/{id}", s.deleteSecGroup)
	h("GET "+p+"/security-group-rules", s.listSGRules)
	h("POST "+p+"/security-group-rules", s.createSGRule)
	h("GET "+p+"/security-group-rules/{id}", s.getSGRule)
	h("DELETE "+p+"/security-group-rules/{id}", s.deleteSGRule)

	h("GET "+p+"/floatingips", s.listFloatingIPs)
	h("POST "+p+"/floatingips", s.createFloatingIP)
	h("GET "+p+"/floatingips/{id}", s.getFloatingIP)
	h("PUT "+p+"/floatingips/{id}", s.updateFloatingIP)
	h("DELETE "+p+"/floatingips/{id}", s.deleteFloatingIP)

	h("GET "+p+"/quotas", s.listNetQuotas)
	h("GET "+p+"/quotas/{project}", s.getNetQuota)
	h("GET "+p+"/quotas/{project}/details.json", s.getNetQuotaDetails)
	// Neutron answers without the format suffix too (recorded).
	h("GET "+p+"/quotas/{project}/details", s.getNetQuotaDetails)
	h("GET "+p+"/quotas/{project}/default", s.getNetQuotaDefault)
	h("PUT "+p+"/quotas/{project}", s.updateNetQuota)
	h("DELETE "+p+"/quotas/{project}", s.deleteNetQuota)

	for _, res := range netTaggable {
		h("GET "+p+"/"+res+"/{id}/tags", s.getTags)
		h("PUT "+p+"/"+res+"/{id}/tags", s.replaceTags)
		h("DELETE "+p+"/"+res+"/{id}/tags", s.deleteAllTags)
		h("GET "+p+"/"+res+"/{id}/tags/{tag}", s.checkTag)
		h("PUT "+p+"/"+res+"/{id}/tags/{tag}", s.addTag)
		h("DELETE "+p+"/"+res+"/{id}/tags/{tag}", s.deleteTag)
	}
}

// neutronVersions answers GET /network/ with Neutron's version document.
func (s *Server) neutronVersions(w http.ResponseWriter, r *http.Request, _ *token) {
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
		"id": "v2.0", "status": "CURRENT",
		"links": []any{map[string]any{"rel": "self", "href": netBaseURL(r) + "/network/v2.0/"}},
	}}})
}

// neutronResources answers GET /network/v2.0/ with the collections.
func (s *Server) neutronResources(w http.ResponseWriter, r *http.Request, _ *token) {
	var res []any
	for _, c := range []struct{ name, coll string }{
		{"network", "networks"}, {"subnet", "subnets"}, {"port", "ports"},
	} {
		res = append(res, map[string]any{"name": c.name, "collection": c.coll,
			"links": []any{map[string]any{"rel": "self", "href": netBaseURL(r) + "/network/v2.0/" + c.coll}}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"resources": res})
}

// neutronExtensions lists the API extensions the simulator models.
func (s *Server) neutronExtensions(w http.ResponseWriter, r *http.Request, _ *token) {
	var out []any
	for _, e := range [][2]string{
		{"external-net", "Neutron external network"},
		{"router", "Neutron L3 Router"},
		{"security-group", "security-group"},
		{"quotas", "Quota management support"},
		{"quota_details", "Quota details management support"},
		{"standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip"},
		{"standard-attr-revisions", "Resource revision numbers"},
		{"standard-attr-timestamp", "Resource timestamps"},
		{"standard-attr-description", "standard-attr-description"},
		{"port-security", "Port Security"},
		{"binding", "Port Binding"},
		{"allowed-address-pairs", "Allowed Address Pairs"},
		{"net-mtu", "Network MTU"},
		{"project-id", "project_id field enabled"},
		{"pagination", "Pagination support"},
		{"sorting", "Sorting support"},
		{"fip-port-details", "Floating IP Port Details Extension"},
	} {
		out = append(out, map[string]any{"alias": e[0], "name": e[1], "description": e[1],
			"updated": "2013-01-01T10:00:00-00:00", "links": []any{}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"extensions": out})
}

// netBaseURL is the scheme and host the request came to.
func netBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
