package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/provider"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// ref maps a network, subnet or router parameter to infra's Ref; field
// names the spec field for messages. infra matches by one of ID, name or
// tags: a filter with both a name and tags is refused.
func ref(field string, id *string, name string, tags []infrav1.NeutronTag) (infra.Ref, error) {
	if id != nil {
		return infra.Ref{ID: *id}, nil
	}
	if name != "" && len(tags) > 0 {
		return infra.Ref{}, invalidf("%s.filter: openstrap selects by name or by tags, not both; keep one", field)
	}
	r := infra.Ref{Name: name}
	for _, t := range tags {
		r.Tags = append(r.Tags, string(t))
	}
	return r, nil
}

func networkRef(field string, p *infrav1.NetworkParam) (infra.Ref, error) {
	if p == nil {
		return infra.Ref{}, nil
	}
	if p.Filter == nil {
		return ref(field, p.ID, "", nil)
	}
	return ref(field, p.ID, p.Filter.Name, p.Filter.Tags)
}

// infraRule maps an extra security group rule; a rule with remote managed
// groups becomes one rule per group.
func infraRules(field string, in []infrav1.SecurityGroupRuleSpec) ([]infra.Rule, error) {
	var out []infra.Rule
	for i, r := range in {
		base := infra.Rule{
			Description: ptr.Deref(r.Description, r.Name),
			Direction:   r.Direction,
			EtherType:   ptr.Deref(r.EtherType, ""),
			Protocol:    ptr.Deref(r.Protocol, ""),
			PortMin:     int(ptr.Deref(r.PortRangeMin, 0)),
			PortMax:     int(ptr.Deref(r.PortRangeMax, 0)),
			RemoteCIDR:  ptr.Deref(r.RemoteIPPrefix, ""),
		}
		if base.PortMin == 0 && base.PortMax != 0 {
			return nil, invalidf("%s[%d] (%s): portRangeMax without portRangeMin", field, i, r.Name)
		}
		if len(r.RemoteManagedGroups) == 0 {
			out = append(out, base)
			continue
		}
		for _, g := range r.RemoteManagedGroups {
			x := base
			switch g {
			case infrav1.ControlPlaneSecurityGroupName:
				x.RemoteRole = infra.RoleControlPlane
			case infrav1.WorkerSecurityGroupName:
				x.RemoteRole = infra.RoleWorker
			default:
				return nil, invalidf("%s[%d] (%s): remoteManagedGroups %q is not controlplane or worker", field, i, r.Name, g)
			}
			out = append(out, x)
		}
	}
	return out, nil
}

// clusterName is the name openstrap's cloud layer knows the cluster by
// (see the package documentation).
func clusterName(cluster *clusterv1.Cluster) string { return cluster.Name }

