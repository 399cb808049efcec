package infra_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// untilDone calls fn until it stops failing with provider.ErrPending and
// returns how many calls were pending and the longest call.
func untilDone(t *testing.T, ctx context.Context, fn func() error) (pending int, longest time.Duration) {
	t.Helper()
	for {
		start := time.Now()
		err := fn()
		longest = max(longest, time.Since(start))
		if err == nil {
			return pending, longest
		}
		if !errors.Is(err, provider.ErrPending) {
			t.Fatalf("call %d: %v", pending+1, err)
		}
		pending++
		select {
		case <-ctx.Done():
			t.Fatalf("still pending after %d calls: %v", pending, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestWithoutWaitingReturnsWhileOctaviaWorks: with WithoutWaiting, Ensure
// and the member calls return provider.ErrPending instead of polling a
// load balancer that is PENDING_*, and calling again converges to what a
// waiting Ensure builds; nothing is made twice.
func TestWithoutWaitingReturnsWhileOctaviaWorks(t *testing.T) {
	t.Parallel()
	const lbDelay = 1500 * time.Millisecond
	e := newEnv(t, openstacktest.WithLoadBalancerDelay(lbDelay))
	ctx := testCtx(t)
	spec := e.spec(baseSpec())
	nw := infra.New(e.cloud, infra.WithoutWaiting(), infra.WithPollInterval(20*time.Millisecond, 100*time.Millisecond))

	var st infra.Status
	pending, longest := untilDone(t, ctx, func() (err error) {
		st, err = nw.Ensure(ctx, spec, infra.WithStatus(st))
		return err
	})
	if pending == 0 {
		t.Errorf("Ensure never reported the load balancer pending")
	}
	if e.srv != nil && longest >= lbDelay {
		t.Errorf("an Ensure took %v with a load balancer delay of %v: it waited", longest, lbDelay)
	}
	if st.APIEndpoint.Host == "" || st.LoadBalancer.PoolID == "" || st.FloatingIP.ID == "" {
		t.Fatalf("status after convergence lacks endpoint, pool or floating IP: %+v", st)
	}
	done := e.snapshot()

	// A waiting Ensure finds everything and makes no write.
	e.resetCalls()
	again, err := infra.New(e.cloud).Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("Ensure after the non-waiting ones made %d writes: %v", w, e.calls())
	}
	if again.APIEndpoint != st.APIEndpoint || again.LoadBalancer != st.LoadBalancer {
		t.Errorf("waiting Ensure found endpoint %v lb %+v, non-waiting built %v %+v", again.APIEndpoint, again.LoadBalancer, st.APIEndpoint, st.LoadBalancer)
	}
	if d := e.changed(done, e.snapshot()); d != "" {
		t.Errorf("waiting Ensure changed the cloud (-before +after):\n%s", d)
	}

	m := infra.Member{Name: "demo-cp-0", Address: "10.6.0.50"}
	pending, _ = untilDone(t, ctx, func() error { return nw.AddAPIServerMember(ctx, st, m) })
	if pending == 0 {
		t.Errorf("AddAPIServerMember never reported the load balancer pending")
	}
	pending, _ = untilDone(t, ctx, func() error { return nw.RemoveAPIServerMember(ctx, st, m.Name) })
	if pending == 0 {
		t.Errorf("RemoveAPIServerMember never reported the load balancer pending")
	}
	if err := nw.Delete(ctx, spec.Cluster); err != nil {
		t.Fatal(err)
	}
	if d := e.changed(e.base, e.snapshot()); d != "" {
		t.Errorf("Delete left the cloud changed (-before +after):\n%s", d)
	}
}
