package openstacktest

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"sort"
	"strings"
)

// ----- routers -----

func (s *Server) renderRouter(rt *netRouter, tok *token) map[string]any {
	ns := s.nst()
	var gw any
	if rt.GatewayNetworkID != "" {
		ips := []map[string]any{}
		if p := ns.Ports[rt.GatewayPortID]; p != nil {
			for _, f := range p.FixedIPs {
				ips = append(ips, map[string]any{"subnet_id": f.SubnetID, "ip_address": f.IPAddress})
			}
		}
		gw = map[string]any{"network_id": rt.GatewayNetworkID, "enable_snat": rt.EnableSNAT, "external_fixed_ips": ips}
	}
	m := map[string]any{
		"admin_state_up":          rt.AdminStateUp,
		"status":                  "ACTIVE",
		"external_gateway_info":   gw,
		"routes":                  append([]any{}, rt.Routes...),
		"availability_zone_hints": []string{},
		"availability_zones":      []string{"nova"},
		"flavor_id":               nil,
	}
	if tok.isAdmin() {
		m["distributed"] = false
		m["ha"] = false
	}
	return rt.renderStd(m, true)
}

var (
	routerPost  = []string{"name", "description", "admin_state_up", "external_gateway_info", "project_id", "tenant_id", "distributed", "ha", "availability_zone_hints", "flavor_id"}
	routerPut   = []string{"name", "description", "admin_state_up", "external_gateway_info", "routes", "distributed", "ha"}
	routerKnown = []string{"id", "status", "tags", "created_at", "updated_at", "revision_number", "availability_zones", "routes"}
)

type gatewayReq struct {
	NetworkID  string       `json:"network_id"`
	EnableSNAT *bool        `json:"enable_snat"`
	FixedIPs   []fixedIPReq `json:"external_fixed_ips"`
}

type routerReq struct {
	Name         *string         `json:"name"`
	Description  *string         `json:"description"`
	AdminStateUp *bool           `json:"admin_state_up"`
	Gateway      json.RawMessage `json:"external_gateway_info"`
	Routes       *[]any          `json:"routes"`
	ProjectID    string          `json:"project_id"`
	TenantID     string          `json:"tenant_id"`
}

func (s *Server) listRouters(w http.ResponseWriter, r *http.Request, tok *token) {
	items := renderVisible(s.nst().Routers, tok, netOwned, func(rt *netRouter) map[string]any { return s.renderRouter(rt, tok) })
	s.writeNeutronList(w, r, "routers", items, s.renderRouter(&netRouter{}, adminSample()))
}

func (s *Server) findRouter(id string, tok *token) (*netRouter, *apiError) {
	return findVisible(s.nst().Routers, id, tok, netOwned, errRouterNotFound)
}

func (s *Server) getRouter(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcNetwork, w, r, tok, "router", s.findRouter, func(rt *netRouter) map[string]any { return s.renderRouter(rt, tok) })
}

