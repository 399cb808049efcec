// Package retry is openstrap's one place for retrying transient failures of
// cloud and Kubernetes APIs and for waiting on state changes. It is built on
// github.com/cenkalti/backoff/v4, honours Retry-After answers and never waits
// past the context's deadline.
//
// Only idempotent operations may be retried blindly. An operation that
// creates something must look for it again before each attempt, so that an
// attempt whose answer was lost does not create a duplicate.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gophercloud/gophercloud/v2"
)

// Policy says how long to wait between attempts and which errors are worth
// another attempt. The zero value is usable.
type Policy struct {
	// Initial is the first wait; 250ms when zero.
	Initial time.Duration
	// Max caps one wait; 5s when zero.
	Max time.Duration
	// MaxElapsed gives up after this long even if the context allows more;
	// unlimited (bounded by the context) when zero.
	MaxElapsed time.Duration
	// RetryConflict treats 409 Conflict as transient (Octavia answers 409
	// while a load balancer is PENDING_*), except quota errors.
	RetryConflict bool
	// Retryable, when set, decides instead of the built-in classification.
	Retryable func(error) bool
}

func (p Policy) backoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 250 * time.Millisecond
	if p.Initial > 0 {
		b.InitialInterval = p.Initial
	}
	b.MaxInterval = 5 * time.Second
	if p.Max > 0 {
		b.MaxInterval = p.Max
	}
	b.MaxElapsedTime = p.MaxElapsed
	b.Reset()
	return b
}

func (p Policy) retryable(err error) bool {
	var perm *permanentError
	if errors.As(err, &perm) {
		return false
	}
	if p.Retryable != nil {
		return p.Retryable(err)
	}
	if p.RetryConflict && isConflict(err) {
		return true
	}
	return IsTransient(err)
}

// Do calls op until it succeeds, fails permanently, the policy gives up or ctx
// ends. On giving up it returns the last error; when ctx ends it returns an
// error matching both ctx.Err() and the last error.
func Do(ctx context.Context, p Policy, op func(context.Context) error) error {
	b := p.backoff()
	for {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctxError(ctx, err)
		}
		if !p.retryable(err) {
			return unwrapPermanent(err)
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return err
		}
		if ra, ok := RetryAfter(err); ok && ra > wait {
			wait = ra
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("%w before the next attempt: %w", context.DeadlineExceeded, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctxError(ctx, err)
		case <-t.C:
		}
	}
}

// Until polls cond until it reports done, returns a permanent error, or ctx
// ends. Transient errors from cond are retried like Do's.
func Until(ctx context.Context, p Policy, cond func(context.Context) (bool, error)) error {
	errNotYet := errors.New("not yet")
	inner := p
	inner.Retryable = func(err error) bool {
		return err == errNotYet || p.retryable(err)
	}
	err := Do(ctx, inner, func(ctx context.Context) error {
		done, err := cond(ctx)
		if err != nil {
			return err
		}
		if !done {
			return errNotYet
		}
		return nil
	})
	if errors.Is(err, errNotYet) {
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("condition not met: %w", ctx.Err())
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("condition not met: %w", context.DeadlineExceeded)
		}
		return errors.New("condition not met: gave up waiting")
	}
	return err
}

func ctxError(ctx context.Context, last error) error {
	if errors.Is(last, ctx.Err()) {
		return last
	}
	return fmt.Errorf("%w (last error: %w)", ctx.Err(), last)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err so that Do and Until return it at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

func unwrapPermanent(err error) error {
	var perm *permanentError
	if errors.As(err, &perm) && perm == err {
		return perm.err
	}
	return err
}

// IsTransient reports whether err is worth another attempt: 5xx and 429
// answers, dropped or refused connections, and network timeouts. Context
// cancellation is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if status, ok := statusOf(err); ok {
		return status == http.StatusTooManyRequests || status >= 500
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// net/http reports a server that closed the connection mid-request
	// without a typed error.
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF") ||
		strings.Contains(msg, "server closed idle connection")
}

func isConflict(err error) bool {
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) || code.Actual != http.StatusConflict {
		return false
	}
	return !strings.Contains(strings.ToLower(string(code.Body)), "quota")
}

// StatusCoder is implemented by errors that carry an HTTP status, such as
// Kubernetes API errors.
type StatusCoder interface{ StatusCode() int }

func statusOf(err error) (int, bool) {
	var code gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &code) {
		return code.Actual, true
	}
	var sc StatusCoder
	if errors.As(err, &sc) {
		return sc.StatusCode(), true
	}
	return 0, false
}

// RetryAfter returns the wait an API asked for with a Retry-After header.
func RetryAfter(err error) (time.Duration, bool) {
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) || code.ResponseHeader == nil {
		return 0, false
	}
	v := code.ResponseHeader.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t), true
	}
	return 0, false
}
