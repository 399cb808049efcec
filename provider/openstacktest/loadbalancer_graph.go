package openstacktest

import (
	"encoding/json"
	"net/http"
	"net/netip"
)

// Octavia's fully populated create: POST /v2/lbaas/loadbalancers with
// listeners (each with an optional default_pool, given in full or by name),
// top-level pools, and each pool's members and health monitor. Everything
// is validated before anything is made; then every object is PENDING_CREATE
// and becomes ACTIVE with the load balancer.

// graphListener is a listener inside a load balancer create.
type graphListener struct {
	listenerReq
	DefaultPool json.RawMessage `json:"default_pool"`
}

// graphPool is a pool inside a load balancer create, with its members and
// health monitor.
type graphPool struct {
	poolReq
	Members       []memberReq `json:"members"`
	HealthMonitor *monitorReq `json:"healthmonitor"`
}

var (
	graphListenerKeys = append([]string{"protocol", "protocol_port", "default_pool", "l7policies", "project_id", "tenant_id"}, listenerPut...)
	graphPoolKeys     = append([]string{"protocol", "members", "healthmonitor", "project_id", "tenant_id"}, poolPut...)
)

// graphKeys refuses attributes of a nested object that Octavia's API does
// not know, as decodeOctavia does for the top level.
func graphKeys(raw json.RawMessage, what string, allowed []string) *apiError {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil {
		return lbErr(http.StatusBadRequest, "Invalid input for field/attribute %s. Value: '%s'.", what, raw)
	}
	for k := range attrs {
		if !netHas(allowed, k) {
			return lbErr(http.StatusBadRequest, "Unknown attribute for argument %s: %s", what, k)
		}
	}
	return nil
}

// graphPlan is a validated fully populated create.
type graphPlan struct {
	listeners []graphListener
	// poolOf names each listener's default pool ("" for none).
	poolOf []string
	pools  []graphPool
}

// planGraph reads and validates the listeners and pools of a load balancer
// create body (raw is the "loadbalancer" object).
func (s *Server) planGraph(raw map[string]json.RawMessage, tok *token) (*graphPlan, *apiError) {
	var plan graphPlan
	var rawListeners, rawPools []json.RawMessage
	for key, dst := range map[string]*[]json.RawMessage{"listeners": &rawListeners, "pools": &rawPools} {
		if v, ok := raw[key]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return nil, lbErr(http.StatusBadRequest, "Invalid input for field/attribute %s. Value: '%s'.", key, v)
			}
		}
	}
	required := map[string]bool{}
	addPool := func(r json.RawMessage) *apiError {
		if e := graphKeys(r, "pools", graphPoolKeys); e != nil {
			return e
		}
		var p graphPool
		if err := json.Unmarshal(r, &p); err != nil {
			return lbErr(http.StatusBadRequest, "Invalid input for field/attribute pools. %v", err)
		}
		plan.pools = append(plan.pools, p)
		return nil
	}
	for _, r := range rawPools {
		if e := addPool(r); e != nil {
			return nil, e
		}
	}
	for _, r := range rawListeners {
		if e := graphKeys(r, "listeners", graphListenerKeys); e != nil {
			return nil, e
		}
		var li graphListener
		if err := json.Unmarshal(r, &li); err != nil {
			return nil, lbErr(http.StatusBadRequest, "Invalid input for field/attribute listeners. %v", err)
		}
		pool := ""
		if len(li.DefaultPool) > 0 && string(li.DefaultPool) != "null" {
			var attrs map[string]json.RawMessage
			var ref struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(li.DefaultPool, &attrs) != nil || json.Unmarshal(li.DefaultPool, &ref) != nil {
				return nil, lbErr(http.StatusBadRequest, "Invalid input for field/attribute default_pool. Value: '%s'.", li.DefaultPool)
			}
			if ref.Name == "" {
				return nil, lbErr(http.StatusBadRequest, "Validation failure: Pools must be named when creating a fully populated loadbalancer.")
			}
			pool = ref.Name
			if len(attrs) > 1 {
				// A full pool: created with the others, referenced by name.
				if e := addPool(li.DefaultPool); e != nil {
					return nil, e
				}
			} else {
				required[ref.Name] = true
			}
		}
		plan.listeners = append(plan.listeners, li)
		plan.poolOf = append(plan.poolOf, pool)
	}

	names := map[string]*graphPool{}
	for i := range plan.pools {
		p := &plan.pools[i]
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if names[name] != nil {
			return nil, lbErr(http.StatusBadRequest, "Validation failure: Pool names must be unique when creating a fully populated loadbalancer.")
		}
		names[name] = p
	}
	for name := range required {
		if names[name] == nil {
			return nil, lbErr(http.StatusBadRequest, "Validation failure: Pool '%s' was referenced but no full definition was found.", name)
		}
	}
	for i := range plan.pools {
		if e := s.checkGraphPool(&plan.pools[i], tok); e != nil {
			return nil, e
		}
	}
	for i := range plan.listeners {
		li := &plan.listeners[i]
		if !netHas(listenerProtocols, li.Protocol) {
			return nil, lbInvalid("protocol", li.Protocol, "Value should be one of: HTTP, HTTPS, PROMETHEUS, SCTP, TCP, TERMINATED_HTTPS, UDP")
		}
		if e := lbPort(li.Port); e != nil {
			return nil, e
		}
		for _, o := range plan.listeners[:i] {
			if *o.Port == *li.Port && (o.Protocol == "UDP") == (li.Protocol == "UDP") {
				return nil, lbErr(http.StatusConflict, "Another Listener on this Load Balancer is already using protocol %s and protocol_port %d", o.Protocol, *o.Port)
			}
		}
		if e := applyListener(&lbListener{}, &li.listenerReq); e != nil {
			return nil, e
		}
		if name := plan.poolOf[i]; name != "" {
			if p := names[name]; !netHas(poolFitsListener[li.Protocol], p.Protocol) {
				return nil, lbErr(http.StatusBadRequest, "Validation failure: The pool protocol '%s' is invalid while the listener protocol is '%s'.", p.Protocol, li.Protocol)
			}
			for j, other := range plan.poolOf[:i] {
				if other == name {
					return nil, lbErr(http.StatusConflict, "Pool %s is already in use by listener %d.", name, j)
				}
			}
		}
	}
	return &plan, nil
}

