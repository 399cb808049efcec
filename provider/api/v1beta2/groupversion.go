package v1beta2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group is the API group of the kinds in this package, the one Cluster API
// expects infrastructure providers to use.
const Group = "infrastructure.cluster.x-k8s.io"

// Version is the API version of the kinds in this package.
const Version = "v1beta2"

// GroupVersion is Group and Version together, for building
// GroupVersionKinds and GroupVersionResources. Treat it as a constant.
var GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// Kind names of the types in this package, as they appear in manifests and
// in Cluster API's object references.
const (
	OpenStackClusterKind         = "OpenStackCluster"
	OpenStackClusterTemplateKind = "OpenStackClusterTemplate"
	OpenStackMachineKind         = "OpenStackMachine"
	OpenStackMachineTemplateKind = "OpenStackMachineTemplate"
)

// AddToScheme registers every kind of this package (and its List) with s
// under GroupVersion, so that clients and managers built on s can encode
// and decode them.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&OpenStackCluster{}, &OpenStackClusterList{},
		&OpenStackClusterTemplate{}, &OpenStackClusterTemplateList{},
		&OpenStackMachine{}, &OpenStackMachineList{},
		&OpenStackMachineTemplate{}, &OpenStackMachineTemplateList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
