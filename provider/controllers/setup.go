package controllers

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
)

// Timing tunes how often the reconcilers look at the cloud again. Zero
// fields take the defaults.
type Timing struct {
	// PollInterval is how soon a reconcile that left something building
	// (a server, a load balancer, a volume) looks again; default 5s.
	PollInterval time.Duration
	// RetryAfterPermanentError is how long an object whose last reconcile
	// failed for a reason a person must fix (see the package
	// documentation) waits before the cloud is called again, unless its
	// spec or identity Secret changes first; default 10m.
	RetryAfterPermanentError time.Duration
	// CloudTimeout bounds the cloud calls of one reconcile; default 2m.
	CloudTimeout time.Duration
}

func (t Timing) withDefaults() Timing {
	if t.PollInterval <= 0 {
		t.PollInterval = 5 * time.Second
	}
	if t.RetryAfterPermanentError <= 0 {
		t.RetryAfterPermanentError = 10 * time.Minute
	}
	if t.CloudTimeout <= 0 {
		t.CloudTimeout = 2 * time.Minute
	}
	return t
}

// Options configures Setup.
type Options struct {
	// ClusterConcurrency and MachineConcurrency are the numbers of
	// OpenStackClusters and OpenStackMachines reconciled at once; 1 and 10
	// by default.
	ClusterConcurrency int
	MachineConcurrency int
	// WatchFilterValue, when set, limits the reconcilers to objects
	// labelled cluster.x-k8s.io/watch-filter=<value>.
	WatchFilterValue string
	// NewCloud connects to the cloud of an identity; ConnectSecret (the
	// identityRef Secret's clouds.yaml) when nil.
	NewCloud CloudFunc
	// Timing tunes requeues and timeouts.
	Timing Timing
	// SkipNameValidation lets the controllers be registered although a
	// controller of the same name exists in the process (several
	// managers in one process).
	SkipNameValidation bool
}

// Setup registers the OpenStackCluster and OpenStackMachine reconcilers
// with mgr, sharing one connection cache. mgr's scheme must know
// Cluster API's core v1beta2 types, provider/api/v1beta2 and core/v1; the
// reconcilers log through mgr's logger.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	clouds := NewClouds(opts.NewCloud)
	cc := max(opts.ClusterConcurrency, 1)
	mc := opts.MachineConcurrency
	if mc <= 0 {
		mc = 10
	}
	skip := &opts.SkipNameValidation
	cr := &OpenStackClusterReconciler{Client: mgr.GetClient(), Clouds: clouds, WatchFilterValue: opts.WatchFilterValue, Timing: opts.Timing}
	if err := cr.SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: cc, SkipNameValidation: skip}); err != nil {
		return fmt.Errorf("set up the OpenStackCluster reconciler: %w", err)
	}
	mr := &OpenStackMachineReconciler{Client: mgr.GetClient(), Clouds: clouds, WatchFilterValue: opts.WatchFilterValue, Timing: opts.Timing}
	if err := mr.SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: mc, SkipNameValidation: skip}); err != nil {
		return fmt.Errorf("set up the OpenStackMachine reconciler: %w", err)
	}
	return nil
}
