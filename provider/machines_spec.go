package provider

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Role is what a machine does in its cluster.
type Role string

const (
	// ControlPlane machines run the Kubernetes control plane; they get an
	// anti-affinity server group by default and join the API server pool.
	ControlPlane Role = "control-plane"
	// Worker machines run workloads.
	Worker Role = "worker"
)

// OwnershipTagKey prefixes the tag, metadata key and description marker that
// mark a resource as created by openstrap for a cluster:
// "openstrap-cluster=<cluster>".
const OwnershipTagKey = "openstrap-cluster"

// OwnershipTag is the tag every resource created for cluster carries.
func OwnershipTag(cluster string) string { return OwnershipTagKey + "=" + cluster }

// Metadata keys openstrap sets on servers and volumes it creates.
const (
	// MetadataRole holds the machine's Role on its server.
	MetadataRole = "openstrap-role"
	// MetadataMachine holds the machine's name on its volumes.
	MetadataMachine = "openstrap-machine"
	// MetadataServerGroup holds the ID of a server group openstrap created
	// for the machine (and deletes with its last member).
	MetadataServerGroup = "openstrap-server-group"
)

// groupTag marks the ports of a machine with the server group openstrap
// created for it: "openstrap-server-group=<id>" (59 characters for a UUID,
// within the tag limit).
func groupTag(id string) string { return MetadataServerGroup + "=" + id }

// MaxUserDataBase64 is Nova's limit on user data: 65535 bytes once base64
// encoded, the form in which it is sent (userdata.NovaUserDataLimit, which
// userdata renders against; provider keeps its own copy so that it does not
// depend on the rendering package).
const MaxUserDataBase64 = 65535

// Server group policies Nova knows.
const (
	PolicyAntiAffinity     = "anti-affinity"
	PolicySoftAntiAffinity = "soft-anti-affinity"
	PolicyAffinity         = "affinity"
	PolicySoftAffinity     = "soft-affinity"
)

// MachineSpec is the desired state of one machine: a Nova server with the
// ports, volumes, server group and floating IP created for it. Names and
// references to existing resources ("by name or ID") are resolved when the
// machine is created.
type MachineSpec struct {
	// Cluster names the cluster the machine belongs to. Every resource
	// created for the machine carries the tag "openstrap-cluster=<Cluster>".
	Cluster string
	// Name is the server's name, unique in the cluster. It becomes the
	// node's host name, so it must be a lowercase DNS label.
	Name string
	// Role is ControlPlane or Worker; Worker when empty.
	Role Role

	// Flavor is a flavor name or ID.
	Flavor string
	// Image is an image name or ID. With ImageTags it further narrows the
	// images that carry all those tags; either may be empty, not both.
	Image string
	// ImageTags selects the image by Glance tags; exactly one active image
	// must match.
	ImageTags []string
	// KeyName is the Nova key pair to inject; none when empty.
	KeyName string
	// UserData is the cloud-init or Ignition document, sent as is. Once
	// base64 encoded it must fit MaxUserDataBase64.
	UserData []byte `json:"-"`

	// Ports are the machine's network interfaces, in order; the first
	// port's first fixed IP is the machine's internal address.
	Ports []PortSpec
	// ServerGroup places the server in a server group. Control-plane
	// machines get a soft-anti-affinity group "<cluster>-control-plane" by
	// default; set ServerGroup to a value with an empty Name and ID (see
	// NoServerGroup) to opt out.
	ServerGroup *ServerGroupSpec
	// AvailabilityZone is the Nova availability zone; the cloud's default
	// when empty.
	AvailabilityZone string
	// RootVolume, when set, boots the server from a Cinder volume created
	// from the image instead of the hypervisor's local disk.
	RootVolume *RootVolumeSpec
	// Volumes are extra Cinder volumes created for the machine and attached
	// at boot, in order.
	Volumes []VolumeSpec
	// Metadata is extra Nova server metadata.
	Metadata map[string]string
	// Tags are extra Nova server tags (the ownership tag is always added).
	Tags []string
	// ConfigDrive attaches a config drive carrying the metadata and user
	// data.
	ConfigDrive bool
	// FloatingIP, when set, associates a floating IP with the first port.
	FloatingIP *FloatingIPSpec
}

// String leaves out the user data, which carries keys and tokens.
func (s MachineSpec) String() string {
	return fmt.Sprintf("machine %q of cluster %q (%s, flavor %q, %d bytes of user data)",
		s.Name, s.Cluster, s.Role, s.Flavor, len(s.UserData))
}

