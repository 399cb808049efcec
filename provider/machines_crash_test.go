package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// crashMode is one way to abort a call: where the connection is cut, and
// whether the caller carries on (and retries) or dies right there.
type crashMode struct {
	action cloudtest.CrashAction
	kill   bool
}

var crashModes = []crashMode{{cloudtest.CrashBefore, false}, {cloudtest.CrashBefore, true}, {cloudtest.CrashAfter, false}, {cloudtest.CrashAfter, true}}

// sweepModes returns the modes to try at the i-th point: all four on the
// simulator; one per point, in turn, on a real cloud, where each point costs
// seconds.
func (e *simEnv) sweepModes(i int) []crashMode {
	if e.env.IsReal() {
		return crashModes[i%len(crashModes) : i%len(crashModes)+1]
	}
	return crashModes
}

// sweepStride is 1 on the simulator; on a real cloud about ten points are
// spread over the calls.
func (e *simEnv) sweepStride(calls int) int {
	if e.env.IsReal() {
		return max(1, calls/10)
	}
	return 1
}

// crashMachines returns a Machines service whose requests go through a
// Crasher, which cuts a chosen call on the client's side (so the sweep runs
// on any cloud).
func (e *simEnv) crashMachines(t testing.TB, opts ...provider.MachinesOption) (*provider.Machines, *cloudtest.Crasher) {
	t.Helper()
	cr := cloudtest.NewCrasher(nil)
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	cloud, err := e.env.Connect(ctx, false, cr)
	if err != nil {
		t.Fatalf("connect through the crasher: %v", err)
	}
	if !e.env.IsReal() {
		opts = append([]provider.MachinesOption{provider.WithFastPolling()}, opts...)
	}
	return provider.NewMachines(cloud, opts...), cr
}

// TestMachinesCrashSweep aborts each API call of a Create in turn, the
// connection cut before or after the cloud handled it, either letting
// Create carry on (it retries) or killing it right there (its context is
// cancelled as the call fails, as if the process died). Create is then run
// again and must converge to one machine with one set of resources; Delete
// must then leave the cloud as it was. On a real cloud about ten calls
// spread over the run get one of the four modes each, in turn.
func TestMachinesCrashSweep(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(30*time.Millisecond), openstacktest.WithVolumeDelay(10*time.Millisecond))
	pool := &fakePool{}
	m, cr := e.crashMachines(t, provider.WithAPIServerPool(pool))
	spec := e.worker("demo-crash")
	spec.Role = provider.ControlPlane // a server group, the pool
	spec.Ports = append(spec.Ports, provider.PortSpec{Network: e.netName, SecurityGroups: []string{"default"}})
	spec.FloatingIP = &provider.FloatingIPSpec{}
	// Three ports: the machine's two and the floating IP's own port on the
	// external network, which Neutron creates and deletes with it.
	want := map[string]int{
		"compute/server": 1, "compute/server_group": 1, "network/port": 3, "network/floatingip": 1,
	}
	if e.env.IsReal() {
		// The member's snapshot: Neutron creates the floating IP's port
		// with no project, so only an admin lists it.
		want["network/port"] = 2
	}
	vols := 0
	if !e.env.IsReal() {
		spec.RootVolume = &provider.RootVolumeSpec{SizeGiB: 10}
		spec.Volumes = []provider.VolumeSpec{{Name: "etcd", SizeGiB: 1}}
		want["volume/volume"], vols = 2, 2
	}

	ctx := testCtx(t, e.env.Timeout(10*time.Minute)*3)
	cr.Reset()
	if _, err := m.Create(ctx, spec); err != nil {
		t.Fatalf("baseline Create: %v", err)
	}
	calls := cr.Count()
	if diff := cmp.Diff(want, e.kinds()); diff != "" {
		t.Fatalf("baseline resources (-want +got):\n%s", diff)
	}
	if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
		t.Fatalf("baseline Delete: %v", err)
	}
	e.assertClean(t)
	t.Logf("a Create makes %d API calls", calls)

	points, crashed := 0, 0
	for i, k := 0, 1; k <= calls; i, k = i+1, k+e.sweepStride(calls) {
		for _, mode := range e.sweepModes(i) {
			{
				action, kill := mode.action, mode.kill
				name := fmt.Sprintf("call %d %s kill=%v", k, action, kill)
				applied, err := crashCreate(ctx, cr, m, spec, k, action, kill)
				if !applied {
					// Polling makes the call count vary a little; past the
					// end there is nothing to abort.
					continue
				}
				points++
				if err != nil {
					crashed++
				}
				if err != nil && !kill {
					// A lost answer is retried (after looking again) within
					// the same Create.
					t.Errorf("%s: Create did not recover from the dropped call: %v", name, err)
				}
				got, err := m.Create(ctx, spec)
				if err != nil {
					t.Fatalf("%s: Create after the abort: %v", name, err)
				}
				if got.Status != "ACTIVE" || len(got.PortIDs) != 2 || len(got.VolumeIDs) != vols || got.FloatingIP == "" {
					t.Errorf("%s: machine %+v", name, got)
				}
				if diff := cmp.Diff(want, e.kinds()); diff != "" {
					t.Errorf("%s: resources after Create again (-want +got):\n%s", name, diff)
				}
				if addr := pool.snapshot()[spec.Name]; addr != got.InternalAddress {
					t.Errorf("%s: pool has %q, machine address %q", name, addr, got.InternalAddress)
				}
				if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
					t.Fatalf("%s: Delete: %v", name, err)
				}
				added, removed := e.diffSnapshot()
				if len(added) > 0 || len(removed) > 0 {
					t.Fatalf("%s: after Delete, left behind %v, removed %v", name, added, removed)
				}
				if len(pool.snapshot()) != 0 {
					t.Fatalf("%s: pool after Delete: %v", name, pool.snapshot())
				}
			}
		}
	}
	if min := len(e.sweepModes(1)) * calls / e.sweepStride(calls) / 2; points < min {
		t.Errorf("only %d crash points for %d calls", points, calls)
	}
	t.Logf("crash sweep: %d crash points (%d calls / %d x %d modes), %d first Creates failed, all converged and left nothing after Delete", points, calls, e.sweepStride(calls), len(e.sweepModes(1)), crashed)
}

