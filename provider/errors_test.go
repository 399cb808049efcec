package provider

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
)

func TestErrorIs(t *testing.T) {
	resp := func(status int, body string) error {
		return gophercloud.ErrUnexpectedResponseCode{Method: "POST", Actual: status, Body: []byte(body)}
	}
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"404 is not found", resp(404, `{"itemNotFound": {"code": 404, "message": "Flavor x could not be found."}}`), ErrNotFound, true},
		{"404 is not conflict", resp(404, ""), ErrConflict, false},
		{"409 is conflict", resp(409, `{"NeutronError": {"type": "NetworkInUse", "message": "in use"}}`), ErrConflict, true},
		{"nova quota 403", resp(403, `{"forbidden": {"code": 403, "message": "Quota exceeded for instances"}}`), ErrQuotaExceeded, true},
		{"neutron quota 409", resp(409, `{"NeutronError": {"type": "OverQuota", "message": "Quota exceeded for resources: ['port']."}}`), ErrQuotaExceeded, true},
		{"plain 403 is not quota", resp(403, `{"forbidden": {"message": "Policy doesn't allow"}}`), ErrQuotaExceeded, false},
		{"cinder 413", resp(413, ""), ErrQuotaExceeded, true},
		{"400 is invalid", resp(400, ""), ErrInvalidSpec, true},
		{"wrapped", fmt.Errorf("outer: %w", resp(404, "")), ErrNotFound, true},
		{"not an API error", errors.New("boom"), ErrNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := &Error{Op: "create", Kind: "port", Name: "demo-cp-0", Err: tt.err}
			if got := errors.Is(err, tt.target); got != tt.want {
				t.Fatalf("errors.Is(%v, %v) = %v, want %v", err, tt.target, got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{`{"NeutronError": {"type": "NetworkNotFound", "message": "Network abc could not be found.", "detail": ""}}`, `create network "demo-net" on cloud "sim": POST returned 404: Network abc could not be found. (check the ID)`},
		{`{"faultcode": "Client", "faultstring": "Load Balancer x is immutable", "debuginfo": null}`, `create network "demo-net" on cloud "sim": POST returned 404: Load Balancer x is immutable (check the ID)`},
		{`<html><body><h1>404 Not Found</h1>No image found</body></html>`, `create network "demo-net" on cloud "sim": POST returned 404: 404 Not Found No image found (check the ID)`},
		{``, `create network "demo-net" on cloud "sim": POST returned 404 (check the ID)`},
	}
	for _, tt := range tests {
		err := &Error{Op: "create", Kind: "network", Name: "demo-net", Cloud: "sim", Hint: "check the ID",
			Err: gophercloud.ErrUnexpectedResponseCode{Method: "POST", Actual: 404, Body: []byte(tt.body)}}
		if got := err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
