package tools

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name    string
		wantPkg string
		wantErr error
	}{
		{name: KubeAPIServer, wantPkg: "k8s.io/kubernetes/cmd/kube-apiserver"},
		{name: KubeControllerManager, wantPkg: "k8s.io/kubernetes/cmd/kube-controller-manager"},
		{name: Kubeadm, wantPkg: "k8s.io/kubernetes/cmd/kubeadm"},
		{name: Kubectl, wantPkg: "k8s.io/kubernetes/cmd/kubectl"},
		{name: Etcd, wantPkg: "go.etcd.io/etcd/server/v3"},
		{name: Clusterctl, wantPkg: "sigs.k8s.io/cluster-api/cmd/clusterctl"},
		{name: Kubelet, wantPkg: "k8s.io/kubernetes/cmd/kubelet"},
		{name: KubeScheduler, wantPkg: "k8s.io/kubernetes/cmd/kube-scheduler"},
		{name: KubeProxy, wantPkg: "k8s.io/kubernetes/cmd/kube-proxy"},
		{name: Crictl, wantPkg: "sigs.k8s.io/cri-tools/cmd/crictl"},
		{name: CoreDNS, wantPkg: "github.com/coredns/coredns"},
		{name: Pause, wantPkg: ""}, // C, built with gcc
		{name: "kube-foo", wantErr: ErrUnknownTool},
		{name: "", wantErr: ErrUnknownTool},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookup(tt.name)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("lookup(%q) error = %v, want %v", tt.name, err, tt.wantErr)
			}
			if got.pkg != tt.wantPkg {
				t.Errorf("lookup(%q).pkg = %q, want %q", tt.name, got.pkg, tt.wantPkg)
			}
		})
	}
}

