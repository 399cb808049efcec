package openstacktest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// identityState is Keystone: projects, users with their role assignments,
// issued tokens and application credentials.
type identityState struct {
	Projects map[string]*ksProject `json:"projects"`
	Users    map[string]*ksUser    `json:"users"`
	Tokens   map[string]*token     `json:"tokens"`
	AppCreds map[string]*appCred   `json:"appCreds"`
	// Revoked maps revoked token IDs to their expiry: Keystone answers
	// them "Failed to validate token", unknown ones "Could not recognize
	// Fernet token".
	Revoked map[string]time.Time `json:"revoked,omitempty"`
}

type ksProject struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DomainID    string `json:"domainID"`
	Description string `json:"description,omitempty"`
}

type ksUser struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	DomainID string `json:"domainID"`
	Password string `json:"password"`
	// DefaultProjectID is the project a token is scoped to when the
	// request names no scope (if the user has a role on it).
	DefaultProjectID string `json:"defaultProjectID,omitempty"`
	// Roles maps a project ID to the names of the roles assigned to the
	// user on it (implied roles not included).
	Roles map[string][]string `json:"roles"`
}

type appCred struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Description  string     `json:"description"`
	UserID       string     `json:"userID"`
	ProjectID    string     `json:"projectID"`
	SecretHash   string     `json:"secretHash"`
	Roles        []string   `json:"roles"`
	Unrestricted bool       `json:"unrestricted"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty"`
}

// roleIDs are the fixed IDs of the roles a fresh cloud has.
var roleIDs = map[string]string{
	"admin":                "1f0e9d8c7b6a45f3a2b1c0d9e8f7a601",
	"member":               "2a1b0c9d8e7f46a5b4c3d2e1f0a9b802",
	"reader":               "3b2c1d0e9f8a47b6c5d4e3f2a1b0c903",
	"load-balancer_member": "4c3d2e1f0a9b48c7d6e5f4a3b2c1d004",
}

// impliedRoles are the implications keystone-manage bootstrap creates:
// admin implies member, member implies reader.
var impliedRoles = map[string]string{"admin": "member", "member": "reader"}

// immutableRoles are the roles bootstrap marks immutable.
var immutableRoles = map[string]bool{"admin": true, "member": true, "reader": true}

// effectiveRoles adds the implied roles to assigned, sorted by name (a
// token lists each role once).
func effectiveRoles(assigned []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range assigned {
		for ; r != "" && !seen[r]; r = impliedRoles[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// roleName resolves a role ID (or name) to its name.
func roleName(ref string) (string, bool) {
	if _, ok := roleIDs[ref]; ok {
		return ref, true
	}
	for n, id := range roleIDs {
		if id == ref {
			return n, true
		}
	}
	return "", false
}

func (s *Server) seedIdentity() {
	id := &s.st.Identity
	id.Projects = map[string]*ksProject{
		AdminProjectID:  {ID: AdminProjectID, Name: AdminProject, DomainID: DomainID},
		MemberProjectID: {ID: MemberProjectID, Name: MemberProject, DomainID: DomainID},
	}
	id.Users = map[string]*ksUser{
		AdminUserID: {ID: AdminUserID, Name: AdminUser, DomainID: DomainID, Password: AdminPassword,
			Roles: map[string][]string{AdminProjectID: {"admin", "member", "reader"}, MemberProjectID: {"admin", "member", "reader"}}},
		MemberUserID: {ID: MemberUserID, Name: MemberUser, DomainID: DomainID, Password: MemberPassword,
			DefaultProjectID: MemberProjectID,
			Roles:            map[string][]string{MemberProjectID: {"member", "load-balancer_member"}}},
	}
	id.Tokens = map[string]*token{}
	id.AppCreds = map[string]*appCred{}
	id.Revoked = map[string]time.Time{}
}

func (s *Server) routesIdentity() {
	pub := routeOpts{public: true}
	s.handle(svcIdentity, "GET /identity/{$}", s.identityVersions, pub)
	s.handle(svcIdentity, "GET /identity/v3", s.identityVersion, pub)
	s.handle(svcIdentity, "GET /identity/v3/{$}", s.identityVersion, pub)
	s.handle(svcIdentity, "POST /identity/v3/auth/tokens", s.issueToken, pub)
	s.handle(svcIdentity, "GET /identity/v3/auth/tokens", s.validateToken)
	s.handle(svcIdentity, "HEAD /identity/v3/auth/tokens", s.checkToken)
	s.handle(svcIdentity, "DELETE /identity/v3/auth/tokens", s.revokeToken)
	s.handle(svcIdentity, "GET /identity/v3/auth/projects", s.listAuthProjects)
	s.handle(svcIdentity, "GET /identity/v3/projects", s.listProjects)
	s.handle(svcIdentity, "POST /identity/v3/projects", s.createProject)
	s.handle(svcIdentity, "GET /identity/v3/projects/{id}", s.getProject)
	s.handle(svcIdentity, "DELETE /identity/v3/projects/{id}", s.deleteProject)
	s.handle(svcIdentity, "GET /identity/v3/users", s.listUsers)
	s.handle(svcIdentity, "POST /identity/v3/users", s.createUser)
	s.handle(svcIdentity, "GET /identity/v3/users/{user}", s.getUser)
	s.handle(svcIdentity, "DELETE /identity/v3/users/{user}", s.deleteUser)
	s.handle(svcIdentity, "GET /identity/v3/roles", s.listRoles)
	s.handle(svcIdentity, "PUT /identity/v3/projects/{id}/users/{user}/roles/{role}", s.assignRole)
	s.handle(svcIdentity, "DELETE /identity/v3/projects/{id}/users/{user}/roles/{role}", s.unassignRole)
	s.handle(svcIdentity, "GET /identity/v3/role_assignments", s.listRoleAssignments)
	s.handle(svcIdentity, "POST /identity/v3/users/{user}/application_credentials", s.createAppCred)
	s.handle(svcIdentity, "GET /identity/v3/users/{user}/application_credentials", s.listAppCreds)
	s.handle(svcIdentity, "GET /identity/v3/users/{user}/application_credentials/{id}", s.getAppCred)
	s.handle(svcIdentity, "DELETE /identity/v3/users/{user}/application_credentials/{id}", s.deleteAppCred)
}

func (s *Server) snapshotIdentity() []Resource {
	var out []Resource
	for _, p := range s.st.Identity.Projects {
		out = append(out, Resource{Service: "identity", Kind: "project", ID: p.ID, Name: p.Name, ProjectID: p.ID})
	}
	for _, u := range s.st.Identity.Users {
		out = append(out, Resource{Service: "identity", Kind: "user", ID: u.ID, Name: u.Name})
	}
	for _, a := range s.st.Identity.AppCreds {
		out = append(out, Resource{Service: "identity", Kind: "application_credential", ID: a.ID, Name: a.Name, ProjectID: a.ProjectID})
	}
	return out
}

// ExpireTokens makes every issued token invalid, as if they had all expired,
// so that a test can check that its client authenticates again.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Identity.Tokens = map[string]*token{}
	_ = s.save()
}

// revokeTokens revokes every token for which match is true, as Keystone
// does when a role assignment, a user or a project goes away.
func (s *Server) revokeTokens(match func(*token) bool) {
	for id, t := range s.st.Identity.Tokens {
		if match(t) {
			s.revoke(t)
			delete(s.st.Identity.Tokens, id)
		}
	}
}

func (s *Server) revoke(t *token) {
	if s.st.Identity.Revoked == nil {
		s.st.Identity.Revoked = map[string]time.Time{}
	}
	s.st.Identity.Revoked[t.ID] = t.ExpiresAt
}

// pruneTokens forgets expired tokens once there are many, so that a
// long-running simulator's state does not grow without bound.
func (s *Server) pruneTokens() {
	if len(s.st.Identity.Tokens) < 512 {
		return
	}
	now := s.now()
	for id, t := range s.st.Identity.Tokens {
		if !now.Before(t.ExpiresAt) {
			delete(s.st.Identity.Tokens, id)
		}
	}
	for id, exp := range s.st.Identity.Revoked {
		if !now.Before(exp) {
			delete(s.st.Identity.Revoked, id)
		}
	}
}

var errUnauthenticated = errorf(http.StatusUnauthorized, "", "The request you have made requires authentication.")

// authenticate validates the request's X-Auth-Token.
func (s *Server) authenticate(r *http.Request) (*token, *apiError) {
	return s.lookupToken(r.Header.Get("X-Auth-Token"))
}

func (s *Server) lookupToken(id string) (*token, *apiError) {
	if id == "" {
		return nil, errUnauthenticated
	}
	tok, ok := s.st.Identity.Tokens[id]
	if !ok {
		return nil, errUnauthenticated
	}
	if !s.now().Before(tok.ExpiresAt) {
		delete(s.st.Identity.Tokens, id)
		return nil, errUnauthenticated
	}
	if tok.AppCredentialID != "" {
		if _, ok := s.st.Identity.AppCreds[tok.AppCredentialID]; !ok {
			delete(s.st.Identity.Tokens, id)
			return nil, errUnauthenticated
		}
	}
	return tok, nil
}

// tokenNotFound is Keystone's 404 for a subject token it cannot validate.
func (s *Server) tokenNotFound(id string) *apiError {
	if _, ok := s.st.Identity.Revoked[id]; ok {
		return errorf(http.StatusNotFound, "", "Failed to validate token")
	}
	return errorf(http.StatusNotFound, "", "Could not recognize Fernet token")
}

func (s *Server) identityVersionDoc() map[string]any {
	return map[string]any{
		"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
		"links": []map[string]string{{"rel": "self", "href": s.URL + "/identity/v3/"}},
		"media-types": []map[string]string{{"base": "application/json",
			"type": "application/vnd.openstack.identity-v3+json"}},
	}
}

func (s *Server) identityVersions(w http.ResponseWriter, r *http.Request, _ *token) {
	writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": map[string]any{
		"values": []any{s.identityVersionDoc()}}})
}

