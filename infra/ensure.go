package infra

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/openstrap/openstrap/provider"
)

// discovered is what one round of list calls found: at most one read per
// resource kind.
type discovered struct {
	ext      *netRes // nil: no external network
	networks []netRes
	subnets  []subRes
	routers  []rtrRes
	groups   []sgRes
	fips     []fipRes
	lb       lbFound
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

// wantRouter reports whether the cluster has a router: a created network
// gets one when there is an external network or the caller brings one.
func (r *run) wantRouter() bool {
	return r.spec.Network.IsZero() && (r.spec.hasExternal() || !r.spec.Router.IsZero())
}

// discover lists every resource kind once, concurrently.
func (r *run) discover(ctx context.Context) (*discovered, error) {
	d := &discovered{}
	s := r.spec
	var steps []func(context.Context) error
	if s.hasExternal() {
		steps = append(steps, func(ctx context.Context) (err error) {
			d.ext, err = r.findExternal(ctx)
			return err
		})
	}
	steps = append(steps, func(ctx context.Context) (err error) {
		if !s.Network.IsZero() {
			d.networks, err = findRef(ctx, r, "network", "Network", s.Network, r.listNetworks)
			return err
		}
		return r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
			d.networks, err = r.listNetworks(ctx, q("name", r.names.network()))
			return r.fail("list", "network", r.names.network(), "", "", err)
		})
	})
	steps = append(steps, func(ctx context.Context) error {
		qq := q("name", r.names.subnet())
		switch {
		case !s.Subnet.IsZero():
			var err error
			d.subnets, err = findRef(ctx, r, "subnet", "Subnet", s.Subnet, r.listSubnets)
			return err
		case !s.Network.IsZero():
			// The subnet of a bring-your-own network is picked once the
			// network is known; list them all then.
			return nil
		}
		return r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
			d.subnets, err = r.listSubnets(ctx, qq)
			return r.fail("list", "subnet", r.names.subnet(), "", "", err)
		})
	})
	if r.wantRouter() || !s.Router.IsZero() {
		steps = append(steps, func(ctx context.Context) (err error) {
			if !s.Router.IsZero() {
				d.routers, err = findRef(ctx, r, "router", "Router", s.Router, r.listRouters)
				return err
			}
			return r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
				d.routers, err = r.listRouters(ctx, q("name", r.names.router()))
				return r.fail("list", "router", r.names.router(), "", "", err)
			})
		})
	}
	if !s.SecurityGroups.Unmanaged {
		steps = append(steps, func(ctx context.Context) error {
			return r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
				d.groups, err = r.listGroups(ctx, q("name", r.names.group(RoleControlPlane), "name", r.names.group(RoleWorker), "name", r.names.group(RoleNode)))
				return r.fail("list", "security group", "", "", "", err)
			})
		})
	}
	if s.wantsFloatingIP() {
		steps = append(steps, func(ctx context.Context) error {
			qq := q("tags", r.tag)
			if s.APIServer.FloatingIP != "" {
				qq = q("floating_ip_address", s.APIServer.FloatingIP)
			}
			return r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
				d.fips, err = r.listFIPs(ctx, qq)
				return r.fail("list", "floating IP", "", "", "", err)
			})
		})
	}
	if !s.APIServer.DisableLoadBalancer {
		steps = append(steps, r.discoverLB(&d.lb)...)
	}
	err := parallel(ctx, len(steps), func(ctx context.Context, i int) error { return steps[i](ctx) })
	return d, err
}

// findExternal resolves the external network, without a read when the
// status passed in already names it.
func (r *run) findExternal(ctx context.Context) (*netRes, error) {
	s, k := r.spec, r.known
	if len(s.ExternalNetworkTags) == 0 && k.ExternalNetworkID != "" &&
		(s.ExternalNetwork == k.ExternalNetworkID || s.ExternalNetwork == k.ExternalNetworkName) {
		return &netRes{ID: k.ExternalNetworkID, Name: k.ExternalNetworkName, External: true}, nil
	}
	ref := Ref{Name: s.ExternalNetwork, Tags: s.ExternalNetworkTags}
	if uuidRE.MatchString(s.ExternalNetwork) {
		ref = Ref{ID: s.ExternalNetwork}
	}
	found, err := findRef(ctx, r, "external network", "ExternalNetwork", ref, r.listNetworks)
	if err != nil {
		return nil, err
	}
	n := found[0]
	if !n.External {
		return nil, r.fail("find", "external network", n.Name, n.ID, "Spec.ExternalNetwork must name a network with router:external=true",
			provider.ErrInvalidSpec)
	}
	return &n, nil
}

