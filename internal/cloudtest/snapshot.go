package cloudtest

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// Snapshot lists the live resources the test's cloud holds, sorted like
// openstacktest.Server.Snapshot. On the simulator it is that snapshot; on a
// real cloud it is what the member user can list through the APIs: servers,
// server groups, keypairs, networks, subnets, ports, routers, security groups
// and their rules, floating IPs, load balancers with their listeners, pools
// and members, images, and volumes when the cloud has Cinder. It fails the test when
// a list fails.
func (e *Env) Snapshot(ctx context.Context) []openstacktest.Resource {
	e.t.Helper()
	if e.sim != nil {
		return e.sim.Snapshot()
	}
	out, err := SnapshotCloud(ctx, e.Cloud(ctx))
	if err != nil {
		e.t.Fatalf("snapshot of the real cloud: %v", err)
	}
	return out
}

// Owned keeps the resources that carry tag, or whose name is one of names.
func Owned(rs []openstacktest.Resource, tag string, names ...string) []openstacktest.Resource {
	var out []openstacktest.Resource
	for _, r := range rs {
		if r.HasTag(tag) || isTag(names, r.Name) {
			out = append(out, r)
		}
	}
	return out
}

// SnapshotCloud lists what c's user can see, as Env.Snapshot does on a real
// cloud.
func SnapshotCloud(ctx context.Context, c *provider.Cloud) ([]openstacktest.Resource, error) {
	var out []openstacktest.Resource
	add := func(svc, kind, id, name, project, status string, tags []string) {
		out = append(out, openstacktest.Resource{Service: svc, Kind: kind, ID: id, Name: name,
			ProjectID: project, Status: status, Tags: append([]string(nil), tags...)})
	}
	all := func(what string, p pagination.Pager) (pagination.Page, error) {
		page, err := p.AllPages(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		return page, nil
	}

	// Nova.
	page, err := all("servers", servers.List(c.Compute, servers.ListOpts{}))
	if err != nil {
		return nil, err
	}
	srvs, err := servers.ExtractServers(page)
	if err != nil {
		return nil, fmt.Errorf("servers: %w", err)
	}
	for _, s := range srvs {
		var tags []string
		if s.Tags != nil {
			tags = *s.Tags
		}
		add("compute", "server", s.ID, s.Name, s.TenantID, s.Status, tags)
	}
	if page, err = all("server groups", servergroups.List(c.Compute, servergroups.ListOpts{})); err != nil {
		return nil, err
	}
	sgs, err := servergroups.ExtractServerGroups(page)
	if err != nil {
		return nil, fmt.Errorf("server groups: %w", err)
	}
	for _, g := range sgs {
		add("compute", "server_group", g.ID, g.Name, g.ProjectID, "", nil)
	}
	if page, err = all("keypairs", keypairs.List(c.Compute, keypairs.ListOpts{})); err != nil {
		return nil, err
	}
	kps, err := keypairs.ExtractKeyPairs(page)
	if err != nil {
		return nil, fmt.Errorf("keypairs: %w", err)
	}
	for _, k := range kps {
		add("compute", "keypair", k.Name, k.Name, k.UserID, "", nil)
	}

	// Neutron.
	if page, err = all("networks", networks.List(c.Network, networks.ListOpts{})); err != nil {
		return nil, err
	}
	nets, err := networks.ExtractNetworks(page)
	if err != nil {
		return nil, fmt.Errorf("networks: %w", err)
	}
	for _, n := range nets {
		add("network", "network", n.ID, n.Name, n.ProjectID, "ACTIVE", n.Tags)
	}
	if page, err = all("subnets", subnets.List(c.Network, subnets.ListOpts{})); err != nil {
		return nil, err
	}
	sns, err := subnets.ExtractSubnets(page)
	if err != nil {
		return nil, fmt.Errorf("subnets: %w", err)
	}
	for _, s := range sns {
		add("network", "subnet", s.ID, s.Name, s.ProjectID, "", s.Tags)
	}
	if page, err = all("ports", ports.List(c.Network, ports.ListOpts{})); err != nil {
		return nil, err
	}
	ps, err := ports.ExtractPorts(page)
	if err != nil {
		return nil, fmt.Errorf("ports: %w", err)
	}
	for _, p := range ps {
		add("network", "port", p.ID, p.Name, p.ProjectID, p.Status, p.Tags)
	}
	if page, err = all("routers", routers.List(c.Network, routers.ListOpts{})); err != nil {
		return nil, err
	}
	rs, err := routers.ExtractRouters(page)
	if err != nil {
		return nil, fmt.Errorf("routers: %w", err)
	}
	for _, r := range rs {
		add("network", "router", r.ID, r.Name, r.ProjectID, "ACTIVE", r.Tags)
	}
	if page, err = all("security groups", groups.List(c.Network, groups.ListOpts{})); err != nil {
		return nil, err
	}
	gs, err := groups.ExtractGroups(page)
	if err != nil {
		return nil, fmt.Errorf("security groups: %w", err)
	}
	for _, g := range gs {
		add("network", "security_group", g.ID, g.Name, g.ProjectID, "", g.Tags)
	}
	if page, err = all("security group rules", rules.List(c.Network, rules.ListOpts{})); err != nil {
		return nil, err
	}
	srs, err := rules.ExtractRules(page)
	if err != nil {
		return nil, fmt.Errorf("security group rules: %w", err)
	}
	for _, r := range srs {
		add("network", "security_group_rule", r.ID, "", r.ProjectID, "", nil)
	}
	if page, err = all("floating IPs", floatingips.List(c.Network, floatingips.ListOpts{})); err != nil {
		return nil, err
	}
	fips, err := floatingips.ExtractFloatingIPs(page)
	if err != nil {
		return nil, fmt.Errorf("floating IPs: %w", err)
	}
	for _, f := range fips {
		add("network", "floatingip", f.ID, "", f.ProjectID, f.Status, f.Tags)
	}

	// Octavia.
	if c.LoadBalancer != nil {
		if page, err = all("load balancers", loadbalancers.List(c.LoadBalancer, loadbalancers.ListOpts{})); err != nil {
			return nil, err
		}
		lbs, err := loadbalancers.ExtractLoadBalancers(page)
		if err != nil {
			return nil, fmt.Errorf("load balancers: %w", err)
		}
		for _, l := range lbs {
			add("load-balancer", "loadbalancer", l.ID, l.Name, l.ProjectID, l.ProvisioningStatus, l.Tags)
		}
		if page, err = all("listeners", listeners.List(c.LoadBalancer, listeners.ListOpts{})); err != nil {
			return nil, err
		}
		ls, err := listeners.ExtractListeners(page)
		if err != nil {
			return nil, fmt.Errorf("listeners: %w", err)
		}
		for _, l := range ls {
			add("load-balancer", "listener", l.ID, l.Name, l.ProjectID, l.ProvisioningStatus, l.Tags)
		}
		if page, err = all("pools", pools.List(c.LoadBalancer, pools.ListOpts{})); err != nil {
			return nil, err
		}
		pls, err := pools.ExtractPools(page)
		if err != nil {
			return nil, fmt.Errorf("pools: %w", err)
		}
		for _, p := range pls {
			add("load-balancer", "pool", p.ID, p.Name, p.ProjectID, p.ProvisioningStatus, p.Tags)
			if page, err = all("members of pool "+p.ID, pools.ListMembers(c.LoadBalancer, p.ID, pools.ListMembersOpts{})); err != nil {
				if gophercloud.ResponseCodeIs(err, 404) {
					continue // deleted meanwhile
				}
				return nil, err
			}
			ms, err := pools.ExtractMembers(page)
			if err != nil {
				return nil, fmt.Errorf("members: %w", err)
			}
			for _, m := range ms {
				add("load-balancer", "member", m.ID, m.Name, m.ProjectID, m.ProvisioningStatus, m.Tags)
			}
		}
	}

	// Glance: the images the project owns, and public ones.
	if c.Image != nil {
		if page, err = all("images", images.List(c.Image, images.ListOpts{})); err != nil {
			return nil, err
		}
		imgs, err := images.ExtractImages(page)
		if err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
		for _, i := range imgs {
			add("image", "image", i.ID, i.Name, i.Owner, string(i.Status), i.Tags)
		}
	}

	// Cinder.
	if c.BlockStorage != nil {
		if page, err = all("volumes", volumes.List(c.BlockStorage, volumes.ListOpts{})); err != nil {
			return nil, err
		}
		vs, err := volumes.ExtractVolumes(page)
		if err != nil {
			return nil, fmt.Errorf("volumes: %w", err)
		}
		for _, v := range vs {
			add("volume", "volume", v.ID, v.Name, v.TenantID, v.Status, nil)
		}
	}

	openstacktest.SortResources(out)
	return out, nil
}
