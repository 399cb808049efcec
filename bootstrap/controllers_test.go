package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/openstrap/openstrap/internal/kubetest"
	"github.com/openstrap/openstrap/internal/tools"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// controllersEnv starts an API server of its own for one test (the shared
// env of this package gets the upstream CRDs, serving v1beta1 too, from the
// Install tests) and wraps it as an Existing cluster.
func controllersEnv(t *testing.T) *ExistingCluster {
	t.Helper()
	e := kubetest.ForTest(t, kubetest.Options{})
	kc, err := e.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Existing(t.Context(), KubeconfigBytes(kc), Name("controllers"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func crdVersions(t *testing.T, c Cluster) map[string]string {
	t.Helper()
	list, err := apiextensionsclient.NewForConfigOrDie(c.RESTConfig()).ApiextensionsV1().CustomResourceDefinitions().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, crd := range list.Items {
		var served []string
		for _, v := range crd.Spec.Versions {
			if v.Served {
				served = append(served, v.Name)
			}
		}
		out[crd.Name] = crd.ResourceVersion + " served=" + strings.Join(served, ",")
	}
	return out
}

// TestInstallControllerCRDs installs the stack's CRDs over an upstream
// clusters CRD that serves v1beta1 (as an older clusterctl leaves it), then
// again: the first install stops serving v1beta1, the second changes no
// resourceVersion, and discovery serves Cluster API's groups as v1beta2 only.
func TestInstallControllerCRDs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := controllersEnv(t)

	dirs, err := tools.ClusterAPICRDPaths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	upstream, err := os.ReadFile(filepath.Join(dirs[0], "cluster.x-k8s.io_clusters.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Install(ctx, c, [][]byte{upstream}, FieldManager("clusterctl")); err != nil {
		t.Fatal(err)
	}
	if got := crdVersions(t, c)["clusters.cluster.x-k8s.io"]; !strings.HasSuffix(got, "served=v1beta1,v1beta2") {
		t.Fatalf("upstream clusters CRD: %s, want v1beta1 and v1beta2 served", got)
	}

	start := time.Now()
	if err := InstallControllerCRDs(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Logf("first InstallControllerCRDs: %v", time.Since(start))
	first := crdVersions(t, c)
	want, err := ControllerCRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(want) {
		t.Errorf("%d CRDs installed, want %d", len(first), len(want))
	}
	for _, w := range want {
		got, ok := first[w.Name]
		if !ok {
			t.Errorf("CRD %s missing", w.Name)
			continue
		}
		served := "v1beta2"
		if w.Spec.Group == "clusterctl.cluster.x-k8s.io" {
			served = "v1alpha3"
		}
		if !strings.HasSuffix(got, " served="+served) {
			t.Errorf("CRD %s: %s, want served=%s only", w.Name, got, served)
		}
	}

	start = time.Now()
	if err := InstallControllerCRDs(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Logf("second InstallControllerCRDs: %v", time.Since(start))
	if diff := cmp.Diff(first, crdVersions(t, c)); diff != "" {
		t.Errorf("second install changed CRDs (-first +second):\n%s", diff)
	}

	dc := discovery.NewDiscoveryClientForConfigOrDie(c.RESTConfig())
	groups, err := dc.ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		if !strings.HasSuffix(g.Name, "cluster.x-k8s.io") || g.Name == "clusterctl.cluster.x-k8s.io" {
			continue
		}
		var vs []string
		for _, v := range g.Versions {
			vs = append(vs, v.Version)
		}
		if !slices.Equal(vs, []string{"v1beta2"}) {
			t.Errorf("group %s serves %v, want [v1beta2]", g.Name, vs)
		}
	}
	// The clusters CRD keeps clusterctl's labels for clusterctl move.
	crd, err := apiextensionsclient.NewForConfigOrDie(c.RESTConfig()).ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "clusters.cluster.x-k8s.io", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := crd.Labels["clusterctl.cluster.x-k8s.io"]; !ok || crd.Labels["cluster.x-k8s.io/provider"] != "cluster-api" {
		t.Errorf("clusters CRD labels %v", crd.Labels)
	}
}

// TestStartControllersRefusesMissingCRDs: without the CRDs, StartControllers
// names what is missing instead of timing out on cache sync.
func TestStartControllersRefusesMissingCRDs(t *testing.T) {
	t.Parallel()
	c := controllersEnv(t)
	_, err := StartControllers(t.Context(), c)
	if err == nil || !strings.Contains(err.Error(), "clusters.cluster.x-k8s.io") || !strings.Contains(err.Error(), "InstallControllerCRDs") {
		t.Fatalf("StartControllers without CRDs: %v, want the missing CRDs named", err)
	}
}

func TestControllersOptionsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  ControllersOption
	}{
		{"concurrency 0", WithConcurrency(0)},
		{"unknown controller", WithControllerConcurrency("Widget", 2)},
		{"grace period", WithRemoteConditionsGracePeriod(time.Minute)},
		{"bad address", WithMetricsAddress("localhost")},
		{"empty namespace", WithNamespace("")},
	} {
		if _, err := ControllersManagerOptions(tc.opt); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", tc.name, err)
		}
	}
	// Manager-only options are refused where the caller builds the manager.
	err := SetupControllers(t.Context(), nil, WithMetricsAddress(":8080"))
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithMetricsAddress") {
		t.Errorf("SetupControllers(WithMetricsAddress) = %v", err)
	}
}

