package v1beta2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// ClusterFinalizer is put on an OpenStackCluster before openstrap makes its
// first cloud resource, and removed once every resource is deleted.
const ClusterFinalizer = "openstackcluster.infrastructure.cluster.x-k8s.io"

// OpenStackClusterSpec is the cluster's network infrastructure on
// OpenStack: network, subnet, router, managed security groups, and the API
// server's endpoint (load balancer, floating IP).
//
// Either openstrap creates the network (managedSubnets, optionally with
// managedNetwork and an existing router) or the user brings one (network,
// subnets).
// +kubebuilder:validation:XValidation:rule="!(has(self.managedSubnets) && size(self.managedSubnets) > 0 && has(self.network))",message="network (bring your own) and managedSubnets are mutually exclusive"
// +kubebuilder:validation:XValidation:rule="!has(self.subnets) || has(self.network)",message="subnets require network"
// +kubebuilder:validation:XValidation:rule="!has(self.router) || !has(self.network)",message="router is used with managedSubnets only, not with network"
// +kubebuilder:validation:XValidation:rule="!has(self.managedNetwork) || !has(self.network)",message="managedNetwork applies to a network openstrap creates, not with network"
// +kubebuilder:validation:XValidation:rule="has(self.enableExternalNetwork) && !self.enableExternalNetwork ? has(self.apiServer) && has(self.apiServer.enableFloatingIP) && !self.apiServer.enableFloatingIP : true",message="apiServer.enableFloatingIP must be false when enableExternalNetwork is false"
type OpenStackClusterSpec struct {
	// managedSubnets are the subnets openstrap creates, with a network and
	// a router connected to them. One IPv4 subnet is supported. Empty with
	// no network: openstrap creates 10.6.0.0/24.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1
	// +optional
	ManagedSubnets []SubnetSpec `json:"managedSubnets,omitempty"`

	// subnets pick existing subnets of network to use. openstrap supports
	// one; with none, network's only subnet is used.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1
	// +optional
	Subnets []SubnetParam `json:"subnets,omitempty"`

	// router is an existing router to connect the created subnet to,
	// instead of creating one. openstrap adds an interface to it and
	// removes that interface on delete, never the router.
	// +optional
	Router *RouterParam `json:"router,omitempty"`

	// managedNetwork sets attributes of the network openstrap creates.
	// +optional
	ManagedNetwork *ManagedNetwork `json:"managedNetwork,omitempty"`

	// network is an existing network to use instead of creating one.
	// openstrap never changes or deletes it.
	// +optional
	Network *NetworkParam `json:"network,omitempty"`

	// externalNetwork is the network of the router's gateway and of
	// floating IPs. When not set, the cloud's only external network is
	// used (none: as if enableExternalNetwork were false).
	// +optional
	ExternalNetwork *NetworkParam `json:"externalNetwork,omitempty"`

	// enableExternalNetwork false makes an internal-only cluster: no
	// router gateway and no floating IP. Default true.
	// +optional
	EnableExternalNetwork *bool `json:"enableExternalNetwork,omitempty"`

	// apiServer configures the API server's endpoint: load balancer,
	// floating IP, fixed IP and port.
	// +optional
	APIServer *APIServer `json:"apiServer,omitempty"`

	// managedSecurityGroups makes openstrap create and manage the
	// cluster's security groups (control plane, worker, and one all nodes
	// share), with the rules Kubernetes needs plus the ones given here.
	// Not set: no security groups are made; machines get the ones their
	// ports name.
	// +optional
	ManagedSecurityGroups *ManagedSecurityGroups `json:"managedSecurityGroups,omitempty"`

	// tags are CAPO's extra tags for every resource of the cluster.
	// openstrap does not implement them yet (its resources carry its
	// ownership tag only): the API server refuses the field.
	// +kubebuilder:validation:XValidation:rule="size(self) == 0",message="extra tags on the cluster's resources are not implemented by openstrap; remove them"
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:Pattern=`^[^,/]+$`
	// +optional
	Tags []string `json:"tags,omitempty"`

	// controlPlaneEndpoint is where the API server is reached. openstrap
	// sets it once the endpoint exists; a value given on creation is used
	// as is. It cannot change once its host is set.
	// +kubebuilder:validation:XValidation:rule="!has(oldSelf.host) || oldSelf.host == '' || self == oldSelf",message="controlPlaneEndpoint cannot change once its host is set"
	// +optional
	ControlPlaneEndpoint *clusterv1.APIEndpoint `json:"controlPlaneEndpoint,omitempty"`

	// controlPlaneAvailabilityZones are the Nova availability zones
	// control-plane machines may go to; they become the cluster's failure
	// domains. Empty: every available zone of the cloud.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	// +optional
	ControlPlaneAvailabilityZones []string `json:"controlPlaneAvailabilityZones,omitempty"`

	// controlPlaneOmitAvailabilityZone true creates control-plane servers
	// with no availability zone, leaving the choice to Nova's scheduler.
	// +optional
	ControlPlaneOmitAvailabilityZone *bool `json:"controlPlaneOmitAvailabilityZone,omitempty"`

	// identityRef names the Secret holding clouds.yaml and the cloud to
	// use for this cluster and its machines.
	// +required
	IdentityRef OpenStackIdentityReference `json:"identityRef"`
}

