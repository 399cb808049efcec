package infra

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"

	"github.com/openstrap/openstrap/internal/retry"
	"github.com/openstrap/openstrap/provider"
)

// lbFound is the Octavia part of discovery.
type lbFound struct {
	lbs       []loadbalancers.LoadBalancer
	listeners []listeners.Listener
	pools     []pools.Pool
	monitors  []monitors.Monitor
}

func (r *run) listLBs(ctx context.Context, qq query) (out []loadbalancers.LoadBalancer, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := loadbalancers.List(r.inf.cloud.LoadBalancer, qq).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = loadbalancers.ExtractLoadBalancers(pages)
		return err
	})
	return out, err
}

func (r *run) listListeners(ctx context.Context, qq query) (out []listeners.Listener, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := listeners.List(r.inf.cloud.LoadBalancer, qq).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = listeners.ExtractListeners(pages)
		return err
	})
	return out, err
}

func (r *run) listPools(ctx context.Context, qq query) (out []pools.Pool, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := pools.List(r.inf.cloud.LoadBalancer, qq).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = pools.ExtractPools(pages)
		return err
	})
	return out, err
}

func (r *run) listMonitors(ctx context.Context, qq query) (out []monitors.Monitor, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := monitors.List(r.inf.cloud.LoadBalancer, qq).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = monitors.ExtractMonitors(pages)
		return err
	})
	return out, err
}

// discoverLB returns the list steps for the load balancer and its children,
// all by ownership tag (Octavia takes tags at create).
func (r *run) discoverLB(f *lbFound) []func(context.Context) error {
	tagged := q("tags", r.tag)
	step := func(kind string, fn func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			return r.fail("list", kind, "", "", "", r.do(ctx, neutronPolicy, fn))
		}
	}
	return []func(context.Context) error{
		step("load balancer", func(ctx context.Context) (err error) { f.lbs, err = r.listLBs(ctx, tagged); return err }),
		step("listener", func(ctx context.Context) (err error) { f.listeners, err = r.listListeners(ctx, tagged); return err }),
		step("pool", func(ctx context.Context) (err error) { f.pools, err = r.listPools(ctx, tagged); return err }),
		step("health monitor", func(ctx context.Context) (err error) { f.monitors, err = r.listMonitors(ctx, tagged); return err }),
	}
}

func (r *run) noLoadBalancerClient() error {
	if r.inf.cloud.LoadBalancer == nil {
		return r.fail("create", "load balancer", r.names.loadBalancer(), "",
			"the cloud has no Octavia; set Spec.APIServer.DisableLoadBalancer", provider.ErrInvalidSpec)
	}
	return nil
}

func (r *run) listenerOpts(lbID string) listeners.CreateOpts {
	return listeners.CreateOpts{
		LoadbalancerID: lbID, Name: r.names.listener(), Protocol: listeners.ProtocolTCP,
		ProtocolPort: r.spec.APIServer.Port, AllowedCIDRs: r.spec.APIServer.AllowedCIDRs, Tags: []string{r.tag},
	}
}

func (r *run) poolOpts(listenerID string) pools.CreateOpts {
	return pools.CreateOpts{
		ListenerID: listenerID, Name: r.names.pool(), Protocol: pools.ProtocolTCP,
		LBMethod: pools.LBMethodRoundRobin, Tags: []string{r.tag},
	}
}

func (r *run) monitorOpts(poolID string) monitors.CreateOpts {
	return monitors.CreateOpts{
		PoolID: poolID, Name: r.names.monitor(), Type: monitors.TypeTCP,
		Delay: 10, Timeout: 5, MaxRetries: 3, MaxRetriesDown: 3, Tags: []string{r.tag},
	}
}