// findRef finds exactly one resource a Ref points at. It fails at once,
// naming the spec field, when there is none or more than one.
func findRef[T any](ctx context.Context, r *run, kind, field string, ref Ref, list func(context.Context, query) ([]T, error)) ([]T, error) {
	qq := query{}
	switch {
	case ref.ID != "":
		qq = q("id", ref.ID)
	case ref.Name != "":
		qq = q("name", ref.Name)
	default:
		qq = q("tags", strings.Join(ref.Tags, ","))
	}
	var out []T
	err := r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
		out, err = list(ctx, qq)
		return err
	})
	if err != nil {
		return nil, r.fail("find", kind, ref.Name, ref.ID, "", err)
	}
	switch len(out) {
	case 0:
		return nil, r.fail("find", kind, ref.Name, ref.ID, fmt.Sprintf("Spec.%s: no %s with %s; check the spec", field, kind, ref), provider.ErrNotFound)
	case 1:
		return out, nil
	}
	return nil, r.fail("find", kind, ref.Name, ref.ID, fmt.Sprintf("Spec.%s: %d %ss match %s; give an ID", field, len(out), kind, ref), provider.ErrAmbiguous)
}

// kindInfo describes one Neutron resource kind to the generic steps.
type kindInfo[T any] struct {
	kind       string // for messages: "network"
	collection string // for the tags API: "networks"
	id         func(T) string
	name       func(T) string
	tags       func(T) []string
}

var (
	networkKind = kindInfo[netRes]{"network", "networks", func(x netRes) string { return x.ID }, func(x netRes) string { return x.Name }, func(x netRes) []string { return x.Tags }}
	subnetKind  = kindInfo[subRes]{"subnet", "subnets", func(x subRes) string { return x.ID }, func(x subRes) string { return x.Name }, func(x subRes) []string { return x.Tags }}
	routerKind  = kindInfo[rtrRes]{"router", "routers", func(x rtrRes) string { return x.ID }, func(x rtrRes) string { return x.Name }, func(x rtrRes) []string { return x.Tags }}
	groupKind   = kindInfo[sgRes]{"security group", "security-groups", func(x sgRes) string { return x.ID }, func(x sgRes) string { return x.Name }, func(x sgRes) []string { return x.Tags }}
)

// pick chooses the resource named name among found: the one with the stored
// ID, else the one carrying the ownership tag, else a single untagged one
// (a leftover of a crash between create and tag). Resources tagged for
// another cluster are never picked.
func pick[T any](r *run, k kindInfo[T], found []T, name, knownID string) (res T, ok, tagged bool, err error) {
	var mine, untagged []T
	for _, x := range found {
		if k.name(x) != name || foreignOwner(k.tags(x), r.tag) {
			continue
		}
		if knownID != "" && k.id(x) == knownID {
			return x, true, hasTag(k.tags(x), r.tag), nil
		}
		if hasTag(k.tags(x), r.tag) {
			mine = append(mine, x)
		} else {
			untagged = append(untagged, x)
		}
	}
	switch {
	case len(mine) == 1:
		return mine[0], true, true, nil
	case len(mine) > 1:
		return res, false, false, r.fail("find", k.kind, name, "", fmt.Sprintf("%d resources carry the tag %s; delete the extra ones", len(mine), r.tag), provider.ErrAmbiguous)
	case len(untagged) == 1:
		return untagged[0], true, false, nil
	case len(untagged) > 1:
		return res, false, false, r.fail("find", k.kind, name, "", fmt.Sprintf("%d untagged resources have this name; delete the extra ones or tag the right one %s", len(untagged), r.tag), provider.ErrAmbiguous)
	}
	return res, false, false, nil
}

