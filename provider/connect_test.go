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
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/applicationcredentials"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// connectEnv isolates a Connect test from the machine: an empty HOME, a
// fresh working directory and no OS_* variables. It returns the temp dir.
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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

// withoutPassword is the simulator's clouds.yaml with its passwords taken
// out, for secure.yaml tests.
func withoutPassword(yaml []byte) string {
	var out []string
	for _, l := range strings.Split(string(yaml), "\n") {
		if !strings.Contains(l, "password:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// secrets are the strings no error may contain.
var secrets = []string{openstacktest.MemberPassword, openstacktest.AdminPassword, "wrong-secret-xyz"}

func checkNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	// The admin cloud's name happens to equal the admin test password.
	msg := strings.ReplaceAll(err.Error()+fmt.Sprintf(" %+v", err), openstacktest.AdminCloudName, "")
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error leaks a secret: %v", err)
		}
	}
}

func TestConnectSources(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	cloudsYAML := string(s.CloudsYAML())
	tests := []struct {
		name        string
		setup       func(t *testing.T, dir string) []provider.Option
		wantCloud   string
		wantProject string
	}{
		{"explicit options", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(s.Auth()), provider.WithRegion(openstacktest.Region)}
		}, "", openstacktest.MemberProjectID},
		{"OS_CLOUD and OS_CLIENT_CONFIG_FILE", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			t.Setenv("OS_CLIENT_CONFIG_FILE", writeFile(t, filepath.Join(dir, "elsewhere", "my.yaml"), cloudsYAML))
			return nil
		}, openstacktest.CloudName, openstacktest.MemberProjectID},
		{"OS_CLOUD and ./clouds.yaml", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.AdminCloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			return nil
		}, openstacktest.AdminCloudName, openstacktest.AdminProjectID},
		{"OS_CLOUD and ~/.config/openstack/clouds.yaml", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "home", ".config", "openstack", "clouds.yaml"), cloudsYAML)
			return nil
		}, openstacktest.CloudName, openstacktest.MemberProjectID},
		{"./clouds.yaml wins over ~/.config", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			writeFile(t, filepath.Join(dir, "home", ".config", "openstack", "clouds.yaml"), "not: [valid")
			return nil
		}, openstacktest.CloudName, openstacktest.MemberProjectID},
		{"WithCloud and WithCloudsYAML", func(t *testing.T, dir string) []provider.Option {
			p := writeFile(t, filepath.Join(dir, "x", "c.yaml"), cloudsYAML)
			return []provider.Option{provider.WithCloud(openstacktest.AdminCloudName), provider.WithCloudsYAML(p)}
		}, openstacktest.AdminCloudName, openstacktest.AdminProjectID},
		{"secure.yaml merged", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), withoutPassword(s.CloudsYAML()))
			writeFile(t, filepath.Join(dir, "cwd", "secure.yaml"), "clouds:\n  openstacktest:\n    auth:\n      password: "+openstacktest.MemberPassword+"\n")
			return nil
		}, openstacktest.CloudName, openstacktest.MemberProjectID},
		{"OS_* variables", func(t *testing.T, dir string) []provider.Option {
			for k, v := range map[string]string{"OS_AUTH_URL": s.URL + "/identity/v3", "OS_USERNAME": openstacktest.AdminUser,
				"OS_PASSWORD": openstacktest.AdminPassword, "OS_PROJECT_NAME": openstacktest.AdminProject,
				"OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_ID": "default", "OS_REGION_NAME": openstacktest.Region,
				"OS_INTERFACE": "internal"} {
				t.Setenv(k, v)
			}
			return nil
		}, "", openstacktest.AdminProjectID},
		{"explicit options win over OS_CLOUD", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			return []provider.Option{provider.WithAuth(s.AdminAuth())}
		}, "", openstacktest.AdminProjectID},
		{"OS_CLOUD wins over OS_*", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			t.Setenv("OS_AUTH_URL", "http://127.0.0.1:1/identity/v3")
			t.Setenv("OS_USERNAME", "someone-else")
			return nil
		}, openstacktest.CloudName, openstacktest.MemberProjectID},
		{"application credential in clouds.yaml", func(t *testing.T, dir string) []provider.Option {
			ac := newAppCred(t, s)
			t.Setenv("OS_CLOUD", "ci")
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), fmt.Sprintf(`clouds:
  ci:
    auth_type: v3applicationcredential
    auth:
      auth_url: %s/identity/v3
      application_credential_id: %s
      application_credential_secret: %s
    region_name: RegionOne
`, s.URL, ac.ID, ac.Secret))
			return nil
		}, "ci", openstacktest.MemberProjectID},
		{"internal interface", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(s.Auth()), provider.WithInterface("internal")}
		}, "", openstacktest.MemberProjectID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := connectEnv(t)
			opts := tt.setup(t, dir)
			ctx := connectCtx(t)
			c, err := provider.Connect(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != tt.wantCloud || c.ProjectID != tt.wantProject || c.Region != openstacktest.Region {
				t.Errorf("cloud %q project %q region %q, want %q %q %q", c.Name, c.ProjectID, c.Region, tt.wantCloud, tt.wantProject, openstacktest.Region)
			}
			if c.Compute == nil || c.Network == nil || c.Image == nil || c.LoadBalancer == nil || c.BlockStorage == nil {
				t.Fatalf("missing service client: %+v", c)
			}
			if !strings.HasPrefix(c.Compute.Endpoint, s.URL+"/compute/v2.1/") ||
				c.BlockStorage.Endpoint != s.URL+"/volume/v3/"+tt.wantProject+"/" {
				t.Errorf("endpoints: compute %s, volume %s", c.Compute.Endpoint, c.BlockStorage.Endpoint)
			}
			if _, err := flavors.Get(ctx, c.Compute, "1").Extract(); err != nil {
				t.Errorf("use the compute client: %v", err)
			}
		})
	}
}

