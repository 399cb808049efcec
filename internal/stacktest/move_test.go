package stacktest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openstrap/openstrap/bootstrap"
	"github.com/openstrap/openstrap/internal/tools"
	"github.com/openstrap/openstrap/pivot"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// moveKinds are the kinds of a cluster made from the template that a move
// must carry: Cluster API's, the kubeadm providers' and openstrap's.
var moveKinds = []schema.GroupVersionKind{
	clusterv1.GroupVersion.WithKind("Cluster"),
	clusterv1.GroupVersion.WithKind("Machine"),
	clusterv1.GroupVersion.WithKind("MachineSet"),
	clusterv1.GroupVersion.WithKind("MachineDeployment"),
	{Group: "controlplane.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmControlPlane"},
	{Group: "bootstrap.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmConfig"},
	{Group: "bootstrap.cluster.x-k8s.io", Version: "v1beta2", Kind: "KubeadmConfigTemplate"},
	infrav1.GroupVersion.WithKind("OpenStackCluster"),
	infrav1.GroupVersion.WithKind("OpenStackMachine"),
	infrav1.GroupVersion.WithKind("OpenStackMachineTemplate"),
	{Version: "v1", Kind: "Secret"},
}

// moveMover moves the objects of namespace ns from one cluster to another
// and says how many objects it moved.
type moveMover func(ctx context.Context, t *testing.T, from, to bootstrap.Cluster, ns string) (int, error)

// TestMoveSelfHosted moves a cluster that the controllers reconcile from the
// management cluster into the workload cluster itself, once with pivot.Move
// and once with clusterctl move, and checks that the controllers started
// against the workload cluster take over with no cloud write, that the
// cluster then manages itself (it scales its own MachineDeployment up and
// down), and that, moved back, it is deleted with nothing left on the cloud.
//
// The management cluster's controllers keep running during the move, as
// they do for a user: both movers pause the Cluster first, and the
// reconcilers honour the pause, so the move itself must make no cloud write
// either.
//
// A self-hosted cluster is not deleted in place: deleting its control plane
// server stops the API server that holds its objects before the
// OpenStackCluster's network and load balancer are removed. Tried once with
// pivot.Move (2026-12-03): the workers' servers and the control plane's
// server went, then the API server with them, leaving the load balancer,
// network, subnet, router, security groups, floating IP and the control
// plane's port on the cloud and nobody to reconcile them. As clusterctl's
// documentation asks, the cluster is moved back to the management cluster
// (with the same mover, the workload cluster's controllers running), taken
// over there with no cloud write either, and deleted there.
func TestMoveSelfHosted(t *testing.T) {
	e := Start(t, Options{})
	movers := []struct {
		name, ns string
		move     moveMover
		// keepsStatus: pivot.Move restores status, clusterctl move drops
		// it (the reconcilers must then find the servers again).
		keepsStatus bool
	}{
		{"pivot.Move", "move-pivot", movePivot, true},
		{"clusterctl move", "move-clusterctl", moveClusterctl, false},
	}
	for _, mv := range movers {
		t.Run(mv.name, func(t *testing.T) {
			e.moveOne(t, mv.ns, strings.TrimPrefix(mv.ns, "move-"), mv.move, mv.keepsStatus)
		})
	}
}