// APIServer configures the API server's endpoint: a load balancer (its VIP
// chosen by Octavia) with or without a floating IP, a floating IP on the
// first control-plane machine, or, for an internal cluster with no load
// balancer, fixedIP.
// +kubebuilder:validation:XValidation:rule="!(has(self.floatingIP) && has(self.enableFloatingIP) && !self.enableFloatingIP)",message="floatingIP cannot be set when enableFloatingIP is false"
// +kubebuilder:validation:XValidation:rule="!has(self.fixedIP) || ((!has(self.managedLoadBalancer) || (has(self.managedLoadBalancer.enabled) && !self.managedLoadBalancer.enabled)) && has(self.enableFloatingIP) && !self.enableFloatingIP)",message="fixedIP is the endpoint of an internal cluster without a load balancer: it needs enableFloatingIP false and no managedLoadBalancer (openstrap cannot choose a load balancer's VIP)"
// +kubebuilder:validation:XValidation:rule="!has(self.enableFloatingIP) || self.enableFloatingIP || has(self.fixedIP) || (has(self.managedLoadBalancer) && (!has(self.managedLoadBalancer.enabled) || self.managedLoadBalancer.enabled))",message="with enableFloatingIP false the cluster needs managedLoadBalancer or fixedIP for its API endpoint"
type APIServer struct {
	// port is the port of the API server load balancer's listener and of
	// its members; default 6443.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port *int32 `json:"port,omitempty"`

	// fixedIP is the endpoint's address on the cluster's network when there
	// is neither a load balancer nor a floating IP: a VIP the user manages
	// (a pre-allocated port). openstrap does not set a load balancer's VIP
	// address, so it is refused with managedLoadBalancer.
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IP address"
	// +optional
	FixedIP *string `json:"fixedIP,omitempty"`

	// floatingIP is an existing floating IP address to use for the
	// endpoint; openstrap associates it and never releases it. A new one
	// is allocated when not set.
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IP address"
	// +optional
	FloatingIP *string `json:"floatingIP,omitempty"`

	// enableFloatingIP false gives the endpoint no floating IP (it is the
	// load balancer's VIP, or fixedIP). Default true.
	// +optional
	EnableFloatingIP *bool `json:"enableFloatingIP,omitempty"`

	// managedLoadBalancer makes openstrap create an Octavia load balancer
	// in front of the control-plane machines. Not set: no load balancer;
	// the floating IP goes to the first control-plane machine.
	// +optional
	ManagedLoadBalancer *APIServerLoadBalancer `json:"managedLoadBalancer,omitempty"`
}

