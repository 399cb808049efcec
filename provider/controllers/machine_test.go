package controllers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestMachineStates: without a load balancer the endpoint's floating IP
// goes to the first control plane; a server that fails to boot, one deleted
// behind openstrap's back and a quota refusal each end in a condition that
// says so, with no server re-created; a machine waits for its bootstrap
// data; deleting everything leaves nothing.
func TestMachineStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, openstacktest.WithBootDelay(200*time.Millisecond))
	e.createCluster("nolb", false, func(s *infrav1.OpenStackClusterSpec) {
		s.APIServer = nil // no load balancer: the floating IP is the endpoint
		s.ManagedSecurityGroups = nil
	})
	osc := e.waitClusterProvisioned("nolb")
	if osc.Status.APIServerManagedLoadBalancer != nil || osc.Status.APIServerFloatingIP == nil ||
		osc.Spec.ControlPlaneEndpoint.Host != osc.Status.APIServerFloatingIP.IP {
		t.Fatalf("no-LB cluster: lb %+v fip %+v endpoint %+v", osc.Status.APIServerManagedLoadBalancer, osc.Status.APIServerFloatingIP, osc.Spec.ControlPlaneEndpoint)
	}
	cloud, err := e.sim.Cloud(e.ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Waiting for bootstrap data: nothing is made.
	e.createMachine("nolb", "nolb-cp-0", true, nil, nil)
	e.waitCondition(func() conditions.Getter { return e.getMachine("nolb-cp-0") }, infrav1.InstanceReadyCondition, infrav1.WaitingForBootstrapDataReason)
	if e.countKind("compute/server") != 0 {
		t.Fatalf("a server without bootstrap data: %v", e.added())
	}
	// The bootstrap provider writes its Secret and sets dataSecretName.
	e.setBootstrapData("nolb-cp-0", []byte("#cloud-config\n"))
	cp := e.waitMachineProvisioned("nolb-cp-0")
	fip, err := floatingips.Get(e.ctx, cloud.Network, osc.Status.APIServerFloatingIP.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if fip.FixedIP != cp.Status.Addresses[0].Address {
		t.Errorf("endpoint floating IP is on %q, want the control plane's %s", fip.FixedIP, cp.Status.Addresses[0].Address)
	}

	// A boot failure.
	remove := e.sim.FailBoot(func(name string) bool { return name == "nolb-md-fail" }, "No valid host was found.")
	e.createMachine("nolb", "nolb-md-fail", false, []byte("#cloud-config\n"), nil)
	c := e.waitCondition(func() conditions.Getter { return e.getMachine("nolb-md-fail") }, infrav1.InstanceReadyCondition, infrav1.InstanceStateErrorReason)
	remove()
	if !strings.Contains(c.Message, "No valid host") || !strings.Contains(c.Message, "delete the Machine") {
		t.Errorf("boot failure message %q", c.Message)
	}

	// A server deleted behind openstrap's back is not re-created.
	e.createMachine("nolb", "nolb-md-gone", false, []byte("#cloud-config\n"), nil)
	gone := e.waitMachineProvisioned("nolb-md-gone")
	if err := servers.Delete(e.ctx, cloud.Compute, *gone.Status.InstanceID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// Nothing watches the cloud: a change of the object (or the periodic
	// resync of the manager) makes the reconciler look.
	e.waitCondition(func() conditions.Getter {
		m := e.getMachine("nolb-md-gone")
		e.poke(m)
		return m
	}, infrav1.InstanceReadyCondition, infrav1.InstanceDeletedReason)
	time.Sleep(500 * time.Millisecond)
	for _, a := range e.added() {
		if a == "compute/server nolb-md-gone" {
			t.Errorf("the deleted server was re-created")
		}
	}

	// A quota refusal: instances limited to what the project uses.
	admin, err := e.sim.AdminCloud(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	used := e.countKind("compute/server")
	if _, err := quotasets.Update(e.ctx, admin.Compute, cloud.ProjectID, quotasets.UpdateOpts{Instances: ptr.To(used)}).Extract(); err != nil {
		t.Fatal(err)
	}
	e.createMachine("nolb", "nolb-md-quota", false, []byte("#cloud-config\n"), nil)
	c = e.waitCondition(func() conditions.Getter { return e.getMachine("nolb-md-quota") }, infrav1.InstanceReadyCondition, infrav1.QuotaExceededReason)
	if !strings.Contains(strings.ToLower(c.Message), "quota") || !strings.Contains(c.Message, "raise its quota") {
		t.Errorf("quota message %q", c.Message)
	}
	if e.hasAdded("network/port nolb-md-quota-0") {
		t.Errorf("the refused machine left its port: %v", e.added())
	}

	// An OpenStackMachine whose Machine went first (a cascade) is still
	// deleted, found through its labels.
	if err := e.c.Delete(e.ctx, &clusterv1.Machine{ObjectMeta: metav1.ObjectMeta{Name: "nolb-md-fail", Namespace: e.ns}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nolb-md-quota", "nolb-md-gone", "nolb-md-fail", "nolb-cp-0"} {
		e.deleteAndWait(&infrav1.OpenStackMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}})
	}
	e.deleteAndWait(&infrav1.OpenStackCluster{ObjectMeta: metav1.ObjectMeta{Name: "nolb", Namespace: e.ns}})
	if left := e.added(); len(left) > 0 {
		t.Errorf("left in the cloud: %v", left)
	}
}

// poke changes an annotation of o, which makes its reconciler run.
func (e *env) poke(o client.Object) {
	e.t.Helper()
	patch := client.MergeFrom(o.DeepCopyObject().(client.Object))
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["test/poke"] = time.Now().Format(time.RFC3339Nano)
	o.SetAnnotations(a)
	if err := e.c.Patch(e.ctx, o, patch); err != nil {
		e.t.Fatal(err)
	}
}
