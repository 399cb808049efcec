package provider

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
)

// Sentinel errors that callers branch on with errors.Is. Errors returned by
// this module match them whether they were detected locally or reported by
// the cloud.
var (
	// ErrNotFound: the named or given resource does not exist.
	ErrNotFound = errors.New("not found")
	// ErrQuotaExceeded: the project's quota does not allow the request.
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrConflict: the resource is in use or in a state that forbids the change.
	ErrConflict = errors.New("conflict")
	// ErrInvalidSpec: the caller's input is wrong; fix the named field.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrAmbiguous: a name or filter matched more than one resource.
	ErrAmbiguous = errors.New("ambiguous")
	// ErrPending: a call that does not wait (Machines.Start) found the
	// cloud still working on something it started; call again later.
	ErrPending = errors.New("still in progress")
)

// Error describes a failed operation on one OpenStack resource. It keeps the
// underlying error (usually gophercloud's) in its chain.
type Error struct {
	// Op is what was attempted: "create", "delete", "find", ...
	Op string
	// Kind is the resource type: "network", "server", "load balancer", ...
	Kind string
	// Name is the resource's name, when known.
	Name string
	// ID is the resource's ID, when known.
	ID string
	// Cloud names the cloud, when known.
	Cloud string
	// Hint tells the caller what to do about it, when there is something.
	Hint string
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(" ")
	b.WriteString(e.Kind)
	if e.Name != "" {
		fmt.Fprintf(&b, " %q", e.Name)
	}
	if e.ID != "" {
		fmt.Fprintf(&b, " (%s)", e.ID)
	}
	if e.Cloud != "" {
		fmt.Fprintf(&b, " on cloud %q", e.Cloud)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(Describe(e.Err))
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether the cloud's answer in the chain maps to one of the
// sentinel errors.
func (e *Error) Is(target error) bool { return statusIs(e.Err, target) }

// statusIs maps HTTP status codes of the OpenStack APIs to sentinels.
func statusIs(err error, target error) bool {
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) {
		return false
	}
	switch target {
	case ErrNotFound:
		return code.Actual == http.StatusNotFound
	case ErrConflict:
		return code.Actual == http.StatusConflict
	case ErrQuotaExceeded:
		return IsQuota(err)
	case ErrInvalidSpec:
		return code.Actual == http.StatusBadRequest
	}
	return false
}

// IsQuota reports whether err is an OpenStack "quota exceeded" answer: 413,
// or 403/409 whose body speaks of a quota (Nova answers 403, Neutron 409,
// Octavia 403, Cinder 413).
func IsQuota(err error) bool {
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) {
		return errors.Is(err, ErrQuotaExceeded)
	}
	switch code.Actual {
	case http.StatusRequestEntityTooLarge:
		return true
	case http.StatusForbidden, http.StatusConflict:
		return strings.Contains(strings.ToLower(string(code.Body)), "quota")
	}
	return false
}

// Describe renders an error from the cloud as one short line: for an
// unexpected HTTP status, the method, status and the API's own message
// rather than gophercloud's full text with the request URL.
func Describe(err error) string {
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) {
		return err.Error()
	}
	msg := apiMessage(code.Body)
	if msg == "" {
		return fmt.Sprintf("%s returned %d", code.Method, code.Actual)
	}
	return fmt.Sprintf("%s returned %d: %s", code.Method, code.Actual, msg)
}
