package infra_test

import (
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"

	"github.com/openstrap/openstrap/infra"
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
