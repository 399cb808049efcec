package containerruntime

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"testing"

	"github.com/openstrap/openstrap/internal/podman"
)

// TestRemovalRetryable: which failures of `podman rm` the runtime tries
// again (messages as podman 4.3 prints them).
func TestRemovalRetryable(t *testing.T) {
	exit := &exec.ExitError{}
	rm := func(stderr string) error {
		return &podman.Error{Subcommand: "rm", Stderr: stderr, Err: exit}
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"kill timed out at load ~300", rm(`Error: cannot remove container 3f2a as it could not be stopped: given PIDs did not die within timeout`), true},
		{"wrapped", fmt.Errorf("deleting: %w", rm(`Error: given PIDs did not die within timeout`)), true},
		{"busy mount", rm(`Error: cleaning up storage: removing container 3f2a root filesystem: unlinkat /var/lib/containers/storage/overlay/ab/merged: device or resource busy`), true},
		{"no such container", rm(`Error: no container with name or ID "x" found: no such container`), false},
		{"permission", rm(`Error: mkdir /run/libpod: permission denied`), false},
		{"cancelled", &podman.Error{Subcommand: "rm", Stderr: "given PIDs did not die within timeout", Err: fmt.Errorf("%w (signal: killed)", context.Canceled)}, false},
		{"deadline", fmt.Errorf("%w before the next attempt: %w", context.DeadlineExceeded, rm("given PIDs did not die within timeout")), false},
		{"not podman's", errors.New("given PIDs did not die within timeout"), false},
		{"podman missing", &podman.Error{Subcommand: "rm", Err: exec.ErrNotFound}, false},
	} {
		if got := removalRetryable(tc.err); got != tc.want {
			t.Errorf("%s: removalRetryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
