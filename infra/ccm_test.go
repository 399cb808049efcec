package infra_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/cloudtest"
)

// TestDeleteCloudProviderResources: what the cluster's workloads left (a
// Service load balancer and its floating IP from the cloud controller
// manager, a PersistentVolume's Cinder volume from the CSI driver) blocks
// Delete until it is opted in, and only the cluster's are removed.
func TestDeleteCloudProviderResources(t *testing.T) {
	cloudtest.RequireSim(t, cloudtest.NeedsVIPPort)
	e := newEnv(t)
	ctx := testCtx(t)
	inf := infra.New(e.cloud, infra.WithPollInterval(5*time.Millisecond, 50*time.Millisecond))
	st, err := inf.Ensure(ctx, baseSpec())
	if err != nil {
		t.Fatal(err)
	}
	lb, err := loadbalancers.Create(ctx, e.cloud.LoadBalancer, loadbalancers.CreateOpts{
		Name: "kube_service_demo_default_web", VipSubnetID: st.SubnetID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := floatingips.Create(ctx, e.cloud.Network, floatingips.CreateOpts{FloatingNetworkID: st.ExternalNetworkID, PortID: lb.VipPortID,
		Description: "Floating IP for Kubernetes external service default/web from cluster demo"}).Extract(); err != nil {
		t.Fatal(err)
	}
	// Another cluster's leftovers stay.
	if _, err := floatingips.Create(ctx, e.cloud.Network, floatingips.CreateOpts{FloatingNetworkID: st.ExternalNetworkID,
		Description: "Floating IP for Kubernetes external service default/web from cluster other"}).Extract(); err != nil {
		t.Fatal(err)
	}
	mine, err := volumes.Create(ctx, e.cloud.BlockStorage, volumes.CreateOpts{Size: 1, Name: "pvc-1",
		Metadata: map[string]string{"cinder.csi.openstack.org/cluster": "demo"}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := volumes.Create(ctx, e.cloud.BlockStorage, volumes.CreateOpts{Size: 1, Name: "pvc-2",
		Metadata: map[string]string{"cinder.csi.openstack.org/cluster": "other"}}, nil).Extract(); err != nil {
		t.Fatal(err)
	}

	e.resetCalls()
	err = inf.Delete(ctx, "demo")
	if !errors.Is(err, infra.ErrInUse) || !strings.Contains(err.Error(), "CloudProviderResources") {
		t.Fatalf("Delete without CloudProviderResources = %v, want ErrInUse naming the option", err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("refusing Delete made %d writes", w)
	}
	if err := inf.Delete(ctx, "demo", infra.CloudProviderResources(), infra.CSIVolumes()); err != nil {
		t.Fatal(err)
	}
	// Left beyond a fresh cloud: the other cluster's floating IP (with its
	// port on the external network) and volume.
	left := minus(shape(e.snapshot()), shape(e.base))
	if diff := cmp.Diff([]string{`network/floatingip "" []`, `network/port "" []`, `volume/volume "pvc-2" []`}, left); diff != "" {
		t.Errorf("after Delete, beyond the fresh cloud (-want +got):\n%s", diff)
	}
	if _, err := volumes.Get(ctx, e.cloud.BlockStorage, mine.ID).Extract(); err == nil {
		t.Error("the cluster's CSI volume is still there")
	}
}

// minus returns the elements of a not in b, as multisets; both sorted.
func minus(a, b []string) []string {
	left := []string{}
	n := map[string]int{}
	for _, x := range b {
		n[x]++
	}
	for _, x := range a {
		if n[x] > 0 {
			n[x]--
			continue
		}
		left = append(left, x)
	}
	return left
}
