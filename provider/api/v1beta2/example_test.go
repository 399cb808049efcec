package v1beta2_test

import (
	"fmt"

	v1beta2 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// The CRDs come with the package: a manager that imports it installs them
// (with server-side apply) before it starts its controllers.
func ExampleCRDs() {
	crds, err := v1beta2.CRDs()
	if err != nil {
		panic(err)
	}
	for _, crd := range crds {
		fmt.Println(crd.Name, crd.Labels["cluster.x-k8s.io/v1beta2"])
	}
	// Output:
	// openstackclusters.infrastructure.cluster.x-k8s.io v1beta2
	// openstackclustertemplates.infrastructure.cluster.x-k8s.io v1beta2
	// openstackmachines.infrastructure.cluster.x-k8s.io v1beta2
	// openstackmachinetemplates.infrastructure.cluster.x-k8s.io v1beta2
}

// A reconciler sets the provider ID from the server's UUID; the kubelet
// registers the Node with the same value.
func ExampleParseProviderID() {
	id := v1beta2.ProviderID("", "8f3c6e0a-9a53-4d0e-9f8e-2b1d7c5a4e11")
	region, server, err := v1beta2.ParseProviderID(id)
	fmt.Printf("%s region=%q server=%s err=%v\n", id, region, server, err)
	// Output:
	// openstack:///8f3c6e0a-9a53-4d0e-9f8e-2b1d7c5a4e11 region="" server=8f3c6e0a-9a53-4d0e-9f8e-2b1d7c5a4e11 err=<nil>
}
