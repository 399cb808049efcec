package openstacktest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestConsoleOutput pins os-getConsoleOutput: 409 before the server has a
// host, then the log, its last `length` lines as Nova cuts them (split on
// newlines, so a log ending in one has an empty last line), nothing for 0.
// On the simulator the log is what AppendConsole wrote; Nova's fake driver
// has a fixed text.
func TestConsoleOutput(t *testing.T) {
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithBootDelay(50*time.Millisecond)))
	ctx := testContext(t)
	cloud := e.Cloud(ctx)
	cloud.Compute.Microversion = "2.37" // networks "none"
	created, err := servers.Create(ctx, cloud.Compute, servers.CreateOpts{Name: e.Name("console"), FlavorRef: flavorByName(t, cloud.Compute, "m1.small"),
		ImageRef: imageID(t, cloud), Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteServerLater(t, cloud.Compute, created.ID)
	// Until the server has a host, Nova refuses.
	if err := whileBuilding(t, cloud.Compute, created.ID, func() error {
		return servers.ShowConsoleOutput(ctx, cloud.Compute, created.ID, servers.ShowConsoleOutputOpts{}).Err
	}); err == nil {
		t.Error("console output of a building server: want 409")
	} else if key, msg := apiFault(t, err, 409); key != "conflictingRequest" || msg != "Instance "+created.ID+" is not ready" {
		t.Errorf("console output while building: %s %q", key, msg)
	}
	waitServer(t, cloud.Compute, created.ID, "ACTIVE")
	if s := e.Sim(); s != nil {
		s.AppendConsole(created.ID, "cloud-init: one", "two\nthree")
	}
	all, err := servers.ShowConsoleOutput(ctx, cloud.Compute, created.ID, servers.ShowConsoleOutputOpts{}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if e.Sim() != nil && all != "cloud-init: one\ntwo\nthree\n" {
		t.Errorf("console = %q", all)
	}
	if e.IsReal() && all != "FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE" {
		t.Errorf("console of Nova's fake driver = %q", all)
	}
	lines := strings.Split(all, "\n")
	for _, n := range []int{1, 2, len(lines) + 5} {
		want := strings.Join(lines[max(len(lines)-n, 0):], "\n")
		got, err := servers.ShowConsoleOutput(ctx, cloud.Compute, created.ID, servers.ShowConsoleOutputOpts{Length: n}).Extract()
		if err != nil || got != want {
			t.Errorf("length %d: %q, %v; want %q", n, got, err, want)
		}
	}
	// length 0 is nothing, and -1 (documented as "all") drops the first line.
	for n, want := range map[string]string{"0": "", "-1": strings.Join(lines[1:], "\n")} {
		var out struct {
			Output string `json:"output"`
		}
		_, err := cloud.Compute.Post(ctx, cloud.Compute.ServiceURL("servers", created.ID, "action"),
			map[string]any{"os-getConsoleOutput": map[string]any{"length": n}}, &out, &gophercloud.RequestOpts{OkCodes: []int{200}})
		if err != nil || out.Output != want {
			t.Errorf("length %s: %q, %v; want %q", n, out.Output, err, want)
		}
	}
}
