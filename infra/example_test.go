package infra_test

import (
	"context"
	"fmt"
	"log"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// Step 1 of a cluster: its infrastructure, then the first control-plane
// machine behind the API load balancer, and finally everything removed.
func Example() {
	ctx := context.Background()
	srv, err := openstacktest.NewServer() // a real cloud: provider.Connect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	cloud, err := srv.Cloud(ctx)
	if err != nil {
		log.Fatal(err)
	}

	inf := infra.New(cloud)
	spec := infra.Spec{Cluster: "demo", NodeCIDR: "10.6.0.0/24", ExternalNetwork: "public"}
	plan, err := inf.Plan(ctx, spec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("changes planned:", len(plan.Changes) > 0)

	st, err := inf.Ensure(ctx, spec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("endpoint port:", st.APIEndpoint.Port)

	// Machine creation registers control-plane machines through the pool
	// (provider.WithAPIServerPool(inf.APIServerPool(st))).
	if err := inf.AddAPIServerMember(ctx, st, infra.Member{Name: "demo-cp-0", Address: "10.6.0.12"}); err != nil {
		log.Fatal(err)
	}

	// A later Ensure with the stored status changes nothing.
	if _, err := inf.Ensure(ctx, spec, infra.WithStatus(st)); err != nil {
		log.Fatal(err)
	}
	if err := inf.Delete(ctx, "demo"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("deleted")
	// Output:
	// changes planned: true
	// endpoint port: 6443
	// deleted
}