func (s *Server) createRouter(w http.ResponseWriter, r *http.Request, tok *token) {
	var req routerReq
	if _, e := decodeNeutron(r, "router", routerPost, routerKnown, &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	proj, e := netCreateProject(tok, req.ProjectID, req.TenantID)
	if e == nil {
		e = s.netQuotaCheck(proj, "router", 1)
	}
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	rt := &netRouter{AdminStateUp: true, Routes: []any{}}
	rt.init(s, s.newID(), proj)
	applyRouter(rt, &req)
	if e := s.setGateway(rt, req.Gateway, tok); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	s.nst().Routers[rt.ID] = rt
	writeNeutronOne(w, r, http.StatusCreated, "router", s.renderRouter(rt, tok))
}

// setGateway applies an external_gateway_info value: null or {} clears the
// gateway, a network sets it (creating the gateway port).
func (s *Server) setGateway(rt *netRouter, raw json.RawMessage, tok *token) *apiError {
	if len(raw) == 0 {
		return nil
	}
	ns := s.nst()
	var g gatewayReq
	if string(raw) != "null" {
		if err := json.Unmarshal(raw, &g); err != nil {
			return errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for external_gateway_info. Reason: %v.", err)
		}
	}
	if g.NetworkID == "" {
		if rt.GatewayNetworkID == "" {
			return nil
		}
		for _, f := range ns.FloatingIPs {
			if f.RouterID == rt.ID {
				return errorf(http.StatusConflict, "RouterExternalGatewayInUseByFloatingIp", "Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", rt.ID, rt.GatewayNetworkID)
			}
		}
		s.clearGateway(rt)
		return nil
	}
	net := ns.Networks[g.NetworkID]
	if net == nil || !s.networkVisible(net, tok) {
		return errNetworkNotFound(g.NetworkID)
	}
	if !net.External {
		return errorf(http.StatusBadRequest, "BadRequest", "Bad router request: Network %s is not an external network.", net.ID)
	}
	if g.EnableSNAT != nil && !tok.isAdmin() {
		return netAdminOnly(tok, "create_router:external_gateway_info:enable_snat")
	}
	if len(g.FixedIPs) > 0 && !tok.isAdmin() {
		return netAdminOnly(tok, "create_router:external_gateway_info:external_fixed_ips")
	}
	if rt.GatewayNetworkID == net.ID && len(g.FixedIPs) == 0 {
		if g.EnableSNAT != nil {
			rt.EnableSNAT = *g.EnableSNAT
		}
		return nil
	}
	if rt.GatewayNetworkID != "" {
		for _, f := range ns.FloatingIPs {
			if f.RouterID == rt.ID {
				return errorf(http.StatusConflict, "RouterExternalGatewayInUseByFloatingIp", "Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", rt.ID, rt.GatewayNetworkID)
			}
		}
	}
	var fixed []fixedIPSpec
	if len(g.FixedIPs) > 0 {
		fixed = netFixedSpecs(&g.FixedIPs)
	}
	p, e := s.newPort(portCreate{Net: net, DeviceID: rt.ID, DeviceOwner: ownerRouterGateway, FixedIPs: fixed, AdminStateUp: true})
	if e != nil {
		return e
	}
	s.clearGateway(rt)
	rt.GatewayNetworkID, rt.GatewayPortID = net.ID, p.ID
	rt.EnableSNAT = true
	if g.EnableSNAT != nil {
		rt.EnableSNAT = *g.EnableSNAT
	}
	return nil
}

func (s *Server) clearGateway(rt *netRouter) {
	if p := s.nst().Ports[rt.GatewayPortID]; p != nil {
		s.removePort(p)
	}
	rt.GatewayNetworkID, rt.GatewayPortID, rt.EnableSNAT = "", "", false
}

// applyRouter sets the name, description and admin state req names.
func applyRouter(rt *netRouter, req *routerReq) {
	if req.Name != nil {
		rt.Name = *req.Name
	}
	if req.Description != nil {
		rt.Description = *req.Description
	}
	if req.AdminStateUp != nil {
		rt.AdminStateUp = *req.AdminStateUp
	}
}

func (s *Server) updateRouter(w http.ResponseWriter, r *http.Request, tok *token) {
	rt, e := s.findRouter(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	var req routerReq
	if _, e := decodeNeutron(r, "router", routerPut, append(routerKnown, routerPost...), &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if e := s.setGateway(rt, req.Gateway, tok); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	applyRouter(rt, &req)
	if req.Routes != nil {
		rt.Routes = append([]any{}, *req.Routes...)
	}
	rt.touch(s)
	writeNeutronOne(w, r, http.StatusOK, "router", s.renderRouter(rt, tok))
}

func (s *Server) deleteRouter(w http.ResponseWriter, r *http.Request, tok *token) {
	rt, e := s.findRouter(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	ns := s.nst()
	var inUse []string
	for _, p := range ns.Ports {
		if p.DeviceID == rt.ID && p.DeviceOwner == ownerRouterInterface {
			inUse = append(inUse, p.ID)
		}
	}
	if len(inUse) > 0 {
		// Neutron names the interface ports (recorded).
		sort.Strings(inUse)
		s.writeError(w, svcNetwork, errorf(http.StatusConflict, "RouterInUse", "Router %s has ports still attached: %s", rt.ID, strings.Join(inUse, ", ")))
		return
	}
	s.clearGateway(rt)
	delete(ns.Routers, rt.ID)
	w.WriteHeader(http.StatusNoContent)
}

type interfaceReq struct {
	SubnetID string `json:"subnet_id"`
	PortID   string `json:"port_id"`
}

func (s *Server) interfaceInfo(rt *netRouter, p *netPort) map[string]any {
	subs := []string{}
	for _, f := range p.FixedIPs {
		subs = append(subs, f.SubnetID)
	}
	m := map[string]any{"id": rt.ID, "port_id": p.ID, "network_id": p.NetworkID, "subnet_ids": subs,
		"project_id": rt.ProjectID, "tenant_id": rt.ProjectID, "tags": []string{}}
	if len(subs) > 0 {
		m["subnet_id"] = subs[0]
	}
	return m
}

// interfaceRequest finds the router in the path and reads an add or remove
// interface body, or writes the error and returns false.
func (s *Server) interfaceRequest(w http.ResponseWriter, r *http.Request, tok *token) (*netRouter, interfaceReq, bool) {
	var req interfaceReq
	rt, e := s.findRouter(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return nil, req, false
	}
	if e := decodeJSON(r, &req); e != nil {
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "HTTPBadRequest", "%s", e.Message))
		return nil, req, false
	}
	if req.SubnetID == "" && req.PortID == "" {
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "BadRequest", "Bad router request: Either subnet_id or port_id must be specified."))
		return nil, req, false
	}
	if req.SubnetID != "" && req.PortID != "" {
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "BadRequest", "Bad router request: Cannot specify both subnet-id and port-id."))
		return nil, req, false
	}
	return rt, req, true
}

