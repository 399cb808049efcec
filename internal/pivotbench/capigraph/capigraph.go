// Package capigraph generates realistic Cluster API object graphs (Clusters with
// a KubeadmControlPlane, MachineDeployments, MachineSets, Machines, KubeadmConfigs,
// OpenStack infrastructure machines and templates, and the cluster's secrets) and
// loads them into an API server with their status, as a provider's controllers
// would have left them. It serves pivot's tests and its benchmark.
package capigraph

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Spec sizes a generated graph.
type Spec struct {
	// Namespace holds every object.
	Namespace string
	// Clusters is the number of Clusters, named <Prefix>0, <Prefix>1, ...
	Clusters int
	// Machines is the number of worker Machines per Cluster (one MachineDeployment).
	Machines int
	// ControlPlaneMachines is the number of control plane Machines; 1 when zero.
	ControlPlaneMachines int
	// Prefix names the clusters; "c" when empty.
	Prefix string
}

// Resource maps every kind the generator emits to its REST resource.
var Resource = map[string]schema.GroupVersionResource{
	"Cluster":                   {Group: "cluster.x-k8s.io", Version: "v1beta2", Resource: "clusters"},
	"MachineDeployment":         {Group: "cluster.x-k8s.io", Version: "v1beta2", Resource: "machinedeployments"},
	"MachineSet":                {Group: "cluster.x-k8s.io", Version: "v1beta2", Resource: "machinesets"},
	"Machine":                   {Group: "cluster.x-k8s.io", Version: "v1beta2", Resource: "machines"},
	"KubeadmControlPlane":       {Group: "controlplane.cluster.x-k8s.io", Version: "v1beta2", Resource: "kubeadmcontrolplanes"},
	"KubeadmConfig":             {Group: "bootstrap.cluster.x-k8s.io", Version: "v1beta2", Resource: "kubeadmconfigs"},
	"KubeadmConfigTemplate":     {Group: "bootstrap.cluster.x-k8s.io", Version: "v1beta2", Resource: "kubeadmconfigtemplates"},
	"OpenStackCluster":          {Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Resource: "openstackclusters"},
	"OpenStackMachine":          {Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Resource: "openstackmachines"},
	"OpenStackMachineTemplate":  {Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Resource: "openstackmachinetemplates"},
	"ClusterClass":              {Group: "cluster.x-k8s.io", Version: "v1beta2", Resource: "clusterclasses"},
	"ClusterResourceSet":        {Group: "addons.cluster.x-k8s.io", Version: "v1beta2", Resource: "clusterresourcesets"},
	"ClusterResourceSetBinding": {Group: "addons.cluster.x-k8s.io", Version: "v1beta2", Resource: "clusterresourcesetbindings"},
	"Secret":                    {Version: "v1", Resource: "secrets"},
	"ConfigMap":                 {Version: "v1", Resource: "configmaps"},
}

// CRDDir returns the directory of the OpenStack stand-in CRDs (pivot/testdata/crds).
func CRDDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("capigraph: source location unknown")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "pivot", "testdata", "crds"), nil
}

const pendingPrefix = "pending:"

// OwnerRef returns an owner reference to the object kind/name of the same
// namespace, with a placeholder UID that Load replaces.
func OwnerRef(kind, name string) metav1.OwnerReference {
	ctrl := true
	return metav1.OwnerReference{APIVersion: Resource[kind].GroupVersion().String(), Kind: kind, Name: name,
		UID: pendingUID(kind, name), Controller: &ctrl}
}

// pendingUID is the placeholder UID of an owner reference to kind/name until
// Load knows the owner's real UID.
func pendingUID(kind, name string) types.UID { return types.UID(pendingPrefix + kind + "/" + name) }

type gen struct {
	ns   string
	objs []*unstructured.Unstructured
	now  string
}

func (g *gen) add(kind, name string, owners []string, body map[string]any) *unstructured.Unstructured {
	gvr := Resource[kind]
	u := &unstructured.Unstructured{Object: body}
	u.SetGroupVersionKind(gvr.GroupVersion().WithKind(kind))
	u.SetNamespace(g.ns)
	u.SetName(name)
	var refs []metav1.OwnerReference
	for _, o := range owners {
		kind, oname, _ := strings.Cut(o, "/")
		ctrl := len(refs) == 0
		refs = append(refs, metav1.OwnerReference{
			APIVersion: Resource[kind].GroupVersion().String(), Kind: kind, Name: oname,
			UID: pendingUID(kind, oname), Controller: &ctrl, BlockOwnerDeletion: &ctrl,
		})
	}
	u.SetOwnerReferences(refs)
	if f, ok := finalizers[kind]; ok {
		u.SetFinalizers([]string{f})
	}
	g.objs = append(g.objs, u)
	return u
}

