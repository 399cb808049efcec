package pivot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/openstrap/openstrap/internal/retry"
)

// writePolicy retries transient errors and update conflicts (each attempt reads
// again what it needs).
var writePolicy = retry.Policy{Retryable: func(err error) bool {
	return isTransient(err) || (apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err))
}}

// Move moves the Cluster API objects selected by opts from the management
// cluster from to the management cluster to: it pauses the clusters, waits for
// block-move annotations to clear, creates every object in the target in owner
// order with its status and remapped owner references, verifies the target,
// deletes the objects from the source and unpauses the clusters in the target.
//
// Move is resumable: every object it writes carries OriginUIDAnnotation, so when
// a Move is interrupted at any point, running it again completes it with each
// object exactly once in the target and none in the source. Objects are deleted
// from the source only after the target holds all of them, so no object is ever
// in neither cluster. Rollback undoes an interrupted or completed Move instead.
func Move(ctx context.Context, from, to *rest.Config, opts Options) (*Report, error) {
	src, err := newKube(from)
	if err != nil {
		return nil, err
	}
	dst, err := newKube(to)
	if err != nil {
		return nil, err
	}
	m := newMover(opts, opts.selector())
	m.src, m.dst = src, dst
	return m.run(ctx)
}

// Rollback undoes a Move from from to to, interrupted at any point or completed:
// the objects the Move wrote in to (those carrying OriginUIDAnnotation, within
// opts.Namespace and opts.Clusters) are moved back where their origin is gone and
// deleted from to where it still exists, and the clusters the Move paused are
// unpaused in from. Rollback is itself resumable.
func Rollback(ctx context.Context, from, to *rest.Config, opts Options) (*Report, error) {
	src, err := newKube(to)
	if err != nil {
		return nil, err
	}
	dst, err := newKube(from)
	if err != nil {
		return nil, err
	}
	sel := opts.selector()
	sel.Marked = true
	opts.SkipProvisionedCheck = true
	m := newMover(opts, sel)
	m.src, m.dst = src, dst
	return m.run(ctx)
}

type mover struct {
	opts Options
	sel  Selector
	log  logr.Logger

	src      *kube                        // the live source, or nil for a directory
	files    []*unstructured.Unstructured // the directory's objects when src is nil
	dir      string                       // where ToDirectory writes, when dst is nil
	dst      *kube
	srcTypes []Type
	dstCRDs  []apiextensionsv1.CustomResourceDefinition
	dstTypes map[schema.GroupKind]Type

	g        *Graph
	dstIndex map[ObjectRef]*unstructured.Unstructured

	mu   sync.Mutex
	uids map[*Node]k8stypes.UID
	rep  Report

	evMu   sync.Mutex
	evDone map[string]int
}

func newMover(opts Options, sel Selector) *mover {
	return &mover{opts: opts, sel: sel, uids: map[*Node]k8stypes.UID{}, rep: Report{DryRun: opts.DryRun, Moved: map[string]int{}}}
}

func (m *mover) run(ctx context.Context) (*Report, error) {
	start := time.Now()
	m.log = logr.FromContextOrDiscard(ctx).WithName("pivot")
	err := m.phases(ctx)
	m.rep.Duration = time.Since(start)
	if err != nil {
		return &m.rep, err
	}
	m.phase(PhaseDone, len(m.rep.Plan))
	return &m.rep, nil
}

func (m *mover) phases(ctx context.Context) error {
	m.phase(PhaseDiscover, 0)
	if err := m.discoverTypes(ctx); err != nil {
		return err
	}
	if err := m.snapshot(ctx); err != nil {
		return err
	}
	if m.dst != nil {
		if err := m.resolveTargetTypes(); err != nil {
			return err
		}
		if err := m.indexTarget(ctx); err != nil {
			return err
		}
	}
	m.phase(PhasePreflight, len(m.g.Moved()))
	if err := m.preflight(); err != nil {
		return err
	}
	m.log.Info("Move planned", "objects", len(m.g.Moved()), "levels", len(m.g.Levels()), "dryRun", m.opts.DryRun)
	if m.opts.DryRun {
		for _, e := range m.rep.Plan { // what would be moved
			m.rep.Moved[kindOf(e.Object)]++
		}
		return nil
	}
	if m.src != nil {
		if err := m.pause(ctx); err != nil {
			return err
		}
		if err := m.waitUnblocked(ctx); err != nil {
			return err
		}
	}
	if m.dst == nil {
		if err := m.writeFiles(); err != nil {
			return err
		}
		return m.unpauseSource(ctx, false)
	}
	if err := m.copyAll(ctx); err != nil {
		return err
	}
	if err := m.verifyTarget(ctx); err != nil {
		return err
	}
	if m.src != nil {
		if err := m.deleteAll(ctx); err != nil {
			return err
		}
		if err := m.verifySource(ctx); err != nil {
			return err
		}
		if err := m.unpauseSource(ctx, true); err != nil {
			return err
		}
	}
	return m.unpauseTarget(ctx)
}

