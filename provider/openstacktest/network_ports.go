package openstacktest

import (
	"net"
	"net/http"
	"strings"
)

func (s *Server) renderPort(p *netPort, tok *token) map[string]any {
	fixed := []map[string]any{}
	for _, f := range p.FixedIPs {
		fixed = append(fixed, map[string]any{"subnet_id": f.SubnetID, "ip_address": f.IPAddress})
	}
	pairs := []map[string]any{}
	for _, a := range p.AddressPairs {
		pairs = append(pairs, map[string]any{"ip_address": a.IPAddress, "mac_address": a.MACAddress})
	}
	m := map[string]any{
		"network_id":              p.NetworkID,
		"mac_address":             p.MACAddress,
		"admin_state_up":          p.AdminStateUp,
		"status":                  s.portStatus(p),
		"fixed_ips":               fixed,
		"security_groups":         append([]string{}, p.SecurityGroups...),
		"allowed_address_pairs":   pairs,
		"device_id":               p.DeviceID,
		"device_owner":            p.DeviceOwner,
		"port_security_enabled":   p.PortSecurityEnabled,
		"binding:vnic_type":       p.VNICType,
		"extra_dhcp_opts":         append([]any{}, p.ExtraDHCPOpts...),
		"dns_name":                p.DNSName,
		"dns_assignment":          []any{},
		"qos_policy_id":           nil,
		"qos_network_policy_id":   nil,
		"propagate_uplink_status": false,
		"resource_request":        nil,
		"ip_allocation":           "immediate",
	}
	if tok == nil || tok.isAdmin() {
		vif, details := "unbound", map[string]any{}
		if p.HostID != "" {
			vif, details = "ovs", map[string]any{"port_filter": true, "connectivity": "l2"}
		}
		m["binding:host_id"] = p.HostID
		m["binding:profile"] = p.Profile
		m["binding:vif_type"] = vif
		m["binding:vif_details"] = details
	}
	return p.renderStd(m, true)
}

var (
	portPost = []string{"name", "description", "network_id", "admin_state_up", "mac_address", "fixed_ips",
		"security_groups", "allowed_address_pairs", "device_id", "device_owner", "port_security_enabled",
		"binding:host_id", "binding:vnic_type", "binding:profile", "project_id", "tenant_id",
		"extra_dhcp_opts", "dns_name", "dns_domain", "qos_policy_id", "propagate_uplink_status"}
	portPut = []string{"name", "description", "admin_state_up", "mac_address", "fixed_ips",
		"security_groups", "allowed_address_pairs", "device_id", "device_owner", "port_security_enabled",
		"binding:host_id", "binding:vnic_type", "binding:profile", "extra_dhcp_opts", "dns_name",
		"dns_domain", "qos_policy_id", "propagate_uplink_status"}
	portKnown = []string{"id", "status", "tags", "created_at", "updated_at", "revision_number",
		"binding:vif_type", "binding:vif_details", "dns_assignment", "ip_allocation", "resource_request"}
)

type portReq struct {
	Name           *string           `json:"name"`
	Description    *string           `json:"description"`
	NetworkID      string            `json:"network_id"`
	AdminStateUp   *bool             `json:"admin_state_up"`
	MACAddress     *string           `json:"mac_address"`
	FixedIPs       *[]fixedIPReq     `json:"fixed_ips"`
	SecurityGroups *[]string         `json:"security_groups"`
	AddressPairs   *[]netAddressPair `json:"allowed_address_pairs"`
	DeviceID       *string           `json:"device_id"`
	DeviceOwner    *string           `json:"device_owner"`
	PortSecurity   *bool             `json:"port_security_enabled"`
	HostID         *string           `json:"binding:host_id"`
	VNICType       *string           `json:"binding:vnic_type"`
	Profile        map[string]any    `json:"binding:profile"`
	ProjectID      string            `json:"project_id"`
	TenantID       string            `json:"tenant_id"`
	DNSName        *string           `json:"dns_name"`
}

type fixedIPReq struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

func netFixedSpecs(in *[]fixedIPReq) []fixedIPSpec {
	if in == nil {
		return nil
	}
	out := []fixedIPSpec{}
	for _, f := range *in {
		out = append(out, fixedIPSpec{SubnetID: f.SubnetID, IPAddress: f.IPAddress})
	}
	return out
}