// infraSpec maps an OpenStackCluster to infra's Spec. externalNetwork is
// the external network to use when the spec names none ("" for an internal
// cluster); the caller finds it (findExternalNetwork).
func infraSpec(name string, osc *infrav1.OpenStackCluster, externalNetwork string) (infra.Spec, error) {
	s := osc.Spec
	spec := infra.Spec{Cluster: name}
	if len(name) > 40 {
		return spec, invalidf("Cluster name %q has %d characters; openstrap names cloud resources after it and allows at most 40", name, len(name))
	}
	if len(s.Tags) > 0 {
		return spec, invalidf("spec.tags: extra tags on the cluster's resources are not implemented by openstrap; remove them")
	}
	if len(s.ManagedSubnets) > 0 {
		spec.NodeCIDR = s.ManagedSubnets[0].CIDR
		spec.DNSNameservers = s.ManagedSubnets[0].DNSNameservers
	}
	if s.ManagedNetwork != nil && s.ManagedNetwork.MTU != nil {
		spec.MTU = int(*s.ManagedNetwork.MTU)
	}
	var err error
	if spec.Network, err = networkRef("spec.network", s.Network); err != nil {
		return spec, err
	}
	if len(s.Subnets) > 0 {
		p := s.Subnets[0]
		if p.Filter == nil {
			spec.Subnet, err = ref("spec.subnets[0]", p.ID, "", nil)
		} else {
			spec.Subnet, err = ref("spec.subnets[0]", p.ID, p.Filter.Name, p.Filter.Tags)
		}
		if err != nil {
			return spec, err
		}
	}
	if p := s.Router; p != nil {
		if p.Filter == nil {
			spec.Router, err = ref("spec.router", p.ID, "", nil)
		} else {
			spec.Router, err = ref("spec.router", p.ID, p.Filter.Name, p.Filter.Tags)
		}
		if err != nil {
			return spec, err
		}
	}
	external := ptr.Deref(s.EnableExternalNetwork, true)
	if external {
		switch {
		case s.ExternalNetwork != nil:
			r, err := networkRef("spec.externalNetwork", s.ExternalNetwork)
			if err != nil {
				return spec, err
			}
			switch {
			case r.ID != "":
				spec.ExternalNetwork = r.ID
			case r.Name != "":
				spec.ExternalNetwork = r.Name
			default:
				spec.ExternalNetworkTags = r.Tags
			}
		default:
			spec.ExternalNetwork = externalNetwork
		}
	}
	hasExternal := spec.ExternalNetwork != "" || len(spec.ExternalNetworkTags) > 0

	api := ptr.Deref(s.APIServer, infrav1.APIServer{})
	lb := api.ManagedLoadBalancer
	spec.APIServer.DisableLoadBalancer = !lb.IsEnabled()
	spec.APIServer.Port = int(ptr.Deref(api.Port, 0))
	if lb.IsEnabled() {
		spec.APIServer.AllowedCIDRs = lb.AllowedCIDRs
		spec.APIServer.LoadBalancerProvider = ptr.Deref(lb.Provider, "")
		if len(lb.AdditionalPorts) > 0 {
			return spec, invalidf("spec.apiServer.managedLoadBalancer.additionalPorts: not implemented by openstrap; remove them")
		}
		if api.FixedIP != nil {
			return spec, invalidf("spec.apiServer.fixedIP with a load balancer: openstrap cannot choose the VIP address; remove fixedIP")
		}
	}
	spec.APIServer.FloatingIP = ptr.Deref(api.FloatingIP, "")
	spec.APIServer.DisableFloatingIP = !ptr.Deref(api.EnableFloatingIP, true) || !hasExternal
	if spec.APIServer.FloatingIP != "" && !hasExternal {
		return spec, invalidf("spec.apiServer.floatingIP %q needs an external network, and the cluster has none", spec.APIServer.FloatingIP)
	}
	if api.FixedIP != nil && !spec.APIServer.DisableFloatingIP {
		return spec, invalidf("spec.apiServer.fixedIP without a load balancer is the endpoint of an internal cluster; set apiServer.enableFloatingIP to false")
	}
	if spec.APIServer.DisableLoadBalancer && spec.APIServer.DisableFloatingIP && api.FixedIP == nil {
		return spec, invalidf("spec.apiServer: no load balancer, no floating IP and no fixedIP leave the cluster without an API endpoint; enable one of them")
	}

	if g := s.ManagedSecurityGroups; g == nil {
		spec.SecurityGroups.Unmanaged = true
	} else {
		extra := map[infra.Role][]infra.Rule{}
		for _, x := range []struct {
			field string
			role  infra.Role
			rules []infrav1.SecurityGroupRuleSpec
		}{
			{"spec.managedSecurityGroups.clusterNodesSecurityGroupRules", infra.RoleNode, g.ClusterNodesSecurityGroupRules},
			{"spec.managedSecurityGroups.controlPlaneNodesSecurityGroupRules", infra.RoleControlPlane, g.ControlPlaneNodesSecurityGroupRules},
			{"spec.managedSecurityGroups.workerNodesSecurityGroupRules", infra.RoleWorker, g.WorkerNodesSecurityGroupRules},
		} {
			rules, err := infraRules(x.field, x.rules)
			if err != nil {
				return spec, err
			}
			if len(rules) > 0 {
				extra[x.role] = rules
			}
		}
		if g.AllowAllInClusterTraffic {
			for _, et := range []string{"IPv4", "IPv6"} {
				extra[infra.RoleNode] = append(extra[infra.RoleNode], infra.Rule{
					Description: "allow all in-cluster traffic (" + et + ")", EtherType: et, RemoteRole: infra.RoleNode})
			}
		}
		if len(extra) > 0 {
			spec.SecurityGroups.Extra = extra
		}
	}
	return spec, nil
}

