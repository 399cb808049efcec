package openstacktest

import (
	"net/http"
	"sort"
	"strings"
)

// This file is the network side's internal API for the other simulated
// services (Nova's ports, Octavia's VIP ports). Every function runs with
// s.mu held.

// portSpec describes a port another service creates.
type portSpec struct {
	ProjectID string
	NetworkID string
	// FixedIPs are the addresses to take; empty means one address from the
	// first subnet with room.
	FixedIPs []fixedIPSpec
	// SecurityGroups are group IDs; nil means the project's "default" group.
	SecurityGroups              []string
	Name, DeviceID, DeviceOwner string
	Tags                        []string
}

// fixedIPSpec asks for an address: a subnet, an address, or both.
type fixedIPSpec struct{ SubnetID, IPAddress string }

// portInfo is what another service needs to know of a port.
type portInfo struct {
	ID, NetworkID, NetworkName, ProjectID, MACAddress, DeviceID, DeviceOwner string
	// FixedIPs are the port's addresses.
	FixedIPs []string
	// FloatingIPs are the floating IP addresses associated with the port.
	FloatingIPs []string
}

// portCreate is everything a new port can be created with.
type portCreate struct {
	ProjectID   string
	Net         *netNetwork
	Name        string
	Description string
	DeviceID    string
	DeviceOwner string
	MACAddress  string
	// FixedIPs nil: automatic allocation; empty: no address.
	FixedIPs []fixedIPSpec
	// SecurityGroups nil: the default group (when port security is on).
	SecurityGroups []string
	AddressPairs   []netAddressPair
	AdminStateUp   bool
	PortSecurity   *bool
	HostID         string
	VNICType       string
	Profile        map[string]any
	DNSName        string
	Tags           []string
}

// netCreatePort creates a port for another service, with quota, IPAM and a
// 404 for an unknown network.
func (s *Server) netCreatePort(spec portSpec) (portInfo, *apiError) {
	ns := s.nst()
	net := ns.Networks[spec.NetworkID]
	if net == nil {
		return portInfo{}, errNetworkNotFound(spec.NetworkID)
	}
	if net.ProjectID != spec.ProjectID && !net.Shared {
		return portInfo{}, errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:create_port) is disallowed by policy")
	}
	var fixed []fixedIPSpec
	if len(spec.FixedIPs) > 0 {
		fixed = spec.FixedIPs
	}
	c := portCreate{
		ProjectID: spec.ProjectID, Net: net, Name: spec.Name, DeviceID: spec.DeviceID,
		DeviceOwner: spec.DeviceOwner, FixedIPs: fixed, SecurityGroups: spec.SecurityGroups,
		AdminStateUp: true, Tags: spec.Tags,
	}
	// Nova's ports are bound to the compute host as they are created.
	if strings.HasPrefix(spec.DeviceOwner, "compute:") && spec.DeviceID != "" {
		c.HostID = simComputeHost
	}
	p, err := s.newPort(c)
	if err != nil {
		return portInfo{}, err
	}
	return s.portInfo(p), nil
}

// netPort describes port id.
func (s *Server) netPort(id string) (portInfo, bool) {
	p := s.nst().Ports[id]
	if p == nil {
		return portInfo{}, false
	}
	return s.portInfo(p), true
}

// netBindPort attaches port id to a device (a Nova server): it becomes
// bound and ACTIVE. A port attached to another device is a 409 PortInUse.
func (s *Server) netBindPort(id, deviceID, deviceOwner string) *apiError {
	p := s.nst().Ports[id]
	if p == nil {
		return errPortNotFound(id)
	}
	if p.DeviceID != "" && p.DeviceID != deviceID {
		return errorf(http.StatusConflict, "PortInUse", "Unable to complete operation on port %s for network %s. Port already has an attached device %s.", p.ID, p.NetworkID, p.DeviceID)
	}
	p.DeviceID, p.DeviceOwner = deviceID, deviceOwner
	p.HostID = simComputeHost
	p.touch(s)
	return nil
}

// netUnbindPort detaches port id from its device.
func (s *Server) netUnbindPort(id string) {
	p := s.nst().Ports[id]
	if p == nil {
		return
	}
	p.DeviceID, p.DeviceOwner, p.HostID = "", "", ""
	p.touch(s)
}

// netDeletePort deletes port id, disassociating its floating IPs.
func (s *Server) netDeletePort(id string) {
	if p := s.nst().Ports[id]; p != nil {
		s.removePort(p)
	}
}

