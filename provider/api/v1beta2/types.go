package v1beta2

// NeutronTag is a tag on a Neutron resource: not empty and without commas,
// since Neutron's tag filters take comma-separated lists.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=255
// +kubebuilder:validation:Pattern=`^[^,]+$`
type NeutronTag string

// NetworkParam picks an existing Neutron network, by id or by filter
// (exactly one of them).
// +kubebuilder:validation:XValidation:rule="has(self.id) != has(self.filter)",message="exactly one of id or filter must be set"
type NetworkParam struct {
	// id is the UUID of the network, used as is.
	// +kubebuilder:validation:Format=uuid
	// +optional
	ID *string `json:"id,omitempty"`

	// filter selects the network by name and/or tags; it must match
	// exactly one network.
	// +optional
	Filter *NetworkFilter `json:"filter,omitempty"`
}

// NetworkFilter is a query for one Neutron network: by name, or by tags
// (the network must carry all of them), not both.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="!(has(self.name) && has(self.tags))",message="openstrap selects by name or by tags, not both: keep one"
type NetworkFilter struct {
	// name is the network's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name string `json:"name,omitempty"`

	// tags the network must all carry.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Tags []NeutronTag `json:"tags,omitempty"`
}

// SubnetParam picks an existing Neutron subnet, by id or by filter (exactly
// one of them).
// +kubebuilder:validation:XValidation:rule="has(self.id) != has(self.filter)",message="exactly one of id or filter must be set"
type SubnetParam struct {
	// id is the UUID of the subnet, used as is.
	// +kubebuilder:validation:Format=uuid
	// +optional
	ID *string `json:"id,omitempty"`

	// filter selects the subnet by name and/or tags; it must match exactly
	// one subnet.
	// +optional
	Filter *SubnetFilter `json:"filter,omitempty"`
}

// SubnetFilter is a query for one Neutron subnet: by name, or by tags (the
// subnet must carry all of them), not both.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="!(has(self.name) && has(self.tags))",message="openstrap selects by name or by tags, not both: keep one"
type SubnetFilter struct {
	// name is the subnet's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name string `json:"name,omitempty"`

	// tags the subnet must all carry.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Tags []NeutronTag `json:"tags,omitempty"`
}

// RouterParam picks an existing Neutron router, by id or by filter (exactly
// one of them).
// +kubebuilder:validation:XValidation:rule="has(self.id) != has(self.filter)",message="exactly one of id or filter must be set"
type RouterParam struct {
	// id is the UUID of the router, used as is.
	// +kubebuilder:validation:Format=uuid
	// +optional
	ID *string `json:"id,omitempty"`

	// filter selects the router by name and/or tags; it must match exactly
	// one router.
	// +optional
	Filter *RouterFilter `json:"filter,omitempty"`
}

// RouterFilter is a query for one Neutron router: by name, or by tags (the
// router must carry all of them), not both.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="!(has(self.name) && has(self.tags))",message="openstrap selects by name or by tags, not both: keep one"
type RouterFilter struct {
	// name is the router's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name string `json:"name,omitempty"`

	// tags the router must all carry.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Tags []NeutronTag `json:"tags,omitempty"`
}

// SecurityGroupParam picks an existing Neutron security group, by id or by
// filter (exactly one of them).
// +kubebuilder:validation:XValidation:rule="has(self.id) != has(self.filter)",message="exactly one of id or filter must be set"
type SecurityGroupParam struct {
	// id is the UUID of the security group, used as is.
	// +kubebuilder:validation:Format=uuid
	// +optional
	ID *string `json:"id,omitempty"`

	// filter selects the security group by name; it must match exactly one
	// group of the project.
	// +optional
	Filter *SecurityGroupFilter `json:"filter,omitempty"`
}

// SecurityGroupFilter is a query for one security group of the project.
// openstrap queries by name only.
// +kubebuilder:validation:MinProperties=1
type SecurityGroupFilter struct {
	// name is the security group's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name string `json:"name,omitempty"`
}

// ImageParam picks the Glance image of a server, by id or by filter
// (exactly one of them).
// +kubebuilder:validation:XValidation:rule="has(self.id) != has(self.filter)",message="exactly one of id or filter must be set"
type ImageParam struct {
	// id is the UUID of the image, used as is.
	// +kubebuilder:validation:Format=uuid
	// +optional
	ID *string `json:"id,omitempty"`

	// filter selects the image by name and/or tags; exactly one active
	// image must match.
	// +optional
	Filter *ImageFilter `json:"filter,omitempty"`
}