// ensureNamed finds the resource named name among found or creates it,
// tagging what it creates or adopts. lookup lists candidates by name; it is
// called before creating when lookupFirst is set (found came from a list by
// tag) and before every retry of a create whose answer may have been lost.
func ensureNamed[T any](ctx context.Context, r *run, k kindInfo[T], name, knownID string, found []T, lookupFirst bool,
	lookup func(context.Context) ([]T, error), create func(context.Context) (T, error)) (res T, created bool, err error) {
	res, ok, tagged, err := pick(r, k, found, name, knownID)
	if err != nil {
		return res, false, err
	}
	if !ok && lookupFirst {
		var more []T
		err = r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
			more, err = lookup(ctx)
			return err
		})
		if err != nil {
			return res, false, r.fail("find", k.kind, name, "", "", err)
		}
		if res, ok, tagged, err = pick(r, k, more, name, knownID); err != nil {
			return res, false, err
		}
	}
	if ok {
		if tagged {
			r.event(Event{Resource: k.kind, Name: name, ID: k.id(res), Action: ActionFound})
			return res, false, nil
		}
		if r.dry {
			r.planned(Change{Resource: k.kind, Name: name, ID: k.id(res), Action: ActionAdopt, Detail: "untagged; tag " + r.tag})
			return res, false, nil
		}
		start := now()
		err := r.tagNeutron(ctx, k.collection, k.id(res))
		r.event(Event{Resource: k.kind, Name: name, ID: k.id(res), Action: ActionAdopt, Duration: since(start), Err: err})
		return res, false, r.fail("tag", k.kind, name, k.id(res), "", err)
	}
	if r.dry {
		r.planned(Change{Resource: k.kind, Name: name, Action: ActionCreate})
		return res, true, nil
	}
	start := now()
	attempt := 0
	adopted := false
	err = r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		attempt++
		if attempt > 1 {
			more, err := lookup(ctx)
			if err != nil {
				return err
			}
			var found bool
			if res, found, _, err = pick(r, k, more, name, ""); err != nil || found {
				adopted = found
				return err
			}
		}
		var err error
		res, err = create(ctx)
		return err
	})
	if err != nil {
		err = r.fail("create", k.kind, name, "", hintFor(err), err)
		r.event(Event{Resource: k.kind, Name: name, Action: ActionCreate, Duration: since(start), Err: err})
		return res, false, err
	}
	id := k.id(res)
	r.event(Event{Resource: k.kind, Name: name, ID: id, Action: ActionCreate, Duration: since(start)})
	if adopted && hasTag(k.tags(res), r.tag) {
		return res, true, nil
	}
	// Neutron takes no tags in create bodies: tag right after, while the
	// dependent steps go on. A crash in between leaves an untagged resource
	// with our name, which the next Ensure adopts.
	r.background(ctx, func(ctx context.Context) error {
		return r.fail("tag", k.kind, name, id, "", r.tagNeutron(ctx, k.collection, id))
	})
	return res, true, nil
}

// hintFor says what to do about a permanent error from the cloud.
func hintFor(err error) string {
	switch {
	case provider.IsQuota(err):
		return "the project's quota is exhausted: free some resources or ask for a higher quota"
	case errors.Is(err, provider.ErrInvalidSpec):
		return "the cloud rejected the request; check the spec"
	}
	return ""
}

