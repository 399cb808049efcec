package v1beta2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// MachineFinalizer is put on an OpenStackMachine before openstrap creates
// its server, and removed once the server, its ports and volumes, and its
// load balancer membership are gone.
const MachineFinalizer = "openstackmachine.infrastructure.cluster.x-k8s.io"

// OpenStackMachineSpec is one Nova server and what it needs: flavor, image,
// ports, volumes, server group, metadata.
type OpenStackMachineSpec struct {
	// providerID is "openstack:///<server UUID>", set by openstrap once the
	// server exists; the kubelet registers its Node with the same value,
	// which is how Cluster API finds the Node.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	ProviderID *string `json:"providerID,omitempty"`

	// flavor is the server's Nova flavor.
	// +required
	Flavor FlavorParam `json:"flavor"`

	// image is the server's Glance image (the root volume's source when
	// rootVolume is set).
	// +required
	Image ImageParam `json:"image"`

	// sshKeyName is the Nova key pair injected into the server.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	SSHKeyName string `json:"sshKeyName,omitempty"`

	// ports are the server's network interfaces, in order. Not set: one
	// port on the cluster's network.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Ports []PortOpts `json:"ports,omitempty"`

	// securityGroups are attached, with the cluster's managed group of
	// the machine's role, to every port that names no securityGroups of
	// its own.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	SecurityGroups []SecurityGroupParam `json:"securityGroups,omitempty"`

	// tags are added to the server and its ports and volumes, besides the
	// cluster's tags and openstrap's ownership tag.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=60
	// +kubebuilder:validation:items:Pattern=`^[^,/]+$`
	// +optional
	Tags []string `json:"tags,omitempty"`

	// serverMetadata is extra Nova server metadata.
	// +listType=map
	// +listMapKey=key
	// +kubebuilder:validation:MaxItems=64
	// +optional
	ServerMetadata []ServerMetadata `json:"serverMetadata,omitempty"`

	// configDrive true attaches a config drive carrying metadata and user
	// data.
	// +optional
	ConfigDrive *bool `json:"configDrive,omitempty"`

	// rootVolume makes the server boot from a Cinder volume.
	// +optional
	RootVolume *RootVolume `json:"rootVolume,omitempty"`

	// additionalBlockDevices are extra volumes attached at boot.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	// +optional
	AdditionalBlockDevices []AdditionalBlockDevice `json:"additionalBlockDevices,omitempty"`

	// serverGroup is the Nova server group of the server. Not set:
	// control-plane servers go to openstrap's soft-anti-affinity group
	// "<cluster>-control-plane", workers to none.
	// +optional
	ServerGroup *ServerGroupParam `json:"serverGroup,omitempty"`
}

// MachineInitialization is the Cluster API v1beta2 contract's
// initialization status of an infrastructure machine.
type MachineInitialization struct {
	// provisioned turns true once the server is first active; it never
	// goes back to false.
	// +optional
	Provisioned bool `json:"provisioned,omitempty"`
}

// OpenStackMachineStatus is what exists of the machine's server.
type OpenStackMachineStatus struct {
	// conditions are the machine's v1beta2 conditions; Ready sums them up
	// and Cluster API mirrors it into the Machine's InfrastructureReady.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// initialization is the Cluster API contract's initialization status.
	// +optional
	Initialization *MachineInitialization `json:"initialization,omitempty"`

	// instanceID is the server's UUID.
	// +optional
	InstanceID *string `json:"instanceID,omitempty"`

	// instanceState is the server's state as Nova reports it.
	// +optional
	InstanceState *InstanceState `json:"instanceState,omitempty"`

	// addresses are the server's addresses, for the Machine.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Addresses []clusterv1.MachineAddress `json:"addresses,omitempty"`

	// failureDomain is the availability zone the server is in.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	FailureDomain string `json:"failureDomain,omitempty"`

	// resolved records what the spec's references resolved to.
	// +optional
	Resolved *ResolvedMachineSpec `json:"resolved,omitempty"`

	// resources lists what openstrap made for the machine.
	// +optional
	Resources *MachineResources `json:"resources,omitempty"`
}

// OpenStackMachine is the infrastructure of one Cluster API Machine: a Nova
// server with its ports and volumes.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:resource:path=openstackmachines,scope=Namespaced,categories=cluster-api,shortName=osm
// +kubebuilder:subresource:status
// +kubebuilder:metadata:labels="cluster.x-k8s.io/v1beta2=v1beta2"
// +kubebuilder:metadata:labels="clusterctl.cluster.x-k8s.io="
// +kubebuilder:printcolumn:name="Cluster",type="string",JSONPath=".metadata.labels.cluster\\.x-k8s\\.io/cluster-name",description="Cluster this OpenStackMachine belongs to"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status",description="Ready condition"
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].reason",description="Ready condition's reason",priority=1
// +kubebuilder:printcolumn:name="State",type="string",JSONPath=".status.instanceState",description="Nova server state"
// +kubebuilder:printcolumn:name="ProviderID",type="string",JSONPath=".spec.providerID",description="Provider ID of the server"
// +kubebuilder:printcolumn:name="Machine",type="string",JSONPath=".metadata.ownerReferences[?(@.kind==\"Machine\")].name",description="Machine that owns this OpenStackMachine"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type OpenStackMachine struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired server.
	// +optional
	Spec OpenStackMachineSpec `json:"spec,omitempty"`

	// status is what exists.
	// +optional
	Status OpenStackMachineStatus `json:"status,omitempty"`
}

// OpenStackMachineList is a list of OpenStackMachines.
// +kubebuilder:object:root=true
type OpenStackMachineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OpenStackMachine `json:"items"`
}

// GetConditions returns the machine's conditions, for Cluster API's
// util/conditions.
func (m *OpenStackMachine) GetConditions() []metav1.Condition { return m.Status.Conditions }

// SetConditions replaces the machine's conditions, for Cluster API's
// util/conditions.
func (m *OpenStackMachine) SetConditions(conditions []metav1.Condition) {
	m.Status.Conditions = conditions
}

// OpenStackMachineTemplateResource is what a template stamps out.
type OpenStackMachineTemplateResource struct {
	// metadata is added to the OpenStackMachines made from the template.
	// +optional
	ObjectMeta clusterv1.ObjectMeta `json:"metadata,omitempty,omitzero"`

	// spec is the spec of the OpenStackMachines made from the template.
	// +required
	Spec OpenStackMachineSpec `json:"spec"`
}

// OpenStackMachineTemplateSpec holds the template.
type OpenStackMachineTemplateSpec struct {
	// template is what each OpenStackMachine made from it looks like.
	// +required
	Template OpenStackMachineTemplateResource `json:"template"`
}

// OpenStackMachineTemplate is a template for OpenStackMachines, used by
// MachineDeployments, MachineSets and KubeadmControlPlanes.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:resource:path=openstackmachinetemplates,scope=Namespaced,categories=cluster-api,shortName=osmt
// +kubebuilder:metadata:labels="cluster.x-k8s.io/v1beta2=v1beta2"
// +kubebuilder:metadata:labels="clusterctl.cluster.x-k8s.io="
type OpenStackMachineTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the template.
	// +optional
	Spec OpenStackMachineTemplateSpec `json:"spec,omitempty"`
}

// OpenStackMachineTemplateList is a list of OpenStackMachineTemplates.
// +kubebuilder:object:root=true
type OpenStackMachineTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OpenStackMachineTemplate `json:"items"`
}
