package pivot

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// testTypes are the types the graph tests use, keyed by kind.
var testTypes = []Type{
	{GVK: schema.GroupVersionKind{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "Cluster"}, Resource: "clusters", Namespaced: true, StatusSubresource: true, MoveHierarchy: true},
	{GVK: schema.GroupVersionKind{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "ClusterClass"}, Resource: "clusterclasses", Namespaced: true, MoveHierarchy: true},
	{GVK: schema.GroupVersionKind{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "MachineDeployment"}, Resource: "machinedeployments", Namespaced: true},
	{GVK: schema.GroupVersionKind{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "MachineSet"}, Resource: "machinesets", Namespaced: true},
	{GVK: schema.GroupVersionKind{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "Machine"}, Resource: "machines", Namespaced: true},
	{GVK: schema.GroupVersionKind{Group: "controlplane.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmControlPlane"}, Resource: "kubeadmcontrolplanes", Namespaced: true},
	{GVK: schema.GroupVersionKind{Group: "bootstrap.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmConfig"}, Resource: "kubeadmconfigs", Namespaced: true},
	{GVK: schema.GroupVersionKind{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackCluster"}, Resource: "openstackclusters", Namespaced: true},
	{GVK: schema.GroupVersionKind{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackMachine"}, Resource: "openstackmachines", Namespaced: true},
	{GVK: schema.GroupVersionKind{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackMachineTemplate"}, Resource: "openstackmachinetemplates", Namespaced: true},
	{GVK: schema.GroupVersionKind{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "OpenStackClusterIdentity"}, Resource: "openstackclusteridentities", MoveHierarchy: true},
	{GVK: schema.GroupVersionKind{Group: "addons.cluster.x-k8s.io", Version: "v1beta2", Kind: "ClusterResourceSet"}, Resource: "clusterresourcesets", Namespaced: true, MoveHierarchy: true},
	{GVK: schema.GroupVersionKind{Group: "addons.cluster.x-k8s.io", Version: "v1beta2", Kind: "ClusterResourceSetBinding"}, Resource: "clusterresourcesetbindings", Namespaced: true},
	{GVK: schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, Resource: "secrets", Namespaced: true},
	{GVK: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, Resource: "configmaps", Namespaced: true},
}

// o builds a test object "Kind ns/name" whose UID is its string form; mods adjust it.
func o(kind, ns, name string, mods ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: kind})
	for _, t := range testTypes {
		if t.GVK.Kind == kind {
			u.SetGroupVersionKind(t.GVK)
		}
	}
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetUID(uidOf(kind, ns, name))
	for _, m := range mods {
		m(u)
	}
	return u
}

func uidOf(kind, ns, name string) types.UID { return types.UID(kind + ":" + ns + "/" + name) }

// owned adds an owner reference to the object "Kind name" in the same namespace.
func owned(kind, name string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		refs := u.GetOwnerReferences()
		owner := o(kind, u.GetNamespace(), name)
		if kind == "OpenStackClusterIdentity" {
			owner = o(kind, "", name)
		}
		refs = append(refs, ownerRefTo(owner))
		u.SetOwnerReferences(refs)
	}
}

func labelled(k, v string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l[k] = v
		u.SetLabels(l)
	}
}

func annotated(k, v string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[k] = v
		u.SetAnnotations(a)
	}
}

func field(value any, path ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		if err := unstructured.SetNestedField(u.Object, value, path...); err != nil {
			panic(err)
		}
	}
}