// routerPortOn returns rt's interface port with an address on subnetID.
func (s *Server) routerPortOn(rt *netRouter, subnetID string) *netPort {
	for _, p := range s.nst().Ports {
		if p.DeviceID != rt.ID || p.DeviceOwner != ownerRouterInterface {
			continue
		}
		for _, f := range p.FixedIPs {
			if f.SubnetID == subnetID {
				return p
			}
		}
	}
	return nil
}

func (s *Server) addRouterInterface(w http.ResponseWriter, r *http.Request, tok *token) {
	rt, req, ok := s.interfaceRequest(w, r, tok)
	if !ok {
		return
	}
	ns := s.nst()
	if req.PortID != "" {
		p, e := s.findPort(req.PortID, tok)
		if e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
		if p.DeviceID != "" || p.DeviceOwner != "" {
			s.writeError(w, svcNetwork, errorf(http.StatusConflict, "PortInUse", "Unable to complete operation on port %s for network %s. Port already has an attached device %s.", p.ID, p.NetworkID, p.DeviceID))
			return
		}
		if len(p.FixedIPs) == 0 {
			s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "BadRequest", "Bad router request: Router port must have at least one fixed IP."))
			return
		}
		for _, f := range p.FixedIPs {
			if s.routerPortOn(rt, f.SubnetID) != nil {
				s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "BadRequest", "Bad router request: Router already has a port on subnet %s.", f.SubnetID))
				return
			}
		}
		p.DeviceID, p.DeviceOwner = rt.ID, ownerRouterInterface
		p.touch(s)
		rt.touch(s)
		writeJSON(w, http.StatusOK, s.interfaceInfo(rt, p))
		return
	}
	sub, e := s.findSubnet(req.SubnetID, tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if sub.GatewayIP == "" {
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "BadRequest", "Bad router request: Subnet for router interface must have a gateway IP."))
		return
	}
	if s.routerPortOn(rt, sub.ID) != nil {
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "BadRequest", "Bad router request: Router already has a port on subnet %s.", sub.ID))
		return
	}
	if net := ns.Networks[sub.NetworkID]; net != nil && net.External {
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "BadRequest", "Bad router request: Router interface cannot be attached to the external network subnet %s.", sub.ID))
		return
	}
	p, e := s.newPort(portCreate{ProjectID: rt.ProjectID, Net: ns.Networks[sub.NetworkID], DeviceID: rt.ID,
		DeviceOwner: ownerRouterInterface, AdminStateUp: true, SecurityGroups: []string{},
		FixedIPs: []fixedIPSpec{{SubnetID: sub.ID, IPAddress: sub.GatewayIP}}})
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	rt.touch(s)
	writeJSON(w, http.StatusOK, s.interfaceInfo(rt, p))
}

