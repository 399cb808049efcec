package provider_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// BenchmarkMachinesCreateBatch creates 100 workers on a simulated cloud
// where a server takes 10 s to boot and every API call 20 ms, with
// concurrency 20 and 100. It reports the batch's wall time relative to one
// machine's Create on the same cloud ("x-single"), and API calls per
// machine. Slow (minutes); run it once:
//
//	go test ./provider -run '^$' -bench BenchmarkMachinesCreateBatch -benchtime=1x
func BenchmarkMachinesCreateBatch(b *testing.B) {
	for _, conc := range []int{20, 100} {
		b.Run(fmt.Sprintf("workers=100/concurrency=%d", conc), func(b *testing.B) {
			for range b.N {
				benchBatch(b, 100, conc)
			}
		})
	}
}

func benchBatch(b *testing.B, n, conc int) {
	b.StopTimer()
	const boot, latency = 10 * time.Second, 20 * time.Millisecond
	cloudtest.RequireSim(b, cloudtest.NeedsLatency)
	e := newSimEnv(b, openstacktest.WithBootDelay(boot))
	ctx := testCtx(b, 15*time.Minute)
	admin, err := e.s.AdminCloud(ctx)
	if err != nil {
		b.Fatal(err)
	}
	big := 10 * n
	ram := 2048 * big
	if _, err := quotasets.Update(ctx, admin.Compute, e.cloud.ProjectID, quotasets.UpdateOpts{
		Instances: &big, Cores: &big, RAM: &ram}).Extract(); err != nil {
		b.Fatalf("raise compute quota: %v", err)
	}
	e.s.SetLatency(latency)
	m := provider.NewMachines(e.cloud, provider.WithMachinesConcurrency(conc))

	spec := func(name string) provider.MachineSpec {
		s := e.worker(name)
		s.Flavor = "m1.tiny"
		return s
	}
	start := time.Now()
	if _, err := m.Create(ctx, spec("demo-single")); err != nil {
		b.Fatalf("single Create: %v", err)
	}
	single := time.Since(start)
	if err := m.Delete(ctx, "demo", "demo-single"); err != nil {
		b.Fatal(err)
	}

	specs := make([]provider.MachineSpec, n)
	for i := range specs {
		specs[i] = spec(fmt.Sprintf("demo-w-%d", i))
	}
	e.s.ResetCalls()
	b.StartTimer()
	start = time.Now()
	got, err := m.CreateBatch(ctx, specs)
	wall := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("CreateBatch: %v", err)
	}
	calls := e.s.Calls()
	for i, mc := range got {
		if mc == nil || mc.Status != "ACTIVE" {
			b.Fatalf("machine %d: %+v", i, mc)
		}
	}
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(single.Seconds(), "single-s")
	b.ReportMetric(wall.Seconds()/single.Seconds(), "x-single")
	b.ReportMetric(float64(calls.Total())/float64(n), "calls/machine")
	b.ReportMetric(float64(calls.Writes())/float64(n), "writes/machine")
	b.Logf("%d workers, concurrency %d: batch %v, one machine %v (%.2fx), %.1f API calls per machine (%.1f writes)",
		n, conc, wall.Round(time.Millisecond), single.Round(time.Millisecond), wall.Seconds()/single.Seconds(),
		float64(calls.Total())/float64(n), float64(calls.Writes())/float64(n))

	// Clean up in parallel; the simulated deletes take half a boot each.
	e.s.SetLatency(0)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Delete(context.WithoutCancel(ctx), s.Cluster, s.Name); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("Delete: %v", err)
	}
	e.assertClean(b)
}
