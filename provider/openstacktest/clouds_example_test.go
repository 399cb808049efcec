package openstacktest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

// A test harness starts a simulated cloud, connects to it like to any
// cloud and boots a server; a hook sees the server's user data when it
// becomes ACTIVE.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	booted := make(chan openstacktest.BootEvent, 1)
	s, err := openstacktest.NewServer(openstacktest.WithSeed(1), openstacktest.WithServerHooks(openstacktest.ServerHooks{
		OnActive: func(_ context.Context, ev openstacktest.BootEvent) error {
			booted <- ev
			return nil
		},
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	cloud, err := s.Cloud(ctx) // or provider.Connect with s.CloudsYAML() on disk
	if err != nil {
		log.Fatal(err)
	}
	net, err := networks.Create(ctx, cloud.Network, networks.CreateOpts{Name: "demo"}).Extract()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := subnets.Create(ctx, cloud.Network, subnets.CreateOpts{NetworkID: net.ID, CIDR: "10.6.0.0/24", IPVersion: 4}).Extract(); err != nil {
		log.Fatal(err)
	}
	page, err := images.List(cloud.Image, images.ListOpts{Name: openstacktest.ImageName}).AllPages(ctx)
	if err != nil {
		log.Fatal(err)
	}
	imgs, _ := images.ExtractImages(page)
	srv, err := servers.Create(ctx, cloud.Compute, servers.CreateOpts{Name: "demo-cp-0", ImageRef: imgs[0].ID, FlavorRef: "2",
		Networks: []servers.Network{{UUID: net.ID}}, UserData: []byte("#cloud-config\n")}, nil).Extract()
	if err != nil {
		log.Fatal(err)
	}
	ev := <-booted
	got, err := servers.Get(ctx, cloud.Compute, srv.ID).Extract()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Name, got.Status, ev.Addresses["demo"], string(ev.UserData))
	// Output: demo-cp-0 ACTIVE [10.6.0.127] #cloud-config
}
