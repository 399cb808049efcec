package openstacktest

import (
	"net/http"
	"net/netip"
	"sort"
	"strconv"
)

// ----- load balancers -----

func (s *Server) renderLB(lb *lbLoadBalancer) map[string]any {
	l := s.lbs()
	var lis, pools []string
	for _, x := range l.Listeners {
		if x.LoadBalancerID == lb.ID {
			lis = append(lis, x.ID)
		}
	}
	for _, x := range l.Pools {
		if x.LoadBalancerID == lb.ID {
			pools = append(pools, x.ID)
		}
	}
	m := map[string]any{
		"vip_address":       lb.VIPAddress,
		"vip_port_id":       lb.VIPPortID,
		"vip_subnet_id":     lb.VIPSubnetID,
		"vip_network_id":    lb.VIPNetworkID,
		"vip_qos_policy_id": nil,
		"provider":          lb.Provider,
		"flavor_id":         strOrNil(lb.FlavorID),
		"availability_zone": strOrNil(lb.AvailabilityZone),
		"listeners":         idList(lis),
		"pools":             idList(pools),
		"additional_vips":   []any{},
	}
	return lb.renderStd(m, lb.operating())
}

type lbReq struct {
	Name             *string   `json:"name"`
	Description      *string   `json:"description"`
	AdminStateUp     *bool     `json:"admin_state_up"`
	VIPSubnetID      string    `json:"vip_subnet_id"`
	VIPNetworkID     string    `json:"vip_network_id"`
	VIPPortID        string    `json:"vip_port_id"`
	VIPAddress       string    `json:"vip_address"`
	Provider         string    `json:"provider"`
	FlavorID         string    `json:"flavor_id"`
	AvailabilityZone string    `json:"availability_zone"`
	ProjectID        string    `json:"project_id"`
	Tags             *[]string `json:"tags"`
}

var (
	lbPost = []string{"name", "description", "admin_state_up", "vip_subnet_id", "vip_network_id", "vip_port_id",
		"vip_address", "vip_qos_policy_id", "provider", "flavor_id", "availability_zone", "project_id", "tenant_id", "tags"}
	lbPut = []string{"name", "description", "admin_state_up", "vip_qos_policy_id", "tags"}
)

// lbObject is a pointer to an Octavia object: every one embeds lbStd.
type lbObject[E any] interface {
	*E
	std() *lbStd
}

func (x *lbStd) std() *lbStd { return x }

// lbOwned reports whether tok may see an Octavia object.
func lbOwned[P interface{ std() *lbStd }](x P, tok *token) bool {
	return netOwns(tok, x.std().ProjectID)
}

// lbList answers a list request with the objects of m that tok may see.
func lbList[P interface{ std() *lbStd }](s *Server, w http.ResponseWriter, r *http.Request, tok *token, plural string, m map[string]P, render func(P) map[string]any) {
	s.writeList(w, r, svcLoadBalancer, plural, renderVisible(m, tok, lbOwned, render))
}

// lbFind returns m[id] when tok may see it, and Octavia's 404 naming kind
// when not.
func lbFind[E any, P lbObject[E]](m map[string]P, id string, tok *token, kind string) (P, *apiError) {
	return findVisible(m, id, tok, lbOwned, func(id string) *apiError { return lbNotFound(kind, id) })
}

func (s *Server) listLBs(w http.ResponseWriter, r *http.Request, tok *token) {
	lbList(s, w, r, tok, "loadbalancers", s.lbs().LoadBalancers, s.renderLB)
}

func (s *Server) findLB(id string, tok *token) (*lbLoadBalancer, *apiError) {
	return lbFind(s.lbs().LoadBalancers, id, tok, "Load Balancer")
}

func (s *Server) getLB(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcLoadBalancer, w, r, tok, "loadbalancer", s.findLB, s.renderLB)
}

