package provider_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestMachinesStartDoesNotWait: Start returns while the server builds and
// while volumes are created, makes no write once everything is submitted,
// reports ERROR without deleting, and Delete then leaves nothing.
func TestMachinesStartDoesNotWait(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(3*time.Second), openstacktest.WithVolumeDelay(2*time.Second))
	cloudtest.RequireSim(t, cloudtest.NeedsLatency)
	ctx := testCtx(t, time.Minute)
	m := e.machines()

	spec := e.worker("demo-start")
	spec.Volumes = []provider.VolumeSpec{{Name: "data", SizeGiB: 1}}
	start := time.Now()
	_, err := m.Start(ctx, spec)
	if !errors.Is(err, provider.ErrPending) {
		t.Fatalf("Start with a volume being created = %v, want ErrPending", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Start took %v with a 2s volume delay: it waited", d)
	}
	if k := e.kinds(); k["volume/volume"] != 1 || k["compute/server"] != 0 || k["network/port"] != 1 {
		t.Fatalf("after the pending Start: %v, want one volume, one port, no server", k)
	}
	// Calling again while the volume is still creating makes no write.
	e.resetCalls()
	if _, err := m.Start(ctx, spec); !errors.Is(err, provider.ErrPending) {
		t.Fatalf("second Start = %v, want ErrPending", err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("a Start that finds the volume still creating made %d writes: %v", w, e.calls())
	}

	var mc *provider.Machine
	for deadline := time.Now().Add(20 * time.Second); ; {
		mc, err = m.Start(ctx, spec)
		if err == nil || !errors.Is(err, provider.ErrPending) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Start once the volume is available: %v", err)
	}
	if mc.Status != "BUILD" || mc.ServerID == "" || mc.ProviderID != provider.ProviderIDPrefix+mc.ServerID || mc.InternalAddress == "" || len(mc.VolumeIDs) != 1 {
		t.Fatalf("Start returned %+v, want a BUILD server with its address and volume", mc)
	}

	e.resetCalls()
	again, err := m.Start(ctx, spec)
	if err != nil || again.ServerID != mc.ServerID {
		t.Fatalf("Start of a building machine = %+v, %v; want server %s", again, err, mc.ServerID)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("Start of an existing machine made %d writes: %v", w, e.calls())
	}

	// ServerStatus: pollers of one cluster share a list call.
	e.resetCalls()
	for range 5 {
		st, _, err := m.ServerStatus(ctx, spec.Cluster, mc.ServerID, time.Minute)
		if err != nil || st != "BUILD" {
			t.Fatalf("ServerStatus = %q, %v; want BUILD", st, err)
		}
	}
	if c := e.calls(); c.Total() != 1 {
		t.Errorf("5 ServerStatus calls within maxAge made %d API calls, want 1 list: %v", c.Total(), c)
	}
	if _, _, err := m.ServerStatus(ctx, spec.Cluster, "0b9d3f4e-0000-4000-8000-000000000000", 0); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("ServerStatus of a missing server = %v, want ErrNotFound", err)
	}
	for deadline := time.Now().Add(20 * time.Second); mc.Status != "ACTIVE" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		st, _, err := m.ServerStatus(ctx, spec.Cluster, mc.ServerID, 0)
		if err != nil {
			t.Fatal(err)
		}
		mc.Status = st
	}
	if mc, err = m.Get(ctx, spec.Cluster, spec.Name); err != nil {
		t.Fatal(err)
	}
	if mc.Status != "ACTIVE" {
		t.Fatalf("server status %s, want ACTIVE", mc.Status)
	}

	// A boot that fails is reported, not cleaned up: the caller decides.
	remove := e.s.FailBoot(func(name string) bool { return name == "demo-fails" }, "No valid host was found.")
	defer remove()
	bad := e.worker("demo-fails")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err := m.Start(ctx, bad)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == "ERROR" {
			if !strings.Contains(got.Fault, "No valid host") {
				t.Errorf("fault %q, want Nova's message", got.Fault)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("failing server still %s", got.Status)
		}
	}

	// StartDelete: pending while Nova deletes, one DELETE only, then the
	// ports and volumes go.
	e.resetCalls()
	if err := m.StartDelete(ctx, spec.Cluster, spec.Name); !errors.Is(err, provider.ErrPending) {
		t.Fatalf("first StartDelete = %v, want ErrPending", err)
	}
	if n := e.calls()["DELETE /compute/v2.1/servers/{id}"]; n != 1 {
		t.Errorf("first StartDelete sent %d server DELETEs, want 1", n)
	}
	deletes := 0
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		e.resetCalls()
		err := m.StartDelete(ctx, spec.Cluster, spec.Name)
		deletes += e.calls()["DELETE /compute/v2.1/servers/{id}"]
		if err == nil {
			break
		}
		if !errors.Is(err, provider.ErrPending) || time.Now().After(deadline) {
			t.Fatalf("StartDelete = %v", err)
		}
	}
	if deletes != 0 {
		t.Errorf("StartDelete sent the server's DELETE %d more times while Nova was deleting it", deletes)
	}
	if err := m.Delete(ctx, spec.Cluster, bad.Name); err != nil {
		t.Fatal(err)
	}
	e.assertClean(t)
}
