package containerruntime

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/internal/retry"
)

// removePolicy spaces out the attempts at removing a container: on a host at
// load ~300 podman gave up killing a node container's processes ("given PIDs
// did not die within timeout") and a later attempt succeeds. About five
// attempts within 30 s, then the last error is reported.
var removePolicy = retry.Policy{Initial: time.Second, Max: 8 * time.Second, MaxElapsed: 30 * time.Second,
	Retryable: removalRetryable}

// removeContainer removes a container by ID with its anonymous volumes,
// retrying the failures that a busy host causes (removalRetryable).
func (r *Runtime) removeContainer(ctx context.Context, id string) error {
	attempt := 0
	return retry.Do(ctx, removePolicy, func(ctx context.Context) error {
		attempt++
		err := r.opts.Engine.RemoveContainer(ctx, id)
		if err != nil && removalRetryable(err) {
			r.log.Info("removing a container failed; retrying", "id", id, "attempt", attempt, "error", err.Error())
		}
		return err
	})
}

// removalRetryable reports whether a failed `podman rm` is worth another
// attempt: podman's process kill timing out or a mount still busy, both
// seen when the host is overloaded. Other failures (a missing podman, bad
// arguments, a cancelled context) are reported at once.
func removalRetryable(err error) bool {
	var pe *podman.Error
	if !errors.As(err, &pe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	s := strings.ToLower(pe.Stderr)
	return strings.Contains(s, "did not die within timeout") || strings.Contains(s, "device or resource busy")
}
