package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"golang.org/x/crypto/ssh"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/internal/simhost"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestParseFlagsValidates runs each flag's bad values through parseFlags and
// validate (preflight's checks of the flags alone): the error must name the
// flag and the value; good values must pass.
func TestParseFlagsValidates(t *testing.T) {
	t.Setenv("OS_CLOUD", "")
	cloud := []string{"--cloud", "mycloud", "--image", "img", "--flavor", "fl", "--external-network", "ext"}
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error; none: must pass
	}{
		{name: "defaults", args: nil},
		{name: "kind", args: []string{"--bootstrap", "kind"}},
		{name: "kubeconfig", args: []string{"--bootstrap", "kubeconfig=/some/file"}},
		{name: "bootstrap docker", args: []string{"--bootstrap", "docker"}, want: []string{`--bootstrap "docker"`, "local", "kind", "kubeconfig=PATH"}},
		{name: "bootstrap kubeconfig without path", args: []string{"--bootstrap", "kubeconfig="}, want: []string{`--bootstrap "kubeconfig="`, "path"}},
		{name: "version without patch", args: []string{"--kubernetes-version", "1.37"}, want: []string{`--kubernetes-version "1.37"`, "vX.Y.Z", "v1.37.2"}},
		{name: "version without v", args: []string{"--kubernetes-version", "1.37.2"}, want: []string{`--kubernetes-version "1.37.2"`, "vX.Y.Z"}},
		{name: "version v-minor", args: []string{"--kubernetes-version", "v1.37"}, want: []string{`--kubernetes-version "v1.37"`, "vX.Y.Z"}},
		{name: "version the simulator lacks", args: []string{"--kubernetes-version", "v1.36.3"}, want: []string{`--kubernetes-version "v1.36.3"`, "simulated OpenStack", "v1.37.2 only"}},
		{name: "older version on a cloud", args: append([]string{"--kubernetes-version", "v1.36.3"}, cloud...)},
		{name: "too old on a cloud", args: append([]string{"--kubernetes-version", "v1.20.4"}, cloud...), want: []string{`--kubernetes-version "v1.20.4"`, "v1.22"}},
		{name: "name upper case", args: []string{"--name", "Demo_1"}, want: []string{`--name "Demo_1"`, "DNS-1123"}},
		{name: "name 41 characters", args: []string{"--name", strings.Repeat("a", 41)}, want: []string{"--name", "at most 40"}},
		{name: "name 40 characters", args: []string{"--name", strings.Repeat("a", 40)}},
		{name: "cidr not a CIDR", args: []string{"--node-cidr", "10.6.0.0"}, want: []string{`--node-cidr "10.6.0.0"`, "IPv4 network"}},
		{name: "cidr host bits", args: []string{"--node-cidr", "10.6.0.1/24"}, want: []string{`--node-cidr "10.6.0.1/24"`}},
		{name: "cidr IPv6", args: []string{"--node-cidr", "fd00::/64"}, want: []string{`--node-cidr "fd00::/64"`, "IPv4"}},
		{name: "cidr too small", args: []string{"--node-cidr", "10.6.0.0/30"}, want: []string{`--node-cidr "10.6.0.0/30"`, "/29"}},
		{name: "cidr pod network", args: []string{"--node-cidr", "10.244.3.0/24"}, want: []string{`--node-cidr "10.244.3.0/24"`, "10.244.0.0/16", "pods"}},
		{name: "cidr service network", args: []string{"--node-cidr", "10.100.0.0/24"}, want: []string{`--node-cidr "10.100.0.0/24"`, "10.96.0.0/12"}},
		{name: "cidr link-local", args: []string{"--node-cidr", "169.254.0.0/24"}, want: []string{"metadata"}},
		{name: "cidr loopback", args: []string{"--node-cidr", "127.42.0.0/24"}, want: []string{"loopback"}},
		{name: "cidr podman default", args: []string{"--node-cidr", "10.88.200.0/24"}, want: []string{`--node-cidr "10.88.200.0/24"`, "10.88.0.0/16", "podman"}},
		{name: "cidr podman default, process machines", args: []string{"--node-cidr", "10.88.200.0/24", "--machines", "processes"}},
		{name: "no control plane", args: []string{"--control-plane-count", "0"}, want: []string{`--control-plane-count "0"`, "at least 1"}},
		{name: "negative workers", args: []string{"--worker-count", "-1"}, want: []string{`--worker-count "-1"`}},
		{name: "no workers", args: []string{"--worker-count", "0"}},
		{name: "zero join timeout", args: []string{"--join-timeout", "0s"}, want: []string{`--join-timeout "0s"`, "positive"}},
		{name: "negative join timeout", args: []string{"--join-timeout", "-1m"}, want: []string{`--join-timeout "-1m0s"`}},
		{name: "machines", args: []string{"--machines", "vms"}, want: []string{`--machines "vms"`, "auto, containers or processes"}},
		{name: "cloud without image", args: []string{"--cloud", "mycloud"}, want: []string{"--image is required with --cloud \"mycloud\"", "--flavor is required", "--external-network is required"}},
		{name: "unexpected argument", args: []string{"extra"}, want: []string{"unexpected arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseAndValidate(tt.args)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("parseFlags(%q) = %v, want no error", tt.args, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseFlags(%q) accepted it, want an error with %q", tt.args, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("parseFlags(%q) = %q, want it to say %q", tt.args, err, w)
				}
			}
		})
	}
}