func netValidMAC(mac string) *apiError {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || hw[0]&1 == 1 {
		return errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for mac_address. Reason: '%s' is not a valid MAC address.", mac)
	}
	return nil
}

func (s *Server) listPorts(w http.ResponseWriter, r *http.Request, tok *token) {
	items := renderVisible(s.nst().Ports, tok, netOwned, func(p *netPort) map[string]any { return s.renderPort(p, tok) })
	s.writeNeutronList(w, r, "ports", items, s.renderPort(&netPort{}, adminSample()))
}

func (s *Server) findPort(id string, tok *token) (*netPort, *apiError) {
	return findVisible(s.nst().Ports, id, tok, netOwned, errPortNotFound)
}

func (s *Server) getPort(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcNetwork, w, r, tok, "port", s.findPort, func(p *netPort) map[string]any { return s.renderPort(p, tok) })
}

func (s *Server) createPort(w http.ResponseWriter, r *http.Request, tok *token) {
	var req portReq
	if _, e := decodeNeutron(r, "port", portPost, portKnown, &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if req.NetworkID == "" {
		s.writeError(w, svcNetwork, errRequired("network_id"))
		return
	}
	net, e := s.findNetwork(req.NetworkID, tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	proj, e := netCreateProject(tok, req.ProjectID, req.TenantID)
	if e == nil && !tok.isAdmin() && net.ProjectID != tok.ProjectID && !net.Shared {
		e = errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:create_port and rule:create_port:network_id) is disallowed by policy")
	}
	if e == nil && req.MACAddress != nil {
		e = netValidMAC(*req.MACAddress)
		if e == nil && !tok.isAdmin() && net.ProjectID != tok.ProjectID {
			e = netAdminOnly(tok, "create_port:mac_address")
		}
	}
	if e == nil && req.HostID != nil {
		e = netAdminOnly(tok, "create_port:binding:host_id")
	}
	if e == nil && req.Profile != nil {
		e = netAdminOnly(tok, "create_port:binding:profile")
	}
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	c := portCreate{ProjectID: proj, Net: net, AdminStateUp: true, PortSecurity: req.PortSecurity,
		FixedIPs: netFixedSpecs(req.FixedIPs), Profile: req.Profile}
	if req.Name != nil {
		c.Name = *req.Name
	}
	if req.Description != nil {
		c.Description = *req.Description
	}
	if req.AdminStateUp != nil {
		c.AdminStateUp = *req.AdminStateUp
	}
	if req.MACAddress != nil {
		c.MACAddress = strings.ToLower(*req.MACAddress)
	}
	if req.SecurityGroups != nil {
		c.SecurityGroups = append([]string{}, *req.SecurityGroups...)
	}
	if req.AddressPairs != nil {
		c.AddressPairs = *req.AddressPairs
	}
	if req.DeviceID != nil {
		c.DeviceID = *req.DeviceID
	}
	if req.DeviceOwner != nil {
		c.DeviceOwner = *req.DeviceOwner
	}
	if req.HostID != nil {
		c.HostID = *req.HostID
	}
	if req.VNICType != nil {
		c.VNICType = *req.VNICType
	}
	if req.DNSName != nil {
		c.DNSName = *req.DNSName
	}
	p, e := s.newPort(c)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	writeNeutronOne(w, r, http.StatusCreated, "port", s.renderPort(p, tok))
}

func (s *Server) updatePort(w http.ResponseWriter, r *http.Request, tok *token) {
	p, e := s.findPort(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	var req portReq
	if _, e := decodeNeutron(r, "port", portPut, append(portKnown, portPost...), &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	ns := s.nst()
	if req.HostID != nil {
		if e := netAdminOnly(tok, "update_port:binding:host_id"); e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
	}
	if req.Profile != nil {
		if e := netAdminOnly(tok, "update_port:binding:profile"); e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
	}
	portSec := p.PortSecurityEnabled
	if req.PortSecurity != nil {
		portSec = *req.PortSecurity
	}
	sgs := p.SecurityGroups
	if req.SecurityGroups != nil {
		sgs = []string{}
		for _, id := range *req.SecurityGroups {
			g := ns.SecurityGroups[id]
			if g == nil || !netOwns(tok, g.ProjectID) {
				s.writeError(w, svcNetwork, errSecGroupNotFound(id))
				return
			}
			if !netHas(sgs, id) {
				sgs = append(sgs, id)
			}
		}
	}
	if !portSec && len(sgs) > 0 {
		if req.PortSecurity != nil && req.SecurityGroups == nil {
			s.writeError(w, svcNetwork, errorf(http.StatusConflict, "PortSecurityPortHasSecurityGroup", "Port has security group associated. Cannot disable port security or ip address until security group is removed."))
		} else {
			s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "PortSecurityAndIPRequiredForSecurityGroups", "Port security must be enabled and port must have an IP address in order to use security groups."))
		}
		return
	}
	pairs := p.AddressPairs
	if req.AddressPairs != nil {
		np, e := normalizePairs(*req.AddressPairs, p.MACAddress)
		if e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
		pairs = np
	}
	if !portSec && len(pairs) > 0 {
		s.writeError(w, svcNetwork, errorf(http.StatusConflict, "AddressPairAndPortSecurityRequired", "Port Security must be enabled in order to have allowed address pairs on a port."))
		return
	}
	if req.MACAddress != nil && strings.ToLower(*req.MACAddress) != p.MACAddress {
		mac := strings.ToLower(*req.MACAddress)
		if e := netValidMAC(mac); e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
		if e := netAdminOnly(tok, "update_port:mac_address"); e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
		if p.HostID != "" {
			s.writeError(w, svcNetwork, errorf(http.StatusConflict, "PortBound", "Unable to complete operation on port %s, port is already bound, port type: ovs, old_mac %s, new_mac %s.", p.ID, p.MACAddress, mac))
			return
		}
		if holder, used := ns.MACs[mac]; used && holder != p.ID {
			s.writeError(w, svcNetwork, errorf(http.StatusConflict, "MacAddressInUse", "Unable to complete operation for network %s. The mac address %s is in use.", p.NetworkID, mac))
			return
		}
		delete(ns.MACs, p.MACAddress)
		p.MACAddress = mac
		ns.MACs[mac] = p.ID
	}
	if req.FixedIPs != nil {
		net := ns.Networks[p.NetworkID]
		old := p.FixedIPs
		// Keep addresses the request repeats; release the rest, then
		// allocate the new ones.
		keep := map[string]bool{}
		for _, f := range *req.FixedIPs {
			if f.IPAddress != "" {
				keep[f.IPAddress] = true
			}
		}
		var released []netFixedIP
		for _, f := range old {
			if !keep[f.IPAddress] {
				released = append(released, f)
			}
		}
		s.releaseIPs(released, p.ID)
		ips, e := s.assignFixedIPs(net, p.ID, p.DeviceOwner, netFixedSpecs(req.FixedIPs))
		if e != nil {
			// Take every old address back: the failed allocation may
			// have released the kept ones too.
			for _, f := range old {
				if sub := ns.Subnets[f.SubnetID]; sub != nil {
					sub.Allocated[f.IPAddress] = p.ID
				}
			}
			s.writeError(w, svcNetwork, e)
			return
		}
		p.FixedIPs = ips
	}
	if req.Name != nil {
		p.Name = *req.Name
	}
	if req.Description != nil {
		p.Description = *req.Description
	}
	if req.AdminStateUp != nil {
		p.AdminStateUp = *req.AdminStateUp
	}
	if req.DeviceID != nil {
		p.DeviceID = *req.DeviceID
	}
	if req.DeviceOwner != nil {
		p.DeviceOwner = *req.DeviceOwner
	}
	if req.HostID != nil {
		p.HostID = *req.HostID
	}
	if req.VNICType != nil {
		p.VNICType = *req.VNICType
	}
	if req.Profile != nil {
		p.Profile = req.Profile
	}
	if req.DNSName != nil {
		p.DNSName = *req.DNSName
	}
	p.PortSecurityEnabled = portSec
	p.SecurityGroups = sgs
	p.AddressPairs = pairs
	p.touch(s)
	writeNeutronOne(w, r, http.StatusOK, "port", s.renderPort(p, tok))
}

func (s *Server) deletePort(w http.ResponseWriter, r *http.Request, tok *token) {
	p, e := s.findPort(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	switch p.DeviceOwner {
	case ownerRouterInterface, ownerRouterGateway, ownerFloatingIP:
		s.writeError(w, svcNetwork, errorf(http.StatusConflict, "ServicePortInUse", "Port %s cannot be deleted directly via the port API: has device owner %s.", p.ID, p.DeviceOwner))
		return
	}
	s.removePort(p)
	w.WriteHeader(http.StatusNoContent)
}