func (s *Server) createLB(w http.ResponseWriter, r *http.Request, tok *token) {
	var req lbReq
	raw, e := decodeOctavia(r, "loadbalancer", append([]string{"listeners", "pools"}, lbPost...), &req)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	lb, e := s.newLB(&req, tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	// A fully populated create: Octavia checks the listeners and pools
	// after it has made the VIP port, and does not delete the port when it
	// refuses them (Zed): only the load balancer goes.
	plan, e := s.planGraph(raw, tok)
	if e == nil {
		e = s.graphQuota(lb.ProjectID, plan)
	}
	if e != nil {
		delete(s.lbs().LoadBalancers, lb.ID)
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	if len(plan.listeners)+len(plan.pools) > 0 {
		s.buildGraph(lb, plan)
		writeNeutronOne(w, r, http.StatusCreated, "loadbalancer", s.renderGraphLB(lb))
		return
	}
	writeNeutronOne(w, r, http.StatusCreated, "loadbalancer", s.renderLB(lb))
}

func (s *Server) newLB(req *lbReq, tok *token) (*lbLoadBalancer, *apiError) {
	proj := tok.ProjectID
	if req.ProjectID != "" && req.ProjectID != proj {
		if !tok.isAdmin() {
			return nil, lbErr(http.StatusForbidden, "Policy does not allow this request to be performed.")
		}
		proj = req.ProjectID
	}
	if req.VIPSubnetID == "" && req.VIPNetworkID == "" && req.VIPPortID == "" {
		return nil, lbErr(http.StatusBadRequest, "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.")
	}
	provider := req.Provider
	switch provider {
	case "", "octavia":
		provider = "amphora"
	case "amphora":
	default:
		return nil, lbErr(http.StatusBadRequest, "Provider '%s' is not enabled.", provider)
	}
	if req.FlavorID != "" {
		return nil, lbErr(http.StatusBadRequest, "Validation failure: Invalid flavor_id.")
	}
	if req.VIPAddress != "" {
		if _, err := netip.ParseAddr(req.VIPAddress); err != nil {
			return nil, lbInvalid("vip_address", req.VIPAddress, "Value should be IPv4 or IPv6 format")
		}
	}
	if e := s.lbQuotaCheck(proj, "load_balancer"); e != nil {
		return nil, e
	}
	lb := &lbLoadBalancer{Provider: provider, AvailabilityZone: req.AvailabilityZone}
	s.lbInit(&lb.lbStd, proj, req.Name, req.Description, req.AdminStateUp, req.Tags)
	ns := s.nst()
	if req.VIPPortID != "" {
		p := ns.Ports[req.VIPPortID]
		if p == nil || !netOwns(tok, p.ProjectID) {
			return nil, lbErr(http.StatusBadRequest, "Port %s not found.", req.VIPPortID)
		}
		if p.DeviceID != "" { // Octavia's message ends with a space
			return nil, lbErr(http.StatusBadRequest, "Validation failure: Port %s is already used by device %s ", p.ID, p.DeviceID)
		}
		if len(p.FixedIPs) == 0 {
			return nil, lbErr(http.StatusBadRequest, "Validation failure: No VIP address found on port %s.", p.ID)
		}
		lb.VIPPortID, lb.VIPNetworkID = p.ID, p.NetworkID
		lb.VIPSubnetID, lb.VIPAddress = p.FixedIPs[0].SubnetID, p.FixedIPs[0].IPAddress
	} else {
		netID := req.VIPNetworkID
		if req.VIPSubnetID != "" {
			// Octavia looks the subnet up with the user's token: Neutron
			// shows a member the subnets of its own and of shared
			// networks, not those of an external network.
			sub := ns.Subnets[req.VIPSubnetID]
			if sub == nil || !(netOwns(tok, sub.ProjectID) || ns.Networks[sub.NetworkID] != nil && ns.Networks[sub.NetworkID].Shared) {
				return nil, lbErr(http.StatusBadRequest, "Subnet %s not found.", req.VIPSubnetID)
			}
			if netID != "" && netID != sub.NetworkID {
				return nil, lbErr(http.StatusBadRequest, "Validation failure: Provided VIP subnet %s is not in provided VIP network %s.", sub.ID, netID)
			}
			netID = sub.NetworkID
		} else if n := ns.Networks[netID]; n == nil || !s.networkVisible(n, tok) {
			return nil, lbErr(http.StatusBadRequest, "Network %s not found.", netID)
		}
		var fixed []fixedIPSpec
		if req.VIPSubnetID != "" || req.VIPAddress != "" {
			fixed = []fixedIPSpec{{SubnetID: req.VIPSubnetID, IPAddress: req.VIPAddress}}
		}
		// Octavia's VIP port: in the load balancer's project, with the
		// project's default security group, administratively down (the
		// amphorae carry the address; nothing binds this port).
		// Octavia creates it as admin, so on any network the user can
		// see (an external one too).
		owner := proj
		if n := ns.Networks[netID]; n != nil && n.ProjectID != proj && !n.Shared {
			owner = n.ProjectID
		}
		pi, e := s.netCreatePort(portSpec{ProjectID: owner, NetworkID: netID, FixedIPs: fixed,
			Name: "octavia-lb-" + lb.ID, DeviceID: "lb-" + lb.ID, DeviceOwner: "Octavia"})
		if e != nil {
			return nil, lbErr(e.Status, "%s", e.Message)
		}
		p := ns.Ports[pi.ID]
		p.AdminStateUp = false
		if owner != proj {
			p.ProjectID = proj
			p.SecurityGroups = []string{s.ensureDefaultSecGroup(proj)}
		}
		lb.VIPPortID, lb.VIPNetworkID, lb.VIPPortOwned = p.ID, p.NetworkID, true
		if len(p.FixedIPs) > 0 {
			lb.VIPSubnetID, lb.VIPAddress = p.FixedIPs[0].SubnetID, p.FixedIPs[0].IPAddress
		}
	}
	s.lbs().LoadBalancers[lb.ID] = lb
	return lb, nil
}

func (s *Server) updateLB(w http.ResponseWriter, r *http.Request, tok *token) {
	lb, e := s.findLB(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	var req lbReq
	if _, e := decodeOctavia(r, "loadbalancer", lbPut, &req); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	if e := lbSelfMutable(lb); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	s.lbApply(&lb.lbStd, req.Name, req.Description, req.AdminStateUp, req.Tags)
	s.lbPend(&lb.lbStd, lbPendingUpdate)
	writeNeutronOne(w, r, http.StatusOK, "loadbalancer", s.renderLB(lb))
}

func (s *Server) deleteLB(w http.ResponseWriter, r *http.Request, tok *token) {
	lb, e := s.findLB(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	if e := lbSelfMutable(lb); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	l := s.lbs()
	cascade := r.URL.Query().Get("cascade") == "true" || r.URL.Query().Get("cascade") == "True"
	var children []*lbStd
	for _, x := range l.Listeners {
		if x.LoadBalancerID == lb.ID {
			children = append(children, &x.lbStd)
		}
	}
	for _, x := range l.Pools {
		if x.LoadBalancerID == lb.ID {
			children = append(children, &x.lbStd)
			for _, m := range l.Members {
				if m.PoolID == x.ID {
					children = append(children, &m.lbStd)
				}
			}
			if hm := l.Monitors[x.MonitorID]; hm != nil {
				children = append(children, &hm.lbStd)
			}
		}
	}
	if len(children) > 0 && !cascade {
		s.writeError(w, svcLoadBalancer, lbErr(http.StatusBadRequest, "Validation failure: Cannot delete Load Balancer %s - it has children", lb.ID))
		return
	}
	for _, c := range children {
		s.lbPend(c, lbPendingDelete)
	}
	s.lbPend(&lb.lbStd, lbPendingDelete)
	w.WriteHeader(http.StatusNoContent)
}

// getLBStatus answers with the status tree of a load balancer.
func (s *Server) getLBStatus(w http.ResponseWriter, r *http.Request, tok *token) {
	lb, e := s.findLB(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	l := s.lbs()
	node := func(x *lbStd, op string) map[string]any {
		return map[string]any{"id": x.ID, "name": x.Name, "provisioning_status": x.Provisioning, "operating_status": op}
	}
	poolNode := func(p *lbPool) map[string]any {
		n := node(&p.lbStd, p.operating())
		members := []any{}
		for _, m := range sortedMembers(l, p.ID) {
			mn := node(&m.lbStd, s.memberOperating(m))
			mn["address"], mn["protocol_port"] = m.Address, m.Port
			members = append(members, mn)
		}
		n["members"] = members
		if hm := l.Monitors[p.MonitorID]; hm != nil {
			hn := node(&hm.lbStd, hm.operating())
			hn["type"] = hm.Type
			n["health_monitor"] = hn
		}
		return n
	}
	listeners := []any{}
	for _, li := range sortedListeners(l, lb.ID) {
		ln := node(&li.lbStd, li.operating())
		pools := []any{}
		for _, p := range sortedPools(l, lb.ID) {
			if p.ID == li.DefaultPoolID {
				pools = append(pools, poolNode(p))
			}
		}
		ln["pools"] = pools
		listeners = append(listeners, ln)
	}
	root := node(&lb.lbStd, lb.operating())
	root["listeners"] = listeners
	writeJSON(w, http.StatusOK, map[string]any{"statuses": map[string]any{"loadbalancer": root}})
}

func (s *Server) getLBStats(w http.ResponseWriter, r *http.Request, tok *token) {
	if _, e := s.findLB(r.PathValue("id"), tok); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stats": map[string]any{"active_connections": 0, "bytes_in": 0,
		"bytes_out": 0, "request_errors": 0, "total_connections": 0}})
}

// lbSorted returns the objects of m whose parent (as parent reads it) is
// parentID, in ID order.
func lbSorted[E any, P lbObject[E]](m map[string]P, parentID string, parent func(P) string) []P {
	var out []P
	for _, x := range m {
		if parent(x) == parentID {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].std().ID < out[j].std().ID })
	return out
}

func sortedListeners(l *lbState, lbID string) []*lbListener {
	return lbSorted(l.Listeners, lbID, func(x *lbListener) string { return x.LoadBalancerID })
}

func sortedPools(l *lbState, lbID string) []*lbPool {
	return lbSorted(l.Pools, lbID, func(x *lbPool) string { return x.LoadBalancerID })
}

func sortedMembers(l *lbState, poolID string) []*lbMember {
	return lbSorted(l.Members, poolID, func(x *lbMember) string { return x.PoolID })
}

// lbPort checks a mandatory protocol_port.
func lbPort(port *int) *apiError {
	if port == nil || *port < 1 || *port > 65535 {
		v := any("None")
		if port != nil {
			v = *port
		}
		return lbInvalid("protocol_port", v, "Value should be between 1 and 65535.")
	}
	return nil
}

// lbChild finds the load balancer a child belongs to and checks that it
// accepts changes.
func (s *Server) lbChild(lbID string) (*lbLoadBalancer, *apiError) {
	lb := s.lbs().LoadBalancers[lbID]
	if lb == nil {
		return nil, lbNotFound("Load Balancer", lbID)
	}
	return lb, lbMutable(lb)
}

// ----- listeners -----

var listenerProtocols = []string{"TCP", "HTTP", "HTTPS", "TERMINATED_HTTPS", "UDP", "SCTP", "PROMETHEUS"}

func (s *Server) renderListener(li *lbListener) map[string]any {
	var cidrs any
	if len(li.AllowedCIDRs) > 0 {
		cidrs = append([]string{}, li.AllowedCIDRs...)
	}
	headers := map[string]string{}
	for k, v := range li.InsertHeaders {
		headers[k] = v
	}
	m := map[string]any{
		"protocol":                    li.Protocol,
		"protocol_port":               li.Port,
		"connection_limit":            li.ConnectionLimit,
		"default_pool_id":             strOrNil(li.DefaultPoolID),
		"default_tls_container_ref":   nil,
		"sni_container_refs":          []string{},
		"loadbalancers":               idList([]string{li.LoadBalancerID}),
		"l7policies":                  []any{},
		"insert_headers":              headers,
		"timeout_client_data":         li.ClientData,
		"timeout_member_connect":      li.MemberConnect,
		"timeout_member_data":         li.MemberData,
		"timeout_tcp_inspect":         li.TCPInspect,
		"allowed_cidrs":               cidrs,
		"tls_ciphers":                 nil,
		"tls_versions":                nil,
		"alpn_protocols":              nil,
		"client_ca_tls_container_ref": nil,
		"client_authentication":       "NONE",
		"client_crl_container_ref":    nil,
	}
	return li.renderStd(m, li.operating())
}

type listenerReq struct {
	Name            *string            `json:"name"`
	Description     *string            `json:"description"`
	AdminStateUp    *bool              `json:"admin_state_up"`
	LoadBalancerID  string             `json:"loadbalancer_id"`
	Protocol        string             `json:"protocol"`
	Port            *int               `json:"protocol_port"`
	DefaultPoolID   *string            `json:"default_pool_id"`
	AllowedCIDRs    *[]string          `json:"allowed_cidrs"`
	ConnectionLimit *int               `json:"connection_limit"`
	ClientData      *int               `json:"timeout_client_data"`
	MemberConnect   *int               `json:"timeout_member_connect"`
	MemberData      *int               `json:"timeout_member_data"`
	TCPInspect      *int               `json:"timeout_tcp_inspect"`
	InsertHeaders   *map[string]string `json:"insert_headers"`
	ProjectID       string             `json:"project_id"`
	Tags            *[]string          `json:"tags"`
}

var (
	listenerPut = []string{"name", "description", "admin_state_up", "default_pool_id", "allowed_cidrs",
		"connection_limit", "timeout_client_data", "timeout_member_connect", "timeout_member_data",
		"timeout_tcp_inspect", "insert_headers", "tags", "default_tls_container_ref", "sni_container_refs",
		"tls_ciphers", "tls_versions", "alpn_protocols"}
	listenerPost = append([]string{"loadbalancer_id", "protocol", "protocol_port", "project_id", "tenant_id", "l7policies", "default_pool"}, listenerPut...)
)

// poolFitsListener is Octavia's listener/pool protocol compatibility.
var poolFitsListener = map[string][]string{
	"TCP":              {"TCP", "PROXY", "PROXYV2"},
	"HTTP":             {"HTTP", "PROXY", "PROXYV2"},
	"HTTPS":            {"HTTPS", "PROXY", "PROXYV2", "TCP"},
	"TERMINATED_HTTPS": {"HTTP", "PROXY", "PROXYV2"},
	"UDP":              {"UDP"},
	"SCTP":             {"SCTP"},
}

func (s *Server) listListeners(w http.ResponseWriter, r *http.Request, tok *token) {
	lbList(s, w, r, tok, "listeners", s.lbs().Listeners, s.renderListener)
}

func (s *Server) findListener(id string, tok *token) (*lbListener, *apiError) {
	return lbFind(s.lbs().Listeners, id, tok, "Listener")
}

func (s *Server) getListener(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcLoadBalancer, w, r, tok, "listener", s.findListener, s.renderListener)
}

