package openstacktest

import (
	"crypto/ed25519"
	"encoding/pem"
	"net/http"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Nova's flavors, keypairs, server groups, availability zones, quotas and
// limits.

type nFlavor struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	VCPUs int    `json:"vcpus"`
	RAM   int    `json:"ram"`
	Disk  int    `json:"disk"`
}

type nKeypair struct {
	Name        string    `json:"name"`
	UserID      string    `json:"userID"`
	PublicKey   string    `json:"publicKey"`
	Fingerprint string    `json:"fingerprint"`
	Type        string    `json:"type"`
	ID          int       `json:"id"`
	CreatedAt   time.Time `json:"createdAt"`
}

type nGroup struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	ProjectID        string    `json:"projectID"`
	UserID           string    `json:"userID"`
	Policy           string    `json:"policy"`
	MaxServerPerHost int       `json:"maxServerPerHost,omitempty"`
	Members          []string  `json:"members"`
	CreatedAt        time.Time `json:"createdAt"`
}

// members returns the IDs of the group's servers that still exist.
func (g *nGroup) members(s *Server) []string {
	var out []string
	for _, id := range g.Members {
		if _, ok := s.st.Compute.Servers[id]; ok {
			out = append(out, id)
		}
	}
	g.Members = out
	return out
}

type computeQuota struct {
	Instances          int `json:"instances"`
	Cores              int `json:"cores"`
	RAM                int `json:"ram"`
	KeyPairs           int `json:"keyPairs"`
	ServerGroups       int `json:"serverGroups"`
	ServerGroupMembers int `json:"serverGroupMembers"`
	MetadataItems      int `json:"metadataItems"`
}

// Nova's default quotas.
var defaultComputeQuota = computeQuota{Instances: 10, Cores: 20, RAM: 51200, KeyPairs: 100,
	ServerGroups: 10, ServerGroupMembers: 10, MetadataItems: 128}

func (s *Server) computeQuotaOf(project string) computeQuota {
	if q, ok := s.st.Compute.Quotas[project]; ok {
		return *q
	}
	return defaultComputeQuota
}

type computeUsed struct{ instances, cores, ram, groups int }

func (s *Server) computeUsage(project string) computeUsed {
	var u computeUsed
	for _, v := range s.st.Compute.Servers {
		if v.ProjectID != project {
			continue
		}
		u.instances++
		if f := s.st.Compute.Flavors[v.FlavorID]; f != nil {
			u.cores += f.VCPUs
			u.ram += f.RAM
		}
	}
	for _, g := range s.st.Compute.Groups {
		if g.ProjectID == project {
			u.groups++
		}
	}
	return u
}

func (s *Server) routesComputeMisc() {
	p := "/compute/v2.1"
	s.handle(svcCompute, "GET "+p+"/flavors", s.nova(s.listFlavors))
	s.handle(svcCompute, "GET "+p+"/flavors/detail", s.nova(s.listFlavors))
	s.handle(svcCompute, "GET "+p+"/flavors/{id}", s.nova(s.getFlavor))
	s.handle(svcCompute, "GET "+p+"/flavors/{id}/os-extra_specs", s.nova(s.flavorExtraSpecs))
	s.handle(svcCompute, "GET "+p+"/os-keypairs", s.nova(s.listKeypairs))
	s.handle(svcCompute, "POST "+p+"/os-keypairs", s.nova(s.createKeypair))
	s.handle(svcCompute, "GET "+p+"/os-keypairs/{name}", s.nova(s.getKeypair))
	s.handle(svcCompute, "DELETE "+p+"/os-keypairs/{name}", s.nova(s.deleteKeypair))
	s.handle(svcCompute, "GET "+p+"/os-server-groups", s.nova(s.listGroups))
	s.handle(svcCompute, "POST "+p+"/os-server-groups", s.nova(s.createGroup))
	s.handle(svcCompute, "GET "+p+"/os-server-groups/{id}", s.nova(s.getGroup))
	s.handle(svcCompute, "DELETE "+p+"/os-server-groups/{id}", s.nova(s.deleteGroup))
	s.handle(svcCompute, "GET "+p+"/os-availability-zone", s.nova(s.listAZs))
	s.handle(svcCompute, "GET "+p+"/os-availability-zone/detail", s.nova(s.listAZs))
	s.handle(svcCompute, "GET "+p+"/os-quota-sets/{project}", s.nova(s.getComputeQuota))
	s.handle(svcCompute, "GET "+p+"/os-quota-sets/{project}/detail", s.nova(s.getComputeQuota))
	s.handle(svcCompute, "GET "+p+"/os-quota-sets/{project}/defaults", s.nova(s.getComputeQuota))
	s.handle(svcCompute, "PUT "+p+"/os-quota-sets/{project}", s.nova(s.updateComputeQuota))
	s.handle(svcCompute, "DELETE "+p+"/os-quota-sets/{project}", s.nova(s.revertComputeQuota))
	s.handle(svcCompute, "GET "+p+"/limits", s.nova(s.computeLimits))
}

