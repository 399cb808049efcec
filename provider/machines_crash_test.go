package provider_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestMachinesCrashSweep aborts each API call of a Create in turn, the
// connection dropped before or after the cloud handled it, either letting
// Create carry on (it retries) or killing it right there (its context is
// cancelled as the call fails, as if the process died). Create is then run
// again and must converge to one machine with one set of resources; Delete
// must then leave the cloud as it was.
func TestMachinesCrashSweep(t *testing.T) {
	t.Parallel()
	cloudtest.RequireSim(t, cloudtest.NeedsFaults)
	e := newSimEnv(t, openstacktest.WithBootDelay(30*time.Millisecond), openstacktest.WithVolumeDelay(10*time.Millisecond))
	pool := &fakePool{}
	m := e.machines(provider.WithAPIServerPool(pool))
	spec := e.worker("demo-crash")
	spec.Role = provider.ControlPlane // a server group, the pool
	spec.Ports = append(spec.Ports, provider.PortSpec{Network: e.netName, SecurityGroups: []string{"default"}})
	spec.FloatingIP = &provider.FloatingIPSpec{}
	spec.RootVolume = &provider.RootVolumeSpec{SizeGiB: 10}
	spec.Volumes = []provider.VolumeSpec{{Name: "etcd", SizeGiB: 1}}
	// Three ports: the machine's two and the floating IP's own port on the
	// external network, which Neutron creates and deletes with it.
	want := map[string]int{
		"compute/server": 1, "compute/server_group": 1, "network/port": 3, "network/floatingip": 1, "volume/volume": 2,
	}

	ctx := testCtx(t, 10*time.Minute)
	e.s.ResetCalls()
	if _, err := m.Create(ctx, spec); err != nil {
		t.Fatalf("baseline Create: %v", err)
	}
	calls := e.s.Calls().Total()
	if diff := cmp.Diff(want, e.kinds()); diff != "" {
		t.Fatalf("baseline resources (-want +got):\n%s", diff)
	}
	if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
		t.Fatalf("baseline Delete: %v", err)
	}
	e.assertClean(t)
	t.Logf("a Create makes %d API calls", calls)

	points, crashed := 0, 0
	for k := 1; k <= calls; k++ {
		for _, action := range []openstacktest.FaultAction{openstacktest.DropBefore, openstacktest.DropAfter} {
			for _, kill := range []bool{false, true} {
				name := fmt.Sprintf("call %d %s kill=%v", k, action, kill)
				applied, err := crashCreate(ctx, e, m, spec, openstacktest.Fault{Skip: k - 1, Times: 1, Action: action}, kill)
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
				if got.Status != "ACTIVE" || len(got.PortIDs) != 2 || len(got.VolumeIDs) != 2 || got.FloatingIP == "" {
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
	if points < 2*calls {
		t.Errorf("only %d crash points for %d calls", points, calls)
	}
	t.Logf("crash sweep: %d crash points (%d calls x drop before/after x retry/kill), %d first Creates failed, all converged and left nothing after Delete", points, calls, crashed)
}

// crashCreate runs Create with fault injected. With kill, Create's context
// is cancelled the moment the fault hits, like a process that dies there.
func crashCreate(ctx context.Context, e *simEnv, m *provider.Machines, spec provider.MachineSpec, f openstacktest.Fault, kill bool) (applied bool, err error) {
	before := e.s.FaultsApplied()
	remove := e.s.InjectFault(f)
	defer remove()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	if kill {
		go func() {
			t := time.NewTicker(200 * time.Microsecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					if e.s.FaultsApplied() > before {
						cancel()
						return
					}
				}
			}
		}()
	}
	_, err = m.Create(cctx, spec)
	close(done)
	return e.s.FaultsApplied() > before, err
}

// TestMachinesDeleteCrashSweep aborts each API call of a Delete in turn, the
// same four ways, then runs Delete again: the cloud must end as it was and
// the pool without the machine.
func TestMachinesDeleteCrashSweep(t *testing.T) {
	t.Parallel()
	cloudtest.RequireSim(t, cloudtest.NeedsFaults)
	e := newSimEnv(t, openstacktest.WithBootDelay(20*time.Millisecond), openstacktest.WithVolumeDelay(10*time.Millisecond))
	pool := &fakePool{}
	m := e.machines(provider.WithAPIServerPool(pool))
	spec := e.worker("demo-del")
	spec.Role = provider.ControlPlane
	spec.Ports = append(spec.Ports, provider.PortSpec{Network: e.netName})
	spec.FloatingIP = &provider.FloatingIPSpec{}
	spec.RootVolume = &provider.RootVolumeSpec{SizeGiB: 10}
	spec.Volumes = []provider.VolumeSpec{{Name: "etcd", SizeGiB: 1}}
	ctx := testCtx(t, 10*time.Minute)

	if _, err := m.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	e.s.ResetCalls()
	if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
		t.Fatal(err)
	}
	calls := e.s.Calls().Total()
	e.assertClean(t)
	t.Logf("a Delete makes %d API calls", calls)

	points := 0
	for k := 1; k <= calls; k++ {
		for _, action := range []openstacktest.FaultAction{openstacktest.DropBefore, openstacktest.DropAfter} {
			for _, kill := range []bool{false, true} {
				name := fmt.Sprintf("call %d %s kill=%v", k, action, kill)
				if _, err := m.Create(ctx, spec); err != nil {
					t.Fatalf("%s: Create: %v", name, err)
				}
				before := e.s.FaultsApplied()
				remove := e.s.InjectFault(openstacktest.Fault{Skip: k - 1, Times: 1, Action: action})
				dctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				if kill {
					go func() {
						tk := time.NewTicker(200 * time.Microsecond)
						defer tk.Stop()
						for {
							select {
							case <-done:
								return
							case <-tk.C:
								if e.s.FaultsApplied() > before {
									cancel()
									return
								}
							}
						}
					}()
				}
				_ = m.Delete(dctx, spec.Cluster, spec.Name)
				close(done)
				cancel()
				remove()
				if e.s.FaultsApplied() > before {
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
	if points < 2*calls {
		t.Errorf("only %d crash points for %d calls", points, calls)
	}
	t.Logf("delete crash sweep: %d crash points, all clean after Delete again", points)
}

// A Create killed right after it created the control planes' default server
// group, then Delete (without Create again): nothing is left.
func TestMachinesDeleteAfterCrashAtServerGroup(t *testing.T) {
	t.Parallel()
	cloudtest.RequireSim(t, cloudtest.NeedsFaults)
	e := newSimEnv(t, openstacktest.WithBootDelay(20*time.Millisecond))
	m := e.machines()
	spec := e.worker("demo-cp-0")
	spec.Role = provider.ControlPlane
	ctx := testCtx(t, time.Minute)
	for _, action := range []openstacktest.FaultAction{openstacktest.DropAfter, openstacktest.DropBefore} {
		applied, err := crashCreate(ctx, e, m, spec, openstacktest.Fault{Method: "POST", Path: `^/compute/v2\.1/os-server-groups$`, Times: 1, Action: action}, true)
		if !applied || err == nil {
			t.Fatalf("%s: fault applied %v, Create error %v", action, applied, err)
		}
		if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
			t.Fatalf("%s: Delete: %v", action, err)
		}
		e.assertClean(t)
	}
}
