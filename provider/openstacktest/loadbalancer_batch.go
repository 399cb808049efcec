package openstacktest

import (
	"encoding/json"
	"net/http"
	"net/netip"
)

// batchMembers answers PUT /pools/{id}/members: the body is the pool's
// whole member list. Members are matched by address and port; those not
// listed are deleted, new ones created and the others updated, all in one
// PENDING_UPDATE of the load balancer.
func (s *Server) batchMembers(w http.ResponseWriter, r *http.Request, tok *token) {
	p, lb, e := s.memberPool(r, tok)
	if e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	var body struct {
		Members *[]json.RawMessage `json:"members"`
	}
	if e := decodeJSON(r, &body); e != nil {
		s.writeError(w, svcLoadBalancer, lbErr(http.StatusBadRequest, "%s", e.Message))
		return
	}
	if body.Members == nil {
		s.writeError(w, svcLoadBalancer, lbErr(http.StatusBadRequest, "Missing argument: \"members\""))
		return
	}
	type key struct {
		addr string
		port int
	}
	var reqs []memberReq
	seen := map[key]bool{}
	for _, raw := range *body.Members {
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(raw, &attrs); err != nil {
			s.writeError(w, svcLoadBalancer, lbErr(http.StatusBadRequest, "Invalid input for field/attribute members. %v", err))
			return
		}
		for k := range attrs {
			if !netHas(memberPost, k) {
				s.writeError(w, svcLoadBalancer, lbErr(http.StatusBadRequest, "Unknown attribute for argument members: %s", k))
				return
			}
		}
		var m memberReq
		if err := json.Unmarshal(raw, &m); err != nil {
			s.writeError(w, svcLoadBalancer, lbErr(http.StatusBadRequest, "Invalid input for field/attribute members. %v", err))
			return
		}
		a, err := netip.ParseAddr(m.Address)
		if err != nil {
			s.writeError(w, svcLoadBalancer, lbInvalid("address", m.Address, "Value should be IPv4 or IPv6 format"))
			return
		}
		if m.Port == nil || *m.Port < 1 || *m.Port > 65535 {
			s.writeError(w, svcLoadBalancer, lbInvalid("protocol_port", "None", "Value should be between 1 and 65535."))
			return
		}
		if m.Weight != nil && (*m.Weight < 0 || *m.Weight > 256) {
			s.writeError(w, svcLoadBalancer, lbInvalid("weight", *m.Weight, "Value should be between 0 and 256."))
			return
		}
		if m.SubnetID != "" {
			if sub := s.nst().Subnets[m.SubnetID]; sub == nil || !s.subnetVisible(sub, tok) {
				s.writeError(w, svcLoadBalancer, lbErr(http.StatusBadRequest, "Subnet %s not found.", m.SubnetID))
				return
			}
		}
		k := key{a.String(), *m.Port}
		if seen[k] {
			s.writeError(w, svcLoadBalancer, lbErr(http.StatusConflict, "Another member on this pool is already using ip %s on protocol_port %d", k.addr, k.port))
			return
		}
		seen[k] = true
		m.Address = k.addr
		reqs = append(reqs, m)
	}
	if e := lbMutable(lb); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	l := s.lbs()
	existing := map[key]*lbMember{}
	for _, m := range l.Members {
		if m.PoolID == p.ID {
			existing[key{m.Address, m.Port}] = m
		}
	}
	newCount := 0
	for _, m := range reqs {
		if existing[key{m.Address, *m.Port}] == nil {
			newCount++
		}
	}
	if limit := s.lbQuota(lb.ProjectID)["member"]; limit >= 0 && newCount > 0 {
		used := 0
		for _, m := range l.Members {
			if m.ProjectID == lb.ProjectID {
				used++
			}
		}
		if used+newCount > limit {
			s.writeError(w, svcLoadBalancer, lbErr(http.StatusForbidden, "Quota has been met for resources: Member"))
			return
		}
	}
	for k, m := range existing {
		if !seen[k] {
			s.lbPend(&m.lbStd, lbPendingDelete)
		}
	}
	for i := range reqs {
		req := &reqs[i]
		if m := existing[key{req.Address, *req.Port}]; m != nil {
			applyMember(m, req)
			s.lbApply(&m.lbStd, req.Name, nil, req.AdminStateUp, req.Tags)
			s.lbPend(&m.lbStd, lbPendingUpdate)
			continue
		}
		m := &lbMember{PoolID: p.ID, Address: req.Address, Port: *req.Port, SubnetID: req.SubnetID, Weight: 1}
		s.lbInit(&m.lbStd, lb.ProjectID, req.Name, nil, req.AdminStateUp, req.Tags)
		applyMember(m, req)
		l.Members[m.ID] = m
	}
	s.lbPend(&lb.lbStd, lbPendingUpdate)
	w.WriteHeader(http.StatusAccepted)
}

// listProviders lists Octavia's provider drivers: amphora only.
func (s *Server) listProviders(w http.ResponseWriter, r *http.Request, tok *token) {
	writeJSON(w, http.StatusOK, map[string]any{"providers": []any{
		map[string]any{"name": "amphora", "description": "The Octavia Amphora driver."},
		map[string]any{"name": "octavia", "description": "Deprecated alias of the Octavia Amphora driver."},
	}})
}

// listLBFlavors lists Octavia flavors: a fresh cloud has none.
func (s *Server) listLBFlavors(w http.ResponseWriter, r *http.Request, tok *token) {
	writeJSON(w, http.StatusOK, map[string]any{"flavors": []any{}, "flavors_links": []any{}})
}
