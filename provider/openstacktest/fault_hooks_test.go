package openstacktest_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestFaultWritesMatchOnApply kills "the process" at its second write: the
// write lands but its answer is lost (DropAfter), and from then on every
// request fails until the test revives it, as a crash sweep does.
func TestFaultWritesMatchOnApply(t *testing.T) {
	e := newServerEnv(t)
	ctx := testContext(t)
	var dead atomic.Bool
	var killedAt atomic.Value
	e.s.InjectFault(openstacktest.Fault{Match: func(*http.Request) bool { return dead.Load() }, Action: openstacktest.DropBefore})
	e.s.InjectFault(openstacktest.Fault{Writes: true, Skip: 1, Times: 1, Action: openstacktest.DropAfter,
		OnApply: func(r *http.Request) {
			dead.Store(true)
			killedAt.Store(r.Method + " " + r.URL.Path)
		}})

	// Reads are not writes: they neither count nor trigger.
	for range 3 {
		if _, err := flavors.Get(ctx, e.c.Compute, "1").Extract(); err != nil {
			t.Fatalf("read before the kill: %v", err)
		}
	}
	if _, err := e.create(ctx, "first"); err != nil {
		t.Fatalf("first write (skipped): %v", err)
	}
	if _, err := e.create(ctx, "second"); err == nil {
		t.Fatal("second write: answered, want its answer lost")
	}
	if got, _ := killedAt.Load().(string); got != "POST /compute/v2.1/servers" {
		t.Errorf("OnApply saw %q, want the server create", got)
	}
	if _, err := flavors.Get(ctx, e.c.Compute, "1").Extract(); err == nil {
		t.Error("a read after the kill was answered; Match must drop it")
	}
	if _, err := e.create(ctx, "third"); err == nil {
		t.Error("a write after the kill was answered; Match must drop it")
	}
	dead.Store(false)
	if diff := cmp.Diff([]string{"first", "second"}, e.serverNames(t)); diff != "" {
		t.Errorf("servers (-want +got): the killed write lands, the one after it does not:\n%s", diff)
	}
	if got := e.s.FaultsApplied(); got != 3 {
		t.Errorf("FaultsApplied = %d, want 3 (the kill and two dropped requests)", got)
	}
}
