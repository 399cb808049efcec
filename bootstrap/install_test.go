package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/openstrap/openstrap/internal/tools"
)

// envCluster wraps the shared test API server as an Existing cluster.
func envCluster(t *testing.T) *ExistingCluster {
	t.Helper()
	kc, err := env.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Existing(t.Context(), KubeconfigBytes(kc), Name("envtest"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clusterAPICRDManifests reads Cluster API's CRD files from the module cache.
func clusterAPICRDManifests(t *testing.T) [][]byte {
	t.Helper()
	dirs, err := tools.ClusterAPICRDPaths(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) < 15 {
		t.Fatalf("only %d Cluster API CRD files", len(out))
	}
	return out
}

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.openstrap.dev
spec:
  group: example.openstrap.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`

// bundle is a Cluster API Cluster, plain objects and a Widget placed BEFORE
// its CRD, all in one manifest with variables.
func bundle(ns string) []byte {
	return []byte(fmt.Sprintf(`
apiVersion: example.openstrap.dev/v1
kind: Widget
metadata: {name: w1, namespace: %[1]s}
spec: {size: ${WIDGET_SIZE:=3}}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata:
  name: ${CLUSTER_NAME}
  namespace: %[1]s
  labels: {cluster.x-k8s.io/cluster-name: "${CLUSTER_NAME}"}
spec:
  clusterNetwork:
    pods: {cidrBlocks: ["${POD_CIDR:=192.168.0.0/16}"]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: %[1]s}
data: {cluster: "${CLUSTER_NAME}", region: "${REGION}"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %[1]s-reader}
rules:
- apiGroups: [cluster.x-k8s.io]
  resources: [clusters]
  verbs: [get, list]
---
%[2]s
---
apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
`, ns, widgetCRD))
}

// snapshot returns the resourceVersion of every object of the manifests.
func snapshot(t *testing.T, c Cluster, manifests [][]byte, vars map[string]string) map[string]string {
	t.Helper()
	subst, err := substituteAll(manifests, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll(subst)
	if err != nil {
		t.Fatal(err)
	}
	rc := c.RESTConfig()
	dyn := dynamic.NewForConfigOrDie(rc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(rc)))
	out := map[string]string{}
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("mapping %s: %v", gvk, err)
		}
		var got *unstructured.Unstructured
		if m.Scope.Name() == "namespace" {
			got, err = dyn.Resource(m.Resource).Namespace(u.GetNamespace()).Get(t.Context(), u.GetName(), metav1.GetOptions{})
		} else {
			got, err = dyn.Resource(m.Resource).Get(t.Context(), u.GetName(), metav1.GetOptions{})
		}
		if err != nil {
			t.Fatalf("get %s: %v", objectName(u), err)
		}
		managers := []string{}
		for _, f := range got.GetManagedFields() {
			managers = append(managers, f.Manager)
		}
		out[objectName(u)] = got.GetResourceVersion() + " " + strings.Join(managers, ",")
	}
	return out
}

// TestInstallTwiceChangesNothing installs Cluster API's CRDs and a bundle with
// a CRD and its custom resource, twice: the second Install leaves every
// resourceVersion as it was.
func TestInstallTwiceChangesNothing(t *testing.T) {
	ctx := t.Context()
	c := envCluster(t)
	ns := "install-twice"
	vars := map[string]string{"CLUSTER_NAME": "demo", "REGION": "RegionOne"}
	manifests := append(clusterAPICRDManifests(t), bundle(ns))

	var mu sync.Mutex
	var applied []string
	progress := WithProgress(func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Err != nil {
			t.Errorf("event with error: %v", e)
		}
		if e.Phase == PhaseApply && e.Done {
			applied = append(applied, e.Object)
		}
	})
	start := time.Now()
	if err := Install(ctx, c, manifests, Variables(vars), progress); err != nil {
		t.Fatal(err)
	}
	t.Logf("first Install of %d objects: %v", len(applied), time.Since(start))
	first := snapshot(t, c, manifests, vars)
	firstApplied := applied
	applied = nil

	start = time.Now()
	if err := Install(ctx, c, manifests, Variables(vars), progress); err != nil {
		t.Fatal(err)
	}
	t.Logf("second Install: %v", time.Since(start))
	second := snapshot(t, c, manifests, vars)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second Install changed objects (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(firstApplied, applied); diff != "" {
		t.Errorf("applied objects differ between runs (-first +second):\n%s", diff)
	}
	// Namespace and CRDs went first; the Widget, listed first, came after them.
	if len(firstApplied) < 2 || firstApplied[0] != "Namespace "+ns || !strings.HasPrefix(firstApplied[1], "CustomResourceDefinition ") {
		t.Errorf("apply order starts %v, want the Namespace then CRDs", firstApplied[:min(3, len(firstApplied))])
	}
	if got := first["ConfigMap "+ns+"/settings"]; !strings.HasSuffix(got, " "+DefaultFieldManager) {
		t.Errorf("ConfigMap managers = %q, want %s", got, DefaultFieldManager)
	}

	// Substituted values and defaults landed.
	dyn := dynamic.NewForConfigOrDie(c.RESTConfig())
	cm, err := dyn.Resource(gvr("", "v1", "configmaps")).Namespace(ns).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"cluster": "demo", "region": "RegionOne"}, cm.Object["data"]); diff != "" {
		t.Errorf("ConfigMap data (-want +got):\n%s", diff)
	}
	w, err := dyn.Resource(gvr("example.openstrap.dev", "v1", "widgets")).Namespace(ns).Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size"); size != 3 {
		t.Errorf("widget size = %d, want the default 3", size)
	}
	cl, err := dyn.Resource(gvr("cluster.x-k8s.io", "v1beta2", "clusters")).Namespace(ns).Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cidrs, _, _ := unstructured.NestedStringSlice(cl.Object, "spec", "clusterNetwork", "pods", "cidrBlocks"); !cmp.Equal(cidrs, []string{"192.168.0.0/16"}) {
		t.Errorf("cluster pod CIDRs = %v", cidrs)
	}

	// A changed variable changes exactly the object that uses it.
	vars2 := map[string]string{"CLUSTER_NAME": "demo", "REGION": "RegionTwo"}
	if err := Install(ctx, c, manifests, Variables(vars2)); err != nil {
		t.Fatal(err)
	}
	third := snapshot(t, c, manifests, vars2)
	var changed []string
	for k, v := range third {
		if first[k] != v {
			changed = append(changed, k)
		}
	}
	if diff := cmp.Diff([]string{"ConfigMap " + ns + "/settings"}, changed); diff != "" {
		t.Errorf("objects changed by a new REGION (-want +got):\n%s", diff)
	}
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// TestInstallMissingVariablesAppliesNothing lists every missing variable and
// creates nothing.
func TestInstallMissingVariablesAppliesNothing(t *testing.T) {
	ctx := t.Context()
	c := envCluster(t)
	ns := "install-missing"
	err := Install(ctx, c, [][]byte{bundle(ns), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: " + ns + "}\ndata: {a: '${ANOTHER}'}\n")},
		Variables(map[string]string{"REGION": "r"}))
	var mv *MissingVariablesError
	if !errors.As(err, &mv) {
		t.Fatalf("Install error = %v, want *MissingVariablesError", err)
	}
	if diff := cmp.Diff([]string{"ANOTHER", "CLUSTER_NAME"}, mv.Names); diff != "" {
		t.Errorf("missing names (-want +got):\n%s", diff)
	}
	_, err = dynamic.NewForConfigOrDie(c.RESTConfig()).Resource(gvr("", "v1", "namespaces")).Get(ctx, ns, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s: err = %v, want NotFound (nothing applied)", ns, err)
	}

	// The environment supplies what the map lacks.
	t.Setenv("CLUSTER_NAME", "from-env")
	t.Setenv("ANOTHER", "x")
	if err := Install(ctx, c, [][]byte{bundle(ns)}, Variables(map[string]string{"REGION": "r"}), VariablesFromEnv()); err != nil {
		t.Fatalf("Install with env: %v", err)
	}
}

// TestInstallUnknownKindFailsFast names a type no CRD of the bundle defines.
func TestInstallUnknownKindFailsFast(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := Install(ctx, envCluster(t), [][]byte{[]byte("apiVersion: nothing.example/v1\nkind: Ghost\nmetadata: {name: g, namespace: default}\n")})
	if err == nil || !strings.Contains(err.Error(), "Ghost") || !strings.Contains(err.Error(), "no resource type") {
		t.Fatalf("Install error = %v, want one naming the unknown kind", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Install waited for the deadline instead of failing")
	}
}

// TestInstallWaitForDeployments waits for a Deployment; with no controllers
// in the test API server, the test plays the deployment controller and marks
// it Available.
func TestInstallWaitForDeployments(t *testing.T) {
	ctx := t.Context()
	c := envCluster(t)
	ns := "install-wait"
	manifest := []byte(`
apiVersion: v1
kind: Namespace
metadata: {name: ` + ns + `}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ` + ns + `}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: example.invalid/web:1}]}
`)
	// Without anyone marking it Available, the wait ends with the context.
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := Install(short, c, [][]byte{manifest}, WaitForDeployments())
	if err == nil || !strings.Contains(err.Error(), "Deployment "+ns+"/web") {
		t.Fatalf("Install error = %v, want a wait failure naming the Deployment", err)
	}

	dyn := dynamic.NewForConfigOrDie(c.RESTConfig())
	deployments := dyn.Resource(gvr("apps", "v1", "deployments")).Namespace(ns)
	go func() {
		time.Sleep(time.Second)
		d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return
		}
		_ = unstructured.SetNestedField(d.Object, d.GetGeneration(), "status", "observedGeneration")
		_ = unstructured.SetNestedSlice(d.Object, []any{map[string]any{
			"type": "Available", "status": "True", "reason": "Test", "message": "marked by the test",
			"lastUpdateTime": time.Now().UTC().Format(time.RFC3339), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}}, "status", "conditions")
		_, _ = deployments.UpdateStatus(ctx, d, metav1.UpdateOptions{})
	}()
	var waited []Event
	err = Install(ctx, c, [][]byte{manifest}, WaitForDeployments(), WithProgress(func(e Event) {
		if e.Phase == PhaseWaitDeployment {
			waited = append(waited, e)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(waited) != 2 || !waited[1].Done || waited[1].Err != nil || waited[1].Duration < 500*time.Millisecond {
		t.Errorf("wait events = %v, want a start and a successful end after the status update", waited)
	}
}

func TestInstallOptionErrors(t *testing.T) {
	c := envCluster(t)
	if err := Install(t.Context(), c, nil, KeepData()); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Install with a Local option: %v, want ErrInvalidOption", err)
	}
	if err := Install(t.Context(), nil, nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Install into nil: %v, want ErrInvalidOption", err)
	}
	if err := Install(t.Context(), c, nil); err != nil {
		t.Errorf("Install of nothing: %v", err)
	}
}
