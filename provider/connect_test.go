package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/applicationcredentials"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// connectEnv isolates a Connect test from the machine: an empty HOME, a
// fresh working directory and no OS_* variables. It returns the temp dir.
// Call it after newConnectCloud, which reads $OS_CLOUD.
func connectEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_CONFIG_HOME", "")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OS_") {
			t.Setenv(k, "")
		}
	}
	cwd := filepath.Join(dir, "cwd")
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)
	return dir
}

func connectCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// connectCloud is the test cloud (simulator or real) as Connect tests see
// it: the credentials of its member and admin users and their projects.
type connectCloud struct {
	env           *cloudtest.Env
	member, admin provider.Auth
	memberProject string
	adminProject  string
	memberUser    string

	mu      sync.Mutex
	secrets []string
}

// newConnectCloud reads the test cloud's credentials; call it before
// connectEnv clears $OS_CLOUD.
func newConnectCloud(t *testing.T) *connectCloud {
	t.Helper()
	e := cloudtest.New(t)
	ctx := connectCtx(t)
	cc := &connectCloud{env: e, member: e.Auth(false), admin: e.Auth(true)}
	m, a := e.Cloud(ctx), e.AdminCloud(ctx)
	cc.memberProject, cc.adminProject = m.ProjectID, a.ProjectID
	u, err := m.Provider.GetAuthResult().(tokens.CreateResult).ExtractUser()
	if err != nil {
		t.Fatal(err)
	}
	cc.memberUser = u.ID
	cc.secrets = []string{cc.member.Password, cc.admin.Password, "wrong-secret-xyz"}
	return cc
}

// cloudsYAML is a clouds.yaml with openstacktest.CloudName (the member)
// and openstacktest.AdminCloudName (the admin) on the test cloud, without
// passwords when noPassword is set.
func (cc *connectCloud) cloudsYAML(noPassword bool) string {
	entry := func(name string, a provider.Auth) string {
		pw := "      password: " + a.Password + "\n"
		if noPassword {
			pw = ""
		}
		return fmt.Sprintf("  %s:\n    auth:\n      auth_url: %s\n      username: %s\n%s      project_name: %s\n"+
			"      user_domain_name: %s\n      project_domain_name: %s\n    region_name: %s\n    interface: public\n    identity_api_version: 3\n",
			name, a.AuthURL, a.Username, pw, a.ProjectName, a.UserDomainName, a.ProjectDomainName, openstacktest.Region)
	}
	return "clouds:\n" + entry(openstacktest.CloudName, cc.member) + entry(openstacktest.AdminCloudName, cc.admin)
}

// newAppCred creates an application credential of the member user, deleted
// when the test ends; its secret joins the strings no error may hold.
func (cc *connectCloud) newAppCred(t *testing.T) *applicationcredentials.ApplicationCredential {
	t.Helper()
	ctx := connectCtx(t)
	idc, err := openstack.NewIdentityV3(cc.env.Cloud(ctx).Provider, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := applicationcredentials.Create(ctx, idc, cc.memberUser,
		applicationcredentials.CreateOpts{Name: cc.env.Name("ci-" + strings.ReplaceAll(t.Name(), "/", "-"))}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := applicationcredentials.Delete(ctx, idc, cc.memberUser, ac.ID).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, 404) {
			t.Errorf("delete application credential %s: %v", ac.ID, err)
		}
	})
	cc.mu.Lock()
	cc.secrets = append(cc.secrets, ac.Secret)
	cc.mu.Unlock()
	return ac
}

// checkNoSecret fails the test if text holds a password or secret of the
// test cloud.
func (cc *connectCloud) checkNoSecret(t *testing.T, what, text string) {
	t.Helper()
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for _, s := range cc.secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s leaks a secret: %s", what, strings.ReplaceAll(text, s, "<SECRET>"))
		}
	}
}

func (cc *connectCloud) checkErrNoSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		cc.checkNoSecret(t, "error", err.Error()+fmt.Sprintf(" %+v %#v", err, err))
	}
}

