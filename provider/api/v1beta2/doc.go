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
// A client that asks for server-side field validation "Strict" (kubectl's
// default since Kubernetes 1.27, client.WithFieldValidation(
// metav1.FieldValidationStrict) for controller-runtime, and what openstrap's
// installer uses) gets the request refused with the field's path in the
// message, e.g.
//
//	.spec.template.spec.trunk: field not declared in schema
//
// A client that asks for "Warn" gets the same text as a warning and the
// field is pruned; "Ignore" prunes it silently, so do not use it with
// manifests written for CAPO. Values outside what openstrap implements
// (an additional block device of type Local, a port with two fixed IPs, a
// network filter by a field openstrap cannot query) are refused by schema
// validation (enums, limits and CEL rules) whatever the field validation
// mode, with the field's path in the message.
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