func (s *Server) removeRouterInterface(w http.ResponseWriter, r *http.Request, tok *token) {
	rt, req, ok := s.interfaceRequest(w, r, tok)
	if !ok {
		return
	}
	ns := s.nst()
	var p *netPort
	if req.PortID != "" {
		p = ns.Ports[req.PortID]
		if p == nil || p.DeviceID != rt.ID || p.DeviceOwner != ownerRouterInterface {
			s.writeError(w, svcNetwork, errorf(http.StatusNotFound, "RouterInterfaceNotFound", "Router %s does not have an interface with id %s", rt.ID, req.PortID))
			return
		}
	} else {
		if _, e := s.findSubnet(req.SubnetID, tok); e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
		p = s.routerPortOn(rt, req.SubnetID)
		if p == nil {
			s.writeError(w, svcNetwork, errorf(http.StatusNotFound, "RouterInterfaceNotFoundForSubnet", "Router %s has no interface on subnet %s", rt.ID, req.SubnetID))
			return
		}
	}
	// Floating IPs reached through this interface keep it in use.
	for _, f := range p.FixedIPs {
		for _, fip := range ns.FloatingIPs {
			if fip.RouterID == rt.ID && fip.SubnetID == f.SubnetID {
				s.writeError(w, svcNetwork, errorf(http.StatusConflict, "RouterInterfaceInUseByFloatingIP", "Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more floating IPs.", f.SubnetID, rt.ID))
				return
			}
		}
	}
	info := s.interfaceInfo(rt, p)
	s.removePort(p)
	rt.touch(s)
	writeJSON(w, http.StatusOK, info)
}

// ----- floating IPs -----

// fipStatus is the status a floating IP shows. Neutron's L3 plugin creates
// floating IPs DOWN and leaves the status alone on updates; the L3 agent
// then reports ACTIVE or DOWN. So a write answers with the status from
// before it, and agentReport models the agent acting right after.
func fipStatus(f *netFloatingIP) string {
	if f.Status != "" {
		return f.Status
	}
	if f.AssocPortID != "" {
		return "ACTIVE"
	}
	return "DOWN"
}

// agentReport sets the status the L3 agent reports for f's association.
func agentReport(f *netFloatingIP) {
	f.Status = "DOWN"
	if f.AssocPortID != "" {
		f.Status = "ACTIVE"
	}
}

func (s *Server) renderFloatingIP(f *netFloatingIP) map[string]any {
	str := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	m := map[string]any{
		"floating_network_id": f.FloatingNetworkID,
		"floating_ip_address": f.FloatingIP,
		"port_id":             str(f.AssocPortID),
		"fixed_ip_address":    str(f.FixedIP),
		"router_id":           str(f.RouterID),
		"status":              fipStatus(f),
		"qos_policy_id":       nil,
		"dns_name":            f.DNSName,
		"dns_domain":          f.DNSDomain,
		"port_forwardings":    []any{},
		"port_details":        nil,
	}
	if p := s.nst().Ports[f.AssocPortID]; p != nil {
		m["port_details"] = map[string]any{"name": p.Name, "network_id": p.NetworkID, "mac_address": p.MACAddress,
			"admin_state_up": p.AdminStateUp, "status": s.portStatus(p), "device_id": p.DeviceID, "device_owner": p.DeviceOwner}
	}
	return f.renderStd(m, true)
}