// ---- discovery -------------------------------------------------------------

func (m *mover) discoverTypes(ctx context.Context) error {
	if m.dst != nil {
		crds, err := m.dst.crds(ctx)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		m.dstCRDs = crds
	}
	if m.src == nil { // a directory: the target's CRDs say what each kind is
		types := typesFromCRDs(m.dstCRDs, m.opts.ExtraCRDLabels, m.opts.ExtraTypes)
		seen := map[schema.GroupVersionKind]bool{}
		for _, t := range types {
			seen[t.GVK] = true
		}
		for _, obj := range m.files { // kinds in the files in a version other than the storage one
			gvk := obj.GroupVersionKind()
			if seen[gvk] {
				continue
			}
			for _, t := range types {
				if t.GVK.GroupKind() == gvk.GroupKind() {
					t.GVK = gvk
					types = append(types, t)
					seen[gvk] = true
					break
				}
			}
		}
		m.srcTypes = types
		return nil
	}
	crds, err := m.src.crds(ctx)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	m.srcTypes = typesFromCRDs(crds, m.opts.ExtraCRDLabels, m.opts.ExtraTypes)
	return nil
}

// snapshot reads the source objects and builds the graph. In one namespace it
// also reads the namespaces of ClusterClasses the clusters use.
func (m *mover) snapshot(ctx context.Context) error {
	if m.src == nil {
		g, err := NewGraph(m.srcTypes, m.files, m.sel)
		if err != nil {
			return err
		}
		m.g = g
		return nil
	}
	var namespaces []string
	if m.sel.Namespace != "" {
		namespaces = []string{m.sel.Namespace}
	}
	for {
		objs, err := m.listAll(ctx, m.src, m.srcTypes, namespaces)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		g, err := NewGraph(m.srcTypes, objs, m.sel)
		if err != nil {
			return err
		}
		m.g = g
		if namespaces == nil {
			return nil
		}
		more := false
		for _, c := range g.Clusters() {
			if name, ns := clusterClassOf(c.Object); name != "" && !slices.Contains(namespaces, ns) {
				namespaces = append(namespaces, ns)
				more = true
			}
		}
		if !more {
			return nil
		}
	}
}

