// Package v1beta2 holds openstrap's Cluster API infrastructure provider API
// for OpenStack: the kinds OpenStackCluster, OpenStackMachine,
// OpenStackClusterTemplate and OpenStackMachineTemplate in the group
// infrastructure.cluster.x-k8s.io, version v1beta2, and their
// CustomResourceDefinitions generated from these types by controller-gen.
//
// # Compatibility with the OpenStack provider for Cluster API
//
// The kinds, field names, JSON names and meanings follow the v1beta2 API of
// the OpenStack provider for Cluster API (CAPO, its main branch) for every
// field openstrap implements, so a CAPO user's manifests that stay within
// that subset apply unchanged. openstrap implements a subset: every field
// of CAPO's API that is not declared here is absent from the CRD schema.
//
// # Unknown fields are refused, never ignored
//
// The generated schemas are structural and never preserve unknown fields.
// Server-side apply (kubectl apply --server-side, openstrap's
// bootstrap.Install) refuses an unknown field, naming it:
//
//	.spec.template.spec.trunk: field not declared in schema
//
// So does a create or update that asks for field validation "Strict"
// (kubectl's default, client.WithFieldValidation(c,
// metav1.FieldValidationStrict) with controller-runtime):
//
//	strict decoding error: unknown field "spec.template.spec.trunk"
//
// A create or update that asks for "Warn" (the API server's default when a
// client asks for nothing) gets that text as a warning and the field
// dropped; "Ignore" drops it silently: do not use them with manifests
// written for CAPO. Values outside what openstrap implements (an additional
// block device of type Local, a port with two fixed IPs, a filter on both
// name and tags) are refused by schema validation (enums, limits and CEL
// rules) in every mode, with the field's path in the message.
//
// # Fields of CAPO's v1beta2 API
//
// Implemented in OpenStackCluster (and OpenStackClusterTemplate's
// spec.template.spec): identityRef (name, cloudName, region; type Secret
// only), managedSubnets (at most one: cidr, dnsNameservers), managedNetwork
// (mtu), network, subnets (at most one), router, externalNetwork (each by id
// or by a filter on name or on tags), enableExternalNetwork, apiServer
// (port, fixedIP for an internal cluster with neither load balancer nor
// floating IP, floatingIP, enableFloatingIP, managedLoadBalancer with
// enabled, allowedCIDRs, provider), managedSecurityGroups
// (clusterNodesSecurityGroupRules, controlPlaneNodesSecurityGroupRules,
// workerNodesSecurityGroupRules, allowAllInClusterTraffic; a rule has name,
// description, direction, etherType, portRangeMin, portRangeMax, protocol,
// remoteIPPrefix, remoteManagedGroups of controlplane and worker),
// controlPlaneEndpoint, controlPlaneAvailabilityZones,
// controlPlaneOmitAvailabilityZone. Status: conditions, initialization,
// network, externalNetwork, router, apiServerManagedLoadBalancer,
// failureDomains, controlPlaneSecurityGroup, workerSecurityGroup, and
// openstrap's additions apiServerFloatingIP, nodeSecurityGroup and the load
// balancer's listenerID, poolID, monitorID and vipPortID.
//
// Refused there: tags and apiServer.managedLoadBalancer.additionalPorts
// (declared in the Go types, a CEL rule refuses any value),
// apiServer.fixedIP with a load balancer or a floating IP, a filter on both
// name and tags, bastion, primarySubnet, managedRouter,
// managedNetwork.enablePortSecurity, managedSubnets[].allocationPools,
// apiServer.managedLoadBalancer's network, subnets, availabilityZone, flavor
// and monitor, identityRef.type ClusterIdentity, the network, subnet and
// router filters' fields other than name and tags (description, projectID,
// tagsAny, notTags, notTagsAny, and a subnet's ipVersion, gatewayIP, cidr,
// ipv6AddressMode, ipv6RAMode), a rule's remoteGroupID and the bastion
// managed group.
//
// Implemented in OpenStackMachine (and OpenStackMachineTemplate's
// spec.template.spec): providerID, flavor (id or filter.name), image (id or
// filter with name and tags), sshKeyName, ports (network by id or
// filter.name, at most one fixedIPs entry with subnet by id or filter.name
// and ipAddress, securityGroups, allowedAddressPairs), securityGroups (id or
// filter.name), tags, serverMetadata, configDrive, rootVolume (sizeGiB,
// type, availabilityZone), additionalBlockDevices (name, sizeGiB, storage of
// type Volume with type and availabilityZone), serverGroup (id or
// filter.name). Status: conditions, initialization, instanceID,
// instanceState, addresses, resolved (imageID, flavorID, serverGroupID),
// resources.ports, and openstrap's additions failureDomain and
// resources.volumes.
//
// Refused there: trunk, identityRef, floatingIPPoolRef,
// schedulerHintAdditionalProperties, image.imageRef, a port's description,
// nameSuffix, tags, trunk, adminStateUp, macAddress, hostID, vnicType,
// profile, enablePortSecurity, propagateUplinkStatus and valueSpecs, a
// port's network or fixed IP's subnet selected by tags, a security group
// filter's fields other than name, additional block devices of type Local,
// and OpenStackMachineTemplate's status (capacity, nodeInfo, conditions).
//
// # Using the package
//
// AddToScheme registers the types; CRDs returns the CustomResourceDefinitions
// embedded in the package, ready to install with server-side apply, with the
// Cluster API contract label (cluster.x-k8s.io/v1beta2: v1beta2) and the
// clusterctl label that clusterctl move requires. The types are plain data:
// methods on them only read and write fields, never talk to a cloud or a
// cluster, and are safe for concurrent reads.
//
// +kubebuilder:object:generate=true
// +groupName=infrastructure.cluster.x-k8s.io
package v1beta2
