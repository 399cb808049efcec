package openstacktest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
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

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// authenticate gets a token with ao against s and returns the provider
// client or the error.
func authenticate(t *testing.T, s *openstacktest.Server, ao gophercloud.AuthOptions) (*gophercloud.ProviderClient, error) {
	t.Helper()
	ao.IdentityEndpoint = s.URL + "/identity/v3"
	return openstack.AuthenticatedClient(testContext(t), ao)
}

func TestKeystoneAuthMethods(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	tests := []struct {
		name    string
		ao      gophercloud.AuthOptions
		project string
		roles   []string
	}{
		{"user and project by name", gophercloud.AuthOptions{Username: openstacktest.MemberUser, Password: openstacktest.MemberPassword,
			DomainName: openstacktest.DomainName, Scope: &gophercloud.AuthScope{ProjectName: openstacktest.MemberProject, DomainID: openstacktest.DomainID}},
			openstacktest.MemberProjectID, []string{"member", "reader", "load-balancer_member"}},
		{"user and project by ID", gophercloud.AuthOptions{UserID: openstacktest.AdminUserID, Password: openstacktest.AdminPassword,
			Scope: &gophercloud.AuthScope{ProjectID: openstacktest.AdminProjectID}},
			openstacktest.AdminProjectID, []string{"admin", "member", "reader"}},
		{"unscoped", gophercloud.AuthOptions{Username: openstacktest.MemberUser, Password: openstacktest.MemberPassword, DomainID: "default"},
			"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := authenticate(t, s, tt.ao)
			if err != nil {
				t.Fatal(err)
			}
			res := pc.GetAuthResult().(tokens.CreateResult)
			if res.Header.Get("X-Subject-Token") == "" || pc.Token() != res.Header.Get("X-Subject-Token") {
				t.Errorf("X-Subject-Token %q, client token %q", res.Header.Get("X-Subject-Token"), pc.Token())
			}
			tok, err := res.ExtractToken()
			if err != nil || tok.ExpiresAt.IsZero() {
				t.Errorf("token: %+v, %v", tok, err)
			}
			var roles []string
			rr, _ := res.ExtractRoles()
			for _, r := range rr {
				roles = append(roles, r.Name)
			}
			if diff := cmp.Diff(tt.roles, roles); diff != "" {
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
			types := map[string][]string{}
			for _, e := range cat.Entries {
				for _, ep := range e.Endpoints {
					types[e.Type] = append(types[e.Type], ep.Interface+" "+ep.Region+" "+strings.TrimPrefix(ep.URL, s.URL))
				}
			}
			want := map[string][]string{
				"identity":      {"public RegionOne /identity/v3/", "internal RegionOne /identity/v3/"},
				"compute":       {"public RegionOne /compute/v2.1/", "internal RegionOne /compute/v2.1/"},
				"network":       {"public RegionOne /network/", "internal RegionOne /network/"},
				"load-balancer": {"public RegionOne /load-balancer/", "internal RegionOne /load-balancer/"},
				"image":         {"public RegionOne /image/", "internal RegionOne /image/"},
				"volumev3": {"public RegionOne /volume/v3/" + tt.project + "/",
					"internal RegionOne /volume/v3/" + tt.project + "/"},
			}
			if diff := cmp.Diff(want, types); diff != "" {
				t.Errorf("catalog (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeystoneErrors(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	tests := []struct {
		name   string
		ao     gophercloud.AuthOptions
		status int
	}{
		{"wrong password", gophercloud.AuthOptions{Username: openstacktest.MemberUser, Password: "wrong", DomainID: "default"}, 401},
		{"unknown user", gophercloud.AuthOptions{Username: "nobody", Password: "x", DomainID: "default"}, 401},
		{"wrong domain", gophercloud.AuthOptions{Username: openstacktest.MemberUser, Password: openstacktest.MemberPassword, DomainName: "Other"}, 401},
		{"project without role", gophercloud.AuthOptions{Username: openstacktest.MemberUser, Password: openstacktest.MemberPassword,
			DomainID: "default", Scope: &gophercloud.AuthScope{ProjectID: openstacktest.AdminProjectID}}, 401},
		{"unknown project", gophercloud.AuthOptions{Username: openstacktest.MemberUser, Password: openstacktest.MemberPassword,
			DomainID: "default", Scope: &gophercloud.AuthScope{ProjectName: "nope", DomainID: "default"}}, 401},
		{"wrong app credential secret", gophercloud.AuthOptions{ApplicationCredentialID: "abc", ApplicationCredentialSecret: "x"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := authenticate(t, s, tt.ao)
			var code gophercloud.ErrUnexpectedResponseCode
			if !errors.As(err, &code) || code.Actual != tt.status {
				t.Fatalf("error %v, want status %d", err, tt.status)
			}
			var body struct {
				Error struct {
					Code    int    `json:"code"`
					Title   string `json:"title"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(code.Body, &body); err != nil || body.Error.Code != tt.status || body.Error.Title != "Unauthorized" || body.Error.Message == "" {
				t.Errorf("body %s: %v", code.Body, err)
			}
			if strings.Contains(string(code.Body), openstacktest.MemberPassword) {
				t.Error("error body holds the password")
			}
		})
	}

	// Service APIs refuse a missing or bad token with 401.
	for _, tokenID := range []string{"", "gAAAAAbogus"} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/compute/v2.1/flavors", nil)
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
	for _, path := range []string{"/identity/", "/identity/v3", "/compute/", "/image/", "/volume/"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 300 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
}

func TestKeystoneTokenValidationAndExpiry(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	idc := identityClient(t, c)
	res := tokens.Get(ctx, idc, c.Provider.Token())
	if u, err := res.ExtractUser(); err != nil || u.ID != openstacktest.MemberUserID {
		t.Errorf("validate own token: %+v, %v", u, err)
	}
	if ok, err := tokens.Validate(ctx, idc, "gAAAAAnope"); ok || err != nil {
		t.Errorf("validate bogus token: %v, %v", ok, err)
	}

	// After every token expires, the client authenticates again.
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
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	idc := identityClient(t, c)
	ac, err := applicationcredentials.Create(ctx, idc, openstacktest.MemberUserID, applicationcredentials.CreateOpts{
		Name: "ci", Roles: []applicationcredentials.Role{{Name: "member"}}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if ac.Secret == "" || ac.ProjectID != openstacktest.MemberProjectID || len(ac.Roles) != 1 {
		t.Fatalf("created: %+v", ac)
	}
	got, err := applicationcredentials.Get(ctx, idc, openstacktest.MemberUserID, ac.ID).Extract()
	if err != nil || got.Secret != "" || got.Name != "ci" {
		t.Errorf("get shows %+v (secret must not be shown again), %v", got, err)
	}
	if _, err := applicationcredentials.Create(ctx, idc, openstacktest.MemberUserID, applicationcredentials.CreateOpts{Name: "ci"}).Extract(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Errorf("duplicate name: %v, want 409", err)
	}
	if _, err := applicationcredentials.Create(ctx, idc, openstacktest.MemberUserID, applicationcredentials.CreateOpts{
		Name: "x", Roles: []applicationcredentials.Role{{Name: "admin"}}}).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("role the user lacks: %v, want 403", err)
	}

	for name, ao := range map[string]gophercloud.AuthOptions{
		"by ID":   {ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret},
		"by name": {ApplicationCredentialName: "ci", Username: openstacktest.MemberUser, DomainName: openstacktest.DomainName, ApplicationCredentialSecret: ac.Secret},
	} {
		pc, err := authenticate(t, s, ao)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res := pc.GetAuthResult().(tokens.CreateResult)
		p, _ := res.ExtractProject()
		roles, _ := res.ExtractRoles()
		if p == nil || p.ID != openstacktest.MemberProjectID || len(roles) != 1 || roles[0].Name != "member" {
			t.Errorf("%s: project %+v roles %+v", name, p, roles)
		}
	}
	acCloud, err := provider.Connect(ctx, provider.WithAuth(provider.Auth{AuthURL: s.URL + "/identity/v3",
		ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret}))
	if err != nil {
		t.Fatal(err)
	}
	if err := applicationcredentials.Delete(ctx, idc, openstacktest.MemberUserID, ac.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// Tokens from a deleted credential stop working, and so does the
	// credential.
	acCloud.Provider.ReauthFunc = nil
	if _, err := flavors.Get(ctx, acCloud.Compute, "1").Extract(); !gophercloud.ResponseCodeIs(err, 401) {
		t.Errorf("token of a deleted credential: %v, want 401", err)
	}
	if _, err := authenticate(t, s, gophercloud.AuthOptions{ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret}); !gophercloud.ResponseCodeIs(err, 401) {
		t.Errorf("deleted credential: %v, want 401", err)
	}
	if _, err := applicationcredentials.Get(ctx, idc, openstacktest.MemberUserID, ac.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("get deleted: %v", err)
	}
	// A member cannot manage another user's credentials.
	if _, err := applicationcredentials.Create(ctx, idc, openstacktest.AdminUserID, applicationcredentials.CreateOpts{Name: "x"}).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("create for another user: %v, want 403", err)
	}
}

func TestKeystoneProjectsUsersRoles(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	member := identityClient(t, memberCloud(t, s))
	admin := identityClient(t, adminCloud(t, s))
	names := func(c *gophercloud.ServiceClient, opts projects.ListOpts) ([]string, error) {
		page, err := projects.List(c, opts).AllPages(ctx)
		if err != nil {
			return nil, err
		}
		list, err := projects.ExtractProjects(page)
		var out []string
		for _, p := range list {
			out = append(out, p.Name)
		}
		return out, err
	}
	if got, err := names(admin, projects.ListOpts{}); err != nil || !cmp.Equal(got, []string{openstacktest.AdminProject, openstacktest.MemberProject}) {
		t.Errorf("admin lists projects: %v, %v", got, err)
	}
	if got, err := names(admin, projects.ListOpts{Name: openstacktest.MemberProject}); err != nil || len(got) != 1 {
		t.Errorf("by name: %v, %v", got, err)
	}
	if _, err := names(member, projects.ListOpts{}); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("member lists projects: %v, want 403", err)
	}
	page, err := projects.ListAvailable(member).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := projects.ExtractProjects(page); len(l) != 1 || l[0].ID != openstacktest.MemberProjectID {
		t.Errorf("member's available projects: %+v", l)
	}
	if p, err := projects.Get(ctx, member, openstacktest.MemberProjectID).Extract(); err != nil || p.Name != openstacktest.MemberProject {
		t.Errorf("get own project: %+v, %v", p, err)
	}
	if _, err := projects.Get(ctx, admin, "nope").Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("unknown project: %v", err)
	}
	if u, err := users.Get(ctx, member, openstacktest.MemberUserID).Extract(); err != nil || u.Name != openstacktest.MemberUser {
		t.Errorf("get self: %+v, %v", u, err)
	}
	if _, err := users.Get(ctx, member, openstacktest.AdminUserID).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("member gets admin user: %v, want 403", err)
	}
	page, err = roles.List(admin, roles.ListOpts{Name: "load-balancer_member"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := roles.ExtractRoles(page); len(l) != 1 {
		t.Errorf("roles: %+v", l)
	}
}
