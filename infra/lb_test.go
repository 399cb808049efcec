package infra_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lbquotas "github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/quotas"

	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// checkLB checks the load balancer's graph: VIP on the cluster subnet, a TCP
// listener on the API port, a ROUND_ROBIN TCP pool as its default pool, a
// TCP health monitor on the pool.
func checkLB(t *testing.T, e *env, st infra.Status) {
	t.Helper()
	ctx := testCtx(t)
	c := e.cloud.LoadBalancer
	lb, err := loadbalancers.Get(ctx, c, st.LoadBalancer.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if lb.VipSubnetID != st.SubnetID || lb.VipAddress != st.LoadBalancer.VIPAddress || lb.VipPortID != st.LoadBalancer.VIPPortID {
		t.Errorf("load balancer %+v does not match status %+v", lb, st.LoadBalancer)
	}
	lis, err := listeners.Get(ctx, c, st.LoadBalancer.ListenerID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if lis.Protocol != "TCP" || lis.ProtocolPort != 6443 || lis.DefaultPoolID != st.LoadBalancer.PoolID {
		t.Errorf("listener %+v", lis)
	}
	pool, err := pools.Get(ctx, c, st.LoadBalancer.PoolID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if pool.Protocol != "TCP" || pool.LBMethod != "ROUND_ROBIN" || pool.MonitorID != st.LoadBalancer.MonitorID {
		t.Errorf("pool %+v", pool)
	}
	mon, err := monitors.Get(ctx, c, st.LoadBalancer.MonitorID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if mon.Type != "TCP" {
		t.Errorf("monitor %+v", mon)
	}
}

func TestOctaviaConflictWhilePendingIsRetried(t *testing.T) {
	cloudtest.RequireSim(t, cloudtest.NeedsFaults)
	e := newEnv(t, openstacktest.WithLoadBalancerDelay(50*time.Millisecond))
	ctx := testCtx(t)
	// An Octavia that refuses the fully populated create makes Ensure
	// create the listener, pool and monitor one by one; each meets a 409.
	refused := `{"faultcode": "Client", "faultstring": "Invalid input for field/attribute listeners.", "debuginfo": null}`
	e.srv.InjectFault(openstacktest.Fault{Method: "POST", Path: `/lbaas/loadbalancers$`,
		Action: openstacktest.Respond, Status: 400, Body: refused, Times: 1})
	busy := `{"faultcode": "Client", "faultstring": "Load Balancer is immutable and cannot be updated.", "debuginfo": null}`
	e.srv.InjectFault(openstacktest.Fault{Method: "POST", Path: `/lbaas/(listeners|pools|healthmonitors)$`,
		Action: openstacktest.Respond, Status: 409, Body: busy, Times: 3})
	inf := infra.New(e.cloud)
	st, err := inf.Ensure(ctx, baseSpec())
	if err != nil {
		t.Fatal(err)
	}
	if e.srv.FaultsApplied() != 4 {
		t.Errorf("%d faults applied, want 4", e.srv.FaultsApplied())
	}
	checkLB(t, e, st)

	// Members added at once: the second meets the load balancer
	// PENDING_UPDATE because of the first, and the simulator answers 409.
	pool := inf.APIServerPool(st)
	e.resetCalls()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pool.AddMember(ctx, fmt.Sprintf("demo-cp-%d", i), fmt.Sprintf("10.6.0.%d", 10+i))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := memberNames(t, e, st); !cmp.Equal(got, []string{"demo-cp-0", "demo-cp-1", "demo-cp-2"}) {
		t.Errorf("members = %v", got)
	}
	posts := 0
	for op, n := range e.calls() {
		if strings.HasPrefix(op, "POST ") && strings.HasSuffix(op, "/members") {
			posts += n
		}
	}
	if posts <= 3 {
		t.Errorf("%d member creates for 3 members: no 409 was met while the load balancer was pending", posts)
	}
}

func TestOctaviaQuotaFailsAtOnce(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	admin := e.ct.AdminCloud(ctx)
	project := e.cloud.ProjectID
	zero := 0
	if _, err := lbquotas.Update(ctx, admin.LoadBalancer, project, lbquotas.UpdateOpts{Loadbalancer: &zero}).Extract(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Back to the defaults (DELETE /v2/lbaas/quotas/{project}).
		_, _ = admin.LoadBalancer.Delete(context.Background(), admin.LoadBalancer.ServiceURL("quotas", project), nil)
	})
	spec := e.spec(baseSpec())
	start := time.Now()
	_, err := infra.New(e.cloud).Ensure(ctx, spec)
	if !errors.Is(err, provider.ErrQuotaExceeded) {
		t.Fatalf("Ensure = %v, want ErrQuotaExceeded", err)
	}
	if took := time.Since(start); e.srv != nil && took > 2*time.Second {
		t.Errorf("took %v to fail", took)
	}
	if !strings.Contains(err.Error(), "create load balancer \""+spec.Cluster+"-kubeapi\"") || !strings.Contains(err.Error(), "quota") {
		t.Errorf("error %q does not name the load balancer and the quota", err)
	}
	if err := infra.New(e.cloud).Delete(ctx, spec.Cluster); err != nil {
		t.Fatalf("Delete after the refused Ensure: %v", err)
	}
}

func TestAPIServerMembers(t *testing.T) {
	e := newEnv(t, openstacktest.WithLoadBalancerDelay(5*time.Millisecond))
	ctx := testCtx(t)
	inf := infra.New(e.cloud, infra.WithPollInterval(5*time.Millisecond, 50*time.Millisecond))
	st, err := inf.Ensure(ctx, e.spec(baseSpec()))
	if err != nil {
		t.Fatal(err)
	}
	var pool provider.APIServerPool = inf.APIServerPool(st)
	steps := []struct {
		do   func() error
		want []string
		// writes is the number of write calls the step makes.
		writes int
	}{
		{func() error { return pool.AddMember(ctx, "demo-cp-0", "10.6.0.10") }, []string{"demo-cp-0@10.6.0.10"}, 1},
		{func() error { return pool.AddMember(ctx, "demo-cp-0", "10.6.0.10") }, []string{"demo-cp-0@10.6.0.10"}, 0},
		{func() error {
			return inf.AddAPIServerMember(ctx, st, infra.Member{Name: "demo-cp-1", Address: "10.6.0.11"})
		}, []string{"demo-cp-0@10.6.0.10", "demo-cp-1@10.6.0.11"}, 1},
		// Same name, new address: replaced.
		{func() error { return pool.AddMember(ctx, "demo-cp-1", "10.6.0.21") }, []string{"demo-cp-0@10.6.0.10", "demo-cp-1@10.6.0.21"}, 2},
		{func() error { return pool.RemoveMember(ctx, "demo-cp-0") }, []string{"demo-cp-1@10.6.0.21"}, 1},
		{func() error { return pool.RemoveMember(ctx, "demo-cp-0") }, []string{"demo-cp-1@10.6.0.21"}, 0},
	}
	for i, s := range steps {
		e.resetCalls()
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := memberAddrs(t, e, st); !cmp.Equal(got, s.want) {
			t.Errorf("step %d: members %v, want %v", i, got, s.want)
		}
		if w := e.calls().Writes(); w != s.writes {
			t.Errorf("step %d: %d writes, want %d", i, w, s.writes)
		}
	}
	// Another name with a taken address is a conflict.
	if err := pool.AddMember(ctx, "demo-cp-9", "10.6.0.21"); !errors.Is(err, provider.ErrConflict) {
		t.Errorf("AddMember with a taken address = %v, want ErrConflict", err)
	}
	// Members go with the load balancer.
	if err := inf.Delete(ctx, e.cluster); err != nil {
		t.Fatal(err)
	}
	after := e.snapshot()
	if left := owned(after, e.cluster); len(left) > 0 {
		t.Errorf("after Delete the cluster still owns %v", left)
	}
	if e.srv != nil {
		if diff := cmp.Diff(shape(e.base), shape(after)); diff != "" {
			t.Errorf("after Delete (-before +after):\n%s", diff)
		}
	}
}

func memberList(t *testing.T, e *env, st infra.Status) []pools.Member {
	t.Helper()
	pages, err := pools.ListMembers(e.cloud.LoadBalancer, st.LoadBalancer.PoolID, nil).AllPages(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := pools.ExtractMembers(pages)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func memberNames(t *testing.T, e *env, st infra.Status) []string {
	var out []string
	for _, m := range memberList(t, e, st) {
		out = append(out, m.Name)
	}
	sort.Strings(out)
	return out
}

func memberAddrs(t *testing.T, e *env, st infra.Status) []string {
	var out []string
	for _, m := range memberList(t, e, st) {
		if m.ProtocolPort != 6443 || m.SubnetID != st.SubnetID {
			t.Errorf("member %+v: want port 6443 on subnet %s", m, st.SubnetID)
		}
		out = append(out, m.Name+"@"+m.Address)
	}
	sort.Strings(out)
	return out
}
