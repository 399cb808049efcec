package openstacktest

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
)

// networkVisible reports whether tok sees n: admins see every network,
// projects their own, shared and external ones.
func (s *Server) networkVisible(n *netNetwork, tok *token) bool {
	return netOwns(tok, n.ProjectID) || n.Shared || n.External
}

// subnetVisible follows the subnet's network.
func (s *Server) subnetVisible(sub *netSubnet, tok *token) bool {
	if netOwns(tok, sub.ProjectID) {
		return true
	}
	n := s.nst().Networks[sub.NetworkID]
	return n != nil && (n.Shared || n.External)
}

func (s *Server) renderNetwork(n *netNetwork, tok *token) map[string]any {
	m := map[string]any{
		"admin_state_up":            n.AdminStateUp,
		"status":                    "ACTIVE",
		"subnets":                   append([]string{}, n.Subnets...),
		"shared":                    n.Shared,
		"router:external":           n.External,
		"mtu":                       n.MTU,
		"port_security_enabled":     n.PortSecurityEnabled,
		"availability_zone_hints":   []string{},
		"availability_zones":        []string{"nova"},
		"ipv4_address_scope":        nil,
		"ipv6_address_scope":        nil,
		"l2_adjacency":              true,
		"qos_policy_id":             nil,
		"dns_domain":                "",
		"is_default":                false,
		"provider:network_type":     nil,
		"provider:physical_network": nil,
		"provider:segmentation_id":  nil,
	}
	if tok.isAdmin() {
		m["provider:network_type"] = n.NetworkType
		if n.PhysicalNetwork != "" {
			m["provider:physical_network"] = n.PhysicalNetwork
		}
		if n.SegmentationID != 0 {
			m["provider:segmentation_id"] = n.SegmentationID
		}
	}
	return n.renderStd(m, true)
}

// network attributes as Neutron names them.
var (
	networkPost = []string{"name", "description", "admin_state_up", "shared", "router:external", "mtu",
		"port_security_enabled", "project_id", "tenant_id", "availability_zone_hints", "dns_domain",
		"qos_policy_id", "is_default", "provider:network_type", "provider:physical_network",
		"provider:segmentation_id"}
	networkPut   = []string{"name", "description", "admin_state_up", "shared", "router:external", "mtu", "port_security_enabled", "dns_domain", "qos_policy_id", "is_default"}
	networkKnown = []string{"id", "status", "subnets", "tags", "created_at", "updated_at", "revision_number",
		"project_id", "tenant_id", "availability_zones", "l2_adjacency", "ipv4_address_scope", "ipv6_address_scope"}
)

type networkReq struct {
	Name            *string `json:"name"`
	Description     *string `json:"description"`
	AdminStateUp    *bool   `json:"admin_state_up"`
	Shared          *bool   `json:"shared"`
	External        *bool   `json:"router:external"`
	MTU             *int    `json:"mtu"`
	PortSecurity    *bool   `json:"port_security_enabled"`
	ProjectID       string  `json:"project_id"`
	TenantID        string  `json:"tenant_id"`
	NetworkType     *string `json:"provider:network_type"`
	PhysicalNetwork *string `json:"provider:physical_network"`
	SegmentationID  *int    `json:"provider:segmentation_id"`
}

// netCreateProject is the project a new resource belongs to: the token's, or
// for an admin the one named in the body.
func netCreateProject(tok *token, projectID, tenantID string) (string, *apiError) {
	p := projectID
	if p == "" {
		p = tenantID
	}
	if p == "" || p == tok.ProjectID {
		return tok.ProjectID, nil
	}
	if !tok.isAdmin() {
		return "", errorf(http.StatusForbidden, "HTTPForbidden", "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges")
	}
	return p, nil
}

// netAdminOnly refuses a member what rule (an action such as
// "update_network", or an attribute rule such as
// "create_network:router:external") reserves to admins, as Neutron's policy
// engine does: 403 PolicyNotAuthorized naming the action's rule and the
// attribute's.
func netAdminOnly(tok *token, rule string) *apiError {
	if tok.isAdmin() {
		return nil
	}
	if action, _, ok := strings.Cut(rule, ":"); ok {
		return errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:%s and rule:%s) is disallowed by policy", action, rule)
	}
	return errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:%s) is disallowed by policy", rule)
}

func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request, tok *token) {
	s.ensureDefaultSecGroup(tok.ProjectID)
	items := renderVisible(s.nst().Networks, tok, s.networkVisible, func(n *netNetwork) map[string]any { return s.renderNetwork(n, tok) })
	s.writeNeutronList(w, r, "networks", items, s.renderNetwork(&netNetwork{}, adminSample()))
}