func (s *Server) identityVersion(w http.ResponseWriter, r *http.Request, _ *token) {
	writeJSON(w, http.StatusOK, map[string]any{"version": s.identityVersionDoc()})
}

// authRequest is the body of POST /v3/auth/tokens.
type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User authUser `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
			ApplicationCredential *struct {
				ID     string    `json:"id"`
				Name   string    `json:"name"`
				Secret string    `json:"secret"`
				User   *authUser `json:"user"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope *struct {
			Project *struct {
				ID     string   `json:"id"`
				Name   string   `json:"name"`
				Domain *nameRef `json:"domain"`
			} `json:"project"`
			Domain *nameRef `json:"domain"`
			System any      `json:"system"`
		} `json:"scope"`
	} `json:"auth"`
}

type authUser struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Domain   *nameRef `json:"domain"`
}

type nameRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func domainMatches(ref *nameRef, domainID string) bool {
	if ref == nil {
		return false
	}
	if ref.ID != "" {
		return ref.ID == domainID
	}
	return ref.Name != "" && domainID == DomainID && ref.Name == DomainName
}

// findUser resolves a user by ID, or by name within a domain.
func (s *Server) findUser(u authUser) (*ksUser, *apiError) {
	if u.ID != "" {
		if usr, ok := s.st.Identity.Users[u.ID]; ok {
			return usr, nil
		}
		return nil, errUnauthenticated
	}
	if u.Name == "" {
		return nil, errorf(http.StatusBadRequest, "", "Expecting to find id or name in user - the server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	if u.Domain == nil || (u.Domain.ID == "" && u.Domain.Name == "") {
		return nil, errorf(http.StatusBadRequest, "", "Expecting to find domain in user. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	for _, usr := range s.st.Identity.Users {
		if usr.Name == u.Name && domainMatches(u.Domain, usr.DomainID) {
			return usr, nil
		}
	}
	return nil, errUnauthenticated
}

func secretHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, _ *token) {
	var req authRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, svcIdentity, err)
		return
	}
	tok, aerr := s.authorize(&req)
	if aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	s.pruneTokens()
	s.st.Identity.Tokens[tok.ID] = tok
	w.Header().Set("X-Subject-Token", tok.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"token": s.tokenBody(tok)})
}