// clusterObjs returns a realistic object set of one cluster with a control plane
// of one machine and a MachineDeployment of the given number of machines.
func clusterObjs(ns, c string, machines int) []*unstructured.Unstructured {
	objs := []*unstructured.Unstructured{
		o("Cluster", ns, c),
		o("OpenStackCluster", ns, c, owned("Cluster", c)),
		o("KubeadmControlPlane", ns, c+"-cp", owned("Cluster", c)),
		o("OpenStackMachineTemplate", ns, c+"-cp", owned("Cluster", c)),
		o("OpenStackMachineTemplate", ns, c+"-md", owned("Cluster", c)),
		o("Secret", ns, c+"-kubeconfig"),
		o("Secret", ns, c+"-ca", owned("KubeadmControlPlane", c+"-cp")),
		o("Machine", ns, c+"-cp-0", owned("KubeadmControlPlane", c+"-cp")),
		o("KubeadmConfig", ns, c+"-cp-0", owned("Machine", c+"-cp-0")),
		o("OpenStackMachine", ns, c+"-cp-0", owned("Machine", c+"-cp-0")),
		o("MachineDeployment", ns, c+"-md", owned("Cluster", c)),
		o("MachineSet", ns, c+"-md-x", owned("MachineDeployment", c+"-md")),
	}
	for i := range machines {
		m := c + "-md-x-" + string(rune('a'+i))
		objs = append(objs,
			o("Machine", ns, m, owned("MachineSet", c+"-md-x")),
			o("KubeadmConfig", ns, m, owned("Machine", m)),
			o("OpenStackMachine", ns, m, owned("Machine", m)),
			o("Secret", ns, m, owned("KubeadmConfig", m)),
		)
	}
	return objs
}

func refStrings(nodes []*Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Ref.Kind+" "+n.Ref.Namespace+"/"+n.Ref.Name)
	}
	slices.Sort(out)
	return out
}

