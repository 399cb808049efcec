package stacktest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestClusterLifecycle declares a cluster with a KubeadmControlPlane of one
// replica and a MachineDeployment of two, and lets the real controllers do
// the rest: openstrap's build the network and the servers, Cluster API's
// render kubeadm's user data, make the kubeconfig and find each Node by its
// provider ID. Then it scales, replaces a machine, pauses, and deletes,
// checking after each step that the cloud holds exactly what the objects say.
func TestClusterLifecycle(t *testing.T) {
	e := Start(t, Options{})
	ctx := context.Background()
	const ns, name = "lifecycle", "life"
	if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	before := e.Cloud.Snapshot()
	if err := e.Apply(ctx, ClusterTemplate(), e.Vars(name, ns, 1, 2)); err != nil {
		t.Fatalf("apply the cluster template: %v", err)
	}

	Eventually(t, 3*time.Minute, "infrastructure provisioned", func(ctx context.Context) (bool, string, error) {
		var osc infrav1.OpenStackCluster
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &osc); err != nil {
			return false, "", err
		}
		var c clusterv1.Cluster
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &c); err != nil {
			return false, "", err
		}
		done := osc.Status.Initialization != nil && osc.Status.Initialization.Provisioned &&
			ptr.Deref(c.Status.Initialization.InfrastructureProvisioned, false)
		return done, conditions("OpenStackCluster", osc.Status.Conditions) + conditions("Cluster", c.Status.Conditions), nil
	})
	Eventually(t, 5*time.Minute, "control plane initialized", func(ctx context.Context) (bool, string, error) {
		var c clusterv1.Cluster
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &c); err != nil {
			return false, "", err
		}
		return ptr.Deref(c.Status.Initialization.ControlPlaneInitialized, false), conditions("Cluster", c.Status.Conditions) + e.machinesState(ctx, ns, name), nil
	})
	e.waitMachines(t, ns, name, 3)
	e.checkCloud(t, ns, name)

	t.Run("scale workers to 5 and back to 1", func(t *testing.T) {
		e.scale(t, ns, name+"-md-0", 5)
		e.waitMachines(t, ns, name, 6)
		e.checkCloud(t, ns, name)
		e.scale(t, ns, name+"-md-0", 1)
		e.waitMachines(t, ns, name, 2)
		e.checkCloud(t, ns, name)
	})

	t.Run("a deleted Machine is replaced", func(t *testing.T) {
		workers := e.workerMachines(t, ns, name)
		if len(workers) != 1 {
			t.Fatalf("workers = %d, want 1", len(workers))
		}
		old := workers[0]
		if err := e.Client.Delete(ctx, &old); err != nil {
			t.Fatal(err)
		}
		Eventually(t, 5*time.Minute, "replacement worker running", func(ctx context.Context) (bool, string, error) {
			ws := e.workerMachines(t, ns, name)
			for _, m := range ws {
				if m.Name != old.Name && m.Status.NodeRef.Name != "" && m.Status.Phase == string(clusterv1.MachinePhaseRunning) && len(ws) == 1 {
					return true, "", nil
				}
			}
			return false, e.machinesState(ctx, ns, name), nil
		})
		e.checkCloud(t, ns, name)
	})

	t.Run("a paused cluster changes nothing", func(t *testing.T) {
		e.setPaused(t, ns, name, true)
		e.Cloud.ResetCalls()
		e.scale(t, ns, name+"-md-0", 3)
		time.Sleep(15 * time.Second)
		if w := e.Cloud.Calls().Writes(); w != 0 {
			t.Errorf("%d cloud writes while the cluster was paused: %v", w, e.Cloud.Calls())
		}
		if n := len(e.workerMachines(t, ns, name)); n != 1 {
			t.Errorf("%d worker Machines while paused, want 1", n)
		}
		e.setPaused(t, ns, name, false)
		e.waitMachines(t, ns, name, 4)
		e.checkCloud(t, ns, name)
	})

	t.Run("deleting the Cluster removes every cloud resource", func(t *testing.T) {
		e.deleteCluster(t, ns, name, before)
	})
}

func conditions(kind string, cs []metav1.Condition) string {
	var b strings.Builder
	b.WriteString(kind + ":")
	for _, c := range cs {
		fmt.Fprintf(&b, " %s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String() + "\n"
}

func (e *Env) machines(ctx context.Context, ns, cluster string) ([]clusterv1.Machine, error) {
	var ms clusterv1.MachineList
	err := e.Client.List(ctx, &ms, client.InNamespace(ns), client.MatchingLabels{clusterv1.ClusterNameLabel: cluster})
	return ms.Items, err
}

func (e *Env) workerMachines(t testing.TB, ns, cluster string) []clusterv1.Machine {
	t.Helper()
	ms, err := e.machines(context.Background(), ns, cluster)
	if err != nil {
		t.Fatal(err)
	}
	var out []clusterv1.Machine
	for _, m := range ms {
		if _, cp := m.Labels[clusterv1.MachineControlPlaneLabel]; !cp && m.DeletionTimestamp == nil {
			out = append(out, m)
		}
	}
	return out
}

func (e *Env) machinesState(ctx context.Context, ns, cluster string) string {
	ms, err := e.machines(ctx, ns, cluster)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "Machine %s phase=%s node=%q deleting=%v %s", m.Name, m.Status.Phase, m.Status.NodeRef.Name,
			m.DeletionTimestamp != nil, conditions("", m.Status.Conditions))
	}
	var oms infrav1.OpenStackMachineList
	if err := e.Client.List(ctx, &oms, client.InNamespace(ns)); err == nil {
		for _, m := range oms.Items {
			b.WriteString(conditions("OpenStackMachine "+m.Name, m.Status.Conditions))
		}
	}
	return b.String()
}

