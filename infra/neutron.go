package infra

import (
	"context"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/attributestags"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/mtu"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Thin wrappers over gophercloud's Neutron calls: one API call each,
// counted by r.call, results reduced to what this package uses.

type netRes struct {
	ID, Name string
	Tags     []string
	External bool
	MTU      int
}

type subRes struct {
	ID, Name, NetworkID, CIDR string
	Tags                      []string
	DNS                       []string
}

type rtrRes struct {
	ID, Name         string
	Tags             []string
	GatewayNetworkID string
}

type sgRes struct {
	ID, Name string
	Tags     []string
	Rules    []observedRule
}

type fipRes struct {
	ID, Address, PortID, NetworkID, Description string
	Tags                                        []string
}

type portRes struct {
	ID, NetworkID, DeviceID, DeviceOwner, Name string
	Tags                                       []string
	SubnetIDs                                  []string
	Addresses                                  []string
}

type netJSON struct {
	networks.Network
	external.NetworkExternalExt
	mtu.NetworkMTUExt
}

func toNet(n netJSON) netRes {
	return netRes{ID: n.ID, Name: n.Name, Tags: n.Tags, External: n.External, MTU: n.MTU}
}

func (r *run) listNetworks(ctx context.Context, qq query) (out []netRes, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := networks.List(r.inf.cloud.Network, qq).AllPages(ctx)
		if err != nil {
			return err
		}
		var ns []netJSON
		if err := networks.ExtractNetworksInto(pages, &ns); err != nil {
			return err
		}
		for _, n := range ns {
			out = append(out, toNet(n))
		}
		return nil
	})
	return out, err
}

func (r *run) createNetwork(ctx context.Context, name string, mtuSize int) (netRes, error) {
	var n netJSON
	err := r.call(ctx, func(ctx context.Context) error {
		var opts networks.CreateOptsBuilder = networks.CreateOpts{Name: name, Description: "openstrap cluster " + r.spec.Cluster}
		if mtuSize > 0 {
			opts = mtu.CreateOptsExt{CreateOptsBuilder: opts, MTU: mtuSize}
		}
		return networks.Create(ctx, r.inf.cloud.Network, opts).ExtractInto(&n)
	})
	return toNet(n), err
}

func toSub(s subnets.Subnet) subRes {
	return subRes{ID: s.ID, Name: s.Name, NetworkID: s.NetworkID, CIDR: s.CIDR, Tags: s.Tags, DNS: s.DNSNameservers}
}

func (r *run) listSubnets(ctx context.Context, qq query) (out []subRes, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := subnets.List(r.inf.cloud.Network, qq).AllPages(ctx)
		if err != nil {
			return err
		}
		ss, err := subnets.ExtractSubnets(pages)
		for _, s := range ss {
			out = append(out, toSub(s))
		}
		return err
	})
	return out, err
}

func toRtr(x routers.Router) rtrRes {
	return rtrRes{ID: x.ID, Name: x.Name, Tags: x.Tags, GatewayNetworkID: x.GatewayInfo.NetworkID}
}

func (r *run) listRouters(ctx context.Context, qq query) (out []rtrRes, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := routers.List(r.inf.cloud.Network, qq).AllPages(ctx)
		if err != nil {
			return err
		}
		rs, err := routers.ExtractRouters(pages)
		for _, x := range rs {
			out = append(out, toRtr(x))
		}
		return err
	})
	return out, err
}

func toSG(g groups.SecGroup) sgRes {
	out := sgRes{ID: g.ID, Name: g.Name, Tags: g.Tags}
	for _, x := range g.Rules {
		out.Rules = append(out.Rules, observedRule{id: x.ID, key: canonicalRule(x.Direction, x.EtherType, x.Protocol,
			x.PortRangeMin, x.PortRangeMax, x.RemoteIPPrefix, x.RemoteGroupID)})
	}
	return out
}

// listGroups lists security groups. gophercloud's groups.List takes a fixed
// options struct; repeated filters (name=a&name=b) need the pager itself.
func (r *run) listGroups(ctx context.Context, qq query) (out []sgRes, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		c := r.inf.cloud.Network
		qs, _ := qq.encode()
		pager := pagination.NewPager(c, c.ServiceURL("security-groups")+qs, func(r pagination.PageResult) pagination.Page {
			return groups.SecGroupPage{LinkedPageBase: pagination.LinkedPageBase{PageResult: r}}
		})
		pages, err := pager.AllPages(ctx)
		if err != nil {
			return err
		}
		gs, err := groups.ExtractGroups(pages)
		for _, g := range gs {
			out = append(out, toSG(g))
		}
		return err
	})
	return out, err
}

func toFIP(f floatingips.FloatingIP) fipRes {
	return fipRes{ID: f.ID, Address: f.FloatingIP, PortID: f.PortID, NetworkID: f.FloatingNetworkID, Description: f.Description, Tags: f.Tags}
}

func (r *run) listFIPs(ctx context.Context, qq query) (out []fipRes, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := floatingips.List(r.inf.cloud.Network, qq).AllPages(ctx)
		if err != nil {
			return err
		}
		fs, err := floatingips.ExtractFloatingIPs(pages)
		for _, f := range fs {
			out = append(out, toFIP(f))
		}
		return err
	})
	return out, err
}

func toPort(p ports.Port) portRes {
	out := portRes{ID: p.ID, NetworkID: p.NetworkID, DeviceID: p.DeviceID, DeviceOwner: p.DeviceOwner, Name: p.Name, Tags: p.Tags}
	for _, ip := range p.FixedIPs {
		out.SubnetIDs = append(out.SubnetIDs, ip.SubnetID)
		out.Addresses = append(out.Addresses, ip.IPAddress)
	}
	return out
}

func (r *run) listPorts(ctx context.Context, qq query) (out []portRes, err error) {
	err = r.call(ctx, func(ctx context.Context) error {
		pages, err := ports.List(r.inf.cloud.Network, qq).AllPages(ctx)
		if err != nil {
			return err
		}
		ps, err := ports.ExtractPorts(pages)
		for _, p := range ps {
			out = append(out, toPort(p))
		}
		return err
	})
	return out, err
}

// tagNeutron adds the ownership tag to a Neutron resource (collection is
// the API's: "networks", "subnets", "routers", "security-groups",
// "floatingips", "ports"). Adding a tag twice is harmless.
func (r *run) tagNeutron(ctx context.Context, collection, id string) error {
	return r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) error {
			return attributestags.Add(ctx, r.inf.cloud.Network, collection, id, r.tag).ExtractErr()
		})
	})
}

// foreignOwner reports whether tags mark the resource as another cluster's.
func foreignOwner(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.HasPrefix(t, TagPrefix) && t != tag {
			return true
		}
	}
	return false
}