func TestNewGraph(t *testing.T) {
	withClass := func(ns string) func(*unstructured.Unstructured) {
		return field(map[string]any{"classRef": map[string]any{"name": "cc", "namespace": ns}}, "spec", "topology")
	}
	// classy returns clusterObjs with the Cluster using ClusterClass ccNS/cc.
	classy := func(ns, c, ccNS string) []*unstructured.Unstructured {
		objs := clusterObjs(ns, c, 1)
		objs[0] = o("Cluster", ns, c, withClass(ccNS))
		return objs
	}
	class := func(ns string) []*unstructured.Unstructured {
		return []*unstructured.Unstructured{
			o("ClusterClass", ns, "cc"),
			o("OpenStackMachineTemplate", ns, "cc-tmpl", owned("ClusterClass", "cc")),
		}
	}
	marked := annotated(OriginUIDAnnotation, "x")
	tests := []struct {
		name     string
		objs     []*unstructured.Unstructured
		sel      Selector
		moved    []string // "Kind ns/name"; nil means every object given
		kept     []string
		levels   [][]string // checked when set
		warnings []string
		wantErr  error
	}{
		{
			name: "one cluster: every object moves, owners first",
			objs: clusterObjs("ns", "c1", 1),
			levels: [][]string{
				{"Cluster ns/c1"},
				{"KubeadmControlPlane ns/c1-cp", "MachineDeployment ns/c1-md", "OpenStackCluster ns/c1", "OpenStackMachineTemplate ns/c1-cp", "OpenStackMachineTemplate ns/c1-md", "Secret ns/c1-kubeconfig"},
				{"Machine ns/c1-cp-0", "MachineSet ns/c1-md-x", "Secret ns/c1-ca"},
				{"KubeadmConfig ns/c1-cp-0", "Machine ns/c1-md-x-a", "OpenStackMachine ns/c1-cp-0"},
				{"KubeadmConfig ns/c1-md-x-a", "OpenStackMachine ns/c1-md-x-a"},
				{"Secret ns/c1-md-x-a"},
			},
		},
		{
			name: "unrelated objects stay; related ones left behind are warned about",
			objs: append(clusterObjs("ns", "c1", 0),
				o("Secret", "ns", "unrelated"),
				o("Secret", "ns", "c1-extra"),
				o("ConfigMap", "ns", "by-label", labelled(clusterNameLabel, "c1"), owned("Deployment", "x")),
				o("Machine", "ns", "orphan"),
				o("OpenStackMachine", "ns", "dangling", owned("Machine", "c1-cp-0"), owned("Deployment", "gone")),
			),
			moved: sorted(append(refStrings(objsNodes(clusterObjs("ns", "c1", 0))), "OpenStackMachine ns/dangling")),
			warnings: []string{
				"ConfigMap ns/by-label: labelled for moved Cluster c1 but not owned by anything that moves; left in the source",
				"Secret ns/c1-extra: named like a secret of moved Cluster c1 but not owned by it; left in the source",
				"Machine.cluster.x-k8s.io ns/orphan: not part of any moved Cluster, ClusterClass or ClusterResourceSet; left in the source",
				"OpenStackMachine.infrastructure.cluster.x-k8s.io ns/dangling: owner reference to Deployment gone dropped: the owner is not moved",
			},
		},
		{
			name:  "one namespace of two",
			objs:  append(clusterObjs("a", "c1", 1), clusterObjs("b", "c2", 1)...),
			sel:   Selector{Namespace: "a"},
			moved: refStrings(objsNodes(clusterObjs("a", "c1", 1))),
		},
		{
			name:  "named cluster: its shared ClusterClass is copied and kept",
			objs:  slices.Concat(class("ns"), classy("ns", "c1", "ns"), classy("ns", "c2", "ns")),
			sel:   Selector{Namespace: "ns", Clusters: []string{"c1"}},
			moved: refStrings(objsNodes(slices.Concat(class("ns"), classy("ns", "c1", "ns")))),
			kept:  []string{"ClusterClass ns/cc", "OpenStackMachineTemplate ns/cc-tmpl"},
			warnings: []string{
				"ClusterClass.cluster.x-k8s.io ns/cc: copied to the target and kept in the source: it is shared with objects that stay",
				"OpenStackMachineTemplate.infrastructure.cluster.x-k8s.io ns/cc-tmpl: copied to the target and kept in the source: it is shared with objects that stay",
			},
		},
		{
			name: "all namespaces: ClusterClass moves before its clusters and is not kept",
			objs: slices.Concat(class("ns"), classy("ns", "c1", "ns"), classy("ns", "c2", "ns")),
		},
		{
			name:  "namespace whose cluster uses a ClusterClass of another namespace",
			objs:  slices.Concat(class("a"), classy("b", "c1", "a")),
			sel:   Selector{Namespace: "b"},
			moved: nil,
			kept:  []string{"ClusterClass a/cc", "OpenStackMachineTemplate a/cc-tmpl"},
			warnings: []string{
				"ClusterClass.cluster.x-k8s.io a/cc: copied to the target and kept in the source: it is shared with objects that stay",
				"OpenStackMachineTemplate.infrastructure.cluster.x-k8s.io a/cc-tmpl: copied to the target and kept in the source: it is shared with objects that stay",
			},
		},
		{
			name: "move and move-hierarchy labels",
			objs: []*unstructured.Unstructured{
				o("ConfigMap", "ns", "alone", labelled(moveLabel, "")),
				o("Secret", "ns", "alone-child", owned("ConfigMap", "alone")),
				o("Secret", "ns", "tree", labelled(moveHierarchyLabel, "")),
				o("ConfigMap", "ns", "tree-child", owned("Secret", "tree")),
				o("Secret", "ns", "tree-grandchild", owned("ConfigMap", "tree-child")),
			},
			moved: []string{"ConfigMap ns/alone", "ConfigMap ns/tree-child", "Secret ns/tree", "Secret ns/tree-grandchild"},
		},
		{
			name: "ClusterResourceSet with its binding and resources",
			objs: append(clusterObjs("ns", "c1", 0),
				o("ClusterResourceSet", "ns", "crs", field([]any{map[string]any{"kind": "ConfigMap", "name": "cni"}, map[string]any{"kind": "Secret", "name": "cloud"}}, "spec", "resources")),
				o("ConfigMap", "ns", "cni"),
				o("Secret", "ns", "cloud"),
				o("ClusterResourceSetBinding", "ns", "c1", owned("ClusterResourceSet", "crs"), field("c1", "spec", "clusterName")),
			),
			levels: [][]string{
				{"Cluster ns/c1", "ClusterResourceSet ns/crs"},
				{"ClusterResourceSetBinding ns/c1", "ConfigMap ns/cni", "KubeadmControlPlane ns/c1-cp", "MachineDeployment ns/c1-md", "OpenStackCluster ns/c1", "OpenStackMachineTemplate ns/c1-cp", "OpenStackMachineTemplate ns/c1-md", "Secret ns/c1-kubeconfig", "Secret ns/cloud"},
				{"Machine ns/c1-cp-0", "MachineSet ns/c1-md-x", "Secret ns/c1-ca"},
				{"KubeadmConfig ns/c1-cp-0", "OpenStackMachine ns/c1-cp-0"},
			},
		},
		{
			name: "cluster-scoped identity and its secret are copied and kept",
			objs: []*unstructured.Unstructured{
				o("OpenStackClusterIdentity", "", "id"),
				o("Secret", "ns", "id-cred", owned("OpenStackClusterIdentity", "id")),
			},
			sel:  Selector{Namespace: "ns"},
			kept: []string{"OpenStackClusterIdentity /id", "Secret ns/id-cred"},
			warnings: []string{
				"Secret ns/id-cred: copied to the target and kept in the source: it is shared with objects that stay",
			},
		},
		{
			name: "marked objects only",
			objs: []*unstructured.Unstructured{
				o("Cluster", "ns", "c1", marked),
				o("Secret", "ns", "c1-kubeconfig", marked),
				o("Secret", "ns", "c1-ca"),
				o("Cluster", "other", "c1", marked),
			},
			sel:   Selector{Namespace: "ns", Marked: true},
			moved: []string{"Cluster ns/c1", "Secret ns/c1-kubeconfig"},
		},
		{
			name:    "owner cycle",
			objs:    []*unstructured.Unstructured{o("Cluster", "ns", "c1", owned("MachineSet", "ms")), o("MachineSet", "ns", "ms", owned("Cluster", "c1"))},
			wantErr: ErrOwnerCycle,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGraph(testTypes, tt.objs, tt.sel)
			if tt.wantErr != nil || err != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			want := tt.moved
			if want == nil {
				want = refStrings(objsNodes(tt.objs))
			}
			if diff := cmp.Diff(want, refStrings(g.Moved())); diff != "" {
				t.Errorf("moved (-want +got):\n%s", diff)
			}
			var kept []*Node
			for _, n := range g.Moved() {
				if n.Keep {
					kept = append(kept, n)
				}
			}
			if diff := cmp.Diff(tt.kept, refStrings(kept)); diff != "" {
				t.Errorf("kept (-want +got):\n%s", diff)
			}
			if tt.levels != nil {
				var got [][]string
				for _, l := range g.Levels() {
					got = append(got, refStrings(l))
				}
				if diff := cmp.Diff(tt.levels, got); diff != "" {
					t.Errorf("levels (-want +got):\n%s", diff)
				}
			}
			var warns []string
			for _, w := range g.Warnings() {
				warns = append(warns, w.String())
			}
			if diff := cmp.Diff(tt.warnings, warns); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			checkOrder(t, g)
		})
	}
}

