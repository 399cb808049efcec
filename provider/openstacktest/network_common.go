package openstacktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// decodeNeutron reads a {"<key>": {...}} body into v and checks its
// attribute names as Neutron does: allowed lists what the operation may
// set; known lists the resource's other attributes (a 400 naming the
// operation rather than "unrecognized"). It returns the raw attributes so
// that callers can tell an absent attribute from a null one.
func decodeNeutron(r *http.Request, key string, allowed, known []string, v any) (map[string]json.RawMessage, *apiError) {
	var body map[string]json.RawMessage
	if e := decodeJSON(r, &body); e != nil {
		return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "%s", e.Message)
	}
	raw, ok := body[key]
	if !ok {
		return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil || attrs == nil {
		return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Body contains invalid data")
	}
	var unknown []string
	for k := range attrs {
		if netHas(allowed, k) {
			continue
		}
		if netHas(known, k) {
			if r.Method == http.MethodPost {
				return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Attribute '%s' not allowed in POST", k)
			}
			return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Cannot update read-only attribute %s", k)
		}
		unknown = append(unknown, k)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Unrecognized attribute(s) '%s'", strings.Join(unknown, ", "))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for operation: %v.", err)
	}
	return attrs, nil
}

// attrNull reports whether attribute k is present and null.
func attrNull(attrs map[string]json.RawMessage, k string) bool {
	v, ok := attrs[k]
	return ok && strings.TrimSpace(string(v)) == "null"
}

func attrSet(attrs map[string]json.RawMessage, k string) bool {
	_, ok := attrs[k]
	return ok
}

func netHas(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// errRequired is Neutron's error for a missing required attribute.
func errRequired(attr string) *apiError {
	return errorf(http.StatusBadRequest, "HTTPBadRequest", "Failed to parse request. Required attribute '%s' not specified", attr)
}

// netListParams are the query parameters that are not field filters.
var netListParams = map[string]bool{
	"fields": true, "limit": true, "marker": true, "page_reverse": true, "sort_key": true,
	"sort_dir": true, "tags": true, "tags-any": true, "not-tags": true, "not-tags-any": true,
	"all_tenants": true, "all_projects": true,
}

// writeNeutronList answers a list request for collection plural with
// Neutron's filters (any attribute, several values meaning any of them),
// tag filters, sorting, pagination (limit, marker and <plural>_links) and
// field selection. sample is the resource rendered from its zero value: its
// keys are the attributes a filter may name, as Neutron's filter validation
// allows; another name is a 400.
func (s *Server) writeNeutronList(w http.ResponseWriter, r *http.Request, plural string, items []map[string]any, sample map[string]any) {
	var bad []string
	for k := range r.URL.Query() {
		if _, ok := sample[k]; !ok && !netListParams[k] && k != "changed_since" {
			bad = append(bad, "'"+k+"'")
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "HTTPBadRequest", "[%s] is invalid attribute for filtering", strings.Join(bad, ", ")))
		return
	}
	s.writeList(w, r, svcNetwork, plural, items)
}