// APIServerLoadBalancer configures the API server's Octavia load balancer.
type APIServerLoadBalancer struct {
	// enabled false is the same as not setting managedLoadBalancer.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// additionalPorts are CAPO's further TCP ports on the load balancer.
	// openstrap does not implement them yet: the API server refuses the
	// field.
	// +kubebuilder:validation:XValidation:rule="size(self) == 0",message="additionalPorts are not implemented by openstrap; remove them"
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	// +optional
	AdditionalPorts []int32 `json:"additionalPorts,omitempty"`

	// allowedCIDRs are the sources the listeners accept; any when empty.
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=49
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 192.0.2.0/24"
	// +optional
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`

	// provider is the Octavia provider (amphora, ovn, ...); the cloud's
	// default when not set.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Provider *string `json:"provider,omitempty"`
}

// IsEnabled reports whether a load balancer is asked for: l is set and
// enabled is not false.
func (l *APIServerLoadBalancer) IsEnabled() bool {
	return l != nil && (l.Enabled == nil || *l.Enabled)
}

// ManagedNetwork sets attributes of the network openstrap creates.
// +kubebuilder:validation:MinProperties=1
type ManagedNetwork struct {
	// mtu is the network's MTU; the cloud's default when not set (needs
	// Neutron's net-mtu extension).
	// +kubebuilder:validation:Minimum=68
	// +kubebuilder:validation:Maximum=9216
	// +optional
	MTU *int32 `json:"mtu,omitempty"`
}

// ManagedSecurityGroups configures the security groups openstrap manages.
// Their built-in rules let the API server, etcd, the kubelet and the usual
// CNIs work; the rules here are added to them.
type ManagedSecurityGroups struct {
	// clusterNodesSecurityGroupRules are added for every cluster node.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +optional
	ClusterNodesSecurityGroupRules []SecurityGroupRuleSpec `json:"clusterNodesSecurityGroupRules,omitempty"`

	// controlPlaneNodesSecurityGroupRules are added for control-plane
	// nodes.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +optional
	ControlPlaneNodesSecurityGroupRules []SecurityGroupRuleSpec `json:"controlPlaneNodesSecurityGroupRules,omitempty"`

	// workerNodesSecurityGroupRules are added for worker nodes.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +optional
	WorkerNodesSecurityGroupRules []SecurityGroupRuleSpec `json:"workerNodesSecurityGroupRules,omitempty"`

	// allowAllInClusterTraffic true allows any traffic between the
	// cluster's nodes.
	// +kubebuilder:default=false
	// +optional
	AllowAllInClusterTraffic bool `json:"allowAllInClusterTraffic,omitempty"`
}

// ClusterInitialization is the Cluster API v1beta2 contract's
// initialization status of an infrastructure cluster.
type ClusterInitialization struct {
	// provisioned turns true once the cluster's infrastructure is first
	// ready (network and endpoint); it never goes back to false.
	// +optional
	Provisioned bool `json:"provisioned,omitempty"`
}

// OpenStackClusterStatus is what exists of the cluster's infrastructure.
type OpenStackClusterStatus struct {
	// conditions are the cluster's v1beta2 conditions; Ready sums them up
	// and Cluster API mirrors it into the Cluster's InfrastructureReady.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// initialization is the Cluster API contract's initialization status.
	// +optional
	Initialization *ClusterInitialization `json:"initialization,omitempty"`

	// network is the cluster's network and subnets.
	// +optional
	Network *NetworkStatusWithSubnets `json:"network,omitempty"`

	// externalNetwork is the network of the router's gateway and floating
	// IPs.
	// +optional
	ExternalNetwork *NetworkStatus `json:"externalNetwork,omitempty"`

	// router is the cluster's router.
	// +optional
	Router *Router `json:"router,omitempty"`

	// apiServerManagedLoadBalancer is the API server's load balancer.
	// +optional
	APIServerManagedLoadBalancer *LoadBalancer `json:"apiServerManagedLoadBalancer,omitempty"`

	// apiServerFloatingIP is the API endpoint's floating IP (an openstrap
	// addition).
	// +optional
	APIServerFloatingIP *FloatingIPStatus `json:"apiServerFloatingIP,omitempty"`

	// failureDomains are the availability zones machines may go to, in
	// the Cluster API v1beta2 contract's list shape.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	// +optional
	FailureDomains []clusterv1.FailureDomain `json:"failureDomains,omitempty"`

	// controlPlaneSecurityGroup is the managed group of control-plane
	// machines.
	// +optional
	ControlPlaneSecurityGroup *SecurityGroupStatus `json:"controlPlaneSecurityGroup,omitempty"`

	// workerSecurityGroup is the managed group of worker machines.
	// +optional
	WorkerSecurityGroup *SecurityGroupStatus `json:"workerSecurityGroup,omitempty"`

	// nodeSecurityGroup is the managed group every machine gets (an
	// openstrap addition: node-to-node traffic).
	// +optional
	NodeSecurityGroup *SecurityGroupStatus `json:"nodeSecurityGroup,omitempty"`
}

// OpenStackCluster is the infrastructure of one Cluster API cluster on
// OpenStack.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:resource:path=openstackclusters,scope=Namespaced,categories=cluster-api,shortName=osc
// +kubebuilder:subresource:status
// +kubebuilder:metadata:labels="cluster.x-k8s.io/v1beta2=v1beta2"
// +kubebuilder:metadata:labels="clusterctl.cluster.x-k8s.io="
// +kubebuilder:printcolumn:name="Cluster",type="string",JSONPath=".metadata.labels.cluster\\.x-k8s\\.io/cluster-name",description="Cluster this OpenStackCluster belongs to"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status",description="Ready condition"
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].reason",description="Ready condition's reason",priority=1
// +kubebuilder:printcolumn:name="Provisioned",type="boolean",JSONPath=".status.initialization.provisioned",description="Infrastructure provisioned"
// +kubebuilder:printcolumn:name="Network",type="string",JSONPath=".status.network.id",description="Network of the cluster"
// +kubebuilder:printcolumn:name="Endpoint",type="string",JSONPath=".spec.controlPlaneEndpoint.host",description="API endpoint",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type OpenStackCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired infrastructure.
	// +optional
	Spec OpenStackClusterSpec `json:"spec,omitempty"`

	// status is what exists.
	// +optional
	Status OpenStackClusterStatus `json:"status,omitempty"`
}

// OpenStackClusterList is a list of OpenStackClusters.
// +kubebuilder:object:root=true
type OpenStackClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OpenStackCluster `json:"items"`
}

// GetConditions returns the cluster's conditions, for Cluster API's
// util/conditions.
func (c *OpenStackCluster) GetConditions() []metav1.Condition { return c.Status.Conditions }

// SetConditions replaces the cluster's conditions, for Cluster API's
// util/conditions.
func (c *OpenStackCluster) SetConditions(conditions []metav1.Condition) {
	c.Status.Conditions = conditions
}

// OpenStackClusterTemplateResource is what a template stamps out.
type OpenStackClusterTemplateResource struct {
	// metadata is added to the OpenStackClusters made from the template.
	// +optional
	ObjectMeta clusterv1.ObjectMeta `json:"metadata,omitempty,omitzero"`

	// spec is the spec of the OpenStackClusters made from the template.
	// +required
	Spec OpenStackClusterSpec `json:"spec"`
}

// OpenStackClusterTemplateSpec holds the template.
type OpenStackClusterTemplateSpec struct {
	// template is what each OpenStackCluster made from it looks like.
	// +required
	Template OpenStackClusterTemplateResource `json:"template"`
}

// OpenStackClusterTemplate is a template for OpenStackClusters, used by
// Cluster API's ClusterClass.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:resource:path=openstackclustertemplates,scope=Namespaced,categories=cluster-api,shortName=osct
// +kubebuilder:metadata:labels="cluster.x-k8s.io/v1beta2=v1beta2"
// +kubebuilder:metadata:labels="clusterctl.cluster.x-k8s.io="
type OpenStackClusterTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the template.
	// +optional
	Spec OpenStackClusterTemplateSpec `json:"spec,omitempty"`
}

// OpenStackClusterTemplateList is a list of OpenStackClusterTemplates.
// +kubebuilder:object:root=true
type OpenStackClusterTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OpenStackClusterTemplate `json:"items"`
}
