package infra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/openstrap/openstrap/internal/retry"
	"github.com/openstrap/openstrap/provider"
)

// DeleteOption configures Delete.
type DeleteOption interface {
	applyDelete(*deleteOptions)
}

type deleteOptions struct {
	force, ccm, csi bool
}

type deleteOptionFunc func(*deleteOptions)

func (f deleteOptionFunc) applyDelete(o *deleteOptions) { f(o) }

// Force deletes even while servers still have ports on the cluster's
// network: their ports there are deleted.
func Force() DeleteOption { return deleteOptionFunc(func(o *deleteOptions) { o.force = true }) }

// CloudProviderResources first deletes the load balancers and floating IPs
// that the OpenStack cloud controller manager created for the cluster's
// Services (load balancers named "kube_service_<cluster>_...", floating IPs
// described "... from cluster <cluster>"). The CCM must run with
// --cluster-name=<cluster>.
func CloudProviderResources() DeleteOption {
	return deleteOptionFunc(func(o *deleteOptions) { o.ccm = true })
}

// CSIVolumes first deletes the Cinder volumes that the Cinder CSI driver
// created for the cluster (metadata cinder.csi.openstack.org/cluster =
// <cluster>; the driver must run with --cluster=<cluster>). Volumes still
// attached make Delete fail.
func CSIVolumes() DeleteOption { return deleteOptionFunc(func(o *deleteOptions) { o.csi = true }) }

// ErrInUse is returned (wrapped, also matching provider.ErrConflict) when
// Delete finds the cluster's network in use: by servers (unless Force), or
// by ports of resources it does not remove (another load balancer's VIP,
// say).
var ErrInUse = errors.New("in use")

// inUseError matches both ErrInUse and provider.ErrConflict.
type inUseError struct{ msg string }

func (e *inUseError) Error() string { return e.msg }
func (e *inUseError) Is(target error) bool {
	return target == ErrInUse || target == provider.ErrConflict
}

// deleteSet is everything Delete found for the cluster.
type deleteSet struct {
	networks []netRes
	subnets  []subRes
	routers  []rtrRes
	groups   []sgRes
	fips     []fipRes
	lbs      []loadbalancers.LoadBalancer
	ports    []portRes // on the cluster's networks, and tagged ones elsewhere
	ccmLBs   []loadbalancers.LoadBalancer
	ccmFIPs  []fipRes
	volumes  []volumes.Volume
	// servers are the IDs of the cluster's Nova servers (ownership tag),
	// which may not have a port on the network yet while they build.
	servers []string
}

// Delete removes everything the SDK created for cluster, in dependency
// order: load balancer (cascade) and floating IP, router interfaces, router,
// ports, subnet, network, security groups. Resources the SDK did not create
// are left alone (an interface the SDK added to a caller's router is
// removed). It is idempotent: deleting what is gone succeeds.
func (inf *Infra) Delete(ctx context.Context, cluster string, opts ...DeleteOption) error {
	if inf.err != nil {
		return inf.err
	}
	if !clusterName.MatchString(cluster) || len(cluster) > 40 {
		return invalid("cluster", cluster, "is not a cluster name")
	}
	var o deleteOptions
	for _, opt := range opts {
		opt.applyDelete(&o)
	}
	r := inf.run(ctx, cluster)
	r.busyIsPending = false // Delete waits (see WithoutWaiting)
	ctx, _ = withChain(ctx, 0)
	log := r.log.WithValues("cluster", cluster)
	log.Info("deleting cluster infrastructure")
	start := time.Now()
	err := r.delete(ctx, o)
	inf.lastDepth.Store(r.depth.Load())
	if err == nil {
		log.Info("cluster infrastructure deleted", "duration", time.Since(start).Round(time.Millisecond))
	}
	return err
}

