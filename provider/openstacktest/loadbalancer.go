package openstacktest

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// lbState is Octavia's state: every map is keyed by ID.
type lbState struct {
	LoadBalancers map[string]*lbLoadBalancer `json:"loadBalancers"`
	Listeners     map[string]*lbListener     `json:"listeners"`
	Pools         map[string]*lbPool         `json:"pools"`
	Members       map[string]*lbMember       `json:"members"`
	Monitors      map[string]*lbMonitor      `json:"monitors"`
	// Quotas holds per-project limits that differ from the defaults.
	Quotas map[string]map[string]int `json:"quotas"`
}

// lbStd holds the attributes every Octavia object has.
type lbStd struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	ProjectID    string    `json:"projectID"`
	Tags         []string  `json:"tags"`
	AdminStateUp bool      `json:"adminStateUp"`
	Provisioning string    `json:"provisioning"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	// PendingUntil is when the current PENDING_* state ends.
	PendingUntil time.Time `json:"pendingUntil"`
}

// octaviaTime is Octavia's timestamp format (no zone).
const octaviaTime = "2006-01-02T15:04:05"

// Octavia's provisioning states.
const (
	lbActive        = "ACTIVE"
	lbPendingCreate = "PENDING_CREATE"
	lbPendingUpdate = "PENDING_UPDATE"
	lbPendingDelete = "PENDING_DELETE"
)

func (x *lbStd) pending() bool { return strings.HasPrefix(x.Provisioning, "PENDING_") }

func (x *lbStd) renderStd(m map[string]any, operating string) map[string]any {
	tags := append([]string{}, x.Tags...)
	sort.Strings(tags)
	m["id"] = x.ID
	m["name"] = x.Name
	m["description"] = x.Description
	m["project_id"] = x.ProjectID
	m["tenant_id"] = x.ProjectID
	m["tags"] = tags
	m["admin_state_up"] = x.AdminStateUp
	m["provisioning_status"] = x.Provisioning
	m["operating_status"] = operating
	m["created_at"] = x.CreatedAt.Format(octaviaTime)
	m["updated_at"] = nil // Octavia: null until the object first changes
	if !x.UpdatedAt.IsZero() {
		m["updated_at"] = x.UpdatedAt.Format(octaviaTime)
	}
	return m
}

// operating is the operating status of an object in its current state.
func (x *lbStd) operating() string {
	if x.Provisioning == lbPendingCreate || !x.AdminStateUp {
		return "OFFLINE"
	}
	return "ONLINE"
}

// lbLoadBalancer is an Octavia load balancer.
type lbLoadBalancer struct {
	lbStd
	VIPAddress   string `json:"vipAddress"`
	VIPPortID    string `json:"vipPortID"`
	VIPSubnetID  string `json:"vipSubnetID"`
	VIPNetworkID string `json:"vipNetworkID"`
	// VIPPortOwned is set when Octavia created the VIP port and so deletes it.
	VIPPortOwned     bool   `json:"vipPortOwned"`
	Provider         string `json:"provider"`
	FlavorID         string `json:"flavorID"`
	AvailabilityZone string `json:"availabilityZone"`
}

// lbListener is a listener.
type lbListener struct {
	lbStd
	LoadBalancerID  string            `json:"loadBalancerID"`
	Protocol        string            `json:"protocol"`
	Port            int               `json:"port"`
	DefaultPoolID   string            `json:"defaultPoolID"`
	AllowedCIDRs    []string          `json:"allowedCIDRs"`
	ConnectionLimit int               `json:"connectionLimit"`
	ClientData      int               `json:"clientData"`
	MemberConnect   int               `json:"memberConnect"`
	MemberData      int               `json:"memberData"`
	TCPInspect      int               `json:"tcpInspect"`
	InsertHeaders   map[string]string `json:"insertHeaders"`
}

// lbPool is a pool.
type lbPool struct {
	lbStd
	LoadBalancerID     string `json:"loadBalancerID"`
	Protocol           string `json:"protocol"`
	Algorithm          string `json:"algorithm"`
	SessionPersistence any    `json:"sessionPersistence"`
	MonitorID          string `json:"monitorID"`
}

// lbMember is a pool member.
type lbMember struct {
	lbStd
	PoolID         string `json:"poolID"`
	Address        string `json:"address"`
	Port           int    `json:"port"`
	SubnetID       string `json:"subnetID"`
	Weight         int    `json:"weight"`
	Backup         bool   `json:"backup"`
	MonitorAddress string `json:"monitorAddress"`
	MonitorPort    *int   `json:"monitorPort"`
}

// lbMonitor is a health monitor.
type lbMonitor struct {
	lbStd
	PoolID         string `json:"poolID"`
	Type           string `json:"type"`
	Delay          int    `json:"delay"`
	Timeout        int    `json:"timeout"`
	MaxRetries     int    `json:"maxRetries"`
	MaxRetriesDown int    `json:"maxRetriesDown"`
	HTTPMethod     string `json:"httpMethod"`
	URLPath        string `json:"urlPath"`
	ExpectedCodes  string `json:"expectedCodes"`
}

// lbs returns the Octavia state, creating its maps on first use.
func (s *Server) lbs() *lbState {
	l := &s.st.LoadBalancer
	if l.LoadBalancers == nil {
		l.LoadBalancers = map[string]*lbLoadBalancer{}
	}
	if l.Listeners == nil {
		l.Listeners = map[string]*lbListener{}
	}
	if l.Pools == nil {
		l.Pools = map[string]*lbPool{}
	}
	if l.Members == nil {
		l.Members = map[string]*lbMember{}
	}
	if l.Monitors == nil {
		l.Monitors = map[string]*lbMonitor{}
	}
	if l.Quotas == nil {
		l.Quotas = map[string]map[string]int{}
	}
	return l
}

// seedLoadBalancer prepares Octavia: a fresh cloud has no load balancers;
// its quotas default to unlimited.
func (s *Server) seedLoadBalancer() { s.lbs() }

// snapshotLoadBalancer lists every live Octavia object. Callers hold s.mu.
func (s *Server) snapshotLoadBalancer() []Resource {
	l := s.lbs()
	var out []Resource
	add := func(kind string, x *lbStd) {
		out = append(out, Resource{Service: string(svcLoadBalancer), Kind: kind, ID: x.ID, Name: x.Name,
			ProjectID: x.ProjectID, Status: x.Provisioning, Tags: append([]string(nil), x.Tags...)})
	}
	for _, x := range l.LoadBalancers {
		add("loadbalancer", &x.lbStd)
	}
	for _, x := range l.Listeners {
		add("listener", &x.lbStd)
	}
	for _, x := range l.Pools {
		add("pool", &x.lbStd)
	}
	for _, x := range l.Members {
		add("member", &x.lbStd)
	}
	for _, x := range l.Monitors {
		add("healthmonitor", &x.lbStd)
	}
	return out
}

// lbPend puts x into state for the load balancer delay.
func (s *Server) lbPend(x *lbStd, state string) {
	now := s.now()
	x.Provisioning = state
	x.PendingUntil = now.Add(s.opts.lbDelay)
	x.UpdatedAt = now
}

// advanceLoadBalancer ends PENDING_* states that are due: objects become
// ACTIVE, or disappear after PENDING_DELETE (a load balancer with its
// children and VIP port). Callers hold s.mu.
func (s *Server) advanceLoadBalancer(now time.Time) bool {
	l := s.lbs()
	changed := false
	due := func(x *lbStd) bool { return x.pending() && !now.Before(x.PendingUntil) }
	settle := func(x *lbStd) bool {
		if !due(x) {
			return false
		}
		changed = true
		if x.Provisioning == lbPendingDelete {
			return true
		}
		x.Provisioning = lbActive
		x.UpdatedAt = now
		return false
	}
	for id, x := range l.Members {
		if settle(&x.lbStd) {
			delete(l.Members, id)
		}
	}
	for id, x := range l.Monitors {
		if settle(&x.lbStd) {
			s.lbRemoveMonitor(id)
		}
	}
	for id, x := range l.Pools {
		if settle(&x.lbStd) {
			s.lbRemovePool(id)
		}
	}
	for id, x := range l.Listeners {
		if settle(&x.lbStd) {
			s.lbRemoveListener(id)
		}
	}
	for id, x := range l.LoadBalancers {
		if settle(&x.lbStd) {
			for lid, li := range l.Listeners {
				if li.LoadBalancerID == id {
					s.lbRemoveListener(lid)
				}
			}
			for pid, p := range l.Pools {
				if p.LoadBalancerID == id {
					s.lbRemovePool(pid)
				}
			}
			if x.VIPPortOwned {
				s.netDeletePort(x.VIPPortID)
			}
			delete(l.LoadBalancers, id)
		}
	}
	return changed
}

func (s *Server) lbRemoveMonitor(id string) {
	l := s.lbs()
	if m := l.Monitors[id]; m != nil {
		if p := l.Pools[m.PoolID]; p != nil && p.MonitorID == id {
			p.MonitorID = ""
		}
	}
	delete(l.Monitors, id)
}

func (s *Server) lbRemovePool(id string) {
	l := s.lbs()
	for mid, m := range l.Members {
		if m.PoolID == id {
			delete(l.Members, mid)
		}
	}
	for hid, m := range l.Monitors {
		if m.PoolID == id {
			delete(l.Monitors, hid)
		}
	}
	for _, li := range l.Listeners {
		if li.DefaultPoolID == id {
			li.DefaultPoolID = ""
		}
	}
	delete(l.Pools, id)
}

func (s *Server) lbRemoveListener(id string) {
	delete(s.lbs().Listeners, id)
}

// routesLoadBalancer registers Octavia's API under both of its version
// prefixes.
func (s *Server) routesLoadBalancer() {
	s.handle(svcLoadBalancer, "GET /load-balancer/{$}", s.octaviaVersions, routeOpts{public: true})
	for _, v := range []string{"/load-balancer/v2.0", "/load-balancer/v2"} {
		h := func(pattern string, fn handlerFunc) {
			method, path, _ := strings.Cut(pattern, " ")
			s.handle(svcLoadBalancer, method+" "+v+path, fn)
		}
		p := "/lbaas"
		h("GET "+p+"/loadbalancers", s.listLBs)
		h("POST "+p+"/loadbalancers", s.createLB)
		h("GET "+p+"/loadbalancers/{id}", s.getLB)
		h("PUT "+p+"/loadbalancers/{id}", s.updateLB)
		h("DELETE "+p+"/loadbalancers/{id}", s.deleteLB)
		h("GET "+p+"/loadbalancers/{id}/status", s.getLBStatus)
		h("GET "+p+"/loadbalancers/{id}/stats", s.getLBStats)

		h("GET "+p+"/listeners", s.listListeners)
		h("POST "+p+"/listeners", s.createListener)
		h("GET "+p+"/listeners/{id}", s.getListener)
		h("PUT "+p+"/listeners/{id}", s.updateListener)
		h("DELETE "+p+"/listeners/{id}", s.deleteListener)

		h("GET "+p+"/pools", s.listPools)
		h("POST "+p+"/pools", s.createPool)
		h("GET "+p+"/pools/{id}", s.getPool)
		h("PUT "+p+"/pools/{id}", s.updatePool)
		h("DELETE "+p+"/pools/{id}", s.deletePool)
		h("GET "+p+"/pools/{id}/members", s.listMembers)
		h("POST "+p+"/pools/{id}/members", s.createMember)
		h("PUT "+p+"/pools/{id}/members", s.batchMembers)
		h("GET "+p+"/pools/{id}/members/{member}", s.getMember)
		h("PUT "+p+"/pools/{id}/members/{member}", s.updateMember)
		h("DELETE "+p+"/pools/{id}/members/{member}", s.deleteMember)

		h("GET "+p+"/healthmonitors", s.listMonitors)
		h("POST "+p+"/healthmonitors", s.createMonitor)
		h("GET "+p+"/healthmonitors/{id}", s.getMonitor)
		h("PUT "+p+"/healthmonitors/{id}", s.updateMonitor)
		h("DELETE "+p+"/healthmonitors/{id}", s.deleteMonitor)

		h("GET "+p+"/providers", s.listProviders)
		h("GET "+p+"/flavors", s.listLBFlavors)
		for _, q := range []string{"", p} {
			h("GET "+q+"/quotas", s.listLBQuotas)
			h("GET "+q+"/quotas/defaults", s.getLBQuotaDefaults)
			h("GET "+q+"/quotas/{project}", s.getLBQuota)
			h("PUT "+q+"/quotas/{project}", s.updateLBQuota)
			h("DELETE "+q+"/quotas/{project}", s.deleteLBQuota)
		}
	}
}

// octaviaVersions answers GET /load-balancer/ with Octavia's versions.
func (s *Server) octaviaVersions(w http.ResponseWriter, r *http.Request, _ *token) {
	link := func() []any {
		return []any{map[string]any{"rel": "self", "href": netBaseURL(r) + "/load-balancer/v2/"}}
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{
		map[string]any{"id": "v2.0", "status": "SUPPORTED", "updated": "2016-12-11T00:00:00Z", "links": link()},
		map[string]any{"id": "v2.26", "status": "CURRENT", "updated": "2022-08-29T00:00:00Z", "links": link()},
	}})
}

// ----- helpers -----

func lbErr(status int, format string, args ...any) *apiError {
	return errorf(status, "", format, args...)
}

func lbNotFound(kind, id string) *apiError {
	return lbErr(http.StatusNotFound, "%s %s not found.", kind, id)
}

func lbInvalid(field string, value any, why string) *apiError {
	return lbErr(http.StatusBadRequest, "Invalid input for field/attribute %s. Value: '%v'. %s", field, value, why)
}

// decodeOctavia reads {"<key>": {...}} into v, refusing attributes outside
// allowed as Octavia's API layer does.
func decodeOctavia(r *http.Request, key string, allowed []string, v any) (map[string]json.RawMessage, *apiError) {
	var body map[string]json.RawMessage
	if e := decodeJSON(r, &body); e != nil {
		return nil, lbErr(http.StatusBadRequest, "%s", e.Message)
	}
	raw, ok := body[key]
	if !ok {
		return nil, lbErr(http.StatusBadRequest, "Missing argument: \"%s\"", key)
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil || attrs == nil {
		return nil, lbErr(http.StatusBadRequest, "Invalid input for field/attribute %s. Value: '%s'.", key, raw)
	}
	for k := range attrs {
		if !netHas(allowed, k) {
			return nil, lbErr(http.StatusBadRequest, "Unknown attribute for argument %s: %s", key, k)
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, lbErr(http.StatusBadRequest, "Invalid input for field/attribute %s. %v", key, err)
	}
	return attrs, nil
}

// lbMutable is Octavia's 409 for a change to a child (listener, pool,
// member, health monitor) of a load balancer that is busy.
func lbMutable(lb *lbLoadBalancer) *apiError {
	if lb.pending() {
		return lbErr(http.StatusConflict, "Load Balancer %s is immutable and cannot be updated.", lb.ID)
	}
	return nil
}

// lbSelfMutable is Octavia's 409 for an update or delete of a load balancer
// that is busy.
func lbSelfMutable(lb *lbLoadBalancer) *apiError {
	if lb.pending() {
		return lbErr(http.StatusConflict, "Invalid state %s of loadbalancer resource %s", lb.Provisioning, lb.ID)
	}
	return nil
}

func idList(ids []string) []map[string]any {
	out := []map[string]any{}
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, map[string]any{"id": id})
	}
	return out
}

func strOrNil(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func lbTags(tags *[]string) []string {
	out := []string{}
	if tags == nil {
		return out
	}
	for _, t := range *tags {
		if !netHas(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// lbInit fills the common attributes of a new object.
func (s *Server) lbInit(x *lbStd, projectID string, name, desc *string, admin *bool, tags *[]string) {
	now := s.now()
	x.ID, x.ProjectID, x.CreatedAt = s.newID(), projectID, now
	x.AdminStateUp = true
	x.Tags = lbTags(tags)
	s.lbApply(x, name, desc, admin, tags)
	s.lbPend(x, lbPendingCreate)
	x.UpdatedAt = time.Time{}
}

func (s *Server) lbApply(x *lbStd, name, desc *string, admin *bool, tags *[]string) {
	if name != nil {
		x.Name = *name
	}
	if desc != nil {
		x.Description = *desc
	}
	if admin != nil {
		x.AdminStateUp = *admin
	}
	if tags != nil {
		x.Tags = lbTags(tags)
	}
}

// ----- quotas -----

var lbQuotaKeys = []string{"load_balancer", "listener", "pool", "member", "health_monitor", "l7policy", "l7rule"}

var lbQuotaNames = map[string]string{"load_balancer": "Load Balancer", "listener": "Listener", "pool": "Pool",
	"member": "Member", "health_monitor": "Health Monitor"}

func (s *Server) lbQuota(projectID string) map[string]int {
	q := map[string]int{}
	for _, k := range lbQuotaKeys {
		q[k] = -1
	}
	for k, v := range s.lbs().Quotas[projectID] {
		q[k] = v
	}
	return q
}

// lbQuotaCheck is Octavia's 403 when projectID has no room for one more res.
func (s *Server) lbQuotaCheck(projectID, res string) *apiError {
	return s.lbQuotaCheckN(projectID, res, 1)
}

// lbQuotaCheckN is Octavia's 403 when projectID has no room for more
// objects of kind res.
func (s *Server) lbQuotaCheckN(projectID, res string, more int) *apiError {
	limit := s.lbQuota(projectID)[res]
	if limit < 0 {
		return nil
	}
	l := s.lbs()
	n := 0
	switch res {
	case "load_balancer":
		n = lbCount(l.LoadBalancers, projectID)
	case "listener":
		n = lbCount(l.Listeners, projectID)
	case "pool":
		n = lbCount(l.Pools, projectID)
	case "member":
		n = lbCount(l.Members, projectID)
	case "health_monitor":
		n = lbCount(l.Monitors, projectID)
	}
	if n+more > limit {
		return lbErr(http.StatusForbidden, "Quota has been met for resources: %s", lbQuotaNames[res])
	}
	return nil
}

// lbCount is how many objects of m belong to projectID.
func lbCount[E any, P lbObject[E]](m map[string]P, projectID string) int {
	n := 0
	for _, x := range m {
		if x.std().ProjectID == projectID {
			n++
		}
	}
	return n
}

func lbQuotaBody(q map[string]int) map[string]any {
	m := map[string]any{}
	for _, k := range lbQuotaKeys {
		m[k] = q[k]
	}
	// The deprecated names Octavia still returns.
	m["loadbalancer"] = q["load_balancer"]
	m["healthmonitor"] = q["health_monitor"]
	return m
}

func (s *Server) lbQuotaProject(w http.ResponseWriter, r *http.Request, tok *token) (string, bool) {
	p := r.PathValue("project")
	if !tok.isAdmin() && p != tok.ProjectID {
		s.writeError(w, svcLoadBalancer, lbErr(http.StatusForbidden, "Policy does not allow this request to be performed."))
		return "", false
	}
	return p, true
}

func (s *Server) listLBQuotas(w http.ResponseWriter, r *http.Request, tok *token) {
	var ids []string
	for id := range s.lbs().Quotas {
		if netOwns(tok, id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := []any{}
	for _, id := range ids {
		m := lbQuotaBody(s.lbQuota(id))
		m["project_id"] = id
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"quotas": out})
}

func (s *Server) getLBQuotaDefaults(w http.ResponseWriter, r *http.Request, tok *token) {
	writeJSON(w, http.StatusOK, map[string]any{"quota": lbQuotaBody(s.lbQuota(""))})
}

func (s *Server) getLBQuota(w http.ResponseWriter, r *http.Request, tok *token) {
	p, ok := s.lbQuotaProject(w, r, tok)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": lbQuotaBody(s.lbQuota(p))})
}

func (s *Server) updateLBQuota(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcLoadBalancer, lbErr(http.StatusForbidden, "Policy does not allow this request to be performed."))
		return
	}
	p := r.PathValue("project")
	var q map[string]*int
	if _, e := decodeOctavia(r, "quota", append(append([]string{}, lbQuotaKeys...), "loadbalancer", "healthmonitor"), &q); e != nil {
		s.writeError(w, svcLoadBalancer, e)
		return
	}
	l := s.lbs()
	cur := l.Quotas[p]
	if cur == nil {
		cur = map[string]int{}
	}
	for k, v := range q {
		if v == nil {
			continue
		}
		if *v < -1 {
			s.writeError(w, svcLoadBalancer, lbInvalid(k, *v, "Value should be greater or equal to -1"))
			return
		}
		switch k {
		case "loadbalancer":
			k = "load_balancer"
		case "healthmonitor":
			k = "health_monitor"
		}
		cur[k] = *v
	}
	l.Quotas[p] = cur
	writeJSON(w, http.StatusAccepted, map[string]any{"quota": lbQuotaBody(s.lbQuota(p))})
}

func (s *Server) deleteLBQuota(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcLoadBalancer, lbErr(http.StatusForbidden, "Policy does not allow this request to be performed."))
		return
	}
	delete(s.lbs().Quotas, r.PathValue("project"))
	w.WriteHeader(http.StatusAccepted)
}

// validCIDRs checks allowed_cidrs.
func validCIDRs(cidrs []string) ([]string, *apiError) {
	out := []string{}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, lbInvalid("allowed_cidrs", c, "Value should be IPv4 or IPv6 CIDR format")
		}
		out = append(out, p.Masked().String())
	}
	return out, nil
}
