package retry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

func status(code int, body string, hdr http.Header) error {
	return gophercloud.ErrUnexpectedResponseCode{Method: "GET", Actual: code, Body: []byte(body), ResponseHeader: hdr}
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{status(500, "", nil), true},
		{status(503, "", nil), true},
		{status(429, "", nil), true},
		{status(404, "", nil), false},
		{status(400, "", nil), false},
		{status(403, "Quota exceeded", nil), false},
		{status(409, "", nil), false},
		{fmt.Errorf("post: %w", syscall.ECONNRESET), true},
		{context.Canceled, false},
		{errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := IsTransient(tt.err); got != tt.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestDoRetriesTransientThenSucceeds(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Policy{Initial: time.Millisecond}, func(context.Context) error {
		calls++
		if calls < 3 {
			return status(503, "", nil)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Do = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestDoStopsOnPermanent(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Policy{Initial: time.Millisecond}, func(context.Context) error {
		calls++
		return status(400, "bad", nil)
	})
	var got gophercloud.ErrUnexpectedResponseCode
	if calls != 1 || !errors.As(err, &got) || got.Actual != 400 {
		t.Fatalf("Do = %v after %d calls, want the 400 after 1", err, calls)
	}
	calls = 0
	err = Do(context.Background(), Policy{Initial: time.Millisecond}, func(context.Context) error {
		calls++
		return Permanent(status(503, "", nil))
	})
	var code gophercloud.ErrUnexpectedResponseCode
	if calls != 1 || !errors.As(err, &code) || code.Actual != 503 {
		t.Fatalf("Do = %v after %d calls, want the unwrapped 503 after 1", err, calls)
	}
}

func TestDoConflictOnlyWhenAsked(t *testing.T) {
	for _, tt := range []struct {
		policy Policy
		body   string
		calls  int
	}{
		{Policy{Initial: time.Millisecond}, "", 1},
		{Policy{Initial: time.Millisecond, RetryConflict: true}, "PENDING_UPDATE", 2},
		{Policy{Initial: time.Millisecond, RetryConflict: true}, "Quota exceeded for resources", 1},
	} {
		calls := 0
		_ = Do(context.Background(), tt.policy, func(context.Context) error {
			calls++
			if calls == 1 {
				return status(409, tt.body, nil)
			}
			return nil
		})
		if calls != tt.calls {
			t.Errorf("RetryConflict=%v body %q: %d calls, want %d", tt.policy.RetryConflict, tt.body, calls, tt.calls)
		}
	}
}

func TestDoHonoursRetryAfter(t *testing.T) {
	hdr := http.Header{"Retry-After": []string{"1"}}
	calls := 0
	start := time.Now()
	err := Do(context.Background(), Policy{Initial: time.Millisecond}, func(context.Context) error {
		calls++
		if calls == 1 {
			return status(429, "", hdr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("waited %v, want at least the 1s Retry-After", waited)
	}
}

func TestDoStopsAtDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	last := status(503, "", nil)
	err := Do(ctx, Policy{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond}, func(context.Context) error { return last })
	var got gophercloud.ErrUnexpectedResponseCode
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &got) || got.Actual != 503 {
		t.Fatalf("Do = %v, want deadline exceeded wrapping the last 503", err)
	}
}

func TestUntil(t *testing.T) {
	n := 0
	err := Until(context.Background(), Policy{Initial: time.Millisecond}, func(context.Context) (bool, error) {
		n++
		return n == 4, nil
	})
	if err != nil || n != 4 {
		t.Fatalf("Until = %v after %d polls, want nil after 4", err, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = Until(ctx, Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond}, func(context.Context) (bool, error) { return false, nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Until = %v, want deadline exceeded", err)
	}
}
