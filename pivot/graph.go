package pivot

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// ErrOwnerCycle is returned when the owner references of the objects to move form
// a cycle, so no creation order exists.
var ErrOwnerCycle = errors.New("owner references form a cycle")

// Type describes one kind of object a graph may hold: the version used to read and
// write it (the storage version of its CRD), its REST resource and what the move
// contract says about it.
type Type struct {
	// GVK is the group, storage version and kind.
	GVK schema.GroupVersionKind
	// Resource is the plural REST resource name (e.g. "machines").
	Resource string
	// Namespaced is false for cluster-scoped types.
	Namespaced bool
	// StatusSubresource is true when status must be written through /status.
	StatusSubresource bool
	// Move moves every object of the type, like the clusterctl.cluster.x-k8s.io/move label.
	Move bool
	// MoveHierarchy moves every object of the type with everything it owns, like
	// Clusters, ClusterClasses and ClusterResourceSets.
	MoveHierarchy bool
}

// GVR returns the group, version and resource of the type.
func (t Type) GVR() schema.GroupVersionResource {
	return t.GVK.GroupVersion().WithResource(t.Resource)
}

// ObjectRef names one object.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String renders the reference as Kind.group namespace/name.
func (r ObjectRef) String() string {
	gk := r.Kind
	if r.Group != "" {
		gk += "." + r.Group
	}
	if r.Namespace == "" {
		return gk + " " + r.Name
	}
	return gk + " " + r.Namespace + "/" + r.Name
}

func refOf(obj *unstructured.Unstructured) ObjectRef {
	gvk := obj.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// Warning reports an object that is related to the moved clusters but is left
// behind, or a relation that the move cannot carry over.
type Warning struct {
	Object  ObjectRef
	Message string
}

// String renders the warning for humans.
func (w Warning) String() string { return w.Object.String() + ": " + w.Message }

// Selector chooses what a graph moves.
type Selector struct {
	// Namespace limits the move to one namespace; empty means all namespaces.
	Namespace string
	// Clusters limits the move to the named Clusters (in Namespace when it is set)
	// and what belongs to them.
	Clusters []string
	// Marked moves exactly the objects that carry the OriginUIDAnnotation; used to
	// move back what an earlier move wrote (Rollback).
	Marked bool
}

// Node is one object of the graph.
type Node struct {
	// Ref names the object.
	Ref ObjectRef
	// UID is the object's UID where the graph was read.
	UID types.UID
	// Type is the object's type.
	Type *Type
	// Object is the object as read.
	Object *unstructured.Unstructured
	// Move is true when the object is part of the move.
	Move bool
	// Keep is true for moved objects that are copied but not deleted from the
	// source: cluster-scoped objects and objects shared with clusters that stay.
	Keep bool

	owners     []*Node // owner references resolved inside the graph
	softOwners []*Node // ownership implied by naming, labels or references
	children   []*Node // inverse of owners and softOwners
	level      int
	isCluster  bool
	isClass    bool
}

// Owners returns the nodes named by the object's owner references.
func (n *Node) Owners() []*Node { return n.owners }

// SoftOwners returns the nodes that own the object by convention rather than by
// owner reference (cluster secrets by name, bindings, class references).
func (n *Node) SoftOwners() []*Node { return n.softOwners }

// Level returns the creation level: owners are on lower levels than what they own.
func (n *Node) Level() int { return n.level }

// Graph is the in-memory graph of the objects to move. It does no I/O: it is built
// from listed objects and answers what moves, in which order, and what is left behind.
type Graph struct {
	nodes    []*Node
	byID     map[ObjectRef]*Node
	byUID    map[types.UID]*Node
	moved    []*Node
	levels   [][]*Node
	warnings []Warning
	perClus  map[ObjectRef][]*Node
}

var (
	clusterGK        = schema.GroupKind{Group: "cluster.x-k8s.io", Kind: "Cluster"}
	clusterClassGK   = schema.GroupKind{Group: "cluster.x-k8s.io", Kind: "ClusterClass"}
	crsGK            = schema.GroupKind{Group: "addons.cluster.x-k8s.io", Kind: "ClusterResourceSet"}
	crsBindingGK     = schema.GroupKind{Group: "addons.cluster.x-k8s.io", Kind: "ClusterResourceSetBinding"}
	secretGK         = schema.GroupKind{Kind: "Secret"}
	configMapGK      = schema.GroupKind{Kind: "ConfigMap"}
	secretPurposes   = []string{"kubeconfig", "ca", "etcd", "sa", "proxy", "apiserver-etcd-client"}
	isCoreDataObject = func(gk schema.GroupKind) bool { return gk == secretGK || gk == configMapGK }
)

// NewGraph builds the graph of objs (of the given types) and selects what moves.
// Objects whose type is not in types are ignored. It fails only when the objects
// to move have cyclic owner references.
func NewGraph(typeList []Type, objs []*unstructured.Unstructured, sel Selector) (*Graph, error) {
	typeByGK := map[schema.GroupKind]*Type{}
	for i := range typeList {
		typeByGK[typeList[i].GVK.GroupKind()] = &typeList[i]
	}
	g := &Graph{byID: map[ObjectRef]*Node{}, byUID: map[types.UID]*Node{}, perClus: map[ObjectRef][]*Node{}}
	for _, obj := range objs {
		t, ok := typeByGK[obj.GroupVersionKind().GroupKind()]
		if !ok {
			continue
		}
		n := &Node{Ref: refOf(obj), UID: obj.GetUID(), Type: t, Object: obj}
		n.isCluster = t.GVK.GroupKind() == clusterGK
		n.isClass = t.GVK.GroupKind() == clusterClassGK
		if _, dup := g.byID[n.Ref]; dup {
			continue
		}
		g.nodes = append(g.nodes, n)
		g.byID[n.Ref] = n
		if n.UID != "" {
			g.byUID[n.UID] = n
		}
	}
	slices.SortFunc(g.nodes, func(a, b *Node) int { return compareRefs(a.Ref, b.Ref) })
	g.link()
	g.selectMoved(sel)
	if err := g.computeLevels(); err != nil {
		return nil, err
	}
	g.computeClusters()
	g.computeWarnings(sel)
	return g, nil
}

func compareRefs(a, b ObjectRef) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Group, b.Group),
		cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
}