// authorize checks the credentials in req and returns a new token.
func (s *Server) authorize(req *authRequest) (*token, *apiError) {
	id := req.Auth.Identity
	if len(id.Methods) == 0 {
		return nil, errorf(http.StatusBadRequest, "", "Expecting to find methods in identity - the server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	now := s.now()
	tok := &token{ExpiresAt: now.Add(tokenTTL)}
	var user *ksUser
	switch id.Methods[0] {
	case "password":
		if id.Password == nil {
			return nil, errorf(http.StatusBadRequest, "", "Expecting to find password in identity.")
		}
		u, aerr := s.findUser(id.Password.User)
		if aerr != nil {
			return nil, aerr
		}
		if subtle.ConstantTimeCompare([]byte(u.Password), []byte(id.Password.User.Password)) != 1 {
			return nil, errUnauthenticated
		}
		user = u
	case "token":
		if id.Token == nil {
			return nil, errorf(http.StatusBadRequest, "", "Expecting to find token in identity.")
		}
		old, aerr := s.lookupToken(id.Token.ID)
		if aerr != nil {
			return nil, aerr
		}
		user = s.st.Identity.Users[old.UserID]
		if old.AppCredentialID != "" {
			return nil, errorf(http.StatusForbidden, "", "Unable to rescope an application credential token.")
		}
		if user == nil {
			return nil, errUnauthenticated
		}
		if req.Auth.Scope == nil && old.ProjectID != "" {
			tok.ProjectID, tok.ProjectName, tok.Roles = old.ProjectID, old.ProjectName, old.Roles
		}
		tok.ExpiresAt = old.ExpiresAt
	case "application_credential":
		ac := id.ApplicationCredential
		if ac == nil || ac.Secret == "" {
			return nil, errorf(http.StatusBadRequest, "", "Expecting to find secret in application_credential.")
		}
		var cred *appCred
		if ac.ID != "" {
			cred = s.st.Identity.AppCreds[ac.ID]
			if cred == nil {
				return nil, errorf(http.StatusNotFound, "", "Could not find Application Credential: %s.", ac.ID)
			}
		} else {
			if ac.User == nil {
				return nil, errorf(http.StatusBadRequest, "", "Expecting to find user in application_credential.")
			}
			u, aerr := s.findUser(*ac.User)
			if aerr != nil {
				return nil, aerr
			}
			for _, c := range s.st.Identity.AppCreds {
				if c.UserID == u.ID && c.Name == ac.Name {
					cred = c
				}
			}
			if cred == nil {
				return nil, errorf(http.StatusNotFound, "", "Could not find Application Credential: %s.", ac.Name)
			}
		}
		if subtle.ConstantTimeCompare([]byte(cred.SecretHash), []byte(secretHash(ac.Secret))) != 1 {
			return nil, errUnauthenticated
		}
		if cred.ExpiresAt != nil && !now.Before(*cred.ExpiresAt) {
			return nil, errUnauthenticated
		}
		if req.Auth.Scope != nil {
			return nil, errorf(http.StatusUnauthorized, "", "Error authenticating with application credential: Application credentials cannot request a scope.")
		}
		user = s.st.Identity.Users[cred.UserID]
		if user == nil {
			return nil, errUnauthenticated
		}
		p := s.st.Identity.Projects[cred.ProjectID]
		tok.ProjectID, tok.ProjectName = p.ID, p.Name
		tok.Roles = append([]string(nil), cred.Roles...)
		tok.AppCredentialID = cred.ID
	default:
		return nil, errorf(http.StatusUnauthorized, "", "Attempted to authenticate with an unsupported method.")
	}
	tok.UserID, tok.UserName = user.ID, user.Name

	if sc := req.Auth.Scope; sc != nil && tok.AppCredentialID == "" {
		switch {
		case sc.Project != nil:
			var proj *ksProject
			for _, p := range s.st.Identity.Projects {
				if sc.Project.ID != "" && p.ID == sc.Project.ID ||
					sc.Project.ID == "" && p.Name == sc.Project.Name && domainMatches(sc.Project.Domain, p.DomainID) {
					proj = p
				}
			}
			if sc.Project.ID == "" && sc.Project.Domain == nil {
				return nil, errorf(http.StatusBadRequest, "", "Expecting to find domain in project. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
			}
			// Keystone says no more for an unknown project or one the
			// user has no role on.
			if proj == nil || len(user.Roles[proj.ID]) == 0 {
				return nil, errUnauthenticated
			}
			tok.ProjectID, tok.ProjectName, tok.Roles = proj.ID, proj.Name, effectiveRoles(user.Roles[proj.ID])
		case sc.Domain != nil, sc.System != nil:
			// Domain and system scopes carry no project; only the admin
			// user has them.
			if !userIsAdmin(user) {
				return nil, errorf(http.StatusUnauthorized, "", "User %s has no access to the requested scope", user.ID)
			}
			tok.Roles = []string{"admin"}
		}
	}
	// With no scope, a password token is scoped to the user's default
	// project when the user has a role there, else unscoped.
	if req.Auth.Scope == nil && id.Methods[0] == "password" && user.DefaultProjectID != "" {
		if p := s.st.Identity.Projects[user.DefaultProjectID]; p != nil && len(user.Roles[p.ID]) > 0 {
			tok.ProjectID, tok.ProjectName, tok.Roles = p.ID, p.Name, effectiveRoles(user.Roles[p.ID])
		}
	}
	tok.ID = "gAAAAA" + s.randHex(40)
	return tok, nil
}

func userIsAdmin(u *ksUser) bool {
	for _, roles := range u.Roles {
		for _, r := range roles {
			if r == "admin" {
				return true
			}
		}
	}
	return false
}

// tokenBody renders a token the way Keystone does.
func (s *Server) tokenBody(tok *token) map[string]any {
	body := map[string]any{
		"methods":    []string{"password"},
		"expires_at": tok.ExpiresAt.Format("2006-01-02T15:04:05.000000Z"),
		"issued_at":  tok.ExpiresAt.Add(-tokenTTL).Format("2006-01-02T15:04:05.000000Z"),
		"audit_ids":  []string{tok.ID[len(tok.ID)-22:]},
		"user": map[string]any{"id": tok.UserID, "name": tok.UserName,
			"domain": map[string]string{"id": DomainID, "name": DomainName}, "password_expires_at": nil},
	}
	if tok.AppCredentialID != "" {
		body["methods"] = []string{"application_credential"}
		if c := s.st.Identity.AppCreds[tok.AppCredentialID]; c != nil {
			body["application_credential"] = map[string]any{"id": c.ID, "name": c.Name, "restricted": !c.Unrestricted}
		}
	}
	if len(tok.Roles) > 0 {
		roles := make([]map[string]string, 0, len(tok.Roles))
		for _, r := range tok.Roles {
			roles = append(roles, map[string]string{"id": roleIDs[r], "name": r})
		}
		body["roles"] = roles
	}
	if tok.ProjectID != "" {
		body["project"] = map[string]any{"id": tok.ProjectID, "name": tok.ProjectName,
			"domain": map[string]string{"id": DomainID, "name": DomainName}}
		body["is_domain"] = false
		body["catalog"] = s.catalog(tok.ProjectID)
	}
	return body
}

// catalog lists the endpoints a project-scoped token sees.
func (s *Server) catalog(projectID string) []any {
	entries := []struct{ typ, name, path string }{
		{"identity", "keystone", "/identity/v3/"},
		{"compute", "nova", "/compute/v2.1/"},
		{"network", "neutron", "/network/"},
		{"load-balancer", "octavia", "/load-balancer/"},
		{"image", "glance", "/image/"},
		{"volumev3", "cinderv3", "/volume/v3/" + projectID + "/"},
	}
	var out []any
	for _, e := range entries {
		var eps []any
		for _, iface := range []string{"public", "internal"} {
			eps = append(eps, map[string]any{
				"id":        stableID(e.typ, iface),
				"interface": iface, "region": Region, "region_id": Region,
				"url": s.URL + e.path,
			})
		}
		out = append(out, map[string]any{"id": stableID("service", e.typ), "type": e.typ, "name": e.name, "endpoints": eps})
	}
	return out
}

// stableID derives a fixed hex ID from its parts, for catalog entries.
func stableID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return hex.EncodeToString(h[:16])
}

func (s *Server) validateToken(w http.ResponseWriter, r *http.Request, _ *token) {
	sub, aerr := s.lookupToken(r.Header.Get("X-Subject-Token"))
	if aerr != nil {
		s.writeError(w, svcIdentity, s.tokenNotFound(r.Header.Get("X-Subject-Token")))
		return
	}
	w.Header().Set("X-Subject-Token", sub.ID)
	writeJSON(w, http.StatusOK, map[string]any{"token": s.tokenBody(sub)})
}

func (s *Server) checkToken(w http.ResponseWriter, r *http.Request, _ *token) {
	if _, aerr := s.lookupToken(r.Header.Get("X-Subject-Token")); aerr != nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// revokeToken revokes the subject token; an admin may revoke any token,
// a user their own.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, tok *token) {
	id := r.Header.Get("X-Subject-Token")
	sub, aerr := s.lookupToken(id)
	if aerr != nil {
		s.writeError(w, svcIdentity, s.tokenNotFound(id))
		return
	}
	if sub.UserID != tok.UserID && !tok.isAdmin() {
		s.writeError(w, svcIdentity, forbidden("revoke_token"))
		return
	}
	s.revoke(sub)
	delete(s.st.Identity.Tokens, id)
	w.WriteHeader(http.StatusNoContent)
}

// forbidden is Keystone's 403 for a policy rule.
func forbidden(action string) *apiError {
	return errorf(http.StatusForbidden, "", "You are not authorized to perform the requested action: identity:%s.", action)
}

// appCredUser checks that tok may do action on the application
// credentials of the user in the path (the user themself, or an admin).
func (s *Server) appCredUser(r *http.Request, tok *token, action string) (*ksUser, *apiError) {
	uid := r.PathValue("user")
	if tok.UserID != uid && !tok.isAdmin() {
		return nil, forbidden(action)
	}
	u, ok := s.st.Identity.Users[uid]
	if !ok {
		return nil, errorf(http.StatusNotFound, "", "Could not find user: %s.", uid)
	}
	return u, nil
}

// appCredBody renders an application credential as Keystone (Zed) does:
// null for an empty description and an unset unrestricted, full role
// references, a self link under /v3/application_credentials.
func (s *Server) appCredBody(c *appCred) map[string]any {
	roles := make([]map[string]any, 0, len(c.Roles))
	for _, r := range c.Roles {
		roles = append(roles, roleRef(r))
	}
	var exp, desc, unrestricted any
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Format("2006-01-02T15:04:05.000000")
	}
	if c.Description != "" {
		desc = c.Description
	}
	if c.Unrestricted {
		unrestricted = true
	}
	return map[string]any{
		"id": c.ID, "name": c.Name, "description": desc, "user_id": c.UserID,
		"project_id": c.ProjectID, "system": nil, "roles": roles, "unrestricted": unrestricted,
		"expires_at": exp,
		"links":      map[string]string{"self": s.URL + "/identity/v3/application_credentials/" + c.ID},
	}
}

// roleRef is a role as Keystone lists it.
func roleRef(name string) map[string]any {
	opts := map[string]any{}
	if immutableRoles[name] {
		opts["immutable"] = true
	}
	return map[string]any{"id": roleIDs[name], "name": name, "domain_id": nil, "description": nil, "options": opts}
}

func (s *Server) createAppCred(w http.ResponseWriter, r *http.Request, tok *token) {
	u, aerr := s.appCredUser(r, tok, "create_application_credential")
	if aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	var req struct {
		ApplicationCredential struct {
			Name         string    `json:"name"`
			Description  string    `json:"description"`
			Secret       string    `json:"secret"`
			ExpiresAt    string    `json:"expires_at"`
			Roles        []nameRef `json:"roles"`
			Unrestricted bool      `json:"unrestricted"`
		} `json:"application_credential"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	in := req.ApplicationCredential
	if in.Name == "" {
		s.writeError(w, svcIdentity, errorf(http.StatusBadRequest, "", "Invalid input for field 'name': None is not of type 'string'"))
		return
	}
	if tok.ProjectID == "" {
		s.writeError(w, svcIdentity, errorf(http.StatusForbidden, "", "Application credentials require a project-scoped token."))
		return
	}
	for _, c := range s.st.Identity.AppCreds {
		if c.UserID == u.ID && c.Name == in.Name {
			s.writeError(w, svcIdentity, errorf(http.StatusConflict, "", "Conflict occurred attempting to store application_credential - Duplicate entry found with name %s.", in.Name))
			return
		}
	}
	roles := tok.Roles
	if len(in.Roles) > 0 {
		roles = nil
		for _, ref := range in.Roles {
			name := ref.Name
			if name == "" {
				name, _ = roleName(ref.ID)
			}
			if !contains(tok.Roles, name) {
				s.writeError(w, svcIdentity, errorf(http.StatusBadRequest, "", "Invalid application credential: Cannot create an application credential with unassigned role"))
				return
			}
			roles = append(roles, name)
		}
	}
	c := &appCred{ID: strings.ReplaceAll(s.newID(), "-", ""), Name: in.Name, Description: in.Description,
		UserID: u.ID, ProjectID: tok.ProjectID, Roles: append([]string(nil), roles...), Unrestricted: in.Unrestricted}
	if in.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, in.ExpiresAt)
		if err != nil {
			t, err = time.Parse("2006-01-02T15:04:05.999999", in.ExpiresAt)
		}
		if err != nil {
			s.writeError(w, svcIdentity, errorf(http.StatusBadRequest, "", "Invalid input for field 'expires_at': %q is not a date-time", in.ExpiresAt))
			return
		}
		t = t.UTC()
		c.ExpiresAt = &t
	}
	secret := in.Secret
	if secret == "" {
		secret = s.randHex(32)
	}
	c.SecretHash = secretHash(secret)
	s.st.Identity.AppCreds[c.ID] = c
	body := s.appCredBody(c)
	body["secret"] = secret
	writeJSON(w, http.StatusCreated, map[string]any{"application_credential": body})
}

func (s *Server) listAppCreds(w http.ResponseWriter, r *http.Request, tok *token) {
	u, aerr := s.appCredUser(r, tok, "list_application_credentials")
	if aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	name := r.URL.Query().Get("name")
	out := []any{}
	var ids []string
	for id, c := range s.st.Identity.AppCreds {
		if c.UserID == u.ID && (name == "" || c.Name == name) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, s.appCredBody(s.st.Identity.AppCreds[id]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"application_credentials": out,
		"links": map[string]any{"self": s.URL + r.URL.Path, "previous": nil, "next": nil}})
}

func (s *Server) findAppCred(r *http.Request, tok *token, action string) (*appCred, *apiError) {
	u, aerr := s.appCredUser(r, tok, action)
	if aerr != nil {
		return nil, aerr
	}
	id := r.PathValue("id")
	c, ok := s.st.Identity.AppCreds[id]
	if !ok || c.UserID != u.ID {
		return nil, errorf(http.StatusNotFound, "", "Could not find Application Credential: %s.", id)
	}
	return c, nil
}

func (s *Server) getAppCred(w http.ResponseWriter, r *http.Request, tok *token) {
	c, aerr := s.findAppCred(r, tok, "get_application_credential")
	if aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"application_credential": s.appCredBody(c)})
}

func (s *Server) deleteAppCred(w http.ResponseWriter, r *http.Request, tok *token) {
	c, aerr := s.findAppCred(r, tok, "delete_application_credential")
	if aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	delete(s.st.Identity.AppCreds, c.ID)
	w.WriteHeader(http.StatusNoContent)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// removeTag drops the first t from *tags in place, reporting whether there
// was one (Nova and Glance tag deletion).
func removeTag(tags *[]string, t string) bool {
	for i, x := range *tags {
		if x == t {
			*tags = append((*tags)[:i], (*tags)[i+1:]...)
			return true
		}
	}
	return false
}

// Projects, users and role assignments. The policies are upstream
// Keystone's defaults: an admin manages them; a user reads their own user
// and the project their token is scoped to.

func (s *Server) projectBody(p *ksProject) map[string]any {
	return map[string]any{"id": p.ID, "name": p.Name, "domain_id": p.DomainID, "enabled": true, "is_domain": false,
		"parent_id": p.DomainID, "description": p.Description, "tags": []string{}, "options": map[string]any{},
		"links": map[string]string{"self": s.URL + "/identity/v3/projects/" + p.ID}}
}

func (s *Server) userBody(u *ksUser) map[string]any {
	b := map[string]any{"id": u.ID, "name": u.Name, "domain_id": u.DomainID, "enabled": true,
		"password_expires_at": nil, "options": map[string]any{},
		"links": map[string]string{"self": s.URL + "/identity/v3/users/" + u.ID}}
	if u.DefaultProjectID != "" {
		b["default_project_id"] = u.DefaultProjectID
	}
	return b
}

// visibleProjects are the projects tok may read: all for an admin, else
// those the user has a role on.
func (s *Server) visibleProjects(tok *token, all bool) []*ksProject {
	user := s.st.Identity.Users[tok.UserID]
	var out []*ksProject
	for _, p := range s.st.Identity.Projects {
		if (all && tok.isAdmin()) || user != nil && len(user.Roles[p.ID]) > 0 {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) writeProjects(w http.ResponseWriter, r *http.Request, list []*ksProject) {
	q := r.URL.Query()
	out := []any{}
	for _, p := range list {
		if (q.Get("name") == "" || q.Get("name") == p.Name) && (q.Get("domain_id") == "" || q.Get("domain_id") == p.DomainID) {
			out = append(out, s.projectBody(p))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": out,
		"links": map[string]any{"self": s.URL + r.URL.Path, "previous": nil, "next": nil}})
}

func (s *Server) listAuthProjects(w http.ResponseWriter, r *http.Request, tok *token) {
	s.writeProjects(w, r, s.visibleProjects(tok, false))
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcIdentity, forbidden("list_projects"))
		return
	}
	s.writeProjects(w, r, s.visibleProjects(tok, true))
}

// getProject: an admin reads any project; anyone else only the one their
// token is scoped to, and is refused (403, not 404) for any other ID.
func (s *Server) getProject(w http.ResponseWriter, r *http.Request, tok *token) {
	id := r.PathValue("id")
	if !tok.isAdmin() && id != tok.ProjectID {
		s.writeError(w, svcIdentity, forbidden("get_project"))
		return
	}
	p, ok := s.st.Identity.Projects[id]
	if !ok {
		s.writeError(w, svcIdentity, errorf(http.StatusNotFound, "", "Could not find project: %s.", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": s.projectBody(p)})
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcIdentity, forbidden("create_project"))
		return
	}
	var req struct {
		Project struct {
			Name        string `json:"name"`
			DomainID    string `json:"domain_id"`
			Description string `json:"description"`
		} `json:"project"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	in := req.Project
	if in.Name == "" {
		s.writeError(w, svcIdentity, errorf(http.StatusBadRequest, "", "Invalid input for field 'name': None is not of type 'string'"))
		return
	}
	if in.DomainID == "" {
		in.DomainID = DomainID
	}
	id := strings.ReplaceAll(s.newID(), "-", "")
	for _, p := range s.st.Identity.Projects {
		if p.Name == in.Name && p.DomainID == in.DomainID {
			s.writeError(w, svcIdentity, errorf(http.StatusConflict, "", "Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name or same id in the same domain: name is %s, project id %s.", in.Name, id))
			return
		}
	}
	p := &ksProject{ID: id, Name: in.Name, DomainID: in.DomainID, Description: in.Description}
	s.st.Identity.Projects[id] = p
	writeJSON(w, http.StatusCreated, map[string]any{"project": s.projectBody(p)})
}

// deleteProject deletes a project with its role assignments and
// application credentials, and revokes the tokens scoped to it.
func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcIdentity, forbidden("delete_project"))
		return
	}
	id := r.PathValue("id")
	if _, ok := s.st.Identity.Projects[id]; !ok {
		s.writeError(w, svcIdentity, errorf(http.StatusNotFound, "", "Could not find project: %s.", id))
		return
	}
	delete(s.st.Identity.Projects, id)
	for _, u := range s.st.Identity.Users {
		delete(u.Roles, id)
	}
	for cid, c := range s.st.Identity.AppCreds {
		if c.ProjectID == id {
			delete(s.st.Identity.AppCreds, cid)
		}
	}
	s.revokeTokens(func(t *token) bool { return t.ProjectID == id })
	w.WriteHeader(http.StatusNoContent)
}