// listenerPool checks a default pool for listener li (on load balancer lbID).
func (s *Server) listenerPool(li *lbListener, poolID, protocol string, tok *token) *apiError {
	if poolID == "" {
		return nil
	}
	l := s.lbs()
	p := l.Pools[poolID]
	if p == nil || !netOwns(tok, p.ProjectID) || p.LoadBalancerID != li.LoadBalancerID {
		return lbErr(http.StatusNotFound, "Pool %s not found.", poolID)
	}
	if !netHas(poolFitsListener[protocol], p.Protocol) {
		return lbErr(http.StatusBadRequest, "Validation failure: The pool protocol '%s' is invalid while the listener protocol is '%s'.", p.Protocol, protocol)
	}
	for _, o := range l.Listeners {
		if o.ID != li.ID && o.DefaultPoolID == poolID {
			return lbErr(http.StatusConflict, "Pool %s is already in use by listener %s.", poolID, o.ID)
		}
	}
	return nil
}

func (s *Server) createListener(w http.ResponseWriter, r *http.Request, tok *token) {
	var req listenerReq
	if _, e := decodeOctavia(r, "listener", listenerPost, &req); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	e := func() *apiError {
		if req.LoadBalancerID == "" {
			return lbInvalid("loadbalancer_id", "None", "Mandatory field missing.")
		}
		if !netHas(listenerProtocols, req.Protocol) {
			return lbInvalid("protocol", req.Protocol, "Value should be one of: HTTP, HTTPS, PROMETHEUS, SCTP, TCP, TERMINATED_HTTPS, UDP")
		}
		if e := lbPort(req.Port); e != nil {
			return e
		}
		lb, e := s.findLB(req.LoadBalancerID, tok)
		if e != nil {
			return lbErr(http.StatusBadRequest, "Load Balancer %s not found.", req.LoadBalancerID)
		}
		if e := lbMutable(lb); e != nil {
			return e
		}
		for _, o := range s.lbs().Listeners {
			if o.LoadBalancerID == lb.ID && o.Port == *req.Port && (o.Protocol == "UDP") == (req.Protocol == "UDP") {
				return lbErr(http.StatusConflict, "Another Listener on this Load Balancer is already using protocol %s and protocol_port %d", o.Protocol, o.Port)
			}
		}
		if e := s.lbQuotaCheck(lb.ProjectID, "listener"); e != nil {
			return e
		}
		li := &lbListener{LoadBalancerID: lb.ID, Protocol: req.Protocol, Port: *req.Port, ConnectionLimit: -1,
			ClientData: 50000, MemberConnect: 5000, MemberData: 50000, InsertHeaders: map[string]string{}}
		s.lbInit(&li.lbStd, lb.ProjectID, req.Name, req.Description, req.AdminStateUp, req.Tags)
		if req.DefaultPoolID != nil {
			if e := s.listenerPool(li, *req.DefaultPoolID, li.Protocol, tok); e != nil {
				return e
			}
			li.DefaultPoolID = *req.DefaultPoolID
		}
		if e := applyListener(li, &req); e != nil {
			return e
		}
		s.lbs().Listeners[li.ID] = li
		s.lbPend(&lb.lbStd, lbPendingUpdate)
		writeNeutronOne(w, r, http.StatusCreated, "listener", s.renderListener(li))
		return nil
	}()
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
	}
}

