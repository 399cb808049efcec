package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/controllers"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestStackProvisionsAndDeletesInfrastructure runs the default stack (Cluster
// API's controllers with openstrap's) against a real API server and the
// simulated OpenStack: a Cluster that references an OpenStackCluster gets
// its network and load balancer, Cluster API's Cluster controller sees the
// infrastructure provisioned and copies the endpoint; a control-plane
// Machine gets its bootstrap data from CABPK and a server from openstrap;
// deleting the Cluster removes every cloud resource it made. Nothing here is written by the test
// but the objects a user would create.
func TestStackProvisionsAndDeletesInfrastructure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := controllersEnv(t)
	if err := InstallControllerCRDs(ctx, c); err != nil {
		t.Fatal(err)
	}
	sim := openstacktest.NewTestServer(t)
	base := sim.Snapshot()

	rc, err := StartControllers(ctx, c, WithConcurrency(2),
		WithProviderTiming(controllers.Timing{PollInterval: 200 * time.Millisecond, RetryAfterPermanentError: time.Hour, CloudTimeout: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rc.Stop(stopCtx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	cl := rc.Client()
	ns := "stack"
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	identity := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cloud", Namespace: ns},
		Data:       map[string][]byte{infrav1.CloudsYAMLKey: sim.CloudsYAML()},
	}
	osc := &infrav1.OpenStackCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
		Spec: infrav1.OpenStackClusterSpec{
			IdentityRef:           infrav1.OpenStackIdentityReference{Name: identity.Name, CloudName: openstacktest.CloudName},
			ManagedSubnets:        []infrav1.SubnetSpec{{CIDR: "10.6.0.0/24"}},
			APIServer:             &infrav1.APIServer{ManagedLoadBalancer: &infrav1.APIServerLoadBalancer{Enabled: ptr.To(true)}},
			ManagedSecurityGroups: &infrav1.ManagedSecurityGroups{AllowAllInClusterTraffic: true},
		},
	}
	cluster := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
		Spec: clusterv1.ClusterSpec{
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{APIGroup: infrav1.Group, Kind: infrav1.OpenStackClusterKind, Name: osc.Name},
		},
	}
	for _, obj := range []client.Object{identity, osc, cluster} {
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}

	start := time.Now()
	waitFor(t, "Cluster infrastructure provisioned with an endpoint", 3*time.Minute, func(ctx context.Context) (bool, error) {
		got := &clusterv1.Cluster{}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(cluster), got); err != nil {
			return false, err
		}
		prov := ptr.Deref(got.Status.Initialization.InfrastructureProvisioned, false)
		return prov && got.Spec.ControlPlaneEndpoint.Host != "", fmt.Errorf("infrastructureProvisioned=%v endpoint=%q phase=%q", prov, got.Spec.ControlPlaneEndpoint.Host, got.Status.Phase)
	})
	t.Logf("infrastructure provisioned after %v", time.Since(start))
	gotOSC := &infrav1.OpenStackCluster{}
	if err := cl.Get(ctx, client.ObjectKeyFromObject(osc), gotOSC); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(gotOSC.OwnerReferences, func(r metav1.OwnerReference) bool { return r.Kind == "Cluster" && r.Name == "demo" }) {
		t.Errorf("OpenStackCluster owners %v: Cluster API's Cluster controller did not adopt it", gotOSC.OwnerReferences)
	}
	if len(sim.Snapshot()) <= len(base) {
		t.Fatal("no cloud resource was made")
	}

	// A control-plane Machine (no KubeadmControlPlane): CABPK takes the init
	// lock and writes the bootstrap data Secret, openstrap boots a server
	// with it, and the Machine controller copies the provider ID.
	cpLabels := map[string]string{clusterv1.ClusterNameLabel: "demo", clusterv1.MachineControlPlaneLabel: ""}
	kc := &bootstrapv1.KubeadmConfig{ObjectMeta: metav1.ObjectMeta{Name: "demo-cp-0", Namespace: ns, Labels: cpLabels}}
	osm := &infrav1.OpenStackMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-cp-0", Namespace: ns, Labels: cpLabels},
		Spec: infrav1.OpenStackMachineSpec{
			Flavor: infrav1.FlavorParam{Filter: &infrav1.FlavorFilter{Name: ptr.To("m1.small")}},
			Image:  infrav1.ImageParam{Filter: &infrav1.ImageFilter{Name: ptr.To(openstacktest.ImageName)}},
		},
	}
	m := &clusterv1.Machine{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-cp-0", Namespace: ns, Labels: cpLabels},
		Spec: clusterv1.MachineSpec{
			ClusterName: "demo",
			Version:     "v1.37.2",
			Bootstrap: clusterv1.Bootstrap{ConfigRef: clusterv1.ContractVersionedObjectReference{
				APIGroup: bootstrapv1.GroupVersion.Group, Kind: "KubeadmConfig", Name: kc.Name}},
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{
				APIGroup: infrav1.Group, Kind: infrav1.OpenStackMachineKind, Name: osm.Name},
		},
	}
	if err := DefaultClusterAPIObjects(ctx, m); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{kc, osm, m} {
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
	start = time.Now()
	var providerID string
	waitFor(t, "control-plane Machine with bootstrap data and a provider ID", 3*time.Minute, func(ctx context.Context) (bool, error) {
		got := &clusterv1.Machine{}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(m), got); err != nil {
			return false, err
		}
		providerID = got.Spec.ProviderID
		return got.Spec.Bootstrap.DataSecretName != nil && providerID != "",
			fmt.Errorf("dataSecretName=%v providerID=%q phase=%q", got.Spec.Bootstrap.DataSecretName, providerID, got.Status.Phase)
	})
	t.Logf("Machine bootstrapped and provisioned after %v: %s", time.Since(start), providerID)
	data := &corev1.Secret{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: kc.Name}, data); err != nil {
		t.Fatalf("CABPK's bootstrap data Secret: %v", err)
	}
	if data.Type != clusterv1.ClusterSecretType || len(data.Data["value"]) == 0 || string(data.Data["format"]) != "cloud-config" {
		t.Errorf("bootstrap Secret type %q format %q, %d bytes of value", data.Type, data.Data["format"], len(data.Data["value"]))
	}
	_, serverID, err := infrav1.ParseProviderID(providerID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(sim.Snapshot(), func(r openstacktest.Resource) bool { return r.Kind == "server" && r.ID == serverID }) {
		t.Errorf("server %s of %s not in the simulator", serverID, providerID)
	}

	// A second Cluster with a KubeadmControlPlane of one replica: KCP
	// creates the first control-plane Machine from its template, and
	// openstrap boots it. (KCP's later steps need a reachable workload API
	// server and kubelets, which the simulator's servers do not run.)
	kcpOSC := osc.DeepCopy()
	kcpOSC.ObjectMeta = metav1.ObjectMeta{Name: "kcp", Namespace: ns}
	kcpOSC.Spec.ManagedSubnets = []infrav1.SubnetSpec{{CIDR: "10.7.0.0/24"}}
	kcpOMT := &infrav1.OpenStackMachineTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "kcp-control-plane", Namespace: ns},
		Spec:       infrav1.OpenStackMachineTemplateSpec{Template: infrav1.OpenStackMachineTemplateResource{Spec: osm.Spec}},
	}
	kcp := &controlplanev1.KubeadmControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: "kcp", Namespace: ns},
		Spec: controlplanev1.KubeadmControlPlaneSpec{
			Version: "v1.37.2",
			MachineTemplate: controlplanev1.KubeadmControlPlaneMachineTemplate{Spec: controlplanev1.KubeadmControlPlaneMachineTemplateSpec{
				InfrastructureRef: clusterv1.ContractVersionedObjectReference{APIGroup: infrav1.Group, Kind: infrav1.OpenStackMachineTemplateKind, Name: kcpOMT.Name},
			}},
		},
	}
	kcpCluster := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "kcp", Namespace: ns},
		Spec: clusterv1.ClusterSpec{
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{APIGroup: infrav1.Group, Kind: infrav1.OpenStackClusterKind, Name: kcpOSC.Name},
			ControlPlaneRef:   clusterv1.ContractVersionedObjectReference{APIGroup: controlplanev1.GroupVersion.Group, Kind: "KubeadmControlPlane", Name: kcp.Name},
		},
	}
	if err := DefaultClusterAPIObjects(ctx, kcp); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{kcpOSC, kcpOMT, kcp, kcpCluster} {
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
	start = time.Now()
	waitFor(t, "KubeadmControlPlane's first Machine with a provider ID", 3*time.Minute, func(ctx context.Context) (bool, error) {
		var machines clusterv1.MachineList
		if err := cl.List(ctx, &machines, client.InNamespace(ns), client.MatchingLabels{clusterv1.ClusterNameLabel: "kcp"}); err != nil {
			return false, err
		}
		if len(machines.Items) != 1 {
			got := &controlplanev1.KubeadmControlPlane{}
			_ = cl.Get(ctx, client.ObjectKeyFromObject(kcp), got)
			return false, fmt.Errorf("%d Machines; KCP conditions %v", len(machines.Items), got.Status.Conditions)
		}
		mm := machines.Items[0]
		if !metav1.IsControlledBy(&mm, mustGet(ctx, cl, kcp)) {
			return false, fmt.Errorf("machine %s not controlled by the KubeadmControlPlane", mm.Name)
		}
		return mm.Spec.ProviderID != "", fmt.Errorf("machine %s phase %q providerID %q", mm.Name, mm.Status.Phase, mm.Spec.ProviderID)
	})
	t.Logf("KCP's first Machine provisioned after %v", time.Since(start))

	if err := cl.Delete(ctx, kcpCluster); err != nil {
		t.Fatal(err)
	}
	if err := cl.Delete(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Cluster, Machine, OpenStackCluster gone", 3*time.Minute, func(ctx context.Context) (bool, error) {
		errC := cl.Get(ctx, client.ObjectKeyFromObject(cluster), &clusterv1.Cluster{})
		errO := cl.Get(ctx, client.ObjectKeyFromObject(osc), &infrav1.OpenStackCluster{})
		errM := cl.Get(ctx, client.ObjectKeyFromObject(m), &clusterv1.Machine{})
		errK := cl.Get(ctx, client.ObjectKeyFromObject(kcpCluster), &clusterv1.Cluster{})
		var left clusterv1.MachineList
		if err := cl.List(ctx, &left, client.InNamespace(ns)); err != nil {
			return false, err
		}
		gone := apierrors.IsNotFound(errC) && apierrors.IsNotFound(errO) && apierrors.IsNotFound(errM) && apierrors.IsNotFound(errK) && len(left.Items) == 0
		return gone, fmt.Errorf("cluster: %v, openstackcluster: %v, machine: %v, kcp cluster: %v, %d machines", errC, errO, errM, errK, len(left.Items))
	})
	baseIDs := map[string]bool{}
	for _, r := range base {
		baseIDs[r.Service+"/"+r.Kind+"/"+r.ID] = true
	}
	for _, r := range sim.Snapshot() {
		if !baseIDs[r.Service+"/"+r.Kind+"/"+r.ID] {
			t.Errorf("leaked %s %s %s (%s)", r.Service, r.Kind, r.ID, r.Name)
		}
	}
	if err := rc.Err(); err != nil {
		t.Errorf("manager: %v", err)
	}
}