// TestDefaultClusterAPIObjects runs Cluster API's own defaulters.
func TestDefaultClusterAPIObjects(t *testing.T) {
	t.Parallel()
	md := &clusterv1.MachineDeployment{
		ObjectMeta: metav1.ObjectMeta{Name: "md", Namespace: "ns"},
		Spec: clusterv1.MachineDeploymentSpec{
			ClusterName: "demo",
			Template:    clusterv1.MachineTemplateSpec{Spec: clusterv1.MachineSpec{ClusterName: "demo", Version: "1.37.2"}},
		},
	}
	kcp := &controlplanev1.KubeadmControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: "cp", Namespace: "ns"},
		Spec:       controlplanev1.KubeadmControlPlaneSpec{Version: "1.37.2"},
	}
	cm := &corev1.ConfigMap{}
	if err := DefaultClusterAPIObjects(t.Context(), md, kcp, cm); err != nil {
		t.Fatal(err)
	}
	if md.Spec.Replicas == nil || *md.Spec.Replicas != 1 {
		t.Errorf("MachineDeployment replicas %v, want 1", md.Spec.Replicas)
	}
	if md.Spec.Selector.MatchLabels[clusterv1.MachineDeploymentNameLabel] != "md" || md.Spec.Template.Labels[clusterv1.ClusterNameLabel] != "demo" {
		t.Errorf("MachineDeployment selector %v, template labels %v", md.Spec.Selector.MatchLabels, md.Spec.Template.Labels)
	}
	if ms := md.Spec.Rollout.Strategy.RollingUpdate.MaxSurge; ms == nil || *ms != intstr.FromInt32(1) {
		t.Errorf("MachineDeployment maxSurge %v, want 1", ms)
	}
	if md.Spec.Template.Spec.Version != "v1.37.2" {
		t.Errorf("MachineDeployment version %q", md.Spec.Template.Spec.Version)
	}
	if kcp.Spec.Replicas == nil || *kcp.Spec.Replicas != 1 || kcp.Spec.Rollout.Strategy.RollingUpdate.MaxSurge == nil || kcp.Spec.Version != "v1.37.2" {
		t.Errorf("KubeadmControlPlane not defaulted: %+v", kcp.Spec)
	}
}