func TestClusterObjects(t *testing.T) {
	objs := append(clusterObjs("ns", "c1", 3), clusterObjs("ns", "c2", 2)...)
	g, err := NewGraph(testTypes, objs, Selector{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		machines int
	}{{"c1", 3}, {"c2", 2}} {
		got := g.ClusterObjects("ns", c.name)
		if diff := cmp.Diff(refStrings(objsNodes(clusterObjs("ns", c.name, c.machines))), refStrings(got)); diff != "" {
			t.Errorf("ClusterObjects(%s) (-want +got):\n%s", c.name, diff)
		}
		if len(got) == 0 || got[0].Ref.Kind != "Cluster" {
			t.Errorf("ClusterObjects(%s) does not start with the Cluster", c.name)
		}
	}
	if n := len(g.Clusters()); n != 2 {
		t.Errorf("Clusters() = %d, want 2", n)
	}
}

// checkOrder asserts that every moved object's moved owners are on earlier levels.
func checkOrder(t *testing.T, g *Graph) {
	t.Helper()
	for _, n := range g.Moved() {
		for _, o := range append(slices.Clone(n.Owners()), n.SoftOwners()...) {
			if o.Move && o.Level() >= n.Level() {
				t.Errorf("%s on level %d, its owner %s on level %d", n.Ref, n.Level(), o.Ref, o.Level())
			}
		}
	}
}

func objsNodes(objs []*unstructured.Unstructured) []*Node {
	var out []*Node
	for _, u := range objs {
		out = append(out, &Node{Ref: refOf(u)})
	}
	return out
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