// knownStatus rebuilds, from the OpenStackCluster's status, the infra
// Status that Ensure takes as a hint and that the member calls need.
func knownStatus(name string, osc *infrav1.OpenStackCluster) infra.Status {
	st := infra.Status{Cluster: name}
	s := osc.Status
	if s.ExternalNetwork != nil {
		st.ExternalNetworkID, st.ExternalNetworkName = s.ExternalNetwork.ID, s.ExternalNetwork.Name
	}
	if s.Network != nil {
		st.NetworkID = s.Network.ID
		if len(s.Network.Subnets) > 0 {
			st.SubnetID, st.NodeCIDR = s.Network.Subnets[0].ID, s.Network.Subnets[0].CIDR
		}
	}
	if s.Router != nil {
		st.RouterID = s.Router.ID
	}
	if lb := s.APIServerManagedLoadBalancer; lb != nil {
		st.LoadBalancer = infra.LoadBalancerStatus{ID: lb.ID, ListenerID: lb.ListenerID, PoolID: lb.PoolID,
			MonitorID: lb.MonitorID, VIPAddress: lb.InternalIP, VIPPortID: lb.VIPPortID}
	}
	if f := s.APIServerFloatingIP; f != nil {
		st.FloatingIP = infra.FloatingIPStatus{ID: f.ID, Address: f.IP, Owned: f.Owned}
	}
	if osc.Spec.APIServer != nil && osc.Spec.APIServer.Port != nil {
		st.APIServerPort = int(*osc.Spec.APIServer.Port)
	}
	if ep := osc.Spec.ControlPlaneEndpoint; ep != nil {
		st.APIEndpoint = infra.APIEndpoint{Host: ep.Host, Port: int(ep.Port)}
	}
	groups := map[infra.Role]*infrav1.SecurityGroupStatus{
		infra.RoleControlPlane: s.ControlPlaneSecurityGroup, infra.RoleWorker: s.WorkerSecurityGroup, infra.RoleNode: s.NodeSecurityGroup}
	for role, g := range groups {
		if g != nil {
			if st.SecurityGroups == nil {
				st.SecurityGroups = map[infra.Role]string{}
			}
			st.SecurityGroups[role] = g.ID
		}
	}
	return st
}

