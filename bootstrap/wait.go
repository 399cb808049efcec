package bootstrap

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// WaitGoal is the state of a Cluster a ClusterWatch waits for.
type WaitGoal string

const (
	// GoalControlPlaneInitialized: the first control plane answers (the
	// Cluster's status.initialization.controlPlaneInitialized is true).
	GoalControlPlaneInitialized WaitGoal = "ControlPlaneInitialized"
	// GoalAvailable: the control plane is initialized, the Cluster and its
	// KubeadmControlPlane are Available, and every MachineDeployment has as
	// many ready replicas as it wants.
	GoalAvailable WaitGoal = "Available"
)

// ConditionEvent reports that one condition of one object of a Cluster
// appeared or changed status, reason or message.
type ConditionEvent struct {
	// Kind and Name name the object (its namespace is the Cluster's).
	Kind string
	Name string
	// Type, Status, Reason and Message are the condition's.
	Type    string
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// String renders the event for progress output, on one line.
func (e ConditionEvent) String() string {
	s := fmt.Sprintf("%s %s: %s=%s", e.Kind, e.Name, e.Type, e.Status)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Message != "" {
		s += ": " + oneLine(e.Message)
	}
	return s
}

// Unmet is one part of a WaitGoal not reached yet, as last observed.
type Unmet struct {
	// Object is "Kind name".
	Object string
	// What is the condition type or field that is not as wanted.
	What    string
	Status  string
	Reason  string
	Message string
}

// String renders u on one line, as WaitError lists it.
func (u Unmet) String() string {
	s := u.Object + " " + u.What
	if u.Status != "" {
		s += "=" + u.Status
	}
	if u.Reason != "" {
		s += " (" + u.Reason + ")"
	}
	if u.Message != "" {
		s += ": " + oneLine(u.Message)
	}
	return s
}

// WaitError is returned by ClusterWatch.Wait when its context ends before
// the goal is met. It unwraps to the context's error.
type WaitError struct {
	Goal    WaitGoal
	Cluster string // namespace/name
	// Unmet lists what was missing at the last successful observation;
	// empty when nothing could be observed.
	Unmet []Unmet
	// Last is the last error reading the objects, if any.
	Last error
	Err  error
}

// Error names the cluster, the goal, why the wait ended and what is unmet.
func (e *WaitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s: goal %s not met: %v", e.Cluster, e.Goal, e.Err)
	if len(e.Unmet) == 0 {
		b.WriteString("; nothing observed yet")
	}
	for _, u := range e.Unmet {
		b.WriteString("; " + u.String())
	}
	if e.Last != nil {
		fmt.Fprintf(&b, "; last read error: %v", e.Last)
	}
	return b.String()
}

// Unwrap returns the context's error, for errors.Is.
func (e *WaitError) Unwrap() error { return e.Err }

// ClusterWatch polls a Cluster and its OpenStackCluster,
// KubeadmControlPlane, MachineDeployments, Machines and OpenStackMachines
// and reports each condition change once, across all its Wait calls. It
// only reads; it never reads Secrets. Not safe for concurrent Waits.
type ClusterWatch struct {
	c         client.Reader
	namespace string
	name      string
	onChange  func(ConditionEvent)
	// Interval is the polling period; one second when zero.
	Interval time.Duration

	seen map[string]ConditionEvent // by Kind/Name/Type
	last *clusterState
}

// NewClusterWatch returns a watch of the Cluster namespace/name through c,
// a client whose scheme knows Cluster API's and openstrap's kinds (see
// NewControllersScheme). onChange, when not nil, receives each condition
// change, in the calling goroutine of Wait.
func NewClusterWatch(c client.Reader, namespace, name string, onChange func(ConditionEvent)) *ClusterWatch {
	return &ClusterWatch{c: c, namespace: namespace, name: name, onChange: onChange, seen: map[string]ConditionEvent{}}
}

// WaitForCluster waits for goal with a new ClusterWatch; see Wait.
func WaitForCluster(ctx context.Context, c client.Reader, namespace, name string, goal WaitGoal, onChange func(ConditionEvent)) error {
	return NewClusterWatch(c, namespace, name, onChange).Wait(ctx, goal)
}

// Wait polls until goal is met, reporting condition changes as it goes. A
// Cluster not found yet and read errors are retried. When ctx ends first,
// it returns a *WaitError listing the unmet conditions as last observed.
func (w *ClusterWatch) Wait(ctx context.Context, goal WaitGoal) error {
	if goal != GoalControlPlaneInitialized && goal != GoalAvailable {
		return fmt.Errorf("wait goal %q: unknown; use %q or %q", goal, GoalControlPlaneInitialized, GoalAvailable)
	}
	interval := w.Interval
	if interval <= 0 {
		interval = time.Second
	}
	var lastErr error
	for {
		st, err := w.observe(ctx)
		if err == nil {
			lastErr = nil
			w.last = st
			w.report(st)
			if len(st.unmet(goal)) == 0 {
				return nil
			}
		} else if ctx.Err() == nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			e := &WaitError{Goal: goal, Cluster: w.namespace + "/" + w.name, Last: lastErr, Err: ctx.Err()}
			if w.last != nil {
				e.Unmet = w.last.unmet(goal)
			}
			return e
		case <-time.After(interval):
		}
	}
}