// crashCreate runs Create with its k-th call cut by action. With kill,
// Create's context is cancelled at the cut, like a process that dies there.
func crashCreate(ctx context.Context, cr *cloudtest.Crasher, m *provider.Machines, spec provider.MachineSpec, k int, action cloudtest.CrashAction, kill bool) (applied bool, err error) {
	before := cr.Applied()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var onCut func()
	if kill {
		onCut = cancel
	}
	disarm := cr.Arm(k, action, onCut)
	defer disarm()
	_, err = m.Create(cctx, spec)
	return cr.Applied() > before, err
}

// TestMachinesDeleteCrashSweep aborts each API call of a Delete in turn, the
// same four ways, then runs Delete again: the cloud must end as it was and
// the pool without the machine.
func TestMachinesDeleteCrashSweep(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(20*time.Millisecond), openstacktest.WithVolumeDelay(10*time.Millisecond))
	pool := &fakePool{}
	m, cr := e.crashMachines(t, provider.WithAPIServerPool(pool))
	spec := e.worker("demo-del")
	spec.Role = provider.ControlPlane
	spec.Ports = append(spec.Ports, provider.PortSpec{Network: e.netName})
	spec.FloatingIP = &provider.FloatingIPSpec{}
	if !e.env.IsReal() {
		spec.RootVolume = &provider.RootVolumeSpec{SizeGiB: 10}
		spec.Volumes = []provider.VolumeSpec{{Name: "etcd", SizeGiB: 1}}
	}
	ctx := testCtx(t, e.env.Timeout(10*time.Minute)*3)

	if _, err := m.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	cr.Reset()
	if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
		t.Fatal(err)
	}
	calls := cr.Count()
	e.assertClean(t)
	t.Logf("a Delete makes %d API calls", calls)

	points := 0
	for i, k := 0, 1; k <= calls; i, k = i+1, k+e.sweepStride(calls) {
		for _, mode := range e.sweepModes(i) {
			{
				action, kill := mode.action, mode.kill
				name := fmt.Sprintf("call %d %s kill=%v", k, action, kill)
				if _, err := m.Create(ctx, spec); err != nil {
					t.Fatalf("%s: Create: %v", name, err)
				}
				before := cr.Applied()
				dctx, cancel := context.WithCancel(ctx)
				var onCut func()
				if kill {
					onCut = cancel
				}
				disarm := cr.Arm(k, action, onCut)
				_ = m.Delete(dctx, spec.Cluster, spec.Name)
				disarm()
				cancel()
				if cr.Applied() > before {
					points++
				}
				if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
					t.Fatalf("%s: Delete again: %v", name, err)
				}
				added, removed := e.diffSnapshot()
				if len(added) > 0 || len(removed) > 0 {
					t.Fatalf("%s: after Delete again, left behind %v, removed %v", name, added, removed)
				}
				if len(pool.snapshot()) != 0 {
					t.Fatalf("%s: pool: %v", name, pool.snapshot())
				}
			}
		}
	}
	if min := len(e.sweepModes(1)) * calls / e.sweepStride(calls) / 2; points < min {
		t.Errorf("only %d crash points for %d calls", points, calls)
	}
	t.Logf("delete crash sweep: %d crash points (%d calls / %d x %d modes), all clean after Delete again", points, calls, e.sweepStride(calls), len(e.sweepModes(1)))
}

// A Create killed right after it created the control planes' default server
// group, then Delete (without Create again): nothing is left.
func TestMachinesDeleteAfterCrashAtServerGroup(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(20*time.Millisecond))
	spec := e.worker("demo-cp-0")
	spec.Role = provider.ControlPlane
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	for _, action := range []cloudtest.CrashAction{cloudtest.CrashAfter, cloudtest.CrashBefore} {
		m, cr := e.crashMachines(t)
		cctx, cancel := context.WithCancel(ctx)
		disarm := cr.ArmWhen(func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/os-server-groups")
		}, action, cancel)
		_, err := m.Create(cctx, spec)
		applied := cr.Applied() > 0
		disarm()
		cancel()
		if !applied || err == nil {
			t.Fatalf("%s: cut applied %v, Create error %v", action, applied, err)
		}
		if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
			t.Fatalf("%s: Delete: %v", action, err)
		}
		e.assertClean(t)
	}
}
