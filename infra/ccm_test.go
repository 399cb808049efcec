package infra_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"

	"github.com/openstrap/openstrap/infra"
)

// TestDeleteCloudProviderResources: what the cluster's workloads left (a
// Service load balancer and its floating IP from the cloud controller
// manager, a PersistentVolume's Cinder volume from the CSI driver, where the
// cloud has Cinder) blocks Delete until it is opted in, and only the
// cluster's are removed.
func TestDeleteCloudProviderResources(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	inf := infra.New(e.cloud, infra.WithPollInterval(5*time.Millisecond, 50*time.Millisecond))
	st, err := inf.Ensure(ctx, e.spec(baseSpec()))
	if err != nil {
		t.Fatal(err)
	}
	lb, err := loadbalancers.Create(ctx, e.cloud.LoadBalancer, loadbalancers.CreateOpts{
		Name: "kube_service_" + e.cluster + "_default_web", VipSubnetID: st.SubnetID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// The cloud controller manager waits for its load balancer before it
	// adds a floating IP.
	for {
		x, err := loadbalancers.Get(ctx, e.cloud.LoadBalancer, lb.ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if x.ProvisioningStatus == "ACTIVE" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ccmFIP, err := floatingips.Create(ctx, e.cloud.Network, floatingips.CreateOpts{FloatingNetworkID: st.ExternalNetworkID, PortID: lb.VipPortID,
		Description: "Floating IP for Kubernetes external service default/web from cluster " + e.cluster}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// Another cluster's leftovers stay.
	other, err := floatingips.Create(ctx, e.cloud.Network, floatingips.CreateOpts{FloatingNetworkID: st.ExternalNetworkID,
		Description: "Floating IP for Kubernetes external service default/web from cluster other"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = floatingips.Delete(context.Background(), e.cloud.Network, other.ID).ExtractErr() })
	var mine *volumes.Volume
	if e.cloud.BlockStorage != nil {
		mine, err = volumes.Create(ctx, e.cloud.BlockStorage, volumes.CreateOpts{Size: 1, Name: "pvc-1",
			Metadata: map[string]string{"cinder.csi.openstack.org/cluster": e.cluster}}, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := volumes.Create(ctx, e.cloud.BlockStorage, volumes.CreateOpts{Size: 1, Name: "pvc-2",
			Metadata: map[string]string{"cinder.csi.openstack.org/cluster": "other"}}, nil).Extract(); err != nil {
			t.Fatal(err)
		}
	}

	e.resetCalls()
	err = inf.Delete(ctx, e.cluster)
	if !errors.Is(err, infra.ErrInUse) || !strings.Contains(err.Error(), "CloudProviderResources") {
		t.Fatalf("Delete without CloudProviderResources = %v, want ErrInUse naming the option", err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("refusing Delete made %d writes", w)
	}
	opts := []infra.DeleteOption{infra.CloudProviderResources()}
	if mine != nil {
		opts = append(opts, infra.CSIVolumes())
	}
	if err := inf.Delete(ctx, e.cluster, opts...); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"Service load balancer": loadbalancers.Get(ctx, e.cloud.LoadBalancer, lb.ID).Err,
		"its floating IP":       floatingips.Get(ctx, e.cloud.Network, ccmFIP.ID).Err,
	} {
		if !gophercloud.ResponseCodeIs(err, 404) {
			t.Errorf("%s after Delete: %v, want 404", what, err)
		}
	}
	if _, err := floatingips.Get(ctx, e.cloud.Network, other.ID).Extract(); err != nil {
		t.Errorf("the other cluster's floating IP: %v", err)
	}
	if mine != nil {
		if _, err := volumes.Get(ctx, e.cloud.BlockStorage, mine.ID).Extract(); err == nil {
			t.Error("the cluster's CSI volume is still there")
		}
	}
	if e.srv == nil {
		return
	}
	// Left beyond a fresh cloud: the other cluster's floating IP (with its
	// port on the external network) and volume.
	left := minus(shape(e.snapshot()), shape(e.base))
	if diff := cmp.Diff([]string{`network/floatingip "" []`, `network/port "" []`, `volume/volume "pvc-2" []`}, left); diff != "" {
		t.Errorf("after Delete, beyond the fresh cloud (-want +got):\n%s", diff)
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
