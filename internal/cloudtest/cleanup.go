package cloudtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// DeleteOwned deletes, on a real cloud, every resource c's user can list
// that carries tag (an ownership tag such as provider.OwnershipTag(cluster)),
// as a test's cleanup: load balancers (cascade), servers (by tag or by the
// openstrap-cluster metadata), server groups named after the cluster,
// volumes (by the openstrap-cluster metadata), floating IPs (by tag or description), router interfaces and routers, ports,
// subnets, networks and security groups. It waits until servers and load
// balancers are gone, so that their ports and networks can go too.
func DeleteOwned(ctx context.Context, c *provider.Cloud, tag string) error {
	cluster := strings.TrimPrefix(tag, provider.OwnershipTagKey+"=")
	return deleteMatching(ctx, c, func(r res) bool {
		switch r.kind {
		case "server", "volume":
			return isTag(r.tags, tag) || r.meta[provider.OwnershipTagKey] == cluster
		case "server_group":
			return cluster != "" && strings.HasPrefix(r.name, cluster)
		}
		return isTag(r.tags, tag) || ownedBy(r.text, tag)
	})
}

// res is what deleteMatching knows of a resource when choosing it.
type res struct {
	kind, id, name, text string
	tags                 []string
	meta                 map[string]string
}

// deleteMatching deletes what c's user can list and match chooses, in
// dependency order.
func deleteMatching(ctx context.Context, c *provider.Cloud, match func(res) bool) error {
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
		lbs := extract(page, err, loadbalancers.ExtractLoadBalancers)
		var ids []string
		for _, l := range lbs {
			if match(res{kind: "loadbalancer", id: l.ID, name: l.Name, text: l.Description, tags: l.Tags}) {
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
	srvs := extract(page, err, servers.ExtractServers)
	var srvIDs []string
	for _, s := range srvs {
		var tags []string
		if s.Tags != nil {
			tags = *s.Tags
		}
		if match(res{kind: "server", id: s.ID, name: s.Name, tags: tags, meta: s.Metadata}) {
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
	if c.BlockStorage != nil {
		deleteVolumes(ctx, c, match, note)
	}
	if page, err = servergroups.List(c.Compute, servergroups.ListOpts{}).AllPages(ctx); err == nil {
		sgs := extract(page, err, servergroups.ExtractServerGroups)
		for _, g := range sgs {
			if match(res{kind: "server_group", id: g.ID, name: g.Name}) {
				note("delete server group "+g.ID, servergroups.Delete(ctx, c.Compute, g.ID).ExtractErr())
			}
		}
	}

	if page, err = floatingips.List(c.Network, floatingips.ListOpts{}).AllPages(ctx); err == nil {
		fips := extract(page, err, floatingips.ExtractFloatingIPs)
		for _, f := range fips {
			if match(res{kind: "floatingip", id: f.ID, text: f.Description, tags: f.Tags}) {
				note("delete floating IP "+f.ID, floatingips.Delete(ctx, c.Network, f.ID).ExtractErr())
			}
		}
	} else {
		note("list floating IPs", err)
	}

	page, err = routers.List(c.Network, routers.ListOpts{}).AllPages(ctx)
	note("list routers", err)
	rts := extract(page, err, routers.ExtractRouters)
	for _, r := range rts {
		if !match(res{kind: "router", id: r.ID, name: r.Name, text: r.Description, tags: r.Tags}) {
			continue
		}
		pp, err := ports.List(c.Network, ports.ListOpts{DeviceID: r.ID}).AllPages(ctx)
		note("list ports of router "+r.ID, err)
		ifs := extract(pp, err, ports.ExtractPorts)
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
	ps := extract(page, err, ports.ExtractPorts)
	for _, p := range ps {
		if match(res{kind: "port", id: p.ID, name: p.Name, text: p.Description, tags: p.Tags}) && p.DeviceOwner != "network:router_interface" {
			note("delete port "+p.ID, ports.Delete(ctx, c.Network, p.ID).ExtractErr())
		}
	}
	page, err = subnets.List(c.Network, subnets.ListOpts{}).AllPages(ctx)
	note("list subnets", err)
	sns := extract(page, err, subnets.ExtractSubnets)
	for _, s := range sns {
		if match(res{kind: "subnet", id: s.ID, name: s.Name, text: s.Description, tags: s.Tags}) {
			note("delete subnet "+s.ID, retryConflict(ctx, func() error { return subnets.Delete(ctx, c.Network, s.ID).ExtractErr() }))
		}
	}
	page, err = networks.List(c.Network, networks.ListOpts{}).AllPages(ctx)
	note("list networks", err)
	nets := extract(page, err, networks.ExtractNetworks)
	for _, n := range nets {
		if match(res{kind: "network", id: n.ID, name: n.Name, text: n.Description, tags: n.Tags}) {
			note("delete network "+n.ID, retryConflict(ctx, func() error { return networks.Delete(ctx, c.Network, n.ID).ExtractErr() }))
		}
	}
	page, err = groups.List(c.Network, groups.ListOpts{}).AllPages(ctx)
	note("list security groups", err)
	gs := extract(page, err, groups.ExtractGroups)
	for _, g := range gs {
		if match(res{kind: "security_group", id: g.ID, name: g.Name, text: g.Description, tags: g.Tags}) && g.Name != "default" {
			note("delete security group "+g.ID, retryConflict(ctx, func() error { return groups.Delete(ctx, c.Network, g.ID).ExtractErr() }))
		}
	}
	if page, err = keypairs.List(c.Compute, keypairs.ListOpts{}).AllPages(ctx); err == nil {
		kps := extract(page, err, keypairs.ExtractKeyPairs)
		for _, k := range kps {
			if match(res{kind: "keypair", id: k.Name, name: k.Name}) {
				note("delete keypair "+k.Name, keypairs.Delete(ctx, c.Compute, k.Name, keypairs.DeleteOpts{}).ExtractErr())
			}
		}
	}
	if c.Image != nil {
		if page, err = images.List(c.Image, images.ListOpts{Owner: c.ProjectID}).AllPages(ctx); err == nil {
			imgs := extract(page, err, images.ExtractImages)
			for _, i := range imgs {
				if match(res{kind: "image", id: i.ID, name: i.Name, tags: i.Tags}) {
					note("delete image "+i.ID, images.Delete(ctx, c.Image, i.ID).ExtractErr())
				}
			}
		}
	}
	return errors.Join(errs...)
}

// deleteVolumes deletes the volumes match chooses once their servers are
// gone: it waits while one is attached or changing status, and until each
// is gone.
func deleteVolumes(ctx context.Context, c *provider.Cloud, match func(res) bool, note func(string, error)) {
	page, err := volumes.List(c.BlockStorage, volumes.ListOpts{}).AllPages(ctx)
	note("list volumes", err)
	var ids []string
	for _, v := range extract(page, err, volumes.ExtractVolumes) {
		if match(res{kind: "volume", id: v.ID, name: v.Name, text: v.Description, meta: v.Metadata}) {
			ids = append(ids, v.ID)
		}
	}
	for _, id := range ids {
		note("delete volume "+id, waitGone(ctx, func() error {
			v, err := volumes.Get(ctx, c.BlockStorage, id).Extract()
			if err != nil {
				return err
			}
			switch v.Status {
			case "available", "error", "error_restoring", "error_extending", "error_managing":
				// Cinder answers 400 while the status changes: ask again.
				if err := volumes.Delete(ctx, c.BlockStorage, id, volumes.DeleteOpts{}).ExtractErr(); err != nil &&
					!gophercloud.ResponseCodeIs(err, 400) {
					return err
				}
			case "error_deleting":
				return fmt.Errorf("volume %s went to error_deleting", id)
			}
			return nil
		}))
	}
}

// DeleteAdded deletes, on a real cloud, what c's user can list now that is
// not in before (a Snapshot): what a test created and left, so that the next
// test (or run) on a shared cloud starts clean.
func DeleteAdded(ctx context.Context, c *provider.Cloud, before []openstacktest.Resource) error {
	had := map[string]bool{}
	for _, r := range before {
		had[r.Kind+"/"+r.ID] = true
	}
	return deleteMatching(ctx, c, func(r res) bool { return !had[r.kind+"/"+r.id] })
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

// extract returns the items of a listing, or none when listing failed.
func extract[T any](p pagination.Page, err error, fn func(pagination.Page) ([]T, error)) []T {
	if err != nil || p == nil {
		return nil
	}
	out, _ := fn(p)
	return out
}
