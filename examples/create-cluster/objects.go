package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/openstrap/openstrap/internal/tools"
	"github.com/openstrap/openstrap/provider"
)

// infraCRDs are stand-ins for the OpenStack provider's CRDs.
//
//go:embed crds.yaml
var infraCRDs []byte

const namespace = "default"

// crdManifests returns the Cluster API CRDs (from the pinned module, labelled
// as clusterctl labels them) and the infrastructure stand-ins.
func crdManifests(ctx context.Context) ([][]byte, error) {
	crds, err := tools.ClusterAPICRDs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(crds)+1)
	for _, crd := range crds {
		crd.APIVersion, crd.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
		b, err := yaml.Marshal(crd)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return append(out, infraCRDs), nil
}

// machineObject is one Cluster API Machine to be, with its infrastructure
// machine and its bootstrap data secret.
type machineObject struct {
	name     string
	role     provider.Role
	userData []byte
}

// clusterManifests renders the cluster's Cluster API objects: the Cluster and
// its OpenStackCluster, a Machine with an OpenStackMachine and a bootstrap
// data Secret per machine, and the cluster's PKI and kubeconfig Secrets.
func clusterManifests(cfg *config, host string, port int, secrets []corev1.Secret, machines []machineObject) ([][]byte, error) {
	var objs []any
	objs = append(objs, &clusterv1.Cluster{
		TypeMeta:   metav1.TypeMeta{APIVersion: clusterv1.GroupVersion.String(), Kind: "Cluster"},
		ObjectMeta: metav1.ObjectMeta{Name: cfg.Name, Namespace: namespace},
		Spec: clusterv1.ClusterSpec{
			ControlPlaneEndpoint: clusterv1.APIEndpoint{Host: host, Port: int32(port)},
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{
				APIGroup: "infrastructure.cluster.x-k8s.io", Kind: "OpenStackCluster", Name: cfg.Name},
		},
	})
	objs = append(objs, infraObject("OpenStackCluster", cfg.Name, cfg.Name, map[string]any{
		"externalNetwork": map[string]any{"name": cfg.ExternalNetwork},
		"managedSubnets":  []any{map[string]any{"cidr": cfg.NodeCIDR}},
	}))
	for _, m := range machines {
		labels := map[string]string{clusterv1.ClusterNameLabel: cfg.Name}
		if m.role == provider.ControlPlane {
			labels[clusterv1.MachineControlPlaneLabel] = ""
		}
		dataSecret := m.name + "-bootstrap"
		objs = append(objs, &clusterv1.Machine{
			TypeMeta:   metav1.TypeMeta{APIVersion: clusterv1.GroupVersion.String(), Kind: "Machine"},
			ObjectMeta: metav1.ObjectMeta{Name: m.name, Namespace: namespace, Labels: labels},
			Spec: clusterv1.MachineSpec{
				ClusterName: cfg.Name,
				Version:     cfg.KubernetesVersion,
				Bootstrap:   clusterv1.Bootstrap{DataSecretName: &dataSecret},
				InfrastructureRef: clusterv1.ContractVersionedObjectReference{
					APIGroup: "infrastructure.cluster.x-k8s.io", Kind: "OpenStackMachine", Name: m.name},
			},
		})
		objs = append(objs, infraObject("OpenStackMachine", m.name, cfg.Name, map[string]any{
			"flavor": cfg.Flavor, "image": map[string]any{"filter": map[string]any{"name": cfg.Image}},
		}))
		objs = append(objs, &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: dataSecret, Namespace: namespace, Labels: map[string]string{clusterv1.ClusterNameLabel: cfg.Name}},
			Type:       clusterv1.ClusterSecretType,
			Data:       map[string][]byte{"value": m.userData, "format": []byte("cloud-config")},
		})
	}
	for i := range secrets {
		s := secrets[i]
		s.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
		objs = append(objs, &s)
	}
	out := make([][]byte, 0, len(objs))
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func infraObject(kind, name, cluster string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion("infrastructure.cluster.x-k8s.io/v1beta1")
	u.SetKind(kind)
	u.SetName(name)
	u.SetNamespace(namespace)
	u.SetLabels(map[string]string{clusterv1.ClusterNameLabel: cluster})
	return u
}