// newAppCred creates an application credential of the member user.
func newAppCred(t *testing.T, s *openstacktest.Server) *applicationcredentials.ApplicationCredential {
	t.Helper()
	ctx := connectCtx(t)
	c, err := s.Cloud(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idc, err := openstack.NewIdentityV3(c.Provider, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := applicationcredentials.Create(ctx, idc, openstacktest.MemberUserID,
		applicationcredentials.CreateOpts{Name: "ci-" + strings.ReplaceAll(t.Name(), "/", "-")}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return ac
}

func TestConnectCancelled(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	connectEnv(t)
	s.InjectFault(openstacktest.Fault{Path: "^/identity/", Action: openstacktest.Hang})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := provider.Connect(ctx, provider.WithAuth(s.Auth()))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Connect with a hanging Keystone: %v after %v", err, time.Since(start))
	}
	checkNoSecret(t, err)
}

func TestConnectErrors(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	cloudsYAML := string(s.CloudsYAML())
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
		{"malformed secure.yaml", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), cloudsYAML)
			writeFile(t, filepath.Join(dir, "cwd", "secure.yaml"), "clouds: [\n")
			return nil
		}, provider.ErrCloudConfig, []string{"$DIR/cwd/secure.yaml", "not a valid secure.yaml"}},
		{"wrong password", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), strings.ReplaceAll(cloudsYAML, openstacktest.MemberPassword, "wrong-secret-xyz"))
			return nil
		}, provider.ErrAuthentication, []string{`cloud "openstacktest"`, `user "demo"`, "401", "check the user name, password"}},
		{"no password anywhere", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_CLOUD", openstacktest.CloudName)
			writeFile(t, filepath.Join(dir, "cwd", "clouds.yaml"), withoutPassword(s.CloudsYAML()))
			return nil
		}, provider.ErrCloudConfig, []string{`cloud "openstacktest"`, `user "demo" has no password`, "secure.yaml"}},
		{"wrong application credential secret", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(provider.Auth{AuthURL: s.URL + "/identity/v3",
				ApplicationCredentialID: "abc", ApplicationCredentialSecret: "wrong-secret-xyz"})}
		}, provider.ErrAuthentication, []string{"explicit options", "application credential abc", "401"}},
		{"wrong OS_PASSWORD", func(t *testing.T, dir string) []provider.Option {
			t.Setenv("OS_AUTH_URL", s.URL+"/identity/v3")
			t.Setenv("OS_USERNAME", openstacktest.MemberUser)
			t.Setenv("OS_PASSWORD", "wrong-secret-xyz")
			t.Setenv("OS_PROJECT_NAME", openstacktest.MemberProject)
			return nil
		}, provider.ErrAuthentication, []string{"OS_* environment variables", `user "demo"`}},
		{"unknown region", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(s.Auth()), provider.WithRegion("Mars")}
		}, provider.ErrCloudConfig, []string{"no compute endpoint for Mars"}},
		{"unscoped token", func(t *testing.T, dir string) []provider.Option {
			a := s.Auth()
			a.ProjectName = ""
			return []provider.Option{provider.WithAuth(a)}
		}, provider.ErrCloudConfig, []string{"no compute endpoint", "scoped to a project"}},
		{"bad interface", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithInterface("sideways")}
		}, provider.ErrCloudConfig, []string{`"sideways" is not public, internal or admin`}},
		{"missing CA file", func(t *testing.T, dir string) []provider.Option {
			return []provider.Option{provider.WithAuth(s.Auth()), provider.WithCACert(filepath.Join(dir, "ca.pem"))}
		}, provider.ErrCloudConfig, []string{"CA certificate", "$DIR/ca.pem"}},
		{"CA file without PEM", func(t *testing.T, dir string) []provider.Option {
			p := writeFile(t, filepath.Join(dir, "ca.pem"), "hello")
			return []provider.Option{provider.WithAuth(s.Auth()), provider.WithCACert(p)}
		}, provider.ErrCloudConfig, []string{"$DIR/ca.pem", "holds no PEM certificate"}},
		{"unreachable auth URL", func(t *testing.T, dir string) []provider.Option {
			a := s.Auth()
			a.AuthURL = "http://127.0.0.1:1/identity/v3"
			return []provider.Option{provider.WithAuth(a)}
		}, nil, []string{"explicit options: authenticate at http://127.0.0.1:1/identity/v3", "connection refused"}},
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
			checkNoSecret(t, err)
		})
	}
}

