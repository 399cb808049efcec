package clustertemplate_test

import (
	"fmt"

	"github.com/openstrap/openstrap/bootstrap/clustertemplate"
)

// Render a cluster from typed values and list its objects. To apply them,
// pass the same variables to bootstrap.Install:
//
//	bootstrap.Install(ctx, mgmt, [][]byte{clustertemplate.Template()}, bootstrap.Variables(v.Vars()))
func Example() {
	v := clustertemplate.Values{
		ClusterName:       "demo",
		KubernetesVersion: "v1.37.2",
		WorkerCount:       2,
		CloudName:         "mycloud",
		CloudsYAML:        []byte("clouds:\n  mycloud:\n    auth:\n      auth_url: https://keystone.example:5000/v3\n"),
		Image:             "ubuntu-24.04",
	}
	manifest, err := v.Render() // Validate, then Render(Template(), v.Vars())
	if err != nil {
		fmt.Println(err)
		return
	}
	objs, err := clustertemplate.Decode(manifest)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range objs {
		fmt.Println(o.GetObjectKind().GroupVersionKind().Kind, o.GetName())
	}

	v.ControlPlaneCount = 2
	fmt.Println(v.Validate())
	// Output:
	// Secret demo-cloud-config
	// Cluster demo
	// OpenStackCluster demo
	// KubeadmControlPlane demo-control-plane
	// OpenStackMachineTemplate demo-control-plane-b2917dce
	// MachineDeployment demo-md-0
	// OpenStackMachineTemplate demo-md-0-f5a779cf
	// KubeadmConfigTemplate demo-md-0
	// MachineHealthCheck demo-md-0
	// invalid cluster template values: ControlPlaneCount (CONTROL_PLANE_MACHINE_COUNT) 2: must be odd, since etcd runs on the control plane machines (Cluster API refuses an even count); use 1 or 3
}