var (
	fipPost  = []string{"floating_network_id", "floating_ip_address", "port_id", "fixed_ip_address", "subnet_id", "description", "project_id", "tenant_id", "dns_name", "dns_domain", "qos_policy_id"}
	fipPut   = []string{"port_id", "fixed_ip_address", "description", "qos_policy_id"}
	fipKnown = []string{"id", "status", "router_id", "tags", "created_at", "updated_at", "revision_number", "port_details", "port_forwardings"}
)

type fipReq struct {
	NetworkID   string  `json:"floating_network_id"`
	Address     string  `json:"floating_ip_address"`
	PortID      *string `json:"port_id"`
	FixedIP     *string `json:"fixed_ip_address"`
	SubnetID    string  `json:"subnet_id"`
	Description *string `json:"description"`
	ProjectID   string  `json:"project_id"`
	TenantID    string  `json:"tenant_id"`
	DNSName     string  `json:"dns_name"`
	DNSDomain   string  `json:"dns_domain"`
}

func (s *Server) listFloatingIPs(w http.ResponseWriter, r *http.Request, tok *token) {
	items := renderVisible(s.nst().FloatingIPs, tok, netOwned, s.renderFloatingIP)
	s.writeNeutronList(w, r, "floatingips", items, s.renderFloatingIP(&netFloatingIP{}))
}

func (s *Server) findFloatingIP(id string, tok *token) (*netFloatingIP, *apiError) {
	return findVisible(s.nst().FloatingIPs, id, tok, netOwned, errFloatingIPNotFound)
}

func (s *Server) getFloatingIP(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcNetwork, w, r, tok, "floatingip", s.findFloatingIP, s.renderFloatingIP)
}

func (s *Server) createFloatingIP(w http.ResponseWriter, r *http.Request, tok *token) {
	var req fipReq
	attrs, e := decodeNeutron(r, "floatingip", fipPost, fipKnown, &req)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if req.NetworkID == "" {
		s.writeError(w, svcNetwork, errRequired("floating_network_id"))
		return
	}
	ns := s.nst()
	net, e := s.findNetwork(req.NetworkID, tok)
	if e == nil && !net.External {
		e = errorf(http.StatusBadRequest, "BadRequest", "Bad floatingip request: Network %s is not a valid external network.", net.ID)
	}
	var proj string
	if e == nil {
		proj, e = netCreateProject(tok, req.ProjectID, req.TenantID)
	}
	if e == nil && req.Address != "" {
		e = netAdminOnly(tok, "create_floatingip:floating_ip_address")
	}
	if e == nil {
		e = s.netQuotaCheck(proj, "floatingip", 1)
	}
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	f := &netFloatingIP{FloatingNetworkID: net.ID, DNSName: req.DNSName, DNSDomain: req.DNSDomain}
	f.init(s, s.newID(), proj)
	if req.Description != nil {
		f.Description = *req.Description
	}
	var fixed []fixedIPSpec
	if req.Address != "" || req.SubnetID != "" {
		fixed = []fixedIPSpec{{SubnetID: req.SubnetID, IPAddress: req.Address}}
	}
	p, e := s.newPort(portCreate{Net: net, DeviceID: f.ID, DeviceOwner: ownerFloatingIP, FixedIPs: fixed, AdminStateUp: true})
	if e != nil {
		if e.Type == "IpAddressGenerationFailure" {
			e = errorf(http.StatusBadRequest, "ExternalIpAddressExhausted", "Unable to find any IP address on external network %s.", net.ID)
		}
		s.writeError(w, svcNetwork, e)
		return
	}
	if len(p.FixedIPs) == 0 {
		s.removePort(p)
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "BadRequest", "Bad floatingip request: Network %s has no subnet.", net.ID))
		return
	}
	f.PortID = p.ID
	f.FloatingIP = p.FixedIPs[0].IPAddress
	ns.FloatingIPs[f.ID] = f
	if req.PortID != nil && !attrNull(attrs, "port_id") {
		if e := s.associate(f, *req.PortID, req.FixedIP, tok); e != nil {
			delete(ns.FloatingIPs, f.ID)
			s.removePort(p)
			s.writeError(w, svcNetwork, e)
			return
		}
	}
	f.Status = "DOWN"
	writeNeutronOne(w, r, http.StatusCreated, "floatingip", s.renderFloatingIP(f))
	agentReport(f)
}