// Flavors.

func (s *Server) flavorBody(f *nFlavor, detail bool, mv apiVersion) map[string]any {
	b := map[string]any{"id": f.ID, "name": f.Name, "links": []map[string]string{
		{"rel": "self", "href": s.URL + "/compute/v2.1/flavors/" + f.ID},
		{"rel": "bookmark", "href": s.URL + "/compute/flavors/" + f.ID}}}
	if mv.atLeast(2, 55) {
		b["description"] = nil
	}
	if detail {
		b["vcpus"], b["ram"], b["disk"] = f.VCPUs, f.RAM, f.Disk
		b["swap"], b["OS-FLV-EXT-DATA:ephemeral"], b["rxtx_factor"] = "", 0, 1.0
		if mv.atLeast(2, 75) {
			b["swap"] = 0 // 2.75: 0, not "", for no swap
		}
		b["os-flavor-access:is_public"], b["OS-FLV-DISABLED:disabled"] = true, false
		if mv.atLeast(2, 61) {
			b["extra_specs"] = map[string]string{}
		}
	}
	return b
}

func (s *Server) listFlavors(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	q := r.URL.Query()
	var list []*nFlavor
	for _, f := range s.st.Compute.Flavors {
		if md := q.Get("minDisk"); md != "" && atoiOr(md, 0) > f.Disk {
			continue
		}
		if mr := q.Get("minRam"); mr != "" && atoiOr(mr, 0) > f.RAM {
			continue
		}
		list = append(list, f)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	page, next, aerr := novaPaginate(list, q, func(f *nFlavor) string { return f.ID }, "Flavor")
	if aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	detail := strings.HasSuffix(r.URL.Path, "/detail")
	out := make([]any, 0, len(page))
	for _, f := range page {
		out = append(out, s.flavorBody(f, detail, mv))
	}
	body := map[string]any{"flavors": out}
	if next != "" {
		nq := r.URL.Query()
		nq.Set("marker", next)
		body["flavors_links"] = []map[string]string{{"rel": "next", "href": s.URL + r.URL.Path + "?" + nq.Encode()}}
	}
	writeJSON(w, http.StatusOK, body)
}

func atoiOr(s string, def int) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func (s *Server) flavorFor(w http.ResponseWriter, r *http.Request) *nFlavor {
	f, ok := s.st.Compute.Flavors[r.PathValue("id")]
	if !ok {
		s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Flavor %s could not be found.", r.PathValue("id")))
		return nil
	}
	return f
}

func (s *Server) getFlavor(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if f := s.flavorFor(w, r); f != nil {
		writeJSON(w, http.StatusOK, map[string]any{"flavor": s.flavorBody(f, true, mv)})
	}
}

func (s *Server) flavorExtraSpecs(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if f := s.flavorFor(w, r); f != nil {
		writeJSON(w, http.StatusOK, map[string]any{"extra_specs": map[string]string{}})
	}
}

// Keypairs.

func (s *Server) keypairUser(r *http.Request, tok *token, mv apiVersion) (string, *apiError) {
	if u := r.URL.Query().Get("user_id"); u != "" && mv.atLeast(2, 10) {
		if u != tok.UserID && !tok.isAdmin() {
			return "", errorf(http.StatusForbidden, "", "Policy doesn't allow os_compute_api:os-keypairs:index to be performed.")
		}
		return u, nil
	}
	return tok.UserID, nil
}

func (s *Server) keypairBody(k *nKeypair, mv apiVersion, full bool) map[string]any {
	b := map[string]any{"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint}
	if mv.atLeast(2, 2) {
		b["type"] = k.Type
	}
	if full {
		b["user_id"], b["id"], b["deleted"], b["deleted_at"] = k.UserID, k.ID, false, nil
		b["created_at"], b["updated_at"] = k.CreatedAt.Format(cinderTime), nil
	}
	return b
}

func (s *Server) listKeypairs(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	user, aerr := s.keypairUser(r, tok, mv)
	if aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	var list []*nKeypair
	for _, k := range s.st.Compute.Keypairs {
		if k.UserID == user {
			list = append(list, k)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	out := []any{}
	for _, k := range list {
		out = append(out, map[string]any{"keypair": s.keypairBody(k, mv, false)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"keypairs": out})
}

func (s *Server) createKeypair(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	var req struct {
		Keypair *struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
			Type      string `json:"type"`
			UserID    string `json:"user_id"`
		} `json:"keypair"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	in := req.Keypair
	if in == nil || in.Name == "" || len(in.Name) > 255 {
		s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute name. Keypair name must be string and between 1 and 255 characters long"))
		return
	}
	// Nova's keypair_name_20 and keypair_name_292 formats.
	safe := "_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	if mv.atLeast(2, 92) {
		safe = "@._- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	}
	if strings.IndexFunc(in.Name, func(r rune) bool { return !strings.ContainsRune(safe, r) }) >= 0 {
		s.writeError(w, svcCompute, badRequest("An invalid 'name' value was provided. The name must be: Only expected characters: [%s]", safe))
		return
	}
	user := tok.UserID
	if in.UserID != "" && mv.atLeast(2, 10) {
		if in.UserID != tok.UserID && !tok.isAdmin() {
			s.writeError(w, svcCompute, errorf(http.StatusForbidden, "", "Policy doesn't allow os_compute_api:os-keypairs:create to be performed."))
			return
		}
		user = in.UserID
	}
	typ := "ssh"
	if in.Type != "" {
		if !mv.atLeast(2, 2) {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute keypair. Additional properties are not allowed ('type' was unexpected)"))
			return
		}
		typ = in.Type
	}
	if typ != "ssh" && typ != "x509" {
		s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['ssh', 'x509']", typ, typ))
		return
	}
	key := user + "/" + in.Name
	if _, ok := s.st.Compute.Keypairs[key]; ok {
		s.writeError(w, svcCompute, errorf(http.StatusConflict, "", "Key pair '%s' already exists.", in.Name))
		return
	}
	count := 0
	for _, k := range s.st.Compute.Keypairs {
		if k.UserID == user {
			count++
		}
	}
	if count >= s.computeQuotaOf(tok.ProjectID).KeyPairs {
		s.writeError(w, svcCompute, errorf(http.StatusForbidden, "", "Quota exceeded, too many key pairs."))
		return
	}
	kp := &nKeypair{Name: in.Name, UserID: user, Type: typ, ID: len(s.st.Compute.Keypairs) + 1, CreatedAt: s.now()}
	var privateKey string
	if in.PublicKey == "" {
		if mv.atLeast(2, 92) {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute keypair. Value: {...}. 'public_key' is a required property"))
			return
		}
		// Nova generates an RSA key; the simulator generates ed25519,
		// which is as usable and much cheaper.
		seed := make([]byte, ed25519.SeedSize)
		for i := range seed {
			seed[i] = byte(s.rng.Uint32())
		}
		priv := ed25519.NewKeyFromSeed(seed)
		sshPub, _ := ssh.NewPublicKey(priv.Public())
		block, err := ssh.MarshalPrivateKey(priv, in.Name)
		if err != nil {
			s.writeError(w, svcCompute, errorf(http.StatusInternalServerError, "", "Key generation failed."))
			return
		}
		privateKey = string(pem.EncodeToMemory(block))
		kp.PublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " Generated-by-Nova"
		kp.Fingerprint = ssh.FingerprintLegacyMD5(sshPub)
	} else {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(in.PublicKey))
		if err != nil {
			s.writeError(w, svcCompute, badRequest("Keypair data is invalid: failed to generate fingerprint"))
			return
		}
		kp.PublicKey = in.PublicKey
		kp.Fingerprint = ssh.FingerprintLegacyMD5(pub)
	}
	s.st.Compute.Keypairs[key] = kp
	body := s.keypairBody(kp, mv, false)
	body["user_id"] = kp.UserID
	if privateKey != "" {
		body["private_key"] = privateKey
	}
	status := http.StatusOK
	if mv.atLeast(2, 2) {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"keypair": body})
}

func (s *Server) keypairFor(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) *nKeypair {
	user, aerr := s.keypairUser(r, tok, mv)
	if aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return nil
	}
	name := r.PathValue("name")
	k, ok := s.st.Compute.Keypairs[user+"/"+name]
	if !ok {
		s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Keypair %s not found for user %s", name, user))
		return nil
	}
	return k
}

func (s *Server) getKeypair(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if k := s.keypairFor(w, r, tok, mv); k != nil {
		writeJSON(w, http.StatusOK, map[string]any{"keypair": s.keypairBody(k, mv, true)})
	}
}

func (s *Server) deleteKeypair(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	k := s.keypairFor(w, r, tok, mv)
	if k == nil {
		return
	}
	delete(s.st.Compute.Keypairs, k.UserID+"/"+k.Name)
	if mv.atLeast(2, 2) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// Server groups.

var groupPolicies = []string{"affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"}

func (s *Server) groupBody(g *nGroup, mv apiVersion) map[string]any {
	b := map[string]any{"id": g.ID, "name": g.Name, "members": append([]string{}, g.members(s)...)}
	if mv.atLeast(2, 64) {
		rules := map[string]any{}
		if g.MaxServerPerHost > 0 {
			rules["max_server_per_host"] = g.MaxServerPerHost
		}
		b["policy"], b["rules"] = g.Policy, rules
	} else {
		b["policies"], b["metadata"] = []string{g.Policy}, map[string]string{}
	}
	if mv.atLeast(2, 13) {
		b["project_id"], b["user_id"] = g.ProjectID, g.UserID
	}
	return b
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	var req struct {
		ServerGroup *struct {
			Name     string   `json:"name"`
			Policies []string `json:"policies"`
			Policy   string   `json:"policy"`
			Rules    *struct {
				MaxServerPerHost int `json:"max_server_per_host"`
			} `json:"rules"`
		} `json:"server_group"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	in := req.ServerGroup
	if in == nil || in.Name == "" || len(in.Name) > 255 {
		s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute name. The name must be 1 to 255 characters"))
		return
	}
	var policy string
	if mv.atLeast(2, 64) {
		if len(in.Policies) > 0 {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute server_group. Additional properties are not allowed ('policies' was unexpected)"))
			return
		}
		policy = in.Policy
		if policy == "" {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute server_group. 'policy' is a required property"))
			return
		}
	} else {
		if in.Policy != "" || in.Rules != nil {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute server_group. Additional properties are not allowed ('policy' was unexpected)"))
			return
		}
		if len(in.Policies) != 1 {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute policies. Value: %v. It must hold exactly one policy", in.Policies))
			return
		}
		policy = in.Policies[0]
	}
	if !contains(groupPolicies, policy) {
		s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute policy. Value: %s. '%s' is not one of %v", policy, policy, groupPolicies))
		return
	}
	g := &nGroup{ID: s.newID(), Name: in.Name, ProjectID: tok.ProjectID, UserID: tok.UserID, Policy: policy, Members: []string{}, CreatedAt: s.now()}
	if in.Rules != nil && in.Rules.MaxServerPerHost > 0 {
		if policy != "anti-affinity" {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute rules. Only anti-affinity policy supports rules."))
			return
		}
		g.MaxServerPerHost = in.Rules.MaxServerPerHost
	}
	if s.computeUsage(tok.ProjectID).groups >= s.computeQuotaOf(tok.ProjectID).ServerGroups {
		s.writeError(w, svcCompute, errorf(http.StatusForbidden, "", "Quota exceeded, too many server groups."))
		return
	}
	s.st.Compute.Groups[g.ID] = g
	writeJSON(w, http.StatusOK, map[string]any{"server_group": s.groupBody(g, mv)})
}

func (s *Server) groupFor(w http.ResponseWriter, r *http.Request, tok *token) *nGroup {
	id := r.PathValue("id")
	g, ok := s.st.Compute.Groups[id]
	if !ok || (g.ProjectID != tok.ProjectID && !tok.isAdmin()) {
		s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Instance group %s could not be found.", id))
		return nil
	}
	return g
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if g := s.groupFor(w, r, tok); g != nil {
		writeJSON(w, http.StatusOK, map[string]any{"server_group": s.groupBody(g, mv)})
	}
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if g := s.groupFor(w, r, tok); g != nil {
		delete(s.st.Compute.Groups, g.ID)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	all := tok.isAdmin() && r.URL.Query().Get("all_projects") != ""
	var list []*nGroup
	for _, g := range s.st.Compute.Groups {
		if all || g.ProjectID == tok.ProjectID {
			list = append(list, g)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	page, _, aerr := paginate(list, r.URL.Query(), func(g *nGroup) string { return g.ID }, "ServerGroup")
	if aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	out := []any{}
	for _, g := range page {
		out = append(out, s.groupBody(g, mv))
	}
	writeJSON(w, http.StatusOK, map[string]any{"server_groups": out})
}

// Availability zones.

func (s *Server) listAZs(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	zone := map[string]any{"zoneName": "nova", "zoneState": map[string]bool{"available": true}, "hosts": nil}
	zones := []any{zone}
	if strings.HasSuffix(r.URL.Path, "/detail") {
		if !tok.isAdmin() {
			s.writeError(w, svcCompute, errorf(http.StatusForbidden, "", "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed."))
			return
		}
		hosts := map[string]any{}
		for _, h := range computeHosts {
			hosts[h] = map[string]any{"nova-compute": map[string]any{"available": true, "active": true, "updated_at": s.now().Format(cinderTime)}}
		}
		zone["hosts"] = hosts
		zones = append(zones, map[string]any{"zoneName": "internal", "zoneState": map[string]bool{"available": true},
			"hosts": map[string]any{"controller": map[string]any{"nova-scheduler": map[string]any{"available": true, "active": true}}}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"availabilityZoneInfo": zones})
}

// Quotas and limits.

func (s *Server) getComputeQuota(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	project := r.PathValue("project")
	if project != tok.ProjectID && !tok.isAdmin() {
		s.writeError(w, svcCompute, errorf(http.StatusForbidden, "", "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."))
		return
	}
	q := s.computeQuotaOf(project)
	if strings.HasSuffix(r.URL.Path, "/defaults") {
		q = defaultComputeQuota
	}
	u := s.computeUsage(project)
	keypairs := 0
	for _, k := range s.st.Compute.Keypairs {
		if k.UserID == tok.UserID {
			keypairs++
		}
	}
	vals := map[string][2]int{
		"instances": {q.Instances, u.instances}, "cores": {q.Cores, u.cores}, "ram": {q.RAM, u.ram},
		"key_pairs": {q.KeyPairs, keypairs}, "server_groups": {q.ServerGroups, u.groups},
		"server_group_members": {q.ServerGroupMembers, 0}, "metadata_items": {q.MetadataItems, 0},
	}
	if !mv.atLeast(2, 57) {
		vals["injected_files"] = [2]int{5, 0}
		vals["injected_file_content_bytes"] = [2]int{10240, 0}
		vals["injected_file_path_bytes"] = [2]int{255, 0}
	}
	if !mv.atLeast(2, 36) {
		vals["fixed_ips"], vals["floating_ips"] = [2]int{-1, 0}, [2]int{10, 0}
		vals["security_groups"], vals["security_group_rules"] = [2]int{10, 0}, [2]int{20, 0}
	}
	body := map[string]any{"id": project}
	detail := strings.HasSuffix(r.URL.Path, "/detail")
	for k, v := range vals {
		if detail {
			body[k] = map[string]int{"limit": v[0], "in_use": v[1], "reserved": 0}
		} else {
			body[k] = v[0]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota_set": body})
}

func (s *Server) updateComputeQuota(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if !tok.isAdmin() {
		s.writeError(w, svcCompute, errorf(http.StatusForbidden, "", "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed."))
		return
	}
	project := r.PathValue("project")
	var req struct {
		QuotaSet map[string]any `json:"quota_set"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	q := s.computeQuotaOf(project)
	fields := map[string]*int{"instances": &q.Instances, "cores": &q.Cores, "ram": &q.RAM, "key_pairs": &q.KeyPairs,
		"server_groups": &q.ServerGroups, "server_group_members": &q.ServerGroupMembers, "metadata_items": &q.MetadataItems}
	for k, v := range req.QuotaSet {
		if k == "force" {
			continue
		}
		p, ok := fields[k]
		n, isNum := v.(float64)
		if !ok || !isNum || n < -1 {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute quota_set. Value: %s. Unsupported or invalid quota %q", k, k))
			return
		}
		*p = int(n)
	}
	s.st.Compute.Quotas[project] = &q
	writeJSON(w, http.StatusOK, map[string]any{"quota_set": map[string]int{"instances": q.Instances, "cores": q.Cores,
		"ram": q.RAM, "key_pairs": q.KeyPairs, "server_groups": q.ServerGroups,
		"server_group_members": q.ServerGroupMembers, "metadata_items": q.MetadataItems}})
}

// revertComputeQuota sets a project's quotas back to the defaults (202,
// no body, as the API reference says).
func (s *Server) revertComputeQuota(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if !tok.isAdmin() {
		s.writeError(w, svcCompute, errorf(http.StatusForbidden, "", "Policy doesn't allow os_compute_api:os-quota-sets:delete to be performed."))
		return
	}
	delete(s.st.Compute.Quotas, r.PathValue("project"))
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) computeLimits(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	q := s.computeQuotaOf(tok.ProjectID)
	u := s.computeUsage(tok.ProjectID)
	writeJSON(w, http.StatusOK, map[string]any{"limits": map[string]any{"rate": []any{}, "absolute": map[string]int{
		"maxTotalInstances": q.Instances, "maxTotalCores": q.Cores, "maxTotalRAMSize": q.RAM,
		"maxServerMeta": q.MetadataItems, "maxTotalKeypairs": q.KeyPairs, "maxServerGroups": q.ServerGroups,
		"maxServerGroupMembers": q.ServerGroupMembers, "totalInstancesUsed": u.instances, "totalCoresUsed": u.cores,
		"totalRAMUsed": u.ram, "totalServerGroupsUsed": u.groups}}})
}