// ensureLB converges the API server load balancer: the load balancer
// (created with its listener, pool and monitor in one call), then each child
// that is missing, waiting for Octavia after every change.
func (r *run) ensureLB(ctx context.Context, d *discovered, sub subRes, subCreated bool) (LoadBalancerStatus, bool, error) {
	var st LoadBalancerStatus
	if r.spec.APIServer.DisableLoadBalancer {
		return st, false, nil
	}
	if err := r.noLoadBalancerClient(); err != nil {
		return st, false, err
	}
	name := r.names.loadBalancer()
	var lb *loadbalancers.LoadBalancer
	for i, x := range d.lb.lbs {
		if x.Name != name || !hasTag(x.Tags, r.tag) {
			continue
		}
		if lb != nil && lb.ID != r.known.LoadBalancer.ID && x.ID != r.known.LoadBalancer.ID {
			return st, false, r.fail("find", "load balancer", name, "", fmt.Sprintf("several load balancers carry the tag %s; delete the extra ones", r.tag), provider.ErrAmbiguous)
		}
		if lb == nil || x.ID == r.known.LoadBalancer.ID {
			lb = &d.lb.lbs[i]
		}
	}
	if lb != nil && lb.VipSubnetID != sub.ID && sub.ID != "" {
		return st, false, r.fail("check", "load balancer", name, lb.ID,
			fmt.Sprintf("its VIP is on subnet %s, not on the cluster's subnet %s; delete it to have it recreated", lb.VipSubnetID, sub.ID), provider.ErrConflict)
	}
	created, createdBare := false, false
	if lb == nil {
		if r.dry {
			for _, k := range []string{"load balancer", "listener", "pool", "health monitor"} {
				r.planned(Change{Resource: k, Name: name, Action: ActionCreate})
			}
			return st, true, nil
		}
		x, bare, err := r.createLB(ctx, sub.ID)
		if err != nil {
			return st, false, err
		}
		lb, created, createdBare = x, true, bare
	} else {
		r.event(Event{Resource: "load balancer", Name: name, ID: lb.ID, Action: ActionFound})
	}
	st.ID, st.VIPAddress, st.VIPPortID = lb.ID, lb.VipAddress, lb.VipPortID
	if lb.ProvisioningStatus != "ACTIVE" && !r.dry {
		if err := r.waitLB(ctx, lb.ID); err != nil {
			return st, created, err
		}
	}

	found := d.lb
	switch {
	case createdBare:
		found = lbFound{} // nothing in it yet
	case created, pendingChildren(found):
		// The children came with the load balancer, if the cloud supports
		// fully populated creates, or were pending when discovered (a
		// non-waiting Ensure may have made them): read them back by tag.
		err := parallel(ctx, 3, func(ctx context.Context, i int) error {
			return r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
				tagged := q("tags", r.tag)
				switch i {
				case 0:
					found.listeners, err = r.listListeners(ctx, tagged)
				case 1:
					found.pools, err = r.listPools(ctx, tagged)
				default:
					found.monitors, err = r.listMonitors(ctx, tagged)
				}
				return err
			})
		})
		if err != nil {
			return st, created, r.fail("list", "load balancer children", name, lb.ID, "", err)
		}
		if (created && pendingChildren(found)) || stillCreating(found) {
			// The load balancer is ACTIVE but the children of the single
			// call are still PENDING_CREATE: they never settle (Debian 12's
			// Octavia, Zed, casts the create to its worker before it
			// commits them, and the worker builds its flow without them).
			// Start again, one object at a time.
			r.inf.noFullyPopulated.Store(true)
			if err := r.deleteLB(ctx, *lb); err != nil {
				return st, created, err
			}
			x, _, err := r.createLB(ctx, sub.ID)
			if err != nil {
				return st, created, err
			}
			lb = x
			st.ID, st.VIPAddress, st.VIPPortID = lb.ID, lb.VipAddress, lb.VipPortID
			if err := r.waitLB(ctx, lb.ID); err != nil {
				return st, created, err
			}
			found = lbFound{}
		}
	}
	err := r.ensureLBChildren(ctx, lb.ID, found, &st)
	return st, created, err
}

