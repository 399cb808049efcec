package controllers_test

import (
	"fmt"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/quotas"
	"k8s.io/utils/ptr"
	"os"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"strconv"
	"testing"
	"time"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/controllers"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestManyMachines: N worker machines (20, or $OPENSTRAP_SCALE_N) created
// at once on a cloud with 20 ms of latency per request and a 3 s boot reach
// provisioned within 2x of one machine's time plus the poll interval
// (a guard on a loaded shared test machine; the measured ratio is logged),
// with the calls per machine reported; a resync of all of them writes
// nothing.
func TestManyMachines(t *testing.T) {
	t.Parallel()
	n := 20
	if v, err := strconv.Atoi(os.Getenv("OPENSTRAP_SCALE_N")); err == nil && v > 0 {
		n = v
	}
	const boot = 3 * time.Second
	timing := controllers.Timing{PollInterval: time.Second, RetryAfterPermanentError: time.Hour, CloudTimeout: time.Minute}
	e := newEnvWith(t, controllers.Options{Timing: timing, MachineConcurrency: scaleConcurrency()},
		openstacktest.WithLatency(20*time.Millisecond), openstacktest.WithBootDelay(boot))
	admin, err := e.sim.AdminCloud(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	member, err := e.sim.Cloud(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	big := ptr.To(10 * n)
	if _, err := quotasets.Update(e.ctx, admin.Compute, member.ProjectID, quotasets.UpdateOpts{
		Instances: big, Cores: ptr.To(100 * n), RAM: ptr.To(1 << 30)}).Extract(); err != nil {
		t.Fatal(err)
	}
	if _, err := quotas.Update(e.ctx, admin.Network, member.ProjectID, quotas.UpdateOpts{Port: big}).Extract(); err != nil {
		t.Fatal(err)
	}
	e.createCluster("scale", false, func(s *infrav1.OpenStackClusterSpec) { s.APIServer = nil })
	e.waitClusterProvisioned("scale")

	provision := func(names []string) time.Duration {
		start := time.Now()
		for _, name := range names {
			e.createMachine("scale", name, false, []byte("#cloud-config\n"), nil)
		}
		t.Logf("%d Machines, OpenStackMachines and bootstrap Secrets created in %v", len(names), time.Since(start).Round(time.Millisecond))
		e.eventually(fmt.Sprintf("%d machines provisioned", len(names)), 3*time.Minute, func() (bool, string) {
			var list infrav1.OpenStackMachineList
			if err := e.c.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
				return false, err.Error()
			}
			done := map[string]bool{}
			for _, m := range list.Items {
				done[m.Name] = m.Status.Initialization != nil && m.Status.Initialization.Provisioned
			}
			for _, name := range names {
				if !done[name] {
					return false, name + " not provisioned"
				}
			}
			return true, ""
		})
		return time.Since(start)
	}
	one := provision([]string{"scale-one"})
	e.sim.ResetCalls()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("scale-md-%d", i)
	}
	all := provision(names)
	calls := e.sim.Calls()
	t.Logf("1 machine: %v; %d machines: %v (%.2fx); per machine: %.1f calls, %.1f writes, %.1f reads",
		one.Round(time.Millisecond), n, all.Round(time.Millisecond), float64(all)/float64(one),
		float64(calls.Total())/float64(n), float64(calls.Writes())/float64(n), float64(calls.Reads())/float64(n))
	if limit := 2*one + timing.PollInterval; all > limit {
		t.Errorf("%d machines took %v, more than 2x one machine's %v plus a poll", n, all, one)
	}

	e.sim.ResetCalls()
	for _, name := range names {
		e.poke(e.getMachine(name))
	}
	time.Sleep(3 * time.Second)
	calls = e.sim.Calls()
	t.Logf("resync of %d machines: %d reads (%.1f per machine), %d writes", n, calls.Reads(), float64(calls.Reads())/float64(n), calls.Writes())
	if calls.Writes() != 0 {
		t.Errorf("a resync of %d provisioned machines wrote %d times: %v", n, calls.Writes(), calls)
	}
}

// scaleConcurrency is the OpenStackMachine concurrency of TestManyMachines:
// $OPENSTRAP_SCALE_CONCURRENCY, 10 (the default of Options) when unset.
func scaleConcurrency() int {
	if v, err := strconv.Atoi(os.Getenv("OPENSTRAP_SCALE_CONCURRENCY")); err == nil && v > 0 {
		return v
	}
	return 10
}
