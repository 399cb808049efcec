package openstacktest_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/applicationcredentials"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// authAt gets a token with ao at the Keystone v3 endpoint authURL and
// returns the provider client or the error.
func authAt(t *testing.T, authURL string, ao gophercloud.AuthOptions) (*gophercloud.ProviderClient, error) {
	t.Helper()
	ao.IdentityEndpoint = authURL
	return openstack.AuthenticatedClient(testContext(t), ao)
}

// keystoneIDs are the IDs of the test cloud's users and projects, read
// from the tokens of the member and admin connections.
type keystoneIDs struct {
	memberUser, memberProject, adminUser, adminProject string
}

func idsOf(t *testing.T, e *cloudtest.Env) keystoneIDs {
	t.Helper()
	ctx := testContext(t)
	user := func(c *provider.Cloud) string {
		u, err := c.Provider.GetAuthResult().(tokens.CreateResult).ExtractUser()
		if err != nil {
			t.Fatalf("user of the token: %v", err)
		}
		return u.ID
	}
	m, a := e.Cloud(ctx), e.AdminCloud(ctx)
	return keystoneIDs{memberUser: user(m), memberProject: m.ProjectID, adminUser: user(a), adminProject: a.ProjectID}
}

// keystoneError is the parsed body of a Keystone error answer:
// {"error": {"code", "title", "message"}}.
type keystoneError struct {
	Status  int
	Title   string
	Message string
}

