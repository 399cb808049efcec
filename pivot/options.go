package pivot

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Errors callers can branch on with errors.Is.
var (
	// ErrTypeMissing means a type to move has no established CRD serving the
	// needed version in the target.
	ErrTypeMissing = errors.New("type missing in the target")
	// ErrConflict means the target holds an object of the same name that this
	// move did not write and that is not the origin of the source object.
	ErrConflict = errors.New("conflicting object in the target")
	// ErrPaused means a Cluster or ClusterClass to move is paused by someone else.
	ErrPaused = errors.New("paused by someone else")
	// ErrNotProvisioned means a Cluster to move is not provisioned yet
	// (infrastructure not ready or control plane not initialized).
	ErrNotProvisioned = errors.New("cluster not provisioned")
	// ErrIncomplete means the move could not confirm a phase (an object missing
	// in the target after creation, or still present in the source after deletion);
	// running the same Move again resumes it.
	ErrIncomplete = errors.New("move incomplete")
)

// Options says what to move and how.
type Options struct {
	// Namespace limits the move to one namespace; empty moves all namespaces.
	Namespace string
	// Clusters limits the move to these Clusters (in Namespace when set) and what
	// belongs to them; objects they share with other clusters (a ClusterClass) are
	// copied and kept in the source.
	Clusters []string
	// DryRun discovers the graph and checks every precondition, then returns the
	// plan in the report without writing anything.
	DryRun bool
	// Concurrency bounds the writes in flight; 16 when zero.
	Concurrency int
	// ExtraTypes adds CRD-backed types to discover even when their CRD carries
	// neither Cluster API's provider label nor clusterctl's label.
	ExtraTypes []schema.GroupKind
	// ExtraCRDLabels adds CRD label keys that mark types to discover.
	ExtraCRDLabels []string
	// AllowPaused moves Clusters already paused by someone else; they stay paused
	// in the target.
	AllowPaused bool
	// SkipProvisionedCheck moves Clusters whose infrastructure is not ready or
	// whose control plane is not initialized.
	SkipProvisionedCheck bool
	// Progress, when set, receives events; it is called from one goroutine at a
	// time and must not block for long. Correctness never depends on it.
	Progress func(Event)
}

func (o Options) concurrency() int {
	if o.Concurrency <= 0 {
		return 16
	}
	return o.Concurrency
}

func (o Options) selector() Selector {
	return Selector{Namespace: o.Namespace, Clusters: slices.Clone(o.Clusters)}
}

// Phase names a step of a move.
type Phase string

// The phases of a move, in order.
const (
	PhaseDiscover  Phase = "discover"
	PhasePreflight Phase = "preflight"
	PhasePause     Phase = "pause"
	PhaseWait      Phase = "wait-unblocked"
	PhaseCreate    Phase = "create"
	PhaseVerify    Phase = "verify"
	PhaseDelete    Phase = "delete"
	PhaseUnpause   Phase = "unpause"
	PhaseWrite     Phase = "write-files"
	PhaseDone      Phase = "done"
)

// Event reports progress. A phase event has an empty Kind; an object event names
// the object and counts the objects of its kind handled so far in the phase.
type Event struct {
	Phase  Phase
	Kind   string // e.g. "Machine.cluster.x-k8s.io"
	Object ObjectRef
	Done   int
	Total  int
}

// String renders the event for humans.
func (e Event) String() string {
	if e.Kind == "" {
		return fmt.Sprintf("%s (%d objects)", e.Phase, e.Total)
	}
	return fmt.Sprintf("%s %s %d/%d %s", e.Phase, e.Kind, e.Done, e.Total, e.Object)
}

// Action is what a move does with one object in the target.
type Action string

// The actions of a plan.
const (
	// ActionCreate creates the object.
	ActionCreate Action = "create"
	// ActionResume finds a copy this move wrote earlier (or the object's origin)
	// and brings it up to date.
	ActionResume Action = "resume"
	// ActionUseExisting uses an object the target already had, for objects that
	// are kept in the source (cluster-scoped or shared).
	ActionUseExisting Action = "use-existing"
)

// PlanEntry is one object of the plan.
type PlanEntry struct {
	Object ObjectRef
	Level  int
	Action Action
	// Keep is true when the object is copied but not deleted from the source.
	Keep bool
}

// Report says what a move did (or, for a dry run, would do).
type Report struct {
	DryRun bool
	// Plan lists every object of the move in creation order.
	Plan []PlanEntry
	// Moved counts the objects present in the target afterwards (for a dry run:
	// the objects that would move), by kind.
	Moved map[string]int
	// Created, Updated and Deleted count writes of objects (not of pause state).
	Created, Updated, Deleted int
	// Warnings lists related objects left behind and relations dropped.
	Warnings []Warning
	Duration time.Duration
}

// String summarises the report.
func (r *Report) String() string {
	var b strings.Builder
	mode := "moved"
	if r.DryRun {
		mode = "dry run, would move"
	}
	fmt.Fprintf(&b, "%s %d objects in %s (created %d, updated %d, deleted %d)", mode, len(r.Plan),
		r.Duration.Round(time.Millisecond), r.Created, r.Updated, r.Deleted)
	kinds := make([]string, 0, len(r.Moved))
	for k := range r.Moved {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n  %s: %d", k, r.Moved[k])
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "\n  warning: %s", w)
	}
	return b.String()
}

// ObjectError is returned for a failure concerning one object; it wraps the
// cause (ErrConflict, an API error, ...).
type ObjectError struct {
	Op     string
	Object ObjectRef
	Err    error
}

// Error names the operation and the object.
func (e *ObjectError) Error() string { return e.Op + " " + e.Object.String() + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ObjectError) Unwrap() error { return e.Err }

func kindOf(r ObjectRef) string {
	if r.Group == "" {
		return r.Kind
	}
	return r.Kind + "." + r.Group
}
