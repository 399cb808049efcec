package userdata

import (
	"errors"
	"fmt"
)

// ErrInvalidSpec is wrapped by every *FieldError, so callers can test any input
// problem with errors.Is(err, userdata.ErrInvalidSpec).
var ErrInvalidSpec = errors.New("invalid user data spec")

// ErrUnsupportedVersion is returned for a Kubernetes version no kubeadm
// configuration API this package writes can serve.
var ErrUnsupportedVersion = errors.New("unsupported Kubernetes version")

// FieldError names the input field that is wrong and why. It never carries the
// field's value when that value may be a secret.
type FieldError struct {
	// Field is the path of the field, e.g. "Init.Network.PodCIDR".
	Field string
	// Reason says what is wrong and what is accepted.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s: %s", ErrInvalidSpec, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidSpec) true.
func (e *FieldError) Unwrap() error { return ErrInvalidSpec }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// NovaUserDataLimit is the largest user data the Nova API accepts: 65535 bytes of
// base64 text (the server create request schema's maxLength for user_data).
const NovaUserDataLimit = 65535

// TooLargeError reports user data that does not fit Nova's limit even gzip-compressed.
type TooLargeError struct {
	// Size is the base64-encoded size in bytes.
	Size int
	// Limit is the limit in bytes (NovaUserDataLimit).
	Limit int
	// Compressed tells whether Size was measured after gzip compression.
	Compressed bool
}

// Error implements error.
func (e *TooLargeError) Error() string {
	c := ""
	if e.Compressed {
		c = " gzip-compressed and"
	}
	return fmt.Sprintf("user data is %d bytes%s base64-encoded, more than the %d-byte limit of OpenStack Nova; move large files out of the user data (e.g. fetch them at boot)", e.Size, c, e.Limit)
}

// Base64Size is the size of data once base64-encoded (standard padding), the size
// Nova checks against NovaUserDataLimit.
func Base64Size(data []byte) int { return (len(data) + 2) / 3 * 4 }

// CheckSize returns a *TooLargeError when data base64-encoded exceeds Nova's limit.
// Data that starts with the gzip magic is reported as compressed.
func CheckSize(data []byte) error {
	if n := Base64Size(data); n > NovaUserDataLimit {
		return &TooLargeError{Size: n, Limit: NovaUserDataLimit, Compressed: isGzip(data)}
	}
	return nil
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }
