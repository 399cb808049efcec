package infra_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/openstrap/openstrap/infra"
)

// TestDeleteRefusesWhileAClusterServerHasNoPort: a server of the cluster
// (ownership tag) that has no port on the network yet, as while it builds,
// still blocks Delete; once it is gone Delete goes ahead.
func TestDeleteRefusesWhileAClusterServerHasNoPort(t *testing.T) {
	e := newNetEnv(t)
	ctx := testCtx(t)
	inf := infra.New(e.cloud)
	if _, err := inf.Ensure(ctx, netOnlySpec()); err != nil {
		t.Fatal(err)
	}
	compute := *e.cloud.Compute
	compute.Microversion = "2.52" // tags at create, networks "none"
	srv, err := servers.Create(ctx, &compute, servers.CreateOpts{Name: "demo-md-0", ImageRef: imageID(t, e), FlavorRef: "1",
		Networks: "none", Tags: []string{infra.OwnerTag("demo")}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = servers.Delete(ctx, e.cloud.Compute, srv.ID).ExtractErr()
		}
	})

	e.resetCalls()
	err = inf.Delete(ctx, "demo")
	if !errors.Is(err, infra.ErrInUse) || !strings.Contains(err.Error(), srv.ID) {
		t.Fatalf("Delete with the cluster's server %s building = %v, want ErrInUse naming it", srv.ID, err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("refusing Delete made %d writes", w)
	}

	if err := servers.Delete(ctx, e.cloud.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := servers.Get(ctx, e.cloud.Compute, srv.ID).Extract()
		if gophercloud.ResponseCodeIs(err, 404) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	deleted = true
	if err := inf.Delete(ctx, "demo"); err != nil {
		t.Fatalf("Delete after the server went: %v", err)
	}
	if left := owned(e.snapshot(), "demo"); len(left) > 0 {
		t.Errorf("Delete left %v", left)
	}
}
