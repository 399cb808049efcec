package controllers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// bigUserData is cloud-config over Nova's 64 KiB limit once base64
// encoded, compressible (as kubeadm's certificates and manifests are not
// quite, but gzip still wins a lot).
func bigUserData() []byte {
	var b strings.Builder
	b.WriteString("#cloud-config\nwrite_files:\n")
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; b.Len() < 120<<10; i++ {
		fmt.Fprintf(&b, "- path: /etc/demo/file-%d\n  content: |\n    %s %d\n", i, strings.Repeat("kubeadm-config-line ", 8), r.IntN(1000))
	}
	return []byte(b.String())
}

// TestClusterAndMachineLifecycle: an OpenStackCluster gets its network,
// load balancer and endpoint; a control-plane and a worker OpenStackMachine
// get servers (the worker's user data is over Nova's limit and goes
// gzipped), provider IDs and addresses; the control plane joins the load
// balancer's pool; a steady-state resync writes nothing; deleting the
// machines and then the cluster leaves the cloud as it was.
func TestClusterAndMachineLifecycle(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	userData := map[string][]byte{} // by server ID, as Nova got it
	e := newEnv(t, openstacktest.WithBootDelay(300*time.Millisecond), openstacktest.WithLoadBalancerDelay(200*time.Millisecond),
		openstacktest.WithServerHooks(openstacktest.ServerHooks{OnActive: func(_ context.Context, ev openstacktest.BootEvent) error {
			mu.Lock()
			defer mu.Unlock()
			userData[ev.ServerID] = ev.UserData
			return nil
		}}))
	_, _ = e.createCluster("demo", false, nil)
	osc := e.waitClusterProvisioned("demo")

	ep := osc.Spec.ControlPlaneEndpoint
	if ep == nil || osc.Status.APIServerFloatingIP == nil || ep.Host != osc.Status.APIServerFloatingIP.IP || ep.Port != 6443 {
		t.Fatalf("endpoint %+v, floating IP %+v: want the floating IP on 6443", ep, osc.Status.APIServerFloatingIP)
	}
	if osc.Status.Network == nil || len(osc.Status.Network.Subnets) != 1 || osc.Status.Network.Subnets[0].CIDR != "10.6.0.0/24" ||
		osc.Status.APIServerManagedLoadBalancer == nil || osc.Status.APIServerManagedLoadBalancer.PoolID == "" ||
		osc.Status.ControlPlaneSecurityGroup == nil || osc.Status.WorkerSecurityGroup == nil || osc.Status.NodeSecurityGroup == nil {
		t.Fatalf("status lacks network, load balancer or groups: %+v", osc.Status)
	}
	if len(osc.Status.FailureDomains) != 1 || osc.Status.FailureDomains[0].Name != "nova" {
		t.Errorf("failure domains %+v, want the simulator's zone nova", osc.Status.FailureDomains)
	}
	if !conditions.IsTrue(osc, infrav1.ReadyCondition) {
		t.Errorf("Ready is not True: %s", conditionState(osc))
	}
	if !controllerutil.ContainsFinalizer(osc, infrav1.ClusterFinalizer) {
		t.Errorf("no finalizer on the OpenStackCluster")
	}
	for kind, want := range map[string]int{"network/network": 1, "network/subnet": 1, "network/router": 1, "load-balancer/loadbalancer": 1, "network/floatingip": 1} {
		if got := e.countKind(kind); got != want {
			t.Errorf("%s: %d made, want %d (added: %v)", kind, got, want, e.added())
		}
	}

	big := bigUserData()
	e.createMachine("demo", "demo-cp-0", true, []byte("#cloud-config\nhostname: demo-cp-0\n"), nil)
	e.createMachine("demo", "demo-md-0", false, big, nil)
	cp := e.waitMachineProvisioned("demo-cp-0")
	wk := e.waitMachineProvisioned("demo-md-0")

	cloud, err := e.sim.Cloud(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*infrav1.OpenStackMachine{cp, wk} {
		if m.Status.InstanceID == nil || m.Spec.ProviderID == nil || *m.Spec.ProviderID != "openstack:///"+*m.Status.InstanceID {
			t.Fatalf("%s: providerID %v, instance %v", m.Name, m.Spec.ProviderID, m.Status.InstanceID)
		}
		if m.Status.InstanceState == nil || *m.Status.InstanceState != infrav1.InstanceStateActive || len(m.Status.Addresses) < 2 ||
			m.Status.Addresses[0].Type != clusterv1.MachineInternalIP || !strings.HasPrefix(m.Status.Addresses[0].Address, "10.6.0.") {
			t.Errorf("%s: state %v addresses %+v", m.Name, m.Status.InstanceState, m.Status.Addresses)
		}
		srv, err := servers.Get(e.ctx, cloud.Compute, *m.Status.InstanceID).Extract()
		if err != nil {
			t.Fatalf("%s: server: %v", m.Name, err)
		}
		if srv.Name != m.Name || srv.Status != "ACTIVE" {
			t.Errorf("%s: server %q is %s", m.Name, srv.Name, srv.Status)
		}
	}
	if !conditions.IsTrue(cp, infrav1.APIServerIngressReadyCondition) {
		t.Errorf("control plane not in the pool: %s", conditionState(cp))
	}
	pages, err := pools.ListMembers(cloud.LoadBalancer, osc.Status.APIServerManagedLoadBalancer.PoolID, nil).AllPages(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	members, _ := pools.ExtractMembers(pages)
	if len(members) != 1 || members[0].Name != "demo-cp-0" || members[0].Address != cp.Status.Addresses[0].Address {
		t.Errorf("pool members %+v, want demo-cp-0 at %s", members, cp.Status.Addresses[0].Address)
	}
	if e.countKind("compute/server") != 2 || e.countKind("compute/server_group") != 1 {
		t.Errorf("servers and groups: %v", e.added())
	}
	// The worker's user data went gzipped: the simulator keeps what Nova got.
	mu.Lock()
	raw := userData[*wk.Status.InstanceID]
	mu.Unlock()
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("worker user data is not gzip: %v", err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, big) {
		t.Errorf("gunzipped user data differs from the bootstrap Secret's (%d vs %d bytes)", len(got), len(big))
	}

	// Steady state: reconciles triggered by a change of metadata write
	// nothing to the cloud.
	e.sim.ResetCalls()
	for _, o := range []client.Object{e.getCluster("demo"), e.getMachine("demo-cp-0"), e.getMachine("demo-md-0")} {
		patch := client.MergeFrom(o.DeepCopyObject().(client.Object))
		o.SetAnnotations(map[string]string{"test/resync": time.Now().String()})
		if err := e.c.Patch(e.ctx, o, patch); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	calls := e.sim.Calls()
	if calls.Writes() != 0 {
		t.Errorf("steady-state reconciles made %d writes: %v", calls.Writes(), calls)
	}
	if calls.Reads() == 0 {
		t.Errorf("no reconcile looked at the cloud after the annotations changed")
	}
	t.Logf("steady-state resync of 1 cluster and 2 machines: %d reads, %d writes", calls.Reads(), calls.Writes())

	// Delete: the cluster waits for its machines.
	if err := e.c.Delete(e.ctx, e.getCluster("demo")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if c := conditions.Get(e.getCluster("demo"), infrav1.ReadyCondition); c == nil || c.Reason != infrav1.DeletingReason {
		t.Errorf("cluster being deleted with machines left: %v", c)
	}
	if e.countKind("network/network") != 1 {
		t.Fatalf("the network went while machines exist")
	}
	e.deleteAndWait(&infrav1.OpenStackMachine{ObjectMeta: metav1.ObjectMeta{Name: "demo-cp-0", Namespace: e.ns}})
	if len(members) > 0 {
		pages, err := pools.ListMembers(cloud.LoadBalancer, osc.Status.APIServerManagedLoadBalancer.PoolID, nil).AllPages(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ms, _ := pools.ExtractMembers(pages); len(ms) != 0 {
			t.Errorf("pool members after the control plane's delete: %+v", ms)
		}
	}
	e.deleteAndWait(&infrav1.OpenStackMachine{ObjectMeta: metav1.ObjectMeta{Name: "demo-md-0", Namespace: e.ns}})
	e.deleteAndWait(&infrav1.OpenStackCluster{ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: e.ns}})
	if left := e.added(); len(left) > 0 {
		t.Errorf("left in the cloud after delete: %v", left)
	}
}

// TestLoadBalancerPendingIsRequeued: while Octavia builds the load
// balancer the cluster says so in APIEndpointReady (Provisioning) instead
// of a reconcile waiting for it, and is provisioned once it is ACTIVE.
func TestLoadBalancerPendingIsRequeued(t *testing.T) {
	t.Parallel()
	e := newEnv(t, openstacktest.WithLoadBalancerDelay(2*time.Second))
	e.createCluster("slow", false, nil)
	// Conditions and the rest of the status are two patches: wait for
	// both to show the load balancer building.
	var c *metav1.Condition
	var osc *infrav1.OpenStackCluster
	e.eventually("APIEndpointReady Provisioning with the network published", time.Minute, func() (bool, string) {
		osc = e.getCluster("slow")
		c = conditions.Get(osc, infrav1.APIEndpointReadyCondition)
		return c != nil && c.Reason == infrav1.ProvisioningReason && osc.Status.Network != nil, conditionState(osc)
	})
	if !strings.Contains(c.Message, "Octavia") {
		t.Errorf("pending message %q", c.Message)
	}
	if osc.Status.Initialization != nil {
		t.Errorf("while the load balancer builds: initialization %+v; want not provisioned", osc.Status.Initialization)
	}
	e.waitClusterProvisioned("slow")
	e.deleteAndWait(&infrav1.OpenStackCluster{ObjectMeta: metav1.ObjectMeta{Name: "slow", Namespace: e.ns}})
	if left := e.added(); len(left) > 0 {
		t.Errorf("left in the cloud: %v", left)
	}
}
