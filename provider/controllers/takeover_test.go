package controllers_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestTakeoverMakesNoCloudChange: objects whose status is gone (as after a
// move that does not carry status, or a status write lost in a crash) are
// taken over by a fresh manager with no cloud write: the infrastructure
// and the servers are found again by name and ownership tag, and the
// status is rebuilt from what exists.
func TestTakeoverMakesNoCloudChange(t *testing.T) {
	t.Parallel()
	first := newEnv(t, openstacktest.WithBootDelay(200*time.Millisecond))
	first.createCluster("move", false, nil)
	osc := first.waitClusterProvisioned("move")
	first.createMachine("move", "move-cp-0", true, []byte("#cloud-config\n"), nil)
	first.createMachine("move", "move-md-0", false, []byte("#cloud-config\n"), nil)
	cp := first.waitMachineProvisioned("move-cp-0")
	wk := first.waitMachineProvisioned("move-md-0")
	before := first.sim.Snapshot()

	// The first manager goes (its objects stay, with their finalizers);
	// the second starts on them with an empty status, and the worker also
	// without its provider ID (a crash before that patch). The statuses
	// are cleared while no manager runs, as a move leaves them.
	first.stopMgr()
	first.sim.ResetCalls()
	for _, o := range []client.Object{first.getCluster("move"), first.getMachine("move-cp-0"), first.getMachine("move-md-0")} {
		switch x := o.(type) {
		case *infrav1.OpenStackCluster:
			x.Status = infrav1.OpenStackClusterStatus{}
		case *infrav1.OpenStackMachine:
			x.Status = infrav1.OpenStackMachineStatus{}
		}
		if err := first.c.Status().Update(first.ctx, o); err != nil {
			t.Fatal(err)
		}
		if m, ok := o.(*infrav1.OpenStackMachine); ok && m.Name == "move-md-0" {
			m.Spec.ProviderID = nil
			if err := first.c.Update(first.ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	second := first.restart(t)
	osc2 := second.waitClusterProvisioned("move")
	cp2 := second.waitMachineProvisioned("move-cp-0")
	wk2 := second.waitMachineProvisioned("move-md-0")
	if w := second.sim.Calls().Writes(); w != 0 {
		t.Errorf("taking over made %d cloud writes: %v", w, second.sim.Calls())
	}
	if d := diffResources(before, second.sim.Snapshot()); d != "" {
		t.Errorf("the cloud changed on takeover:\n%s", d)
	}
	if osc2.Spec.ControlPlaneEndpoint.Host != osc.Spec.ControlPlaneEndpoint.Host ||
		osc2.Status.APIServerManagedLoadBalancer.ID != osc.Status.APIServerManagedLoadBalancer.ID ||
		osc2.Status.Network.ID != osc.Status.Network.ID {
		t.Errorf("rebuilt cluster status differs: %+v vs %+v", osc2.Status, osc.Status)
	}
	for _, p := range [][2]*infrav1.OpenStackMachine{{cp, cp2}, {wk, wk2}} {
		if ptr.Deref(p[0].Status.InstanceID, "a") != ptr.Deref(p[1].Status.InstanceID, "b") ||
			ptr.Deref(p[0].Spec.ProviderID, "a") != ptr.Deref(p[1].Spec.ProviderID, "b") {
			t.Errorf("%s: server %v before, %v after", p[0].Name, p[0].Status.InstanceID, p[1].Status.InstanceID)
		}
	}

	for _, name := range []string{"move-cp-0", "move-md-0"} {
		second.deleteAndWait(&infrav1.OpenStackMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: second.ns}})
	}
	second.deleteAndWait(&infrav1.OpenStackCluster{ObjectMeta: metav1.ObjectMeta{Name: "move", Namespace: second.ns}})
	if left := second.added(); len(left) > 0 {
		t.Errorf("left in the cloud: %v", left)
	}
}

// diffResources lists what was added or removed between two snapshots
// (status changes, such as a load balancer's, are not differences).
func diffResources(a, b []openstacktest.Resource) string {
	key := func(r openstacktest.Resource) string { return r.Service + "/" + r.Kind + " " + r.Name + " " + r.ID }
	in := map[string]int{}
	for _, r := range a {
		in[key(r)]++
	}
	for _, r := range b {
		in[key(r)]--
	}
	out := ""
	for k, n := range in {
		switch {
		case n > 0:
			out += "removed " + k + "\n"
		case n < 0:
			out += "added " + k + "\n"
		}
	}
	return out
}