// writeList is writeNeutronList for any service that pages the same way
// (Octavia does).
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, svc service, plural string, items []map[string]any) {
	q := r.URL.Query()
	var out []map[string]any
	for _, it := range items {
		if netMatchFilters(it, q) && netMatchTags(it, q) {
			out = append(out, it)
		}
	}
	sortKey, desc := "id", false
	if k := q.Get("sort_key"); k != "" {
		sortKey = k
	}
	if q.Get("sort_dir") == "desc" {
		desc = true
	}
	sort.SliceStable(out, func(i, j int) bool {
		c := compareValues(out[i][sortKey], out[j][sortKey])
		if c == 0 {
			c = compareValues(out[i]["id"], out[j]["id"])
		}
		if desc {
			return c > 0
		}
		return c < 0
	})
	if m := q.Get("marker"); m != "" {
		idx := -1
		for i, it := range out {
			if it["id"] == m {
				idx = i
				break
			}
		}
		if idx >= 0 {
			out = out[idx+1:]
		} else if sortKey == "id" {
			var rest []map[string]any
			for _, it := range out {
				if id := fmt.Sprint(it["id"]); (!desc && id > m) || (desc && id < m) {
					rest = append(rest, it)
				}
			}
			out = rest
		}
	}
	resp := map[string]any{}
	if ls := q.Get("limit"); ls != "" {
		limit, err := strconv.Atoi(ls)
		if err != nil || limit < 0 {
			e := errorf(http.StatusBadRequest, "HTTPBadRequest", "Bad limit request: Limit must be an integer 0 or greater and not '%s'.", ls)
			if svc == svcLoadBalancer {
				e = errorf(http.StatusBadRequest, "", "Supplied pagination limit '%s' is not valid.", ls)
			}
			s.writeError(w, svc, e)
			return
		}
		links := []any{}
		if limit > 0 && len(out) > limit {
			out = out[:limit]
			nq := url.Values{}
			for k, v := range q {
				nq[k] = v
			}
			nq.Set("marker", fmt.Sprint(out[len(out)-1]["id"]))
			links = append(links, map[string]any{"rel": "next", "href": netBaseURL(r) + r.URL.Path + "?" + nq.Encode()})
		}
		if q.Get("marker") != "" {
			pq := url.Values{}
			for k, v := range q {
				pq[k] = v
			}
			if len(out) > 0 {
				pq.Set("marker", fmt.Sprint(out[0]["id"]))
			}
			pq.Set("page_reverse", "True")
			links = append(links, map[string]any{"rel": "previous", "href": netBaseURL(r) + r.URL.Path + "?" + pq.Encode()})
		}
		resp[plural+"_links"] = links
	}
	if _, ok := resp[plural+"_links"]; !ok && svc == svcLoadBalancer {
		// Octavia lists always carry their links (recorded).
		resp[plural+"_links"] = []any{}
	}
	if fields := q["fields"]; len(fields) > 0 {
		for i, it := range out {
			out[i] = netSelectFields(it, fields)
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	resp[plural] = out
	writeJSON(w, http.StatusOK, resp)
}

// compareValues orders two attribute values: numbers by value, anything
// else by its text.
func compareValues(a, b any) int {
	if x, ok := a.(int); ok {
		if y, ok := b.(int); ok {
			return x - y
		}
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// netSelectFields keeps only the named attributes (comma separated values are
// accepted too).
func netSelectFields(it map[string]any, fields []string) map[string]any {
	m := map[string]any{}
	for _, f := range fields {
		for _, name := range strings.Split(f, ",") {
			if v, ok := it[name]; ok {
				m[name] = v
			}
		}
	}
	return m
}

// getByID answers a request for the object named by the path's {id}, as
// find looks it up for tok, under key.
func getByID[P any](s *Server, svc service, w http.ResponseWriter, r *http.Request, tok *token, key string, find func(string, *token) (P, *apiError), render func(P) map[string]any) {
	x, e := find(r.PathValue("id"), tok)
	if e != nil {
		s.writeError(w, svc, e)
		return
	}
	writeNeutronOne(w, r, http.StatusOK, key, render(x))
}

// writeNeutronOne answers with one resource, honouring ?fields=.
func writeNeutronOne(w http.ResponseWriter, r *http.Request, status int, key string, it map[string]any) {
	if fields := r.URL.Query()["fields"]; len(fields) > 0 {
		it = netSelectFields(it, fields)
	}
	writeJSON(w, status, map[string]any{key: it})
}

// netMatchFilters applies field filters: every named attribute must equal one
// of its given values. Unknown attributes are ignored.
func netMatchFilters(it map[string]any, q url.Values) bool {
	for k, vals := range q {
		if netListParams[k] {
			continue
		}
		v, ok := it[k]
		if !ok {
			continue
		}
		hit := false
		for _, want := range vals {
			if netMatchValue(v, want) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

func netMatchValue(v any, want string) bool {
	switch x := v.(type) {
	case nil:
		return want == "" || want == "None"
	case string:
		return x == want
	case bool:
		b, err := strconv.ParseBool(want)
		return err == nil && b == x
	case int:
		return strconv.Itoa(x) == want
	case []string:
		for _, e := range x {
			if e == want {
				return true
			}
		}
		return false
	case []map[string]any:
		k, val, ok := strings.Cut(want, "=")
		if !ok {
			return false
		}
		for _, e := range x {
			if fmt.Sprint(e[k]) == val {
				return true
			}
		}
		return false
	}
	return fmt.Sprint(v) == want
}

// netMatchTags applies tags (all), tags-any (any), not-tags (not all) and
// not-tags-any (none), each a comma separated list.
func netMatchTags(it map[string]any, q url.Values) bool {
	has := map[string]bool{}
	if tags, ok := it["tags"].([]string); ok {
		for _, t := range tags {
			has[t] = true
		}
	}
	split := func(k string) []string {
		var out []string
		for _, v := range q[k] {
			for _, t := range strings.Split(v, ",") {
				if t != "" {
					out = append(out, t)
				}
			}
		}
		return out
	}
	count := func(list []string) int {
		n := 0
		for _, t := range list {
			if has[t] {
				n++
			}
		}
		return n
	}
	if l := split("tags"); len(l) > 0 && count(l) != len(l) {
		return false
	}
	if l := split("tags-any"); len(l) > 0 && count(l) == 0 {
		return false
	}
	if l := split("not-tags"); len(l) > 0 && count(l) == len(l) {
		return false
	}
	if l := split("not-tags-any"); len(l) > 0 && count(l) > 0 {
		return false
	}
	return true
}

// ----- tags API -----

// netTaggable are the collections with the tags API.
var netTaggable = []string{"networks", "subnets", "ports", "routers", "security-groups", "floatingips"}

// taggable finds the standard attributes of resource id in the collection
// named by the request path, as tok sees it.
func (s *Server) taggable(r *http.Request, tok *token) (*netStd, *apiError) {
	ns := s.nst()
	id := r.PathValue("id")
	coll := strings.TrimPrefix(r.URL.Path, "/network/v2.0/")
	coll, _, _ = strings.Cut(coll, "/")
	switch coll {
	case "networks":
		if n := ns.Networks[id]; n != nil && s.networkVisible(n, tok) {
			if !tok.isAdmin() && n.ProjectID != tok.ProjectID {
				return nil, errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:update_network) is disallowed by policy")
			}
			return &n.netStd, nil
		}
		return nil, errNetworkNotFound(id)
	case "subnets":
		if n := ns.Subnets[id]; n != nil && s.subnetVisible(n, tok) {
			if !tok.isAdmin() && n.ProjectID != tok.ProjectID {
				return nil, errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:update_subnet) is disallowed by policy")
			}
			return &n.netStd, nil
		}
		return nil, errSubnetNotFound(id)
	case "ports":
		return netStdOf(s.findPort(id, tok))
	case "routers":
		return netStdOf(s.findRouter(id, tok))
	case "security-groups":
		return netStdOf(s.findSecGroup(id, tok))
	case "floatingips":
		return netStdOf(s.findFloatingIP(id, tok))
	}
	return nil, errorf(http.StatusNotFound, "HTTPNotFound", "The resource could not be found.")
}

// netOwns reports whether tok may see a resource of projectID.
func netOwns(tok *token, projectID string) bool {
	return tok.isAdmin() || (tok.ProjectID != "" && tok.ProjectID == projectID)
}

// netOwned is netOwns for a Neutron object: the visibility of every kind
// but networks and subnets.
func netOwned[P interface{ std() *netStd }](x P, tok *token) bool {
	return netOwns(tok, x.std().ProjectID)
}

// renderVisible renders the objects of m that visible lets tok see (any
// service's objects).
func renderVisible[P any](m map[string]P, tok *token, visible func(P, *token) bool, render func(P) map[string]any) []map[string]any {
	var items []map[string]any
	for _, x := range m {
		if visible(x, tok) {
			items = append(items, render(x))
		}
	}
	return items
}

// findVisible returns m[id] when visible lets tok see it, and notFound(id)
// when not (any service's objects).
func findVisible[E any, P interface{ *E }](m map[string]P, id string, tok *token, visible func(P, *token) bool, notFound func(string) *apiError) (P, *apiError) {
	x := m[id]
	if x == nil || !visible(x, tok) {
		return nil, notFound(id)
	}
	return x, nil
}

// netStdOf passes on what a find returned as its standard attributes.
func netStdOf[E any, P netObject[E]](x P, e *apiError) (*netStd, *apiError) {
	if e != nil {
		return nil, e
	}
	return x.std(), nil
}

func netValidTag(t string) *apiError {
	if t == "" || len(t) > 255 || strings.Contains(t, ",") {
		return errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for tags. Reason: '%s' is not a valid tag.", t)
	}
	return nil
}

func (s *Server) getTags(w http.ResponseWriter, r *http.Request, tok *token) {
	n, e := s.taggable(r, tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	tags := append([]string{}, n.Tags...)
	sort.Strings(tags)
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
}

func (s *Server) replaceTags(w http.ResponseWriter, r *http.Request, tok *token) {
	n, e := s.taggable(r, tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	var body struct {
		Tags *[]string `json:"tags"`
	}
	if e := decodeJSON(r, &body); e != nil {
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "HTTPBadRequest", "%s", e.Message))
		return
	}
	if body.Tags == nil {
		s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for tags. Reason: tags is required."))
		return
	}
	seen := map[string]bool{}
	tags := []string{}
	for _, t := range *body.Tags {
		if e := netValidTag(t); e != nil {
			s.writeError(w, svcNetwork, e)
			return
		}
		if !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	n.Tags = tags
	n.touch(s)
	// Neutron answers with the request's list as sent (GET sorts).
	writeJSON(w, http.StatusOK, map[string]any{"tags": *body.Tags})
}

func (s *Server) deleteAllTags(w http.ResponseWriter, r *http.Request, tok *token) {
	n, e := s.taggable(r, tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	n.Tags = []string{}
	n.touch(s)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) checkTag(w http.ResponseWriter, r *http.Request, tok *token) {
	n, e := s.taggable(r, tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	tag := r.PathValue("tag")
	if !netHas(n.Tags, tag) {
		s.writeError(w, svcNetwork, netErrTagNotFound(tag, r, n.ID))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) addTag(w http.ResponseWriter, r *http.Request, tok *token) {
	n, e := s.taggable(r, tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	tag := r.PathValue("tag")
	if e := netValidTag(tag); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	if !netHas(n.Tags, tag) {
		n.Tags = append(n.Tags, tag)
		n.touch(s)
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) deleteTag(w http.ResponseWriter, r *http.Request, tok *token) {
	n, e := s.taggable(r, tok)
	if e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	tag := r.PathValue("tag")
	for i, t := range n.Tags {
		if t == tag {
			n.Tags = append(n.Tags[:i:i], n.Tags[i+1:]...)
			n.touch(s)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.writeError(w, svcNetwork, netErrTagNotFound(tag, r, n.ID))
}

func netErrTagNotFound(tag string, r *http.Request, id string) *apiError {
	coll := strings.TrimPrefix(r.URL.Path, "/network/v2.0/")
	coll, _, _ = strings.Cut(coll, "/")
	res := strings.TrimSuffix(strings.ReplaceAll(coll, "-", "_"), "s")
	return errorf(http.StatusNotFound, "TagNotFound", "Tag %s could not be found for %s %s.", tag, res, id)
}

// ----- quotas -----

// netQuotaDefaults are Neutron's default quotas.
var netQuotaDefaults = map[string]int{
	"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
	"security_group": 10, "security_group_rule": 100, "rbac_policy": 10, "subnetpool": -1, "trunk": -1,
}

// netQuotaKeys are the quota resources in a stable order.
var netQuotaKeys = []string{"floatingip", "network", "port", "rbac_policy", "router", "security_group",
	"security_group_rule", "subnet", "subnetpool", "trunk"}

func (s *Server) netQuota(projectID string) map[string]int {
	q := map[string]int{}
	for k, v := range netQuotaDefaults {
		q[k] = v
	}
	for k, v := range s.nst().Quotas[projectID] {
		q[k] = v
	}
	return q
}

// netUsage counts projectID's resources of kind res.
func (s *Server) netUsage(projectID, res string) int {
	ns := s.nst()
	switch res {
	case "network":
		return netCount(ns.Networks, projectID)
	case "subnet":
		return netCount(ns.Subnets, projectID)
	case "port":
		return netCount(ns.Ports, projectID)
	case "router":
		return netCount(ns.Routers, projectID)
	case "floatingip":
		return netCount(ns.FloatingIPs, projectID)
	case "security_group":
		return netCount(ns.SecurityGroups, projectID)
	case "security_group_rule":
		return netCount(ns.SGRules, projectID)
	}
	return 0
}

// netObject is a pointer to a Neutron object: every one embeds netStd.
type netObject[E any] interface {
	*E
	std() *netStd
}

func (n *netStd) std() *netStd { return n }

// netCount is how many objects of m belong to projectID.
func netCount[E any, P netObject[E]](m map[string]P, projectID string) int {
	n := 0
	for _, x := range m {
		if x.std().ProjectID == projectID {
			n++
		}
	}
	return n
}

// netQuotaCheck is a 409 OverQuota when projectID cannot have n more of res.
func (s *Server) netQuotaCheck(projectID, res string, n int) *apiError {
	limit := s.netQuota(projectID)[res]
	if limit < 0 || s.netUsage(projectID, res)+n <= limit {
		return nil
	}
	return errorf(http.StatusConflict, "OverQuota", "Quota exceeded for resources: ['%s'].", res)
}

func (s *Server) quotaProject(w http.ResponseWriter, r *http.Request, tok *token) (string, bool) {
	p := r.PathValue("project")
	if !tok.isAdmin() && p != tok.ProjectID {
		s.writeError(w, svcNetwork, errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:get_quota) is disallowed by policy"))
		return "", false
	}
	return p, true
}

func netQuotaMap(q map[string]int) map[string]any {
	m := map[string]any{}
	for _, k := range netQuotaKeys {
		m[k] = q[k]
	}
	return m
}

func (s *Server) listNetQuotas(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcNetwork, errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:get_quota) is disallowed by policy"))
		return
	}
	var ids []string
	for id := range s.nst().Quotas {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := []any{}
	for _, id := range ids {
		m := netQuotaMap(s.netQuota(id))
		m["project_id"], m["tenant_id"] = id, id
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"quotas": out})
}

func (s *Server) getNetQuota(w http.ResponseWriter, r *http.Request, tok *token) {
	p, ok := s.quotaProject(w, r, tok)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": netQuotaMap(s.netQuota(p))})
}

func (s *Server) getNetQuotaDefault(w http.ResponseWriter, r *http.Request, tok *token) {
	if _, ok := s.quotaProject(w, r, tok); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": netQuotaMap(netQuotaDefaults)})
}

func (s *Server) getNetQuotaDetails(w http.ResponseWriter, r *http.Request, tok *token) {
	p, ok := s.quotaProject(w, r, tok)
	if !ok {
		return
	}
	q := s.netQuota(p)
	m := map[string]any{}
	for _, k := range netQuotaKeys {
		m[k] = map[string]any{"limit": q[k], "used": s.netUsage(p, k), "reserved": 0}
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota": m})
}

func (s *Server) updateNetQuota(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcNetwork, errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:update_quota) is disallowed by policy"))
		return
	}
	p := r.PathValue("project")
	var q map[string]any
	if _, e := decodeNeutron(r, "quota", netQuotaKeys, nil, &q); e != nil {
		s.writeError(w, svcNetwork, e)
		return
	}
	ns := s.nst()
	cur := ns.Quotas[p]
	if cur == nil {
		cur = map[string]int{}
	}
	for k, v := range q {
		var n int
		switch x := v.(type) {
		case float64:
			n = int(x)
		case string:
			var err error
			if n, err = strconv.Atoi(x); err != nil {
				s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for %s. Reason: '%s' is not an integer.", k, x))
				return
			}
		default:
			s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for %s. Reason: '%v' is not an integer.", k, v))
			return
		}
		if n < -1 {
			s.writeError(w, svcNetwork, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for %s. Reason: '%d' should be greater than or equal to -1.", k, n))
			return
		}
		cur[k] = n
	}
	ns.Quotas[p] = cur
	writeJSON(w, http.StatusOK, map[string]any{"quota": netQuotaMap(s.netQuota(p))})
}

func (s *Server) deleteNetQuota(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcNetwork, errorf(http.StatusForbidden, "PolicyNotAuthorized", "(rule:delete_quota) is disallowed by policy"))
		return
	}
	delete(s.nst().Quotas, r.PathValue("project"))
	w.WriteHeader(http.StatusNoContent)
}

// normalizePairs validates allowed address pairs and fills in the port's
// MAC where a pair has none.
func normalizePairs(pairs []netAddressPair, mac string) ([]netAddressPair, *apiError) {
	out := []netAddressPair{}
	seen := map[netAddressPair]bool{}
	for _, p := range pairs {
		if p.IPAddress == "" {
			return nil, errorf(http.StatusBadRequest, "AllowedAddressPairsMissingIP", "AllowedAddressPair must contain ip_address")
		}
		if _, err := netip.ParseAddr(p.IPAddress); err != nil {
			if _, err := netip.ParsePrefix(p.IPAddress); err != nil {
				return nil, errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for allowed_address_pairs. Reason: '%s' is not a valid IP address.", p.IPAddress)
			}
		}
		if p.MACAddress == "" {
			p.MACAddress = mac
		}
		if seen[p] {
			return nil, errorf(http.StatusBadRequest, "DuplicateAddressPairInRequest", "Request contains duplicate address pair: mac_address %s ip_address %s.", p.MACAddress, p.IPAddress)
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// adminSample is the token list samples are rendered for, so that they hold
// every attribute, admin-only ones included.
func adminSample() *token { return &token{Roles: []string{"admin"}} }