// listAll lists the given types concurrently.
func (m *mover) listAll(ctx context.Context, k *kube, types []Type, namespaces []string) ([]*unstructured.Unstructured, error) {
	results := make([][]*unstructured.Unstructured, len(types))
	errs := make([]error, len(types))
	var wg sync.WaitGroup
	sem := make(chan struct{}, m.opts.concurrency())
	for i := range types {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = k.list(ctx, &types[i], namespaces)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(results...), nil
}

func (m *mover) resolveTargetTypes() error {
	m.dstTypes = map[schema.GroupKind]Type{}
	var errs []error
	needed := map[schema.GroupKind]Type{}
	for _, n := range m.g.Moved() {
		needed[n.Type.GVK.GroupKind()] = *n.Type
	}
	for _, gk := range []schema.GroupKind{clusterGK, clusterClassGK} {
		for _, t := range m.srcTypes {
			if t.GVK.GroupKind() == gk {
				if _, ok := needed[gk]; !ok {
					if tt, err := targetType(t, m.dstCRDs); err == nil {
						m.dstTypes[gk] = tt // optional: used to find clusters left paused
					}
				}
			}
		}
	}
	for _, gk := range slices.SortedFunc(maps.Keys(needed), func(a, b schema.GroupKind) int { return strings.Compare(a.String(), b.String()) }) {
		t, err := targetType(needed[gk], m.dstCRDs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.dstTypes[gk] = t
	}
	return errors.Join(errs...)
}

// targetNamespaces returns the namespaces to read in the target (nil: all).
func (m *mover) targetNamespaces() []string {
	if m.sel.Namespace == "" {
		return nil
	}
	nss := []string{m.sel.Namespace}
	for _, n := range m.g.Moved() {
		if n.Ref.Namespace != "" && !slices.Contains(nss, n.Ref.Namespace) {
			nss = append(nss, n.Ref.Namespace)
		}
	}
	return nss
}

func (m *mover) indexTarget(ctx context.Context) error {
	types := slices.Collect(maps.Values(m.dstTypes))
	objs, err := m.listAll(ctx, m.dst, types, m.targetNamespaces())
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	m.dstIndex = make(map[ObjectRef]*unstructured.Unstructured, len(objs))
	for _, obj := range objs {
		m.dstIndex[refOf(obj)] = obj
	}
	return nil
}

// ---- plan and preconditions ------------------------------------------------

type relation int

const (
	relNone     relation = iota // nothing in the target
	relCopy                     // our copy of this object
	relOrigin                   // the object this one was copied from (moving back)
	relForeign                  // someone else's object, usable for kept objects
	relConflict                 // someone else's object
)

func relate(n *Node, existing *unstructured.Unstructured) relation {
	switch {
	case existing == nil:
		return relNone
	case existing.GetAnnotations()[OriginUIDAnnotation] == string(n.UID):
		return relCopy
	case n.Object.GetAnnotations()[OriginUIDAnnotation] == string(existing.GetUID()), existing.GetUID() == n.UID:
		return relOrigin
	case n.Keep:
		return relForeign
	default:
		return relConflict
	}
}

func (m *mover) preflight() error {
	var errs []error
	m.rep.Plan = m.rep.Plan[:0]
	for _, level := range m.g.Levels() {
		for _, n := range level {
			e := PlanEntry{Object: n.Ref, Level: n.Level(), Action: ActionCreate, Keep: n.Keep}
			if m.dst != nil {
				switch relate(n, m.dstIndex[n.Ref]) {
				case relCopy, relOrigin:
					e.Action = ActionResume
				case relForeign:
					e.Action = ActionUseExisting
				case relConflict:
					errs = append(errs, &ObjectError{Op: "preflight", Object: n.Ref, Err: fmt.Errorf("%w: it has UID %s and was not copied from UID %s",
						ErrConflict, m.dstIndex[n.Ref].GetUID(), n.UID)})
				}
			}
			m.rep.Plan = append(m.rep.Plan, e)
		}
	}
	m.rep.Warnings = m.g.Warnings()
	if m.src == nil {
		return errors.Join(errs...)
	}
	for _, n := range m.g.Moved() {
		if !n.isCluster && !n.isClass {
			continue
		}
		ann := n.Object.GetAnnotations()
		paused := hasKey(ann, pausedAnnotation)
		if n.isCluster {
			p, _, _ := unstructured.NestedBool(n.Object.Object, "spec", "paused")
			paused = paused || p
		}
		if paused && !hasKey(ann, PausedByMoveAnnotation) && !m.opts.AllowPaused {
			errs = append(errs, &ObjectError{Op: "preflight", Object: n.Ref, Err: ErrPaused})
		}
		if n.isCluster && !m.opts.SkipProvisionedCheck && !provisioned(n.Object) {
			errs = append(errs, &ObjectError{Op: "preflight", Object: n.Ref, Err: ErrNotProvisioned})
		}
	}
	return errors.Join(errs...)
}

// provisioned reports whether a v1beta2 Cluster's infrastructure is ready and,
// when it has a control plane, the control plane is initialized.
func provisioned(c *unstructured.Unstructured) bool {
	infra, _, _ := unstructured.NestedBool(c.Object, "status", "initialization", "infrastructureProvisioned")
	if !infra {
		return false
	}
	if cp, _, _ := unstructured.NestedMap(c.Object, "spec", "controlPlaneRef"); len(cp) == 0 {
		return true
	}
	init, _, _ := unstructured.NestedBool(c.Object, "status", "initialization", "controlPlaneInitialized")
	return init
}

// ---- pause and block-move --------------------------------------------------

func (m *mover) pausable() []*Node {
	return slices.Concat(m.g.Clusters(), m.g.ClusterClasses())
}

func (m *mover) pause(ctx context.Context) error {
	nodes := m.pausable()
	m.phase(PhasePause, len(nodes))
	return m.forEach(ctx, nodes, PhasePause, func(ctx context.Context, n *Node) error {
		ann := n.Object.GetAnnotations()
		if hasKey(ann, PausedByMoveAnnotation) {
			return nil
		}
		if p, _, _ := unstructured.NestedBool(n.Object.Object, "spec", "paused"); p || hasKey(ann, pausedAnnotation) {
			return nil // paused by someone else and allowed by preflight: leave it
		}
		patch := map[string]any{"metadata": map[string]any{
			"uid":         string(n.UID),
			"annotations": map[string]any{PausedByMoveAnnotation: "true"},
		}}
		if n.isCluster {
			patch["spec"] = map[string]any{"paused": true}
		} else {
			patch["metadata"].(map[string]any)["annotations"].(map[string]any)[pausedAnnotation] = ""
		}
		return m.patch(ctx, m.src, n.Type, n.Ref, patch)
	})
}

func (m *mover) patch(ctx context.Context, k *kube, t *Type, ref ObjectRef, patch map[string]any) error {
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	err = retry.Do(ctx, writePolicy, func(ctx context.Context) error {
		_, err := k.res(t, ref.Namespace).Patch(ctx, ref.Name, k8stypes.MergePatchType, body, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return &ObjectError{Op: "patch", Object: ref, Err: err}
	}
	return nil
}

// waitUnblocked takes the snapshot to copy: it reads the source again (now that
// the clusters are paused) until no object to move carries the block-move
// annotation.
func (m *mover) waitUnblocked(ctx context.Context) error {
	m.phase(PhaseWait, len(m.g.Moved()))
	return retry.Until(ctx, retry.Policy{Initial: 500 * time.Millisecond, Max: 5 * time.Second, Retryable: isTransient}, func(ctx context.Context) (bool, error) {
		if err := m.snapshot(ctx); err != nil {
			return false, err
		}
		if m.dst != nil {
			if err := m.resolveTargetTypes(); err != nil {
				return false, retry.Permanent(err)
			}
		}
		var blocked []string
		for _, n := range m.g.Moved() {
			if hasKey(n.Object.GetAnnotations(), blockMoveAnnotation) {
				blocked = append(blocked, n.Ref.String())
			}
		}
		if len(blocked) > 0 {
			m.log.Info("Move blocked, waiting", "annotation", blockMoveAnnotation, "objects", blocked)
			return false, nil
		}
		// New objects may have appeared since the first look: check them too.
		if err := m.preflight(); err != nil {
			return false, retry.Permanent(err)
		}
		return true, nil
	})
}

// ---- copy ------------------------------------------------------------------

func (m *mover) uid(n *Node) k8stypes.UID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.uids[n]
}

func (m *mover) setUID(n *Node, uid k8stypes.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.uids[n] = uid
}

func (m *mover) count(f func(r *Report)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.rep)
}

// desired returns the object to write in the target for n: its source content
// with server-set metadata removed, the marker set and owner references pointing
// at the target's copies of its owners.
func (m *mover) desired(n *Node, t Type) *unstructured.Unstructured {
	obj := n.Object.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	if obj.GetName() != "" {
		obj.SetGenerateName("")
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[OriginUIDAnnotation] = string(n.UID)
	// Left by an interrupted deletion in the source: they must not reach the
	// target, and the finalizers that deletion removed are copied.
	delete(ann, deleteForMoveAnnotation)
	if v, ok := ann[RemovedFinalizersAnnotation]; ok {
		var fin []string
		if json.Unmarshal([]byte(v), &fin) == nil && len(obj.GetFinalizers()) == 0 {
			obj.SetFinalizers(fin)
		}
		delete(ann, RemovedFinalizersAnnotation)
	}
	obj.SetAnnotations(ann)
	var refs []metav1.OwnerReference
	for _, r := range n.Object.GetOwnerReferences() {
		if o := m.g.ByUID(r.UID); o != nil && o.Move {
			r.UID = m.uid(o)
			refs = append(refs, r)
		}
	}
	obj.SetOwnerReferences(refs)
	obj.SetGroupVersionKind(t.GVK)
	return obj
}

// keepPauseState returns want with the pause state (spec.paused, the paused
// annotations) of existing.
func keepPauseState(want, existing *unstructured.Unstructured) *unstructured.Unstructured {
	want = want.DeepCopy()
	ann := want.GetAnnotations()
	delete(ann, PausedByMoveAnnotation)
	delete(ann, pausedAnnotation)
	if v, ok := existing.GetAnnotations()[pausedAnnotation]; ok {
		ann[pausedAnnotation] = v
	}
	want.SetAnnotations(ann)
	unstructured.RemoveNestedField(want.Object, "spec", "paused")
	if p, ok, _ := unstructured.NestedFieldCopy(existing.Object, "spec", "paused"); ok {
		_ = unstructured.SetNestedField(want.Object, p, "spec", "paused")
	}
	return want
}

// sameContent compares everything a move writes except status (when it has a
// subresource) and the marker.
func sameContent(a, b *unstructured.Unstructured, withStatus bool) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		out := map[string]any{}
		for k, v := range u.Object {
			if k != "metadata" && k != "apiVersion" && k != "kind" && (k != "status" || withStatus) {
				out[k] = v
			}
		}
		ann := maps.Clone(u.GetAnnotations())
		delete(ann, OriginUIDAnnotation)
		out["metadata"] = []any{u.GetLabels(), ann, u.GetFinalizers(), u.GetOwnerReferences()}
		return out
	}
	return equality.Semantic.DeepEqual(normalize(strip(a)), normalize(strip(b)))
}

// normalize round-trips v through JSON so that nil and empty values and number
// types compare alike.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func (m *mover) ensureNamespaces(ctx context.Context) error {
	var nss []string
	for _, n := range m.g.Moved() {
		if n.Ref.Namespace != "" && !slices.Contains(nss, n.Ref.Namespace) {
			nss = append(nss, n.Ref.Namespace)
		}
	}
	for _, ns := range nss {
		err := retry.Do(ctx, writePolicy, func(ctx context.Context) error {
			if _, err := m.dst.dyn.Resource(namespaceGVR).Get(ctx, ns, metav1.GetOptions{}); err == nil {
				return nil
			}
			obj := &unstructured.Unstructured{}
			obj.SetAPIVersion("v1")
			obj.SetKind("Namespace")
			obj.SetName(ns)
			_, err := m.dst.dyn.Resource(namespaceGVR).Create(ctx, obj, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("create namespace %q in the target: %w", ns, err)
		}
	}
	return nil
}

func (m *mover) copyAll(ctx context.Context) error {
	if err := m.ensureNamespaces(ctx); err != nil {
		return err
	}
	m.phase(PhaseCreate, len(m.g.Moved()))
	return m.runDAG(ctx, PhaseCreate, m.g.Moved(), m.g.movedOwners, m.copyNode)
}

func (m *mover) copyNode(ctx context.Context, n *Node) error {
	t := m.dstTypes[n.Type.GVK.GroupKind()]
	want := m.desired(n, t)
	status, hasStatus := want.Object["status"]
	hasStatus = hasStatus && status != nil && t.StatusSubresource
	existing := m.dstIndex[n.Ref]
	res := m.dst.res(&t, n.Ref.Namespace)
	err := retry.Do(ctx, writePolicy, func(ctx context.Context) error {
		if existing == nil {
			created, err := res.Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) { // an earlier attempt's answer was lost, or a race
				if existing, err = res.Get(ctx, n.Ref.Name, metav1.GetOptions{}); err != nil {
					return err
				}
			} else if err != nil {
				return err
			} else {
				m.count(func(r *Report) { r.Created++ })
				existing = created
				m.setUID(n, created.GetUID())
				if !hasStatus {
					return nil
				}
				created.Object["status"] = status
				updated, err := res.UpdateStatus(ctx, created, metav1.UpdateOptions{})
				if err != nil {
					return err
				}
				existing = updated
				return nil
			}
		}
		rel := relate(n, existing)
		switch rel {
		case relConflict:
			return retry.Permanent(fmt.Errorf("%w: it has UID %s and was not copied from UID %s", ErrConflict, existing.GetUID(), n.UID))
		case relForeign:
			m.setUID(n, existing.GetUID())
			return nil
		}
		m.setUID(n, existing.GetUID())
		if hasKey(want.GetAnnotations(), PausedByMoveAnnotation) && !hasKey(existing.GetAnnotations(), PausedByMoveAnnotation) {
			// Already unpaused by an earlier run (or restore): keep it so.
			want = keepPauseState(want, existing)
		}
		if !sameContent(existing, want, !t.StatusSubresource) {
			upd := want.DeepCopy()
			if rel == relOrigin { // the origin keeps its own annotations' marker state
				ann := upd.GetAnnotations()
				delete(ann, OriginUIDAnnotation)
				if v, ok := existing.GetAnnotations()[OriginUIDAnnotation]; ok {
					ann[OriginUIDAnnotation] = v
				}
				upd.SetAnnotations(ann)
			}
			upd.SetUID(existing.GetUID())
			upd.SetResourceVersion(existing.GetResourceVersion())
			updated, err := res.Update(ctx, upd, metav1.UpdateOptions{})
			if err != nil {
				existing = m.refetch(ctx, res, n.Ref.Name, existing, err)
				return err
			}
			m.count(func(r *Report) { r.Updated++ })
			existing = updated
		}
		if hasStatus && !equality.Semantic.DeepEqual(normalize(existing.Object["status"]), normalize(status)) {
			upd := existing.DeepCopy()
			upd.Object["status"] = status
			updated, err := res.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
			if err != nil {
				existing = m.refetch(ctx, res, n.Ref.Name, existing, err)
				return err
			}
			existing = updated
		}
		return nil
	})
	if err != nil {
		return &ObjectError{Op: "copy", Object: n.Ref, Err: err}
	}
	return nil
}

// refetch reads the object again after a failed write so the next attempt works
// from its current state; it keeps old when the read fails too.
func (m *mover) refetch(ctx context.Context, res interface {
	Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
}, name string, old *unstructured.Unstructured, cause error) *unstructured.Unstructured {
	if !apierrors.IsConflict(cause) && !isTransient(cause) {
		return old
	}
	if cur, err := res.Get(ctx, name, metav1.GetOptions{}); err == nil {
		return cur
	}
	return old
}

// verifyTarget reads the target again and checks that it holds every object.
func (m *mover) verifyTarget(ctx context.Context) error {
	m.phase(PhaseVerify, len(m.g.Moved()))
	if err := m.indexTarget(ctx); err != nil {
		return err
	}
	var missing []string
	for _, n := range m.g.Moved() {
		obj := m.dstIndex[n.Ref]
		if obj == nil || obj.GetUID() != m.uid(n) {
			missing = append(missing, n.Ref.String())
			continue
		}
		m.rep.Moved[kindOf(n.Ref)]++
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: not found in the target after creation: %s", ErrIncomplete, strings.Join(missing, ", "))
	}
	return nil
}

// ---- delete ----------------------------------------------------------------

func (m *mover) deleteAll(ctx context.Context) error {
	m.phase(PhaseDelete, len(m.g.Moved()))
	movedChildren := func(n *Node) []*Node {
		var out []*Node
		for _, c := range n.children {
			if c.Move {
				out = append(out, c)
			}
		}
		return out
	}
	return m.runDAG(ctx, PhaseDelete, m.g.Moved(), movedChildren, m.deleteNode)
}

func (m *mover) deleteNode(ctx context.Context, n *Node) error {
	if n.Keep {
		return nil
	}
	res := m.src.res(n.Type, n.Ref.Namespace)
	// Only an object with finalizers lives on after the DELETE and can be seen
	// being deleted by its controller, which must know it is a move
	// (delete-for-move) and must not hold it (finalizers). Objects without
	// finalizers are deleted with one request.
	needsPatch := len(n.Object.GetFinalizers()) > 0
	ann := map[string]any{deleteForMoveAnnotation: ""}
	if fin := n.Object.GetFinalizers(); len(fin) > 0 {
		// Recorded so that a resumed move still copies them (and Rollback restores them).
		b, _ := json.Marshal(fin)
		ann[RemovedFinalizersAnnotation] = string(b)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": n.UID, "annotations": ann, "finalizers": nil}})
	if err != nil {
		return err
	}
	err = retry.Do(ctx, writePolicy, func(ctx context.Context) error {
		if needsPatch {
			_, err := res.Patch(ctx, n.Ref.Name, k8stypes.MergePatchType, patch, metav1.PatchOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				if m.replaced(ctx, n, res) {
					return nil
				}
				return err
			}
		}
		err := res.Delete(ctx, n.Ref.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &n.UID}})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil && m.replaced(ctx, n, res) {
			return nil
		}
		if err == nil {
			m.count(func(r *Report) { r.Deleted++ })
		}
		return err
	})
	if err != nil {
		return &ObjectError{Op: "delete from the source", Object: n.Ref, Err: err}
	}
	return nil
}