// TestConnectCatalogWithoutOptionalServices checks that a cloud without
// Octavia and Cinder gives nil clients for them.
func TestConnectCatalogWithoutOptionalServices(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	target, _ := url.Parse(s.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
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
	}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	connectEnv(t)
	a := s.Auth()
	a.AuthURL = ps.URL + "/identity/v3"
	c, err := provider.Connect(connectCtx(t), provider.WithAuth(a))
	if err != nil {
		t.Fatal(err)
	}
	if c.LoadBalancer != nil || c.BlockStorage != nil || c.Compute == nil || c.Network == nil || c.Image == nil {
		t.Errorf("clients: lb %v, volume %v, compute %v", c.LoadBalancer, c.BlockStorage, c.Compute)
	}
}

func TestConnectTLS(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	target, _ := url.Parse(s.URL)
	ts := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	ts.StartTLS()
	t.Cleanup(ts.Close)
	dir := connectEnv(t)
	ca := writeFile(t, filepath.Join(dir, "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})))
	a := s.Auth()
	a.AuthURL = ts.URL + "/identity/v3"
	ctx := connectCtx(t)

	if _, err := provider.Connect(ctx, provider.WithAuth(a)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted TLS server: %v", err)
	}
	if _, err := provider.Connect(ctx, provider.WithAuth(a), provider.WithCACert(ca)); err != nil {
		t.Errorf("with CA: %v", err)
	}
	if _, err := provider.Connect(ctx, provider.WithAuth(a), provider.WithInsecure(true)); err != nil {
		t.Errorf("insecure: %v", err)
	}
	// clouds.yaml's cacert is honoured too.
	yaml := strings.ReplaceAll(string(s.CloudsYAML()), s.URL+"/identity/v3", ts.URL+"/identity/v3")
	yaml = strings.ReplaceAll(yaml, "    region_name:", "    cacert: "+ca+"\n    region_name:")
	p := writeFile(t, filepath.Join(dir, "clouds.yaml"), yaml)
	if _, err := provider.Connect(ctx, provider.WithCloudsYAML(p), provider.WithCloud(openstacktest.CloudName)); err != nil {
		t.Errorf("clouds.yaml cacert: %v", err)
	}
}

// countingTransport counts requests.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestConnectHTTPClientLoggerAndReauth(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	connectEnv(t)
	ctx := connectCtx(t)
	tr := &countingTransport{}
	var logs []string
	log := funcr.New(func(prefix, args string) { logs = append(logs, prefix+" "+args) }, funcr.Options{Verbosity: 1})
	c, err := provider.Connect(ctx, provider.WithAuth(s.Auth()), provider.WithHTTPClient(&http.Client{Transport: tr}), provider.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	if tr.n.Load() == 0 {
		t.Error("the custom HTTP client was not used")
	}
	joined := strings.Join(logs, "\n")
	if !strings.Contains(joined, `"connected"`) || !strings.Contains(joined, openstacktest.MemberProjectID) {
		t.Errorf("logs: %s", joined)
	}
	for _, sec := range secrets {
		if strings.Contains(joined, sec) {
			t.Errorf("logs leak a secret: %s", joined)
		}
	}
	if str := fmt.Sprintf("%v %+v %#v", s.Auth(), s.Auth(), s.Auth()); strings.Contains(str, openstacktest.MemberPassword) {
		t.Errorf("Auth prints its password: %s", str)
	}

	// The token is renewed when it expires.
	s.ResetCalls()
	s.ExpireTokens()
	if _, err := flavors.Get(ctx, c.Compute, "1").Extract(); err != nil {
		t.Fatalf("after token expiry: %v", err)
	}
	if got := s.Calls()["POST /identity/v3/auth/tokens"]; got != 1 {
		t.Errorf("token requests after expiry = %d, want 1", got)
	}
}