// netSubnetNetwork returns the network of subnet subnetID.
func (s *Server) netSubnetNetwork(subnetID string) (string, bool) {
	sub := s.nst().Subnets[subnetID]
	if sub == nil {
		return "", false
	}
	return sub.NetworkID, true
}

// netSecurityGroupID resolves a security group name or ID as projectID sees
// it: 404 when there is none, 409 when a name matches several.
func (s *Server) netSecurityGroupID(projectID, nameOrID string) (string, *apiError) {
	ns := s.nst()
	if nameOrID == "default" {
		return s.ensureDefaultSecGroup(projectID), nil
	}
	if g := ns.SecurityGroups[nameOrID]; g != nil && g.ProjectID == projectID {
		return g.ID, nil
	}
	var ids []string
	for _, g := range ns.SecurityGroups {
		if g.Name == nameOrID && g.ProjectID == projectID {
			ids = append(ids, g.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", errSecGroupNotFound(nameOrID)
	case 1:
		return ids[0], nil
	}
	return "", errorf(http.StatusConflict, "NoUniqueMatch", "Multiple security_group matches found for name '%s', use an ID to be more specific.", nameOrID)
}

// simComputeHost is the binding host of ports bound to simulated servers.
const simComputeHost = "openstacktest-compute"

func (s *Server) portInfo(p *netPort) portInfo {
	ns := s.nst()
	pi := portInfo{ID: p.ID, NetworkID: p.NetworkID, ProjectID: p.ProjectID, MACAddress: p.MACAddress,
		DeviceID: p.DeviceID, DeviceOwner: p.DeviceOwner}
	if n := ns.Networks[p.NetworkID]; n != nil {
		pi.NetworkName = n.Name
	}
	for _, f := range p.FixedIPs {
		pi.FixedIPs = append(pi.FixedIPs, f.IPAddress)
	}
	for _, f := range ns.FloatingIPs {
		if f.AssocPortID == p.ID {
			pi.FloatingIPs = append(pi.FloatingIPs, f.FloatingIP)
		}
	}
	sort.Strings(pi.FloatingIPs)
	return pi
}

// newPort creates a port: quota, security groups, MAC, addresses. Network
// owned ports (device owner "network:...") are not counted against quota
// when their project is empty, as Neutron's own ports are not.
func (s *Server) newPort(c portCreate) (*netPort, *apiError) {
	ns := s.nst()
	if c.ProjectID != "" {
		if e := s.netQuotaCheck(c.ProjectID, "port", 1); e != nil {
			return nil, e
		}
	}
	p := &netPort{NetworkID: c.Net.ID, AdminStateUp: c.AdminStateUp, DeviceID: c.DeviceID,
		DeviceOwner: c.DeviceOwner, HostID: c.HostID, VNICType: c.VNICType, Profile: c.Profile,
		DNSName: c.DNSName, ExtraDHCPOpts: []any{}}
	p.init(s, s.newID(), c.ProjectID)
	p.Name, p.Description = c.Name, c.Description
	if c.Tags != nil {
		p.Tags = append([]string{}, c.Tags...)
	}
	if p.VNICType == "" {
		p.VNICType = "normal"
	}
	if p.Profile == nil {
		p.Profile = map[string]any{}
	}
	p.PortSecurityEnabled = c.Net.PortSecurityEnabled
	if c.PortSecurity != nil {
		p.PortSecurityEnabled = *c.PortSecurity
	}
	networkOwned := len(c.DeviceOwner) > 8 && c.DeviceOwner[:8] == "network:"
	switch {
	case c.SecurityGroups != nil:
		if len(c.SecurityGroups) > 0 && !p.PortSecurityEnabled {
			return nil, errorf(http.StatusBadRequest, "PortSecurityAndIPRequiredForSecurityGroups", "Port security must be enabled and port must have an IP address in order to use security groups.")
		}
		seen := map[string]bool{}
		p.SecurityGroups = []string{}
		for _, id := range c.SecurityGroups {
			g := ns.SecurityGroups[id]
			if g == nil || (g.ProjectID != c.ProjectID && c.ProjectID != "") {
				return nil, errSecGroupNotFound(id)
			}
			if !seen[id] {
				seen[id] = true
				p.SecurityGroups = append(p.SecurityGroups, id)
			}
		}
	case p.PortSecurityEnabled && !networkOwned && c.ProjectID != "":
		p.SecurityGroups = []string{s.ensureDefaultSecGroup(c.ProjectID)}
	default:
		p.SecurityGroups = []string{}
	}
	if len(c.AddressPairs) > 0 && !p.PortSecurityEnabled {
		return nil, errorf(http.StatusConflict, "AddressPairAndPortSecurityRequired", "Port Security must be enabled in order to have allowed address pairs on a port.")
	}
	if c.MACAddress != "" {
		if holder, used := ns.MACs[c.MACAddress]; used {
			if hp := ns.Ports[holder]; hp != nil && hp.NetworkID == c.Net.ID {
				return nil, errorf(http.StatusConflict, "MacAddressInUse", "Unable to complete operation for network %s. The mac address %s is in use.", c.Net.ID, c.MACAddress)
			}
		}
		p.MACAddress = c.MACAddress
	} else {
		p.MACAddress = s.newMAC()
	}
	pairs, e := normalizePairs(c.AddressPairs, p.MACAddress)
	if e != nil {
		return nil, e
	}
	p.AddressPairs = pairs
	ips, e := s.assignFixedIPs(c.Net, p.ID, c.DeviceOwner, c.FixedIPs)
	if e != nil {
		return nil, e
	}
	p.FixedIPs = ips
	ns.Ports[p.ID] = p
	ns.MACs[p.MACAddress] = p.ID
	return p, nil
}

// removePort deletes p: its addresses, its MAC and its floating IP
// associations go with it.
func (s *Server) removePort(p *netPort) {
	ns := s.nst()
	for _, f := range ns.FloatingIPs {
		if f.AssocPortID == p.ID {
			f.AssocPortID, f.FixedIP, f.RouterID = "", "", ""
			f.touch(s)
		}
	}
	s.releaseIPs(p.FixedIPs, p.ID)
	if ns.MACs[p.MACAddress] == p.ID {
		delete(ns.MACs, p.MACAddress)
	}
	delete(ns.Ports, p.ID)
}

// portStatus is ACTIVE for a port bound to a host with a device, DOWN
// otherwise; Neutron's own router ports are ACTIVE.
func (s *Server) portStatus(p *netPort) string {
	switch {
	case p.DeviceOwner == ownerRouterInterface || p.DeviceOwner == ownerRouterGateway:
		return "ACTIVE"
	case p.DeviceOwner == ownerFloatingIP:
		return "N/A"
	case p.HostID != "" && p.DeviceID != "" && p.AdminStateUp:
		return "ACTIVE"
	}
	return "DOWN"
}

// ensureDefaultSecGroup returns projectID's "default" security group,
// creating it with Neutron's default rules on first use.
func (s *Server) ensureDefaultSecGroup(projectID string) string {
	if projectID == "" {
		return ""
	}
	ns := s.nst()
	for _, g := range ns.SecurityGroups {
		if g.Name == "default" && g.ProjectID == projectID {
			return g.ID
		}
	}
	g := &netSecGroup{Stateful: true}
	g.init(s, s.newID(), projectID)
	g.Name, g.Description = "default", "Default security group"
	ns.SecurityGroups[g.ID] = g
	for _, r := range []netSGRule{
		{Direction: "egress", EtherType: "IPv4"},
		{Direction: "egress", EtherType: "IPv6"},
		{Direction: "ingress", EtherType: "IPv4", RemoteGroupID: g.ID},
		{Direction: "ingress", EtherType: "IPv6", RemoteGroupID: g.ID},
	} {
		rule := r
		rule.init(s, s.newID(), projectID)
		rule.SecurityGroupID = g.ID
		ns.SGRules[rule.ID] = &rule
	}
	return g.ID
}

// errNetworkNotFound and the functions below are Neutron's not-found errors.
func errNetworkNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, "NetworkNotFound", "Network %s could not be found.", id)
}

func errSubnetNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, "SubnetNotFound", "Subnet %s could not be found.", id)
}

func errPortNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, "PortNotFound", "Port %s could not be found.", id)
}

func errRouterNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, "RouterNotFound", "Router %s could not be found.", id)
}

func errSecGroupNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, "SecurityGroupNotFound", "Security group %s does not exist", id)
}

func errSGRuleNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, "SecurityGroupRuleNotFound", "Security group rule %s does not exist", id)
}

func errFloatingIPNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, "FloatingIPNotFound", "Floating IP %s could not be found", id)
}