// object is what the watch keeps of one object.
type object struct {
	kind, name string
	conditions []metav1.Condition
}

// clusterState is one observation of a Cluster's objects.
type clusterState struct {
	found   bool
	cluster clusterv1.Cluster
	kcp     *controlplanev1.KubeadmControlPlane
	mds     []clusterv1.MachineDeployment
	objects []object // in report order
}

func (w *ClusterWatch) observe(ctx context.Context) (*clusterState, error) {
	st := &clusterState{}
	key := client.ObjectKey{Namespace: w.namespace, Name: w.name}
	if err := w.c.Get(ctx, key, &st.cluster); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return st, nil
		}
		return nil, fmt.Errorf("get Cluster %s: %w", key, err)
	}
	st.found = true
	st.objects = append(st.objects, object{"Cluster", w.name, st.cluster.Status.Conditions})

	if ref := st.cluster.Spec.InfrastructureRef; ref.Kind == "OpenStackCluster" && ref.Name != "" {
		var osc infrav1.OpenStackCluster
		if err := w.c.Get(ctx, client.ObjectKey{Namespace: w.namespace, Name: ref.Name}, &osc); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("get OpenStackCluster %s/%s: %w", w.namespace, ref.Name, err)
		} else if err == nil {
			st.objects = append(st.objects, object{"OpenStackCluster", osc.Name, osc.Status.Conditions})
		}
	}
	if ref := st.cluster.Spec.ControlPlaneRef; ref.Kind == "KubeadmControlPlane" && ref.Name != "" {
		var kcp controlplanev1.KubeadmControlPlane
		if err := w.c.Get(ctx, client.ObjectKey{Namespace: w.namespace, Name: ref.Name}, &kcp); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("get KubeadmControlPlane %s/%s: %w", w.namespace, ref.Name, err)
		} else if err == nil {
			st.kcp = &kcp
			st.objects = append(st.objects, object{"KubeadmControlPlane", kcp.Name, kcp.Status.Conditions})
		}
	}

	sel := []client.ListOption{client.InNamespace(w.namespace), client.MatchingLabels{clusterv1.ClusterNameLabel: w.name}}
	var mds clusterv1.MachineDeploymentList
	if err := w.c.List(ctx, &mds, sel...); err != nil {
		return nil, fmt.Errorf("list MachineDeployments of %s: %w", key, err)
	}
	sort.Slice(mds.Items, func(i, j int) bool { return mds.Items[i].Name < mds.Items[j].Name })
	st.mds = mds.Items
	for _, md := range mds.Items {
		st.objects = append(st.objects, object{"MachineDeployment", md.Name, md.Status.Conditions})
	}
	var ms clusterv1.MachineList
	if err := w.c.List(ctx, &ms, sel...); err != nil {
		return nil, fmt.Errorf("list Machines of %s: %w", key, err)
	}
	sort.Slice(ms.Items, func(i, j int) bool { return ms.Items[i].Name < ms.Items[j].Name })
	for _, m := range ms.Items {
		st.objects = append(st.objects, object{"Machine", m.Name, m.Status.Conditions})
	}
	var oms infrav1.OpenStackMachineList
	if err := w.c.List(ctx, &oms, sel...); err != nil {
		return nil, fmt.Errorf("list OpenStackMachines of %s: %w", key, err)
	}
	sort.Slice(oms.Items, func(i, j int) bool { return oms.Items[i].Name < oms.Items[j].Name })
	for _, m := range oms.Items {
		st.objects = append(st.objects, object{"OpenStackMachine", m.Name, m.Status.Conditions})
	}
	return st, nil
}

