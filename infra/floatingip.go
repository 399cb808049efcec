package infra

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"

	"github.com/openstrap/openstrap/provider"
)

// ensureFIP converges the API endpoint's floating IP: associated with the
// load balancer's VIP port, or, without a load balancer, allocated and left
// for AddAPIServerMember to associate.
func (r *run) ensureFIP(ctx context.Context, d *discovered, lb LoadBalancerStatus, lbCreated bool) (FloatingIPStatus, error) {
	s := r.spec
	if !s.wantsFloatingIP() {
		return FloatingIPStatus{}, nil
	}
	name := r.names.floatingIP()
	portID := lb.VIPPortID
	if s.APIServer.FloatingIP != "" {
		if len(d.fips) == 0 {
			return FloatingIPStatus{}, r.fail("find", "floating IP", s.APIServer.FloatingIP, "",
				"Spec.APIServer.FloatingIP must be allocated to the project first", provider.ErrNotFound)
		}
		f := d.fips[0]
		st := FloatingIPStatus{ID: f.ID, Address: f.Address}
		if portID == "" || f.PortID == portID {
			r.event(Event{Resource: "floating IP", Name: f.Address, ID: f.ID, Action: ActionFound})
			return st, nil
		}
		if f.PortID != "" {
			return st, r.fail("associate", "floating IP", f.Address, f.ID,
				fmt.Sprintf("it is associated with port %s; disassociate it or pick another address", f.PortID), provider.ErrConflict)
		}
		return st, r.associateFIP(ctx, f, portID)
	}
	var mine []fipRes
	for _, f := range d.fips {
		if hasTag(f.Tags, r.tag) && f.Description == name {
			mine = append(mine, f)
		}
	}
	var f *fipRes
	for i := range mine {
		if f == nil || mine[i].ID == r.known.FloatingIP.ID || (portID != "" && mine[i].PortID == portID) {
			f = &mine[i]
		}
	}
	if f == nil && (!lbCreated || s.APIServer.DisableLoadBalancer) {
		// A leftover of a crash between create and tag: no tag, our
		// description (and our VIP port, with a load balancer).
		var leftovers []fipRes
		err := r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
			leftovers, err = r.listFIPs(ctx, q("description", name))
			return err
		})
		if err != nil {
			return FloatingIPStatus{}, r.fail("list", "floating IP", name, "", "", err)
		}
		for i, x := range leftovers {
			if x.Description == name && !foreignOwner(x.Tags, r.tag) && (portID == "" || x.PortID == portID) {
				f = &leftovers[i]
				break
			}
		}
		if f != nil {
			if r.dry {
				r.planned(Change{Resource: "floating IP", Name: name, ID: f.ID, Action: ActionAdopt})
			} else {
				start := now()
				err := r.fail("tag", "floating IP", name, f.ID, "", r.tagNeutron(ctx, "floatingips", f.ID))
				r.event(Event{Resource: "floating IP", Name: name, ID: f.ID, Action: ActionAdopt, Duration: since(start), Err: err})
				if err != nil {
					return FloatingIPStatus{}, err
				}
			}
		}
	}
	if f != nil {
		st := FloatingIPStatus{ID: f.ID, Address: f.Address, Owned: true}
		if portID != "" && f.PortID != portID {
			return st, r.associateFIP(ctx, *f, portID)
		}
		r.event(Event{Resource: "floating IP", Name: f.Address, ID: f.ID, Action: ActionFound})
		return st, nil
	}
	if r.dry {
		r.planned(Change{Resource: "floating IP", Name: name, Action: ActionCreate})
		return FloatingIPStatus{}, nil
	}
	opts := floatingips.CreateOpts{FloatingNetworkID: d.ext.ID, PortID: portID, Description: name}
	start := now()
	var out fipRes
	attempt := 0
	err := r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		attempt++
		if attempt > 1 {
			xs, err := r.listFIPs(ctx, q("description", name))
			if err != nil {
				return err
			}
			for _, x := range xs {
				if x.Description == name && !foreignOwner(x.Tags, r.tag) && (portID == "" || x.PortID == portID) {
					out = x
					return nil
				}
			}
		}
		return r.call(ctx, func(ctx context.Context) error {
			x, err := floatingips.Create(ctx, r.inf.cloud.Network, opts).Extract()
			if err == nil {
				out = toFIP(*x)
			}
			return err
		})
	})
	err = r.fail("create", "floating IP", name, "", hintFor(err), err)
	r.event(Event{Resource: "floating IP", Name: name, ID: out.ID, Action: ActionCreate, Duration: since(start), Err: err})
	if err != nil {
		return FloatingIPStatus{}, err
	}
	if !hasTag(out.Tags, r.tag) {
		id := out.ID
		r.background(ctx, func(ctx context.Context) error {
			return r.fail("tag", "floating IP", name, id, "", r.tagNeutron(ctx, "floatingips", id))
		})
	}
	return FloatingIPStatus{ID: out.ID, Address: out.Address, Owned: true}, nil
}

func (r *run) associateFIP(ctx context.Context, f fipRes, portID string) error {
	if r.dry {
		r.planned(Change{Resource: "floating IP", Name: f.Address, ID: f.ID, Action: ActionUpdate, Detail: "associate with port " + portID})
		return nil
	}
	start := now()
	err := r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) error {
			_, err := floatingips.Update(ctx, r.inf.cloud.Network, f.ID, floatingips.UpdateOpts{PortID: &portID}).Extract()
			return err
		})
	})
	err = r.fail("associate", "floating IP", f.Address, f.ID, hintFor(err), err)
	r.event(Event{Resource: "floating IP", Name: f.Address, ID: f.ID, Action: ActionUpdate, Duration: since(start), Err: err})
	return err
}
