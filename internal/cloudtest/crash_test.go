package cloudtest_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openstrap/openstrap/internal/cloudtest"
)

func TestCrasher(t *testing.T) {
	var handled atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	cr := cloudtest.NewCrasher(nil)
	c := &http.Client{Transport: cr}
	get := func(path string) error {
		resp, err := c.Get(srv.URL + path)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}

	for _, tc := range []struct {
		action      cloudtest.CrashAction
		wantHandled int32
	}{{cloudtest.CrashBefore, 2}, {cloudtest.CrashAfter, 3}} {
		t.Run(tc.action.String(), func(t *testing.T) {
			handled.Store(0)
			cut := false
			disarm := cr.Arm(3, tc.action, func() { cut = true })
			defer disarm()
			var errs []error
			for range 3 {
				errs = append(errs, get("/"))
			}
			if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], io.ErrUnexpectedEOF) || !errors.Is(errs[2], cloudtest.ErrCrashPoint) {
				t.Fatalf("errors %v, want only the third request cut", errs)
			}
			if !cut {
				t.Error("onCut did not run")
			}
			if got := handled.Load(); got != tc.wantHandled {
				t.Errorf("server handled %d requests, want %d", got, tc.wantHandled)
			}
			if err := get("/"); err != nil {
				t.Errorf("request after the cut: %v", err)
			}
			if cr.Count() != 4 {
				t.Errorf("Count = %d, want 4", cr.Count())
			}
		})
	}

	applied := cr.Applied()
	disarm := cr.ArmWhen(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/servers") }, cloudtest.CrashBefore, nil)
	if err := get("/flavors"); err != nil {
		t.Fatal(err)
	}
	if err := get("/servers"); !errors.Is(err, cloudtest.ErrCrashPoint) {
		t.Fatalf("matching request: %v, want the cut", err)
	}
	if err := get("/servers"); err != nil {
		t.Fatalf("second matching request: %v, want it through (once only)", err)
	}
	disarm()
	if cr.Applied() != applied+1 {
		t.Errorf("Applied = %d, want %d", cr.Applied(), applied+1)
	}
	disarm = cr.Arm(1, cloudtest.CrashBefore, nil)
	disarm()
	if err := get("/"); err != nil {
		t.Errorf("request after disarm: %v", err)
	}
}
