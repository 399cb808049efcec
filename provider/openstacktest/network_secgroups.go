package openstacktest

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

func (s *Server) renderSecGroup(g *netSecGroup) map[string]any {
	rules := []map[string]any{}
	var ids []string
	for id, r := range s.nst().SGRules {
		if r.SecurityGroupID == g.ID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		rules = append(rules, s.renderSGRule(s.nst().SGRules[id]))
	}
	m := map[string]any{"security_group_rules": rules, "stateful": g.Stateful, "shared": false}
	return g.renderStd(m, true)
}

func (s *Server) renderSGRule(r *netSGRule) map[string]any {
	str := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	ptr := func(v *int) any {
		if v == nil {
			return nil
		}
		return *v
	}
	m := map[string]any{
		"security_group_id":       r.SecurityGroupID,
		"direction":               r.Direction,
		"ethertype":               r.EtherType,
		"protocol":                str(r.Protocol),
		"port_range_min":          ptr(r.PortMin),
		"port_range_max":          ptr(r.PortMax),
		"remote_ip_prefix":        str(r.RemoteIPPrefix),
		"remote_group_id":         str(r.RemoteGroupID),
		"remote_address_group_id": nil,
		"normalized_cidr":         str(r.RemoteIPPrefix),
		"belongs_to_default_sg":   false,
	}
	if g := s.nst().SecurityGroups[r.SecurityGroupID]; g != nil && g.Name == "default" {
		m["belongs_to_default_sg"] = true
	}
	return r.renderStd(m, false)
}

var (
	sgPost  = []string{"name", "description", "project_id", "tenant_id", "stateful"}
	sgPut   = []string{"name", "description", "stateful"}
	sgKnown = []string{"id", "tags", "created_at", "updated_at", "revision_number", "security_group_rules", "shared"}
)

type sgReq struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Stateful    *bool   `json:"stateful"`
	ProjectID   string  `json:"project_id"`
	TenantID    string  `json:"tenant_id"`
}

func (s *Server) listSecGroups(w http.ResponseWriter, r *http.Request, tok *token) {
	s.ensureDefaultSecGroup(tok.ProjectID)
	items := renderVisible(s.nst().SecurityGroups, tok, netOwned, s.renderSecGroup)
	s.writeNeutronList(w, r, "security_groups", items, s.renderSecGroup(&netSecGroup{}))
}

func (s *Server) findSecGroup(id string, tok *token) (*netSecGroup, *apiError) {
	return findVisible(s.nst().SecurityGroups, id, tok, netOwned, errSecGroupNotFound)
}

func (s *Server) getSecGroup(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcNetwork, w, r, tok, "security_group", s.findSecGroup, s.renderSecGroup)
}

func (s *Server) createSecGroup(w http.ResponseWriter, r *http.Request, tok *token) {
	var req sgReq
	if _, e := decodeNeutron(r, "security_group", sgPost, sgKnown, &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	proj, e := netCreateProject(tok, req.ProjectID, req.TenantID)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	s.ensureDefaultSecGroup(proj)
	if req.Name != nil && *req.Name == "default" {
		s.writeError(w, svcNetwork, errorf(http.StatusConflict, "SecurityGroupDefaultAlreadyExists", "Default security group already exists."))
		return
	}
	if e := s.netQuotaCheck(proj, "security_group", 1); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	// A new group comes with egress rules for both ether types, which
	// count against the rule quota.
	if e := s.netQuotaCheck(proj, "security_group_rule", 2); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	g := &netSecGroup{Stateful: true}
	g.init(s, s.newID(), proj)
	applySecGroup(g, &req)
	ns := s.nst()
	ns.SecurityGroups[g.ID] = g
	for _, et := range []string{"IPv4", "IPv6"} {
		rule := &netSGRule{SecurityGroupID: g.ID, Direction: "egress", EtherType: et}
		rule.init(s, s.newID(), proj)
		ns.SGRules[rule.ID] = rule
	}
	writeNeutronOne(w, r, http.StatusCreated, "security_group", s.renderSecGroup(g))
}

// applySecGroup sets the attributes req names.
func applySecGroup(g *netSecGroup, req *sgReq) {
	if req.Name != nil {
		g.Name = *req.Name
	}
	if req.Description != nil {
		g.Description = *req.Description
	}
	if req.Stateful != nil {
		g.Stateful = *req.Stateful
	}
}

func (s *Server) updateSecGroup(w http.ResponseWriter, r *http.Request, tok *token) {
	g, e := s.findSecGroup(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	var req sgReq
	if _, e := decodeNeutron(r, "security_group", sgPut, append(sgKnown, sgPost...), &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if req.Name != nil && g.Name == "default" && *req.Name != "default" {
		s.writeError(w, svcNetwork, errorf(http.StatusConflict, "SecurityGroupCannotUpdateDefault", "Updating default security group not allowed."))
		return
	}
	applySecGroup(g, &req)
	g.touch(s)
	writeNeutronOne(w, r, http.StatusOK, "security_group", s.renderSecGroup(g))
}

func (s *Server) deleteSecGroup(w http.ResponseWriter, r *http.Request, tok *token) {
	g, e := s.findSecGroup(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	// Neutron checks the ports first: a default group in use is "in use"
	// even to a member.
	ns := s.nst()
	for _, p := range ns.Ports {
		if netHas(p.SecurityGroups, g.ID) {
			s.writeError(w, svcNetwork, errorf(http.StatusConflict, "SecurityGroupInUse", "Security Group %s in use.", g.ID))
			return
		}
	}
	if g.Name == "default" && !tok.isAdmin() {
		s.writeError(w, svcNetwork, errorf(http.StatusConflict, "SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group."))
		return
	}
	for id, rule := range ns.SGRules {
		if rule.SecurityGroupID == g.ID {
			delete(ns.SGRules, id)
		}
	}
	delete(ns.SecurityGroups, g.ID)
	w.WriteHeader(http.StatusNoContent)
}

// ----- rules -----

var (
	sgRulePost = []string{"security_group_id", "direction", "ethertype", "protocol", "port_range_min",
		"port_range_max", "remote_ip_prefix", "remote_group_id", "description", "project_id", "tenant_id",
		"remote_address_group_id"}
	sgRuleKnown = []string{"id", "created_at", "updated_at", "revision_number", "normalized_cidr", "belongs_to_default_sg"}
)

type sgRuleReq struct {
	SecurityGroupID string          `json:"security_group_id"`
	Direction       string          `json:"direction"`
	EtherType       *string         `json:"ethertype"`
	Protocol        json.RawMessage `json:"protocol"`
	PortMin         json.RawMessage `json:"port_range_min"`
	PortMax         json.RawMessage `json:"port_range_max"`
	RemoteIPPrefix  *string         `json:"remote_ip_prefix"`
	RemoteGroupID   *string         `json:"remote_group_id"`
	Description     *string         `json:"description"`
	ProjectID       string          `json:"project_id"`
	TenantID        string          `json:"tenant_id"`
}

// protocolNumbers maps Neutron's protocol names to IP protocol numbers.
var protocolNumbers = map[string]int{
	"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "icmpv6": 58,
	"igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "ipv6-nonxt": 59,
	"ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6,
	"udp": 17, "udplite": 136, "vrrp": 112, "any": -1,
}

// netRawString reads a JSON string or number as a string; "" for null or absent.
func netRawString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

func netRawPort(name string, raw json.RawMessage) (*int, *apiError) {
	v, ok := netRawString(raw)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for %s. Reason: '%s' is not a valid port number.", name, raw)
	}
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		return nil, errorf(http.StatusBadRequest, "SecurityGroupInvalidPortValue", "Invalid value for port %s.", v)
	}
	return &n, nil
}

func (s *Server) listSGRules(w http.ResponseWriter, r *http.Request, tok *token) {
	items := renderVisible(s.nst().SGRules, tok, netOwned, s.renderSGRule)
	s.writeNeutronList(w, r, "security_group_rules", items, s.renderSGRule(&netSGRule{}))
}

func (s *Server) getSGRule(w http.ResponseWriter, r *http.Request, tok *token) {
	find := func(id string, tok *token) (*netSGRule, *apiError) {
		return findVisible(s.nst().SGRules, id, tok, netOwned, errSGRuleNotFound)
	}
	getByID(s, svcNetwork, w, r, tok, "security_group_rule", find, s.renderSGRule)
}

func (s *Server) deleteSGRule(w http.ResponseWriter, r *http.Request, tok *token) {
	ns := s.nst()
	rule := ns.SGRules[r.PathValue("id")]
	if rule == nil || !netOwns(tok, rule.ProjectID) {
		s.writeError(w, svcNetwork, errSGRuleNotFound(r.PathValue("id")))
		return
	}
	delete(ns.SGRules, rule.ID)
	if g := ns.SecurityGroups[rule.SecurityGroupID]; g != nil {
		g.touch(s)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) createSGRule(w http.ResponseWriter, r *http.Request, tok *token) {
	var req sgRuleReq
	if _, e := decodeNeutron(r, "security_group_rule", sgRulePost, sgRuleKnown, &req); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	rule, e := s.newSGRule(&req, tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	writeNeutronOne(w, r, http.StatusCreated, "security_group_rule", s.renderSGRule(rule))
}

func (s *Server) newSGRule(req *sgRuleReq, tok *token) (*netSGRule, *apiError) {
	ns := s.nst()
	if req.SecurityGroupID == "" {
		return nil, errRequired("security_group_id")
	}
	if req.Direction == "" {
		return nil, errRequired("direction")
	}
	if req.Direction != "ingress" && req.Direction != "egress" {
		return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for direction. Reason: '%s' is not in ['ingress', 'egress'].", req.Direction)
	}
	g, e := s.findSecGroup(req.SecurityGroupID, tok)
	if e != nil {
		return nil, e
	}
	rule := &netSGRule{SecurityGroupID: g.ID, Direction: req.Direction, EtherType: "IPv4"}
	if req.EtherType != nil {
		if *req.EtherType != "IPv4" && *req.EtherType != "IPv6" {
			return nil, errorf(http.StatusBadRequest, "SecurityGroupRuleInvalidEtherType", "Security group rule for ethertype '%s' not supported. Allowed values are ['IPv4', 'IPv6'].", *req.EtherType)
		}
		rule.EtherType = *req.EtherType
	}
	proto, ok := netRawString(req.Protocol)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "SecurityGroupRuleInvalidProtocol", "Security group rule protocol %s not supported.", req.Protocol)
	}
	proto = strings.ToLower(proto)
	protoNum := -1
	if proto != "" {
		if n, known := protocolNumbers[proto]; known {
			protoNum = n
			if proto == "any" {
				proto = ""
			}
		} else if n, err := strconv.Atoi(proto); err == nil && n >= 0 && n <= 255 {
			protoNum = n
		} else {
			return nil, errorf(http.StatusBadRequest, "SecurityGroupRuleInvalidProtocol", "Security group rule protocol %s not supported. Only protocol values [None, 'ah', 'dccp', 'egp', 'esp', 'gre', 'icmp', 'icmpv6', 'igmp', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp'] and integer representations [0 to 255] are supported.", proto)
		}
	}
	rule.Protocol = proto
	min, e := netRawPort("port_range_min", req.PortMin)
	if e != nil {
		return nil, e
	}
	max, e := netRawPort("port_range_max", req.PortMax)
	if e != nil {
		return nil, e
	}
	if (min != nil || max != nil) && proto == "" {
		return nil, errorf(http.StatusBadRequest, "SecurityGroupProtocolRequiredWithPorts", "Must also specify protocol if port range is given.")
	}
	switch protoNum {
	case 6, 17, 33, 132, 136:
		if min != nil && *min == 0 || max != nil && *max == 0 {
			return nil, errorf(http.StatusBadRequest, "SecurityGroupInvalidPortValue", "Invalid value for port 0.")
		}
		if min != nil && max != nil && *min > *max {
			return nil, errorf(http.StatusBadRequest, "SecurityGroupInvalidPortRange", "For TCP/UDP protocols, port_range_min must be <= port_range_max")
		}
		if (min == nil) != (max == nil) {
			if min == nil {
				return nil, errorf(http.StatusBadRequest, "SecurityGroupInvalidPortRange", "For TCP/UDP protocols, port_range_min must be <= port_range_max")
			}
			max = min
		}
	case 1, 58:
		for _, v := range []struct {
			field string
			val   *int
		}{{"type", min}, {"code", max}} {
			if v.val != nil && *v.val > 255 {
				return nil, errorf(http.StatusBadRequest, "SecurityGroupInvalidIcmpValue", "Invalid value for ICMP %s (port-range-min): %d", v.field, *v.val)
			}
		}
		if min == nil && max != nil {
			return nil, errorf(http.StatusBadRequest, "SecurityGroupMissingIcmpType", "ICMP code (port-range-max) %d is provided but ICMP type (port-range-min) is missing.", *max)
		}
	default:
		if min != nil || max != nil {
			return nil, errorf(http.StatusBadRequest, "SecurityGroupInvalidProtocolForPortRange", "Ports cannot be specified for protocol %s.", proto)
		}
	}
	rule.PortMin, rule.PortMax = min, max
	if req.RemoteIPPrefix != nil && *req.RemoteIPPrefix != "" && req.RemoteGroupID != nil && *req.RemoteGroupID != "" {
		return nil, errorf(http.StatusBadRequest, "SecurityGroupMultipleRemoteEntites", "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.")
	}
	if req.RemoteIPPrefix != nil && *req.RemoteIPPrefix != "" {
		pfx, err := netip.ParsePrefix(*req.RemoteIPPrefix)
		if err != nil {
			a, aerr := netip.ParseAddr(*req.RemoteIPPrefix)
			if aerr != nil {
				return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for remote_ip_prefix. Reason: '%s' is not a valid IP subnet.", *req.RemoteIPPrefix)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if pfx.Addr().Is4() != (rule.EtherType == "IPv4") {
			return nil, errorf(http.StatusBadRequest, "SecurityGroupRuleParameterConflict", "Conflicting value ethertype %s for CIDR %s", rule.EtherType, *req.RemoteIPPrefix)
		}
		rule.RemoteIPPrefix = pfx.Masked().String()
	}
	if req.RemoteGroupID != nil && *req.RemoteGroupID != "" {
		rg, e := s.findSecGroup(*req.RemoteGroupID, tok)
		if e != nil {
			return nil, e
		}
		rule.RemoteGroupID = rg.ID
	}
	for _, o := range ns.SGRules {
		if o.SecurityGroupID == rule.SecurityGroupID && o.Direction == rule.Direction &&
			o.EtherType == rule.EtherType && o.Protocol == rule.Protocol && netEqPtr(o.PortMin, rule.PortMin) &&
			netEqPtr(o.PortMax, rule.PortMax) && netNormPrefix(o.RemoteIPPrefix) == netNormPrefix(rule.RemoteIPPrefix) &&
			o.RemoteGroupID == rule.RemoteGroupID {
			return nil, errorf(http.StatusConflict, "SecurityGroupRuleExists", "Security group rule already exists. Rule id is %s.", o.ID)
		}
	}
	proj := g.ProjectID
	if e := s.netQuotaCheck(proj, "security_group_rule", 1); e != nil {
		return nil, e
	}
	rule.init(s, s.newID(), proj)
	if req.Description != nil {
		rule.Description = *req.Description
	}
	ns.SGRules[rule.ID] = rule
	g.touch(s)
	return rule, nil
}

// netNormPrefix treats "any address" prefixes like no prefix, as Neutron's
// duplicate check does.
func netNormPrefix(p string) string {
	if p == "0.0.0.0/0" || p == "::/0" {
		return ""
	}
	return p
}

func netEqPtr(a, b *int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