// PortSpec is one network interface of a machine. Its Neutron port is named
// "<machine>-<index>".
type PortSpec struct {
	// Network is a network name or ID. It may be empty when Subnet is set.
	Network string
	// Subnet is a subnet name or ID to take the fixed IP from; any subnet of
	// the network when empty.
	Subnet string
	// FixedIP is the address to ask for; one is allocated when empty.
	FixedIP string
	// SecurityGroups are security group names or IDs of the project; nil
	// means the network's default ("default" group of the project), an
	// empty non-nil slice means none.
	SecurityGroups []string
	// AllowedAddressPairs lets the port send and receive traffic for other
	// addresses, such as a virtual IP.
	AllowedAddressPairs []AddressPair
}

// AddressPair is a Neutron allowed address pair.
type AddressPair struct {
	// IPAddress is an address or CIDR.
	IPAddress string
	// MACAddress is the MAC address; the port's own when empty.
	MACAddress string
}

// ServerGroupSpec selects the Nova server group of a machine.
type ServerGroupSpec struct {
	// ID is an existing server group to use as is; openstrap never deletes
	// it.
	ID string
	// Name is a server group found by name or created on demand with
	// Policy; it must start with "<cluster>-". openstrap owns such a group
	// and deletes it when its last member is deleted.
	Name string
	// Policy is the policy of a group created by name; PolicySoftAntiAffinity
	// when empty.
	Policy string
}

// NoServerGroup opts a control-plane machine out of its default server
// group.
func NoServerGroup() *ServerGroupSpec { return &ServerGroupSpec{} }

// RootVolumeSpec boots the server from a Cinder volume made from the image.
// The volume is named "<machine>-root".
type RootVolumeSpec struct {
	// SizeGiB is the volume size; when zero, the larger of the flavor's disk
	// and the image's minimum disk.
	SizeGiB int
	// Type is the Cinder volume type; the cloud's default when empty.
	Type string
	// AvailabilityZone is the Cinder availability zone; the cloud's default
	// when empty.
	AvailabilityZone string
}

// VolumeSpec is an extra data volume, named "<machine>-<Name>".
type VolumeSpec struct {
	// Name distinguishes the volume among the machine's volumes ("data",
	// "etcd", ...); it may not be "root".
	Name string
	// SizeGiB is the volume size; required.
	SizeGiB int
	// Type is the Cinder volume type; the cloud's default when empty.
	Type string
	// AvailabilityZone is the Cinder availability zone; the cloud's default
	// when empty.
	AvailabilityZone string
}

// FloatingIPSpec asks for a floating IP on the machine's first port.
type FloatingIPSpec struct {
	// Network is the external network name or ID; the cloud's only
	// external network when empty.
	Network string
}

// Default returns a copy of s with defaults filled in: the Worker role, and
// for control-plane machines a soft-anti-affinity server group named
// "<cluster>-control-plane". Soft rather than hard anti-affinity, so that a
// cloud with fewer compute hosts than control-plane machines still schedules
// them (spread where it can).
func (s MachineSpec) Default() MachineSpec {
	out := s
	if out.Role == "" {
		out.Role = Worker
	}
	if out.Role == ControlPlane && out.ServerGroup == nil && out.Cluster != "" {
		out.ServerGroup = &ServerGroupSpec{Name: out.Cluster + "-control-plane"}
	}
	if out.ServerGroup != nil {
		sg := *out.ServerGroup
		if sg.Name != "" && sg.Policy == "" {
			sg.Policy = PolicySoftAntiAffinity
		}
		out.ServerGroup = &sg
	}
	return out
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	// tagChars are the characters Nova and Neutron refuse in a tag.
	tagChars = ",/"
)

// maxTagLen is Nova's and Neutron's limit on one tag.
const maxTagLen = 60

