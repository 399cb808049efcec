package tools

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
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
		{name: CoreDNS, wantPkg: "github.com/openstrap/openstrap/internal/tools/coredns/cmd/coredns"},
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
		copyTree(t, filepath.Join(src, m), filepath.Join(cp, m))
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

	// CoreDNS's plugin list is in the module's own main package.
	main := filepath.Join(cp, "coredns", "cmd", "coredns", "main.go")
	b, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, []byte(strings.Replace(string(b), `"whoami",`, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	again := hashes(cp)
	for _, name := range toolNames {
		if changed := after[name] != again[name]; changed != (name == CoreDNS) {
			t.Errorf("%s: hash changed = %v after editing coredns's main.go", name, changed)
		}
	}
}

// TestToolHashOfGoModOnlyModule pins the hash of a wrapper module holding
// only go.mod and go.sum to its form from before other files entered it, so
// existing builds of those tools stay valid.
func TestToolHashOfGoModOnlyModule(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "crictl"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"go.mod": "module example.com/m\n", "go.sum": "sum\n"}
	for f, c := range files {
		if err := os.WriteFile(filepath.Join(src, "crictl", f), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tl, err := lookup(Crictl)
	if err != nil {
		t.Fatal(err)
	}
	got, err := toolHash(src, Crictl, tl)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s/%s\n%s\n%s", recipe, runtime.GOOS, runtime.GOARCH, Crictl, tl.key())
	for _, f := range []string{"go.mod", "go.sum"} {
		fmt.Fprintf(h, "crictl/%s %d\n%s", f, len(files[f]), files[f])
	}
	if want := hex.EncodeToString(h.Sum(nil))[:12]; got != want {
		t.Errorf("toolHash = %s, want %s (the go.mod and go.sum only form)", got, want)
	}
}

// copyTree copies the regular files under from to to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(to, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
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

// coreDNSDirectives returns the directives list of the coredns wrapper
// module's main package (src is this package's directory).
func coreDNSDirectives(t *testing.T, src string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(src, "coredns", "cmd", "coredns", "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "directives" || len(vs.Values) != 1 {
			return true
		}
		for _, e := range vs.Values[0].(*ast.CompositeLit).Elts {
			lit := e.(*ast.BasicLit)
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return false
	})
	if len(out) == 0 {
		t.Fatal("no directives list in coredns/cmd/coredns/main.go")
	}
	return out
}

// TestCoreDNSDirectiveOrder checks that our CoreDNS main package orders its
// plugins as CoreDNS's own generated list does (the order matters: each
// plugin sees a query before those after it).
func TestCoreDNSDirectiveOrder(t *testing.T) {
	src, err := sourceDir()
	if err != nil {
		t.Fatal(err)
	}
	ours := coreDNSDirectives(t, src)
	dir, err := moduleDir(t.Context(), filepath.Join(src, "coredns"), "github.com/coredns/coredns")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "core", "dnsserver", "zdirectives.go"))
	if err != nil {
		t.Fatal(err)
	}
	var upstream []string
	for _, line := range strings.Split(string(b), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, `"`) && strings.HasSuffix(l, `",`) {
			upstream = append(upstream, strings.TrimSuffix(strings.TrimPrefix(l, `"`), `",`))
		}
	}
	i := 0
	for _, d := range ours {
		j := slices.Index(upstream[i:], d)
		if j < 0 {
			t.Fatalf("directive %q is not in CoreDNS's list or out of its order (ours %v, CoreDNS's %v)", d, ours, upstream)
		}
		i += j + 1
	}
}

// TestCoreDNSPlugins builds CoreDNS and checks that it links every plugin
// of kubeadm's default Corefile and of our directives list, and none of the
// cloud ones left out.
func TestCoreDNSPlugins(t *testing.T) {
	src, err := sourceDir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Path(t.Context(), CoreDNS)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), p, "-plugins").CombinedOutput()
	if err != nil {
		t.Fatalf("coredns -plugins: %v: %s", err, out)
	}
	linked := map[string]bool{} // -plugins prints one plugin name a line
	for _, f := range strings.Fields(string(out)) {
		linked[f] = true
	}
	// kubeadm v1.37's default Corefile, then what we add.
	want := []string{"errors", "health", "ready", "kubernetes", "prometheus", "forward", "cache", "loop",
		"reload", "loadbalance", "log", "whoami"}
	directives := coreDNSDirectives(t, src)
	for _, d := range append(want, directives...) {
		if !linked[d] {
			t.Errorf("coredns does not link plugin %s; -plugins: %q", d, out)
		}
	}
	// A linked plugin missing from the directives could not be configured.
	for p := range linked {
		if !slices.Contains(directives, p) {
			t.Errorf("coredns links plugin %s, which is not in its directives list", p)
		}
	}
	for _, d := range []string{"route53", "azure", "clouddns", "etcd", "trace", "nomad"} {
		if linked[d] {
			t.Errorf("coredns links plugin %s, left out on purpose", d)
		}
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