// stillCreating reports whether a child of an ACTIVE load balancer is
// still PENDING_CREATE: only the stuck single-call create leaves that (a
// child Octavia is still creating keeps its load balancer PENDING_UPDATE).
func stillCreating(f lbFound) bool {
	for _, x := range f.listeners {
		if x.ProvisioningStatus == "PENDING_CREATE" {
			return true
		}
	}
	for _, x := range f.pools {
		if x.ProvisioningStatus == "PENDING_CREATE" {
			return true
		}
	}
	for _, x := range f.monitors {
		if x.ProvisioningStatus == "PENDING_CREATE" {
			return true
		}
	}
	return false
}

// pendingChildren reports whether a child of a load balancer is PENDING_*.
func pendingChildren(f lbFound) bool {
	var states []string
	for _, x := range f.listeners {
		states = append(states, x.ProvisioningStatus)
	}
	for _, x := range f.pools {
		states = append(states, x.ProvisioningStatus)
	}
	for _, x := range f.monitors {
		states = append(states, x.ProvisioningStatus)
	}
	return slices.ContainsFunc(states, func(s string) bool { return strings.HasPrefix(s, "PENDING_") })
}

// createLB creates the load balancer, with its listener, pool and monitor
// when Octavia accepts that; bare reports that it came without them.
func (r *run) createLB(ctx context.Context, subnetID string) (lb *loadbalancers.LoadBalancer, bare bool, err error) {
	name := r.names.loadBalancer()
	pool := r.poolOpts("")
	pool.Monitor = r.monitorOpts("")
	lis := r.listenerOpts("")
	lis.DefaultPool = &pool
	opts := loadbalancers.CreateOpts{
		Name: name, Description: "openstrap cluster " + r.spec.Cluster + ": Kubernetes API",
		VipSubnetID: subnetID, Provider: r.spec.APIServer.LoadBalancerProvider,
		Tags: []string{r.tag}, Listeners: []listeners.CreateOpts{lis},
	}
	start := now()
	attempt := 0
	err = r.do(ctx, octaviaPolicy, func(ctx context.Context) error {
		attempt++
		if attempt > 1 {
			// Octavia's create is not idempotent: look before trying again.
			xs, err := r.listLBs(ctx, q("tags", r.tag, "name", name))
			if err != nil {
				return err
			}
			if len(xs) > 0 {
				lb, bare = &xs[0], len(xs[0].Listeners) == 0
				return nil
			}
		}
		o := opts
		if r.inf.noFullyPopulated.Load() {
			o.Listeners = nil
		}
		err := r.call(ctx, func(ctx context.Context) (err error) {
			lb, err = loadbalancers.Create(ctx, r.inf.cloud.LoadBalancer, o).Extract()
			return err
		})
		if gophercloud.ResponseCodeIs(err, http.StatusBadRequest) && o.Listeners != nil {
			// Some Octavia providers (and simulators) refuse a fully
			// populated create: create the load balancer alone;
			// ensureLBChildren adds the rest.
			r.inf.noFullyPopulated.Store(true)
			o.Listeners = nil
			err = r.call(ctx, func(ctx context.Context) (err error) {
				lb, err = loadbalancers.Create(ctx, r.inf.cloud.LoadBalancer, o).Extract()
				return err
			})
		}
		bare = o.Listeners == nil
		return err
	})
	err = r.fail("create", "load balancer", name, "", hintFor(err), err)
	id := ""
	if lb != nil {
		id = lb.ID
	}
	r.event(Event{Resource: "load balancer", Name: name, ID: id, Action: ActionCreate, Duration: since(start), Err: err})
	return lb, bare, err
}