func TestConnectSources(t *testing.T) {
	cc := newConnectCloud(t)
	cloudsYAML := cc.cloudsYAML(false)
	tests := []struct {
		name        string
		setup       func(t *testing.T, dir string) []provider.Option
		wantCloud   string
		wantProject string
	}{
		{"explicit options", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(cc.member), provider.WithRegion(openstacktest.Region)}
		}, "", cc.memberProject},
		{"OS_CLOUD and OS_CLIENT_CONFIG_FILE", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			t.Setenv("OS_CLIENT_CONFIG_FILE", writeFile(t, filepath.Join(dir, "elsewhere", "my.yaml"), cloudsYAML))
			return nil
		}, openstacktest.CloudName, cc.memberProject},
		{"OS_CLOUD and ./clouds.yaml", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.AdminCloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			return nil
		}, openstacktest.AdminCloudName, cc.adminProject},
		{"OS_CLOUD and ~/.config/openstack/clouds.yaml", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "home", ".config", "openstack", "clouds.yaml"), cloudsYAML)
			return nil
		}, openstacktest.CloudName, cc.memberProject},
		{"./clouds.yaml wins over ~/.config", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			writeFile(t, filepath.Join(dir, "home", ".config", "openstack", "clouds.yaml"), "not: [valid")
			return nil
		}, openstacktest.CloudName, cc.memberProject},
		{"WithCloud and WithCloudsYAML", func(t *testing.T, dir string) []provider.Option {
			p := writeFile(t, filepath.Join(dir, "x", "c.yaml"), cloudsYAML)
			return []provider.Option{provider.WithCloud(openstacktest.AdminCloudName), provider.WithCloudsYAML(p)}
		}, openstacktest.AdminCloudName, cc.adminProject},
		{"WithCloud and WithCloudsYAMLData: no file is read", func(t *testing.T, dir string) []provider.Option {
			// Files that would break a search of the usual places.
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), "not: [valid")
			writeFile(t, filepath.Join(dir, "cwd", "secure.yaml"), "not: [valid")
			t.Setenv("OS_CLIENT_CONFIG_FILE", filepath.Join(dir, "missing.yaml"))
			return []provider.Option{provider.WithCloud(openstacktest.CloudName), provider.WithCloudsYAMLData([]byte(cloudsYAML))}
		}, openstacktest.CloudName, cc.memberProject},
		{"secure.yaml merged", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cc.cloudsYAML(true))
			writeFile(t, filepath.Join(dir, "cwd", "secure.yaml"), "clouds:\n  "+openstacktest.CloudName+":\n    auth:\n      password: "+cc.member.Password+"\n")
			return nil
		}, openstacktest.CloudName, cc.memberProject},
		{"OS_* variables", func(t *testing.T, dir string) []provider.Option {
			for k, v := range map[string]string{"OS_AUTH_URL": cc.admin.AuthURL, "OS_USERNAME": cc.admin.Username,
				"OS_PASSWORD": cc.admin.Password, "OS_PROJECT_NAME": cc.admin.ProjectName,
				"OS_USER_DOMAIN_NAME": cc.admin.UserDomainName, "OS_PROJECT_DOMAIN_ID": "default", "OS_REGION_NAME": openstacktest.Region,
				"OS_INTERFACE": "internal"} {
				t.Setenv(k, v)
			}
			return nil
		}, "", cc.adminProject},
		{"explicit options win over OS_CLOUD", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			return []provider.Option{provider.WithAuth(cc.admin)}
		}, "", cc.adminProject},
		{"OS_CLOUD wins over OS_*", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			t.Setenv("OS_AUTH_URL", "http://127.0.0.1:1/v3")
			t.Setenv("OS_USERNAME", "someone-else")
			return nil
		}, openstacktest.CloudName, cc.memberProject},
		{"application credential in clouds.yaml", func(t *testing.T, dir string) []provider.Option {
			ac := cc.newAppCred(t)
			t.Setenv("OS_CLOUD", "ci")
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), fmt.Sprintf(`clouds:
  ci:
    auth_type: v3applicationcredential
    auth:
      auth_url: %s
      application_credential_id: %s
      application_credential_secret: %s
    region_name: RegionOne
`, cc.member.AuthURL, ac.ID, ac.Secret))
			return nil
		}, "ci", cc.memberProject},
		{"user without a project: the default project", func(t *testing.T, dir string) []provider.Option {
			a := cc.member
			a.ProjectName = ""
			return []provider.Option{provider.WithAuth(a)}
		}, "", cc.memberProject},
		{"internal interface", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(cc.member), provider.WithInterface("internal")}
		}, "", cc.memberProject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := connectEnv(t)
			opts := tt.setup(t, dir)
			ctx := connectCtx(t)
			c, err := provider.Connect(ctx, opts...)
			if err != nil {
				cc.checkErrNoSecret(t, err)
				t.Fatal(err)
			}
			if c.Name != tt.wantCloud || c.ProjectID != tt.wantProject || c.Region != openstacktest.Region {
				t.Errorf("cloud %q project %q region %q, want %q %q %q", c.Name, c.ProjectID, c.Region, tt.wantCloud, tt.wantProject, openstacktest.Region)
			}
			if c.Compute == nil || c.Network == nil || c.Image == nil || c.LoadBalancer == nil {
				t.Fatalf("missing service client: %+v", c)
			}
			if s := cc.env.Sim(); s != nil {
				if !strings.HasPrefix(c.Compute.Endpoint, s.URL+"/compute/v2.1/") || c.BlockStorage == nil ||
					c.BlockStorage.Endpoint != s.URL+"/volume/v3/"+tt.wantProject+"/" {
					t.Errorf("endpoints: compute %s, volume %+v", c.Compute.Endpoint, c.BlockStorage)
				}
			} else if cc.env.LocalStack() && (c.BlockStorage == nil || !strings.HasSuffix(c.BlockStorage.Endpoint, ":8776/v3/"+c.ProjectID+"/")) {
				// realstack's catalog has Cinder at :8776/v3/%(project_id)s.
				t.Errorf("Cinder endpoint: %+v", c.BlockStorage)
			}
			if _, err := flavors.Get(ctx, c.Compute, "1").Extract(); err != nil {
				t.Errorf("use the compute client: %v", err)
			}
		})
	}
}

