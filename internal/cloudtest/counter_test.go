package cloudtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestCounter counts a member's requests by operation on whichever cloud
// the environment names, under the keys the simulator's own counter uses;
// on the simulator both counters agree.
func TestCounter(t *testing.T) {
	e := cloudtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := e.Cloud(ctx)
	n := e.Counter(c)
	if got := n.Calls()["POST /identity/v3/auth/tokens"]; got != 1 {
		t.Errorf("token requests of the connection = %d, want 1: %v", got, n.Calls())
	}
	n.Reset()
	if s := e.Sim(); s != nil {
		s.ResetCalls()
	}
	net, err := networks.Create(ctx, c.Network, networks.CreateOpts{Name: e.Name("counter-net")}).Extract()
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	if _, err := networks.Get(ctx, c.Network, net.ID).Extract(); err != nil {
		t.Fatalf("get network: %v", err)
	}
	if err := networks.Delete(ctx, c.Network, net.ID).ExtractErr(); err != nil {
		t.Fatalf("delete network: %v", err)
	}
	if _, err := servers.List(c.Compute, servers.ListOpts{Name: "^counter-none$"}).AllPages(ctx); err != nil {
		t.Fatalf("list servers: %v", err)
	}
	want := openstacktest.Calls{
		"POST /network/v2.0/networks":        1,
		"GET /network/v2.0/networks/{id}":    1,
		"DELETE /network/v2.0/networks/{id}": 1,
		"GET /compute/v2.1/servers/detail":   1,
	}
	got := n.Calls()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counted calls (-want +got):\n%s", diff)
	}
	if got.Writes() != 2 || got.Reads() != 2 {
		t.Errorf("writes %d reads %d, want 2 and 2", got.Writes(), got.Reads())
	}
	if s := e.Sim(); s != nil {
		if diff := cmp.Diff(s.Calls(), got); diff != "" {
			t.Errorf("the simulator counted otherwise (-simulator +counter):\n%s", diff)
		}
	}
	// The admin connection has a counter of its own.
	if a := e.Counter(e.AdminCloud(ctx)).Calls(); a.Writes() != 0 || a["POST /identity/v3/auth/tokens"] != 1 {
		t.Errorf("admin counter = %v, want its one token request", a)
	}
}