// report sends an event for each condition that is new or differs from the
// one last reported, and forgets conditions that went away.
func (w *ClusterWatch) report(st *clusterState) {
	for _, e := range conditionChanges(w.seen, st.objects) {
		if w.onChange != nil {
			w.onChange(e)
		}
	}
}

// conditionChanges returns the events for objs's conditions that differ
// from seen, in objs's order, and updates seen to objs's conditions.
func conditionChanges(seen map[string]ConditionEvent, objs []object) []ConditionEvent {
	var out []ConditionEvent
	now := map[string]bool{}
	for _, o := range objs {
		for _, c := range o.conditions {
			e := ConditionEvent{Kind: o.kind, Name: o.name, Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message}
			k := o.kind + "/" + o.name + "/" + c.Type
			now[k] = true
			if prev, ok := seen[k]; ok && prev == e {
				continue
			}
			seen[k] = e
			out = append(out, e)
		}
	}
	for k := range seen {
		if !now[k] {
			delete(seen, k)
		}
	}
	return out
}

// unmet lists what st lacks for goal; empty when goal is met.
func (st *clusterState) unmet(goal WaitGoal) []Unmet {
	if !st.found {
		return []Unmet{{Object: "Cluster", What: "object", Message: "not found"}}
	}
	cl := "Cluster " + st.cluster.Name
	var out []Unmet
	if !ptr.Deref(st.cluster.Status.Initialization.ControlPlaneInitialized, false) {
		out = append(out, unmetCondition(cl, st.cluster.Status.Conditions, clusterv1.ClusterControlPlaneInitializedCondition))
	}
	if goal == GoalControlPlaneInitialized {
		return out
	}
	if !isTrue(st.cluster.Status.Conditions, clusterv1.AvailableCondition) {
		out = append(out, unmetCondition(cl, st.cluster.Status.Conditions, clusterv1.AvailableCondition))
	}
	if st.kcp == nil {
		out = append(out, Unmet{Object: "KubeadmControlPlane " + st.cluster.Spec.ControlPlaneRef.Name, What: "object", Message: "not found"})
	} else if !isTrue(st.kcp.Status.Conditions, clusterv1.AvailableCondition) {
		out = append(out, unmetCondition("KubeadmControlPlane "+st.kcp.Name, st.kcp.Status.Conditions, clusterv1.AvailableCondition))
	}
	for _, md := range st.mds {
		want, ready := ptr.Deref(md.Spec.Replicas, 1), ptr.Deref(md.Status.ReadyReplicas, 0)
		if ready != want {
			u := unmetCondition("MachineDeployment "+md.Name, md.Status.Conditions, clusterv1.AvailableCondition)
			u.What = fmt.Sprintf("readyReplicas=%d of %d, %s", ready, want, u.What)
			out = append(out, u)
		}
	}
	return out
}

func isTrue(cs []metav1.Condition, t string) bool {
	for _, c := range cs {
		if c.Type == t {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

func unmetCondition(obj string, cs []metav1.Condition, t string) Unmet {
	for _, c := range cs {
		if c.Type == t {
			return Unmet{Object: obj, What: t, Status: string(c.Status), Reason: c.Reason, Message: c.Message}
		}
	}
	return Unmet{Object: obj, What: t, Message: "not reported yet"}
}

// oneLine joins a multi-line condition message (Cluster API's summaries
// are bullet lists) into one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