// hangingServer accepts connections and answers nothing until the client
// gives up.
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so that the server notices the client hang up
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(done) })
	return hs
}

func TestConnectCancelled(t *testing.T) {
	cc := newConnectCloud(t)
	connectEnv(t)
	a := cc.member
	a.AuthURL = hangingServer(t).URL + "/v3"
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := provider.Connect(ctx, provider.WithAuth(a))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Connect with a hanging Keystone: %v after %v", err, time.Since(start))
	}
	cc.checkErrNoSecret(t, err)
}

func TestConnectErrors(t *testing.T) {
	cc := newConnectCloud(t)
	cloudsYAML := cc.cloudsYAML(false)
	user := fmt.Sprintf("user %q", cc.member.Username)
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) []provider.Option
		is    error
		want  []string
	}{
		{"no credentials", func(t *testing.T, dir string) []provider.Option { return nil },
			provider.ErrCloudConfig, []string{"no credentials", "OS_CLOUD", "OS_AUTH_URL"}},
		{"no clouds.yaml", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", "mycloud")
			return nil
		}, provider.ErrCloudConfig, []string{`cloud "mycloud"`, "no clouds.yaml found", "$DIR/cwd/clouds.yaml",
			"$DIR/home/.config/openstack/clouds.yaml", "/etc/openstack/clouds.yaml"}},
		{"WithCloudsYAML missing file", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithCloud("x"), provider.WithCloudsYAML(filepath.Join(dir, "nope.yaml"))}
		}, provider.ErrCloudConfig, []string{"$DIR/nope.yaml"}},
		{"malformed clouds.yaml", func(t *testing.T, dir string) []provider.Option {
			p := writeFile(t, filepath.Join(dir, "bad.yaml"), "clouds:\n  x: [unclosed\n")
			return []provider.Option{provider.WithCloud("x"), provider.WithCloudsYAML(p)}
		}, provider.ErrCloudConfig, []string{"$DIR/bad.yaml", "is not a valid clouds.yaml"}},
		{"no clouds section", func(t *testing.T, dir string) []provider.Option {
			p := writeFile(t, filepath.Join(dir, "empty.yaml"), "foo: bar\n")
			return []provider.Option{provider.WithCloud("x"), provider.WithCloudsYAML(p)}
		}, provider.ErrCloudConfig, []string{"$DIR/empty.yaml", `no "clouds" section`}},
		{"unknown cloud", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", "prod")
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			return nil
		}, provider.ErrCloudConfig, []string{`cloud "prod" is not in`, "it has: openstacktest, openstacktest-admin"}},
		{"WithCloudsYAMLData: unknown cloud", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithCloud("prod"), provider.WithCloudsYAMLData([]byte(cloudsYAML))}
		}, provider.ErrCloudConfig, []string{`cloud "prod" is not in clouds.yaml (in memory)`, "it has: openstacktest, openstacktest-admin"}},
		{"WithCloudsYAMLData: malformed", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithCloud("x"), provider.WithCloudsYAMLData([]byte("clouds:\n  x: [unclosed\n"))}
		}, provider.ErrCloudConfig, []string{"clouds.yaml (in memory) is not a valid clouds.yaml"}},
		{"WithCloudsYAMLData: wrong password", func(t *testing.T, dir string) []provider.Option {
			bad := strings.ReplaceAll(cloudsYAML, cc.member.Password, "wrong-secret-xyz")
			return []provider.Option{provider.WithCloud(openstacktest.CloudName), provider.WithCloudsYAMLData([]byte(bad))}
		}, provider.ErrAuthentication, []string{`cloud "openstacktest"`, user, "401"}},
		{"WithCACertData: not PEM", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(cc.member), provider.WithCACertData([]byte("not a certificate"))}
		}, provider.ErrCloudConfig, []string{"CA certificate data holds no PEM certificate"}},
		{"malformed secure.yaml", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			writeFile(t, filepath.Join(dir, "cwd", "secure.yaml"), "clouds: [\n")
			return nil
		}, provider.ErrCloudConfig, []string{"$DIR/cwd/secure.yaml", "not a valid secure.yaml"}},
		{"wrong password", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), strings.ReplaceAll(cloudsYAML, cc.member.Password, "wrong-secret-xyz"))
			return nil
		}, provider.ErrAuthentication, []string{`cloud "openstacktest"`, user, "401", "check the user name, password"}},
		{"no password anywhere", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cc.cloudsYAML(true))
			return nil
		}, provider.ErrCloudConfig, []string{`cloud "openstacktest"`, user + " has no password", "secure.yaml"}},
		{"wrong application credential secret", func(t *testing.T, dir string) []provider.Option {
			ac := cc.newAppCred(t)
			return []provider.Option{provider.WithAuth(provider.Auth{AuthURL: cc.member.AuthURL,
				ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: "wrong-secret-xyz"})}
		}, provider.ErrAuthentication, []string{"explicit options", "application credential ", "401"}},
		// Keystone answers an unknown application credential with 404.
		{"unknown application credential", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(provider.Auth{AuthURL: cc.member.AuthURL,
				ApplicationCredentialID: "abc", ApplicationCredentialSecret: "wrong-secret-xyz"})}
		}, provider.ErrAuthentication, []string{"explicit options", "application credential abc", "404", "does not know the application credential"}},
		{"wrong OS_PASSWORD", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_AUTH_URL", cc.member.AuthURL)
			t.Setenv("OS_USERNAME", cc.member.Username)
			t.Setenv("OS_PASSWORD", "wrong-secret-xyz")
			t.Setenv("OS_PROJECT_NAME", cc.member.ProjectName)
			return nil
		}, provider.ErrAuthentication, []string{"OS_* environment variables", user}},
		{"unknown region", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(cc.member), provider.WithRegion("Mars")}
		}, provider.ErrCloudConfig, []string{"no compute endpoint for Mars"}},
		// The admin user has no default project, so without a project its
		// token is unscoped and has no catalog.
		{"unscoped token", func(t *testing.T, dir string) []provider.Option {
			a := cc.admin
			a.ProjectName = ""
			return []provider.Option{provider.WithAuth(a)}
		}, provider.ErrCloudConfig, []string{"no compute endpoint", "scoped to a project"}},
		{"bad interface", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithInterface("sideways")}
		}, provider.ErrCloudConfig, []string{`"sideways" is not public, internal or admin`}},
		{"missing CA file", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(cc.member), provider.WithCACert(filepath.Join(dir, "ca.pem"))}
		}, provider.ErrCloudConfig, []string{"CA certificate", "$DIR/ca.pem"}},
		{"CA file without PEM", func(t *testing.T, dir string) []provider.Option {
			p := writeFile(t, filepath.Join(dir, "ca.pem"), "hello")
			return []provider.Option{provider.WithAuth(cc.member), provider.WithCACert(p)}
		}, provider.ErrCloudConfig, []string{"$DIR/ca.pem", "holds no PEM certificate"}},
		{"unreachable auth URL", func(t *testing.T, dir string) []provider.Option {
			a := cc.member
			a.AuthURL = "http://127.0.0.1:1/v3"
			return []provider.Option{provider.WithAuth(a)}
		}, nil, []string{"explicit options: authenticate at http://127.0.0.1:1/v3", "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := connectEnv(t)
			opts := tt.setup(t, dir)
			c, err := provider.Connect(connectCtx(t), opts...)
			if err == nil {
				t.Fatalf("connected: %+v", c)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "$DIR", dir)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			cc.checkErrNoSecret(t, err)
		})
	}
}