// background runs fn alongside the remaining steps; ensure waits for it
// before returning.
func (r *run) background(ctx context.Context, fn func(context.Context) error) {
	f := spawn(ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	r.mu.Lock()
	r.bg = append(r.bg, f)
	r.mu.Unlock()
}

func (r *run) waitBackground() error {
	var errs []error
	for {
		r.mu.Lock()
		bg := r.bg
		r.bg = nil
		r.mu.Unlock()
		if len(bg) == 0 {
			return joinErrs(errs...)
		}
		for _, f := range bg {
			_, err := f.wait()
			errs = append(errs, err)
		}
	}
}

func (r *run) ensureNetwork(ctx context.Context, d *discovered) (netRes, bool, error) {
	if !r.spec.Network.IsZero() {
		n := d.networks[0]
		r.event(Event{Resource: "network", Name: n.Name, ID: n.ID, Action: ActionFound})
		return n, false, nil
	}
	name := r.names.network()
	return ensureNamed(ctx, r, networkKind, name, r.known.NetworkID, d.networks, false,
		func(ctx context.Context) ([]netRes, error) { return r.listNetworks(ctx, q("name", name)) },
		func(ctx context.Context) (netRes, error) { return r.createNetwork(ctx, name, r.spec.MTU) })
}

func (r *run) ensureSubnet(ctx context.Context, d *discovered, n netRes, netCreated bool) (subRes, bool, error) {
	s := r.spec
	if !s.Network.IsZero() {
		cands := d.subnets
		if s.Subnet.IsZero() {
			err := r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
				cands, err = r.listSubnets(ctx, q("network_id", n.ID))
				return err
			})
			if err != nil {
				return subRes{}, false, r.fail("list", "subnet", "", "", "", err)
			}
			if s.NodeCIDR != "" {
				cands = slices.DeleteFunc(cands, func(x subRes) bool { return x.CIDR != s.NodeCIDR })
			}
		}
		if len(cands) != 1 || cands[0].NetworkID != n.ID {
			return subRes{}, false, r.fail("find", "subnet", "", "", fmt.Sprintf("Spec.Subnet: give the subnet of network %s to use (%d candidates)", n.ID, len(cands)), provider.ErrNotFound)
		}
		r.event(Event{Resource: "subnet", Name: cands[0].Name, ID: cands[0].ID, Action: ActionFound})
		return cands[0], false, nil
	}
	name := r.names.subnet()
	found := d.subnets
	if netCreated {
		found = nil
	} else {
		found = slices.DeleteFunc(slices.Clone(found), func(x subRes) bool { return x.NetworkID != n.ID })
	}
	sub, created, err := ensureNamed(ctx, r, subnetKind, name, r.known.SubnetID, found, false,
		func(ctx context.Context) ([]subRes, error) {
			return r.listSubnets(ctx, q("name", name, "network_id", n.ID))
		},
		func(ctx context.Context) (out subRes, err error) {
			err = r.call(ctx, func(ctx context.Context) error {
				x, err := subnets.Create(ctx, r.inf.cloud.Network, subnets.CreateOpts{
					NetworkID: n.ID, Name: name, CIDR: s.NodeCIDR, IPVersion: 4,
					DNSNameservers: s.DNSNameservers, Description: "openstrap cluster " + s.Cluster,
				}).Extract()
				if err == nil {
					out = toSub(*x)
				}
				return err
			})
			return out, err
		})
	if err != nil || created || sub.ID == "" {
		return sub, created, err
	}
	if sub.CIDR != s.NodeCIDR {
		return sub, false, r.fail("check", "subnet", name, sub.ID,
			fmt.Sprintf("it has CIDR %s but Spec.NodeCIDR is %s; a subnet's CIDR cannot change", sub.CIDR, s.NodeCIDR), provider.ErrConflict)
	}
	if !slices.Equal(sub.DNS, s.DNSNameservers) && (len(sub.DNS) > 0 || len(s.DNSNameservers) > 0) {
		detail := fmt.Sprintf("DNS nameservers %v -> %v", sub.DNS, s.DNSNameservers)
		if r.dry {
			r.planned(Change{Resource: "subnet", Name: name, ID: sub.ID, Action: ActionUpdate, Detail: detail})
			return sub, false, nil
		}
		dns := slices.Clone(s.DNSNameservers)
		if dns == nil {
			dns = []string{}
		}
		start := now()
		err := r.do(ctx, neutronPolicy, func(ctx context.Context) error {
			return r.call(ctx, func(ctx context.Context) error {
				_, err := subnets.Update(ctx, r.inf.cloud.Network, sub.ID, subnets.UpdateOpts{DNSNameservers: &dns}).Extract()
				return err
			})
		})
		err = r.fail("update", "subnet", name, sub.ID, hintFor(err), err)
		r.event(Event{Resource: "subnet", Name: name, ID: sub.ID, Action: ActionUpdate, Duration: since(start), Err: err})
		sub.DNS = dns
		return sub, false, err
	}
	return sub, false, nil
}