// checkGraphPool validates a pool of a fully populated create, with its
// members and health monitor.
func (s *Server) checkGraphPool(p *graphPool, tok *token) *apiError {
	name := ""
	if p.Name != nil {
		name = *p.Name
	}
	if p.Protocol == "" {
		return lbErr(http.StatusBadRequest, "Validation failure: Pool definition for '%s' missing required attribute: protocol", name)
	}
	if p.Algorithm == nil {
		return lbErr(http.StatusBadRequest, "Validation failure: Pool definition for '%s' missing required attribute: lb_algorithm", name)
	}
	if !netHas(poolProtocols, p.Protocol) {
		return lbInvalid("protocol", p.Protocol, "Value should be one of: HTTP, HTTPS, PROXY, PROXYV2, SCTP, TCP, UDP")
	}
	if !netHas(poolAlgorithms, *p.Algorithm) {
		return lbInvalid("lb_algorithm", *p.Algorithm, "Value should be one of: LEAST_CONNECTIONS, ROUND_ROBIN, SOURCE_IP, SOURCE_IP_PORT")
	}
	seen := map[string]bool{}
	for i := range p.Members {
		m := &p.Members[i]
		a, err := netip.ParseAddr(m.Address)
		if err != nil {
			return lbInvalid("address", m.Address, "Value should be IPv4 or IPv6 format")
		}
		if e := lbPort(m.Port); e != nil {
			return e
		}
		if e := memberWeight(m.Weight); e != nil {
			return e
		}
		if m.SubnetID != "" {
			if sub := s.nst().Subnets[m.SubnetID]; sub == nil || !s.subnetVisible(sub, tok) {
				return lbErr(http.StatusBadRequest, "Subnet %s not found.", m.SubnetID)
			}
		}
		key := netip.AddrPortFrom(a, uint16(*m.Port)).String()
		if seen[key] {
			return lbErr(http.StatusConflict, "Another member on this pool is already using ip %s on protocol_port %d", a, *m.Port)
		}
		seen[key] = true
	}
	if hm := p.HealthMonitor; hm != nil {
		if !netHas(monitorTypes, hm.Type) {
			return lbInvalid("type", hm.Type, "Value should be one of: HTTP, HTTPS, PING, SCTP, TCP, TLS-HELLO, UDP-CONNECT")
		}
		for name, v := range map[string]*int{"delay": hm.Delay, "timeout": hm.Timeout, "max_retries": hm.MaxRetries} {
			if v == nil {
				return lbInvalid(name, "None", "Mandatory field missing.")
			}
		}
		if e := applyMonitor(&lbMonitor{Type: hm.Type}, hm); e != nil {
			return e
		}
	}
	return nil
}