// wantKeystoneError fails unless err is a Keystone error answer with
// status, the matching title and code, and a message holding msg.
func wantKeystoneError(t *testing.T, err error, status int, msg string) keystoneError {
	t.Helper()
	var ue gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &ue) {
		t.Fatalf("error %v, want a %d answer", err, status)
	}
	var body struct {
		Error struct {
			Code    int    `json:"code"`
			Title   string `json:"title"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if jerr := json.Unmarshal(ue.Body, &body); jerr != nil {
		t.Fatalf("error body %q is not Keystone's shape: %v", ue.Body, jerr)
	}
	ke := keystoneError{Status: ue.Actual, Title: body.Error.Title, Message: body.Error.Message}
	if ke.Status != status || body.Error.Code != status || ke.Title != http.StatusText(status) || !strings.Contains(ke.Message, msg) {
		t.Fatalf("got %d %q (code %d) %q, want %d %q with %q", ke.Status, ke.Title, body.Error.Code, ke.Message, status, http.StatusText(status), msg)
	}
	return ke
}

const msgUnauthenticated = "The request you have made requires authentication."

func sortedRoles(rr []tokens.Role) []string {
	var out []string
	for _, r := range rr {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

func TestKeystoneAuthMethods(t *testing.T) {
	e := cloudtest.New(t)
	member, admin := e.Auth(false), e.Auth(true)
	ids := idsOf(t, e)
	memberRoles := []string{"load-balancer_member", "member", "reader"}
	tests := []struct {
		name    string
		ao      gophercloud.AuthOptions
		project string
		roles   []string
	}{
		{"user and project by name", gophercloud.AuthOptions{Username: member.Username, Password: member.Password,
			DomainName: member.UserDomainName, Scope: &gophercloud.AuthScope{ProjectName: member.ProjectName, DomainID: "default"}},
			ids.memberProject, memberRoles},
		// admin implies member, which implies reader: a token lists the
		// implied roles too.
		{"user and project by ID", gophercloud.AuthOptions{UserID: ids.adminUser, Password: admin.Password,
			Scope: &gophercloud.AuthScope{ProjectID: ids.adminProject}},
			ids.adminProject, []string{"admin", "member", "reader"}},
		// Keystone scopes a token that names no scope to the user's
		// default project.
		{"no scope: the default project", gophercloud.AuthOptions{Username: member.Username, Password: member.Password, DomainID: "default"},
			ids.memberProject, memberRoles},
		{"unscoped (no default project)", gophercloud.AuthOptions{Username: admin.Username, Password: admin.Password, DomainID: "default"},
			"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := authAt(t, member.AuthURL, tt.ao)
			if err != nil {
				t.Fatal(err)
			}
			res := pc.GetAuthResult().(tokens.CreateResult)
			if res.Header.Get("X-Subject-Token") == "" || pc.Token() != res.Header.Get("X-Subject-Token") {
				t.Error("X-Subject-Token is empty or not the client's token")
			}
			tok, err := res.ExtractToken()
			if err != nil || tok.ExpiresAt.IsZero() {
				t.Errorf("token expiry: %v, %v", tok.ExpiresAt, err)
			}
			rr, _ := res.ExtractRoles()
			if diff := cmp.Diff(tt.roles, sortedRoles(rr)); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
			p, _ := res.ExtractProject()
			cat, _ := res.ExtractServiceCatalog()
			if tt.project == "" {
				if p != nil || len(cat.Entries) != 0 {
					t.Errorf("unscoped token has project %+v and %d catalog entries", p, len(cat.Entries))
				}
				return
			}
			if p == nil || p.ID != tt.project {
				t.Fatalf("project: %+v", p)
			}
			checkCatalog(t, e, member.AuthURL, tt.project, cat)
		})
	}
}

// checkCatalog checks a project-scoped token's catalog: on the simulator
// every endpoint; on a real cloud that each service the SDK uses has a
// public and an internal endpoint in the region, and that the identity
// endpoint is the auth URL.
func checkCatalog(t *testing.T, e *cloudtest.Env, authURL, project string, cat *tokens.ServiceCatalog) {
	t.Helper()
	types := map[string][]string{}
	identity := ""
	for _, en := range cat.Entries {
		for _, ep := range en.Endpoints {
			types[en.Type] = append(types[en.Type], ep.Interface+" "+ep.Region)
			if en.Type == "identity" && ep.Interface == "public" {
				identity = ep.URL
			}
		}
	}
	if strings.TrimSuffix(identity, "/") != strings.TrimSuffix(authURL, "/") {
		t.Errorf("public identity endpoint %q, auth URL %q", identity, authURL)
	}
	if s := e.Sim(); s != nil {
		paths := map[string][]string{}
		for _, en := range cat.Entries {
			for _, ep := range en.Endpoints {
				paths[en.Type] = append(paths[en.Type], ep.Interface+" "+ep.Region+" "+strings.TrimPrefix(ep.URL, s.URL))
			}
		}
		want := map[string][]string{
			"identity":      {"public RegionOne /identity/v3/", "internal RegionOne /identity/v3/"},
			"compute":       {"public RegionOne /compute/v2.1/", "internal RegionOne /compute/v2.1/"},
			"network":       {"public RegionOne /network/", "internal RegionOne /network/"},
			"load-balancer": {"public RegionOne /load-balancer/", "internal RegionOne /load-balancer/"},
			"image":         {"public RegionOne /image/", "internal RegionOne /image/"},
			"volumev3":      {"public RegionOne /volume/v3/" + project + "/", "internal RegionOne /volume/v3/" + project + "/"},
		}
		if diff := cmp.Diff(want, paths); diff != "" {
			t.Errorf("catalog (-want +got):\n%s", diff)
		}
		return
	}
	for _, typ := range []string{"identity", "compute", "network", "load-balancer", "image"} {
		for _, want := range []string{"public " + openstacktest.Region, "internal " + openstacktest.Region} {
			found := false
			for _, got := range types[typ] {
				found = found || got == want
			}
			if !found {
				t.Errorf("catalog: %s has no %s endpoint (has %v)", typ, want, types[typ])
			}
		}
	}
}

func TestKeystoneErrors(t *testing.T) {
	e := cloudtest.New(t)
	member := e.Auth(false)
	admin := e.Auth(true)
	tests := []struct {
		name   string
		ao     gophercloud.AuthOptions
		status int
		msg    string
	}{
		{"wrong password", gophercloud.AuthOptions{Username: member.Username, Password: "wrong", DomainID: "default"}, 401, msgUnauthenticated},
		{"unknown user", gophercloud.AuthOptions{Username: "openstrap-nobody", Password: "x", DomainID: "default"}, 401, msgUnauthenticated},
		{"wrong domain", gophercloud.AuthOptions{Username: member.Username, Password: member.Password, DomainName: "Other"}, 401, msgUnauthenticated},
		// The same answer as for a wrong password: nothing says whether
		// the project exists.
		{"project without role", gophercloud.AuthOptions{Username: member.Username, Password: member.Password,
			DomainID: "default", Scope: &gophercloud.AuthScope{ProjectName: admin.ProjectName, DomainID: "default"}}, 401, msgUnauthenticated},
		{"unknown project", gophercloud.AuthOptions{Username: member.Username, Password: member.Password,
			DomainID: "default", Scope: &gophercloud.AuthScope{ProjectName: "nope", DomainID: "default"}}, 401, msgUnauthenticated},
		// An unknown application credential is a 404, not a 401.
		{"unknown application credential", gophercloud.AuthOptions{ApplicationCredentialID: "abc", ApplicationCredentialSecret: "x"},
			404, "Could not find Application Credential: abc."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := authAt(t, member.AuthURL, tt.ao)
			ke := wantKeystoneError(t, err, tt.status, tt.msg)
			if strings.Contains(ke.Message, member.Password) {
				t.Error("error body holds the password")
			}
		})
	}

	// Service APIs refuse a missing or bad token with 401.
	ctx := testContext(t)
	c := e.Cloud(ctx)
	for _, tokenID := range []string{"", "gAAAAAbogus"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Compute.Endpoint+"flavors", nil)
		if tokenID != "" {
			req.Header.Set("X-Auth-Token", tokenID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), "requires authentication") {
			t.Errorf("token %q: %d %s", tokenID, resp.StatusCode, b)
		}
	}
	// The version documents are public.
	root := func(endpoint, version string) string {
		if i := strings.Index(endpoint, version); i > 0 {
			return endpoint[:i]
		}
		return endpoint
	}
	docs := []string{root(member.AuthURL, "v3"), member.AuthURL, root(c.Compute.Endpoint, "v2.1/"), c.Image.Endpoint, c.Network.Endpoint}
	if c.BlockStorage != nil {
		docs = append(docs, root(c.BlockStorage.Endpoint, "v3/"))
	}
	for _, u := range docs {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 300 {
			t.Errorf("GET %s: %d", u, resp.StatusCode)
		}
	}
}

// TestKeystoneTokenValidationAndRevocation validates tokens and revokes
// them as Keystone does; a client that may re-authenticate gets a new
// token after its token is revoked.
func TestKeystoneTokenValidationAndRevocation(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	ids := idsOf(t, e)
	member := e.Auth(false)
	c := e.Cloud(ctx)
	idc := identityClient(t, c)
	adminIdc := identityClient(t, e.AdminCloud(ctx))
	res := tokens.Get(ctx, idc, c.Provider.Token())
	if u, err := res.ExtractUser(); err != nil || u.ID != ids.memberUser {
		t.Errorf("validate own token: %+v, %v", u, err)
	}
	if ok, err := tokens.Validate(ctx, idc, "gAAAAAnope"); ok || err != nil {
		t.Errorf("validate bogus token: %v, %v", ok, err)
	}
	_, err := tokens.Get(ctx, idc, "gAAAAAnope").Extract()
	wantKeystoneError(t, err, 404, "Could not recognize Fernet token")

	// A second token of the member, revoked by the admin.
	ao := gophercloud.AuthOptions{Username: member.Username, Password: member.Password, DomainName: member.UserDomainName,
		Scope: &gophercloud.AuthScope{ProjectName: member.ProjectName, DomainName: member.ProjectDomainName}}
	pc, err := authAt(t, member.AuthURL, ao)
	if err != nil {
		t.Fatal(err)
	}
	compute, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{Region: openstacktest.Region})
	if err != nil {
		t.Fatal(err)
	}
	// The token is not used at Nova before it is revoked: keystonemiddleware
	// caches a validated token (token_cache_time, 300 s by default) and
	// would keep accepting it for that long after the revocation.
	revoked := pc.Token()
	// A user cannot revoke someone else's token.
	err = tokens.Revoke(ctx, idc, e.AdminCloud(ctx).Provider.Token()).Err
	wantKeystoneError(t, err, 403, "identity:revoke_token")
	if err := tokens.Revoke(ctx, adminIdc, revoked).Err; err != nil {
		t.Fatalf("admin revokes the member's token: %v", err)
	}
	_, err = tokens.Get(ctx, adminIdc, revoked).Extract()
	wantKeystoneError(t, err, 404, "Failed to validate token")
	err = tokens.Revoke(ctx, adminIdc, revoked).Err
	wantKeystoneError(t, err, 404, "Failed to validate token")
	if _, err := flavors.Get(ctx, compute, "1").Extract(); !gophercloud.ResponseCodeIs(err, 401) {
		t.Errorf("revoked token without re-authentication: %v, want 401", err)
	}

	// With re-authentication allowed, the client gets a new token.
	ao.AllowReauth = true
	pc, err = authAt(t, member.AuthURL, ao)
	if err != nil {
		t.Fatal(err)
	}
	compute, _ = openstack.NewComputeV2(pc, gophercloud.EndpointOpts{Region: openstacktest.Region})
	old := pc.Token()
	if err := tokens.Revoke(ctx, idc, old).Err; err != nil {
		t.Fatalf("the member revokes a token of their own: %v", err)
	}
	if _, err := flavors.Get(ctx, compute, "1").Extract(); err != nil {
		t.Fatalf("call after revocation: %v", err)
	}
	if pc.Token() == old || pc.Token() == "" {
		t.Error("the client did not authenticate again")
	}
}

// TestKeystoneTokenExpiry expires every token at once (a simulator knob)
// and counts the requests of the client authenticating again.
func TestKeystoneTokenExpiry(t *testing.T) {
	cloudtest.RequireSim(t, cloudtest.NeedsSimFeature)
	e := cloudtest.New(t)
	s := e.Sim()
	ctx := testContext(t)
	c := e.Cloud(ctx)
	s.ResetCalls()
	s.ExpireTokens()
	if _, err := flavors.Get(ctx, c.Compute, "1").Extract(); err != nil {
		t.Fatalf("call after expiry: %v", err)
	}
	calls := s.Calls()
	if calls["POST /identity/v3/auth/tokens"] != 1 || calls["GET /compute/v2.1/flavors/{id}"] != 2 {
		t.Errorf("calls after expiry: %v", calls)
	}
}

func TestApplicationCredentials(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	ids := idsOf(t, e)
	member := e.Auth(false)
	idc := identityClient(t, e.Cloud(ctx))
	name := e.Name("ci")
	ac, err := applicationcredentials.Create(ctx, idc, ids.memberUser, applicationcredentials.CreateOpts{
		Name: name, Roles: []applicationcredentials.Role{{Name: "member"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = applicationcredentials.Delete(ctx, idc, ids.memberUser, ac.ID).ExtractErr() })
	if ac.Secret == "" || ac.ProjectID != ids.memberProject || len(ac.Roles) != 1 || ac.Roles[0].Name != "member" ||
		ac.Description != "" || ac.Unrestricted {
		t.Fatalf("created: %+v", ac)
	}
	if self, _ := ac.Links["self"].(string); !strings.HasSuffix(self, "/v3/application_credentials/"+ac.ID) {
		t.Errorf("self link %q", self)
	}
	got, err := applicationcredentials.Get(ctx, idc, ids.memberUser, ac.ID).Extract()
	if err != nil || got.Secret != "" || got.Name != name {
		t.Errorf("get shows %+v (secret must not be shown again), %v", got, err)
	}
	_, err = applicationcredentials.Create(ctx, idc, ids.memberUser, applicationcredentials.CreateOpts{Name: name}).Extract()
	wantKeystoneError(t, err, 409, "Duplicate entry found with name "+name+".")
	_, err = applicationcredentials.Create(ctx, idc, ids.memberUser, applicationcredentials.CreateOpts{
		Name: e.Name("x"), Roles: []applicationcredentials.Role{{Name: "admin"}}}).Extract()
	wantKeystoneError(t, err, 400, "Cannot create an application credential with unassigned role")
	// A member cannot manage another user's credentials.
	_, err = applicationcredentials.Create(ctx, idc, ids.adminUser, applicationcredentials.CreateOpts{Name: e.Name("x")}).Extract()
	wantKeystoneError(t, err, 403, "identity:create_application_credential")

	for how, ao := range map[string]gophercloud.AuthOptions{
		"by ID":   {ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret},
		"by name": {ApplicationCredentialName: name, Username: member.Username, DomainName: member.UserDomainName, ApplicationCredentialSecret: ac.Secret},
	} {
		pc, err := authAt(t, member.AuthURL, ao)
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		res := pc.GetAuthResult().(tokens.CreateResult)
		p, _ := res.ExtractProject()
		roles, _ := res.ExtractRoles()
		// The credential's roles only, without the roles member implies.
		if p == nil || p.ID != ids.memberProject || !cmp.Equal(sortedRoles(roles), []string{"member"}) {
			t.Errorf("%s: project %+v roles %+v", how, p, roles)
		}
	}
	_, err = authAt(t, member.AuthURL, gophercloud.AuthOptions{ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: "wrong"})
	wantKeystoneError(t, err, 401, msgUnauthenticated)

	acCloud, err := provider.Connect(ctx, provider.WithAuth(provider.Auth{AuthURL: member.AuthURL,
		ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret}))
	if err != nil {
		t.Fatal(err)
	}
	if err := applicationcredentials.Delete(ctx, idc, ids.memberUser, ac.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// Tokens from a deleted credential stop working; the credential is
	// then unknown (404).
	acCloud.Provider.ReauthFunc = nil
	if _, err := flavors.Get(ctx, acCloud.Compute, "1").Extract(); !gophercloud.ResponseCodeIs(err, 401) {
		t.Errorf("token of a deleted credential: %v, want 401", err)
	}
	_, err = authAt(t, member.AuthURL, gophercloud.AuthOptions{ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret})
	wantKeystoneError(t, err, 404, "Could not find Application Credential: "+ac.ID+".")
	_, err = applicationcredentials.Get(ctx, idc, ids.memberUser, ac.ID).Extract()
	wantKeystoneError(t, err, 404, "Could not find Application Credential: "+ac.ID+".")
	err = applicationcredentials.Delete(ctx, idc, ids.memberUser, ac.ID).ExtractErr()
	wantKeystoneError(t, err, 404, "Could not find Application Credential")
}

// TestKeystoneProjectsUsersRoles creates a project and a user as admin,
// gives the user a role there, and checks what the user, the member and
// the admin may see and do, then takes it all away again.
func TestKeystoneProjectsUsersRoles(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	ids := idsOf(t, e)
	member := identityClient(t, e.Cloud(ctx))
	admin := identityClient(t, e.AdminCloud(ctx))
	authURL := e.Auth(false).AuthURL

	pname := e.Name("openstrap-test-project")
	p, err := projects.Create(ctx, admin, projects.CreateOpts{Name: pname, Description: "openstrap identity test"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = projects.Delete(ctx, admin, p.ID).ExtractErr() })
	if p.DomainID != "default" || !p.Enabled || p.Description != "openstrap identity test" || p.ParentID != "default" {
		t.Errorf("created project: %+v", p)
	}
	_, err = projects.Create(ctx, admin, projects.CreateOpts{Name: pname}).Extract()
	wantKeystoneError(t, err, 409, "it is not permitted to have two projects with either the same name or same id in the same domain: name is "+pname)
	_, err = projects.Create(ctx, member, projects.CreateOpts{Name: e.Name("x")}).Extract()
	wantKeystoneError(t, err, 403, "identity:create_project")

	listProjects := func(pager func() ([]projects.Project, error)) []string {
		t.Helper()
		list, err := pager()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range list {
			out = append(out, p.ID)
		}
		return out
	}
	byName := listProjects(func() ([]projects.Project, error) {
		page, err := projects.List(admin, projects.ListOpts{Name: pname}).AllPages(ctx)
		if err != nil {
			return nil, err
		}
		return projects.ExtractProjects(page)
	})
	if !cmp.Equal(byName, []string{p.ID}) {
		t.Errorf("admin lists projects named %s: %v", pname, byName)
	}
	_, err = projects.List(member, projects.ListOpts{}).AllPages(ctx)
	wantKeystoneError(t, err, 403, "identity:list_projects")
	avail := listProjects(func() ([]projects.Project, error) {
		page, err := projects.ListAvailable(member).AllPages(ctx)
		if err != nil {
			return nil, err
		}
		return projects.ExtractProjects(page)
	})
	if !cmp.Equal(avail, []string{ids.memberProject}) {
		t.Errorf("member's available projects: %v, want only %s", avail, ids.memberProject)
	}
	if got, err := projects.Get(ctx, member, ids.memberProject).Extract(); err != nil || got.ID != ids.memberProject {
		t.Errorf("member gets own project: %+v, %v", got, err)
	}
	// Another project, or one that does not exist, is refused before it
	// is looked up: 403 either way.
	for _, id := range []string{p.ID, "nope"} {
		_, err = projects.Get(ctx, member, id).Extract()
		wantKeystoneError(t, err, 403, "identity:get_project")
	}
	_, err = projects.Get(ctx, admin, "nope").Extract()
	wantKeystoneError(t, err, 404, "Could not find project: nope.")

	var pw [12]byte
	_, _ = rand.Read(pw[:])
	password := hex.EncodeToString(pw[:])
	uname := e.Name("openstrap-test-user")
	u, err := users.Create(ctx, admin, users.CreateOpts{Name: uname, Password: password, DomainID: "default", DefaultProjectID: p.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = users.Delete(ctx, admin, u.ID).ExtractErr() })
	if u.Name != uname || u.DomainID != "default" || u.DefaultProjectID != p.ID || !u.Enabled {
		t.Errorf("created user: %+v", u)
	}
	_, err = users.Create(ctx, admin, users.CreateOpts{Name: uname, Password: password, DomainID: "default"}).Extract()
	wantKeystoneError(t, err, 409, "Duplicate entry found with name "+uname+" at domain ID default.")
	_, err = users.List(member, users.ListOpts{}).AllPages(ctx)
	wantKeystoneError(t, err, 403, "identity:list_users")
	_, err = users.Get(ctx, member, ids.adminUser).Extract()
	wantKeystoneError(t, err, 403, "identity:get_user")

	userAuth := func(scope *gophercloud.AuthScope) (*gophercloud.ProviderClient, error) {
		return authAt(t, authURL, gophercloud.AuthOptions{Username: uname, Password: password, DomainID: "default", Scope: scope})
	}
	// Without a role on its default project, the user gets an unscoped
	// token, and none scoped to the project.
	pc, err := userAuth(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pc.GetAuthResult().(tokens.CreateResult).ExtractProject(); got != nil {
		t.Errorf("token of a user without roles is scoped to %+v", got)
	}
	_, err = userAuth(&gophercloud.AuthScope{ProjectID: p.ID})
	wantKeystoneError(t, err, 401, msgUnauthenticated)

	page, err := roles.List(admin, roles.ListOpts{Name: "member"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rl, _ := roles.ExtractRoles(page)
	if len(rl) != 1 || rl[0].Name != "member" {
		t.Fatalf("roles named member: %+v", rl)
	}
	memberRole := rl[0].ID
	if err := roles.Assign(ctx, admin, memberRole, roles.AssignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	err = roles.Assign(ctx, admin, "nope", roles.AssignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr()
	wantKeystoneError(t, err, 404, "Could not find role: nope.")
	err = roles.Assign(ctx, member, memberRole, roles.AssignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr()
	wantKeystoneError(t, err, 403, "identity:create_grant")
	page, err = roles.ListAssignments(admin, roles.ListAssignmentsOpts{UserID: u.ID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ra, _ := roles.ExtractRoleAssignments(page)
	if len(ra) != 1 || ra[0].Role.ID != memberRole || ra[0].Scope.Project.ID != p.ID || ra[0].User.ID != u.ID {
		t.Errorf("assignments of the user: %+v", ra)
	}

	// Now the user's token is scoped to the default project, with the
	// role member implies.
	pc, err = userAuth(nil)
	if err != nil {
		t.Fatal(err)
	}
	res := pc.GetAuthResult().(tokens.CreateResult)
	gotP, _ := res.ExtractProject()
	rr, _ := res.ExtractRoles()
	if gotP == nil || gotP.ID != p.ID || !cmp.Equal(sortedRoles(rr), []string{"member", "reader"}) {
		t.Errorf("user's token: project %+v roles %v", gotP, sortedRoles(rr))
	}
	uc, err := openstack.NewIdentityV3(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if self, err := users.Get(ctx, uc, u.ID).Extract(); err != nil || self.DefaultProjectID != p.ID {
		t.Errorf("user reads self: %+v, %v", self, err)
	}
	userToken := pc.Token()

	// Taking the role away revokes the user's tokens on the project.
	if err := roles.Unassign(ctx, admin, memberRole, roles.UnassignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	err = roles.Unassign(ctx, admin, memberRole, roles.UnassignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr()
	wantKeystoneError(t, err, 404, "Could not find role assignment with role: "+memberRole)
	if ok, err := tokens.Validate(ctx, admin, userToken); ok || err != nil {
		t.Errorf("token after its role was taken away: valid %v, %v", ok, err)
	}

	if err := users.Delete(ctx, admin, u.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	err = users.Delete(ctx, admin, u.ID).ExtractErr()
	wantKeystoneError(t, err, 404, "Could not find user: "+u.ID+".")
	_, err = users.Get(ctx, admin, u.ID).Extract()
	wantKeystoneError(t, err, 404, "Could not find user: "+u.ID+".")

	err = projects.Delete(ctx, member, p.ID).ExtractErr()
	wantKeystoneError(t, err, 403, "identity:delete_project")
	if err := projects.Delete(ctx, admin, p.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	_, err = projects.Get(ctx, admin, p.ID).Extract()
	wantKeystoneError(t, err, 404, "Could not find project: "+p.ID+".")
	err = projects.Delete(ctx, admin, p.ID).ExtractErr()
	wantKeystoneError(t, err, 404, "Could not find project: "+p.ID+".")

	page, err = roles.List(admin, roles.ListOpts{Name: "load-balancer_member"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := roles.ExtractRoles(page); len(l) != 1 {
		t.Errorf("roles named load-balancer_member: %+v", l)
	}
}