// ensureRouter returns the cluster's router, nil when it has none.
func (r *run) ensureRouter(ctx context.Context, d *discovered) (*rtrRes, bool, error) {
	if !r.wantRouter() {
		if !r.spec.Router.IsZero() && len(d.routers) == 1 {
			x := d.routers[0]
			return &x, false, nil
		}
		return nil, false, nil
	}
	if !r.spec.Router.IsZero() {
		x := d.routers[0]
		r.event(Event{Resource: "router", Name: x.Name, ID: x.ID, Action: ActionFound})
		return &x, false, nil
	}
	name := r.names.router()
	var gw *routers.GatewayInfo
	if d.ext != nil {
		gw = &routers.GatewayInfo{NetworkID: d.ext.ID}
	}
	x, created, err := ensureNamed(ctx, r, routerKind, name, r.known.RouterID, d.routers, false,
		func(ctx context.Context) ([]rtrRes, error) { return r.listRouters(ctx, q("name", name)) },
		func(ctx context.Context) (out rtrRes, err error) {
			err = r.call(ctx, func(ctx context.Context) error {
				x, err := routers.Create(ctx, r.inf.cloud.Network, routers.CreateOpts{
					Name: name, GatewayInfo: gw, Description: "openstrap cluster " + r.spec.Cluster,
				}).Extract()
				if err == nil {
					out = toRtr(*x)
				}
				return err
			})
			return out, err
		})
	if err != nil {
		return nil, false, err
	}
	if !created && gw != nil && x.GatewayNetworkID != gw.NetworkID {
		// Our router lost its gateway or points elsewhere: correct it.
		detail := fmt.Sprintf("gateway %q -> %q", x.GatewayNetworkID, gw.NetworkID)
		if r.dry {
			r.planned(Change{Resource: "router", Name: name, ID: x.ID, Action: ActionUpdate, Detail: detail})
		} else {
			start := now()
			err = r.do(ctx, neutronPolicy, func(ctx context.Context) error {
				return r.call(ctx, func(ctx context.Context) error {
					_, err := routers.Update(ctx, r.inf.cloud.Network, x.ID, routers.UpdateOpts{GatewayInfo: gw}).Extract()
					return err
				})
			})
			err = r.fail("update", "router", name, x.ID, hintFor(err), err)
			r.event(Event{Resource: "router", Name: name, ID: x.ID, Action: ActionUpdate, Duration: since(start), Err: err})
			if err != nil {
				return nil, false, err
			}
			x.GatewayNetworkID = gw.NetworkID
		}
	}
	return &x, created, nil
}

// ensureInterface attaches the subnet to the router unless it already is.
func (r *run) ensureInterface(ctx context.Context, rtr *rtrRes, rtrCreated bool, sub subRes, subCreated bool) error {
	if rtr == nil || !r.wantRouter() {
		return nil
	}
	name := cmp.Or(rtr.Name, r.names.router()) + " -> " + cmp.Or(sub.Name, r.names.subnet())
	attached := func(ctx context.Context) (bool, error) {
		ps, err := r.listPorts(ctx, q("device_id", rtr.ID, "network_id", sub.NetworkID))
		if err != nil {
			return false, err
		}
		for _, p := range ps {
			if slices.Contains(p.SubnetIDs, sub.ID) {
				return true, nil
			}
		}
		return false, nil
	}
	if !rtrCreated && !subCreated && rtr.ID != "" && sub.ID != "" {
		var ok bool
		err := r.do(ctx, neutronPolicy, func(ctx context.Context) (err error) {
			ok, err = attached(ctx)
			return err
		})
		if err != nil {
			return r.fail("list", "router interface", name, "", "", err)
		}
		if ok {
			r.event(Event{Resource: "router interface", Name: name, Action: ActionFound})
			return nil
		}
	}
	if r.dry {
		r.planned(Change{Resource: "router interface", Name: name, Action: ActionCreate})
		return nil
	}
	start := now()
	attempt := 0
	err := r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		attempt++
		if attempt > 1 {
			if ok, err := attached(ctx); err != nil || ok {
				return err
			}
		}
		return r.call(ctx, func(ctx context.Context) error {
			_, err := routers.AddInterface(ctx, r.inf.cloud.Network, rtr.ID, routers.AddInterfaceOpts{SubnetID: sub.ID}).Extract()
			return err
		})
	})
	err = r.fail("create", "router interface", name, "", hintFor(err), err)
	r.event(Event{Resource: "router interface", Name: name, Action: ActionCreate, Duration: since(start), Err: err})
	return err
}

