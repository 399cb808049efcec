package openstacktest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	netquotas "github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/quotas"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

// BenchmarkMix measures the simulator's throughput over real HTTP for a
// create/list mix: each operation creates a server (and its port), gets
// it, lists the project's servers and deletes it, from parallel clients.
// It reports requests per second.
//
//	go test -run '^$' -bench BenchmarkMix -benchtime 2000x ./provider/openstacktest/
func BenchmarkMix(b *testing.B) {
	e := newServerEnv(b, openstacktest.WithBootDelay(0))
	ctx := context.Background()
	admin := adminCloud(b, e.s)
	unlimited := -1
	if _, err := quotasets.Update(ctx, admin.Compute, openstacktest.MemberProjectID,
		quotasets.UpdateOpts{Instances: &unlimited, Cores: &unlimited, RAM: &unlimited}).Extract(); err != nil {
		b.Fatal(err)
	}
	many := 1 << 20
	if _, err := netquotas.Update(ctx, admin.Network, openstacktest.MemberProjectID, netquotas.UpdateOpts{Port: &many}).Extract(); err != nil {
		b.Fatal(err)
	}
	var requests, n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			srv, err := e.create(ctx, fmt.Sprintf("bench-%d", n.Add(1)))
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := servers.Get(ctx, e.c.Compute, srv.ID).Extract(); err != nil {
				b.Error(err)
				return
			}
			if _, err := servers.List(e.c.Compute, servers.ListOpts{Limit: 20}).AllPages(ctx); err != nil {
				b.Error(err)
				return
			}
			if err := servers.Delete(ctx, e.c.Compute, srv.ID).ExtractErr(); err != nil {
				b.Error(err)
				return
			}
			requests.Add(4)
		}
	})
	b.ReportMetric(float64(requests.Load())/b.Elapsed().Seconds(), "req/s")
}