// ImageFilter is a query for one Glance image.
// +kubebuilder:validation:MinProperties=1
type ImageFilter struct {
	// name is the image's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name *string `json:"name,omitempty"`

	// tags the image must all carry.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Tags []string `json:"tags,omitempty"`
}

// FlavorParam picks the Nova flavor of a server, by id or by filter
// (exactly one of them).
// +kubebuilder:validation:XValidation:rule="has(self.id) != has(self.filter)",message="exactly one of id or filter must be set"
type FlavorParam struct {
	// id is the flavor's ID (not necessarily a UUID: Nova allows any
	// string), used as is.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	ID *string `json:"id,omitempty"`

	// filter selects the flavor by name.
	// +optional
	Filter *FlavorFilter `json:"filter,omitempty"`
}

// FlavorFilter is a query for one Nova flavor.
// +kubebuilder:validation:MinProperties=1
type FlavorFilter struct {
	// name is the flavor's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name *string `json:"name,omitempty"`
}

// ServerGroupParam picks the Nova server group of a server, by id or by
// filter (exactly one of them).
// +kubebuilder:validation:XValidation:rule="has(self.id) != has(self.filter)",message="exactly one of id or filter must be set"
type ServerGroupParam struct {
	// id is the UUID of an existing server group, used as is.
	// +kubebuilder:validation:Format=uuid
	// +optional
	ID *string `json:"id,omitempty"`

	// filter selects the server group by name.
	// +optional
	Filter *ServerGroupFilter `json:"filter,omitempty"`
}

// ServerGroupFilter is a query for one Nova server group.
// +kubebuilder:validation:MinProperties=1
type ServerGroupFilter struct {
	// name is the server group's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name *string `json:"name,omitempty"`
}

// SubnetSpec is a subnet openstrap creates (with its network and router)
// for the cluster.
type SubnetSpec struct {
	// cidr is the subnet's IPv4 network address and prefix, at most /29,
	// such as 10.6.0.0/24.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self).prefixLength() <= 29 && cidr(self) == cidr(self).masked()",message="must be an IPv4 network address with a prefix of at most /29, such as 10.6.0.0/24"
	// +required
	CIDR string `json:"cidr"`

	// dnsNameservers are the DNS servers handed out by the subnet's DHCP,
	// IPv4 addresses.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=15
	// +kubebuilder:validation:items:XValidation:rule="isIP(self) && ip(self).family() == 4",message="must be an IPv4 address"
	// +optional
	DNSNameservers []string `json:"dnsNameservers,omitempty"`
}

// PortOpts is one network interface of a server. openstrap names its
// Neutron port "<machine>-<index>".
// +kubebuilder:validation:XValidation:rule="!has(self.network) || !has(self.network.filter) || !has(self.network.filter.tags)",message="network.filter.tags is not supported for ports: select the network by id or filter.name"
type PortOpts struct {
	// network is the network to create the port on; the cluster's network
	// when not set.
	// +optional
	Network *NetworkParam `json:"network,omitempty"`

	// fixedIPs asks for one address on the port: from a given subnet
	// and/or a given address. openstrap supports at most one entry.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1
	// +optional
	FixedIPs []FixedIP `json:"fixedIPs,omitempty"`

	// securityGroups are the port's security groups. When set they
	// replace, for this port, the machine's securityGroups and the
	// cluster's managed groups.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	SecurityGroups []SecurityGroupParam `json:"securityGroups,omitempty"`

	// allowedAddressPairs let the port send and receive traffic for other
	// addresses (or CIDRs), such as a virtual IP.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	AllowedAddressPairs []AddressPair `json:"allowedAddressPairs,omitempty"`
}

// FixedIP asks for an address on a port.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="!has(self.subnet) || !has(self.subnet.filter) || !has(self.subnet.filter.tags)",message="subnet.filter.tags is not supported for fixed IPs: select the subnet by id or filter.name"
type FixedIP struct {
	// subnet is the subnet to take the address from.
	// +optional
	Subnet *SubnetParam `json:"subnet,omitempty"`

	// ipAddress is the address to ask for; one is allocated when not set.
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IP address"
	// +optional
	IPAddress *string `json:"ipAddress,omitempty"`
}

