package pivot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/openstrap/openstrap/internal/pivotbench/capigraph"
)

// obj builds an object of a capigraph kind in ns owned by owners ("Kind/name").
func obj(kind, ns, name string, body map[string]any, owners ...string) *unstructured.Unstructured {
	if body == nil {
		body = map[string]any{}
	}
	u := &unstructured.Unstructured{Object: body}
	u.SetGroupVersionKind(capigraph.Resource[kind].GroupVersion().WithKind(kind))
	u.SetNamespace(ns)
	u.SetName(name)
	var refs []metav1.OwnerReference
	for _, o := range owners {
		k, n, _ := cutSlash(o)
		refs = append(refs, capigraph.OwnerRef(k, n))
	}
	u.SetOwnerReferences(refs)
	return u
}

func cutSlash(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func labels(l map[string]any) map[string]any {
	return map[string]any{"metadata": map[string]any{"labels": l}}
}

// topologyCluster is a provisioned Cluster using ClusterClass cc.
func topologyCluster(ns, name string) *unstructured.Unstructured {
	return obj("Cluster", ns, name, map[string]any{
		"spec": map[string]any{"topology": map[string]any{"classRef": map[string]any{"name": "cc"}, "version": "v1.37.2"}},
		"status": map[string]any{"initialization": map[string]any{"infrastructureProvisioned": true, "controlPlaneInitialized": true},
			"conditions": []any{map[string]any{"type": "ControlPlaneInitialized", "status": "True", "reason": "Initialized", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}}},
	})
}

func TestMoveShapes(t *testing.T) {
	tmplRef := func(name string) map[string]any {
		return map[string]any{"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "OpenStackMachineTemplate", "name": name}
	}
	tests := []struct {
		name    string
		objs    func(ns string) []*unstructured.Unstructured
		opts    Options // Namespace is filled in
		kept    []string
		stay    []string
		allMove bool // every object not in kept or stay moves
	}{
		{
			name: "named cluster with a shared ClusterClass",
			objs: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{
					obj("ClusterClass", ns, "cc", map[string]any{"spec": map[string]any{
						"controlPlane":   map[string]any{"templateRef": tmplRef("cc-cp")},
						"infrastructure": map[string]any{"templateRef": tmplRef("cc-infra")},
					}}),
					obj("OpenStackMachineTemplate", ns, "cc-cp", nil, "ClusterClass/cc"),
					obj("OpenStackMachineTemplate", ns, "cc-infra", nil, "ClusterClass/cc"),
					topologyCluster(ns, "a"),
					obj("OpenStackCluster", ns, "a", map[string]any{"status": map[string]any{"ready": true}}, "Cluster/a"),
					obj("Secret", ns, "a-kubeconfig", map[string]any{"data": map[string]any{"value": "eA=="}}),
					topologyCluster(ns, "b"),
					obj("OpenStackCluster", ns, "b", nil, "Cluster/b"),
					obj("Secret", ns, "b-kubeconfig", nil),
				}
			},
			opts:    Options{Clusters: []string{"a"}},
			kept:    []string{"ClusterClass/cc", "OpenStackMachineTemplate/cc-cp", "OpenStackMachineTemplate/cc-infra"},
			stay:    []string{"Cluster/b", "OpenStackCluster/b", "Secret/b-kubeconfig"},
			allMove: true,
		},
		{
			name: "ClusterResourceSet with its binding and resources",
			objs: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{
					obj("Cluster", ns, "a", map[string]any{"spec": map[string]any{"clusterNetwork": map[string]any{"serviceDomain": "cluster.local"}}, "status": map[string]any{"initialization": map[string]any{"infrastructureProvisioned": true}}}),
					obj("ClusterResourceSet", ns, "crs", map[string]any{"spec": map[string]any{
						"clusterSelector": map[string]any{"matchLabels": map[string]any{"cni": "calico"}},
						"resources":       []any{map[string]any{"kind": "ConfigMap", "name": "cni"}, map[string]any{"kind": "Secret", "name": "cloud"}},
					}}),
					obj("ConfigMap", ns, "cni", map[string]any{"data": map[string]any{"calico.yaml": "kind: List"}}),
					obj("Secret", ns, "cloud", map[string]any{"stringData": map[string]any{"clouds.yaml": "clouds: {}"}}),
					obj("ClusterResourceSetBinding", ns, "a", map[string]any{"spec": map[string]any{"clusterName": "a"}}, "ClusterResourceSet/crs"),
					obj("Secret", ns, "unrelated", nil),
				}
			},
			stay:    []string{"Secret/unrelated"},
			allMove: true,
		},
		{
			name: "move and move-hierarchy labels",
			objs: func(ns string) []*unstructured.Unstructured {
				return []*unstructured.Unstructured{
					obj("ConfigMap", ns, "alone", labels(map[string]any{moveLabel: ""})),
					obj("Secret", ns, "tree", labels(map[string]any{moveHierarchyLabel: ""})),
					obj("ConfigMap", ns, "tree-child", nil, "Secret/tree"),
					obj("Secret", ns, "tree-grandchild", nil, "ConfigMap/tree-child"),
					obj("ConfigMap", ns, "unrelated", nil),
				}
			},
			stay:    []string{"ConfigMap/unrelated"},
			allMove: true,
		},
		{
			name: "generated clusters with three control plane machines",
			objs: func(ns string) []*unstructured.Unstructured {
				return capigraph.Objects(capigraph.Spec{Namespace: ns, Clusters: 3, Machines: 2, ControlPlaneMachines: 3})
			},
			allMove: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := freshNS("shape")
			load(t, srcEnv.Config, tt.objs(ns))
			before := snapshotNS(t, srcEnv.Config, ns)
			opts := tt.opts
			opts.Namespace = ns
			rep, err := Move(context.Background(), srcEnv.Config, dstEnv.Config, opts)
			if err != nil {
				t.Fatalf("Move: %v", err)
			}
			src, dst := snapshotNS(t, srcEnv.Config, ns), snapshotNS(t, dstEnv.Config, ns)
			moved := map[string]*unstructured.Unstructured{}
			for k, o := range before {
				if !slices.Contains(tt.kept, k) && !slices.Contains(tt.stay, k) {
					moved[k] = o
				}
			}
			movedDst := map[string]*unstructured.Unstructured{}
			for k, o := range dst {
				if !slices.Contains(tt.kept, k) {
					movedDst[k] = o
				}
			}
			checkMoved(t, moved, movedDst, src)
			for _, k := range tt.kept {
				if src[k] == nil || dst[k] == nil {
					t.Errorf("kept %s: in source %v, in target %v; want both", k, src[k] != nil, dst[k] != nil)
					continue
				}
				if diff := cmp.Diff(content(before[k]), content(src[k]), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("kept %s changed in the source (-before +after):\n%s", k, diff)
				}
				if diff := cmp.Diff(content(before[k]), content(dst[k]), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("kept %s in the target (-source +target):\n%s", k, diff)
				}
			}
			for _, k := range tt.stay {
				if src[k] == nil || src[k].GetUID() != before[k].GetUID() || dst[k] != nil {
					t.Errorf("%s should stay in the source only", k)
				}
			}
			t.Log(rep)
		})
	}
}

