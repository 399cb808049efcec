package infra_test

import (
	"testing"
	"time"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// BenchmarkEnsure measures a cold Ensure (everything created, load balancer
// included) and a no-op Ensure (everything in place, the earlier status
// passed back) with 20ms of latency on every API call. The simulator's
// load balancer becomes ACTIVE without delay, so that the wall time
// measures this package's orchestration against its critical path: the
// longest chain of API calls that depend on each other, times the latency.
//
//	go test -run '^$' -bench BenchmarkEnsure -benchtime 5x ./infra/
func BenchmarkEnsure(b *testing.B) {
	cloudtest.RequireSim(b, cloudtest.NeedsLatency)
	const latency = 20 * time.Millisecond
	spec := baseSpec()
	setup := func(b *testing.B) *env {
		return newEnv(b, openstacktest.WithLatency(latency), openstacktest.WithLoadBalancerDelay(0))
	}
	report := func(b *testing.B, wall time.Duration, reads, writes, depth int) {
		n := float64(b.N)
		crit := float64(depth) / n * float64(latency.Milliseconds())
		b.ReportMetric(float64(wall.Milliseconds())/n, "wall-ms/op")
		b.ReportMetric(float64(reads)/n, "reads/op")
		b.ReportMetric(float64(writes)/n, "writes/op")
		b.ReportMetric(float64(depth)/n, "critical-calls/op")
		b.ReportMetric(crit, "critical-ms/op")
		b.ReportMetric(float64(wall.Milliseconds())/n/crit, "wall/critical")
	}
	b.Run("cold", func(b *testing.B) {
		var wall time.Duration
		var reads, writes, depth int
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			e := setup(b)
			inf := infra.New(e.cloud)
			e.resetCalls()
			b.StartTimer()
			start := time.Now()
			if _, err := inf.Ensure(testCtx(b), spec); err != nil {
				b.Fatal(err)
			}
			wall += time.Since(start)
			b.StopTimer()
			calls := e.calls()
			reads += calls.Reads()
			writes += calls.Writes()
			depth += int(infra.CriticalPath(inf))
		}
		report(b, wall, reads, writes, depth)
	})
	b.Run("noop", func(b *testing.B) {
		e := setup(b)
		inf := infra.New(e.cloud)
		st, err := inf.Ensure(testCtx(b), spec)
		if err != nil {
			b.Fatal(err)
		}
		var wall time.Duration
		var reads, writes, depth, maxPerKind int
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e.resetCalls()
			start := time.Now()
			if _, err := inf.Ensure(testCtx(b), spec, infra.WithStatus(st)); err != nil {
				b.Fatal(err)
			}
			wall += time.Since(start)
			calls := e.calls()
			reads += calls.Reads()
			writes += calls.Writes()
			depth += int(infra.CriticalPath(inf))
			for _, n := range calls {
				maxPerKind = max(maxPerKind, n)
			}
		}
		report(b, wall, reads, writes, depth)
		b.ReportMetric(float64(maxPerKind), "max-reads-per-kind")
		if writes != 0 || maxPerKind > 1 {
			b.Errorf("no-op Ensure: %d writes, up to %d reads of one kind", writes, maxPerKind)
		}
	})
}
