package bootstrap

import (
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

func cond(t string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()}
}

// TestWaitConditionChanges: only new or changed conditions are reported, in
// object order, and a condition that went away is reported again when it
// comes back.
func TestWaitConditionChanges(t *testing.T) {
	seen := map[string]ConditionEvent{}
	objs := []object{
		{"Cluster", "c", []metav1.Condition{cond("Available", metav1.ConditionFalse, "NotAvailable", "* ControlPlaneAvailable: no\n* WorkersAvailable: no")}},
		{"OpenStackCluster", "c", []metav1.Condition{cond("Ready", metav1.ConditionFalse, "Provisioning", "")}},
	}
	got := conditionChanges(seen, objs)
	if len(got) != 2 || got[0].Kind != "Cluster" || got[1].Kind != "OpenStackCluster" {
		t.Fatalf("first observation: %v", got)
	}
	if s := got[0].String(); s != "Cluster c: Available=False (NotAvailable): * ControlPlaneAvailable: no; * WorkersAvailable: no" {
		t.Errorf("String() = %q", s)
	}
	// Same status, reason and message, newer transition time: no event.
	objs[0].conditions = []metav1.Condition{cond("Available", metav1.ConditionFalse, "NotAvailable", "* ControlPlaneAvailable: no\n* WorkersAvailable: no")}
	if got := conditionChanges(seen, objs); len(got) != 0 {
		t.Errorf("unchanged conditions reported: %v", got)
	}
	// A message change alone is a change.
	objs[1].conditions = []metav1.Condition{cond("Ready", metav1.ConditionFalse, "Provisioning", "network")}
	if got := conditionChanges(seen, objs); len(got) != 1 || got[0].Message != "network" {
		t.Errorf("message change: %v", got)
	}
	// Gone, then back: reported again.
	objs = objs[:1]
	if got := conditionChanges(seen, objs); len(got) != 0 {
		t.Errorf("removal reported: %v", got)
	}
	objs = append(objs, object{"OpenStackCluster", "c", []metav1.Condition{cond("Ready", metav1.ConditionFalse, "Provisioning", "network")}})
	if got := conditionChanges(seen, objs); len(got) != 1 {
		t.Errorf("returning condition: %v", got)
	}
}

// TestWaitUnmet checks what each goal requires, and the error that names it.
func TestWaitUnmet(t *testing.T) {
	st := &clusterState{}
	if u := st.unmet(GoalControlPlaneInitialized); len(u) != 1 || u[0].Message != "not found" {
		t.Errorf("no Cluster: %v", u)
	}
	st.found = true
	st.cluster.Name = "c"
	st.cluster.Spec.ControlPlaneRef.Name = "c-cp"
	st.cluster.Status.Conditions = []metav1.Condition{cond("ControlPlaneInitialized", metav1.ConditionFalse, "NotInitialized", "waiting for the first machine")}
	u := st.unmet(GoalControlPlaneInitialized)
	if len(u) != 1 || u[0].String() != "Cluster c ControlPlaneInitialized=False (NotInitialized): waiting for the first machine" {
		t.Errorf("not initialized: %v", u)
	}

	st.cluster.Status.Initialization.ControlPlaneInitialized = ptr.To(true)
	if u := st.unmet(GoalControlPlaneInitialized); len(u) != 0 {
		t.Errorf("initialized, still unmet: %v", u)
	}
	u = st.unmet(GoalAvailable)
	if len(u) != 2 || u[0].What != "Available" || u[0].Message != "not reported yet" || u[1].Object != "KubeadmControlPlane c-cp" {
		t.Errorf("available, nothing ready: %v", u)
	}

	st.cluster.Status.Conditions = append(st.cluster.Status.Conditions, cond("Available", metav1.ConditionTrue, "Available", ""))
	st.kcp = &controlplanev1.KubeadmControlPlane{ObjectMeta: metav1.ObjectMeta{Name: "c-cp"}}
	st.kcp.Status.Conditions = []metav1.Condition{cond("Available", metav1.ConditionTrue, "Available", "")}
	md := clusterv1.MachineDeployment{ObjectMeta: metav1.ObjectMeta{Name: "c-md-0"}}
	md.Spec.Replicas = ptr.To[int32](2)
	md.Status.ReadyReplicas = ptr.To[int32](1)
	st.mds = []clusterv1.MachineDeployment{md}
	u = st.unmet(GoalAvailable)
	if len(u) != 1 || !strings.HasPrefix(u[0].String(), "MachineDeployment c-md-0 readyReplicas=1 of 2") {
		t.Errorf("one worker short: %v", u)
	}

	werr := &WaitError{Goal: GoalAvailable, Cluster: "ns/c", Unmet: u, Err: context.DeadlineExceeded}
	if !errors.Is(werr, context.DeadlineExceeded) {
		t.Error("WaitError does not unwrap to the context's error")
	}
	if msg := werr.Error(); !strings.Contains(msg, "goal Available not met") || !strings.Contains(msg, "readyReplicas=1 of 2") {
		t.Errorf("error = %q", msg)
	}

	st.mds[0].Status.ReadyReplicas = ptr.To[int32](2)
	if u := st.unmet(GoalAvailable); len(u) != 0 {
		t.Errorf("all available, still unmet: %v", u)
	}
}

func TestWaitUnknownGoal(t *testing.T) {
	err := NewClusterWatch(nil, "ns", "c", nil).Wait(context.Background(), "Ready")
	if err == nil || !strings.Contains(err.Error(), `"Ready"`) {
		t.Errorf("unknown goal: %v", err)
	}
}