// replaced reports whether the source object of n is gone or has been replaced
// by another object of the same name (which a move must not touch).
func (m *mover) replaced(ctx context.Context, n *Node, res interface {
	Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
}) bool {
	cur, err := res.Get(ctx, n.Ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && cur.GetUID() != n.UID
}

// verifySource checks that no moved object is left in the source, removing the
// finalizers of moved objects that were added back during the deletion.
func (m *mover) verifySource(ctx context.Context) error {
	var types []Type
	for _, t := range m.srcTypes {
		for _, n := range m.g.Moved() {
			if !n.Keep && n.Type.GVK == t.GVK {
				types = append(types, t)
				break
			}
		}
	}
	var left []*Node
	for attempt := 0; attempt < 5; attempt++ {
		objs, err := m.listAll(ctx, m.src, types, m.targetNamespaces())
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		present := map[k8stypes.UID]bool{}
		for _, obj := range objs {
			present[obj.GetUID()] = true
		}
		left = left[:0]
		for _, n := range m.g.Moved() {
			if !n.Keep && present[n.UID] {
				left = append(left, n)
			}
		}
		if len(left) == 0 {
			return nil
		}
		for _, n := range left {
			if err := m.deleteNode(ctx, n); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	var names []string
	for _, n := range left {
		names = append(names, n.Ref.String())
	}
	return fmt.Errorf("%w: still in the source after deletion: %s", ErrIncomplete, strings.Join(names, ", "))
}

// ---- unpause ---------------------------------------------------------------

// unpausePatch returns the patch that undoes pause for a Cluster or ClusterClass.
func unpausePatch(isCluster bool) map[string]any {
	ann := map[string]any{PausedByMoveAnnotation: nil}
	patch := map[string]any{"metadata": map[string]any{"annotations": ann}}
	if isCluster {
		patch["spec"] = map[string]any{"paused": nil}
	} else {
		ann[pausedAnnotation] = nil
	}
	return patch
}

// unpauseSource unpauses in the source what this move paused and leaves there:
// everything (after writing a directory) or only kept objects (after a move).
func (m *mover) unpauseSource(ctx context.Context, keptOnly bool) error {
	var nodes []*Node
	for _, n := range m.pausable() {
		if (!keptOnly || n.Keep) && hasKey(n.Object.GetAnnotations(), PausedByMoveAnnotation) {
			nodes = append(nodes, n)
		}
	}
	m.phase(PhaseUnpause, len(nodes))
	return m.forEach(ctx, nodes, PhaseUnpause, func(ctx context.Context, n *Node) error {
		return m.patch(ctx, m.src, n.Type, n.Ref, unpausePatch(n.isCluster))
	})
}

// unpauseTarget unpauses the Clusters and ClusterClasses in the target that a
// move paused, within the selection; reading them afresh also finishes a move
// that was interrupted after it deleted everything from the source.
func (m *mover) unpauseTarget(ctx context.Context) error {
	var types []Type
	for _, gk := range []schema.GroupKind{clusterGK, clusterClassGK} {
		if t, ok := m.dstTypes[gk]; ok {
			types = append(types, t)
		}
	}
	objs, err := m.listAll(ctx, m.dst, types, m.targetNamespaces())
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	type item struct {
		t   Type
		ref ObjectRef
	}
	var todo []item
	for _, obj := range objs {
		ref := refOf(obj)
		if !hasKey(obj.GetAnnotations(), PausedByMoveAnnotation) || !m.inScope(ref) {
			continue
		}
		todo = append(todo, item{m.dstTypes[obj.GroupVersionKind().GroupKind()], ref})
	}
	m.phase(PhaseUnpause, len(todo))
	var errs []error
	for _, it := range todo {
		if err := m.patch(ctx, m.dst, &it.t, it.ref, unpausePatch(it.ref.Kind == clusterGK.Kind)); err != nil {
			errs = append(errs, err)
		}
		m.objectDone(PhaseUnpause, it.ref, len(todo))
	}
	return errors.Join(errs...)
}

// inScope reports whether a target Cluster or ClusterClass belongs to this move.
func (m *mover) inScope(ref ObjectRef) bool {
	if n := m.g.Lookup(ref); n != nil && n.Move {
		return true
	}
	if m.sel.Namespace != "" && ref.Namespace != m.sel.Namespace {
		return false
	}
	if len(m.sel.Clusters) > 0 {
		return ref.Kind == clusterGK.Kind && slices.Contains(m.sel.Clusters, ref.Name)
	}
	return true
}

// ---- concurrency and progress ----------------------------------------------

// forEach runs fn for nodes with the concurrency bound, stopping at the first error.
func (m *mover) forEach(ctx context.Context, nodes []*Node, phase Phase, fn func(context.Context, *Node) error) error {
	return m.runDAG(ctx, phase, nodes, func(*Node) []*Node { return nil }, fn)
}

// runDAG runs fn for every node after fn succeeded for all of deps(node) that are
// in nodes, with at most opts.Concurrency calls in flight. The first error stops
// new calls; all errors are returned.
func (m *mover) runDAG(ctx context.Context, phase Phase, nodes []*Node, deps func(*Node) []*Node, fn func(context.Context, *Node) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inSet := make(map[*Node]bool, len(nodes))
	for _, n := range nodes {
		inSet[n] = true
	}
	pending := map[*Node]int{}
	dependents := map[*Node][]*Node{}
	for _, n := range nodes {
		for _, d := range deps(n) {
			if inSet[d] && d != n {
				pending[n]++
				dependents[d] = append(dependents[d], n)
			}
		}
	}
	totals := map[string]int{}
	for _, n := range nodes {
		totals[kindOf(n.Ref)]++
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		sem  = make(chan struct{}, m.opts.concurrency())
		done int
	)
	var start func(n *Node)
	start = func(n *Node) {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			err := ctx.Err()
			if err == nil {
				err = fn(ctx, n)
			}
			<-sem
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel()
				return
			}
			m.objectDone(phase, n.Ref, totals[kindOf(n.Ref)])
			mu.Lock()
			done++
			var ready []*Node
			for _, d := range dependents[n] {
				pending[d]--
				if pending[d] == 0 {
					ready = append(ready, d)
				}
			}
			mu.Unlock()
			for _, r := range ready {
				start(r)
			}
		})
	}
	var roots []*Node // collected before any start: started calls change pending
	for _, n := range nodes {
		if pending[n] == 0 {
			roots = append(roots, n)
		}
	}
	for _, n := range roots {
		start(n)
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if done != len(nodes) {
		if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
			return fmt.Errorf("%s: %w", phase, err)
		}
		return fmt.Errorf("%s: %w: %d of %d objects done", phase, ErrIncomplete, done, len(nodes))
	}
	return nil
}

func (m *mover) phase(p Phase, total int) {
	m.log.V(1).Info("Phase", "phase", p, "objects", total)
	if m.opts.Progress == nil {
		return
	}
	m.evMu.Lock()
	defer m.evMu.Unlock()
	m.evDone = map[string]int{}
	m.opts.Progress(Event{Phase: p, Total: total})
}

func (m *mover) objectDone(p Phase, ref ObjectRef, total int) {
	if m.opts.Progress == nil {
		return
	}
	m.evMu.Lock()
	defer m.evMu.Unlock()
	k := kindOf(ref)
	m.evDone[k]++
	m.opts.Progress(Event{Phase: p, Kind: k, Object: ref, Done: m.evDone[k], Total: total})
}
