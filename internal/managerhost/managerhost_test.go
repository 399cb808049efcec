package managerhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/openstrap/openstrap/bootstrap"
	"github.com/openstrap/openstrap/internal/bgproc"
)

// The test binary doubles as the host: Start runs it again with
// ServeCommand.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ServeCommand {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := Serve(ctx, os.Args[2:])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "controllers host:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type testCluster struct {
	name       string
	kubeconfig string
	c          client.Client
}

// localClusters starts n Local clusters (API server and etcd only) side by
// side and writes their kubeconfigs to files.
func localClusters(t *testing.T, names ...string) []*testCluster {
	t.Helper()
	ctx := t.Context()
	tmp := t.TempDir()
	out := make([]*testCluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			lc, err := bootstrap.Local(ctx, n, bootstrap.Dir(filepath.Join(tmp, n)), bootstrap.NoControllerManager())
			if err != nil {
				errs[i] = err
				return
			}
			t.Cleanup(func() {
				if err := lc.Delete(context.Background()); err != nil {
					t.Error(err)
				}
			})
			kc, err := lc.Kubeconfig()
			if err != nil {
				errs[i] = err
				return
			}
			path := filepath.Join(tmp, n+".kubeconfig")
			if err := os.WriteFile(path, kc, 0o600); err != nil {
				errs[i] = err
				return
			}
			scheme, err := bootstrap.NewControllersScheme()
			if err != nil {
				errs[i] = err
				return
			}
			c, err := client.New(lc.RESTConfig(), client.Options{Scheme: scheme})
			if err != nil {
				errs[i] = err
				return
			}
			out[i] = &testCluster{name: n, kubeconfig: path, c: c}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

func installCRDs(t *testing.T, tc *testCluster) {
	t.Helper()
	c, err := bootstrap.Existing(t.Context(), bootstrap.KubeconfigFile(tc.kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := bootstrap.InstallControllerCRDs(t.Context(), c); err != nil {
		t.Fatal(err)
	}
}

func createCluster(t *testing.T, tc *testCluster, name string) {
	t.Helper()
	// The smallest valid spec (it must have a field): not paused.
	cl := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       clusterv1.ClusterSpec{Paused: ptr.To(false)},
	}
	if err := bootstrap.DefaultClusterAPIObjects(t.Context(), cl); err != nil {
		t.Fatal(err)
	}
	if err := tc.c.Create(t.Context(), cl); err != nil {
		t.Fatal(err)
	}
}

// reconciled reports whether Cluster API's Cluster controller has acted on
// the Cluster: its first reconcile adds the cluster.cluster.x-k8s.io
// finalizer.
func reconciled(t *testing.T, tc *testCluster, name string) bool {
	t.Helper()
	var cl clusterv1.Cluster
	if err := tc.c.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: name}, &cl); err != nil {
		t.Fatal(err)
	}
	return slices.Contains(cl.Finalizers, clusterv1.ClusterFinalizer)
}

func waitReconciled(t *testing.T, tc *testCluster, name string) time.Duration {
	t.Helper()
	start := time.Now()
	for !reconciled(t, tc, name) {
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("Cluster %s in %s not reconciled after %v", name, tc.name, time.Since(start))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

func hostPID(t *testing.T, dir string) int {
	t.Helper()
	pid, err := bgproc.ReadPID(paths{dir}.pid())
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestStartHandOverStop runs the host against cluster A, hands it over to
// B, and checks that from then on B's objects are reconciled and A's are
// not; then kills the host and checks Start converges, and that Stop leaves
// no process.
func TestStartHandOverStop(t *testing.T) {
	ctx := t.Context()
	clusters := localClusters(t, "host-a", "host-b")
	a, b := clusters[0], clusters[1]
	dir := filepath.Join(t.TempDir(), "host")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Stop(context.Background(), dir); err != nil {
			t.Error(err)
		}
	})

	// Without the CRDs the host exits, and the error quotes its log.
	_, err = Start(ctx, dir, exe, a.kubeconfig)
	if err == nil || !strings.Contains(err.Error(), "InstallControllerCRDs") || !strings.Contains(err.Error(), "host.log") {
		t.Fatalf("Start without CRDs: %v, want the log tail naming the missing CRDs", err)
	}
	t.Logf("Start without CRDs: %v", err)
	if Running(dir) {
		t.Fatal("Running after a failed Start")
	}
	installCRDs(t, a)
	installCRDs(t, b)

	start := time.Now()
	got, err := Start(ctx, dir, exe, a.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start (process start to controllers' caches synced): %v", time.Since(start))
	if !Running(dir) {
		t.Fatal("Running = false after Start")
	}
	rec, err := Target(dir)
	if err != nil || rec != got || rec.Kubeconfig != a.kubeconfig || !strings.HasPrefix(rec.Server, "https://") {
		t.Fatalf("Target = %v, %v; Start returned %v", rec, err, got)
	}
	log, err := os.ReadFile(Log(dir))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), "client-certificate-data") || strings.Contains(string(log), "BEGIN") {
		t.Error("host.log holds kubeconfig contents")
	}
	pidA := hostPID(t, dir)

	// Start again reuses the host.
	start = time.Now()
	if _, err := Start(ctx, dir, exe, a.kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Logf("Start on a running host: %v", time.Since(start))
	if pid := hostPID(t, dir); pid != pidA {
		t.Fatalf("second Start replaced the host (pid %d, was %d)", pid, pidA)
	}

	createCluster(t, a, "in-a")
	t.Logf("Cluster in A reconciled after %v", waitReconciled(t, a, "in-a"))

	start = time.Now()
	if _, err := HandOver(ctx, dir, exe, b.kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Logf("HandOver: %v", time.Since(start))
	if bgproc.Alive(pidA) {
		t.Fatalf("host against A (pid %d) still runs after HandOver", pidA)
	}
	if rec, _ := Target(dir); rec.Kubeconfig != b.kubeconfig {
		t.Fatalf("Target after HandOver = %v, want B", rec)
	}
	// A's Cluster first: by the time B's is reconciled the host has had
	// every chance to reconcile A's too.
	createCluster(t, a, "after-handover-a")
	createCluster(t, b, "in-b")
	t.Logf("Cluster in B reconciled after %v", waitReconciled(t, b, "in-b"))
	time.Sleep(2 * time.Second)
	if reconciled(t, a, "after-handover-a") {
		t.Fatal("a Cluster created in A after HandOver was reconciled")
	}

	// Start with A is refused now: only HandOver moves the controllers.
	if _, err := Start(ctx, dir, exe, a.kubeconfig); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("Start with A after HandOver to B: %v, want ErrOtherCluster", err)
	}

	// Killed: Start converges.
	pidB := hostPID(t, dir)
	if err := syscall.Kill(pidB, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for bgproc.Alive(pidB) {
		time.Sleep(20 * time.Millisecond)
	}
	if Running(dir) {
		t.Fatal("Running after kill -9")
	}
	start = time.Now()
	if _, err := Start(ctx, dir, exe, b.kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Logf("Start after kill -9: %v", time.Since(start))
	if pid := hostPID(t, dir); pid == pidB || !Running(dir) {
		t.Fatalf("Start after kill -9: pid %d (killed %d), Running %v", pid, pidB, Running(dir))
	}
	createCluster(t, b, "after-kill-b")
	waitReconciled(t, b, "after-kill-b")

	// A HandOver to A killed after recording A, before stopping the host
	// against B: Start with A converges to a host against A, and A's
	// waiting Cluster gets reconciled.
	toA, _, err := resolve(ctx, a.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := recordTarget(dir, toA); err != nil {
		t.Fatal(err)
	}
	pidB = hostPID(t, dir)
	start = time.Now()
	if _, err := Start(ctx, dir, exe, a.kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Logf("Start completing an interrupted HandOver: %v", time.Since(start))
	if bgproc.Alive(pidB) {
		t.Fatalf("host against B (pid %d) still runs after Start with A completed the hand-over", pidB)
	}
	waitReconciled(t, a, "after-handover-a")

	// Stop leaves no process.
	pid := hostPID(t, dir)
	start = time.Now()
	if err := Stop(ctx, dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop: %v", time.Since(start))
	if bgproc.Alive(pid) || Running(dir) || locked(paths{dir}.lock()) {
		t.Fatalf("after Stop: pid %d alive %v, Running %v, lock held %v", pid, bgproc.Alive(pid), Running(dir), locked(paths{dir}.lock()))
	}
	if err := Stop(ctx, dir); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestServeArgs(t *testing.T) {
	dir, kc, v, err := parseServeArgs(ServeArgs("/d", "/k"))
	if err != nil || dir != "/d" || kc != "/k" || v != 0 {
		t.Fatalf("parseServeArgs(ServeArgs) = %q %q %d %v", dir, kc, v, err)
	}
	if _, _, _, err := parseServeArgs([]string{"/d"}); err == nil {
		t.Fatal("no --kubeconfig accepted")
	}
}

func TestStartRefusesUnreadableKubeconfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "kubeconfig")
	secret := "c2VjcmV0LXRva2Vu"
	if err := os.WriteFile(bad, []byte("token: "+secret+"\n: not yaml ["), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), dir, "/nonexistent", bad)
	if err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), secret) {
		t.Fatalf("Start with a bad kubeconfig: %v, want the path named and no contents", err)
	}
	if _, err := os.Stat(paths{dir}.pid()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a host was started")
	}
}