// finalizers are the finalizers the providers' controllers put on their objects.
var finalizers = map[string]string{
	"Cluster":             "cluster.cluster.x-k8s.io",
	"Machine":             "machine.cluster.x-k8s.io",
	"KubeadmControlPlane": "kubeadm.controlplane.cluster.x-k8s.io",
	"OpenStackCluster":    "openstackcluster.infrastructure.cluster.x-k8s.io",
	"OpenStackMachine":    "openstackmachine.infrastructure.cluster.x-k8s.io",
}

func (g *gen) condition(typ string) map[string]any {
	return map[string]any{"type": typ, "status": "True", "reason": typ, "message": "", "lastTransitionTime": g.now}
}

func ref(group, kind, name string) map[string]any {
	return map[string]any{"apiGroup": group, "kind": kind, "name": name}
}

// Objects returns the graph in creation order (owners first). Owner references
// carry placeholder UIDs that Load replaces.
func Objects(s Spec) []*unstructured.Unstructured {
	if s.ControlPlaneMachines == 0 {
		s.ControlPlaneMachines = 1
	}
	if s.Prefix == "" {
		s.Prefix = "c"
	}
	g := &gen{ns: s.Namespace, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339)}
	for i := range s.Clusters {
		g.cluster(fmt.Sprintf("%s%d", s.Prefix, i), s)
	}
	return g.objs
}

const (
	infraGroup = "infrastructure.cluster.x-k8s.io"
	k8sVersion = "v1.37.2"
)