// graphQuota checks the project's room for the planned objects, in the
// order Octavia does (pools, then listeners; monitors and members per pool).
func (s *Server) graphQuota(projectID string, plan *graphPlan) *apiError {
	members, monitors := 0, 0
	for _, p := range plan.pools {
		members += len(p.Members)
		if p.HealthMonitor != nil {
			monitors++
		}
	}
	for _, c := range []struct {
		res string
		n   int
	}{{"pool", len(plan.pools)}, {"health_monitor", monitors}, {"member", members}, {"listener", len(plan.listeners)}} {
		if c.n == 0 {
			continue
		}
		if e := s.lbQuotaCheckN(projectID, c.res, c.n); e != nil {
			return e
		}
	}
	return nil
}

// buildGraph makes the planned objects on load balancer lb, PENDING_CREATE
// until lb is ACTIVE.
func (s *Server) buildGraph(lb *lbLoadBalancer, plan *graphPlan) {
	l := s.lbs()
	init := func(x *lbStd, name, desc *string, admin *bool, tags *[]string) {
		s.lbInit(x, lb.ProjectID, name, desc, admin, tags)
		x.PendingUntil = lb.PendingUntil
	}
	poolIDs := map[string]string{}
	for i := range plan.pools {
		gp := &plan.pools[i]
		p := &lbPool{LoadBalancerID: lb.ID, Protocol: gp.Protocol, Algorithm: *gp.Algorithm, SessionPersistence: gp.SessionPersistence}
		init(&p.lbStd, gp.Name, gp.Description, gp.AdminStateUp, gp.Tags)
		l.Pools[p.ID] = p
		poolIDs[p.Name] = p.ID
		for j := range gp.Members {
			req := &gp.Members[j]
			a := netip.MustParseAddr(req.Address)
			m := &lbMember{PoolID: p.ID, Address: a.String(), Port: *req.Port, SubnetID: req.SubnetID, Weight: 1}
			init(&m.lbStd, req.Name, nil, req.AdminStateUp, req.Tags)
			applyMember(m, req)
			l.Members[m.ID] = m
		}
		if req := gp.HealthMonitor; req != nil {
			hm := &lbMonitor{PoolID: p.ID, Type: req.Type, MaxRetriesDown: 3}
			if req.Type == "HTTP" || req.Type == "HTTPS" {
				hm.HTTPMethod, hm.URLPath, hm.ExpectedCodes = "GET", "/", "200"
			}
			_ = applyMonitor(hm, req) // validated by planGraph
			init(&hm.lbStd, req.Name, nil, req.AdminStateUp, req.Tags)
			l.Monitors[hm.ID] = hm
			p.MonitorID = hm.ID
		}
	}
	for i := range plan.listeners {
		req := &plan.listeners[i]
		li := &lbListener{LoadBalancerID: lb.ID, Protocol: req.Protocol, Port: *req.Port, ConnectionLimit: -1,
			ClientData: 50000, MemberConnect: 5000, MemberData: 50000, InsertHeaders: map[string]string{}}
		init(&li.lbStd, req.Name, req.Description, req.AdminStateUp, req.Tags)
		_ = applyListener(li, &req.listenerReq) // validated by planGraph
		li.DefaultPoolID = poolIDs[plan.poolOf[i]]
		l.Listeners[li.ID] = li
	}
}

// renderGraphLB is Octavia's answer to a fully populated create: the load
// balancer with its listeners and pools in full (pools with their members
// in full). Real Octavia (Zed) renders each pool's "healthmonitor" as null
// in this answer even when one was created, and leaves out the listeners'
// and pools' "loadbalancers" and the pools' "healthmonitor_id".
func (s *Server) renderGraphLB(lb *lbLoadBalancer) map[string]any {
	l := s.lbs()
	m := s.renderLB(lb)
	lis := []map[string]any{}
	for _, li := range sortedListeners(l, lb.ID) {
		x := s.renderListener(li)
		delete(x, "loadbalancers")
		lis = append(lis, x)
	}
	pools := []map[string]any{}
	for _, p := range sortedPools(l, lb.ID) {
		x := s.renderPool(p)
		delete(x, "loadbalancers")
		delete(x, "healthmonitor_id")
		members := []map[string]any{}
		for _, mb := range sortedMembers(l, p.ID) {
			members = append(members, s.renderMember(mb))
		}
		x["members"] = members
		x["healthmonitor"] = nil
		pools = append(pools, x)
	}
	m["listeners"], m["pools"] = lis, pools
	return m
}