// listUsers is for admins only (identity:list_users).
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcIdentity, forbidden("list_users"))
		return
	}
	name := r.URL.Query().Get("name")
	out := []any{}
	var ids []string
	for id := range s.st.Identity.Users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		u := s.st.Identity.Users[id]
		if name == "" || u.Name == name {
			out = append(out, s.userBody(u))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out,
		"links": map[string]any{"self": s.URL + r.URL.Path, "previous": nil, "next": nil}})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, tok *token) {
	id := r.PathValue("user")
	if id != tok.UserID && !tok.isAdmin() {
		s.writeError(w, svcIdentity, forbidden("get_user"))
		return
	}
	u, ok := s.st.Identity.Users[id]
	if !ok {
		s.writeError(w, svcIdentity, errorf(http.StatusNotFound, "", "Could not find user: %s.", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": s.userBody(u)})
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcIdentity, forbidden("create_user"))
		return
	}
	var req struct {
		User struct {
			Name             string `json:"name"`
			Password         string `json:"password"`
			DomainID         string `json:"domain_id"`
			DefaultProjectID string `json:"default_project_id"`
		} `json:"user"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	in := req.User
	if in.Name == "" {
		s.writeError(w, svcIdentity, errorf(http.StatusBadRequest, "", "Invalid input for field 'name': None is not of type 'string'"))
		return
	}
	if in.DomainID == "" {
		in.DomainID = DomainID
	}
	for _, u := range s.st.Identity.Users {
		if u.Name == in.Name && u.DomainID == in.DomainID {
			s.writeError(w, svcIdentity, errorf(http.StatusConflict, "", "Conflict occurred attempting to store user - Duplicate entry found with name %s at domain ID %s.", in.Name, in.DomainID))
			return
		}
	}
	u := &ksUser{ID: strings.ReplaceAll(s.newID(), "-", ""), Name: in.Name, DomainID: in.DomainID,
		Password: in.Password, DefaultProjectID: in.DefaultProjectID, Roles: map[string][]string{}}
	s.st.Identity.Users[u.ID] = u
	writeJSON(w, http.StatusCreated, map[string]any{"user": s.userBody(u)})
}

// deleteUser deletes a user with their application credentials and
// revokes their tokens.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcIdentity, forbidden("delete_user"))
		return
	}
	id := r.PathValue("user")
	if _, ok := s.st.Identity.Users[id]; !ok {
		s.writeError(w, svcIdentity, errorf(http.StatusNotFound, "", "Could not find user: %s.", id))
		return
	}
	delete(s.st.Identity.Users, id)
	for cid, c := range s.st.Identity.AppCreds {
		if c.UserID == id {
			delete(s.st.Identity.AppCreds, cid)
		}
	}
	s.revokeTokens(func(t *token) bool { return t.UserID == id })
	w.WriteHeader(http.StatusNoContent)
}

// assignment resolves the project, user and role of a role assignment
// path, checking the caller is an admin.
func (s *Server) assignment(r *http.Request, tok *token, action string) (*ksProject, *ksUser, string, *apiError) {
	if !tok.isAdmin() {
		return nil, nil, "", forbidden(action)
	}
	p, ok := s.st.Identity.Projects[r.PathValue("id")]
	if !ok {
		return nil, nil, "", errorf(http.StatusNotFound, "", "Could not find project: %s.", r.PathValue("id"))
	}
	u, ok := s.st.Identity.Users[r.PathValue("user")]
	if !ok {
		return nil, nil, "", errorf(http.StatusNotFound, "", "Could not find user: %s.", r.PathValue("user"))
	}
	role, ok := roleName(r.PathValue("role"))
	if !ok {
		return nil, nil, "", errorf(http.StatusNotFound, "", "Could not find role: %s.", r.PathValue("role"))
	}
	return p, u, role, nil
}

func (s *Server) assignRole(w http.ResponseWriter, r *http.Request, tok *token) {
	p, u, role, aerr := s.assignment(r, tok, "create_grant")
	if aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	if !contains(u.Roles[p.ID], role) {
		if u.Roles == nil {
			u.Roles = map[string][]string{}
		}
		u.Roles[p.ID] = append(u.Roles[p.ID], role)
	}
	w.WriteHeader(http.StatusNoContent)
}

// unassignRole removes a role assignment and revokes the user's tokens on
// the project.
func (s *Server) unassignRole(w http.ResponseWriter, r *http.Request, tok *token) {
	p, u, role, aerr := s.assignment(r, tok, "revoke_grant")
	if aerr != nil {
		s.writeError(w, svcIdentity, aerr)
		return
	}
	roles := u.Roles[p.ID]
	if !removeTag(&roles, role) {
		s.writeError(w, svcIdentity, errorf(http.StatusNotFound, "", "Could not find role assignment with role: %s, user or group: %s, project, domain, or system: %s.", roleIDs[role], u.ID, p.ID))
		return
	}
	if len(roles) == 0 {
		delete(u.Roles, p.ID)
	} else {
		u.Roles[p.ID] = roles
	}
	s.revokeTokens(func(t *token) bool { return t.UserID == u.ID && t.ProjectID == p.ID })
	w.WriteHeader(http.StatusNoContent)
}

// listRoleAssignments lists direct project role assignments, filtered by
// user.id, scope.project.id and role.id (admin only).
func (s *Server) listRoleAssignments(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcIdentity, forbidden("list_role_assignments"))
		return
	}
	q := r.URL.Query()
	var uids []string
	for id := range s.st.Identity.Users {
		uids = append(uids, id)
	}
	sort.Strings(uids)
	out := []any{}
	for _, uid := range uids {
		u := s.st.Identity.Users[uid]
		if v := q.Get("user.id"); v != "" && v != uid {
			continue
		}
		var pids []string
		for pid := range u.Roles {
			pids = append(pids, pid)
		}
		sort.Strings(pids)
		for _, pid := range pids {
			if v := q.Get("scope.project.id"); v != "" && v != pid {
				continue
			}
			for _, role := range u.Roles[pid] {
				if v := q.Get("role.id"); v != "" && v != roleIDs[role] {
					continue
				}
				out = append(out, map[string]any{
					"links": map[string]string{"assignment": s.URL + "/identity/v3/projects/" + pid + "/users/" + uid + "/roles/" + roleIDs[role]},
					"scope": map[string]any{"project": map[string]string{"id": pid}},
					"user":  map[string]string{"id": uid},
					"role":  map[string]string{"id": roleIDs[role]},
				})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"role_assignments": out,
		"links": map[string]any{"self": s.URL + r.URL.String(), "previous": nil, "next": nil}})
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, tok *token) {
	name := r.URL.Query().Get("name")
	var names []string
	for n := range roleIDs {
		if name == "" || n == name {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := []any{}
	for _, n := range names {
		ref := roleRef(n)
		ref["links"] = map[string]string{"self": s.URL + "/identity/v3/roles/" + roleIDs[n]}
		out = append(out, ref)
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": out,
		"links": map[string]any{"self": s.URL + r.URL.Path, "previous": nil, "next": nil}})
}