func (e *Env) moveOne(t *testing.T, ns, name string, move moveMover, keepsStatus bool) {
	ctx := context.Background()
	if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	before := e.Cloud.Snapshot()
	if err := e.Apply(ctx, ClusterTemplate(), e.Vars(name, ns, 1, 1)); err != nil {
		t.Fatalf("apply the cluster template: %v", err)
	}
	e.waitMachines(t, ns, name, 2)
	e.checkCloud(t, ns, name)
	owned := e.Owned(name)

	// The target: the workload cluster, reached with the admin kubeconfig
	// Cluster API wrote.
	var kc corev1.Secret
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-kubeconfig"}, &kc); err != nil {
		t.Fatal(err)
	}
	target, err := bootstrap.Existing(ctx, bootstrap.KubeconfigBytes(kc.Data["value"]), bootstrap.Name(name))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := bootstrap.InstallControllerCRDs(ctx, target); err != nil {
		t.Fatalf("install the CRDs in the workload cluster: %v", err)
	}
	t.Logf("CRDs installed in the workload cluster in %s", time.Since(start).Round(time.Millisecond))
	tc, err := client.New(target.RESTConfig(), client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	wl, err := e.Workload(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}

	want := moveInventory(ctx, t, e.Client, ns)
	for _, s := range []string{"-ca", "-kubeconfig", "-etcd", "-sa", "-proxy", "-cloud-config"} {
		if !want["Secret/"+name+s] {
			t.Fatalf("Secret %s%s is not in the source before the move; source holds %v", name, s, moveKeys(want))
		}
	}
	moveWarm(ctx, t, tc, ns) // the first LIST of a new CRD type is slow

	// The move, with the management cluster's controllers running.
	e.Cloud.ResetCalls()
	start = time.Now()
	n, err := move(ctx, t, e.Mgmt, target, ns)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("move: %v", err)
	}
	t.Logf("moved %d objects (%d kinds) in %s", n, len(moveKinds), took.Round(time.Millisecond))
	if w := e.Cloud.Calls().Writes(); w != 0 {
		t.Errorf("%d cloud writes during the move: %v", w, e.Cloud.Calls())
	}
	moveCheckMoved(ctx, t, e.Client, tc, ns, name, want)
	moveCheckStatus(ctx, t, tc, ns, keepsStatus)

	// The workload cluster's own controllers take over.
	e.Cloud.ResetCalls()
	start = time.Now()
	rc, err := bootstrap.StartControllers(ctx, target, append([]bootstrap.ControllersOption{
		bootstrap.WithControllersLogger(e.opts.Log.WithName("target"))}, e.opts.Controllers...)...)
	if err != nil {
		t.Fatalf("start the controllers against the workload cluster: %v", err)
	}
	defer func() {
		if rc != nil {
			_ = rc.Stop(context.Background())
		}
	}()
	t.Logf("controllers started against the workload cluster in %s", time.Since(start).Round(time.Millisecond))
	moveWaitMachines(t, tc, wl, ns, name, 2)
	moveWaitReady(t, tc, "workload cluster", ns, name)
	// Let periodic resyncs and requeues run before counting.
	if d := 45*time.Second - time.Since(start); d > 0 {
		time.Sleep(d)
	}
	calls := e.Cloud.Calls()
	t.Logf("takeover: %d cloud reads, %d writes in %s", calls.Reads(), calls.Writes(), time.Since(start).Round(time.Second))
	if w := calls.Writes(); w != 0 {
		t.Errorf("%d cloud writes after the takeover: %v", w, calls)
	}
	if !slices.Equal(owned, e.Owned(name)) {
		t.Errorf("the cluster's cloud resources changed in the takeover:\nbefore %v\nafter  %v", owned, e.Owned(name))
	}
	e.moveCheckProviderIDs(ctx, t, tc, ns, name)

	// The workload cluster manages itself: one worker more, then one less.
	serversBefore := e.Servers()
	moveScale(t, tc, ns, name+"-md-0", 2)
	moveWaitMachines(t, tc, wl, ns, name, 3)
	if got := e.Servers(); len(got) != len(serversBefore)+1 {
		t.Errorf("servers after scaling up in the workload cluster: %v, want one more than %v", got, serversBefore)
	}
	e.moveCheckProviderIDs(ctx, t, tc, ns, name)
	moveScale(t, tc, ns, name+"-md-0", 1)
	moveWaitMachines(t, tc, wl, ns, name, 2)
	Eventually(t, 2*time.Minute, "the scaled-down worker's server deleted", func(context.Context) (bool, string, error) {
		got := e.Servers()
		return slices.Equal(got, serversBefore) || len(got) == len(serversBefore), fmt.Sprint(got), nil
	})
	if got := e.Owned(name); len(got) != len(owned) {
		t.Errorf("after scaling up and down in the workload cluster the cloud holds %v, before %v", got, owned)
	}
	e.moveCheckProviderIDs(ctx, t, tc, ns, name)

	// Back to the management cluster, where it is deleted.
	// The workload cluster's controllers keep running during this move as
	// the management cluster's did during the first.
	want = moveInventory(ctx, t, tc, ns)
	owned = e.Owned(name)
	e.Cloud.ResetCalls()
	start = time.Now()
	n, err = move(ctx, t, target, e.Mgmt, ns)
	if err != nil {
		t.Fatalf("move back: %v", err)
	}
	t.Logf("moved %d objects back in %s", n, time.Since(start).Round(time.Millisecond))
	moveCheckMoved(ctx, t, tc, e.Client, ns, name, want)
	if err := rc.Stop(ctx); err != nil {
		t.Errorf("stop the workload cluster's controllers: %v", err)
	}
	rc = nil
	e.waitMachines(t, ns, name, 2)
	moveWaitReady(t, e.Client, "management cluster", ns, name)
	if d := 30*time.Second - time.Since(start); d > 0 {
		time.Sleep(d)
	}
	e.moveCheckProviderIDs(ctx, t, e.Client, ns, name)
	calls = e.Cloud.Calls()
	t.Logf("move back and takeover by the management cluster: %d cloud reads, %d writes in %s", calls.Reads(), calls.Writes(), time.Since(start).Round(time.Second))
	if w := calls.Writes(); w != 0 {
		t.Errorf("%d cloud writes in the move back and the management cluster's takeover: %v", w, calls)
	}
	if got := e.Owned(name); !slices.Equal(got, owned) {
		t.Errorf("the cluster's cloud resources changed in the move back:\nbefore %v\nafter  %v", owned, got)
	}
	e.deleteCluster(t, ns, name, before)
}