// countingConfigs returns copies of the source and target configs that count writes.
func countingConfigs() (from, to *atomicCounterConfig) {
	w := &atomic.Int64{}
	ft := &faultTransport{writes: w}
	return &atomicCounterConfig{faulty(srcEnv.Config, ft), w}, &atomicCounterConfig{faulty(dstEnv.Config, ft), w}
}

type atomicCounterConfig struct {
	cfg    *rest.Config
	writes *atomic.Int64
}

func patch(t *testing.T, kind, ns, name, body string) {
	t.Helper()
	if _, err := dyn(t, srcEnv.Config).Resource(capigraph.Resource[kind]).Namespace(ns).Patch(context.Background(), name, types.MergePatchType, []byte(body), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch %s %s: %v", kind, name, err)
	}
}

func patchStatus(t *testing.T, kind, ns, name, body string) {
	t.Helper()
	if _, err := dyn(t, srcEnv.Config).Resource(capigraph.Resource[kind]).Namespace(ns).Patch(context.Background(), name, types.MergePatchType, []byte(body), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatalf("patch status of %s %s: %v", kind, name, err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	ns := freshNS("dry")
	load(t, srcEnv.Config, capigraph.Objects(capigraph.Spec{Namespace: ns, Clusters: 2, Machines: 2}))
	before := snapshotNS(t, srcEnv.Config, ns)
	from, to := countingConfigs()
	rep, err := Move(context.Background(), from.cfg, to.cfg, Options{Namespace: ns, DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if n := from.writes.Load(); n != 0 {
		t.Errorf("dry run made %d writes", n)
	}
	if n := rep.Moved["Machine.cluster.x-k8s.io"]; n != 2*(2+1) {
		t.Errorf("dry run would move %d Machines, want 6", n)
	}
	if len(rep.Plan) != len(before) || !rep.DryRun {
		t.Errorf("plan has %d objects, want %d", len(rep.Plan), len(before))
	}
	for _, e := range rep.Plan {
		if e.Action != ActionCreate {
			t.Errorf("plan: %s %s, want create", e.Action, e.Object)
		}
	}
	after := snapshotNS(t, srcEnv.Config, ns)
	for k, o := range before {
		if after[k] == nil || after[k].GetResourceVersion() != o.GetResourceVersion() {
			t.Errorf("%s changed by a dry run", k)
		}
	}
	if got := snapshotNS(t, dstEnv.Config, ns); len(got) != 0 {
		t.Errorf("dry run created %d objects in the target", len(got))
	}
}

func TestDirectoryRoundTrip(t *testing.T) {
	ns := freshNS("dir")
	load(t, srcEnv.Config, capigraph.Objects(capigraph.Spec{Namespace: ns, Clusters: 2, Machines: 2}))
	before := snapshotNS(t, srcEnv.Config, ns)
	dir := filepath.Join(t.TempDir(), "backup")
	rep, err := ToDirectory(context.Background(), srcEnv.Config, dir, Options{Namespace: ns})
	if err != nil {
		t.Fatalf("ToDirectory: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != len(before) || len(rep.Plan) != len(before) {
		t.Errorf("%d files, %d planned; want %d", len(files), len(rep.Plan), len(before))
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode: %v %v", fi.Mode(), err)
	}
	// The source is as it was, unpaused.
	after := snapshotNS(t, srcEnv.Config, ns)
	for k, o := range before {
		if diff := cmp.Diff(content(o), content(after[k]), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s changed by the backup (-before +after):\n%s", k, diff)
		}
	}

	rep, err = FromDirectory(context.Background(), dir, dstEnv.Config, Options{Namespace: ns})
	if err != nil {
		t.Fatalf("FromDirectory: %v", err)
	}
	restored := snapshotNS(t, dstEnv.Config, ns)
	checkMoved(t, before, restored, nil)
	if rep.Created != len(before) {
		t.Errorf("restore created %d, want %d", rep.Created, len(before))
	}
	// Restoring again recognises every object and writes nothing.
	rep, err = FromDirectory(context.Background(), dir, dstEnv.Config, Options{Namespace: ns})
	if err != nil || rep.Created+rep.Updated != 0 {
		t.Errorf("second restore: %v, created %d updated %d", err, rep.Created, rep.Updated)
	}
}

func TestPreconditions(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(t *testing.T, ns string) // after loading a 1x1 graph
		opts    Options
		wantErr error
	}{
		{
			name: "paused by someone else",
			mutate: func(t *testing.T, ns string) {
				patch(t, "Cluster", ns, "c0", `{"spec":{"paused":true}}`)
			},
			wantErr: ErrPaused,
		},
		{
			name: "paused by someone else, allowed",
			mutate: func(t *testing.T, ns string) {
				patch(t, "Cluster", ns, "c0", `{"spec":{"paused":true}}`)
			},
			opts: Options{AllowPaused: true},
		},
		{
			name: "not provisioned",
			mutate: func(t *testing.T, ns string) {
				patchStatus(t, "Cluster", ns, "c0", `{"status":{"initialization":{"controlPlaneInitialized":false}}}`)
			},
			wantErr: ErrNotProvisioned,
		},
		{
			name: "not provisioned, check skipped",
			mutate: func(t *testing.T, ns string) {
				patchStatus(t, "Cluster", ns, "c0", `{"status":{"initialization":{"infrastructureProvisioned":false}}}`)
			},
			opts: Options{SkipProvisionedCheck: true},
		},
		{
			name: "conflicting object in the target",
			mutate: func(t *testing.T, ns string) {
				load(t, dstEnv.Config, []*unstructured.Unstructured{obj("Secret", ns, "c0-ca", nil)})
			},
			wantErr: ErrConflict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := freshNS("pre")
			load(t, srcEnv.Config, capigraph.Objects(capigraph.Spec{Namespace: ns, Clusters: 1, Machines: 1}))
			tt.mutate(t, ns)
			before := snapshotNS(t, srcEnv.Config, ns)
			opts := tt.opts
			opts.Namespace = ns
			_, err := Move(context.Background(), srcEnv.Config, dstEnv.Config, opts)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Move: %v", err)
				}
				if src := snapshotNS(t, srcEnv.Config, ns); len(src) != 0 {
					t.Errorf("%d objects left in the source", len(src))
				}
				if tt.opts.AllowPaused { // someone else's pause is kept
					c := snapshotNS(t, dstEnv.Config, ns)["Cluster/c0"]
					if p, _, _ := unstructured.NestedBool(c.Object, "spec", "paused"); !p {
						t.Error("a cluster paused by someone else was unpaused")
					}
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Move: %v, want %v", err, tt.wantErr)
			}
			after := snapshotNS(t, srcEnv.Config, ns)
			for k, o := range before {
				if after[k] == nil || after[k].GetResourceVersion() != o.GetResourceVersion() {
					t.Errorf("%s written although a precondition failed", k)
				}
			}
		})
	}
}

func TestMissingTypeInTarget(t *testing.T) {
	ns := freshNS("missing")
	widgets := schema.GroupVersionResource{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Resource: "openstackwidgets"}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "openstackwidgets.infrastructure.cluster.x-k8s.io", "labels": map[string]any{clusterctlLabel: ""}},
		"spec": map[string]any{"group": widgets.Group, "scope": "Namespaced",
			"names":    map[string]any{"kind": "OpenStackWidget", "plural": "openstackwidgets", "singular": "openstackwidget", "listKind": "OpenStackWidgetList"},
			"versions": []any{map[string]any{"name": "v1beta1", "served": true, "storage": true, "schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}},
	}}
	ctx := context.Background()
	if _, err := dyn(t, srcEnv.Config).Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	load(t, srcEnv.Config, capigraph.Objects(capigraph.Spec{Namespace: ns, Clusters: 1, Machines: 1}))
	cluster := snapshotNS(t, srcEnv.Config, ns)["Cluster/c0"]
	w := &unstructured.Unstructured{}
	w.SetAPIVersion(widgets.GroupVersion().String())
	w.SetKind("OpenStackWidget")
	w.SetName("w")
	w.SetOwnerReferences([]metav1.OwnerReference{ownerRefTo(cluster)})
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := dyn(t, srcEnv.Config).Resource(widgets).Namespace(ns).Create(ctx, w, metav1.CreateOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create widget: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, err := Move(ctx, srcEnv.Config, dstEnv.Config, Options{Namespace: ns})
	if !errors.Is(err, ErrTypeMissing) {
		t.Fatalf("Move: %v, want ErrTypeMissing", err)
	}
	if got := snapshotNS(t, dstEnv.Config, ns); len(got) != 0 {
		t.Errorf("%d objects written to the target", len(got))
	}
}

func TestBlockMoveIsWaitedFor(t *testing.T) {
	ns := freshNS("block")
	load(t, srcEnv.Config, capigraph.Objects(capigraph.Spec{Namespace: ns, Clusters: 1, Machines: 1}))
	patch(t, "OpenStackMachine", ns, "c0-cp-0", `{"metadata":{"annotations":{"`+blockMoveAnnotation+`":""}}}`)
	before := snapshotNS(t, srcEnv.Config, ns)
	delete(before["OpenStackMachine/c0-cp-0"].Object["metadata"].(map[string]any)["annotations"].(map[string]any), blockMoveAnnotation)
	done := make(chan error, 1)
	go func() {
		_, err := Move(context.Background(), srcEnv.Config, dstEnv.Config, Options{Namespace: ns})
		done <- err
	}()
	// The move pauses the cluster, then waits.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := snapshotNS(t, srcEnv.Config, ns)["Cluster/c0"]
		if p, _, _ := unstructured.NestedBool(c.Object, "spec", "paused"); p {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cluster was never paused")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("Move returned while blocked: %v", err)
	default:
	}
	if got := snapshotNS(t, dstEnv.Config, ns); len(got) != 0 {
		t.Fatalf("%d objects created while the move was blocked", len(got))
	}
	patch(t, "OpenStackMachine", ns, "c0-cp-0", `{"metadata":{"annotations":{"`+blockMoveAnnotation+`":null}}}`)
	if err := <-done; err != nil {
		t.Fatalf("Move: %v", err)
	}
	checkMoved(t, before, snapshotNS(t, dstEnv.Config, ns), snapshotNS(t, srcEnv.Config, ns))
}
