package pivot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/openstrap/openstrap/internal/kubetest"
	"github.com/openstrap/openstrap/internal/pivotbench/capigraph"
)

// The two management clusters every test moves between; each test uses fresh
// namespaces.
var srcEnv, dstEnv *kubetest.Env

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dir, err := capigraph.CRDDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts := kubetest.Options{ClusterAPICRDs: true, CRDDirectoryPaths: []string{dir}}
	var wg sync.WaitGroup
	var errSrc, errDst error
	wg.Go(func() { srcEnv, errSrc = kubetest.Start(ctx, opts) })
	wg.Go(func() { dstEnv, errDst = kubetest.Start(ctx, opts) })
	wg.Wait()
	defer func() {
		for _, e := range []*kubetest.Env{srcEnv, dstEnv} {
			if e != nil {
				_ = e.Stop()
			}
		}
	}()
	if err := errors.Join(errSrc, errDst); err != nil {
		fmt.Fprintln(os.Stderr, "start API servers:", err)
		return 1
	}
	return m.Run()
}

var nsCounter atomic.Int64

// freshNS returns a namespace name no test used before.
func freshNS(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, nsCounter.Add(1))
}

func dyn(t testing.TB, cfg *rest.Config) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// load creates the generated graph in the source cluster.
func load(t testing.TB, cfg *rest.Config, objs []*unstructured.Unstructured) {
	t.Helper()
	if err := capigraph.Load(context.Background(), cfg, objs, 16); err != nil {
		t.Fatalf("load graph: %v", err)
	}
}

func mustCreate(t testing.TB, cfg *rest.Config, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	gvr := capigraph.Resource[obj.GetKind()]
	var res dynamic.ResourceInterface = dyn(t, cfg).Resource(gvr)
	if obj.GetNamespace() != "" {
		res = dyn(t, cfg).Resource(gvr).Namespace(obj.GetNamespace())
	}
	status := obj.Object["status"]
	created, err := res.Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	if status != nil && obj.GetKind() != "Secret" && obj.GetKind() != "ConfigMap" {
		created.Object["status"] = status
		if created, err = res.UpdateStatus(context.Background(), created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("status of %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	return created
}

// kinds are the kinds the tests read back.
var kinds = []string{"Cluster", "MachineDeployment", "MachineSet", "Machine", "KubeadmControlPlane", "KubeadmConfig",
	"KubeadmConfigTemplate", "OpenStackCluster", "OpenStackMachine", "OpenStackMachineTemplate", "Secret", "ConfigMap"}

// snapshot reads every object of the test kinds in ns, keyed by "Kind/name".
func snapshotNS(t testing.TB, cfg *rest.Config, ns string) map[string]*unstructured.Unstructured {
	t.Helper()
	d := dyn(t, cfg)
	out := map[string]*unstructured.Unstructured{}
	all := map[string]schema.GroupVersionResource{}
	for _, k := range kinds {
		all[k] = capigraph.Resource[k]
	}
	for _, k := range []string{"ClusterClass", "ClusterResourceSet", "ClusterResourceSetBinding"} {
		all[k] = capigraph.Resource[k]
	}
	for kind, gvr := range all {
		list, err := d.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list %s: %v", kind, err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			if kind == "Secret" && o.Object["type"] == "kubernetes.io/service-account-token" {
				continue
			}
			if kind == "ConfigMap" && o.GetName() == "kube-root-ca.crt" {
				continue
			}
			out[kind+"/"+o.GetName()] = o
		}
	}
	return out
}

// checkMoved asserts that every object of before (the source snapshot taken
// before the move) is in after (the target) with the same content, status,
// labels and annotations, the marker, and owner references remapped to the
// target's UIDs; and that none of them is left in the source.
func checkMoved(t testing.TB, before, target, source map[string]*unstructured.Unstructured) {
	t.Helper()
	if diff := cmp.Diff(slices.Sorted(mapsKeys(before)), slices.Sorted(mapsKeys(target))); diff != "" {
		t.Errorf("objects in the target (-want +got):\n%s", diff)
	}
	for key, src := range before {
		if s, ok := source[key]; ok && s.GetUID() == src.GetUID() {
			t.Errorf("%s still in the source", key)
		}
		dst, ok := target[key]
		if !ok {
			continue
		}
		if got := dst.GetAnnotations()[OriginUIDAnnotation]; got != string(src.GetUID()) && dst.GetUID() != src.GetUID() &&
			src.GetAnnotations()[OriginUIDAnnotation] != string(dst.GetUID()) {
			t.Errorf("%s: origin marker %q, want %q", key, got, src.GetUID())
		}
		if diff := cmp.Diff(content(src), content(dst), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s content (-source +target):\n%s", key, diff)
		}
		// Owner references point at the target objects of the same name.
		var want, got []string
		for _, r := range src.GetOwnerReferences() {
			if o := target[r.Kind+"/"+r.Name]; o != nil {
				want = append(want, fmt.Sprintf("%s/%s/%s/%v", r.Kind, r.Name, o.GetUID(), r.Controller != nil && *r.Controller))
			}
		}
		for _, r := range dst.GetOwnerReferences() {
			got = append(got, fmt.Sprintf("%s/%s/%s/%v", r.Kind, r.Name, r.UID, r.Controller != nil && *r.Controller))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s owner references (-want +got):\n%s", key, diff)
		}
		if dst.GetKind() == "Cluster" || dst.GetKind() == "ClusterClass" {
			if p, _, _ := unstructured.NestedBool(dst.Object, "spec", "paused"); p {
				t.Errorf("%s paused in the target", key)
			}
			if hasKey(dst.GetAnnotations(), PausedByMoveAnnotation) || hasKey(dst.GetAnnotations(), pausedAnnotation) {
				t.Errorf("%s still annotated as paused in the target: %v", key, dst.GetAnnotations())
			}
		}
	}
}

// content is what a move must preserve: everything but server-set metadata and
// owner UIDs; annotations without the marker.
func content(u *unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	for k, v := range u.Object {
		if k != "metadata" {
			out[k] = v
		}
	}
	ann := u.GetAnnotations()
	delete(ann, OriginUIDAnnotation)
	out["labels"] = u.GetLabels()
	out["annotations"] = ann
	out["finalizers"] = u.GetFinalizers()
	return out
}

func mapsKeys[M ~map[string]V, V any](m M) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// faultTransport counts writes (non-GET requests) and, from the failAt-th on,
// fails them all like a crashed process: before sending, or after sending so
// the write lands but its answer is lost. It then cancels the move's context.
type faultTransport struct {
	writes    *atomic.Int64
	failAt    int64 // 0: never
	afterSend bool
	cancel    context.CancelFunc
	next      http.RoundTripper
}

var errInjected = errors.New("injected crash")

func (f *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet {
		return f.next.RoundTrip(req)
	}
	n := f.writes.Add(1)
	if f.failAt == 0 || n < f.failAt {
		return f.next.RoundTrip(req)
	}
	if f.afterSend && n == f.failAt {
		if resp, err := f.next.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	if f.cancel != nil {
		f.cancel()
	}
	return nil, errInjected
}

// faulty returns a copy of cfg whose writes go through ft.
func faulty(cfg *rest.Config, ft *faultTransport) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		f := *ft
		f.next = rt
		return &f
	}
	return c
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