// AddressPair is a Neutron allowed address pair.
type AddressPair struct {
	// ipAddress is an IP address or CIDR.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=49
	// +required
	IPAddress string `json:"ipAddress"`

	// macAddress is the pair's MAC address; the port's own when not set.
	// +kubebuilder:validation:Pattern=`^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$`
	// +optional
	MACAddress *string `json:"macAddress,omitempty"`
}

// ManagedSecurityGroupName names one of the security groups openstrap
// manages, for use as the remote end of a rule.
// +kubebuilder:validation:Enum=controlplane;worker
type ManagedSecurityGroupName string

// Managed security group names.
const (
	// ControlPlaneSecurityGroupName is the group of control-plane machines.
	ControlPlaneSecurityGroupName ManagedSecurityGroupName = "controlplane"
	// WorkerSecurityGroupName is the group of worker machines.
	WorkerSecurityGroupName ManagedSecurityGroupName = "worker"
)

// SecurityGroupRuleSpec is an extra rule added to a managed security group.
// Its remote end is a CIDR (remoteIPPrefix) or managed groups
// (remoteManagedGroups), not both; with neither, any source.
// +kubebuilder:validation:XValidation:rule="!(has(self.remoteIPPrefix) && has(self.remoteManagedGroups))",message="remoteIPPrefix and remoteManagedGroups are mutually exclusive"
// +kubebuilder:validation:XValidation:rule="!has(self.portRangeMin) || !has(self.portRangeMax) || self.portRangeMin <= self.portRangeMax",message="portRangeMin must not exceed portRangeMax"
// +kubebuilder:validation:XValidation:rule="!has(self.portRangeMax) || has(self.portRangeMin)",message="portRangeMax needs portRangeMin"
type SecurityGroupRuleSpec struct {
	// name identifies the rule in the list (for merges and patches); it is
	// not sent to OpenStack.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +required
	Name string `json:"name"`

	// description is stored on the rule.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Description *string `json:"description,omitempty"`

	// direction is ingress or egress.
	// +kubebuilder:validation:Enum=ingress;egress
	// +required
	Direction string `json:"direction"`

	// etherType is IPv4 or IPv6; IPv4 when not set.
	// +kubebuilder:validation:Enum=IPv4;IPv6
	// +optional
	EtherType *string `json:"etherType,omitempty"`

	// portRangeMin is the lowest destination port matched (tcp, udp).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	PortRangeMin *int32 `json:"portRangeMin,omitempty"`

	// portRangeMax is the highest destination port matched (tcp, udp);
	// portRangeMin when not set.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	PortRangeMax *int32 `json:"portRangeMax,omitempty"`

	// protocol is an IANA protocol name (tcp, udp, icmp, ...) or number
	// ("4"); any protocol when not set.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Protocol *string `json:"protocol,omitempty"`

	// remoteIPPrefix is the CIDR the rule allows traffic from (ingress) or
	// to (egress).
	// +kubebuilder:validation:MaxLength=49
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 192.0.2.0/24"
	// +optional
	RemoteIPPrefix *string `json:"remoteIPPrefix,omitempty"`

	// remoteManagedGroups are managed groups whose members the rule allows.
	// +listType=set
	// +kubebuilder:validation:MaxItems=2
	// +optional
	RemoteManagedGroups []ManagedSecurityGroupName `json:"remoteManagedGroups,omitempty"`
}

// OpenStackIdentityReference names the Secret, in the object's namespace,
// whose key "clouds.yaml" (CloudsYAMLKey) holds an OpenStack clouds.yaml,
// and the cloud of that file to use. The Secret may also hold a PEM CA
// bundle under "cacert" (CACertKey).
type OpenStackIdentityReference struct {
	// type is the kind of identity; only Secret is supported.
	// +kubebuilder:validation:Enum=Secret
	// +kubebuilder:default=Secret
	// +optional
	Type string `json:"type,omitempty"`

	// name is the Secret's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// cloudName is the entry of clouds.yaml to use.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +required
	CloudName string `json:"cloudName"`

	// region overrides the region of the clouds.yaml entry.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Region string `json:"region,omitempty"`
}

// IdentityTypeSecret is the only OpenStackIdentityReference type openstrap
// supports (and the default).
const IdentityTypeSecret = "Secret"

// NetworkStatus is what exists of a Neutron network.
type NetworkStatus struct {
	// name is the network's name.
	// +required
	Name string `json:"name"`

	// id is the network's UUID.
	// +required
	ID string `json:"id"`

	// tags are the network's tags.
	// +listType=atomic
	// +optional
	Tags []string `json:"tags,omitempty"`
}