// authProxy is a reverse proxy to the test cloud's Keystone (a real
// component: httputil's proxy, in front of the simulator or the real
// service); modify may rewrite its answers. It returns the proxy's auth URL
// for a.
func authProxy(t *testing.T, a provider.Auth, tls bool, modify func(*http.Response) error) (*httptest.Server, string) {
	t.Helper()
	u, err := url.Parse(a.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	proxy.ModifyResponse = modify
	ps := httptest.NewUnstartedServer(proxy)
	if tls {
		ps.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
		ps.StartTLS()
	} else {
		ps.Start()
	}
	t.Cleanup(ps.Close)
	return ps, ps.URL + u.Path
}

// TestConnectCatalogWithoutOptionalServices checks that a cloud without
// Octavia and Cinder gives nil clients for them.
func TestConnectCatalogWithoutOptionalServices(t *testing.T) {
	cc := newConnectCloud(t)
	_, authURL := authProxy(t, cc.member, false, func(resp *http.Response) error {
		if resp.Request.Method != http.MethodPost || !strings.HasSuffix(resp.Request.URL.Path, "/auth/tokens") {
			return nil
		}
		var body map[string]map[string]any
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &body); err != nil {
			return err
		}
		var keep []any
		for _, e := range body["token"]["catalog"].([]any) {
			if typ := e.(map[string]any)["type"]; typ != "load-balancer" && typ != "volumev3" {
				keep = append(keep, e)
			}
		}
		body["token"]["catalog"] = keep
		b, _ = json.Marshal(body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		return nil
	})
	connectEnv(t)
	a := cc.member
	a.AuthURL = authURL
	c, err := provider.Connect(connectCtx(t), provider.WithAuth(a))
	if err != nil {
		t.Fatal(err)
	}
	if c.LoadBalancer != nil || c.BlockStorage != nil || c.Compute == nil || c.Network == nil || c.Image == nil {
		t.Errorf("clients: lb %v, volume %v, compute %v", c.LoadBalancer, c.BlockStorage, c.Compute)
	}
}

// TestConnectTLS reaches Keystone through a TLS-terminating proxy with a
// certificate of its own: untrusted by default, trusted with its CA (as
// an option or clouds.yaml's cacert) or with verification off.
func TestConnectTLS(t *testing.T) {
	cc := newConnectCloud(t)
	ts, authURL := authProxy(t, cc.member, true, nil)
	dir := connectEnv(t)
	ca := writeFile(t, filepath.Join(dir, "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})))
	a := cc.member
	a.AuthURL = authURL
	ctx := connectCtx(t)

	_, err := provider.Connect(ctx, provider.WithAuth(a))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted TLS server: %v", err)
	}
	cc.checkErrNoSecret(t, err)
	if c, err := provider.Connect(ctx, provider.WithAuth(a), provider.WithCACert(ca)); err != nil || c.ProjectID != cc.memberProject {
		t.Errorf("with CA: %v", err)
	}
	if _, err := provider.Connect(ctx, provider.WithAuth(a), provider.WithInsecure(true)); err != nil {
		t.Errorf("insecure: %v", err)
	}
	// clouds.yaml's cacert is honoured too.
	yaml := strings.ReplaceAll(cc.cloudsYAML(false), "auth_url: "+cc.member.AuthURL+"\n", "auth_url: "+authURL+"\n")
	yaml = strings.ReplaceAll(yaml, "    region_name:", "    cacert: "+ca+"\n    region_name:")
	p := writeFile(t, filepath.Join(dir, "clouds.yaml"), yaml)
	if _, err := provider.Connect(ctx, provider.WithCloudsYAML(p), provider.WithCloud(openstacktest.CloudName)); err != nil {
		t.Errorf("clouds.yaml cacert: %v", err)
	}
	if _, err := provider.Connect(ctx, provider.WithCloudsYAML(p), provider.WithCloud(openstacktest.AdminCloudName)); err != nil {
		t.Errorf("clouds.yaml cacert (admin): %v", err)
	}
}

// requestLog records the requests of a client.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// tokenRequests counts the token requests so far.
func (l *requestLog) tokenRequests() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if strings.HasPrefix(r, "POST ") && strings.HasSuffix(r, "/auth/tokens") {
			n++
		}
	}
	return n
}