// link resolves owner references and soft ownership.
func (g *Graph) link() {
	clusters := map[ObjectRef]*Node{} // key: namespace/name with Kind Cluster
	for _, n := range g.nodes {
		if n.isCluster {
			clusters[ObjectRef{Namespace: n.Ref.Namespace, Name: n.Ref.Name}] = n
		}
	}
	clusterNamed := func(ns, name string) *Node { return clusters[ObjectRef{Namespace: ns, Name: name}] }
	for _, n := range g.nodes {
		for _, or := range n.Object.GetOwnerReferences() {
			if o, ok := g.byUID[or.UID]; ok && o != n && !slices.Contains(n.owners, o) {
				n.owners = append(n.owners, o)
			}
		}
		gk := n.Type.GVK.GroupKind()
		switch {
		case isCoreDataObject(gk) && len(n.Object.GetOwnerReferences()) == 0:
			if c := clusterNamed(n.Ref.Namespace, n.Object.GetLabels()[clusterNameLabel]); c != nil {
				n.softOwners = append(n.softOwners, c)
			} else if gk == secretGK {
				if c := clusterNamed(n.Ref.Namespace, clusterOfSecretName(n.Ref.Name)); c != nil {
					n.softOwners = append(n.softOwners, c)
				}
			}
		case n.isCluster:
			name, ns := clusterClassOf(n.Object)
			if cc := g.byID[ObjectRef{Group: clusterClassGK.Group, Kind: clusterClassGK.Kind, Namespace: ns, Name: name}]; name != "" && cc != nil {
				n.softOwners = append(n.softOwners, cc)
			}
		case gk == crsBindingGK:
			name, _, _ := unstructured.NestedString(n.Object.Object, "spec", "clusterName")
			if c := clusterNamed(n.Ref.Namespace, name); c != nil {
				n.softOwners = append(n.softOwners, c)
			}
		case gk == crsGK:
			res, _, _ := unstructured.NestedSlice(n.Object.Object, "spec", "resources")
			for _, r := range res {
				m, _ := r.(map[string]any)
				kind, _ := m["kind"].(string)
				name, _ := m["name"].(string)
				ref := ObjectRef{Kind: kind, Namespace: n.Ref.Namespace, Name: name}
				if d := g.byID[ref]; d != nil && isCoreDataObject(schema.GroupKind{Kind: kind}) && len(d.Object.GetOwnerReferences()) == 0 && !slices.Contains(d.softOwners, n) {
					d.softOwners = append(d.softOwners, n)
				}
			}
		}
	}
	for _, n := range g.nodes {
		for _, o := range n.owners {
			o.children = append(o.children, n)
		}
		n.softOwners = slices.DeleteFunc(n.softOwners, func(o *Node) bool { return slices.Contains(n.owners, o) || o == n })
		for _, o := range n.softOwners {
			o.children = append(o.children, n)
		}
	}
}

// clusterOfSecretName returns the cluster name of a Cluster API secret named
// <cluster>-<purpose>, or "".
func clusterOfSecretName(name string) string {
	for _, p := range secretPurposes {
		if c, ok := strings.CutSuffix(name, "-"+p); ok && c != "" {
			return c
		}
	}
	return ""
}