// setClusterStatus writes what exists (st) into the OpenStackCluster's
// status. Parts st does not have yet are left as they are.
func setClusterStatus(osc *infrav1.OpenStackCluster, spec infra.Spec, st infra.Status) {
	s := &osc.Status
	name := st.Cluster
	if st.ExternalNetworkID != "" {
		s.ExternalNetwork = &infrav1.NetworkStatus{ID: st.ExternalNetworkID, Name: st.ExternalNetworkName}
	}
	if st.NetworkID != "" {
		n := &infrav1.NetworkStatusWithSubnets{NetworkStatus: infrav1.NetworkStatus{ID: st.NetworkID, Name: name + "-network"}}
		if spec.Network.Name != "" {
			n.Name = spec.Network.Name
		} else if !spec.Network.IsZero() {
			n.Name = ""
		}
		if st.SubnetID != "" {
			sub := infrav1.Subnet{ID: st.SubnetID, CIDR: st.NodeCIDR, Name: name + "-subnet"}
			if !spec.Network.IsZero() {
				sub.Name = spec.Subnet.Name
			}
			n.Subnets = []infrav1.Subnet{sub}
		}
		if spec.Network.IsZero() {
			n.Tags = []string{infra.OwnerTag(name)}
		}
		s.Network = n
	}
	if st.RouterID != "" {
		r := &infrav1.Router{ID: st.RouterID, Name: name + "-router"}
		if !spec.Router.IsZero() {
			r.Name = spec.Router.Name
		}
		s.Router = r
	}
	if lb := st.LoadBalancer; lb.ID != "" {
		x := &infrav1.LoadBalancer{ID: lb.ID, Name: name + "-kubeapi", InternalIP: lb.VIPAddress, IP: lb.VIPAddress,
			AllowedCIDRs: spec.APIServer.AllowedCIDRs, Tags: []string{infra.OwnerTag(name)},
			ListenerID: lb.ListenerID, PoolID: lb.PoolID, MonitorID: lb.MonitorID, VIPPortID: lb.VIPPortID}
		if st.FloatingIP.Address != "" {
			x.IP = st.FloatingIP.Address
		}
		s.APIServerManagedLoadBalancer = x
	}
	if f := st.FloatingIP; f.ID != "" {
		s.APIServerFloatingIP = &infrav1.FloatingIPStatus{ID: f.ID, IP: f.Address, Owned: f.Owned}
	}
	for role, id := range st.SecurityGroups {
		g := &infrav1.SecurityGroupStatus{ID: id, Name: name + "-" + string(role)}
		switch role {
		case infra.RoleControlPlane:
			s.ControlPlaneSecurityGroup = g
		case infra.RoleWorker:
			s.WorkerSecurityGroup = g
		case infra.RoleNode:
			s.NodeSecurityGroup = g
		}
	}
}

// findExternalNetwork returns the ID of the cloud's only external network,
// "" when it has none, and an error naming them when it has several.
func findExternalNetwork(ctx context.Context, cloud *provider.Cloud) (string, error) {
	yes := true
	pages, err := networks.List(cloud.Network, external.ListOptsExt{ListOptsBuilder: networks.ListOpts{}, External: &yes}).AllPages(ctx)
	if err != nil {
		return "", &provider.Error{Op: "list", Kind: "external networks", Cloud: cloud.Name, Err: err}
	}
	nets, err := networks.ExtractNetworks(pages)
	if err != nil {
		return "", err
	}
	switch len(nets) {
	case 0:
		return "", nil
	case 1:
		return nets[0].ID, nil
	}
	names := make([]string, len(nets))
	for i, n := range nets {
		names[i] = fmt.Sprintf("%s (%s)", n.Name, n.ID)
	}
	sort.Strings(names)
	return "", invalidf("spec.externalNetwork is not set and the cloud has %d external networks (%s); name one", len(nets), strings.Join(names, ", "))
}

// failureDomains returns the cluster's failure domains: the spec's control
// plane availability zones, or else the cloud's available compute zones.
func failureDomains(ctx context.Context, cloud *provider.Cloud, osc *infrav1.OpenStackCluster) ([]clusterv1.FailureDomain, error) {
	cp := !ptr.Deref(osc.Spec.ControlPlaneOmitAvailabilityZone, false)
	var zones []string
	if len(osc.Spec.ControlPlaneAvailabilityZones) > 0 {
		zones = osc.Spec.ControlPlaneAvailabilityZones
	} else {
		pages, err := availabilityzones.List(cloud.Compute).AllPages(ctx)
		if err != nil {
			return nil, &provider.Error{Op: "list", Kind: "availability zones", Cloud: cloud.Name, Err: err}
		}
		all, err := availabilityzones.ExtractAvailabilityZones(pages)
		if err != nil {
			return nil, err
		}
		for _, z := range all {
			if z.ZoneState.Available {
				zones = append(zones, z.ZoneName)
			}
		}
	}
	sort.Strings(zones)
	out := make([]clusterv1.FailureDomain, 0, len(zones))
	for _, z := range zones {
		out = append(out, clusterv1.FailureDomain{Name: z, ControlPlane: ptr.To(cp)})
	}
	return out, nil
}
