package controllers_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

const tokenRoute = "POST /identity/v3/auth/tokens"

// TestPausedClusterMakesNoCloudCall: a paused Cluster's OpenStackCluster
// and OpenStackMachines get the Paused condition and nothing else: no
// finalizer, no cloud call at all. Unpausing provisions them.
func TestPausedClusterMakesNoCloudCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.ResetCalls()
	cluster, _ := e.createCluster("paused", true, nil)
	e.createMachine("paused", "paused-cp-0", true, []byte("#cloud-config\n"), nil)
	e.waitCondition(func() conditions.Getter { return e.getCluster("paused") }, clusterv1.PausedCondition, clusterv1.PausedReason)
	e.waitCondition(func() conditions.Getter { return e.getMachine("paused-cp-0") }, clusterv1.PausedCondition, clusterv1.PausedReason)
	time.Sleep(time.Second)
	if calls := e.sim.Calls(); calls.Total() != 0 {
		t.Errorf("paused objects made %d cloud calls: %v", calls.Total(), calls)
	}
	if controllerutil.ContainsFinalizer(e.getCluster("paused"), infrav1.ClusterFinalizer) ||
		controllerutil.ContainsFinalizer(e.getMachine("paused-cp-0"), infrav1.MachineFinalizer) {
		t.Errorf("a paused object got a finalizer")
	}

	patch := client.MergeFrom(cluster.DeepCopy())
	cluster.Spec.Paused = ptr.To(false)
	if err := e.c.Patch(e.ctx, cluster, patch); err != nil {
		t.Fatal(err)
	}
	e.waitClusterProvisioned("paused")
	e.waitMachineProvisioned("paused-cp-0")

	// Pausing again (the annotation clusterctl move sets) stops the
	// reconcilers before any cloud call, even for a delete.
	e.sim.ResetCalls()
	osm := e.getMachine("paused-cp-0")
	patch = client.MergeFrom(osm.DeepCopy())
	osm.Annotations = map[string]string{clusterv1.PausedAnnotation: ""}
	if err := e.c.Patch(e.ctx, osm, patch); err != nil {
		t.Fatal(err)
	}
	e.waitCondition(func() conditions.Getter { return e.getMachine("paused-cp-0") }, clusterv1.PausedCondition, clusterv1.PausedReason)
	if err := e.c.Delete(e.ctx, osm); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if w := e.sim.Calls().Writes(); w != 0 {
		t.Errorf("deleting a paused OpenStackMachine made %d cloud writes", w)
	}
	if e.countKind("compute/server") != 1 {
		t.Errorf("the paused machine's server went: %v", e.added())
	}
}

// TestBadInputEndsInCondition: a wrong password, a missing image and a
// missing flavor each end in a condition that names the problem and says
// what to do, with the cloud called a bounded number of times while the
// input stays as it is and nothing left behind; fixing the input recovers.
func TestBadInputEndsInCondition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := string(e.sim.CloudsYAML())
	e.writeIdentity(strings.ReplaceAll(good, openstacktest.MemberPassword, "wrong-password-123"))
	e.sim.ResetCalls()
	e.createCluster("bad", false, nil)
	c := e.waitCondition(func() conditions.Getter { return e.getCluster("bad") },
		infrav1.OpenStackAuthenticationSucceededCondition, infrav1.AuthenticationFailedReason)
	if !strings.Contains(c.Message, "401") || !strings.Contains(c.Message, "fix the credentials") || strings.Contains(c.Message, "wrong-password-123") {
		t.Errorf("authentication condition message %q: want the refusal and what to do, without the password", c.Message)
	}
	// Triggers for more reconciles: metadata changes of the object.
	for i := range 5 {
		osc := e.getCluster("bad")
		patch := client.MergeFrom(osc.DeepCopy())
		osc.Annotations = map[string]string{"test/poke": string(rune('a' + i))}
		if err := e.c.Patch(e.ctx, osc, patch); err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond)
	}
	calls := e.sim.Calls()
	if calls[tokenRoute] != 1 || calls.Total() != 1 {
		t.Errorf("a wrong password was tried %d times (%d calls in all) over 2s of reconciles, want once: %v", calls[tokenRoute], calls.Total(), calls)
	}
	if added := e.added(); len(added) > 0 {
		t.Errorf("resources made with a wrong password: %v", added)
	}
	e.writeIdentity(good) // the Secret watch brings the cluster back
	e.waitClusterProvisioned("bad")

	// A missing image and a missing flavor.
	e.createMachine("bad", "bad-image", false, []byte("#cloud-config\n"), func(s *infrav1.OpenStackMachineSpec) {
		s.Image = infrav1.ImageParam{Filter: &infrav1.ImageFilter{Name: ptr.To("no-such-image")}}
	})
	e.createMachine("bad", "bad-flavor", false, []byte("#cloud-config\n"), func(s *infrav1.OpenStackMachineSpec) {
		s.Flavor = infrav1.FlavorParam{Filter: &infrav1.FlavorFilter{Name: ptr.To("m1.enormous")}}
	})
	c = e.waitCondition(func() conditions.Getter { return e.getMachine("bad-image") }, infrav1.InstanceReadyCondition, infrav1.ImageNotFoundReason)
	if !strings.Contains(c.Message, "no-such-image") || !strings.Contains(c.Message, "fix spec.image") {
		t.Errorf("image condition message %q", c.Message)
	}
	c = e.waitCondition(func() conditions.Getter { return e.getMachine("bad-flavor") }, infrav1.InstanceReadyCondition, infrav1.FlavorNotFoundReason)
	if !strings.Contains(c.Message, "m1.enormous") || !strings.Contains(c.Message, "fix spec.flavor") {
		t.Errorf("flavor condition message %q", c.Message)
	}
	e.sim.ResetCalls()
	for i := range 5 {
		for _, name := range []string{"bad-image", "bad-flavor"} {
			osm := e.getMachine(name)
			patch := client.MergeFrom(osm.DeepCopy())
			osm.Annotations = map[string]string{"test/poke": string(rune('a' + i))}
			if err := e.c.Patch(e.ctx, osm, patch); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(400 * time.Millisecond)
	}
	if calls := e.sim.Calls(); calls.Total() != 0 {
		t.Errorf("machines with a missing image or flavor called the cloud %d times over 2s of reconciles: %v", calls.Total(), calls)
	}
	if e.countKind("compute/server") > 0 || e.hasAdded("network/port bad-image-0") || e.hasAdded("network/port bad-flavor-0") {
		t.Errorf("machines with bad input left servers or ports: %v", e.added())
	}

	// Fixing the spec (a new generation) lifts the hold.
	osm := e.getMachine("bad-image")
	patch := client.MergeFrom(osm.DeepCopy())
	osm.Spec.Image = infrav1.ImageParam{Filter: &infrav1.ImageFilter{Name: ptr.To(openstacktest.ImageName)}}
	if err := e.c.Patch(e.ctx, osm, patch); err != nil {
		t.Fatal(err)
	}
	e.waitMachineProvisioned("bad-image")

	for _, name := range []string{"bad-image", "bad-flavor"} {
		e.deleteAndWait(&infrav1.OpenStackMachine{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}})
	}
	e.deleteAndWait(&infrav1.OpenStackCluster{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: e.ns}})
	if left := e.added(); len(left) > 0 {
		t.Errorf("left in the cloud: %v", left)
	}
}
