package bootstrap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/openstrap/openstrap/internal/tools"
)

func answers(ctx context.Context, c Cluster) error {
	return reachable(ctx, c.RESTConfig())
}

func createConfigMap(t *testing.T, c Cluster, name string) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(c.RESTConfig())
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func getConfigMap(t *testing.T, c Cluster, name string) error {
	t.Helper()
	_, err := kubernetes.NewForConfigOrDie(c.RESTConfig()).CoreV1().ConfigMaps("default").Get(t.Context(), name, metav1.GetOptions{})
	return err
}

// TestLocalLifecycle starts, reuses, stops and restarts a Local cluster on
// kept data several times, then deletes it with its data.
func TestLocalLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "mgmt")
	var phases []Phase
	progress := WithProgress(func(e Event) {
		if e.Done {
			phases = append(phases, e.Phase)
		}
	})
	opts := []Option{Dir(dir), Address("127.0.0.21"), KeepData(), progress}

	start := time.Now()
	c, err := Local(ctx, "lifecycle", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first start: %v", time.Since(start))
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if c.Name() != "lifecycle" || c.Dir() != dir || !strings.HasPrefix(c.Endpoint(), "https://127.0.0.21:") {
		t.Errorf("cluster = %s name %q dir %q", c, c.Name(), c.Dir())
	}
	createConfigMap(t, c, "survivor")
	endpoint := c.Endpoint()

	// Local again while it runs reuses it.
	again, err := Local(ctx, "lifecycle", opts...)
	if err != nil {
		t.Fatal(err)
	}
	if again.Endpoint() != endpoint {
		t.Errorf("reused endpoint %s, want %s", again.Endpoint(), endpoint)
	}
	if diff := cmp.Diff([]Phase{PhaseCreate, PhaseCreate, PhaseReuse}, phases); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}

	for i := range 3 {
		stop := time.Now()
		if err := c.Delete(ctx); err != nil { // KeepData: stops, keeps data
			t.Fatalf("cycle %d: Delete: %v", i, err)
		}
		t.Logf("cycle %d: stop: %v", i, time.Since(stop))
		if err := answers(ctx, c); err == nil {
			t.Fatalf("cycle %d: server answers after Delete", i)
		}
		if _, err := os.Stat(filepath.Join(dir, "etcd")); err != nil {
			t.Fatalf("cycle %d: data removed despite KeepData: %v", i, err)
		}
		start := time.Now()
		if c, err = Local(ctx, "lifecycle", opts...); err != nil {
			t.Fatalf("cycle %d: restart: %v", i, err)
		}
		t.Logf("cycle %d: restart on kept data: %v", i, time.Since(start))
		if c.Endpoint() != endpoint {
			t.Errorf("cycle %d: endpoint %s, want %s", i, c.Endpoint(), endpoint)
		}
		if err := getConfigMap(t, c, "survivor"); err != nil {
			t.Fatalf("cycle %d: data lost: %v", i, err)
		}
	}

	// The kubeconfig works on its own.
	kc, err := c.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	if err := reachable(ctx, rc); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}

	// Without KeepData, Delete removes everything.
	c, err = Local(ctx, "lifecycle", Dir(dir), Address("127.0.0.21"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory after Delete: %v, want not exist", err)
	}
	if err := c.Delete(ctx); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	fresh, err := Local(ctx, "lifecycle", Dir(dir), Address("127.0.0.21"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Delete(context.Background())
	if err := getConfigMap(t, fresh, "survivor"); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap in a fresh cluster: %v, want NotFound", err)
	}
}

// TestTwoLocalClustersSideBySide runs two Local clusters at once and checks
// they are separate.
func TestTwoLocalClustersSideBySide(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	names := []string{"side-a", "side-b"}
	clusters := make([]*LocalCluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { clusters[i], errs[i] = Local(ctx, n, Dir(filepath.Join(t.TempDir(), n))) })
	}
	wg.Wait()
	for i, c := range clusters {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() {
			if err := c.Delete(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	if clusters[0].Endpoint() == clusters[1].Endpoint() {
		t.Fatalf("both clusters at %s", clusters[0].Endpoint())
	}
	createConfigMap(t, clusters[0], "only-in-a")
	if err := getConfigMap(t, clusters[1], "only-in-a"); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap of cluster a seen in b: %v", err)
	}
	// Install works the same on a Local cluster.
	if err := Install(ctx, clusters[1], [][]byte{[]byte(widgetCRD + "---\napiVersion: example.openstrap.dev/v1\nkind: Widget\nmetadata: {name: w}\n")}); err != nil {
		t.Fatal(err)
	}
}

func TestLocalDefaultDirAndErrors(t *testing.T) {
	// Keep the tools cache where it is: only the clusters' default moves.
	toolsDir, err := tools.Dir()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(tools.EnvToolsDir, filepath.Dir(toolsDir))
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	if _, err := Local(t.Context(), "Not_A_Name"); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("bad name: %v, want ErrInvalidOption", err)
	}
	if _, err := Local(t.Context(), "x", KubeContext("c")); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Existing option on Local: %v, want ErrInvalidOption", err)
	}
	c, err := Local(t.Context(), "default-dir", Address("127.0.0.22"))
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(cache, "openstrap", "clusters", "default-dir")
	if c.Dir() != want {
		t.Errorf("Dir = %s, want %s", c.Dir(), want)
	}
	if err := c.Delete(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("default data directory left after Delete: %v", err)
	}
}
