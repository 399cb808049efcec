package cloudtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/openstrap/openstrap/provider"
)

// DeleteOwned deletes, on a real cloud, every resource c's user can list
// that carries tag (an ownership tag such as provider.OwnershipTag(cluster)),
// as a test's cleanup: load balancers (cascade), servers (by tag or by the
// openstrap-cluster metadata), server groups named after the cluster,
// floating IPs (by tag or description), router interfaces and routers, ports,
// subnets, networks and security groups. It waits until servers and load
// balancers are gone, so that their ports and networks can go too.
func DeleteOwned(ctx context.Context, c *provider.Cloud, tag string) error {
	cluster := strings.TrimPrefix(tag, provider.OwnershipTagKey+"=")
	var errs []error
	gone := func(err error) bool { return err == nil || gophercloud.ResponseCodeIs(err, 404) }
	note := func(what string, err error) {
		if !gone(err) {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}

	if c.LoadBalancer != nil {
		page, err := loadbalancers.List(c.LoadBalancer, loadbalancers.ListOpts{}).AllPages(ctx)
		note("list load balancers", err)
		lbs, _ := loadbalancers.ExtractLoadBalancers(page)
		var ids []string
		for _, l := range lbs {
			if isTag(l.Tags, tag) || ownedBy(l.Description, tag) {
				ids = append(ids, l.ID)
			}
		}
		for _, id := range ids {
			err := retryConflict(ctx, func() error {
				return loadbalancers.Delete(ctx, c.LoadBalancer, id, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr()
			})
			note("delete load balancer "+id, err)
		}
		for _, id := range ids {
			note("wait for load balancer "+id, waitGone(ctx, func() error {
				_, err := loadbalancers.Get(ctx, c.LoadBalancer, id).Extract()
				return err
			}))
		}
	}

	page, err := servers.List(c.Compute, servers.ListOpts{}).AllPages(ctx)
	note("list servers", err)
	srvs, _ := servers.ExtractServers(page)
	var srvIDs []string
	for _, s := range srvs {
		owned := s.Metadata[provider.OwnershipTagKey] == cluster
		if s.Tags != nil && isTag(*s.Tags, tag) {
			owned = true
		}
		if owned {
			srvIDs = append(srvIDs, s.ID)
			note("delete server "+s.ID, servers.Delete(ctx, c.Compute, s.ID).ExtractErr())
		}
	}
	for _, id := range srvIDs {
		note("wait for server "+id, waitGone(ctx, func() error {
			_, err := servers.Get(ctx, c.Compute, id).Extract()
			return err
		}))
	}
	if page, err = servergroups.List(c.Compute, servergroups.ListOpts{}).AllPages(ctx); err == nil {
		sgs, _ := servergroups.ExtractServerGroups(page)
		for _, g := range sgs {
			if cluster != "" && strings.HasPrefix(g.Name, cluster) {
				note("delete server group "+g.ID, servergroups.Delete(ctx, c.Compute, g.ID).ExtractErr())
			}
		}
	}

	if page, err = floatingips.List(c.Network, floatingips.ListOpts{}).AllPages(ctx); err == nil {
		fips, _ := floatingips.ExtractFloatingIPs(page)
		for _, f := range fips {
			if isTag(f.Tags, tag) || ownedBy(f.Description, tag) {
				note("delete floating IP "+f.ID, floatingips.Delete(ctx, c.Network, f.ID).ExtractErr())
			}
		}
	} else {
		note("list floating IPs", err)
	}

	page, err = routers.List(c.Network, routers.ListOpts{}).AllPages(ctx)
	note("list routers", err)
	rts, _ := routers.ExtractRouters(page)
	for _, r := range rts {
		if !isTag(r.Tags, tag) {
			continue
		}
		pp, err := ports.List(c.Network, ports.ListOpts{DeviceID: r.ID}).AllPages(ctx)
		note("list ports of router "+r.ID, err)
		ifs, _ := ports.ExtractPorts(pp)
		for _, p := range ifs {
			if p.DeviceOwner == "network:router_interface" {
				_, err := routers.RemoveInterface(ctx, c.Network, r.ID, routers.RemoveInterfaceOpts{PortID: p.ID}).Extract()
				note("remove interface "+p.ID, err)
			}
		}
		note("delete router "+r.ID, routers.Delete(ctx, c.Network, r.ID).ExtractErr())
	}

	page, err = ports.List(c.Network, ports.ListOpts{}).AllPages(ctx)
	note("list ports", err)
	ps, _ := ports.ExtractPorts(page)
	for _, p := range ps {
		if isTag(p.Tags, tag) {
			note("delete port "+p.ID, ports.Delete(ctx, c.Network, p.ID).ExtractErr())
		}
	}
	page, err = subnets.List(c.Network, subnets.ListOpts{}).AllPages(ctx)
	note("list subnets", err)
	sns, _ := subnets.ExtractSubnets(page)
	for _, s := range sns {
		if isTag(s.Tags, tag) {
			note("delete subnet "+s.ID, retryConflict(ctx, func() error { return subnets.Delete(ctx, c.Network, s.ID).ExtractErr() }))
		}
	}
	page, err = networks.List(c.Network, networks.ListOpts{}).AllPages(ctx)
	note("list networks", err)
	nets, _ := networks.ExtractNetworks(page)
	for _, n := range nets {
		if isTag(n.Tags, tag) {
			note("delete network "+n.ID, retryConflict(ctx, func() error { return networks.Delete(ctx, c.Network, n.ID).ExtractErr() }))
		}
	}
	page, err = groups.List(c.Network, groups.ListOpts{}).AllPages(ctx)
	note("list security groups", err)
	gs, _ := groups.ExtractGroups(page)
	for _, g := range gs {
		if isTag(g.Tags, tag) {
			note("delete security group "+g.ID, retryConflict(ctx, func() error { return groups.Delete(ctx, c.Network, g.ID).ExtractErr() }))
		}
	}
	return errors.Join(errs...)
}

// retryConflict retries fn while it fails with 409 (a resource still in use
// or pending), for up to a minute.
func retryConflict(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := fn()
		if err == nil || !gophercloud.ResponseCodeIs(err, 409) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// waitGone polls get until it answers 404.
func waitGone(ctx context.Context, get func() error) error {
	for {
		err := get()
		if gophercloud.ResponseCodeIs(err, 404) {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