func TestConnectHTTPClientLoggerAndReauth(t *testing.T) {
	cc := newConnectCloud(t)
	ctx := connectCtx(t)
	adminIdc, err := openstack.NewIdentityV3(cc.env.AdminCloud(ctx).Provider, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	tr := &requestLog{}
	var c *provider.Cloud
	t.Run("connect, log, authenticate again after revocation", func(t *testing.T) {
		connectEnv(t)
		var mu sync.Mutex
		var logs []string
		logger := funcr.New(func(prefix, args string) {
			mu.Lock()
			logs = append(logs, prefix+" "+args)
			mu.Unlock()
		}, funcr.Options{Verbosity: 1})
		c, err = provider.Connect(ctx, provider.WithAuth(cc.member), provider.WithHTTPClient(&http.Client{Transport: tr}), provider.WithLogger(logger))
		if err != nil {
			t.Fatal(err)
		}
		if tr.tokenRequests() != 1 {
			t.Errorf("the custom HTTP client carried %d token requests, want 1", tr.tokenRequests())
		}
		mu.Lock()
		joined := strings.Join(logs, "\n")
		mu.Unlock()
		if !strings.Contains(joined, `"connected"`) || !strings.Contains(joined, cc.memberProject) {
			t.Errorf("logs: %s", joined)
		}
		cc.checkNoSecret(t, "logs", joined)
		cc.checkNoSecret(t, "Auth printed", fmt.Sprintf("%v %+v %#v %s", cc.member, cc.member, cc.member, cc.member))

		// The admin revokes the token before the client first uses it at
		// Nova (a service caches a token it has validated, for minutes);
		// the client then authenticates again, once.
		old := c.Provider.Token()
		if err := tokens.Revoke(ctx, adminIdc, old).Err; err != nil {
			t.Fatalf("revoke the client's token: %v", err)
		}
		if _, err := flavors.Get(ctx, c.Compute, "1").Extract(); err != nil {
			t.Fatalf("after the token was revoked: %v", err)
		}
		if got := tr.tokenRequests(); got != 2 {
			t.Errorf("token requests after revocation = %d, want 2 in all", got)
		}
		if c.Provider.Token() == old {
			t.Error("the client still holds the revoked token")
		}
	})
	// Tokens expire only after hours on a real cloud; the simulator
	// expires them on demand.
	t.Run("token expiry", func(t *testing.T) {
		cloudtest.RequireSim(t, cloudtest.NeedsSimFeature)
		if c == nil {
			t.Fatal("not connected")
		}
		before := tr.tokenRequests()
		cc.env.Sim().ExpireTokens()
		if _, err := flavors.Get(ctx, c.Compute, "1").Extract(); err != nil {
			t.Fatalf("after token expiry: %v", err)
		}
		if got := tr.tokenRequests() - before; got != 1 {
			t.Errorf("token requests after expiry = %d, want 1", got)
		}
	})
}