// movePivot moves with pivot.Move.
func movePivot(ctx context.Context, t *testing.T, from, to bootstrap.Cluster, ns string) (int, error) {
	rep, err := pivot.Move(ctx, from.RESTConfig(), to.RESTConfig(), pivot.Options{Namespace: ns})
	if err != nil {
		return 0, err
	}
	t.Logf("pivot.Move: %s", rep)
	return len(rep.Plan), nil
}

// moveClusterctl moves with clusterctl move, built by internal/tools.
func moveClusterctl(ctx context.Context, t *testing.T, from, to bootstrap.Cluster, ns string) (int, error) {
	bin, err := tools.Path(ctx, tools.Clusterctl)
	if err != nil {
		return 0, fmt.Errorf("build clusterctl: %w", err)
	}
	dir := t.TempDir()
	var paths []string
	for i, c := range []bootstrap.Cluster{from, to} {
		kc, err := c.Kubeconfig()
		if err != nil {
			return 0, err
		}
		p := filepath.Join(dir, fmt.Sprintf("%d.kubeconfig", i))
		if err := os.WriteFile(p, kc, 0o600); err != nil {
			return 0, err
		}
		paths = append(paths, p)
	}
	cfg := filepath.Join(dir, "clusterctl.yaml")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o600); err != nil {
		return 0, err
	}
	n := len(moveInventory(ctx, t, moveClient(t, from), ns))
	cmd := exec.CommandContext(ctx, bin, "move", "--kubeconfig", paths[0], "--to-kubeconfig", paths[1], "--namespace", ns, "--config", cfg, "-v", "1")
	cmd.Env = append(os.Environ(), "CLUSTERCTL_DISABLE_VERSIONCHECK=true", "HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("clusterctl move: %w\n%s", err, out.String())
	}
	t.Logf("clusterctl move:\n%s", strings.TrimSpace(out.String()))
	return n, nil
}