// TestParseFlagsReportsEveryProblem gives several bad flags at once: each is
// named in the one error.
func TestParseFlagsReportsEveryProblem(t *testing.T) {
	t.Setenv("OS_CLOUD", "")
	err := parseAndValidate([]string{"--bootstrap", "docker", "--kubernetes-version", "1.37", "--name", "X",
		"--node-cidr", "10.6.0.0", "--control-plane-count", "0", "--worker-count", "-2", "--join-timeout", "0s"})
	if err == nil {
		t.Fatal("parseFlags accepted seven bad flags")
	}
	for _, flag := range []string{"--bootstrap", "--kubernetes-version", "--name", "--node-cidr", "--control-plane-count", "--worker-count", "--join-timeout"} {
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("error does not name %s:\n%v", flag, err)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 7 {
		t.Errorf("error has %d lines, want one per flag (7):\n%v", n, err)
	}
}

func parseAndValidate(args []string) error {
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		return err
	}
	return cfg.validate()
}

// validConfig is a configuration that passes preflight on the simulator.
func validConfig(t *testing.T) *config {
	t.Helper()
	return &config{Name: "v", Dir: filepath.Join(t.TempDir(), "state"), KubernetesVersion: "v1.37.2", NodeCIDR: "10.6.0.0/24",
		ControlPlanes: 1, Workers: 2, Bootstrap: "local", JoinTimeout: time.Minute, Machines: machines.Processes,
		Out: io.Discard}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPreflightInputs checks what preflight reads: --addons manifests,
// --bootstrap's kubeconfig and container engine, --dir, and the simulator's
// catalogue and quota for --image, --flavor, --external-network, --ssh-key
// and the counts.
func TestPreflightInputs(t *testing.T) {
	files := t.TempDir()
	good := writeFile(t, files, "good.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${CLUSTER_NAME}-cm\ndata:\n  endpoint: ${API_ENDPOINT}\n---\n# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: addons\n")
	noKind := writeFile(t, files, "nokind.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nmetadata:\n  name: b\n")
	broken := writeFile(t, files, "broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n")
	missing := writeFile(t, files, "missing.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${OPENSTRAP_TEST_UNSET_VAR}\n")
	empty := writeFile(t, files, "empty.yaml", "# nothing\n")
	goodDir := t.TempDir()
	writeFile(t, goodDir, "a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
	writeFile(t, goodDir, "b.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")
	writeFile(t, goodDir, "notes.txt", "not a manifest")
	badDir := t.TempDir()
	writeFile(t, badDir, "a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
	writeFile(t, badDir, "b.yaml", "kind: ConfigMap\nmetadata:\n  name: b\n")
	writeFile(t, badDir, "c.yaml", "apiVersion: v1\nkind: [\n")
	emptyDir := t.TempDir()
	notKubeconfig := writeFile(t, files, "kubeconfig-garbage", "this: [is not\n")
	noContext := writeFile(t, files, "kubeconfig-nocontext", "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
	unreachable := writeFile(t, files, "kubeconfig-unreachable", `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
users:
- name: u
  user: {token: not-a-real-token}
`)
	aFile := writeFile(t, files, "a-file", "x")
	// A docker whose engine does not answer, and no other runtime.
	fakeBin := t.TempDir()
	writeFile(t, fakeBin, "docker", "#!/bin/sh\nif [ \"$1\" = -v ]; then echo 'Docker version 99.0.0, build fake'; exit 0; fi\necho 'Cannot connect to the Docker daemon' >&2; exit 1\n")
	if err := os.Chmod(filepath.Join(fakeBin, "docker"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		mutate func(c *config)
		path   string // PATH, when set
		want   []string
	}{
		{name: "valid", mutate: func(c *config) {}},
		{name: "addons file", mutate: func(c *config) { c.Addons = good }},
		{name: "addons directory", mutate: func(c *config) { c.Addons = goodDir }},
		{name: "addons nonexistent", mutate: func(c *config) { c.Addons = "/nonexistent" }, want: []string{`--addons "/nonexistent"`, "no such file", "give a YAML file"}},
		{name: "addons without kind", mutate: func(c *config) { c.Addons = noKind }, want: []string{"--addons", "nokind.yaml", "lacks apiVersion, kind or metadata.name"}},
		{name: "addons broken YAML", mutate: func(c *config) { c.Addons = broken }, want: []string{"--addons", "broken.yaml", "document 1"}},
		{name: "addons unset variable", mutate: func(c *config) { c.Addons = missing }, want: []string{"--addons", "OPENSTRAP_TEST_UNSET_VAR"}},
		{name: "addons no objects", mutate: func(c *config) { c.Addons = empty }, want: []string{"--addons", "no Kubernetes objects"}},
		{name: "addons directory, every bad file", mutate: func(c *config) { c.Addons = badDir }, want: []string{"b.yaml", "c.yaml"}},
		{name: "addons empty directory", mutate: func(c *config) { c.Addons = emptyDir }, want: []string{"--addons", "no .yaml or .yml files"}},
		{name: "kubeconfig nonexistent", mutate: func(c *config) { c.Bootstrap = "kubeconfig=/nonexistent/kubeconfig" }, want: []string{`--bootstrap "kubeconfig=/nonexistent/kubeconfig"`, "no such file"}},
		{name: "kubeconfig garbage", mutate: func(c *config) { c.Bootstrap = "kubeconfig=" + notKubeconfig }, want: []string{"--bootstrap", "is not a kubeconfig"}},
		{name: "kubeconfig without context", mutate: func(c *config) { c.Bootstrap = "kubeconfig=" + noContext }, want: []string{"--bootstrap", "usable cluster"}},
		{name: "kubeconfig unreachable", mutate: func(c *config) { c.Bootstrap = "kubeconfig=" + unreachable }, want: []string{"--bootstrap", "unreachable"}},
		{name: "kind without a container runtime", path: t.TempDir(), mutate: func(c *config) { c.Bootstrap = "kind" }, want: []string{`--bootstrap "kind"`, "none of docker, podman, nerdctl", "--bootstrap local"}},
		{name: "kind with docker down", path: fakeBin, mutate: func(c *config) { c.Bootstrap = "kind" }, want: []string{`--bootstrap "kind"`, "Cannot connect to the Docker daemon"}},
		{name: "dir is a file", mutate: func(c *config) { c.Dir = filepath.Join(aFile, "state") }, want: []string{"--dir", "is not a directory"}},
		{name: "simulator image flavor network key", mutate: func(c *config) {
			c.Image, c.Flavor, c.ExternalNetwork, c.SSHKey = "debian-13", "m1.huge", "internet", "mykey"
		}, want: []string{`--image "debian-13"`, openstacktest.ImageName, `--flavor "m1.huge"`, "m1.medium", `--external-network "internet"`, `use one of ` + openstacktest.ExternalNetwork, `--ssh-key "mykey"`}},
		{name: "simulator quota", mutate: func(c *config) { c.Flavor, c.Workers = "m1.xlarge", 40 }, want: []string{"--worker-count 40", "quota exceeded for 41 machines", "instances", "cores", "ram"}},
		{name: "all at once", mutate: func(c *config) {
			c.Bootstrap, c.KubernetesVersion, c.Addons = "docker", "1.37", "/nonexistent"
		}, want: []string{`--bootstrap "docker"`, `--kubernetes-version "1.37"`, `--addons "/nonexistent"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.path != "" {
				t.Setenv("PATH", tt.path)
				t.Setenv("KIND_EXPERIMENTAL_PROVIDER", "")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := validConfig(t)
			tt.mutate(cfg)
			err := preflight(ctx, cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("preflight = %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("preflight accepted it, want an error with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("preflight error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "not-a-real-token") {
				t.Errorf("preflight error shows the kubeconfig's token:\n%v", err)
			}
			if _, err := os.Stat(cfg.Dir); err == nil {
				t.Errorf("preflight made --dir %s", cfg.Dir)
			}
		})
	}
}

// badInputs are the three inputs users hit that failed late.
var badInputs = []struct {
	flag   string
	mutate func(c *config)
}{
	{"--bootstrap", func(c *config) { c.Bootstrap = "docker" }},
	{"--kubernetes-version", func(c *config) { c.KubernetesVersion = "1.37" }},
	{"--addons", func(c *config) { c.Addons = "/nonexistent" }},
}

// TestBadInputMakesNothing runs the command's run path on the simulator, for
// real and with --dry-run, with each bad input: it must fail naming the
// flag, and nothing may be made: no state directory (so no simulator process
// or its state, no bootstrap cluster's data), no simulator answering.
func TestBadInputMakesNothing(t *testing.T) {
	for _, dry := range []bool{false, true} {
		for _, in := range badInputs {
			name := in.flag
			if dry {
				name += " dry-run"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cfg := testConfig(t, filepath.Join(t.TempDir(), "state"), machines.Processes)
				cfg.Out = io.Discard
				cfg.DryRun = dry
				in.mutate(cfg)
				_, err := run(ctx, cfg)
				if err == nil || !strings.Contains(err.Error(), in.flag) {
					t.Fatalf("run = %v, want an error naming %s", err, in.flag)
				}
				if strings.Contains(err.Error(), "step ") {
					t.Errorf("run failed in a step, not before: %v", err)
				}
				if _, err := os.Stat(cfg.Dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("run made the state directory %s (stat: %v)", cfg.Dir, err)
				}
				if simhost.Running(ctx, filepath.Join(cfg.Dir, "cloud")) {
					t.Errorf("a simulator answers for %s", cfg.Dir)
				}
			})
		}
	}
}

// TestBadInputMakesNothingOnCloud runs the run path against a cloud named in
// clouds.yaml (internal/cloudtest: the simulator, or $OS_CLOUD's real cloud)
// with each bad input, for real and with --dry-run: the cloud's resources
// must be the same before and after, and no state directory made.
func TestBadInputMakesNothingOnCloud(t *testing.T) {
	env, cloudName := cloudEnv(t)
	for _, dry := range []bool{false, true} {
		for _, in := range badInputs {
			name := in.flag
			if dry {
				name += " dry-run"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), env.Timeout(2*time.Minute))
				defer cancel()
				cfg := testConfig(t, filepath.Join(t.TempDir(), "state"), machines.Processes)
				cfg.Name = env.Cluster("bad")
				cfg.Cloud, cfg.Image, cfg.Flavor, cfg.ExternalNetwork = cloudName, openstacktest.ImageName, simFlavor, openstacktest.ExternalNetwork
				cfg.Out = io.Discard
				cfg.DryRun = dry
				in.mutate(cfg)
				before := env.Snapshot(ctx)
				_, err := run(ctx, cfg)
				if err == nil || !strings.Contains(err.Error(), in.flag) {
					t.Fatalf("run = %v, want an error naming %s", err, in.flag)
				}
				if diff := cmp.Diff(before, env.Snapshot(ctx)); diff != "" {
					t.Errorf("the cloud changed (-before +after):\n%s", diff)
				}
				if _, err := os.Stat(cfg.Dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("run made the state directory %s (stat: %v)", cfg.Dir, err)
				}
			})
		}
	}
}

// cloudEnv is a cloudtest environment reachable through clouds.yaml, as
// --cloud needs it.
func cloudEnv(t *testing.T) (*cloudtest.Env, string) {
	t.Helper()
	env := cloudtest.New(t)
	if sim := env.Sim(); sim != nil {
		t.Setenv("OS_CLIENT_CONFIG_FILE", writeFile(t, t.TempDir(), "clouds.yaml", string(sim.CloudsYAML())))
	}
	return env, env.CloudName()
}

// TestPreflightOnCloud checks --cloud's own inputs against a cloud named in
// clouds.yaml: an unknown entry; unknown image, flavor and external network
// at once; a quota too small for the machines, read from the project.
func TestPreflightOnCloud(t *testing.T) {
	env, cloudName := cloudEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), env.Timeout(2*time.Minute))
	defer cancel()
	base := func() *config {
		c := validConfig(t)
		c.Name = env.Cluster("pre")
		c.Cloud, c.Image, c.Flavor, c.ExternalNetwork = cloudName, openstacktest.ImageName, simFlavor, openstacktest.ExternalNetwork
		return c
	}
	if env.IsReal() {
		t.Logf("on real cloud %q: the valid case needs %s, %s and %s there", cloudName, openstacktest.ImageName, simFlavor, openstacktest.ExternalNetwork)
	}
	if err := preflight(ctx, base()); err != nil && !env.IsReal() {
		t.Fatalf("preflight of a valid configuration = %v", err)
	}

	c := base()
	c.Cloud = "no-such-cloud"
	err := preflight(ctx, c)
	if err == nil || !strings.Contains(err.Error(), `--cloud "no-such-cloud"`) || !strings.Contains(err.Error(), cloudName) {
		t.Errorf("preflight with an unknown cloud = %v, want it to name --cloud and the entries there are", err)
	}

	c = base()
	c.Image, c.Flavor, c.ExternalNetwork = "no-such-image", "no-such-flavor", "no-such-network"
	err = preflight(ctx, c)
	for _, w := range []string{`--image "no-such-image"`, `--flavor "no-such-flavor"`, `--external-network "no-such-network"`, "cloud " + `"` + cloudName + `"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("preflight error lacks %q:\n%v", w, err)
		}
	}

	if env.IsReal() {
		return // the quota below is set with the simulator's admin
	}
	admin := env.AdminCloud(ctx)
	two := 2
	if _, err := quotasets.Update(ctx, admin.Compute, openstacktest.MemberProjectID, quotasets.UpdateOpts{Instances: &two}).Extract(); err != nil {
		t.Fatal(err)
	}
	c = base()
	err = preflight(ctx, c)
	var qe *provider.QuotaError
	if !errors.As(err, &qe) || len(qe.Shortages) != 1 || qe.Shortages[0] != (provider.QuotaShortage{Resource: "instances", Need: 3, InUse: 0, Limit: 2}) {
		t.Errorf("preflight with an instance quota of 2 for 3 machines = %v, want one instances shortage", err)
	}
	if err == nil || !strings.Contains(err.Error(), "--worker-count 2") {
		t.Errorf("quota error does not name the counts: %v", err)
	}
}

// TestPreflightAsksTheRunningSimulator resumes on a cluster whose simulator
// runs: preflight asks it, so a key pair the user added there is found (the
// in-memory catalogue has none), and its clouds.yaml is what it reads.
func TestPreflightAsksTheRunningSimulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := validConfig(t)
	cfg.SSHKey = "mykey"
	if err := preflight(ctx, cfg); err == nil || !strings.Contains(err.Error(), `--ssh-key "mykey": no such key pair on the simulated OpenStack`) {
		t.Fatalf("preflight before the simulator runs = %v, want the key pair missing from the catalogue", err)
	}
	simDir := filepath.Join(cfg.Dir, "cloud")
	t.Cleanup(func() {
		if err := simhost.StopAndRemove(context.Background(), simDir); err != nil {
			t.Logf("stop simulator: %v", err)
		}
	})
	clouds, err := simhost.Start(ctx, simDir, os.Args[0], append([]string{serveSimCommand}, simhost.ServeArgs(simDir, machines.Processes)...)...)
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := provider.Connect(ctx, provider.WithCloudsYAML(clouds), provider.WithCloud(simhost.CloudName))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keypairs.Create(ctx, cloud.Compute, keypairs.CreateOpts{Name: "mykey", PublicKey: string(ssh.MarshalAuthorizedKey(sshPub))}).Extract(); err != nil {
		t.Fatal(err)
	}
	if err := preflight(ctx, cfg); err != nil {
		t.Errorf("preflight with the key pair in the running simulator = %v", err)
	}
}
