package v1beta2

// Condition types of OpenStackCluster and OpenStackMachine (v1beta2
// conditions, metav1.Condition). Ready sums the others up; Cluster API
// reads it into the owning Cluster's or Machine's InfrastructureReady.
const (
	// ReadyCondition is True when every other condition of the object is.
	ReadyCondition = "Ready"

	// OpenStackAuthenticationSucceededCondition is True when the
	// identityRef Secret was read and the cloud accepted its credentials.
	OpenStackAuthenticationSucceededCondition = "OpenStackAuthenticationSucceeded"

	// NetworkReadyCondition (cluster) is True when the network, subnet and
	// router exist or were found.
	NetworkReadyCondition = "NetworkReady"

	// SecurityGroupsReadyCondition (cluster) is True when the managed
	// security groups and their rules are as specified.
	SecurityGroupsReadyCondition = "SecurityGroupsReady"

	// APIEndpointReadyCondition (cluster) is True when the control plane
	// endpoint (load balancer, floating IP) exists and is in
	// spec.controlPlaneEndpoint.
	APIEndpointReadyCondition = "APIEndpointReady"

	// FailureDomainsReadyCondition (cluster) is True when the availability
	// zones were read into status.failureDomains.
	FailureDomainsReadyCondition = "FailureDomainsReady"

	// InstanceReadyCondition (machine) is True when the server is ACTIVE.
	InstanceReadyCondition = "InstanceReady"

	// APIServerIngressReadyCondition (control-plane machine) is True when
	// the server is a member of the API server's load balancer pool (or
	// holds the endpoint's floating IP).
	APIServerIngressReadyCondition = "APIServerIngressReady"
)

// Condition reasons. Messages that go with the failure reasons say what is
// wrong and what to do; they never carry a secret.
const (
	// ReadyReason: the condition is True.
	ReadyReason = "Ready"

	// ProvisioningReason: work is under way (a create was sent, a resource
	// is still building); openstrap checks again later.
	ProvisioningReason = "Provisioning"

	// DeletingReason: the object is being deleted and its resources are
	// going away.
	DeletingReason = "Deleting"

	// DeletionFailedReason: a resource could not be deleted; the message
	// names it.
	DeletionFailedReason = "DeletionFailed"

	// PausedReason: the object or its Cluster carries the
	// cluster.x-k8s.io/paused annotation (or spec.paused); nothing is done.
	PausedReason = "Paused"

	// WaitingForClusterInfrastructureReason: the machine waits for its
	// OpenStackCluster to be provisioned.
	WaitingForClusterInfrastructureReason = "WaitingForClusterInfrastructure"

	// WaitingForBootstrapDataReason: the machine waits for its Machine's
	// bootstrap data Secret.
	WaitingForBootstrapDataReason = "WaitingForBootstrapData"

	// InvalidSpecReason: the spec cannot be acted on as it is (a reference
	// that matches several resources, a value the cloud refuses with 400);
	// fix the spec.
	InvalidSpecReason = "InvalidSpec"

	// AuthenticationFailedReason: the identityRef Secret is missing or
	// unreadable, or the cloud refused its credentials (401/403); fix the
	// Secret.
	AuthenticationFailedReason = "OpenStackAuthenticationFailed"

	// QuotaExceededReason: the project's quota refused a create; raise the
	// quota or free resources. openstrap retries slowly.
	QuotaExceededReason = "QuotaExceeded"

	// ImageNotFoundReason: spec.image matches no image (or several).
	ImageNotFoundReason = "ImageNotFound"

	// FlavorNotFoundReason: spec.flavor matches no flavor.
	FlavorNotFoundReason = "FlavorNotFound"

	// NetworkNotFoundReason: a network, subnet or router the spec names
	// does not exist (or several match).
	NetworkNotFoundReason = "NetworkNotFound"

	// NetworkReconcileFailedReason: creating or updating the network,
	// subnet or router failed.
	NetworkReconcileFailedReason = "NetworkReconcileFailed"

	// SecurityGroupReconcileFailedReason: creating or updating a managed
	// security group or rule failed.
	SecurityGroupReconcileFailedReason = "SecurityGroupReconcileFailed"

	// APIEndpointReconcileFailedReason: creating the load balancer or the
	// floating IP of the endpoint failed.
	APIEndpointReconcileFailedReason = "APIEndpointReconcileFailed"

	// InstanceCreateFailedReason: Nova refused or failed the server create.
	InstanceCreateFailedReason = "InstanceCreateFailed"

	// InstanceStateErrorReason: the server went to ERROR; the message
	// carries Nova's fault.
	InstanceStateErrorReason = "InstanceStateError"

	// InstanceNotReadyReason: the server is building.
	InstanceNotReadyReason = "InstanceNotReady"

	// InstanceDeletedReason: the server was deleted behind openstrap's
	// back; the Machine has to be replaced.
	InstanceDeletedReason = "InstanceDeleted"

	// LoadBalancerMemberErrorReason: adding the control-plane machine to
	// the API server pool failed.
	LoadBalancerMemberErrorReason = "LoadBalancerMemberError"

	// OpenStackErrorReason: any other cloud error; the message has it.
	OpenStackErrorReason = "OpenStackError"
)