func TestPathUnknownToolBuildsNothing(t *testing.T) {
	t.Setenv(EnvToolsDir, t.TempDir())
	_, err := Path(t.Context(), "kube-foo")
	if !errors.Is(err, ErrUnknownTool) {
		t.Fatalf("Path error = %v, want ErrUnknownTool", err)
	}
	for _, name := range toolNames {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
}

// TestToolHashesAreIndependent changes one wrapper module in a copy of the
// source: only the tools built from it get a new build hash, and Dir moves.
func TestToolHashesAreIndependent(t *testing.T) {
	t.Setenv(EnvToolsDir, t.TempDir())
	src, err := sourceDir()
	if err != nil {
		t.Fatal(err)
	}
	cp := t.TempDir()
	for _, m := range moduleNames() {
		if err := os.MkdirAll(filepath.Join(cp, m), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"go.mod", "go.sum"} {
			b, err := os.ReadFile(filepath.Join(src, m, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cp, m, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	hashes := func(src string) map[string]string {
		t.Helper()
		m := map[string]string{}
		for _, name := range toolNames {
			tl, err := lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if m[name], err = toolHash(src, name, tl); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	before := hashes(cp)
	if diff := cmp.Diff(hashes(src), before); diff != "" {
		t.Fatalf("hashes depend on the source's location (-orig +copy):\n%s", diff)
	}
	view1, err := viewDir(cp)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(cp, "crictl", "go.mod"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("// changed\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	after := hashes(cp)
	for _, name := range toolNames {
		if changed := before[name] != after[name]; changed != (name == Crictl) {
			t.Errorf("%s: hash changed = %v after editing the crictl module", name, changed)
		}
	}
	// Pause shares the kubernetes module but not the Kubernetes binaries' hash.
	if after[Pause] == after[Kubelet] {
		t.Errorf("pause and kubelet share hash %s", after[Pause])
	}
	view2, err := viewDir(cp)
	if err != nil {
		t.Fatal(err)
	}
	if view1 == view2 {
		t.Errorf("Dir %s did not change with the crictl module", view1)
	}
}

// TestKubeadmImages checks KubeadmImages (and so PauseVersion,
// CoreDNSVersion, EtcdImageTag) against what the built kubeadm names.
func TestKubeadmImages(t *testing.T) {
	kubeadm, err := Path(t.Context(), Kubeadm)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), kubeadm, "config", "images", "list",
		"--kubernetes-version", KubernetesVersion).Output()
	if err != nil {
		t.Fatalf("kubeadm config images list: %v: %s", err, out)
	}
	got := strings.Fields(string(out))
	if diff := cmp.Diff(KubeadmImages(), got); diff != "" {
		t.Errorf("images kubeadm %s expects differ from KubeadmImages (-consts +kubeadm):\n%s", KubernetesVersion, diff)
	}
}

// TestNodeToolsVersions builds each node tool and checks the version it
// reports. The first run builds coredns and crictl cold (minutes).
func TestNodeToolsVersions(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{Kubelet, []string{"--version"}, "Kubernetes " + KubernetesVersion},
		{KubeScheduler, []string{"--version"}, "Kubernetes " + KubernetesVersion},
		{KubeProxy, []string{"--version"}, "Kubernetes " + KubernetesVersion},
		{Crictl, []string{"--version"}, "crictl version " + CrictlVersion},
		{CoreDNS, []string{"-version"}, "CoreDNS-" + strings.TrimPrefix(CoreDNSVersion, "v")},
		{Pause, []string{"-v"}, "pause.c v" + PauseVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			p, err := Path(t.Context(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Path(%s) took %v", tt.name, time.Since(start).Round(time.Millisecond))
			if filepath.Base(p) != tt.name {
				t.Errorf("Path = %s, want a file named %s", p, tt.name)
			}
			out, err := exec.CommandContext(t.Context(), p, tt.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v: %s", p, strings.Join(tt.args, " "), err, out)
			}
			if first, _, _ := strings.Cut(string(out), "\n"); strings.TrimSpace(first) != tt.want {
				t.Errorf("%s %s first line = %q, want %q (output %q)", tt.name, strings.Join(tt.args, " "), first, tt.want, out)
			}
		})
	}
}

// TestPauseIsStatic checks that the pause binary needs no dynamic loader
// (its image is FROM scratch).
func TestPauseIsStatic(t *testing.T) {
	p, err := Path(t.Context(), Pause)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: dynamically linked", p)
		}
	}
}

// TestPauseWithoutGCC: with no gcc on PATH, Pause fails saying what to
// install (and builds nothing).
func TestPauseWithoutGCC(t *testing.T) {
	t.Setenv(EnvToolsDir, t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := Path(t.Context(), Pause)
	if !errors.Is(err, ErrNoCCompiler) || !strings.Contains(err.Error(), "apt-get install gcc libc6-dev") {
		t.Fatalf("Path(Pause) without gcc: error = %v, want ErrNoCCompiler naming the packages", err)
	}
}

func TestDirFollowsEnvAndIsStable(t *testing.T) {
	base := t.TempDir()
	t.Setenv(EnvToolsDir, base)
	d1, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Errorf("Dir not stable: %q then %q", d1, d2)
	}
	if filepath.Dir(d1) != base {
		t.Errorf("Dir = %q, want a directory under %q", d1, base)
	}
	if fi, err := os.Stat(d1); err != nil || !fi.IsDir() {
		t.Errorf("Dir %q not created: %v", d1, err)
	}
}

func TestKubebuilderAssetsEnvWins(t *testing.T) {
	t.Setenv(EnvToolsDir, t.TempDir())
	want := t.TempDir()
	t.Setenv(EnvKubebuilderAssets, want)
	got, err := KubebuilderAssets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("KubebuilderAssets = %q, want %q", got, want)
	}
	// Nothing may have been built into the cache.
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("tools dir not empty: %v", entries)
	}
}

func TestLockFileIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held: error = %v, want deadline exceeded", err)
	}
	unlock()
	unlock2, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}

func TestClusterAPICRDPaths(t *testing.T) {
	dirs, err := ClusterAPICRDPaths(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range dirs {
		if !strings.Contains(d, "sigs.k8s.io/cluster-api@"+ClusterAPIVersion) {
			t.Errorf("CRD dir %q is not from cluster-api %s", d, ClusterAPIVersion)
		}
		files, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			got = append(got, filepath.Base(f))
		}
	}
	for _, want := range []string{
		"cluster.x-k8s.io_clusters.yaml",
		"cluster.x-k8s.io_machines.yaml",
		"bootstrap.cluster.x-k8s.io_kubeadmconfigs.yaml",
		"controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml",
		"clusterctl.cluster.x-k8s.io_providers.yaml",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("CRD files %v lack %s", got, want)
		}
	}
}

// TestPathBuildsOnceConcurrently builds etcd (the smallest tool) into a fresh
// cache directory from several goroutines at once: all get the same working
// binary, and a later call returns it without building.
func TestPathBuildsOnceConcurrently(t *testing.T) {
	t.Setenv(EnvToolsDir, t.TempDir())
	ctx := t.Context()
	const n = 3
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { paths[i], errs[i] = Path(ctx, Etcd) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Path #%d: %v", i, errs[i])
		}
	}
	if diff := cmp.Diff([]string{paths[0], paths[0], paths[0]}, paths); diff != "" {
		t.Errorf("paths differ (-want +got):\n%s", diff)
	}
	out, err := exec.Command(paths[0], "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "etcd Version: 3.") {
		t.Fatalf("%s --version: %v: %s", paths[0], err, out)
	}
	fi, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	again, err := Path(ctx, Etcd)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("cached Path took %v", took)
	}
	fi2, err := os.Stat(again)
	if err != nil {
		t.Fatal(err)
	}
	if again != paths[0] || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("cached Path rebuilt the binary: %q %v, first %q %v", again, fi2.ModTime(), paths[0], fi.ModTime())
	}
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(again), ".*.tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	inBuild, err := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(again)), "build", ".*.tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	leftovers = append(leftovers, inBuild...)
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
