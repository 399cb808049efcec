package infra

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/openstrap/openstrap/provider"
)

// Member is a control-plane machine serving the API.
type Member struct {
	// Name is the machine's name; members are found again by it.
	Name string
	// Address is the machine's address on the cluster subnet.
	Address string
}

// AddAPIServerMember makes m a backend of the API server load balancer's
// pool (waiting until Octavia has applied it). Without a load balancer, it
// associates the endpoint's floating IP with m's port if the floating IP is
// still free. Adding a member that is there already changes nothing; one
// registered under the same name with another address is replaced.
func (inf *Infra) AddAPIServerMember(ctx context.Context, st Status, m Member) error {
	if inf.err != nil {
		return inf.err
	}
	if m.Name == "" {
		return invalid("Member.Name", m.Name, "is required")
	}
	if _, err := netip.ParseAddr(m.Address); err != nil {
		return invalid("Member.Address", m.Address, "must be an IP address")
	}
	r := inf.run(ctx, st.Cluster)
	switch {
	case st.LoadBalancer.PoolID != "":
		return r.addMember(ctx, st, m)
	case st.FloatingIP.ID != "":
		return r.attachEndpointFIP(ctx, st, m)
	}
	return nil
}

// RemoveAPIServerMember removes the member registered under name; a member
// that is gone already counts as removed. Without a load balancer, it
// disassociates the endpoint's floating IP from the machine's port.
func (inf *Infra) RemoveAPIServerMember(ctx context.Context, st Status, name string) error {
	if inf.err != nil {
		return inf.err
	}
	r := inf.run(ctx, st.Cluster)
	switch {
	case st.LoadBalancer.PoolID != "":
		return r.removeMember(ctx, st, name)
	case st.FloatingIP.ID != "":
		return r.detachEndpointFIP(ctx, st, name)
	}
	return nil
}

// APIServerPool returns st's API server pool for provider's machines
// service (provider.WithAPIServerPool).
func (inf *Infra) APIServerPool(st Status) provider.APIServerPool {
	return apiServerPool{inf: inf, st: st}
}

type apiServerPool struct {
	inf *Infra
	st  Status
}

var _ provider.APIServerPool = apiServerPool{}

func (p apiServerPool) AddMember(ctx context.Context, name, address string) error {
	return p.inf.AddAPIServerMember(ctx, p.st, Member{Name: name, Address: address})
}

func (p apiServerPool) RemoveMember(ctx context.Context, name string) error {
	return p.inf.RemoveAPIServerMember(ctx, p.st, name)
}

func (r *run) listMembers(ctx context.Context, poolID string) (out []pools.Member, err error) {
	err = r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) error {
			pages, err := pools.ListMembers(r.inf.cloud.LoadBalancer, poolID, nil).AllPages(ctx)
			if err != nil {
				return err
			}
			out, err = pools.ExtractMembers(pages)
			return err
		})
	})
	return out, r.fail("list", "member", "", "", "", err)
}

func (r *run) addMember(ctx context.Context, st Status, m Member) error {
	lb := st.LoadBalancer
	port := st.APIServerPort
	if port == 0 {
		port = DefaultAPIServerPort
	}
	members, err := r.listMembers(ctx, lb.PoolID)
	if err != nil {
		return err
	}
	for _, x := range members {
		switch {
		case x.Name == m.Name && x.Address == m.Address && x.ProtocolPort == port:
			r.event(Event{Resource: "member", Name: m.Name, ID: x.ID, Action: ActionFound})
			return nil
		case x.Name == m.Name:
			// Same machine name, new address: replace it.
			if err := r.deleteMember(ctx, st, x); err != nil {
				return err
			}
		case x.Address == m.Address && x.ProtocolPort == port:
			return r.fail("add", "member", m.Name, "", fmt.Sprintf("address %s is already member %q of the pool; remove that one first", m.Address, x.Name), provider.ErrConflict)
		}
	}
	start := now()
	var id string
	attempt := 0
	err = r.do(ctx, octaviaPolicy, func(ctx context.Context) error {
		attempt++
		if attempt > 1 {
			xs, err := r.listMembers(ctx, lb.PoolID)
			if err != nil {
				return err
			}
			for _, x := range xs {
				if x.Name == m.Name && x.Address == m.Address {
					id = x.ID
					return nil
				}
			}
		}
		return r.call(ctx, func(ctx context.Context) error {
			x, err := pools.CreateMember(ctx, r.inf.cloud.LoadBalancer, lb.PoolID, pools.CreateMemberOpts{
				Name: m.Name, Address: m.Address, ProtocolPort: port, SubnetID: st.SubnetID, Tags: []string{r.tag},
			}).Extract()
			if err == nil {
				id = x.ID
			}
			return err
		})
	})
	err = r.fail("add", "member", m.Name, "", hintFor(err), err)
	r.event(Event{Resource: "member", Name: m.Name, ID: id, Action: ActionCreate, Duration: since(start), Err: err})
	if err != nil {
		return err
	}
	return r.waitLB(ctx, lb.ID)
}