func applyListener(li *lbListener, req *listenerReq) *apiError {
	if req.AllowedCIDRs != nil {
		c, e := validCIDRs(*req.AllowedCIDRs)
		if e != nil {
			return e
		}
		li.AllowedCIDRs = c
	}
	if req.ConnectionLimit != nil {
		li.ConnectionLimit = *req.ConnectionLimit
	}
	if req.ClientData != nil {
		li.ClientData = *req.ClientData
	}
	if req.MemberConnect != nil {
		li.MemberConnect = *req.MemberConnect
	}
	if req.MemberData != nil {
		li.MemberData = *req.MemberData
	}
	if req.TCPInspect != nil {
		li.TCPInspect = *req.TCPInspect
	}
	if req.InsertHeaders != nil {
		li.InsertHeaders = *req.InsertHeaders
	}
	return nil
}

func (s *Server) updateListener(w http.ResponseWriter, r *http.Request, tok *token) {
	li, e := s.findListener(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	var req listenerReq
	attrs, e := decodeOctavia(r, "listener", listenerPut, &req)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	lb, e := s.lbChild(li.LoadBalancerID)
	if e == nil && req.DefaultPoolID != nil && !attrNull(attrs, "default_pool_id") {
		e = s.listenerPool(li, *req.DefaultPoolID, li.Protocol, tok)
	}
	if e == nil {
		e = applyListener(li, &req)
	}
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	if attrSet(attrs, "default_pool_id") {
		li.DefaultPoolID = ""
		if req.DefaultPoolID != nil {
			li.DefaultPoolID = *req.DefaultPoolID
		}
	}
	s.lbApply(&li.lbStd, req.Name, req.Description, req.AdminStateUp, req.Tags)
	s.lbPend(&li.lbStd, lbPendingUpdate)
	s.lbPend(&lb.lbStd, lbPendingUpdate)
	writeNeutronOne(w, r, http.StatusOK, "listener", s.renderListener(li))
}

func (s *Server) deleteListener(w http.ResponseWriter, r *http.Request, tok *token) {
	li, e := s.findListener(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	lb, e := s.lbChild(li.LoadBalancerID)
	s.lbDeleteChild(w, &li.lbStd, lb, e)
}

// lbDeleteChild answers the DELETE of a load balancer's child x: the error
// e when there is one, else x goes PENDING_DELETE and lb PENDING_UPDATE.
func (s *Server) lbDeleteChild(w http.ResponseWriter, x *lbStd, lb *lbLoadBalancer, e *apiError) {
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	s.lbPend(x, lbPendingDelete)
	s.lbPend(&lb.lbStd, lbPendingUpdate)
	w.WriteHeader(http.StatusNoContent)
}

// ----- pools -----

var (
	poolProtocols  = []string{"TCP", "HTTP", "HTTPS", "PROXY", "PROXYV2", "UDP", "SCTP"}
	poolAlgorithms = []string{"ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"}
)

func (s *Server) renderPool(p *lbPool) map[string]any {
	l := s.lbs()
	var lis, members []string
	for _, x := range l.Listeners {
		if x.DefaultPoolID == p.ID {
			lis = append(lis, x.ID)
		}
	}
	for _, m := range l.Members {
		if m.PoolID == p.ID {
			members = append(members, m.ID)
		}
	}
	m := map[string]any{
		"lb_algorithm":         p.Algorithm,
		"protocol":             p.Protocol,
		"session_persistence":  p.SessionPersistence,
		"healthmonitor_id":     strOrNil(p.MonitorID),
		"listeners":            idList(lis),
		"loadbalancers":        idList([]string{p.LoadBalancerID}),
		"members":              idList(members),
		"tls_enabled":          false,
		"tls_ciphers":          nil,
		"tls_versions":         nil,
		"alpn_protocols":       nil,
		"ca_tls_container_ref": nil,
		"crl_container_ref":    nil,
		"tls_container_ref":    nil,
	}
	return p.renderStd(m, p.operating())
}

type poolReq struct {
	Name               *string   `json:"name"`
	Description        *string   `json:"description"`
	AdminStateUp       *bool     `json:"admin_state_up"`
	LoadBalancerID     string    `json:"loadbalancer_id"`
	ListenerID         string    `json:"listener_id"`
	Protocol           string    `json:"protocol"`
	Algorithm          *string   `json:"lb_algorithm"`
	SessionPersistence any       `json:"session_persistence"`
	ProjectID          string    `json:"project_id"`
	Tags               *[]string `json:"tags"`
}

var (
	poolPut  = []string{"name", "description", "admin_state_up", "lb_algorithm", "session_persistence", "tags", "tls_enabled", "tls_ciphers", "tls_versions", "alpn_protocols"}
	poolPost = append([]string{"loadbalancer_id", "listener_id", "protocol", "project_id", "tenant_id", "members", "healthmonitor"}, poolPut...)
)

func (s *Server) listPools(w http.ResponseWriter, r *http.Request, tok *token) {
	lbList(s, w, r, tok, "pools", s.lbs().Pools, s.renderPool)
}

func (s *Server) findPool(id string, tok *token) (*lbPool, *apiError) {
	return lbFind(s.lbs().Pools, id, tok, "Pool")
}

func (s *Server) getPool(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcLoadBalancer, w, r, tok, "pool", s.findPool, s.renderPool)
}

func (s *Server) createPool(w http.ResponseWriter, r *http.Request, tok *token) {
	var req poolReq
	if _, e := decodeOctavia(r, "pool", poolPost, &req); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	e := func() *apiError {
		if !netHas(poolProtocols, req.Protocol) {
			return lbInvalid("protocol", req.Protocol, "Value should be one of: HTTP, HTTPS, PROXY, PROXYV2, SCTP, TCP, UDP")
		}
		if req.Algorithm == nil || !netHas(poolAlgorithms, *req.Algorithm) {
			v := "None"
			if req.Algorithm != nil {
				v = *req.Algorithm
			}
			return lbInvalid("lb_algorithm", v, "Value should be one of: LEAST_CONNECTIONS, ROUND_ROBIN, SOURCE_IP, SOURCE_IP_PORT")
		}
		if req.LoadBalancerID == "" && req.ListenerID == "" {
			return lbErr(http.StatusBadRequest, "Validation failure: Must provide at least one of: loadbalancer_id, listener_id")
		}
		var li *lbListener
		lbID := req.LoadBalancerID
		if req.ListenerID != "" {
			var e *apiError
			if li, e = s.findListener(req.ListenerID, tok); e != nil {
				return lbErr(http.StatusBadRequest, "Listener %s not found.", req.ListenerID)
			}
			if lbID != "" && lbID != li.LoadBalancerID {
				return lbErr(http.StatusBadRequest, "Validation failure: Listener %s is not on Load Balancer %s.", li.ID, lbID)
			}
			lbID = li.LoadBalancerID
			if li.DefaultPoolID != "" {
				return lbErr(http.StatusConflict, "This listener already has a default pool")
			}
			if !netHas(poolFitsListener[li.Protocol], req.Protocol) {
				return lbErr(http.StatusBadRequest, "Validation failure: The pool protocol '%s' is invalid while the listener protocol is '%s'.", req.Protocol, li.Protocol)
			}
		}
		lb, e := s.findLB(lbID, tok)
		if e != nil {
			return lbErr(http.StatusBadRequest, "Load Balancer %s not found.", lbID)
		}
		if e := lbMutable(lb); e != nil {
			return e
		}
		if e := s.lbQuotaCheck(lb.ProjectID, "pool"); e != nil {
			return e
		}
		p := &lbPool{LoadBalancerID: lb.ID, Protocol: req.Protocol, Algorithm: *req.Algorithm, SessionPersistence: req.SessionPersistence}
		s.lbInit(&p.lbStd, lb.ProjectID, req.Name, req.Description, req.AdminStateUp, req.Tags)
		s.lbs().Pools[p.ID] = p
		if li != nil {
			li.DefaultPoolID = p.ID
			s.lbPend(&li.lbStd, lbPendingUpdate)
		}
		s.lbPend(&lb.lbStd, lbPendingUpdate)
		writeNeutronOne(w, r, http.StatusCreated, "pool", s.renderPool(p))
		return nil
	}()
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
	}
}