// associate points f at a fixed IP of portID, checking that a router joins
// the port's subnet to f's external network.
func (s *Server) associate(f *netFloatingIP, portID string, fixedIP *string, tok *token) *apiError {
	ns := s.nst()
	p := ns.Ports[portID]
	if p == nil || !netOwns(tok, p.ProjectID) {
		return errPortNotFound(portID)
	}
	var ip netFixedIP
	switch {
	case fixedIP != nil && *fixedIP != "":
		found := false
		for _, x := range p.FixedIPs {
			if x.IPAddress == *fixedIP {
				ip, found = x, true
			}
		}
		if !found {
			return errorf(http.StatusBadRequest, "BadRequest", "Bad floatingip request: Port %s does not have fixed ip %s.", p.ID, *fixedIP)
		}
	default:
		var v4 []netFixedIP
		for _, x := range p.FixedIPs {
			if netip.MustParseAddr(x.IPAddress).Is4() {
				v4 = append(v4, x)
			}
		}
		switch len(v4) {
		case 0:
			return errorf(http.StatusBadRequest, "BadRequest", "Bad floatingip request: Port %s does not have any fixed IPv4 address.", p.ID)
		case 1:
			ip = v4[0]
		default:
			return errorf(http.StatusBadRequest, "BadRequest", "Bad floatingip request: Port %s has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP.", p.ID)
		}
	}
	routerID := ""
	for _, rt := range ns.Routers {
		if rt.GatewayNetworkID == f.FloatingNetworkID && s.routerPortOn(rt, ip.SubnetID) != nil {
			routerID = rt.ID
			break
		}
	}
	if routerID == "" {
		return errorf(http.StatusNotFound, "ExternalGatewayForFloatingIPNotFound", "External network %s is not reachable from subnet %s.  Therefore, cannot associate Port %s with a Floating IP.", f.FloatingNetworkID, ip.SubnetID, p.ID)
	}
	for _, o := range ns.FloatingIPs {
		if o.ID != f.ID && o.AssocPortID == p.ID && o.FixedIP == ip.IPAddress && o.FloatingNetworkID == f.FloatingNetworkID {
			return errorf(http.StatusConflict, "FloatingIPPortAlreadyAssociated", "Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.", f.FloatingIP, f.ID, p.ID, ip.IPAddress, f.FloatingNetworkID)
		}
	}
	f.AssocPortID, f.FixedIP, f.RouterID, f.SubnetID = p.ID, ip.IPAddress, routerID, ip.SubnetID
	return nil
}

func (s *Server) updateFloatingIP(w http.ResponseWriter, r *http.Request, tok *token) {
	f, e := s.findFloatingIP(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	var req fipReq
	attrs, e := decodeNeutron(r, "floatingip", fipPut, append(fipKnown, fipPost...), &req)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if attrSet(attrs, "port_id") {
		if attrNull(attrs, "port_id") || req.PortID == nil || *req.PortID == "" {
			f.AssocPortID, f.FixedIP, f.RouterID, f.SubnetID = "", "", "", ""
		} else if e := s.associate(f, *req.PortID, req.FixedIP, tok); e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
	}
	if req.Description != nil {
		f.Description = *req.Description
	}
	f.touch(s)
	if f.Status == "" {
		f.Status = "DOWN"
	}
	writeNeutronOne(w, r, http.StatusOK, "floatingip", s.renderFloatingIP(f))
	agentReport(f)
}

func (s *Server) deleteFloatingIP(w http.ResponseWriter, r *http.Request, tok *token) {
	f, e := s.findFloatingIP(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	ns := s.nst()
	if p := ns.Ports[f.PortID]; p != nil {
		s.removePort(p)
	}
	delete(ns.FloatingIPs, f.ID)
	w.WriteHeader(http.StatusNoContent)
}