func (r *run) removeMember(ctx context.Context, st Status, name string) error {
	members, err := r.listMembers(ctx, st.LoadBalancer.PoolID)
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return nil // the pool is gone, and its members with it
	}
	if err != nil {
		return err
	}
	for _, x := range members {
		if x.Name == name {
			if err := r.deleteMember(ctx, st, x); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *run) deleteMember(ctx context.Context, st Status, x pools.Member) error {
	err := r.deleteOne(ctx, "member", x.Name, x.ID, octaviaPolicy, func(ctx context.Context) error {
		return pools.DeleteMember(ctx, r.inf.cloud.LoadBalancer, st.LoadBalancer.PoolID, x.ID).ExtractErr()
	})
	if err != nil {
		return err
	}
	return r.waitLB(ctx, st.LoadBalancer.ID)
}

func (r *run) getFIP(ctx context.Context, id string) (f fipRes, err error) {
	err = r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) error {
			x, err := floatingips.Get(ctx, r.inf.cloud.Network, id).Extract()
			if err == nil {
				f = toFIP(*x)
			}
			return err
		})
	})
	return f, r.fail("get", "floating IP", "", id, "", err)
}

// attachEndpointFIP associates the endpoint's floating IP with the port
// holding m's address, unless it is associated already.
func (r *run) attachEndpointFIP(ctx context.Context, st Status, m Member) error {
	f, err := r.getFIP(ctx, st.FloatingIP.ID)
	if err != nil {
		return err
	}
	if f.PortID != "" {
		r.event(Event{Resource: "floating IP", Name: f.Address, ID: f.ID, Action: ActionFound})
		return nil // the first control-plane machine has it
	}
	var ps []portRes
	err = r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
		ps, err = r.listPorts(ctx, q("network_id", st.NetworkID))
		return err
	})
	if err != nil {
		return r.fail("list", "port", m.Name, "", "", err)
	}
	for _, p := range ps {
		for _, a := range p.Addresses {
			if a == m.Address {
				return r.associateFIP(ctx, f, p.ID)
			}
		}
	}
	return r.fail("find", "port", m.Name, "", fmt.Sprintf("no port on network %s has address %s", st.NetworkID, m.Address), provider.ErrNotFound)
}

// detachEndpointFIP disassociates the endpoint's floating IP from the
// machine named name (whose ports are named "<name>-<index>").
func (r *run) detachEndpointFIP(ctx context.Context, st Status, name string) error {
	f, err := r.getFIP(ctx, st.FloatingIP.ID)
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) || (err == nil && f.PortID == "") {
		return nil
	}
	if err != nil {
		return err
	}
	var p *ports.Port
	err = r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) (err error) {
			p, err = ports.Get(ctx, r.inf.cloud.Network, f.PortID).Extract()
			return err
		})
	})
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return r.fail("get", "port", "", f.PortID, "", err)
	}
	rest, ok := strings.CutPrefix(p.Name, name+"-")
	if _, nerr := strconv.Atoi(rest); !ok || nerr != nil {
		return nil // another machine holds it
	}
	empty := ""
	start := now()
	err = r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) error {
			_, err := floatingips.Update(ctx, r.inf.cloud.Network, f.ID, floatingips.UpdateOpts{PortID: &empty}).Extract()
			return err
		})
	})
	err = r.fail("disassociate", "floating IP", f.Address, f.ID, "", err)
	r.event(Event{Resource: "floating IP", Name: f.Address, ID: f.ID, Action: ActionUpdate, Duration: since(start), Err: err})
	return err
}
