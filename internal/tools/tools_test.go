package tools

import (
	"context"
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
		{name: "kube-scheduler", wantErr: ErrUnknownTool},
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
	if _, err := Path(t.Context(), "kube-scheduler"); !errors.Is(err, ErrUnknownTool) {
		t.Fatalf("Path error = %v, want ErrUnknownTool", err)
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
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
