package realstack

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDirAndCloudsFile(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		dir, cloud string
	}{
		{"default", nil, DefaultDir, DefaultDir + "/clouds.yaml"},
		{"moved", map[string]string{DirEnv: "/tmp/rs"}, "/tmp/rs", "/tmp/rs/clouds.yaml"},
		{"empty means default", map[string]string{DirEnv: ""}, DefaultDir, DefaultDir + "/clouds.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Dir(env(tt.env)); got != tt.dir {
				t.Errorf("Dir = %q, want %q", got, tt.dir)
			}
			if got := CloudsFile(env(tt.env)); got != tt.cloud {
				t.Errorf("CloudsFile = %q, want %q", got, tt.cloud)
			}
		})
	}
}

func TestSelected(t *testing.T) {
	tests := []struct {
		cloud string
		want  bool
	}{
		{"", false},
		{MemberCloud, true},
		{AdminCloud, true},
		{openstacktest.CloudName, false},
		{"production", false},
	}
	for _, tt := range tests {
		if got := Selected(env(map[string]string{"OS_CLOUD": tt.cloud})); got != tt.want {
			t.Errorf("Selected(OS_CLOUD=%q) = %v, want %v", tt.cloud, got, tt.want)
		}
	}
}

func TestGaps(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range Gaps() {
		if !regexp.MustCompile(`^[a-z][a-z0-9-]*$`).MatchString(g.Name) {
			t.Errorf("gap name %q is not a short lower-case key", g.Name)
		}
		if len(g.Reason) < 20 {
			t.Errorf("gap %q: reason %q says too little", g.Name, g.Reason)
		}
		if seen[g.Name] {
			t.Errorf("gap %q listed twice", g.Name)
		}
		seen[g.Name] = true
		if got, ok := GapByName(g.Name); !ok || got != g {
			t.Errorf("GapByName(%q) = %v, %v", g.Name, got, ok)
		}
	}
	if _, ok := GapByName("no-such-gap"); ok {
		t.Error("GapByName found a gap that is not listed")
	}
	gs := Gaps()
	gs[0].Name = "changed"
	if Gaps()[0].Name == "changed" {
		t.Error("Gaps shares its slice between calls")
	}
}

// The seed must make the same things the simulator's fresh cloud has, and
// this package's constants must say what seed.py does.
func TestSeedMatchesSimulatorAndConstants(t *testing.T) {
	src, err := os.ReadFile("seed.py")
	if err != nil {
		t.Fatal(err)
	}
	seed := string(src)
	for _, want := range []string{
		`MEMBER_PROJECT = "` + openstacktest.MemberProject + `"`,
		`MEMBER_USER = "` + openstacktest.MemberUser + `"`,
		`EXTERNAL_NETWORK = "` + openstacktest.ExternalNetwork + `"`,
		`IMAGE_NAME = "` + openstacktest.ImageName + `"`,
		`EXTERNAL_NETWORK = "` + ExternalNetwork + `"`,
		`IMAGE_NAME = "` + ImageName + `"`,
		`EXTERNAL_CIDR = "` + FloatingIPCIDR + `"`,
		`REGION = "` + openstacktest.Region + `"`,
		`MEMBER_ROLES = ("member", "load-balancer_member")`,
	} {
		if !strings.Contains(seed, want) {
			t.Errorf("seed.py lacks %s", want)
		}
	}
	var flavors []string
	for _, m := range regexp.MustCompile(`\("\d+", "(m1\.[a-z]+)"`).FindAllStringSubmatch(seed, -1) {
		flavors = append(flavors, m[1])
	}
	if diff := cmp.Diff(Flavors(), flavors); diff != "" {
		t.Errorf("flavors in seed.py (-Flavors +seed.py):\n%s", diff)
	}
}

func TestClouds(t *testing.T) {
	src, err := os.ReadFile("realstack.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  " + MemberCloud + ":\n", "  " + AdminCloud + ":\n",
		`STATE=${` + DirEnv + `:-` + DefaultDir + `}`, `$STATE/` + CloudsFileName} {
		if !strings.Contains(string(src), want) {
			t.Errorf("realstack.sh lacks %q", want)
		}
	}
}

func TestScriptsParse(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to check the scripts: %v", err)
	}
	for _, f := range []string{"realstack.sh", "smoke.sh"} {
		if out, err := exec.Command(bash, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", f, err, out)
		}
	}
}

func TestObservedRecords(t *testing.T) {
	files, err := filepath.Glob("testdata/observed/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("only %d observed records; smoke.sh writes more", len(files))
	}
	services := map[string]bool{"identity": true, "compute": true, "network": true, "load-balancer": true, "image": true, "volume": true}
	methods := map[string]bool{"GET": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var o Observed
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !methods[o.Request.Method] || !services[o.Request.Service] || !strings.HasPrefix(o.Request.Path, "/") {
			t.Errorf("%s: bad request %s %s %s", f, o.Request.Method, o.Request.Service, o.Request.Path)
		}
		if o.Response.Status < 200 || o.Response.Status > 599 {
			t.Errorf("%s: status %d", f, o.Response.Status)
		}
		// No credentials: no token header, no password in a request body.
		low := strings.ToLower(string(raw))
		if strings.Contains(low, "x-auth-token") || strings.Contains(low, "x-subject-token") {
			t.Errorf("%s holds a token header", f)
		}
		if strings.Contains(string(o.Request.Body), `"password":`) {
			t.Errorf("%s holds a password", f)
		}
	}
}
