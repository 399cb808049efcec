package stacktest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/openstrap/openstrap/bootstrap"
)

// TestWaitReportsConditionChanges applies a cluster of one control plane and
// one worker and waits for it with bootstrap.ClusterWatch, until the control
// plane is initialized, then towards Available until the worker's Node is
// Ready: the condition changes arrive once each, the infrastructure's before
// the control plane's, and a wait whose context ends names what is missing.
func TestWaitReportsConditionChanges(t *testing.T) {
	e := Start(t, Options{})
	ctx := context.Background()
	const ns, name = "wait", "w"
	if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, ClusterTemplate(), e.Vars(name, ns, 1, 1)); err != nil {
		t.Fatalf("apply the cluster template: %v", err)
	}

	// A wait that cannot succeed in time names the unmet conditions.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := bootstrap.WaitForCluster(short, e.Client, ns, name, bootstrap.GoalAvailable, nil)
	cancel()
	var werr *bootstrap.WaitError
	if !errors.As(err, &werr) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("short wait for Available: got %v, want a *WaitError for the deadline", err)
	}
	if !hasUnmet(werr, "Cluster "+name, "Available") {
		t.Errorf("short wait's error does not name the Cluster's Available condition: %v", err)
	}
	t.Logf("short wait: %v", err)

	var events []bootstrap.ConditionEvent
	workerReady := func(bootstrap.ConditionEvent) {}
	start := time.Now()
	w := bootstrap.NewClusterWatch(e.Client, ns, name, func(ev bootstrap.ConditionEvent) {
		t.Logf("%6.1fs %s", time.Since(start).Seconds(), ev)
		events = append(events, ev)
		workerReady(ev)
	})
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := w.Wait(wctx, bootstrap.GoalControlPlaneInitialized); err != nil {
		t.Fatalf("wait for %s: %v", bootstrap.GoalControlPlaneInitialized, err)
	}
	t.Logf("control plane initialized after %v, %d events", time.Since(start).Round(100*time.Millisecond), len(events))
	infraReady := index(events, "OpenStackCluster", "Ready", metav1.ConditionTrue)
	cpInit := index(events, "Cluster", "ControlPlaneInitialized", metav1.ConditionTrue)
	if infraReady < 0 || cpInit < 0 || infraReady > cpInit {
		t.Errorf("OpenStackCluster Ready=True at event %d, Cluster ControlPlaneInitialized=True at %d: want both, infrastructure first", infraReady, cpInit)
	}

	// The same watch, with a context already over: the error names what the
	// last observation lacked for Available.
	expired, cancel := context.WithTimeout(ctx, -time.Second)
	err = w.Wait(expired, bootstrap.GoalAvailable)
	cancel()
	if !errors.As(err, &werr) || len(werr.Unmet) == 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired wait for Available: got %v, want a *WaitError naming unmet conditions", err)
	}
	t.Logf("expired wait: %v", err)

	// Process machines run no static pods (KubeadmControlPlane never sees
	// etcd members) and their Nodes report no pressure conditions, so
	// Available is out of their reach: watch on until the worker's Node is
	// Ready, then stop the wait and check what it says is missing.
	stop, cancelStop := context.WithCancel(wctx)
	defer cancelStop()
	workerReady = func(ev bootstrap.ConditionEvent) {
		if ev.Kind == "Machine" && strings.HasPrefix(ev.Name, name+"-md-0-") && ev.Type == "NodeReady" && ev.Status == metav1.ConditionTrue {
			cancelStop()
		}
	}
	err = w.Wait(stop, bootstrap.GoalAvailable)
	if wctx.Err() != nil {
		t.Fatalf("worker Node not Ready in time: %v", err)
	}
	if !errors.As(err, &werr) || !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped wait for Available: got %v, want a *WaitError for the cancellation", err)
	}
	if !hasUnmet(werr, "Cluster "+name, "Available") || !hasUnmet(werr, "KubeadmControlPlane "+name+"-control-plane", "Available") {
		t.Errorf("stopped wait's error does not name the Cluster's and KubeadmControlPlane's Available: %v", err)
	}
	t.Logf("worker Node Ready after %v, %d events; %v", time.Since(start).Round(100*time.Millisecond), len(events), err)
	for _, want := range []struct{ kind, typ string }{
		{"OpenStackMachine", "InstanceReady"}, {"Machine", "InfrastructureReady"}, {"Machine", "NodeReady"},
	} {
		if index(events, want.kind, want.typ, metav1.ConditionTrue) < 0 {
			t.Errorf("no %s %s=True event", want.kind, want.typ)
		}
	}

	// Each event differs from the previous one of the same condition.
	last := map[string]bootstrap.ConditionEvent{}
	for i, ev := range events {
		k := ev.Kind + "/" + ev.Name + "/" + ev.Type
		if prev, ok := last[k]; ok && prev == ev {
			t.Errorf("event %d repeats an unchanged condition: %s", i, ev)
		}
		last[k] = ev
	}
	for _, ev := range events {
		if strings.Contains(ev.Message, "BEGIN") || strings.Contains(ev.Message, "password") {
			t.Errorf("event carries what looks like a secret: %s", ev)
		}
	}
}

// index returns the position of the first event setting kind's condition typ
// to status, or -1.
func index(events []bootstrap.ConditionEvent, kind, typ string, status metav1.ConditionStatus) int {
	for i, ev := range events {
		if ev.Kind == kind && ev.Type == typ && ev.Status == status {
			return i
		}
	}
	return -1
}

func hasUnmet(e *bootstrap.WaitError, object, what string) bool {
	for _, u := range e.Unmet {
		if u.Object == object && u.What == what {
			return true
		}
	}
	return false
}