// Validate reports every problem of s at once, each naming the field and
// its value; the error matches ErrInvalidSpec. It needs no API call. Call it
// on the result of Default.
func (s MachineSpec) Validate() error {
	var errs []string
	bad := func(field string, value any, why string) {
		errs = append(errs, fmt.Sprintf("%s %q: %s", field, fmt.Sprint(value), why))
	}
	if s.Cluster == "" {
		errs = append(errs, "Cluster: required")
	} else if !dnsLabel.MatchString(s.Cluster) || len(OwnershipTag(s.Cluster)) > maxTagLen {
		bad("Cluster", s.Cluster, fmt.Sprintf("must be a lowercase DNS label of at most %d characters", maxTagLen-len(OwnershipTagKey)-1))
	}
	if s.Name == "" {
		errs = append(errs, "Name: required")
	} else if !dnsLabel.MatchString(s.Name) || len(s.Name) > 63 {
		bad("Name", s.Name, "must be a lowercase DNS label of at most 63 characters")
	}
	switch s.Role {
	case ControlPlane, Worker:
	default:
		bad("Role", s.Role, fmt.Sprintf("must be %q or %q", ControlPlane, Worker))
	}
	if s.Flavor == "" {
		errs = append(errs, "Flavor: required (a flavor name or ID)")
	}
	if s.Image == "" && len(s.ImageTags) == 0 {
		errs = append(errs, "Image: required (an image name or ID, or ImageTags)")
	}
	for i, t := range s.ImageTags {
		if t == "" {
			bad(fmt.Sprintf("ImageTags[%d]", i), t, "empty tag")
		}
	}
	if n := base64.StdEncoding.EncodedLen(len(s.UserData)); n > MaxUserDataBase64 {
		errs = append(errs, fmt.Sprintf("UserData: %d bytes, %d once base64 encoded, over Nova's limit of %d bytes", len(s.UserData), n, MaxUserDataBase64))
	}
	if len(s.Ports) == 0 {
		errs = append(errs, "Ports: at least one port is required")
	}
	for i, p := range s.Ports {
		f := fmt.Sprintf("Ports[%d]", i)
		if p.Network == "" && p.Subnet == "" {
			errs = append(errs, fmt.Sprintf("%s: Network or Subnet is required", f))
		}
		if p.FixedIP != "" {
			if _, err := netip.ParseAddr(p.FixedIP); err != nil {
				bad(f+".FixedIP", p.FixedIP, "not an IP address")
			}
		}
		for j, g := range p.SecurityGroups {
			if g == "" {
				bad(fmt.Sprintf("%s.SecurityGroups[%d]", f, j), g, "empty name")
			}
		}
		for j, ap := range p.AllowedAddressPairs {
			if _, err := netip.ParsePrefix(ap.IPAddress); err != nil {
				if _, err := netip.ParseAddr(ap.IPAddress); err != nil {
					bad(fmt.Sprintf("%s.AllowedAddressPairs[%d].IPAddress", f, j), ap.IPAddress, "not an IP address or CIDR")
				}
			}
		}
	}
	if g := s.ServerGroup; g != nil {
		switch {
		case g.ID != "" && g.Name != "":
			bad("ServerGroup.Name", g.Name, "set either ID or Name, not both")
		case g.Name != "" && !strings.HasPrefix(g.Name, s.Cluster+"-"):
			bad("ServerGroup.Name", g.Name, fmt.Sprintf("a group created by openstrap must be named %q", s.Cluster+"-..."))
		}
		switch g.Policy {
		case "", PolicyAntiAffinity, PolicySoftAntiAffinity, PolicyAffinity, PolicySoftAffinity:
		default:
			bad("ServerGroup.Policy", g.Policy, "unknown policy")
		}
	}
	if v := s.RootVolume; v != nil && v.SizeGiB < 0 {
		bad("RootVolume.SizeGiB", v.SizeGiB, "must not be negative")
	}
	seen := map[string]bool{}
	for i, v := range s.Volumes {
		f := fmt.Sprintf("Volumes[%d]", i)
		switch {
		case v.Name == "":
			errs = append(errs, fmt.Sprintf("%s.Name: required", f))
		case v.Name == "root":
			bad(f+".Name", v.Name, "reserved for the root volume")
		case !dnsLabel.MatchString(v.Name):
			bad(f+".Name", v.Name, "must be a lowercase DNS label")
		case seen[v.Name]:
			bad(f+".Name", v.Name, "duplicate volume name")
		}
		seen[v.Name] = true
		if v.SizeGiB <= 0 {
			bad(f+".SizeGiB", v.SizeGiB, "must be positive")
		}
	}
	for k, v := range s.Metadata {
		if strings.HasPrefix(k, "openstrap-") {
			bad("Metadata", k, "keys starting with openstrap- are reserved")
		}
		if len(k) > 255 || len(v) > 255 {
			bad("Metadata", k, "keys and values are limited to 255 bytes")
		}
	}
	for i, t := range s.Tags {
		if t == "" || len(t) > maxTagLen || strings.ContainsAny(t, tagChars) {
			bad(fmt.Sprintf("Tags[%d]", i), t, fmt.Sprintf("a tag has 1 to %d characters and no ',' or '/'", maxTagLen))
		}
		if strings.HasPrefix(t, OwnershipTagKey+"=") {
			bad(fmt.Sprintf("Tags[%d]", i), t, "the ownership tag is set by openstrap")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &Error{Op: "validate", Kind: "machine", Name: s.Name, Err: fmt.Errorf("%w: %s", ErrInvalidSpec, strings.Join(errs, "; "))}
}