func (r *run) delete(ctx context.Context, o deleteOptions) error {
	set, err := r.discoverOwned(ctx, o)
	if err != nil {
		return err
	}
	// Refuse while servers use the network, or are the cluster's and
	// still building (no port yet).
	servers := slices.Clone(set.servers)
	for _, p := range set.ports {
		if strings.HasPrefix(p.DeviceOwner, "compute:") && p.DeviceID != "" && !slices.Contains(servers, p.DeviceID) {
			servers = append(servers, p.DeviceID)
		}
	}
	if len(servers) > 0 && !o.force {
		return r.fail("delete", "network", r.names.network(), "",
			"delete the cluster's servers first, or pass infra.Force() to delete their ports",
			&inUseError{msg: fmt.Sprintf("%d servers still use the cluster's network (%s)", len(servers), strings.Join(servers, ", "))})
	}

	// Refuse, too, while something Delete will not remove holds a port on
	// the network: another load balancer's VIP, a port bound elsewhere.
	vips := map[string]bool{}
	for _, lb := range append(slices.Clone(set.lbs), set.ccmLBs...) {
		vips[lb.VipPortID] = true
	}
	onOurs := map[string]bool{}
	for _, n := range set.networks {
		onOurs[n.ID] = true
	}
	var blockers []string
	for _, p := range set.ports {
		if !onOurs[p.NetworkID] || vips[p.ID] || hasTag(p.Tags, r.tag) || p.DeviceOwner == "" ||
			strings.HasPrefix(p.DeviceOwner, "network:") || strings.HasPrefix(p.DeviceOwner, "compute:") {
			continue
		}
		blockers = append(blockers, fmt.Sprintf("port %s (%s %s)", p.ID, p.DeviceOwner, p.DeviceID))
	}
	if len(blockers) > 0 {
		hint := "delete them first"
		if !o.ccm {
			hint += ", or pass infra.CloudProviderResources() if the cloud controller manager created them"
		}
		return r.fail("delete", "network", r.names.network(), "", hint,
			&inUseError{msg: fmt.Sprintf("resources the cluster's infrastructure does not own use its network: %s", strings.Join(blockers, ", "))})
	}

	// Phase 1: what sits on top of the network.
	var steps []func(context.Context) error
	for _, lb := range append(slices.Clone(set.lbs), set.ccmLBs...) {
		steps = append(steps, func(ctx context.Context) error { return r.deleteLB(ctx, lb) })
	}
	for _, f := range append(slices.Clone(set.fips), set.ccmFIPs...) {
		steps = append(steps, func(ctx context.Context) error {
			return r.deleteOne(ctx, "floating IP", f.Address, f.ID, neutronPolicy, func(ctx context.Context) error {
				return floatingips.Delete(ctx, r.inf.cloud.Network, f.ID).ExtractErr()
			})
		})
	}
	for _, v := range set.volumes {
		steps = append(steps, func(ctx context.Context) error { return r.deleteVolume(ctx, v) })
	}
	if err := parallel(ctx, len(steps), func(ctx context.Context, i int) error { return steps[i](ctx) }); err != nil {
		return err
	}

	// Phase 2: router interfaces on our subnets and all interfaces of our
	// routers; ports we own; with Force, the servers' ports.
	ourSubnet := map[string]bool{}
	for _, s := range set.subnets {
		ourSubnet[s.ID] = true
	}
	ourRouter := map[string]bool{}
	for _, x := range set.routers {
		ourRouter[x.ID] = true
	}
	steps = steps[:0]
	for _, p := range set.ports {
		switch {
		case strings.HasPrefix(p.DeviceOwner, "network:router_interface") || p.DeviceOwner == "network:ha_router_replicated_interface":
			for _, sid := range p.SubnetIDs {
				if ourSubnet[sid] || ourRouter[p.DeviceID] {
					steps = append(steps, func(ctx context.Context) error { return r.removeInterface(ctx, p.DeviceID, sid, p.ID) })
				}
			}
		case strings.HasPrefix(p.DeviceOwner, "network:"):
			// DHCP, gateway and VIP ports go with their owners.
		case hasTag(p.Tags, r.tag) || (o.force && strings.HasPrefix(p.DeviceOwner, "compute:")) || (p.DeviceOwner == "" && p.DeviceID == ""):
			steps = append(steps, func(ctx context.Context) error {
				return r.deleteOne(ctx, "port", p.Name, p.ID, neutronPolicy, func(ctx context.Context) error {
					return ports.Delete(ctx, r.inf.cloud.Network, p.ID).ExtractErr()
				})
			})
		}
	}
	if err := parallel(ctx, len(steps), func(ctx context.Context, i int) error { return steps[i](ctx) }); err != nil {
		return err
	}

	// Phase 3: routers; subnets then networks; security groups.
	inUse := retry.Policy{Initial: 200 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: 30 * time.Second, RetryConflict: true}
	steps = []func(context.Context) error{
		func(ctx context.Context) error {
			return parallel(ctx, len(set.routers), func(ctx context.Context, i int) error {
				x := set.routers[i]
				return r.deleteOne(ctx, "router", x.Name, x.ID, inUse, func(ctx context.Context) error {
					return routers.Delete(ctx, r.inf.cloud.Network, x.ID).ExtractErr()
				})
			})
		},
		func(ctx context.Context) error {
			err := parallel(ctx, len(set.subnets), func(ctx context.Context, i int) error {
				x := set.subnets[i]
				return r.deleteOne(ctx, "subnet", x.Name, x.ID, inUse, func(ctx context.Context) error {
					return subnets.Delete(ctx, r.inf.cloud.Network, x.ID).ExtractErr()
				})
			})
			if err != nil {
				return err
			}
			return parallel(ctx, len(set.networks), func(ctx context.Context, i int) error {
				x := set.networks[i]
				return r.deleteOne(ctx, "network", x.Name, x.ID, inUse, func(ctx context.Context) error {
					return networks.Delete(ctx, r.inf.cloud.Network, x.ID).ExtractErr()
				})
			})
		},
		func(ctx context.Context) error {
			return parallel(ctx, len(set.groups), func(ctx context.Context, i int) error {
				x := set.groups[i]
				return r.deleteOne(ctx, "security group", x.Name, x.ID, inUse, func(ctx context.Context) error {
					return groups.Delete(ctx, r.inf.cloud.Network, x.ID).ExtractErr()
				})
			})
		},
	}
	return parallel(ctx, len(steps), func(ctx context.Context, i int) error { return steps[i](ctx) })
}