// newClient returns a controller-runtime client that knows Cluster API types.
func newClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clusterv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// markProvisioned records in the Cluster's status what the flow did, as the
// Cluster API controllers would: infrastructure provisioned, control plane
// initialized; and each Machine's node and provider ID.
func markProvisioned(ctx context.Context, c client.Client, name string, machines map[string]*provider.Machine) error {
	var cl clusterv1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &cl); err != nil {
		return fmt.Errorf("get Cluster %s: %w", name, err)
	}
	yes := true
	cl.Status.Initialization = clusterv1.ClusterInitializationStatus{InfrastructureProvisioned: &yes, ControlPlaneInitialized: &yes}
	now := metav1.Now()
	setCondition(&cl.Status.Conditions, metav1.Condition{Type: clusterv1.ClusterControlPlaneInitializedCondition,
		Status: metav1.ConditionTrue, Reason: "Initialized", Message: "control plane answers", LastTransitionTime: now})
	cl.Status.Phase = string(clusterv1.ClusterPhaseProvisioned)
	if err := c.Status().Update(ctx, &cl); err != nil {
		return fmt.Errorf("update Cluster %s status: %w", name, err)
	}
	return markMachines(ctx, c, machines)
}

// setOwners adds the owner references the Cluster API controllers would add:
// OpenStackCluster and Machines owned by the Cluster, each OpenStackMachine
// and bootstrap data Secret by its Machine. The pivot follows them.
// markMachines records what the Machine controller would: each Machine's
// provider ID, node reference, addresses and Running phase.
func markMachines(ctx context.Context, c client.Client, machines map[string]*provider.Machine) error {
	var errs []error
	for name, m := range machines {
		var mo clusterv1.Machine
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &mo); err != nil {
			errs = append(errs, fmt.Errorf("get Machine %s: %w", name, err))
			continue
		}
		if mo.Spec.ProviderID == "" {
			mo.Spec.ProviderID = m.ProviderID
			if err := c.Update(ctx, &mo); err != nil {
				errs = append(errs, fmt.Errorf("update Machine %s: %w", name, err))
				continue
			}
		}
		mo.Status.NodeRef = clusterv1.MachineNodeReference{Name: name}
		mo.Status.Phase = string(clusterv1.MachinePhaseRunning)
		mo.Status.Addresses = nil
		for _, ips := range m.Addresses {
			for _, ip := range ips {
				mo.Status.Addresses = append(mo.Status.Addresses, clusterv1.MachineAddress{Type: clusterv1.MachineInternalIP, Address: ip})
			}
		}
		if err := c.Status().Update(ctx, &mo); err != nil {
			errs = append(errs, fmt.Errorf("update Machine %s status: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func setOwners(ctx context.Context, c client.Client, cluster string, machines []string) error {
	var cl clusterv1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: cluster}, &cl); err != nil {
		return fmt.Errorf("get Cluster %s: %w", cluster, err)
	}
	own := func(obj client.Object, owner client.Object, kind string) error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return fmt.Errorf("get %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
		for _, ref := range obj.GetOwnerReferences() {
			if ref.UID == owner.GetUID() {
				return nil
			}
		}
		obj.SetOwnerReferences(append(obj.GetOwnerReferences(), metav1.OwnerReference{
			APIVersion: clusterv1.GroupVersion.String(), Kind: kind, Name: owner.GetName(), UID: owner.GetUID()}))
		return c.Update(ctx, obj)
	}
	if err := own(infraObject("OpenStackCluster", cluster, cluster, nil), &cl, "Cluster"); err != nil {
		return err
	}
	for _, name := range machines {
		m := &clusterv1.Machine{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
		if err := own(m, &cl, "Cluster"); err != nil {
			return err
		}
		if err := own(infraObject("OpenStackMachine", name, cluster, nil), m, "Machine"); err != nil {
			return err
		}
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-bootstrap"}}
		if err := own(secret, m, "Machine"); err != nil {
			return err
		}
	}
	return nil
}

func setCondition(conds *[]metav1.Condition, c metav1.Condition) {
	for i := range *conds {
		if (*conds)[i].Type == c.Type {
			(*conds)[i] = c
			return
		}
	}
	*conds = append(*conds, c)
}
