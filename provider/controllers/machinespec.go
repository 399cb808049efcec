package controllers

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/openstrap/openstrap/provider"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/userdata"
)

// Bootstrap data formats of Cluster API's bootstrap Secrets.
const (
	formatCloudConfig = "cloud-config"
	formatIgnition    = "ignition"
)

// bootstrapUserData returns the user data of a bootstrap data Secret
// (keys "value" and "format"), gzip-compressed when cloud-init data would
// not fit Nova's limit otherwise. Ignition cannot be compressed.
func bootstrapUserData(s *corev1.Secret) ([]byte, error) {
	value, ok := s.Data["value"]
	if !ok || len(value) == 0 {
		return nil, invalidf("bootstrap data Secret %s/%s has no \"value\" key", s.Namespace, s.Name)
	}
	format := string(s.Data["format"])
	if format == "" {
		format = formatCloudConfig
	}
	if userdata.CheckSize(value) == nil {
		return value, nil
	}
	if format != formatCloudConfig {
		return nil, invalidf("bootstrap data Secret %s/%s: %v (format %s cannot be gzip-compressed)", s.Namespace, s.Name, userdata.CheckSize(value), format)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(value); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := userdata.CheckSize(buf.Bytes()); err != nil {
		return nil, invalidf("bootstrap data Secret %s/%s: %v", s.Namespace, s.Name, err)
	}
	return buf.Bytes(), nil
}

func securityGroupRef(field string, p infrav1.SecurityGroupParam) (string, error) {
	switch {
	case p.ID != nil:
		return *p.ID, nil
	case p.Filter != nil && p.Filter.Name != "":
		return p.Filter.Name, nil
	}
	return "", invalidf("%s: give an id or filter.name", field)
}

// volumeAZ resolves a volume's availability zone.
func volumeAZ(az *infrav1.VolumeAvailabilityZone, machineFD string) string {
	if az == nil {
		return ""
	}
	if az.From == infrav1.VolumeAZFromMachine {
		return machineFD
	}
	return string(ptr.Deref(az.Name, ""))
}

// machineSpec maps an OpenStackMachine, its Machine and its cluster's
// infrastructure to provider's MachineSpec.
func machineSpec(cluster string, osm *infrav1.OpenStackMachine, machine *clusterv1.Machine, osc *infrav1.OpenStackCluster, controlPlane bool, userData []byte) (provider.MachineSpec, error) {
	s := osm.Spec
	spec := provider.MachineSpec{
		Cluster:     cluster,
		Name:        osm.Name,
		Role:        provider.Worker,
		KeyName:     s.SSHKeyName,
		UserData:    userData,
		ConfigDrive: ptr.Deref(s.ConfigDrive, false),
		Tags:        s.Tags,
	}
	if controlPlane {
		spec.Role = provider.ControlPlane
	}
	switch {
	case s.Flavor.ID != nil:
		spec.Flavor = *s.Flavor.ID
	case s.Flavor.Filter != nil && s.Flavor.Filter.Name != nil:
		spec.Flavor = *s.Flavor.Filter.Name
	default:
		return spec, invalidf("spec.flavor: give an id or filter.name")
	}
	switch {
	case s.Image.ID != nil:
		spec.Image = *s.Image.ID
	case s.Image.Filter != nil:
		spec.Image = ptr.Deref(s.Image.Filter.Name, "")
		spec.ImageTags = s.Image.Filter.Tags
	}
	fd := machine.Spec.FailureDomain
	if !(controlPlane && ptr.Deref(osc.Spec.ControlPlaneOmitAvailabilityZone, false)) {
		spec.AvailabilityZone = fd
	}

	// Security groups: the managed ones of the machine's role, then the
	// spec's, then each port's.
	var groups []string
	managed := []*infrav1.SecurityGroupStatus{osc.Status.WorkerSecurityGroup, osc.Status.NodeSecurityGroup}
	if controlPlane {
		managed[0] = osc.Status.ControlPlaneSecurityGroup
	}
	for _, g := range managed {
		if g != nil && g.ID != "" {
			groups = append(groups, g.ID)
		}
	}
	for i, p := range s.SecurityGroups {
		g, err := securityGroupRef(fmt.Sprintf("spec.securityGroups[%d]", i), p)
		if err != nil {
			return spec, err
		}
		groups = append(groups, g)
	}
	clusterNet, clusterSubnet := "", ""
	if n := osc.Status.Network; n != nil {
		clusterNet = n.ID
		if len(n.Subnets) > 0 {
			clusterSubnet = n.Subnets[0].ID
		}
	}
	if clusterNet == "" {
		return spec, fmt.Errorf("OpenStackCluster %s/%s has no network in its status yet", osc.Namespace, osc.Name)
	}
	withGroups := func(extra []string) []string {
		all := append(append([]string(nil), groups...), extra...)
		if len(all) == 0 {
			return nil // the project's default group
		}
		return all
	}
	if len(s.Ports) == 0 {
		spec.Ports = []provider.PortSpec{{Network: clusterNet, Subnet: clusterSubnet, SecurityGroups: withGroups(nil)}}
	}
	for i, p := range s.Ports {
		field := fmt.Sprintf("spec.ports[%d]", i)
		ps := provider.PortSpec{Network: clusterNet}
		if p.Network != nil {
			switch {
			case p.Network.ID != nil:
				ps.Network = *p.Network.ID
			case p.Network.Filter != nil && p.Network.Filter.Name != "":
				ps.Network = p.Network.Filter.Name
			default:
				return spec, invalidf("%s.network: give an id or filter.name", field)
			}
		} else {
			ps.Subnet = clusterSubnet
		}
		if len(p.FixedIPs) > 0 {
			f := p.FixedIPs[0]
			if f.Subnet != nil {
				switch {
				case f.Subnet.ID != nil:
					ps.Subnet = *f.Subnet.ID
				case f.Subnet.Filter != nil && f.Subnet.Filter.Name != "":
					ps.Subnet = f.Subnet.Filter.Name
				default:
					return spec, invalidf("%s.fixedIPs[0].subnet: give an id or filter.name", field)
				}
			}
			ps.FixedIP = ptr.Deref(f.IPAddress, "")
		}
		var extra []string
		for j, g := range p.SecurityGroups {
			x, err := securityGroupRef(fmt.Sprintf("%s.securityGroups[%d]", field, j), g)
			if err != nil {
				return spec, err
			}
			extra = append(extra, x)
		}
		ps.SecurityGroups = withGroups(extra)
		for _, ap := range p.AllowedAddressPairs {
			ps.AllowedAddressPairs = append(ps.AllowedAddressPairs, provider.AddressPair{IPAddress: ap.IPAddress, MACAddress: ptr.Deref(ap.MACAddress, "")})
		}
		spec.Ports = append(spec.Ports, ps)
	}

	if g := s.ServerGroup; g != nil {
		switch {
		case g.ID != nil:
			spec.ServerGroup = &provider.ServerGroupSpec{ID: *g.ID}
		case g.Filter != nil && g.Filter.Name != nil:
			spec.ServerGroup = &provider.ServerGroupSpec{Name: *g.Filter.Name}
		}
	}
	if rv := s.RootVolume; rv != nil {
		spec.RootVolume = &provider.RootVolumeSpec{SizeGiB: int(rv.SizeGiB), Type: rv.Type, AvailabilityZone: volumeAZ(rv.AvailabilityZone, fd)}
	}
	for _, d := range s.AdditionalBlockDevices {
		v := provider.VolumeSpec{Name: d.Name, SizeGiB: int(d.SizeGiB)}
		if d.Storage.Volume != nil {
			v.Type = d.Storage.Volume.Type
			v.AvailabilityZone = volumeAZ(d.Storage.Volume.AvailabilityZone, fd)
		}
		spec.Volumes = append(spec.Volumes, v)
	}
	if len(s.ServerMetadata) > 0 {
		spec.Metadata = map[string]string{}
		for _, m := range s.ServerMetadata {
			spec.Metadata[m.Key] = m.Value
		}
	}
	return spec, nil
}

// machineAddresses are the Machine's addresses: the fixed IPs (sorted by
// network name), then the floating IP.
func machineAddresses(m *provider.Machine) []clusterv1.MachineAddress {
	var out []clusterv1.MachineAddress
	nets := make([]string, 0, len(m.Addresses))
	for n := range m.Addresses {
		nets = append(nets, n)
	}
	sort.Strings(nets)
	seen := map[string]bool{}
	add := func(typ clusterv1.MachineAddressType, a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, clusterv1.MachineAddress{Type: typ, Address: a})
		}
	}
	add(clusterv1.MachineInternalIP, m.InternalAddress)
	for _, n := range nets {
		for _, a := range m.Addresses[n] {
			add(clusterv1.MachineInternalIP, a)
		}
	}
	add(clusterv1.MachineExternalIP, m.FloatingIP)
	out = append(out, clusterv1.MachineAddress{Type: clusterv1.MachineHostName, Address: m.Name})
	return out
}