// controllerGoroutines returns the stacks of goroutines that run
// controller-runtime controllers, Cluster API's cluster cache or informers.
func controllerGoroutines() []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "controller-runtime/pkg/internal/controller") ||
			strings.Contains(g, "cluster-api/controllers/clustercache") ||
			strings.Contains(g, "k8s.io/client-go/tools/cache.(*Reflector)") {
			out = append(out, g)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func(context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %v (last error: %v)", what, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestStartControllers runs Cluster API's controllers against a real API
// server: they start with no cache-sync error, act on real objects (a
// Cluster gets its finalizer and phase; a MachineDeployment becomes a
// MachineSet and Machines with KubeadmConfigs and OpenStackMachines cloned
// from their templates), and Stop ends every controller goroutine within
// seconds.
func TestStartControllers(t *testing.T) {
	ctx := t.Context()
	c := controllersEnv(t)
	if err := InstallControllerCRDs(ctx, c); err != nil {
		t.Fatal(err)
	}
	before := len(controllerGoroutines())

	start := time.Now()
	rc, err := StartControllers(ctx, c, WithConcurrency(2), WithNamespace("smoke"), WithProviderSetup(nil), WithControllersLogger(testr.NewWithOptions(t, testr.Options{Verbosity: 0})))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("StartControllers: %v", time.Since(start))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = rc.Stop(context.Background())
		}
	})
	cl := rc.Client()
	ns := "smoke"
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	cluster := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
		Spec: clusterv1.ClusterSpec{ClusterNetwork: clusterv1.ClusterNetwork{
			Pods: clusterv1.NetworkRanges{CIDRBlocks: []string{"192.168.0.0/16"}},
		}},
	}
	kct := &bootstrapv1.KubeadmConfigTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-md-0", Namespace: ns},
		Spec:       bootstrapv1.KubeadmConfigTemplateSpec{Template: bootstrapv1.KubeadmConfigTemplateResource{}},
	}
	omt := &infrav1.OpenStackMachineTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-md-0", Namespace: ns},
		Spec: infrav1.OpenStackMachineTemplateSpec{Template: infrav1.OpenStackMachineTemplateResource{Spec: infrav1.OpenStackMachineSpec{
			Flavor: infrav1.FlavorParam{ID: ptr.To("m1.small")},
			Image:  infrav1.ImageParam{Filter: &infrav1.ImageFilter{Name: ptr.To("ubuntu")}},
		}}},
	}
	md := &clusterv1.MachineDeployment{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-md-0", Namespace: ns},
		Spec: clusterv1.MachineDeploymentSpec{
			ClusterName: "demo",
			Replicas:    ptr.To[int32](2),
			Template: clusterv1.MachineTemplateSpec{Spec: clusterv1.MachineSpec{
				ClusterName: "demo",
				Version:     "v1.37.2",
				Bootstrap: clusterv1.Bootstrap{ConfigRef: clusterv1.ContractVersionedObjectReference{
					APIGroup: bootstrapv1.GroupVersion.Group, Kind: "KubeadmConfigTemplate", Name: kct.Name,
				}},
				InfrastructureRef: clusterv1.ContractVersionedObjectReference{
					APIGroup: infrav1.Group, Kind: infrav1.OpenStackMachineTemplateKind, Name: omt.Name,
				},
			}},
		},
	}
	if err := DefaultClusterAPIObjects(ctx, md); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{cluster, kct, omt, md} {
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}

	waitFor(t, "Cluster finalizer and phase", time.Minute, func(ctx context.Context) (bool, error) {
		got := &clusterv1.Cluster{}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(cluster), got); err != nil {
			return false, err
		}
		return slices.Contains(got.Finalizers, clusterv1.ClusterFinalizer) && got.Status.Phase != "", fmt.Errorf("finalizers %v phase %q", got.Finalizers, got.Status.Phase)
	})
	waitFor(t, "MachineSet and 2 Machines with KubeadmConfigs and OpenStackMachines", 2*time.Minute, func(ctx context.Context) (bool, error) {
		var sets clusterv1.MachineSetList
		if err := cl.List(ctx, &sets, client.InNamespace(ns)); err != nil {
			return false, err
		}
		if len(sets.Items) != 1 || !metav1.IsControlledBy(&sets.Items[0], mustGet(ctx, cl, md)) {
			return false, fmt.Errorf("%d MachineSets", len(sets.Items))
		}
		var machines clusterv1.MachineList
		if err := cl.List(ctx, &machines, client.InNamespace(ns)); err != nil {
			return false, err
		}
		if len(machines.Items) != 2 {
			return false, fmt.Errorf("%d Machines", len(machines.Items))
		}
		for _, m := range machines.Items {
			if !metav1.IsControlledBy(&m, &sets.Items[0]) {
				return false, fmt.Errorf("machine %s not controlled by the MachineSet", m.Name)
			}
			if !slices.Contains(m.Finalizers, clusterv1.MachineFinalizer) {
				return false, fmt.Errorf("machine %s has no finalizer", m.Name)
			}
			if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: m.Spec.Bootstrap.ConfigRef.Name}, &bootstrapv1.KubeadmConfig{}); err != nil {
				return false, fmt.Errorf("KubeadmConfig of %s: %w", m.Name, err)
			}
			if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: m.Spec.InfrastructureRef.Name}, &infrav1.OpenStackMachine{}); err != nil {
				return false, fmt.Errorf("OpenStackMachine of %s: %w", m.Name, err)
			}
		}
		return true, nil
	})
	// Scale down: the MachineSet controller deletes one Machine, and the
	// Machine controller its KubeadmConfig and OpenStackMachine.
	if err := cl.Get(ctx, client.ObjectKeyFromObject(md), md); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(md.DeepCopy())
	md.Spec.Replicas = ptr.To[int32](1)
	if err := cl.Patch(ctx, md, patch); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one Machine, one KubeadmConfig, one OpenStackMachine", 2*time.Minute, func(ctx context.Context) (bool, error) {
		var machines clusterv1.MachineList
		var configs bootstrapv1.KubeadmConfigList
		var osms infrav1.OpenStackMachineList
		for _, l := range []client.ObjectList{&machines, &configs, &osms} {
			if err := cl.List(ctx, l, client.InNamespace(ns)); err != nil {
				return false, err
			}
		}
		n := [3]int{len(machines.Items), len(configs.Items), len(osms.Items)}
		var why []string
		for _, m := range machines.Items {
			if m.DeletionTimestamp != nil {
				why = append(why, fmt.Sprintf("%s deleting: %v", m.Name, m.Status.Conditions))
			}
		}
		var sets clusterv1.MachineSetList
		if err := cl.List(ctx, &sets, client.InNamespace(ns)); err == nil {
			for _, ms := range sets.Items {
				why = append(why, fmt.Sprintf("MachineSet %s replicas %d conditions %v", ms.Name, ptr.Deref(ms.Spec.Replicas, -1), ms.Status.Conditions))
			}
		}
		return n == [3]int{1, 1, 1}, fmt.Errorf("machines, configs, openstackmachines: %v; %v", n, why)
	})

	// A paused Cluster: its MachineDeployment is marked Paused and gets no
	// MachineSet.
	pausedCluster := cluster.DeepCopy()
	pausedCluster.ObjectMeta = metav1.ObjectMeta{Name: "paused", Namespace: ns}
	pausedCluster.Spec.Paused = ptr.To(true)
	pausedMD := &clusterv1.MachineDeployment{ObjectMeta: metav1.ObjectMeta{Name: "paused-md-0", Namespace: ns}}
	pausedMD.Spec = *md.Spec.DeepCopy()
	pausedMD.Spec.ClusterName, pausedMD.Spec.Template.Spec.ClusterName = "paused", "paused"
	pausedMD.Spec.Selector = metav1.LabelSelector{}
	pausedMD.Spec.Template.Labels = nil
	if err := DefaultClusterAPIObjects(ctx, pausedMD); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{pausedCluster, pausedMD} {
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
	waitFor(t, "paused MachineDeployment marked Paused", time.Minute, func(ctx context.Context) (bool, error) {
		got := &clusterv1.MachineDeployment{}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(pausedMD), got); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, clusterv1.PausedCondition)
		return c != nil && c.Status == metav1.ConditionTrue, fmt.Errorf("conditions %v", got.Status.Conditions)
	})
	var sets clusterv1.MachineSetList
	if err := cl.List(ctx, &sets, client.InNamespace(ns), client.MatchingLabels{clusterv1.ClusterNameLabel: "paused"}); err != nil {
		t.Fatal(err)
	}
	if len(sets.Items) != 0 {
		t.Errorf("paused cluster got %d MachineSets", len(sets.Items))
	}

	if err := rc.Err(); err != nil {
		t.Fatalf("manager failed: %v", err)
	}
	if running := len(controllerGoroutines()); running <= before+5 {
		t.Fatalf("%d controller goroutines while running, %d before: the goroutine check below would prove nothing", running, before)
	}

	start = time.Now()
	stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := rc.Stop(stopCtx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped = true
	t.Logf("Stop: %v", time.Since(start))
	select {
	case <-rc.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	var left []string
	waitFor(t, "controller goroutines to end", 10*time.Second, func(context.Context) (bool, error) {
		left = controllerGoroutines()
		return len(left) <= before, fmt.Errorf("%d controller goroutines left, %d before", len(left), before)
	})
}

func mustGet(ctx context.Context, cl client.Client, obj client.Object) client.Object {
	_ = cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	return obj
}

// TestSetupControllersOnOwnManager is the embedding path: a platform team
// builds its manager from ControllersManagerOptions, adds the stack with
// SetupControllers, and runs the manager itself.
func TestSetupControllersOnOwnManager(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := controllersEnv(t)
	if err := InstallControllerCRDs(ctx, c); err != nil {
		t.Fatal(err)
	}
	mo, err := ControllersManagerOptions(WithNamespace("own"))
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(c.RESTConfig(), mo)
	if err != nil {
		t.Fatal(err)
	}
	if err := SetupControllers(ctx, mgr, WithProviderSetup(nil), WithConcurrency(1)); err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	cl := mgr.GetClient()
	for _, ns := range []string{"own", "other"} {
		if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		cluster := &clusterv1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
			Spec: clusterv1.ClusterSpec{ClusterNetwork: clusterv1.ClusterNetwork{
				Pods: clusterv1.NetworkRanges{CIDRBlocks: []string{"192.168.0.0/16"}},
			}},
		}
		if err := cl.Create(ctx, cluster); err != nil {
			t.Fatal(err)
		}
	}
	// The manager's client reads through the namespace-restricted cache:
	// read with a plain client to see the other namespace.
	direct, err := client.New(c.RESTConfig(), client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Cluster in the watched namespace gets its finalizer", time.Minute, func(ctx context.Context) (bool, error) {
		got := &clusterv1.Cluster{}
		if err := direct.Get(ctx, client.ObjectKey{Namespace: "own", Name: "demo"}, got); err != nil {
			return false, err
		}
		return slices.Contains(got.Finalizers, clusterv1.ClusterFinalizer), fmt.Errorf("finalizers %v", got.Finalizers)
	})
	other := &clusterv1.Cluster{}
	if err := direct.Get(ctx, client.ObjectKey{Namespace: "other", Name: "demo"}, other); err != nil {
		t.Fatal(err)
	}
	if len(other.Finalizers) != 0 || other.Status.Phase != "" {
		t.Errorf("Cluster outside the namespace was reconciled: finalizers %v phase %q", other.Finalizers, other.Status.Phase)
	}
}
