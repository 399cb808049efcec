package cloudtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/attributestags"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestSnapshotAndCleanup creates a tagged network, finds it in the snapshot
// and checks that DeleteOwned removes it, on whichever cloud the
// environment names.
func TestSnapshotAndCleanup(t *testing.T) {
	e := cloudtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := e.Cloud(ctx)
	cluster := e.Cluster("cloudtest")
	tag := provider.OwnershipTag(cluster)
	n, err := networks.Create(ctx, c.Network, networks.CreateOpts{Name: cluster + "-net"}).Extract()
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	if err := attributestags.Add(ctx, c.Network, "networks", n.ID, tag).ExtractErr(); err != nil {
		t.Fatalf("tag network: %v", err)
	}
	owned := cloudtest.Owned(e.Snapshot(ctx), tag)
	if len(owned) != 1 || owned[0].ID != n.ID || owned[0].Kind != "network" || owned[0].Service != "network" {
		t.Fatalf("owned = %+v, want network %s", owned, n.ID)
	}
	if err := cloudtest.DeleteOwned(ctx, c, tag); err != nil {
		t.Fatalf("DeleteOwned: %v", err)
	}
	if owned := cloudtest.Owned(e.Snapshot(ctx), tag); len(owned) != 0 {
		t.Errorf("after DeleteOwned: %+v", owned)
	}
	if e.IsReal() != (e.Sim() == nil) {
		t.Errorf("IsReal = %v with Sim %v", e.IsReal(), e.Sim())
	}
	if !e.IsReal() && (cluster != "cloudtest" || e.CloudName() != openstacktest.CloudName) {
		t.Errorf("on the simulator: cluster %q, cloud %q", cluster, e.CloudName())
	}
	if e.IsReal() && (cluster == "cloudtest" || e.Name("x") == e.Name("x")) {
		t.Errorf("on a real cloud names must be unique: %q", cluster)
	}
	if admin := e.AdminCloud(ctx); admin.ProjectID == c.ProjectID {
		t.Errorf("admin and member share project %s", c.ProjectID)
	}
}

// recorder stands in for a *testing.T to see what RequireSim does.
type recorder struct {
	testing.TB
	name    string
	skipped string
	fatal   string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}

func TestRequireSim(t *testing.T) {
	gaps := cloudtest.Gaps()
	seen := map[string]bool{}
	for _, g := range gaps {
		k := g.Package + "." + g.Test
		if seen[k] || g.Reason == "" || g.Package == "" || g.Test == "" {
			t.Errorf("gap %+v: duplicate or incomplete", g)
		}
		seen[k] = true
	}
	tests := []struct {
		name      string
		real      bool
		test      string
		reason    cloudtest.Reason
		wantSkip  bool
		wantFatal bool
	}{
		{name: "simulator runs everything", test: "TestUnregistered", reason: cloudtest.NeedsFaults},
		{name: "real, unregistered", real: true, test: "TestUnregistered/sub", reason: cloudtest.NeedsFaults, wantFatal: true},
		{name: "real, registered", real: true, test: "TestRequireSimRegistered/sub", reason: cloudtest.NeedsSimFeature, wantSkip: true},
		{name: "real, other reason", real: true, test: "TestRequireSimRegistered", reason: cloudtest.NeedsFaults, wantFatal: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.real {
				t.Setenv("OS_CLOUD", "somecloud")
			} else {
				t.Setenv("OS_CLOUD", "")
			}
			r := &recorder{TB: t, name: tc.test}
			cloudtest.RequireSimIn(r, tc.reason, "/src/internal/cloudtest", []cloudtest.Gap{{Package: "internal/cloudtest", Test: "TestRequireSimRegistered", Reason: cloudtest.NeedsSimFeature}})
			if (r.skipped != "") != tc.wantSkip || (r.fatal != "") != tc.wantFatal {
				t.Errorf("skipped %q fatal %q, want skip %v fatal %v", r.skipped, r.fatal, tc.wantSkip, tc.wantFatal)
			}
		})
	}
}

// TestGapsNameExistingTests keeps the gap list honest: every entry names a
// test function that exists in its package.
func TestGapsNameExistingTests(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, g := range cloudtest.Gaps() {
		top, _, _ := strings.Cut(g.Test, "/")
		files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(g.Package), "*_test.go"))
		if err != nil || len(files) == 0 {
			t.Errorf("gap %s.%s: no test files (%v)", g.Package, g.Test, err)
			continue
		}
		found := false
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "func "+top+"(") && strings.Contains(string(b), "cloudtest."+reasonName(g.Reason)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("gap %s.%s: no test function %s calling RequireSim with its reason", g.Package, g.Test, top)
		}
	}
}

// reasonName is the Go name of a Reason constant.
func reasonName(r cloudtest.Reason) string {
	for name, v := range map[string]cloudtest.Reason{
		"NeedsFaults": cloudtest.NeedsFaults, "NeedsCallCounts": cloudtest.NeedsCallCounts,
		"NeedsFailBoot": cloudtest.NeedsFailBoot, "NeedsLatency": cloudtest.NeedsLatency,
		"NeedsBootHook": cloudtest.NeedsBootHook, "NeedsCinder": cloudtest.NeedsCinder,
		"NeedsSimFeature":  cloudtest.NeedsSimFeature,
		"NeedsQuotaChange": cloudtest.NeedsQuotaChange, "NeedsGraphCreateChildren": cloudtest.NeedsGraphCreateChildren,
	} {
		if v == r {
			return name
		}
	}
	return string(r)
}