// deleteOne deletes one resource; gone already counts as deleted.
func (r *run) deleteOne(ctx context.Context, kind, name, id string, p retry.Policy, del func(context.Context) error) error {
	start := now()
	err := r.do(ctx, p, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) error {
			err := del(ctx)
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return nil
			}
			return err
		})
	})
	hint := ""
	if gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		hint = "something still uses it; delete that first or run Delete again"
	}
	err = r.fail("delete", kind, name, id, hint, err)
	r.event(Event{Resource: kind, Name: name, ID: id, Action: ActionDelete, Duration: since(start), Err: err})
	return err
}

// deleteVolume waits while the volume is in a transitional state (Cinder
// refuses to delete it then), and deletes it; an attached volume fails.
func (r *run) deleteVolume(ctx context.Context, v volumes.Volume) error {
	p := retry.Policy{Initial: r.inf.o.pollInitial, Max: r.inf.o.pollMax}
	gone := false
	err := retry.Until(ctx, p, func(ctx context.Context) (bool, error) {
		var x *volumes.Volume
		err := r.call(ctx, func(ctx context.Context) (err error) {
			x, err = volumes.Get(ctx, r.inf.cloud.BlockStorage, v.ID).Extract()
			return err
		})
		switch {
		case gophercloud.ResponseCodeIs(err, http.StatusNotFound):
			gone = true
			return true, nil
		case err != nil:
			return false, err
		case x.Status == "in-use" || len(x.Attachments) > 0:
			return false, retry.Permanent(fmt.Errorf("volume is attached: %w", provider.ErrConflict))
		}
		return x.Status == "available" || strings.HasPrefix(x.Status, "error"), nil
	})
	if err != nil {
		hint := ""
		if errors.Is(err, provider.ErrConflict) {
			hint = "delete the servers it is attached to first"
		}
		return r.fail("delete", "volume", v.Name, v.ID, hint, err)
	}
	if gone {
		return nil
	}
	return r.deleteOne(ctx, "volume", v.Name, v.ID, neutronPolicy, func(ctx context.Context) error {
		return volumes.Delete(ctx, r.inf.cloud.BlockStorage, v.ID, nil).ExtractErr()
	})
}

func (r *run) removeInterface(ctx context.Context, routerID, subnetID, portID string) error {
	return r.deleteOne(ctx, "router interface", routerID+" -> "+subnetID, portID, neutronPolicy, func(ctx context.Context) error {
		_, err := routers.RemoveInterface(ctx, r.inf.cloud.Network, routerID, routers.RemoveInterfaceOpts{SubnetID: subnetID}).Extract()
		return err
	})
}