func (s *Server) findNetwork(id string, tok *token) (*netNetwork, *apiError) {
	return findVisible(s.nst().Networks, id, tok, s.networkVisible, errNetworkNotFound)
}

func (s *Server) getNetwork(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcNetwork, w, r, tok, "network", s.findNetwork, func(n *netNetwork) map[string]any { return s.renderNetwork(n, tok) })
}

func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request, tok *token) {
	var req networkReq
	if _, e := decodeNeutron(r, "network", networkPost, networkKnown, &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	proj, e := netCreateProject(tok, req.ProjectID, req.TenantID)
	if e == nil && (req.Shared != nil && *req.Shared) {
		e = netAdminOnly(tok, "create_network:shared")
	}
	if e == nil && req.External != nil && *req.External {
		e = netAdminOnly(tok, "create_network:router:external")
	}
	if e == nil && (req.NetworkType != nil || req.PhysicalNetwork != nil || req.SegmentationID != nil) {
		e = netAdminOnly(tok, "create_network:provider:network_type")
	}
	if e == nil {
		e = s.netQuotaCheck(proj, "network", 1)
	}
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	s.ensureDefaultSecGroup(proj)
	n := &netNetwork{AdminStateUp: true, MTU: 1450, PortSecurityEnabled: true, NetworkType: "vxlan", Subnets: []string{}}
	n.init(s, s.newID(), proj)
	n.SegmentationID = 1000 + len(s.nst().Networks)
	if e := applyNetwork(n, &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if req.NetworkType != nil {
		n.NetworkType = *req.NetworkType
	}
	if req.PhysicalNetwork != nil {
		n.PhysicalNetwork = *req.PhysicalNetwork
	}
	if req.SegmentationID != nil {
		n.SegmentationID = *req.SegmentationID
	}
	s.nst().Networks[n.ID] = n
	writeNeutronOne(w, r, http.StatusCreated, "network", s.renderNetwork(n, tok))
}

func applyNetwork(n *netNetwork, req *networkReq) *apiError {
	if req.Name != nil {
		n.Name = *req.Name
	}
	if req.Description != nil {
		n.Description = *req.Description
	}
	if req.AdminStateUp != nil {
		n.AdminStateUp = *req.AdminStateUp
	}
	if req.Shared != nil {
		n.Shared = *req.Shared
	}
	if req.External != nil {
		n.External = *req.External
	}
	if req.MTU != nil {
		if *req.MTU < 68 {
			return errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for mtu. Reason: '%d' is too small - must be at least '68'.", *req.MTU)
		}
		n.MTU = *req.MTU
	}
	if req.PortSecurity != nil {
		n.PortSecurityEnabled = *req.PortSecurity
	}
	return nil
}

func (s *Server) updateNetwork(w http.ResponseWriter, r *http.Request, tok *token) {
	n, e := s.findNetwork(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	var req networkReq
	if _, e := decodeNeutron(r, "network", networkPut, append(networkKnown, networkPost...), &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if !tok.isAdmin() && n.ProjectID != tok.ProjectID {
		s.writeError(w, svcNetwork, netAdminOnly(tok, "update_network"))
		return
	}
	if (req.Shared != nil && *req.Shared != n.Shared) || (req.External != nil && *req.External != n.External) {
		if e := netAdminOnly(tok, "update_network:shared"); e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
	}
	if e := applyNetwork(n, &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	n.touch(s)
	writeNeutronOne(w, r, http.StatusOK, "network", s.renderNetwork(n, tok))
}

func (s *Server) deleteNetwork(w http.ResponseWriter, r *http.Request, tok *token) {
	n, e := s.findNetwork(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if !tok.isAdmin() && n.ProjectID != tok.ProjectID {
		s.writeError(w, svcNetwork, netAdminOnly(tok, "delete_network"))
		return
	}
	ns := s.nst()
	var dhcp []*netPort
	for _, p := range ns.Ports {
		if p.NetworkID != n.ID {
			continue
		}
		if p.DeviceOwner != ownerDHCP {
			s.writeError(w, svcNetwork, errorf(http.StatusConflict, "NetworkInUse", "Unable to complete operation on network %s. There are one or more ports still in use on the network.", n.ID))
			return
		}
		dhcp = append(dhcp, p)
	}
	for _, p := range dhcp {
		s.removePort(p)
	}
	for _, id := range n.Subnets {
		delete(ns.Subnets, id)
	}
	delete(ns.Networks, n.ID)
	w.WriteHeader(http.StatusNoContent)
}

// ----- subnets -----

func (s *Server) renderSubnet(sub *netSubnet) map[string]any {
	pools := []map[string]any{}
	for _, p := range sub.Pools {
		pools = append(pools, map[string]any{"start": p.Start, "end": p.End})
	}
	var gw, ra, am any
	if sub.GatewayIP != "" {
		gw = sub.GatewayIP
	}
	if sub.IPv6RAMode != "" {
		ra = sub.IPv6RAMode
	}
	if sub.IPv6AddressMode != "" {
		am = sub.IPv6AddressMode
	}
	m := map[string]any{
		"network_id":           sub.NetworkID,
		"cidr":                 sub.CIDR,
		"ip_version":           sub.IPVersion,
		"gateway_ip":           gw,
		"allocation_pools":     pools,
		"dns_nameservers":      append([]string{}, sub.DNSNameservers...),
		"host_routes":          append([]any{}, sub.HostRoutes...),
		"enable_dhcp":          sub.EnableDHCP,
		"ipv6_ra_mode":         ra,
		"ipv6_address_mode":    am,
		"subnetpool_id":        nil,
		"service_types":        []string{},
		"segment_id":           nil,
		"dns_publish_fixed_ip": false,
	}
	return sub.renderStd(m, true)
}

var (
	subnetPost = []string{"name", "description", "network_id", "cidr", "ip_version", "gateway_ip",
		"allocation_pools", "dns_nameservers", "host_routes", "enable_dhcp", "ipv6_ra_mode",
		"ipv6_address_mode", "project_id", "tenant_id", "service_types", "subnetpool_id", "prefixlen",
		"segment_id", "dns_publish_fixed_ip", "use_default_subnetpool"}
	subnetPut   = []string{"name", "description", "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes", "enable_dhcp", "service_types", "dns_publish_fixed_ip"}
	subnetKnown = []string{"id", "tags", "created_at", "updated_at", "revision_number", "project_id", "tenant_id"}
)

type subnetReq struct {
	Name            *string    `json:"name"`
	Description     *string    `json:"description"`
	NetworkID       string     `json:"network_id"`
	CIDR            string     `json:"cidr"`
	IPVersion       int        `json:"ip_version"`
	GatewayIP       *string    `json:"gateway_ip"`
	Pools           *[]ipRange `json:"allocation_pools"`
	DNSNameservers  *[]string  `json:"dns_nameservers"`
	HostRoutes      *[]any     `json:"host_routes"`
	EnableDHCP      *bool      `json:"enable_dhcp"`
	IPv6RAMode      *string    `json:"ipv6_ra_mode"`
	IPv6AddressMode *string    `json:"ipv6_address_mode"`
	ProjectID       string     `json:"project_id"`
	TenantID        string     `json:"tenant_id"`
}

func (s *Server) listSubnets(w http.ResponseWriter, r *http.Request, tok *token) {
	items := renderVisible(s.nst().Subnets, tok, s.subnetVisible, s.renderSubnet)
	s.writeNeutronList(w, r, "subnets", items, s.renderSubnet(&netSubnet{}))
}

func (s *Server) findSubnet(id string, tok *token) (*netSubnet, *apiError) {
	return findVisible(s.nst().Subnets, id, tok, s.subnetVisible, errSubnetNotFound)
}

func (s *Server) getSubnet(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcNetwork, w, r, tok, "subnet", s.findSubnet, s.renderSubnet)
}

func (s *Server) createSubnet(w http.ResponseWriter, r *http.Request, tok *token) {
	var req subnetReq
	attrs, e := decodeNeutron(r, "subnet", subnetPost, subnetKnown, &req)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	sub, e := s.newSubnet(tok, &req, attrs)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	writeNeutronOne(w, r, http.StatusCreated, "subnet", s.renderSubnet(sub))
}

func (s *Server) newSubnet(tok *token, req *subnetReq, attrs map[string]json.RawMessage) (*netSubnet, *apiError) {
	ns := s.nst()
	if req.NetworkID == "" {
		return nil, errRequired("network_id")
	}
	if req.IPVersion == 0 {
		return nil, errRequired("ip_version")
	}
	if req.IPVersion != 4 && req.IPVersion != 6 {
		return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for ip_version. Reason: %d is not in valid_values [4, 6].", req.IPVersion)
	}
	if req.CIDR == "" {
		return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Bad subnets request: a subnetpool must be specified in the absence of a cidr.")
	}
	net, e := s.findNetwork(req.NetworkID, tok)
	if e != nil {
		return nil, e
	}
	if !tok.isAdmin() && net.ProjectID != tok.ProjectID {
		return nil, errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:create_subnet) is disallowed by policy")
	}
	proj, e := netCreateProject(tok, req.ProjectID, req.TenantID)
	if e != nil {
		return nil, e
	}
	pfx, ok := parseSubnetCIDR(req.CIDR)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "InvalidInput", "Invalid input for operation: %s is not in a CIDR format.", req.CIDR)
	}
	if (req.IPVersion == 4) != pfx.Addr().Is4() {
		return nil, errorf(http.StatusBadRequest, "InvalidInput", "Invalid input for operation: Cannot use IPv%d subnet %s with ip_version %d.", map[bool]int{true: 4, false: 6}[pfx.Addr().Is4()], req.CIDR, req.IPVersion)
	}
	for _, id := range net.Subnets {
		if o := ns.Subnets[id]; o != nil && o.prefix().Overlaps(pfx) {
			return nil, errorf(http.StatusBadRequest, "InvalidInput", "Invalid input for operation: Requested subnet with cidr: %s for network: %s overlaps with another subnet.", req.CIDR, net.ID)
		}
	}
	if e := s.netQuotaCheck(proj, "subnet", 1); e != nil {
		return nil, e
	}
	sub := &netSubnet{NetworkID: net.ID, CIDR: pfx.String(), IPVersion: req.IPVersion, EnableDHCP: true,
		DNSNameservers: []string{}, HostRoutes: []any{}, Allocated: map[string]string{}}
	sub.init(s, s.newID(), proj)
	var gw netip.Addr
	switch {
	case attrNull(attrs, "gateway_ip"):
	case req.GatewayIP != nil:
		a, err := netip.ParseAddr(*req.GatewayIP)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for gateway_ip. Reason: '%s' is not a valid IP address.", *req.GatewayIP)
		}
		first, last, _ := ipHostRange(pfx)
		anycast := a.Is6() && a == pfx.Masked().Addr() // allowed for IPv6
		if !pfx.Contains(a) || (a.Less(first) && !anycast) || last.Less(a) {
			return nil, errorf(http.StatusBadRequest, "InvalidInput", "Invalid input for operation: Gateway is not valid on subnet.")
		}
		gw = a
	case pfx.Addr().Is6():
		// Neutron's IPv6 default gateway is the Subnet-Router anycast
		// address (the prefix itself); the pool starts right after it.
		gw = pfx.Masked().Addr()
	default:
		if first, _, ok := ipHostRange(pfx); ok {
			gw = first
		}
	}
	if gw.IsValid() {
		sub.GatewayIP = gw.String()
	}
	if req.Pools != nil && !attrNull(attrs, "allocation_pools") {
		pools, e := validatePools(*req.Pools, pfx, gw)
		if e != nil {
			return nil, e
		}
		sub.Pools = pools
	} else {
		sub.Pools = ipDefaultPools(pfx, gw)
	}
	if e := applySubnet(sub, req); e != nil {
		return nil, e
	}
	if req.IPv6RAMode != nil {
		sub.IPv6RAMode = *req.IPv6RAMode
	}
	if req.IPv6AddressMode != nil {
		sub.IPv6AddressMode = *req.IPv6AddressMode
	}
	ns.Subnets[sub.ID] = sub
	net.Subnets = append(net.Subnets, sub.ID)
	net.touch(s)
	return sub, nil
}

// validatePools checks allocation pools against the CIDR, each other and
// the gateway, as Neutron does.
func validatePools(in []ipRange, pfx netip.Prefix, gw netip.Addr) ([]ipRange, *apiError) {
	type rng struct{ s, e netip.Addr }
	var rs []rng
	out := []ipRange{}
	for _, p := range in {
		a, err1 := netip.ParseAddr(p.Start)
		b, err2 := netip.ParseAddr(p.End)
		if err1 != nil || err2 != nil || b.Less(a) {
			return nil, errorf(http.StatusBadRequest, "InvalidAllocationPool", "The allocation pool %s-%s is not valid.", p.Start, p.End)
		}
		first, last, _ := ipHostRange(pfx)
		if !pfx.Contains(a) || !pfx.Contains(b) || a.Less(first) || last.Less(b) {
			return nil, errorf(http.StatusBadRequest, "OutOfBoundsAllocationPool", "The allocation pool %s-%s spans beyond the subnet cidr %s.", p.Start, p.End, pfx)
		}
		for _, o := range rs {
			if !b.Less(o.s) && !o.e.Less(a) {
				return nil, errorf(http.StatusConflict, "OverlappingAllocationPools", "Found overlapping allocation pools: %s-%s %s-%s for subnet %s.", o.s, o.e, a, b, pfx)
			}
		}
		if gw.IsValid() && !gw.Less(a) && !b.Less(gw) {
			return nil, errorf(http.StatusConflict, "GatewayConflictWithAllocationPools", "Gateway ip %s conflicts with allocation pool %s-%s.", gw, a, b)
		}
		rs = append(rs, rng{a, b})
		out = append(out, ipRange{Start: a.String(), End: b.String()})
	}
	return out, nil
}

func applySubnet(sub *netSubnet, req *subnetReq) *apiError {
	if req.Name != nil {
		sub.Name = *req.Name
	}
	if req.Description != nil {
		sub.Description = *req.Description
	}
	if req.DNSNameservers != nil {
		for _, d := range *req.DNSNameservers {
			if _, err := netip.ParseAddr(d); err != nil {
				return errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for dns_nameservers. Reason: '%s' is not a valid nameserver.", d)
			}
		}
		sub.DNSNameservers = append([]string{}, *req.DNSNameservers...)
	}
	if req.HostRoutes != nil {
		sub.HostRoutes = append([]any{}, *req.HostRoutes...)
	}
	if req.EnableDHCP != nil {
		sub.EnableDHCP = *req.EnableDHCP
	}
	return nil
}

func (s *Server) updateSubnet(w http.ResponseWriter, r *http.Request, tok *token) {
	sub, e := s.findSubnet(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	var req subnetReq
	attrs, e := decodeNeutron(r, "subnet", subnetPut, append(subnetKnown, subnetPost...), &req)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if !tok.isAdmin() && sub.ProjectID != tok.ProjectID {
		s.writeError(w, svcNetwork, netAdminOnly(tok, "update_subnet"))
		return
	}
	pfx := sub.prefix()
	gw, _ := netip.ParseAddr(sub.GatewayIP)
	if attrSet(attrs, "gateway_ip") {
		if attrNull(attrs, "gateway_ip") {
			gw = netip.Addr{}
		} else {
			a, err := netip.ParseAddr(*req.GatewayIP)
			if err != nil || !pfx.Contains(a) {
				s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "InvalidInput", "Invalid input for operation: Gateway is not valid on subnet."))
				return
			}
			gw = a
		}
	}
	pools := sub.Pools
	if req.Pools != nil {
		p, e := validatePools(*req.Pools, pfx, gw)
		if e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
		pools = p
	} else if gw.IsValid() && ipInPools(pools, gw) {
		s.writeError(w, svcNetwork, errorf(http.StatusConflict, "GatewayConflictWithAllocationPools", "Gateway ip %s conflicts with allocation pool.", gw))
		return
	}
	if e := applySubnet(sub, &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	sub.Pools = pools
	sub.GatewayIP = ""
	if gw.IsValid() {
		sub.GatewayIP = gw.String()
	}
	sub.touch(s)
	writeNeutronOne(w, r, http.StatusOK, "subnet", s.renderSubnet(sub))
}

func (s *Server) deleteSubnet(w http.ResponseWriter, r *http.Request, tok *token) {
	sub, e := s.findSubnet(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if !tok.isAdmin() && sub.ProjectID != tok.ProjectID {
		s.writeError(w, svcNetwork, netAdminOnly(tok, "delete_subnet"))
		return
	}
	ns := s.nst()
	for _, portID := range sub.Allocated {
		p := ns.Ports[portID]
		if p == nil || p.DeviceOwner == ownerDHCP {
			continue
		}
		s.writeError(w, svcNetwork, errorf(http.StatusConflict, "SubnetInUse", "Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet.", sub.ID))
		return
	}
	if net := ns.Networks[sub.NetworkID]; net != nil {
		for i, id := range net.Subnets {
			if id == sub.ID {
				net.Subnets = append(net.Subnets[:i:i], net.Subnets[i+1:]...)
				break
			}
		}
		net.touch(s)
	}
	delete(ns.Subnets, sub.ID)
	w.WriteHeader(http.StatusNoContent)
}

// parseSubnetCIDR reads a subnet's cidr as Neutron (netaddr) does: an IPv4
// address may leave out trailing zero octets ("10.1.0/24" is 10.1.0.0/24) and
// host bits are cleared ("10.4.0.1/24" is 10.4.0.0/24).
func parseSubnetCIDR(cidr string) (netip.Prefix, bool) {
	addr, bits, ok := strings.Cut(cidr, "/")
	if !ok {
		return netip.Prefix{}, false
	}
	if !strings.Contains(addr, ":") {
		if n := strings.Count(addr, "."); n < 3 && addr != "" {
			addr += strings.Repeat(".0", 3-n)
		}
	}
	pfx, err := netip.ParsePrefix(addr + "/" + bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return pfx.Masked(), true
}
