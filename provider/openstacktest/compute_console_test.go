package openstacktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

func TestConsoleOutput(t *testing.T) {
	ctx := context.Background()
	srv := openstacktest.NewTestServer(t, openstacktest.WithBootDelay(50*time.Millisecond))
	cloud, err := srv.Cloud(ctx)
	if err != nil {
		t.Fatal(err)
	}
	flavor, image := "m1.small", ""
	imgs := srv.Snapshot()
	for _, r := range imgs {
		if r.Kind == "image" && r.Name == openstacktest.ImageName {
			image = r.ID
		}
	}
	cloud.Compute.Microversion = "2.37" // networks "none"
	created, err := servers.Create(ctx, cloud.Compute, servers.CreateOpts{Name: "console", FlavorRef: flavorID(t, srv, flavor),
		ImageRef: image, Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// While building, Nova refuses.
	if err := servers.ShowConsoleOutput(ctx, cloud.Compute, created.ID, servers.ShowConsoleOutputOpts{}).Err; err == nil {
		t.Fatal("console output of a building server: want 409")
	}
	if err := servers.WaitForStatus(ctx, cloud.Compute, created.ID, "ACTIVE"); err != nil {
		t.Fatal(err)
	}
	srv.AppendConsole(created.ID, "cloud-init: one", "two\nthree")
	all, err := servers.ShowConsoleOutput(ctx, cloud.Compute, created.ID, servers.ShowConsoleOutputOpts{}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if all != "cloud-init: one\ntwo\nthree\n" {
		t.Fatalf("console = %q", all)
	}
	last, err := servers.ShowConsoleOutput(ctx, cloud.Compute, created.ID, servers.ShowConsoleOutputOpts{Length: 1}).Extract()
	if err != nil || last != "three\n" {
		t.Fatalf("last line = %q, %v", last, err)
	}
}

func flavorID(t *testing.T, srv *openstacktest.Server, name string) string {
	t.Helper()
	for _, r := range srv.Snapshot() {
		if r.Kind == "flavor" && r.Name == name {
			return r.ID
		}
	}
	t.Fatalf("no flavor %s", name)
	return ""
}
