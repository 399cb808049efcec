package provider

import (
	"time"

	"github.com/openstrap/openstrap/internal/retry"
)

// WithFastPolling makes Machines retry and poll every few milliseconds, so
// that simulator tests with short boot delays run quickly.
func WithFastPolling() MachinesOption {
	return machinesOption(func(o *machinesOptions) {
		o.call = retry.Policy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, MaxElapsed: 30 * time.Second}
		o.wait = retry.Policy{Initial: 5 * time.Millisecond, Max: 25 * time.Millisecond}
	})
}
