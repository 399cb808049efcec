package provider_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// Step 4 of the flow: the first control-plane machine of cluster "demo",
// registered with the API server pool, then deleted again. The simulator
// stands in for the cloud; with a real one, provider.Connect(ctx) gives the
// *provider.Cloud and infra gives the network and the pool.
func ExampleMachines_Create() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sim, err := openstacktest.NewServer(openstacktest.WithBootDelay(20 * time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	cloud, err := sim.Cloud(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// What infra.Ensure would have created.
	net, err := networks.Create(ctx, cloud.Network, networks.CreateOpts{Name: "demo-net"}).Extract()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := subnets.Create(ctx, cloud.Network, subnets.CreateOpts{NetworkID: net.ID, CIDR: "10.6.0.0/24", IPVersion: 4}).Extract(); err != nil {
		log.Fatal(err)
	}

	pool := &printPool{}
	machines := provider.NewMachines(cloud, provider.WithAPIServerPool(pool))
	m, err := machines.Create(ctx, provider.MachineSpec{
		Cluster:  "demo",
		Name:     "demo-cp-0",
		Role:     provider.ControlPlane,
		Flavor:   "m1.medium",
		Image:    openstacktest.ImageName,
		UserData: []byte("#cloud-config\n"), // userdata.Render's kubeadm init document
		Ports:    []provider.PortSpec{{Network: "demo-net"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name, m.Status, m.ProviderID == "openstack:///"+m.ServerID, m.ServerGroupID != "")

	// Create again: the same machine, nothing created.
	again, err := machines.Create(ctx, provider.MachineSpec{Cluster: "demo", Name: "demo-cp-0", Role: provider.ControlPlane,
		Flavor: "m1.medium", Image: openstacktest.ImageName, Ports: []provider.PortSpec{{Network: "demo-net"}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same server:", again.ServerID == m.ServerID)

	if err := machines.Delete(ctx, "demo", "demo-cp-0"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// pool: add demo-cp-0
	// demo-cp-0 ACTIVE true true
	// pool: add demo-cp-0
	// same server: true
	// pool: remove demo-cp-0
}

// printPool stands in for infra's API server pool.
type printPool struct{}

func (printPool) AddMember(_ context.Context, name, _ string) error {
	fmt.Println("pool: add", name)
	return nil
}

func (printPool) RemoveMember(_ context.Context, name string) error {
	fmt.Println("pool: remove", name)
	return nil
}