// deleteLB deletes a load balancer with everything in it and waits until
// it is gone.
func (r *run) deleteLB(ctx context.Context, lb loadbalancers.LoadBalancer) error {
	err := r.deleteOne(ctx, "load balancer", lb.Name, lb.ID, octaviaPolicy, func(ctx context.Context) error {
		return loadbalancers.Delete(ctx, r.inf.cloud.LoadBalancer, lb.ID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr()
	})
	if err != nil {
		return err
	}
	start := now()
	p := retry.Policy{Initial: r.inf.o.pollInitial, Max: r.inf.o.pollMax}
	err = retry.Until(ctx, p, func(ctx context.Context) (bool, error) {
		err := r.call(ctx, func(ctx context.Context) error {
			x, err := loadbalancers.Get(ctx, r.inf.cloud.LoadBalancer, lb.ID).Extract()
			if err == nil && x.ProvisioningStatus == "ERROR" {
				return retry.Permanent(fmt.Errorf("provisioning status ERROR while deleting: %w", provider.ErrConflict))
			}
			return err
		})
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return true, nil
		}
		return false, err
	})
	err = r.fail("wait for deletion of", "load balancer", lb.Name, lb.ID, "", err)
	r.event(Event{Resource: "load balancer", Name: lb.Name, ID: lb.ID, Action: ActionWait, Duration: since(start), Err: err})
	return err
}

// discoverOwned finds the cluster's resources by ownership tag and by the
// deterministic names (untagged leftovers of a crash), never resources
// tagged for another cluster.
func (r *run) discoverOwned(ctx context.Context, o deleteOptions) (*deleteSet, error) {
	set := &deleteSet{}
	tagged := q("tags", r.tag)
	var mu sync.Mutex
	steps := []func(context.Context) error{
		discoverStep(r, networkKind, r.listNetworks, tagged, q("name", r.names.network()), &set.networks),
		discoverStep(r, subnetKind, r.listSubnets, tagged, q("name", r.names.subnet()), &set.subnets),
		discoverStep(r, routerKind, r.listRouters, tagged, q("name", r.names.router()), &set.routers),
		discoverStep(r, groupKind, r.listGroups, tagged, q("name", r.names.group(RoleControlPlane), "name", r.names.group(RoleWorker), "name", r.names.group(RoleNode)), &set.groups),
		func(ctx context.Context) error {
			a, err := r.listFIPs(ctx, tagged)
			if err != nil {
				return err
			}
			b, err := r.listFIPs(ctx, q("description", r.names.floatingIP()))
			for _, f := range b {
				if f.Description == r.names.floatingIP() && !foreignOwner(f.Tags, r.tag) && !slices.ContainsFunc(a, func(x fipRes) bool { return x.ID == f.ID }) {
					a = append(a, f)
				}
			}
			set.fips = a
			return err
		},
		func(ctx context.Context) error {
			ps, err := r.listPorts(ctx, tagged)
			mu.Lock()
			set.ports = append(set.ports, ps...)
			mu.Unlock()
			return err
		},
	}
	if r.inf.cloud.LoadBalancer != nil {
		steps = append(steps, func(ctx context.Context) (err error) {
			set.lbs, err = r.listLBs(ctx, tagged)
			return err
		})
		if o.ccm {
			steps = append(steps, func(ctx context.Context) error {
				all, err := r.listLBs(ctx, nil)
				for _, lb := range all {
					if strings.HasPrefix(lb.Name, "kube_service_"+r.names.cluster+"_") {
						set.ccmLBs = append(set.ccmLBs, lb)
					}
				}
				return err
			})
		}
	}
	if o.ccm {
		steps = append(steps, func(ctx context.Context) error {
			all, err := r.listFIPs(ctx, nil)
			for _, f := range all {
				if strings.HasPrefix(f.Description, "Floating IP for Kubernetes external service ") && strings.HasSuffix(f.Description, " from cluster "+r.names.cluster) {
					set.ccmFIPs = append(set.ccmFIPs, f)
				}
			}
			return err
		})
	}
	if r.inf.cloud.Compute != nil {
		steps = append(steps, func(ctx context.Context) error {
			ids, err := r.listServers(ctx)
			set.servers = ids
			return err
		})
	}
	if o.csi {
		if r.inf.cloud.BlockStorage == nil {
			return nil, r.fail("list", "volume", "", "", "the cloud has no Cinder; leave out infra.CSIVolumes()", provider.ErrInvalidSpec)
		}
		steps = append(steps, func(ctx context.Context) error {
			return r.call(ctx, func(ctx context.Context) error {
				pages, err := volumes.List(r.inf.cloud.BlockStorage, volumes.ListOpts{
					Metadata: map[string]string{"cinder.csi.openstack.org/cluster": r.names.cluster}}).AllPages(ctx)
				if err != nil {
					return err
				}
				vs, err := volumes.ExtractVolumes(pages)
				for _, v := range vs {
					if v.Metadata["cinder.csi.openstack.org/cluster"] == r.names.cluster {
						set.volumes = append(set.volumes, v)
					}
				}
				return err
			})
		})
	}
	err := parallel(ctx, len(steps), func(ctx context.Context, i int) error {
		return r.do(ctx, neutronPolicy, steps[i])
	})
	if err != nil {
		return nil, r.fail("find", "cluster resources", r.names.cluster, "", "", err)
	}
	// addPorts adds to set.ports, once each, the ports whose attribute key
	// is id(i) for every i below n.
	addPorts := func(n int, key string, id func(int) string) error {
		err := parallel(ctx, n, func(ctx context.Context, i int) error {
			return r.do(ctx, neutronPolicy, func(ctx context.Context) error {
				ps, err := r.listPorts(ctx, q(key, id(i)))
				mu.Lock()
				for _, p := range ps {
					if !slices.ContainsFunc(set.ports, func(x portRes) bool { return x.ID == p.ID }) {
						set.ports = append(set.ports, p)
					}
				}
				mu.Unlock()
				return err
			})
		})
		if err != nil {
			return r.fail("list", "port", "", "", "", err)
		}
		return nil
	}
	// The ports on our networks: servers, router interfaces, leftovers.
	if err := addPorts(len(set.networks), "network_id", func(i int) string { return set.networks[i].ID }); err != nil {
		return nil, err
	}
	// Interfaces of our routers on other subnets.
	if err := addPorts(len(set.routers), "device_id", func(i int) string { return set.routers[i].ID }); err != nil {
		return nil, err
	}
	return set, nil
}