// NetworkStatusWithSubnets is a network and the subnets of it the cluster
// uses.
type NetworkStatusWithSubnets struct {
	NetworkStatus `json:",inline"`

	// subnets are the cluster's subnets on this network.
	// +listType=atomic
	// +optional
	Subnets []Subnet `json:"subnets,omitempty"`
}

// Subnet is what exists of a Neutron subnet.
type Subnet struct {
	// name is the subnet's name.
	// +required
	Name string `json:"name"`

	// id is the subnet's UUID.
	// +required
	ID string `json:"id"`

	// cidr is the subnet's CIDR.
	// +required
	CIDR string `json:"cidr"`

	// tags are the subnet's tags.
	// +listType=atomic
	// +optional
	Tags []string `json:"tags,omitempty"`
}

// Router is what exists of the cluster's Neutron router.
type Router struct {
	// name is the router's name.
	// +required
	Name string `json:"name"`

	// id is the router's UUID.
	// +required
	ID string `json:"id"`

	// tags are the router's tags.
	// +listType=atomic
	// +optional
	Tags []string `json:"tags,omitempty"`

	// ips are the router's external gateway addresses.
	// +listType=atomic
	// +optional
	IPs []string `json:"ips,omitempty"`
}

// LoadBalancer is what exists of the API server's Octavia load balancer.
// listenerID, poolID, monitorID and vipPortID are openstrap's additions to
// the OpenStack provider's shape, kept so that a later reconcile need not
// look them up again.
type LoadBalancer struct {
	// name is the load balancer's name.
	// +required
	Name string `json:"name"`

	// id is the load balancer's UUID.
	// +required
	ID string `json:"id"`

	// ip is the address clients use: the floating IP, or the VIP when
	// there is no floating IP.
	// +optional
	IP string `json:"ip,omitempty"`

	// internalIP is the VIP on the cluster's subnet.
	// +optional
	InternalIP string `json:"internalIP,omitempty"`

	// allowedCIDRs are the sources the listeners accept.
	// +listType=atomic
	// +optional
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`

	// tags are the load balancer's tags.
	// +listType=atomic
	// +optional
	Tags []string `json:"tags,omitempty"`

	// listenerID is the API server listener's UUID.
	// +optional
	ListenerID string `json:"listenerID,omitempty"`

	// poolID is the API server pool's UUID.
	// +optional
	PoolID string `json:"poolID,omitempty"`

	// monitorID is the pool's health monitor's UUID.
	// +optional
	MonitorID string `json:"monitorID,omitempty"`

	// vipPortID is the UUID of the VIP's Neutron port.
	// +optional
	VIPPortID string `json:"vipPortID,omitempty"`
}

// FloatingIPStatus is what exists of the API server's floating IP (an
// openstrap addition to the OpenStack provider's status).
type FloatingIPStatus struct {
	// id is the floating IP's UUID.
	// +required
	ID string `json:"id"`

	// ip is the floating address.
	// +required
	IP string `json:"ip"`

	// owned is true when openstrap allocated the floating IP and releases
	// it on delete; false for one the user named in
	// spec.apiServer.floatingIP.
	// +optional
	Owned bool `json:"owned,omitempty"`
}

// SecurityGroupStatus is what exists of a managed security group.
type SecurityGroupStatus struct {
	// name is the group's name.
	// +required
	Name string `json:"name"`

	// id is the group's UUID.
	// +required
	ID string `json:"id"`
}

// InstanceState is the status of a Nova server, as Nova reports it.
type InstanceState string

// Nova server states openstrap reports.
const (
	InstanceStateBuild       InstanceState = "BUILD"
	InstanceStateActive      InstanceState = "ACTIVE"
	InstanceStateError       InstanceState = "ERROR"
	InstanceStateStopped     InstanceState = "STOPPED"
	InstanceStateShutoff     InstanceState = "SHUTOFF"
	InstanceStateDeleted     InstanceState = "DELETED"
	InstanceStateSoftDeleted InstanceState = "SOFT_DELETED"
)

// RootVolume makes the server boot from a Cinder volume created from the
// image, instead of the hypervisor's local disk.
type RootVolume struct {
	// sizeGiB is the volume's size in GiB.
	// +kubebuilder:validation:Minimum=1
	// +required
	SizeGiB int32 `json:"sizeGiB"`

	BlockDeviceVolume `json:",inline"`
}

// BlockDeviceVolume holds the options of a Cinder volume.
type BlockDeviceVolume struct {
	// type is the Cinder volume type; the cloud's default when not set.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Type string `json:"type,omitempty"`

	// availabilityZone is the volume's availability zone; none asked for
	// when not set.
	// +optional
	AvailabilityZone *VolumeAvailabilityZone `json:"availabilityZone,omitempty"`
}

// VolumeAZSource says where a volume's availability zone comes from.
// +kubebuilder:validation:Enum=Name;Machine
type VolumeAZSource string

// Volume availability zone sources.
const (
	// VolumeAZFromName takes the zone from the name field.
	VolumeAZFromName VolumeAZSource = "Name"
	// VolumeAZFromMachine takes the zone from the Machine's failure domain.
	VolumeAZFromMachine VolumeAZSource = "Machine"
)

// VolumeAZName is a Cinder availability zone name (no spaces).
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=255
// +kubebuilder:validation:Pattern=`^[^ ]+$`
type VolumeAZName string

// VolumeAvailabilityZone chooses a volume's availability zone: by name, or
// the Machine's failure domain.
// +kubebuilder:validation:XValidation:rule="(!has(self.from) || self.from == 'Name') == has(self.name)",message="name is required when from is Name (the default) and forbidden when from is Machine"
type VolumeAvailabilityZone struct {
	// from is Name (the default) or Machine.
	// +kubebuilder:default=Name
	// +optional
	From VolumeAZSource `json:"from,omitempty"`

	// name is the zone when from is Name.
	// +optional
	Name *VolumeAZName `json:"name,omitempty"`
}

// BlockDeviceType is the storage of an additional block device. openstrap
// supports Cinder volumes only.
// +kubebuilder:validation:Enum=Volume
type BlockDeviceType string

// VolumeBlockDevice is a Cinder volume attached to the server.
const VolumeBlockDevice BlockDeviceType = "Volume"

// BlockDeviceStorage is the storage of an additional block device.
type BlockDeviceStorage struct {
	// type is Volume (a Cinder volume); Local is not supported.
	// +required
	Type BlockDeviceType `json:"type"`

	// volume holds the volume's options.
	// +optional
	Volume *BlockDeviceVolume `json:"volume,omitempty"`
}

// AdditionalBlockDevice is an extra volume created for the server and
// attached at boot; its Cinder volume is named "<machine>-<name>".
type AdditionalBlockDevice struct {
	// name distinguishes the device among the machine's; "root" is
	// reserved for the root volume.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self != 'root'",message="root is reserved for the root volume"
	// +required
	Name string `json:"name"`

	// sizeGiB is the volume's size in GiB.
	// +kubebuilder:validation:Minimum=1
	// +required
	SizeGiB int32 `json:"sizeGiB"`

	// storage is the device's storage.
	// +required
	Storage BlockDeviceStorage `json:"storage"`
}

// ServerMetadata is one key/value pair of Nova server metadata.
type ServerMetadata struct {
	// key is the metadata key.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +required
	Key string `json:"key"`

	// value is the metadata value.
	// +kubebuilder:validation:MaxLength=255
	// +required
	Value string `json:"value"`
}

// ResolvedMachineSpec records what the machine's references resolved to
// when its server was created.
type ResolvedMachineSpec struct {
	// imageID is the UUID of the image.
	// +optional
	ImageID string `json:"imageID,omitempty"`

	// flavorID is the ID of the flavor.
	// +optional
	FlavorID string `json:"flavorID,omitempty"`

	// serverGroupID is the UUID of the server group.
	// +optional
	ServerGroupID string `json:"serverGroupID,omitempty"`
}

// MachineResources lists the OpenStack resources made for a machine.
type MachineResources struct {
	// ports are the machine's Neutron ports, in order.
	// +listType=atomic
	// +optional
	Ports []PortStatus `json:"ports,omitempty"`

	// volumes are the machine's Cinder volumes (root first, when any).
	// An openstrap addition to the OpenStack provider's status.
	// +listType=atomic
	// +optional
	Volumes []VolumeStatus `json:"volumes,omitempty"`
}

// PortStatus is one port made for a machine.
type PortStatus struct {
	// id is the port's UUID.
	// +required
	ID string `json:"id"`
}

// VolumeStatus is one volume made for a machine.
type VolumeStatus struct {
	// name is the volume's name.
	// +required
	Name string `json:"name"`

	// id is the volume's UUID.
	// +required
	ID string `json:"id"`
}