// waitLB polls until the load balancer is ACTIVE. With WithoutWaiting it
// looks once and fails with provider.ErrPending while it is not.
func (r *run) waitLB(ctx context.Context, id string) error {
	start := now()
	p := retry.Policy{Initial: r.inf.o.pollInitial, Max: r.inf.o.pollMax}
	pending := false
	err := retry.Until(ctx, p, func(ctx context.Context) (bool, error) {
		var lb *loadbalancers.LoadBalancer
		err := r.call(ctx, func(ctx context.Context) (err error) {
			lb, err = loadbalancers.Get(ctx, r.inf.cloud.LoadBalancer, id).Extract()
			return err
		})
		if err != nil {
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return false, retry.Permanent(err)
			}
			return false, err
		}
		switch lb.ProvisioningStatus {
		case "ACTIVE":
			return true, nil
		case "ERROR":
			return false, retry.Permanent(fmt.Errorf("provisioning status ERROR: %w", provider.ErrConflict))
		}
		if r.inf.o.noWait {
			pending = true
			return false, retry.Permanent(fmt.Errorf("provisioning status %s: %w", lb.ProvisioningStatus, provider.ErrPending))
		}
		return false, nil
	})
	if pending {
		return r.fail("wait for", "load balancer", r.names.loadBalancer(), id, "Octavia is still working on it; call again later", err)
	}
	hint := ""
	if err != nil {
		hint = "run Delete for the cluster (or delete the load balancer) and Ensure again"
	}
	err = r.fail("wait for", "load balancer", r.names.loadBalancer(), id, hint, err)
	r.event(Event{Resource: "load balancer", Name: r.names.loadBalancer(), ID: id, Action: ActionWait, Duration: since(start), Err: err})
	return err
}

// ensureLBChildren creates the listener, pool and health monitor that are
// missing and corrects the listener's allowed CIDRs.
func (r *run) ensureLBChildren(ctx context.Context, lbID string, found lbFound, st *LoadBalancerStatus) error {
	var lis *listeners.Listener
	for i, x := range found.listeners {
		if x.Name == r.names.listener() && slices.ContainsFunc(x.Loadbalancers, func(l listeners.LoadBalancerID) bool { return l.ID == lbID }) {
			lis = &found.listeners[i]
		}
	}
	if lis == nil {
		id, err := r.createLBChild(ctx, lbID, "listener", r.names.listener(),
			func(ctx context.Context) (string, error) {
				xs, err := r.listListeners(ctx, q("loadbalancer_id", lbID, "name", r.names.listener()))
				if err != nil || len(xs) == 0 {
					return "", err
				}
				return xs[0].ID, nil
			},
			func(ctx context.Context) (string, error) {
				x, err := listeners.Create(ctx, r.inf.cloud.LoadBalancer, r.listenerOpts(lbID)).Extract()
				if err != nil {
					return "", err
				}
				return x.ID, nil
			})
		if err != nil {
			return err
		}
		lis = &listeners.Listener{ID: id}
		st.ListenerID = id
	} else {
		st.ListenerID = lis.ID
		if lis.ProtocolPort != r.spec.APIServer.Port {
			return r.fail("check", "listener", lis.Name, lis.ID,
				fmt.Sprintf("it listens on %d but Spec.APIServer.Port is %d; a listener's port cannot change: delete the listener to have it recreated", lis.ProtocolPort, r.spec.APIServer.Port), provider.ErrConflict)
		}
		if err := r.correctAllowedCIDRs(ctx, lbID, lis); err != nil {
			return err
		}
		r.event(Event{Resource: "listener", Name: lis.Name, ID: lis.ID, Action: ActionFound})
	}
	var pool *pools.Pool
	for i, x := range found.pools {
		if x.Name == r.names.pool() && (st.ListenerID == "" || slices.ContainsFunc(x.Listeners, func(l pools.ListenerID) bool { return l.ID == st.ListenerID })) {
			pool = &found.pools[i]
		}
	}
	if pool == nil && r.dry {
		r.planned(Change{Resource: "pool", Name: r.names.pool(), Action: ActionCreate})
		r.planned(Change{Resource: "health monitor", Name: r.names.monitor(), Action: ActionCreate})
		return nil
	}
	if pool == nil {
		id, err := r.createLBChild(ctx, lbID, "pool", r.names.pool(),
			func(ctx context.Context) (string, error) {
				xs, err := r.listPools(ctx, q("loadbalancer_id", lbID, "name", r.names.pool()))
				if err != nil || len(xs) == 0 {
					return "", err
				}
				return xs[0].ID, nil
			},
			func(ctx context.Context) (string, error) {
				x, err := pools.Create(ctx, r.inf.cloud.LoadBalancer, r.poolOpts(st.ListenerID)).Extract()
				if err != nil {
					return "", err
				}
				return x.ID, nil
			})
		if err != nil {
			return err
		}
		st.PoolID = id
	} else {
		st.PoolID = pool.ID
		r.event(Event{Resource: "pool", Name: pool.Name, ID: pool.ID, Action: ActionFound})
	}
	for _, x := range found.monitors {
		if x.Name == r.names.monitor() && slices.ContainsFunc(x.Pools, func(p monitors.PoolID) bool { return p.ID == st.PoolID }) {
			st.MonitorID = x.ID
		}
	}
	if st.MonitorID != "" {
		r.event(Event{Resource: "health monitor", Name: r.names.monitor(), ID: st.MonitorID, Action: ActionFound})
		return nil
	}
	if r.dry {
		r.planned(Change{Resource: "health monitor", Name: r.names.monitor(), Action: ActionCreate})
		return nil
	}
	id, err := r.createLBChild(ctx, lbID, "health monitor", r.names.monitor(),
		func(ctx context.Context) (string, error) {
			xs, err := r.listMonitors(ctx, q("pool_id", st.PoolID, "name", r.names.monitor()))
			if err != nil || len(xs) == 0 {
				return "", err
			}
			return xs[0].ID, nil
		},
		func(ctx context.Context) (string, error) {
			x, err := monitors.Create(ctx, r.inf.cloud.LoadBalancer, r.monitorOpts(st.PoolID)).Extract()
			if err != nil {
				return "", err
			}
			return x.ID, nil
		})
	st.MonitorID = id
	return err
}