// waitMachines waits until the cluster has exactly n Machines, each Running
// with a Node, and the workload cluster exactly n Nodes.
func (e *Env) waitMachines(t testing.TB, ns, cluster string, n int) {
	t.Helper()
	Eventually(t, 6*time.Minute, fmt.Sprintf("%d machines running with nodes", n), func(ctx context.Context) (bool, string, error) {
		ms, err := e.machines(ctx, ns, cluster)
		if err != nil {
			return false, "", err
		}
		running := 0
		for _, m := range ms {
			if m.Status.Phase == string(clusterv1.MachinePhaseRunning) && m.Status.NodeRef.Name != "" && m.DeletionTimestamp == nil {
				running++
			}
		}
		state := e.machinesState(ctx, ns, cluster)
		if running != n || len(ms) != n {
			return false, state, nil
		}
		wl, err := e.Workload(ctx, ns, cluster)
		if err != nil {
			return false, state, err
		}
		nodes, err := wl.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, state, err
		}
		return len(nodes.Items) == n, state + fmt.Sprintf("%d nodes", len(nodes.Items)), nil
	})
}

// checkCloud asserts that the cloud holds one server per OpenStackMachine,
// each the one its provider ID names, that every Node carries the provider
// ID of a live server, and that no server lacks a Machine.
func (e *Env) checkCloud(t testing.TB, ns, cluster string) {
	t.Helper()
	ctx := context.Background()
	var oms infrav1.OpenStackMachineList
	if err := e.Client.List(ctx, &oms, client.InNamespace(ns), client.MatchingLabels{clusterv1.ClusterNameLabel: cluster}); err != nil {
		t.Fatal(err)
	}
	servers := map[string]string{} // ID -> name
	for _, r := range e.Cloud.Snapshot() {
		if r.Kind == "server" && r.HasTag("openstrap-cluster="+cluster) {
			servers[r.ID] = r.Name
		}
	}
	want := map[string]bool{}
	for _, m := range oms.Items {
		_, id, err := infrav1.ParseProviderID(ptr.Deref(m.Spec.ProviderID, ""))
		if err != nil {
			t.Errorf("OpenStackMachine %s: provider ID: %v", m.Name, err)
			continue
		}
		if _, ok := servers[id]; !ok {
			t.Errorf("OpenStackMachine %s names server %s, which does not exist", m.Name, id)
		}
		want[id] = true
	}
	for id, n := range servers {
		if !want[id] {
			t.Errorf("server %s (%s) belongs to no OpenStackMachine", n, id)
		}
	}
	wl, err := e.Workload(ctx, ns, cluster)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := wl.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		_, id, err := infrav1.ParseProviderID(n.Spec.ProviderID)
		if err != nil || servers[id] == "" {
			t.Errorf("Node %s has provider ID %q, not a live server's", n.Name, n.Spec.ProviderID)
		}
	}
	// Ports: every port the cluster owns besides the load balancer's VIP
	// belongs to a live server.
	for _, r := range e.Cloud.Snapshot() {
		if r.Kind != "port" || !r.HasTag("openstrap-cluster="+cluster) || strings.Contains(r.Name, "kubeapi") {
			continue
		}
		owned := false
		for _, n := range servers {
			if strings.HasPrefix(r.Name, n) {
				owned = true
			}
		}
		if !owned {
			t.Errorf("port %s (%s) belongs to no live server", r.Name, r.ID)
		}
	}
	if !t.Failed() {
		names := make([]string, 0, len(servers))
		for _, n := range servers {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Logf("cloud matches the objects: servers %v", names)
	}
}

func (e *Env) scale(t testing.TB, ns, md string, n int32) {
	t.Helper()
	ctx := context.Background()
	var d clusterv1.MachineDeployment
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: md}, &d); err != nil {
		t.Fatal(err)
	}
	p := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = ptr.To(n)
	if err := e.Client.Patch(ctx, &d, p); err != nil {
		t.Fatal(err)
	}
}

func (e *Env) setPaused(t testing.TB, ns, cluster string, paused bool) {
	t.Helper()
	ctx := context.Background()
	var c clusterv1.Cluster
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: cluster}, &c); err != nil {
		t.Fatal(err)
	}
	p := client.MergeFrom(c.DeepCopy())
	c.Spec.Paused = ptr.To(paused)
	if err := e.Client.Patch(ctx, &c, p); err != nil {
		t.Fatal(err)
	}
}

// deleteCluster deletes the Cluster, waits until it is gone, and asserts that
// the cloud holds nothing of it and is as it was in before.
func (e *Env) deleteCluster(t testing.TB, ns, name string, before []openstacktest.Resource) {
	t.Helper()
	ctx := context.Background()
	if err := e.Client.Delete(ctx, &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 5*time.Minute, "Cluster gone", func(ctx context.Context) (bool, string, error) {
		var c clusterv1.Cluster
		err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &c)
		return err != nil && client.IgnoreNotFound(err) == nil, e.machinesState(ctx, ns, name) + fmt.Sprint(e.Owned(name)), nil
	})
	if owned := e.Owned(name); len(owned) != 0 {
		t.Errorf("left on the cloud: %v", owned)
	}
	if diff := diffResources(before, e.Cloud.Snapshot()); diff != "" {
		t.Errorf("the cloud differs from before the cluster:\n%s", diff)
	}
}