// listServers returns the IDs of the Nova servers carrying the ownership
// tag, in any state but deleted.
func (r *run) listServers(ctx context.Context) (ids []string, err error) {
	c := *r.inf.cloud.Compute
	c.Microversion = "2.52" // tags filter (2.26) and tags in the answer
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := servers.List(&c, servers.ListOpts{Tags: r.tag}).AllPages(ctx)
		if err != nil {
			return err
		}
		ss, err := servers.ExtractServers(pages)
		ids = ids[:0]
		for _, s := range ss {
			if s.Tags != nil && slices.Contains(*s.Tags, r.tag) && s.Status != "DELETED" && s.Status != "SOFT_DELETED" {
				ids = append(ids, s.ID)
			}
		}
		return err
	})
	return ids, err
}

// discoverStep lists a kind by the ownership tag and by its deterministic
// names, and stores in dst the tagged ones with the named ones no other
// cluster owns.
func discoverStep[T any](r *run, k kindInfo[T], list func(context.Context, query) ([]T, error), tagged, named query, dst *[]T) func(context.Context) error {
	return func(ctx context.Context) error {
		a, err := list(ctx, tagged)
		if err != nil {
			return err
		}
		b, err := list(ctx, named)
		*dst = mergeOwned(r, k, a, b)
		return err
	}
}

// mergeOwned unites tagged resources with untagged ones of our name.
func mergeOwned[T any](r *run, k kindInfo[T], tagged, named []T) []T {
	out := slices.Clone(tagged)
	for _, x := range named {
		if foreignOwner(k.tags(x), r.tag) || slices.ContainsFunc(out, func(y T) bool { return k.id(y) == k.id(x) }) {
			continue
		}
		out = append(out, x)
	}
	return out
}