func moveClient(t *testing.T, c bootstrap.Cluster) client.Client {
	t.Helper()
	cl, err := client.New(c.RESTConfig(), client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// moveInventory lists the objects of moveKinds in ns as "Kind/name".
func moveInventory(ctx context.Context, t *testing.T, c client.Client, ns string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, gvk := range moveKinds {
		var l metav1.PartialObjectMetadataList
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, &l, client.InNamespace(ns)); err != nil {
			t.Fatalf("list %s in %s: %v", gvk.Kind, ns, err)
		}
		for _, o := range l.Items {
			if gvk.Kind == "Secret" && strings.HasPrefix(o.Name, "default-token") {
				continue
			}
			out[gvk.Kind+"/"+o.Name] = true
		}
	}
	return out
}

func moveKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func moveWarm(ctx context.Context, t *testing.T, c client.Client, ns string) {
	for range 2 {
		moveInventory(ctx, t, c, ns)
	}
}

// moveCheckMoved asserts that the target holds every object of want and the
// source none, and that the Cluster is not paused in the target.
func moveCheckMoved(ctx context.Context, t *testing.T, src, dst client.Client, ns, name string, want map[string]bool) {
	t.Helper()
	got := moveInventory(ctx, t, dst, ns)
	var missing []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("missing in the target after the move: %v", missing)
	}
	if left := moveInventory(ctx, t, src, ns); len(left) != 0 {
		t.Errorf("left in the source after the move: %v", moveKeys(left))
	}
	var c clusterv1.Cluster
	if err := dst.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &c); err != nil {
		t.Fatalf("the Cluster in the target: %v", err)
	}
	if ptr.Deref(c.Spec.Paused, false) || c.Annotations[clusterv1.PausedAnnotation] != "" {
		t.Errorf("the Cluster is paused in the target: spec.paused=%v annotations=%v", c.Spec.Paused, c.Annotations)
	}
	var s corev1.Secret
	if err := dst.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-cloud-config"}, &s); err != nil {
		t.Errorf("the identity Secret in the target: %v", err)
	} else if len(s.Data["clouds.yaml"]) == 0 {
		t.Errorf("the identity Secret in the target has no clouds.yaml")
	}
	t.Logf("target holds the %d objects of the source (%s), the source none", len(want), moveCount(want))
}

// moveCount summarises an inventory by kind.
func moveCount(inv map[string]bool) string {
	n := map[string]int{}
	for k := range inv {
		n[strings.SplitN(k, "/", 2)[0]]++
	}
	var parts []string
	kinds := make([]string, 0, len(n))
	for k := range n {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, n[k]))
	}
	return strings.Join(parts, ", ")
}

// moveMachineState describes the cluster's Machines in c.
func moveMachineState(ctx context.Context, c client.Client, ns, cluster string) ([]clusterv1.Machine, string) {
	var ms clusterv1.MachineList
	if err := c.List(ctx, &ms, client.InNamespace(ns), client.MatchingLabels{clusterv1.ClusterNameLabel: cluster}); err != nil {
		return nil, err.Error()
	}
	var b strings.Builder
	for _, m := range ms.Items {
		fmt.Fprintf(&b, "Machine %s phase=%s node=%q deleting=%v %s", m.Name, m.Status.Phase, m.Status.NodeRef.Name,
			m.DeletionTimestamp != nil, conditions("", m.Status.Conditions))
	}
	var oms infrav1.OpenStackMachineList
	if err := c.List(ctx, &oms, client.InNamespace(ns)); err == nil {
		for _, m := range oms.Items {
			b.WriteString(conditions("OpenStackMachine "+m.Name, m.Status.Conditions))
		}
	}
	return ms.Items, b.String()
}

// moveWaitMachines waits until c holds exactly n Machines of the cluster,
// each Running with a Node, and the workload cluster n Nodes.
func moveWaitMachines(t *testing.T, c client.Client, wl kubernetes.Interface, ns, cluster string, n int) {
	t.Helper()
	Eventually(t, 6*time.Minute, fmt.Sprintf("%d machines running with nodes in the workload cluster", n), func(ctx context.Context) (bool, string, error) {
		ms, state := moveMachineState(ctx, c, ns, cluster)
		running := 0
		for _, m := range ms {
			if m.Status.Phase == string(clusterv1.MachinePhaseRunning) && m.Status.NodeRef.Name != "" && m.DeletionTimestamp == nil {
				running++
			}
		}
		if running != n || len(ms) != n {
			return false, state, nil
		}
		nodes, err := wl.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, state, err
		}
		return len(nodes.Items) == n, state + fmt.Sprintf("%d nodes", len(nodes.Items)), nil
	})
}