func (g *gen) cluster(c string, s Spec) {
	lbl := map[string]any{"cluster.x-k8s.io/cluster-name": c}
	g.add("Cluster", c, nil, map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"env": "bench"}},
		"spec": map[string]any{
			"controlPlaneRef":   ref("controlplane.cluster.x-k8s.io", "KubeadmControlPlane", c+"-cp"),
			"infrastructureRef": ref(infraGroup, "OpenStackCluster", c),
			"clusterNetwork":    map[string]any{"pods": map[string]any{"cidrBlocks": []any{"192.168.0.0/16"}}},
		},
		"status": map[string]any{
			"initialization": map[string]any{"infrastructureProvisioned": true, "controlPlaneInitialized": true},
			"conditions":     []any{g.condition("ControlPlaneInitialized"), g.condition("InfrastructureReady"), g.condition("Available")},
			"phase":          "Provisioned",
		},
	})
	g.add("OpenStackCluster", c, []string{"Cluster/" + c}, map[string]any{
		"metadata": map[string]any{"labels": lbl},
		"spec":     map[string]any{"externalNetwork": map[string]any{"id": "ext-net"}, "apiServerLoadBalancer": map[string]any{"enabled": true}},
		"status": map[string]any{"ready": true, "network": map[string]any{"id": "net-" + c, "name": "k8s-clusterapi-cluster-" + c},
			"apiServerLoadBalancer": map[string]any{"id": "lb-" + c, "ip": "10.6.0.10"}},
	})
	for _, t := range []string{c + "-cp", c + "-md-0"} {
		g.add("OpenStackMachineTemplate", t, []string{"Cluster/" + c}, map[string]any{
			"metadata": map[string]any{"labels": lbl},
			"spec":     map[string]any{"template": map[string]any{"spec": map[string]any{"flavor": "m1.medium", "image": map[string]any{"filter": map[string]any{"name": "ubuntu-2404-kube-" + k8sVersion}}}}},
		})
	}
	g.add("KubeadmConfigTemplate", c+"-md-0", []string{"Cluster/" + c}, map[string]any{
		"metadata": map[string]any{"labels": lbl},
		"spec":     map[string]any{"template": map[string]any{"spec": map[string]any{"joinConfiguration": map[string]any{"nodeRegistration": map[string]any{"name": "{{ local_hostname }}"}}}}},
	})
	cpReplicas := int64(s.ControlPlaneMachines)
	g.add("KubeadmControlPlane", c+"-cp", []string{"Cluster/" + c}, map[string]any{
		"metadata": map[string]any{"labels": lbl},
		"spec": map[string]any{
			"replicas":          cpReplicas,
			"version":           k8sVersion,
			"machineTemplate":   map[string]any{"spec": map[string]any{"infrastructureRef": ref(infraGroup, "OpenStackMachineTemplate", c+"-cp")}},
			"kubeadmConfigSpec": map[string]any{"clusterConfiguration": map[string]any{"controlPlaneEndpoint": "10.6.0.10:6443"}},
		},
		"status": map[string]any{"replicas": cpReplicas, "readyReplicas": cpReplicas, "version": k8sVersion,
			"initialization": map[string]any{"controlPlaneInitialized": true}, "conditions": []any{g.condition("Available")}},
	})
	// The kubeconfig secret has no owner: it moves with its Cluster by name.
	g.add("Secret", c+"-kubeconfig", nil, map[string]any{
		"metadata": map[string]any{"labels": lbl}, "type": "cluster.x-k8s.io/secret",
		"data": map[string]any{"value": "a3ViZWNvbmZpZw=="},
	})
	for _, p := range []string{"ca", "etcd", "sa", "proxy"} {
		g.add("Secret", c+"-"+p, []string{"KubeadmControlPlane/" + c + "-cp"}, map[string]any{
			"metadata": map[string]any{"labels": lbl}, "type": "cluster.x-k8s.io/secret",
			"data": map[string]any{"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
		})
	}
	for i := range s.ControlPlaneMachines {
		g.machine(c, fmt.Sprintf("%s-cp-%d", c, i), "KubeadmControlPlane/"+c+"-cp", map[string]any{"cluster.x-k8s.io/control-plane": ""})
	}
	md, ms := c+"-md-0", c+"-md-0-5d8f"
	tmplSpec := map[string]any{
		"clusterName":       c,
		"version":           k8sVersion,
		"bootstrap":         map[string]any{"configRef": ref("bootstrap.cluster.x-k8s.io", "KubeadmConfigTemplate", md)},
		"infrastructureRef": ref(infraGroup, "OpenStackMachineTemplate", md),
	}
	sel := map[string]any{"matchLabels": map[string]any{"cluster.x-k8s.io/deployment-name": md}}
	replicas := int64(s.Machines)
	g.add("MachineDeployment", md, []string{"Cluster/" + c}, map[string]any{
		"metadata": map[string]any{"labels": lbl},
		"spec": map[string]any{"clusterName": c, "replicas": replicas, "selector": sel,
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"cluster.x-k8s.io/deployment-name": md}}, "spec": tmplSpec}},
		"status": map[string]any{"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "phase": "Running"},
	})
	g.add("MachineSet", ms, []string{"MachineDeployment/" + md}, map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"cluster.x-k8s.io/cluster-name": c, "cluster.x-k8s.io/deployment-name": md}},
		"spec": map[string]any{"clusterName": c, "replicas": replicas, "selector": sel,
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"cluster.x-k8s.io/deployment-name": md}}, "spec": tmplSpec}},
		"status": map[string]any{"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
	})
	for i := range s.Machines {
		g.machine(c, fmt.Sprintf("%s-%05d", ms, i), "MachineSet/"+ms, map[string]any{"cluster.x-k8s.io/deployment-name": md})
	}
}

