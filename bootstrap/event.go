package bootstrap

import (
	"fmt"
	"time"
)

// Phase names a step reported by an Event.
type Phase string

// Phases of Local, Kind, Existing, Delete and Install.
const (
	// PhaseCreate: a cluster is being created or started (for Local, this
	// covers finding it already running).
	PhaseCreate Phase = "Create"
	// PhaseReuse: an already running cluster is used as it is; a single Done
	// event, after PhaseCreate's for Local.
	PhaseReuse Phase = "Reuse"
	// PhaseConnect: an existing cluster is being checked for reachability.
	PhaseConnect Phase = "Connect"
	// PhaseDelete: a cluster is being stopped or deleted.
	PhaseDelete Phase = "Delete"
	// PhaseApply: one object is being applied.
	PhaseApply Phase = "Apply"
	// PhaseWaitCRDs: waiting for CRDs to be Established and served.
	PhaseWaitCRDs Phase = "WaitCRDs"
	// PhaseWaitDeployment: waiting for one Deployment to be Available.
	PhaseWaitDeployment Phase = "WaitDeployment"
)

// Event reports progress. A step sends one Event when it starts (Done false)
// and one when it ends (Done true, with Err when it failed).
type Event struct {
	Phase   Phase
	Cluster string
	// Object is "Kind namespace/name" (or "Kind name") for per-object phases.
	Object string
	Done   bool
	Err    error
	// Duration is the time the step took, on Done events.
	Duration time.Duration
}

// String renders the event for progress output.
func (e Event) String() string {
	s := fmt.Sprintf("%s %s", e.Phase, e.Cluster)
	if e.Object != "" {
		s += " " + e.Object
	}
	switch {
	case e.Done && e.Err != nil:
		s += fmt.Sprintf(": failed after %v: %v", e.Duration.Round(time.Millisecond), e.Err)
	case e.Done:
		s += fmt.Sprintf(": done in %v", e.Duration.Round(time.Millisecond))
	default:
		s += " ..."
	}
	return s
}

// step emits the start event of a step and returns the function that emits
// its end event.
func (o *options) step(phase Phase, cluster, object string) func(error) {
	start := time.Now()
	o.emit(Event{Phase: phase, Cluster: cluster, Object: object})
	return func(err error) {
		o.emit(Event{Phase: phase, Cluster: cluster, Object: object, Done: true, Err: err, Duration: time.Since(start)})
	}
}
