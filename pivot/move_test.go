package pivot

import (
	"context"
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/openstrap/openstrap/internal/pivotbench/capigraph"
)

func TestMoveGeneratedGraph(t *testing.T) {
	ns := freshNS("gen")
	load(t, srcEnv.Config, capigraph.Objects(capigraph.Spec{Namespace: ns, Clusters: 2, Machines: 3, ControlPlaneMachines: 3}))
	before := snapshotNS(t, srcEnv.Config, ns)
	var events []Event
	rep, err := Move(context.Background(), srcEnv.Config, dstEnv.Config, Options{Namespace: ns, Progress: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatalf("Move: %v", err)
	}
	t.Log(rep)
	checkMoved(t, before, snapshotNS(t, dstEnv.Config, ns), snapshotNS(t, srcEnv.Config, ns))
	if rep.Created != len(before) || rep.Deleted != len(before) {
		t.Errorf("report created %d, deleted %d; want %d each", rep.Created, rep.Deleted, len(before))
	}
	if rep.Moved["Machine.cluster.x-k8s.io"] != 2*(3+3) {
		t.Errorf("report moved %d Machines, want 12", rep.Moved["Machine.cluster.x-k8s.io"])
	}
	phases := map[Phase]bool{}
	for _, e := range events {
		phases[e.Phase] = true
	}
	for _, p := range []Phase{PhaseDiscover, PhasePause, PhaseCreate, PhaseVerify, PhaseDelete, PhaseUnpause, PhaseDone} {
		if !phases[p] {
			t.Errorf("no %s event", p)
		}
	}

	// A second Move finds nothing left to do.
	rep, err = Move(context.Background(), srcEnv.Config, dstEnv.Config, Options{Namespace: ns})
	if err != nil || len(rep.Plan) != 0 || rep.Created+rep.Updated+rep.Deleted != 0 {
		t.Errorf("second Move: %v, %+v", err, rep)
	}
	_ = unstructured.Unstructured{}
	_ = errors.Is
}
