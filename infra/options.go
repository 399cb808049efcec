package infra

import (
	"fmt"
	"time"

	"github.com/go-logr/logr"
)

// Option configures an Infra.
type Option interface {
	apply(*options) error
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

type options struct {
	log         logr.Logger
	logSet      bool
	progress    func(Event)
	concurrency int
	pollInitial time.Duration
	pollMax     time.Duration
	noWait      bool
}

func defaultOptions() options {
	return options{
		concurrency: 32,
		pollInitial: 50 * time.Millisecond,
		pollMax:     5 * time.Second,
	}
}

// WithLogger logs through l instead of the logger in the context.
func WithLogger(l logr.Logger) Option {
	return optionFunc(func(o *options) error {
		o.log, o.logSet = l, true
		return nil
	})
}

// WithProgress calls fn with an Event for every resource decision and
// change. fn is called from several goroutines at once and must not block
// for long. Correctness never depends on it.
func WithProgress(fn func(Event)) Option {
	return optionFunc(func(o *options) error {
		o.progress = fn
		return nil
	})
}

// WithConcurrency caps the API calls in flight at once (32 by default).
func WithConcurrency(n int) Option {
	return optionFunc(func(o *options) error {
		if n < 1 {
			return fmt.Errorf("infra: WithConcurrency(%d): must be at least 1", n)
		}
		o.concurrency = n
		return nil
	})
}

// WithPollInterval sets the first and the longest wait between polls of a
// load balancer's provisioning status (50ms and 5s by default).
func WithPollInterval(initial, max time.Duration) Option {
	return optionFunc(func(o *options) error {
		if initial <= 0 || max < initial {
			return fmt.Errorf("infra: WithPollInterval(%v, %v): need 0 < initial <= max", initial, max)
		}
		o.pollInitial, o.pollMax = initial, max
		return nil
	})
}

// WithoutWaiting makes every call return instead of polling while Octavia
// works on the API server load balancer (PENDING_CREATE, PENDING_UPDATE):
// the call then fails with an error matching provider.ErrPending, and
// calling it again later continues where it stopped, since every step finds
// what an earlier one made. Controllers use it so that no worker blocks on
// a load balancer that takes minutes to build. Delete still waits until a
// deleted load balancer is gone, as the network under it cannot go before.
func WithoutWaiting() Option {
	return optionFunc(func(o *options) error {
		o.noWait = true
		return nil
	})
}

// Action is what happened, or would happen, to a resource.
type Action string

// Actions reported in events and plans.
const (
	// ActionFound: the resource exists as specified; nothing to do.
	ActionFound Action = "found"
	// ActionCreate: the resource is (to be) created.
	ActionCreate Action = "create"
	// ActionAdopt: an untagged leftover with the resource's name is (to be)
	// tagged and used.
	ActionAdopt Action = "adopt"
	// ActionUpdate: the resource is (to be) changed to match the spec.
	ActionUpdate Action = "update"
	// ActionDelete: the resource is (to be) deleted.
	ActionDelete Action = "delete"
	// ActionWait: waiting for the resource to become ready or go away.
	ActionWait Action = "wait"
)

// Event reports progress on one resource. It carries no secrets.
type Event struct {
	// Resource is the kind: "network", "subnet", "router", "router
	// interface", "security group", "security group rule", "load
	// balancer", "listener", "pool", "health monitor", "floating IP",
	// "member", "port", "volume".
	Resource string
	// Name is the resource's name, if it has one.
	Name string
	// ID is the resource's ID, when known.
	ID string
	// Action is what was done.
	Action Action
	// Duration is how long the action took, retries included.
	Duration time.Duration
	// Err is set when the action failed.
	Err error
}

// String renders the event on one line.
func (e Event) String() string {
	s := fmt.Sprintf("%s %s", e.Action, e.Resource)
	if e.Name != "" {
		s += fmt.Sprintf(" %q", e.Name)
	}
	if e.ID != "" {
		s += " (" + e.ID + ")"
	}
	if e.Duration > 0 {
		s += " in " + e.Duration.Round(time.Millisecond).String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}
