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
// at once on a cloud with 20 ms of latency per request and a 3 s boot all
// reach provisioned with at most 3 cloud writes each, and a
// resync of all of them writes nothing. The wall time against one
// machine's is BenchmarkManyMachines' figure, not a pass condition here.
func TestManyMachines(t *testing.T) {
	t.Parallel()
	r := manyMachines(t, scaleN())
	t.Logf("1 machine: %v; %d machines: %v (%.2fx); per machine: %.1f calls, %.1f writes, %.1f reads",
		r.one.Round(time.Millisecond), r.n, r.all.Round(time.Millisecond), r.ratio(),
		r.perMachine(r.calls.Total()), r.perMachine(r.calls.Writes()), r.perMachine(r.calls.Reads()))
	// A worker's create is its port and its server; the rest are reads.
	if w := r.perMachine(r.calls.Writes()); w > 3 {
		t.Errorf("%.1f cloud writes per machine, want at most 3: %v", w, r.calls)
	}
	t.Logf("resync of %d machines: %d reads (%.1f per machine), %d writes", r.n, r.resync.Reads(), r.perMachine(r.resync.Reads()), r.resync.Writes())
	if r.resync.Writes() != 0 {
		t.Errorf("a resync of %d provisioned machines wrote %d times: %v", r.n, r.resync.Writes(), r.resync)
	}
}

// BenchmarkManyMachines reports how long N machines created at once take
// to be provisioned against one machine's time in the same run
// (x-one-machine; 1.0 would be perfectly parallel). Run it alone:
//
//	go test -run '^$' -bench ManyMachines -benchtime 1x ./provider/controllers/
func BenchmarkManyMachines(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r := manyMachines(b, scaleN())
		b.ReportMetric(r.ratio(), "x-one-machine")
		b.ReportMetric(r.perMachine(r.calls.Total()), "calls/machine")
		b.ReportMetric(r.perMachine(r.calls.Writes()), "writes/machine")
	}
}

// scaleResult is what one run of manyMachines measured.
type scaleResult struct {
	n        int
	one, all time.Duration
	calls    openstacktest.Calls // while the n machines were provisioned
	resync   openstacktest.Calls // while all of them were resynced
}

func (r scaleResult) ratio() float64           { return float64(r.all) / float64(r.one) }
func (r scaleResult) perMachine(n int) float64 { return float64(n) / float64(r.n) }

// scaleN is the number of machines of TestManyMachines: $OPENSTRAP_SCALE_N,
// 20 when unset.
func scaleN() int {
	if v, err := strconv.Atoi(os.Getenv("OPENSTRAP_SCALE_N")); err == nil && v > 0 {
		return v
	}
	return 20
}

// manyMachines provisions one machine, then n at once, then resyncs them.
func manyMachines(tb testing.TB, n int) scaleResult {
	const boot = 3 * time.Second
	timing := controllers.Timing{PollInterval: time.Second, RetryAfterPermanentError: time.Hour, CloudTimeout: time.Minute}
	e := newEnvWith(tb, controllers.Options{Timing: timing, MachineConcurrency: scaleConcurrency()},
		openstacktest.WithLatency(20*time.Millisecond), openstacktest.WithBootDelay(boot))
	admin, err := e.sim.AdminCloud(e.ctx)
	if err != nil {
		tb.Fatal(err)
	}
	member, err := e.sim.Cloud(e.ctx)
	if err != nil {
		tb.Fatal(err)
	}
	big := ptr.To(10 * n)
	if _, err := quotasets.Update(e.ctx, admin.Compute, member.ProjectID, quotasets.UpdateOpts{
		Instances: big, Cores: ptr.To(100 * n), RAM: ptr.To(1 << 30)}).Extract(); err != nil {
		tb.Fatal(err)
	}
	if _, err := quotas.Update(e.ctx, admin.Network, member.ProjectID, quotas.UpdateOpts{Port: big}).Extract(); err != nil {
		tb.Fatal(err)
	}
	e.createCluster("scale", false, func(s *infrav1.OpenStackClusterSpec) { s.APIServer = nil })
	e.waitClusterProvisioned("scale")

	provision := func(names []string) time.Duration {
		start := time.Now()
		for _, name := range names {
			e.createMachine("scale", name, false, []byte("#cloud-config\n"), nil)
		}
		tb.Logf("%d Machines, OpenStackMachines and bootstrap Secrets created in %v", len(names), time.Since(start).Round(time.Millisecond))
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
	r := scaleResult{n: n}
	r.one = provision([]string{"scale-one"})
	e.sim.ResetCalls()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("scale-md-%d", i)
	}
	r.all = provision(names)
	r.calls = e.sim.Calls()

	e.sim.ResetCalls()
	for _, name := range names {
		e.poke(e.getMachine(name))
	}
	time.Sleep(3 * time.Second)
	r.resync = e.sim.Calls()
	return r
}

// scaleConcurrency is the OpenStackMachine concurrency of TestManyMachines:
// $OPENSTRAP_SCALE_CONCURRENCY, 10 (the default of Options) when unset.
func scaleConcurrency() int {
	if v, err := strconv.Atoi(os.Getenv("OPENSTRAP_SCALE_CONCURRENCY")); err == nil && v > 0 {
		return v
	}
	return 10
}