// moveWaitReady waits until the OpenStackCluster and OpenStackMachines in c
// (the cluster named by where)
// are provisioned again (their status is rebuilt when a mover dropped it)
// and the Cluster's infrastructure and control plane are initialized.
func moveWaitReady(t *testing.T, c client.Client, where, ns, cluster string) {
	t.Helper()
	Eventually(t, 3*time.Minute, "infrastructure and machines provisioned in the "+where, func(ctx context.Context) (bool, string, error) {
		var osc infrav1.OpenStackCluster
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: cluster}, &osc); err != nil {
			return false, "", err
		}
		var cl clusterv1.Cluster
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: cluster}, &cl); err != nil {
			return false, "", err
		}
		state := conditions("OpenStackCluster", osc.Status.Conditions) + conditions("Cluster", cl.Status.Conditions)
		done := osc.Status.Initialization != nil && osc.Status.Initialization.Provisioned &&
			ptr.Deref(cl.Status.Initialization.InfrastructureProvisioned, false) &&
			ptr.Deref(cl.Status.Initialization.ControlPlaneInitialized, false)
		var oms infrav1.OpenStackMachineList
		if err := c.List(ctx, &oms, client.InNamespace(ns)); err != nil {
			return false, state, err
		}
		for _, m := range oms.Items {
			state += conditions("OpenStackMachine "+m.Name, m.Status.Conditions)
			done = done && m.Status.Initialization != nil && m.Status.Initialization.Provisioned &&
				ptr.Deref(m.Status.InstanceState, "") == infrav1.InstanceStateActive
		}
		return done, state, nil
	})
}

// moveCheckProviderIDs asserts that every OpenStackMachine in c names a
// live server of the cluster and every server of the cluster has one.
func (e *Env) moveCheckProviderIDs(ctx context.Context, t *testing.T, c client.Client, ns, cluster string) {
	t.Helper()
	var oms infrav1.OpenStackMachineList
	if err := c.List(ctx, &oms, client.InNamespace(ns), client.MatchingLabels{clusterv1.ClusterNameLabel: cluster}); err != nil {
		t.Fatal(err)
	}
	servers := map[string]string{} // ID -> name
	for _, r := range e.Cloud.Snapshot() {
		if r.Kind == "server" && r.HasTag("openstrap-cluster="+cluster) {
			servers[r.ID] = r.Name
		}
	}
	named := map[string]bool{}
	for _, m := range oms.Items {
		_, id, err := infrav1.ParseProviderID(ptr.Deref(m.Spec.ProviderID, ""))
		switch {
		case err != nil:
			t.Errorf("OpenStackMachine %s: provider ID: %v", m.Name, err)
		case servers[id] == "":
			t.Errorf("OpenStackMachine %s names server %s, which does not exist", m.Name, id)
		case ptr.Deref(m.Status.InstanceID, id) != id:
			t.Errorf("OpenStackMachine %s: status.instanceID %s, provider ID names %s", m.Name, *m.Status.InstanceID, id)
		}
		named[id] = true
	}
	for id, n := range servers {
		if !named[id] {
			t.Errorf("server %s (%s) belongs to no OpenStackMachine", n, id)
		}
	}
}

// moveScale sets the replicas of a MachineDeployment in c.
func moveScale(t *testing.T, c client.Client, ns, md string, n int32) {
	t.Helper()
	ctx := context.Background()
	var d clusterv1.MachineDeployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: md}, &d); err != nil {
		t.Fatal(err)
	}
	p := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = ptr.To(n)
	if err := c.Patch(ctx, &d, p); err != nil {
		t.Fatal(err)
	}
}

// moveCheckStatus asserts that the moved OpenStackCluster and
// OpenStackMachines in c carry their status (keeps) or none, before any
// controller in c has run, so that the test knows which takeover it checks.
func moveCheckStatus(ctx context.Context, t *testing.T, c client.Client, ns string, keeps bool) {
	t.Helper()
	var oms infrav1.OpenStackMachineList
	if err := c.List(ctx, &oms, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var osc infrav1.OpenStackClusterList
	if err := c.List(ctx, &osc, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, m := range oms.Items {
		if has := m.Status.InstanceID != nil; has != keeps {
			t.Errorf("OpenStackMachine %s in the target: status.instanceID present = %v, want %v", m.Name, has, keeps)
		}
		if m.Spec.ProviderID == nil {
			t.Errorf("OpenStackMachine %s in the target has no spec.providerID", m.Name)
		}
	}
	for _, o := range osc.Items {
		if has := o.Status.Initialization != nil && o.Status.Initialization.Provisioned; has != keeps {
			t.Errorf("OpenStackCluster %s in the target: status.initialization.provisioned = %v, want %v", o.Name, has, keeps)
		}
	}
}