// ensure runs the steps, each as soon as what it needs exists: network then
// subnet; router alongside; the router interface once both exist; security
// groups from the start; the load balancer once the subnet exists; the
// floating IP once the load balancer and the router interface exist.
func (r *run) ensure(ctx context.Context) (Status, error) {
	ctx, _ = withChain(ctx, 0)
	d, err := r.discover(ctx)
	if err != nil {
		return Status{}, err
	}
	type netOut struct {
		n       netRes
		created bool
	}
	type subOut struct {
		s       subRes
		created bool
	}
	type rtrOut struct {
		r       *rtrRes
		created bool
	}
	type lbOut struct {
		st      LoadBalancerStatus
		created bool
	}
	netF := spawn(ctx, func(ctx context.Context) (netOut, error) {
		n, c, err := r.ensureNetwork(ctx, d)
		return netOut{n, c}, err
	})
	subF := spawn(ctx, func(ctx context.Context) (subOut, error) {
		n, _ := netF.get()
		s, c, err := r.ensureSubnet(ctx, d, n.n, n.created)
		return subOut{s, c}, err
	}, netF)
	rtrF := spawn(ctx, func(ctx context.Context) (rtrOut, error) {
		x, c, err := r.ensureRouter(ctx, d)
		return rtrOut{x, c}, err
	})
	ifF := spawn(ctx, func(ctx context.Context) (struct{}, error) {
		x, _ := rtrF.get()
		s, _ := subF.get()
		return struct{}{}, r.ensureInterface(ctx, x.r, x.created, s.s, s.created)
	}, rtrF, subF)
	sgF := spawn(ctx, func(ctx context.Context) (map[Role]string, error) { return r.ensureGroups(ctx, d) })
	lbF := spawn(ctx, func(ctx context.Context) (lbOut, error) {
		s, _ := subF.get()
		st, c, err := r.ensureLB(ctx, d, s.s, s.created)
		return lbOut{st, c}, err
	}, subF)
	fipF := spawn(ctx, func(ctx context.Context) (FloatingIPStatus, error) {
		lb, _ := lbF.get()
		return r.ensureFIP(ctx, d, lb.st, lb.created)
	}, lbF, ifF)

	n, errNet := netF.get()
	s, errSub := subF.get()
	x, errRtr := rtrF.get()
	_, errIf := ifF.get()
	groups, errSG := sgF.get()
	lb, errLB := lbF.get()
	fip, errFIP := fipF.get()
	errBG := r.waitBackground()

	st := Status{
		Cluster:       r.spec.Cluster,
		NetworkID:     n.n.ID,
		SubnetID:      s.s.ID,
		NodeCIDR:      s.s.CIDR,
		APIServerPort: r.spec.APIServer.Port,
		LoadBalancer:  lb.st,
		FloatingIP:    fip,
	}
	if d.ext != nil {
		st.ExternalNetworkID, st.ExternalNetworkName = d.ext.ID, d.ext.Name
	}
	if x.r != nil {
		st.RouterID = x.r.ID
	}
	if len(groups) > 0 {
		st.SecurityGroups = groups
	}
	switch {
	case fip.Address != "":
		st.APIEndpoint = APIEndpoint{Host: fip.Address, Port: r.spec.APIServer.Port}
	case lb.st.VIPAddress != "":
		st.APIEndpoint = APIEndpoint{Host: lb.st.VIPAddress, Port: r.spec.APIServer.Port}
	}
	return st, joinErrs(errNet, errSub, errRtr, errIf, errSG, errLB, errFIP, errBG)
}