// createLBChild creates one child of the load balancer, looking for it
// before every retry, and waits for the load balancer to be ACTIVE again.
func (r *run) createLBChild(ctx context.Context, lbID, kind, name string, lookup, create func(context.Context) (string, error)) (string, error) {
	if r.dry {
		r.planned(Change{Resource: kind, Name: name, Action: ActionCreate})
		return "", nil
	}
	start := now()
	var id string
	attempt := 0
	err := r.do(ctx, octaviaPolicy, func(ctx context.Context) (err error) {
		attempt++
		if attempt > 1 {
			if id, err = lookup(ctx); err != nil || id != "" {
				return err
			}
		}
		return r.call(ctx, func(ctx context.Context) (err error) {
			id, err = create(ctx)
			return err
		})
	})
	err = r.fail("create", kind, name, "", hintFor(err), err)
	r.event(Event{Resource: kind, Name: name, ID: id, Action: ActionCreate, Duration: since(start), Err: err})
	if err != nil {
		return "", err
	}
	return id, r.waitLB(ctx, lbID)
}

func (r *run) correctAllowedCIDRs(ctx context.Context, lbID string, lis *listeners.Listener) error {
	want := slices.Clone(r.spec.APIServer.AllowedCIDRs)
	have := slices.Clone(lis.AllowedCIDRs)
	if len(have) == 0 {
		have = []string{"0.0.0.0/0"} // Octavia's meaning of none
	}
	slices.Sort(want)
	slices.Sort(have)
	if slices.Equal(want, have) {
		return nil
	}
	detail := fmt.Sprintf("allowed CIDRs %v -> %v", have, want)
	if r.dry {
		r.planned(Change{Resource: "listener", Name: lis.Name, ID: lis.ID, Action: ActionUpdate, Detail: detail})
		return nil
	}
	start := now()
	err := r.do(ctx, octaviaPolicy, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) error {
			_, err := listeners.Update(ctx, r.inf.cloud.LoadBalancer, lis.ID, listeners.UpdateOpts{AllowedCIDRs: &want}).Extract()
			return err
		})
	})
	err = r.fail("update", "listener", lis.Name, lis.ID, hintFor(err), err)
	r.event(Event{Resource: "listener", Name: lis.Name, ID: lis.ID, Action: ActionUpdate, Duration: since(start), Err: err})
	if err != nil {
		return err
	}
	return r.waitLB(ctx, lbID)
}