func (s *Server) updatePool(w http.ResponseWriter, r *http.Request, tok *token) {
	p, e := s.findPool(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	var req poolReq
	attrs, e := decodeOctavia(r, "pool", poolPut, &req)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	lb, e := s.lbChild(p.LoadBalancerID)
	if e == nil && req.Algorithm != nil && !netHas(poolAlgorithms, *req.Algorithm) {
		e = lbInvalid("lb_algorithm", *req.Algorithm, "Value should be one of: LEAST_CONNECTIONS, ROUND_ROBIN, SOURCE_IP, SOURCE_IP_PORT")
	}
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	if req.Algorithm != nil {
		p.Algorithm = *req.Algorithm
	}
	if attrSet(attrs, "session_persistence") {
		p.SessionPersistence = req.SessionPersistence
	}
	s.lbApply(&p.lbStd, req.Name, req.Description, req.AdminStateUp, req.Tags)
	s.lbPend(&p.lbStd, lbPendingUpdate)
	s.lbPend(&lb.lbStd, lbPendingUpdate)
	writeNeutronOne(w, r, http.StatusOK, "pool", s.renderPool(p))
}

func (s *Server) deletePool(w http.ResponseWriter, r *http.Request, tok *token) {
	p, e := s.findPool(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	lb, e := s.lbChild(p.LoadBalancerID)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	l := s.lbs()
	for _, m := range l.Members {
		if m.PoolID == p.ID {
			s.lbPend(&m.lbStd, lbPendingDelete)
		}
	}
	if hm := l.Monitors[p.MonitorID]; hm != nil {
		s.lbPend(&hm.lbStd, lbPendingDelete)
	}
	s.lbPend(&p.lbStd, lbPendingDelete)
	s.lbPend(&lb.lbStd, lbPendingUpdate)
	w.WriteHeader(http.StatusNoContent)
}

// ----- members -----

func (s *Server) memberOperating(m *lbMember) string {
	if !m.AdminStateUp {
		return "OFFLINE"
	}
	l := s.lbs()
	var hm *lbMonitor
	if p := l.Pools[m.PoolID]; p != nil {
		hm = l.Monitors[p.MonitorID]
	}
	switch {
	case m.Provisioning == lbPendingCreate && hm != nil && hm.Provisioning != lbPendingCreate:
		// Octavia starts a member OFFLINE under a monitor the pool
		// already had, NO_MONITOR otherwise (also when the monitor
		// comes in the same fully populated create).
		return "OFFLINE"
	case m.Provisioning == lbPendingCreate || hm == nil:
		return "NO_MONITOR"
	}
	return "ONLINE"
}

func (s *Server) renderMember(m *lbMember) map[string]any {
	var mp any
	if m.MonitorPort != nil {
		mp = *m.MonitorPort
	}
	out := map[string]any{
		"address":         m.Address,
		"protocol_port":   m.Port,
		"subnet_id":       strOrNil(m.SubnetID),
		"weight":          m.Weight,
		"backup":          m.Backup,
		"monitor_address": strOrNil(m.MonitorAddress),
		"monitor_port":    mp,
	}
	out = m.renderStd(out, s.memberOperating(m))
	delete(out, "description") // Zed's members have none
	return out
}

type memberReq struct {
	Name           *string   `json:"name"`
	AdminStateUp   *bool     `json:"admin_state_up"`
	Address        string    `json:"address"`
	Port           *int      `json:"protocol_port"`
	SubnetID       string    `json:"subnet_id"`
	Weight         *int      `json:"weight"`
	Backup         *bool     `json:"backup"`
	MonitorAddress *string   `json:"monitor_address"`
	MonitorPort    *int      `json:"monitor_port"`
	ProjectID      string    `json:"project_id"`
	Tags           *[]string `json:"tags"`
}

var (
	memberPut  = []string{"name", "admin_state_up", "weight", "backup", "monitor_address", "monitor_port", "tags"}
	memberPost = append([]string{"address", "protocol_port", "subnet_id", "project_id", "tenant_id", "request_sriov"}, memberPut...)
)

// memberPool finds the pool of a member request and checks its load
// balancer accepts changes.
func (s *Server) memberPool(r *http.Request, tok *token) (*lbPool, *lbLoadBalancer, *apiError) {
	p, e := s.findPool(r.PathValue("id"), tok)
	if e != nil {
		return nil, nil, e
	}
	lb := s.lbs().LoadBalancers[p.LoadBalancerID]
	if lb == nil {
		return nil, nil, lbNotFound("Load Balancer", p.LoadBalancerID)
	}
	return p, lb, nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, tok *token) {
	p, _, e := s.memberPool(r, tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	var items []map[string]any
	for _, m := range s.lbs().Members {
		if m.PoolID == p.ID {
			items = append(items, s.renderMember(m))
		}
	}
	s.writeList(w, r, svcLoadBalancer, "members", items)
}

func (s *Server) findMember(r *http.Request, tok *token) (*lbMember, *lbLoadBalancer, *apiError) {
	p, lb, e := s.memberPool(r, tok)
	if e != nil {
		return nil, nil, e
	}
	id := r.PathValue("member")
	m := s.lbs().Members[id]
	if m == nil || m.PoolID != p.ID {
		return nil, nil, lbNotFound("Member", id)
	}
	return m, lb, nil
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request, tok *token) {
	m, _, e := s.findMember(r, tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	writeNeutronOne(w, r, http.StatusOK, "member", s.renderMember(m))
}

func (s *Server) createMember(w http.ResponseWriter, r *http.Request, tok *token) {
	p, lb, e := s.memberPool(r, tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	var req memberReq
	if _, e := decodeOctavia(r, "member", memberPost, &req); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	e = func() *apiError {
		a, err := netip.ParseAddr(req.Address)
		if err != nil {
			return lbInvalid("address", req.Address, "Value should be IPv4 or IPv6 format")
		}
		if e := lbPort(req.Port); e != nil {
			return e
		}
		if e := memberWeight(req.Weight); e != nil {
			return e
		}
		if req.SubnetID != "" {
			if sub := s.nst().Subnets[req.SubnetID]; sub == nil || !s.subnetVisible(sub, tok) {
				return lbErr(http.StatusBadRequest, "Subnet %s not found.", req.SubnetID)
			}
		}
		if e := lbMutable(lb); e != nil {
			return e
		}
		for _, o := range s.lbs().Members {
			if o.PoolID == p.ID && o.Address == a.String() && o.Port == *req.Port {
				return lbErr(http.StatusConflict, "Another member on this pool is already using ip %s on protocol_port %d", o.Address, o.Port)
			}
		}
		if e := s.lbQuotaCheck(lb.ProjectID, "member"); e != nil {
			return e
		}
		m := &lbMember{PoolID: p.ID, Address: a.String(), Port: *req.Port, SubnetID: req.SubnetID, Weight: 1}
		s.lbInit(&m.lbStd, lb.ProjectID, req.Name, nil, req.AdminStateUp, req.Tags)
		applyMember(m, &req)
		s.lbs().Members[m.ID] = m
		s.lbPend(&lb.lbStd, lbPendingUpdate)
		writeNeutronOne(w, r, http.StatusCreated, "member", s.renderMember(m))
		return nil
	}()
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
	}
}

// memberWeight checks an optional member weight.
func memberWeight(weight *int) *apiError {
	if weight != nil && (*weight < 0 || *weight > 256) {
		return lbInvalid("weight", *weight, "Value should be between 0 and 256.")
	}
	return nil
}

func applyMember(m *lbMember, req *memberReq) {
	if req.Weight != nil {
		m.Weight = *req.Weight
	}
	if req.Backup != nil {
		m.Backup = *req.Backup
	}
	if req.MonitorAddress != nil {
		m.MonitorAddress = *req.MonitorAddress
	}
	if req.MonitorPort != nil {
		v := *req.MonitorPort
		m.MonitorPort = &v
	}
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request, tok *token) {
	m, lb, e := s.findMember(r, tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	var req memberReq
	if _, e := decodeOctavia(r, "member", memberPut, &req); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	if e := lbMutable(lb); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	if e := memberWeight(req.Weight); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	applyMember(m, &req)
	s.lbApply(&m.lbStd, req.Name, nil, req.AdminStateUp, req.Tags)
	s.lbPend(&m.lbStd, lbPendingUpdate)
	s.lbPend(&lb.lbStd, lbPendingUpdate)
	writeNeutronOne(w, r, http.StatusOK, "member", s.renderMember(m))
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request, tok *token) {
	m, lb, e := s.findMember(r, tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	s.lbDeleteChild(w, &m.lbStd, lb, lbMutable(lb))
}

// ----- health monitors -----

var monitorTypes = []string{"PING", "TCP", "HTTP", "HTTPS", "TLS-HELLO", "UDP-CONNECT", "SCTP"}

func (s *Server) renderMonitor(hm *lbMonitor) map[string]any {
	m := map[string]any{
		"type":             hm.Type,
		"delay":            hm.Delay,
		"timeout":          hm.Timeout,
		"max_retries":      hm.MaxRetries,
		"max_retries_down": hm.MaxRetriesDown,
		"http_method":      strOrNil(hm.HTTPMethod),
		"url_path":         strOrNil(hm.URLPath),
		"expected_codes":   strOrNil(hm.ExpectedCodes),
		"http_version":     nil,
		"domain_name":      nil,
		"pools":            idList([]string{hm.PoolID}),
	}
	return hm.renderStd(m, hm.operating())
}

type monitorReq struct {
	Name           *string   `json:"name"`
	AdminStateUp   *bool     `json:"admin_state_up"`
	PoolID         string    `json:"pool_id"`
	Type           string    `json:"type"`
	Delay          *int      `json:"delay"`
	Timeout        *int      `json:"timeout"`
	MaxRetries     *int      `json:"max_retries"`
	MaxRetriesDown *int      `json:"max_retries_down"`
	HTTPMethod     *string   `json:"http_method"`
	URLPath        *string   `json:"url_path"`
	ExpectedCodes  *string   `json:"expected_codes"`
	ProjectID      string    `json:"project_id"`
	Tags           *[]string `json:"tags"`
}

var (
	monitorPut  = []string{"name", "admin_state_up", "delay", "timeout", "max_retries", "max_retries_down", "http_method", "url_path", "expected_codes", "tags", "http_version", "domain_name"}
	monitorPost = append([]string{"pool_id", "type", "project_id", "tenant_id"}, monitorPut...)
)

func (s *Server) listMonitors(w http.ResponseWriter, r *http.Request, tok *token) {
	lbList(s, w, r, tok, "healthmonitors", s.lbs().Monitors, s.renderMonitor)
}

func (s *Server) findMonitor(id string, tok *token) (*lbMonitor, *apiError) {
	return lbFind(s.lbs().Monitors, id, tok, "Health Monitor")
}

func (s *Server) getMonitor(w http.ResponseWriter, r *http.Request, tok *token) {
	getByID(s, svcLoadBalancer, w, r, tok, "healthmonitor", s.findMonitor, s.renderMonitor)
}

// applyMonitor validates and applies the timing and HTTP settings.
func applyMonitor(hm *lbMonitor, req *monitorReq) *apiError {
	for _, f := range []struct {
		name     string
		v        *int
		min, max int
		dst      *int
	}{
		{"delay", req.Delay, 0, 2147483647, &hm.Delay},
		{"timeout", req.Timeout, 0, 2147483647, &hm.Timeout},
		{"max_retries", req.MaxRetries, 1, 10, &hm.MaxRetries},
		{"max_retries_down", req.MaxRetriesDown, 1, 10, &hm.MaxRetriesDown},
	} {
		if f.v == nil {
			continue
		}
		if *f.v < f.min || *f.v > f.max {
			return lbInvalid(f.name, *f.v, "Value should be between "+strconv.Itoa(f.min)+" and "+strconv.Itoa(f.max)+".")
		}
		*f.dst = *f.v
	}
	httpType := hm.Type == "HTTP" || hm.Type == "HTTPS"
	if !httpType && (req.HTTPMethod != nil || req.URLPath != nil || req.ExpectedCodes != nil) {
		return lbErr(http.StatusBadRequest, "Validation failure: http_method, url_path and expected_codes are only valid for HTTP and HTTPS health monitors.")
	}
	if req.HTTPMethod != nil {
		hm.HTTPMethod = *req.HTTPMethod
	}
	if req.URLPath != nil {
		hm.URLPath = *req.URLPath
	}
	if req.ExpectedCodes != nil {
		hm.ExpectedCodes = *req.ExpectedCodes
	}
	return nil
}

func (s *Server) createMonitor(w http.ResponseWriter, r *http.Request, tok *token) {
	var req monitorReq
	if _, e := decodeOctavia(r, "healthmonitor", monitorPost, &req); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	e := func() *apiError {
		if req.PoolID == "" {
			return lbInvalid("pool_id", "None", "Mandatory field missing.")
		}
		if !netHas(monitorTypes, req.Type) {
			return lbInvalid("type", req.Type, "Value should be one of: HTTP, HTTPS, PING, SCTP, TCP, TLS-HELLO, UDP-CONNECT")
		}
		for name, v := range map[string]*int{"delay": req.Delay, "timeout": req.Timeout, "max_retries": req.MaxRetries} {
			if v == nil {
				return lbInvalid(name, "None", "Mandatory field missing.")
			}
		}
		p, e := s.findPool(req.PoolID, tok)
		if e != nil {
			return lbErr(http.StatusBadRequest, "Pool %s not found.", req.PoolID)
		}
		lb, e := s.lbChild(p.LoadBalancerID)
		if e != nil {
			return e
		}
		if p.MonitorID != "" {
			return lbErr(http.StatusConflict, "This pool already has a health monitor")
		}
		if e := s.lbQuotaCheck(lb.ProjectID, "health_monitor"); e != nil {
			return e
		}
		hm := &lbMonitor{PoolID: p.ID, Type: req.Type, MaxRetriesDown: 3}
		if req.Type == "HTTP" || req.Type == "HTTPS" {
			hm.HTTPMethod, hm.URLPath, hm.ExpectedCodes = "GET", "/", "200"
		}
		if e := applyMonitor(hm, &req); e != nil {
			return e
		}
		s.lbInit(&hm.lbStd, lb.ProjectID, req.Name, nil, req.AdminStateUp, req.Tags)
		s.lbs().Monitors[hm.ID] = hm
		p.MonitorID = hm.ID
		s.lbPend(&lb.lbStd, lbPendingUpdate)
		writeNeutronOne(w, r, http.StatusCreated, "healthmonitor", s.renderMonitor(hm))
		return nil
	}()
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
	}
}

// monitorLB finds the load balancer of a health monitor through its pool
// and checks that it accepts changes.
func (s *Server) monitorLB(hm *lbMonitor) (*lbLoadBalancer, *apiError) {
	p := s.lbs().Pools[hm.PoolID]
	if p == nil {
		return nil, lbNotFound("Pool", hm.PoolID)
	}
	return s.lbChild(p.LoadBalancerID)
}

func (s *Server) updateMonitor(w http.ResponseWriter, r *http.Request, tok *token) {
	hm, e := s.findMonitor(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	var req monitorReq
	if _, e := decodeOctavia(r, "healthmonitor", monitorPut, &req); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	lb, e := s.monitorLB(hm)
	if e == nil {
		e = applyMonitor(hm, &req)
	}
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	s.lbApply(&hm.lbStd, req.Name, nil, req.AdminStateUp, req.Tags)
	s.lbPend(&hm.lbStd, lbPendingUpdate)
	s.lbPend(&lb.lbStd, lbPendingUpdate)
	writeNeutronOne(w, r, http.StatusOK, "healthmonitor", s.renderMonitor(hm))
}

func (s *Server) deleteMonitor(w http.ResponseWriter, r *http.Request, tok *token) {
	hm, e := s.findMonitor(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	lb, e := s.monitorLB(hm)
	s.lbDeleteChild(w, &hm.lbStd, lb, e)
}