// clusterClassOf returns the ClusterClass a Cluster's topology refers to.
func clusterClassOf(obj *unstructured.Unstructured) (name, namespace string) {
	name, _, _ = unstructured.NestedString(obj.Object, "spec", "topology", "classRef", "name")
	namespace, _, _ = unstructured.NestedString(obj.Object, "spec", "topology", "classRef", "namespace")
	if name == "" { // v1beta1 shape
		name, _, _ = unstructured.NestedString(obj.Object, "spec", "topology", "class")
		namespace, _, _ = unstructured.NestedString(obj.Object, "spec", "topology", "classNamespace")
	}
	return name, cmp.Or(namespace, obj.GetNamespace())
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// selectMoved marks the nodes that move and the ones kept in the source.
func (g *Graph) selectMoved(sel Selector) {
	inNamespace := func(n *Node) bool {
		return sel.Namespace == "" || n.Ref.Namespace == "" || n.Ref.Namespace == sel.Namespace
	}
	if sel.Marked {
		for _, n := range g.nodes {
			if inNamespace(n) && hasKey(n.Object.GetAnnotations(), OriginUIDAnnotation) {
				n.Move = true
				n.Keep = n.Ref.Namespace == ""
			}
		}
		g.collectMoved()
		return
	}
	named := map[string]bool{}
	for _, c := range sel.Clusters {
		named[c] = true
	}
	root := map[*Node]bool{}
	for _, n := range g.nodes {
		if !inNamespace(n) {
			continue
		}
		if len(named) > 0 {
			if n.isCluster && named[n.Ref.Name] {
				root[n] = true
			}
			continue
		}
		labels := n.Object.GetLabels()
		if n.Type.MoveHierarchy || n.Type.Move || hasKey(labels, moveHierarchyLabel) || hasKey(labels, moveLabel) {
			root[n] = true
		}
	}
	hierarchy := func(n *Node) bool {
		return n.Type.MoveHierarchy || hasKey(n.Object.GetLabels(), moveHierarchyLabel)
	}
	// Descend from the roots; clusters are entered only when they are roots, and a
	// plain move-labelled object moves alone.
	keep := map[*Node]bool{}
	var visit func(n *Node, kept, checkNS bool)
	visit = func(n *Node, kept, checkNS bool) {
		if n.Move {
			return
		}
		n.Move = true
		keep[n] = kept || n.Ref.Namespace == ""
		if root[n] && !hierarchy(n) {
			return
		}
		for _, c := range n.children {
			if c.isCluster && !root[c] || checkNS && !inNamespace(c) {
				continue
			}
			visit(c, keep[n], checkNS)
		}
	}
	for _, n := range g.nodes {
		if root[n] {
			visit(n, false, true)
		}
	}
	// Close upwards: owners of moved objects move too, and stay in the source when
	// they are not themselves selected (a ClusterClass shared with other clusters).
	for changed := true; changed; {
		changed = false
		for _, n := range g.nodes {
			if !n.Move {
				continue
			}
			for _, o := range append(slices.Clone(n.owners), n.softOwners...) {
				// A Cluster that is not selected never moves because of another
				// object: the relation is dropped with a warning instead.
				if !o.Move && !(o.isCluster && !root[o]) {
					visit(o, true, false)
					changed = true
				}
			}
		}
	}
	for _, n := range g.nodes {
		n.Keep = n.Move && keep[n]
	}
	g.collectMoved()
}

func (g *Graph) collectMoved() {
	for _, n := range g.nodes {
		if n.Move {
			g.moved = append(g.moved, n)
		}
	}
}

// computeLevels orders the moved nodes so that owners come before what they own.
func (g *Graph) computeLevels() error {
	pending := map[*Node]int{}
	for _, n := range g.moved {
		pending[n] = len(g.movedOwners(n))
	}
	var current []*Node
	for _, n := range g.moved {
		if pending[n] == 0 {
			current = append(current, n)
		}
	}
	placed := 0
	for len(current) > 0 {
		level := len(g.levels)
		g.levels = append(g.levels, current)
		placed += len(current)
		var next []*Node
		for _, n := range current {
			n.level = level
			for _, c := range n.children {
				if !c.Move {
					continue
				}
				pending[c]--
				if pending[c] == 0 {
					next = append(next, c)
				}
			}
		}
		slices.SortFunc(next, func(a, b *Node) int { return compareRefs(a.Ref, b.Ref) })
		current = next
	}
	if placed != len(g.moved) {
		var stuck []string
		for _, n := range g.moved {
			if pending[n] > 0 {
				stuck = append(stuck, n.Ref.String())
			}
		}
		return fmt.Errorf("%w: %s", ErrOwnerCycle, strings.Join(stuck, ", "))
	}
	return nil
}

// movedOwners returns the distinct moved owners (hard and soft) of n.
func (g *Graph) movedOwners(n *Node) []*Node {
	var out []*Node
	for _, o := range n.owners {
		if o.Move && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	for _, o := range n.softOwners {
		if o.Move {
			out = append(out, o)
		}
	}
	return out
}

// computeClusters records, for each moved Cluster, the objects that belong to it.
func (g *Graph) computeClusters() {
	for _, c := range g.moved {
		if !c.isCluster {
			continue
		}
		seen := map[*Node]bool{c: true}
		queue := []*Node{c}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			for _, ch := range n.children {
				if !seen[ch] && ch.Move && !ch.isCluster {
					seen[ch] = true
					queue = append(queue, ch)
				}
			}
		}
		var members []*Node
		for n := range seen {
			members = append(members, n)
		}
		slices.SortFunc(members, func(a, b *Node) int { return cmp.Or(a.level-b.level, compareRefs(a.Ref, b.Ref)) })
		g.perClus[c.Ref] = members
	}
}

// computeWarnings reports related objects that stay behind and relations that
// cannot be carried over.
func (g *Graph) computeWarnings(sel Selector) {
	movedClusters := map[ObjectRef]bool{}
	for _, n := range g.moved {
		if n.isCluster {
			movedClusters[ObjectRef{Namespace: n.Ref.Namespace, Name: n.Ref.Name}] = true
		}
	}
	warn := func(n *Node, format string, args ...any) {
		g.warnings = append(g.warnings, Warning{Object: n.Ref, Message: fmt.Sprintf(format, args...)})
	}
	for _, n := range g.nodes {
		if n.Move {
			for _, or := range n.Object.GetOwnerReferences() {
				if o, ok := g.byUID[or.UID]; !ok || !o.Move {
					warn(n, "owner reference to %s %s dropped: the owner is not moved", or.Kind, or.Name)
				}
			}
			if n.Keep && n.Ref.Namespace != "" {
				warn(n, "copied to the target and kept in the source: it is shared with objects that stay")
			}
			continue
		}
		if sel.Marked || (sel.Namespace != "" && n.Ref.Namespace != sel.Namespace) {
			continue
		}
		ns := n.Ref.Namespace
		if c := n.Object.GetLabels()[clusterNameLabel]; c != "" && movedClusters[ObjectRef{Namespace: ns, Name: c}] {
			warn(n, "labelled for moved Cluster %s but not owned by anything that moves; left in the source", c)
			continue
		}
		if isCoreDataObject(n.Type.GVK.GroupKind()) {
			for c := range movedClusters {
				if c.Namespace == ns && strings.HasPrefix(n.Ref.Name, c.Name+"-") {
					warn(n, "named like a secret of moved Cluster %s but not owned by it; left in the source", c.Name)
					break
				}
			}
			continue
		}
		if len(sel.Clusters) == 0 && n.Ref.Namespace != "" {
			warn(n, "not part of any moved Cluster, ClusterClass or ClusterResourceSet; left in the source")
		}
	}
	slices.SortStableFunc(g.warnings, func(a, b Warning) int { return compareRefs(a.Object, b.Object) })
}

// Nodes returns every object of the graph, moved or not, in a stable order.
func (g *Graph) Nodes() []*Node { return g.nodes }

// Moved returns the objects that move, in a stable order.
func (g *Graph) Moved() []*Node { return g.moved }

// Levels returns the moved objects grouped by creation level: every object's
// owners are on earlier levels, so each level can be created concurrently.
func (g *Graph) Levels() [][]*Node { return g.levels }

// Warnings returns the related objects left behind and the relations dropped.
func (g *Graph) Warnings() []Warning { return g.warnings }

// Lookup returns the node for ref, or nil.
func (g *Graph) Lookup(ref ObjectRef) *Node { return g.byID[ref] }

// ByUID returns the node with the given UID, or nil.
func (g *Graph) ByUID(uid types.UID) *Node { return g.byUID[uid] }

// Clusters returns the moved Cluster objects.
func (g *Graph) Clusters() []*Node {
	var out []*Node
	for _, n := range g.moved {
		if n.isCluster {
			out = append(out, n)
		}
	}
	return out
}

// ClusterClasses returns the moved ClusterClass objects.
func (g *Graph) ClusterClasses() []*Node {
	var out []*Node
	for _, n := range g.moved {
		if n.isClass {
			out = append(out, n)
		}
	}
	return out
}

// ClusterObjects returns the moved objects that belong to the Cluster
// namespace/name (the Cluster first), ordered by level.
func (g *Graph) ClusterObjects(namespace, name string) []*Node {
	return g.perClus[ObjectRef{Group: clusterGK.Group, Kind: clusterGK.Kind, Namespace: namespace, Name: name}]
}