// machine adds a Machine owned by owner with its KubeadmConfig, bootstrap data
// secret and OpenStackMachine.
func (g *gen) machine(c, m, owner string, labels map[string]any) {
	labels["cluster.x-k8s.io/cluster-name"] = c
	lbl := map[string]any{"cluster.x-k8s.io/cluster-name": c}
	g.add("Machine", m, []string{owner}, map[string]any{
		"metadata": map[string]any{"labels": labels},
		"spec": map[string]any{
			"clusterName":       c,
			"version":           k8sVersion,
			"bootstrap":         map[string]any{"configRef": ref("bootstrap.cluster.x-k8s.io", "KubeadmConfig", m), "dataSecretName": m},
			"infrastructureRef": ref(infraGroup, "OpenStackMachine", m),
			"providerID":        "openstack:///" + m,
		},
		"status": map[string]any{
			"nodeRef":        map[string]any{"name": m},
			"phase":          "Running",
			"initialization": map[string]any{"infrastructureProvisioned": true, "bootstrapDataSecretCreated": true},
			"addresses":      []any{map[string]any{"type": "InternalIP", "address": "10.6.0.20"}},
			"conditions":     []any{g.condition("Ready"), g.condition("NodeHealthy")},
		},
	})
	g.add("KubeadmConfig", m, []string{"Machine/" + m}, map[string]any{
		"metadata": map[string]any{"labels": lbl},
		"spec":     map[string]any{"joinConfiguration": map[string]any{"nodeRegistration": map[string]any{"name": m}}},
		"status":   map[string]any{"dataSecretName": m, "initialization": map[string]any{"dataSecretCreated": true}},
	})
	g.add("OpenStackMachine", m, []string{"Machine/" + m}, map[string]any{
		"metadata": map[string]any{"labels": lbl},
		"spec":     map[string]any{"flavor": "m1.medium", "providerID": "openstack:///" + m},
		"status":   map[string]any{"ready": true, "instanceID": "srv-" + m, "addresses": []any{map[string]any{"type": "InternalIP", "address": "10.6.0.20"}}},
	})
	g.add("Secret", m, []string{"KubeadmConfig/" + m}, map[string]any{
		"metadata": map[string]any{"labels": lbl}, "type": "cluster.x-k8s.io/secret",
		"data": map[string]any{"value": "dXNlcmRhdGE=", "format": "Y2xvdWQtY29uZmln"},
	})
}

// Load creates objs (from Objects) in the API server of cfg, owners first and up
// to concurrency at a time, replacing placeholder owner UIDs with real ones and
// writing each object's status through the status subresource. It creates the
// namespace when missing.
func Load(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured, concurrency int) error {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 1000, 2000
	cfg.WarningHandler = rest.NoWarnings{}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, ns := range namespaces(objs) {
		nsObj := &unstructured.Unstructured{}
		nsObj.SetAPIVersion("v1")
		nsObj.SetKind("Namespace")
		nsObj.SetName(ns)
		if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	var mu sync.Mutex
	uids := map[string]types.UID{}
	key := func(ns, kind, name string) string { return ns + "/" + kind + "/" + name }
	remaining := objs
	for len(remaining) > 0 {
		var wave, later []*unstructured.Unstructured
		for _, o := range remaining {
			ready := true
			for _, r := range o.GetOwnerReferences() {
				if _, ok := uids[key(o.GetNamespace(), r.Kind, r.Name)]; !ok {
					ready = false
				}
			}
			if ready {
				wave = append(wave, o)
			} else {
				later = append(later, o)
			}
		}
		if len(wave) == 0 {
			return fmt.Errorf("capigraph: %d objects have owners that are not in the graph", len(later))
		}
		sem := make(chan struct{}, max(concurrency, 1))
		errs := make([]error, len(wave))
		var wg sync.WaitGroup
		for i, o := range wave {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				obj := o.DeepCopy()
				refs := obj.GetOwnerReferences()
				mu.Lock()
				for j := range refs {
					refs[j].UID = uids[key(obj.GetNamespace(), refs[j].Kind, refs[j].Name)]
				}
				mu.Unlock()
				obj.SetOwnerReferences(refs)
				uid, err := create(ctx, dyn, obj)
				if err != nil {
					errs[i] = err
					return
				}
				mu.Lock()
				uids[key(obj.GetNamespace(), obj.GetKind(), obj.GetName())] = uid
				mu.Unlock()
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		remaining = later
	}
	return nil
}

func create(ctx context.Context, dyn dynamic.Interface, obj *unstructured.Unstructured) (types.UID, error) {
	res := dyn.Resource(Resource[obj.GetKind()]).Namespace(obj.GetNamespace())
	status, hasStatus := obj.Object["status"]
	hasStatus = hasStatus && obj.GetKind() != "ClusterResourceSetBinding"
	created, err := res.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	if hasStatus && obj.GetKind() != "Secret" && obj.GetKind() != "ConfigMap" {
		created.Object["status"] = status
		if _, err := res.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return "", fmt.Errorf("status of %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return created.GetUID(), nil
}

func namespaces(objs []*unstructured.Unstructured) []string {
	var out []string
	seen := map[string]bool{}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out
}
