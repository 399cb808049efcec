package bootstrap

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	bootstrapadmission "sigs.k8s.io/cluster-api/bootstrap/kubeadm/webhooks/admission"
	kcpadmission "sigs.k8s.io/cluster-api/controlplane/kubeadm/webhooks/admission"
	coreadmission "sigs.k8s.io/cluster-api/core/webhooks/admission"
)

// DefaultClusterAPIObjects applies to objs, in place, the defaulting that
// Cluster API's mutating webhooks would apply when they are created. The
// stack this package runs serves no webhook, so objects reach the API server
// as their author wrote them, and Cluster API's controllers assume defaulted
// objects (KubeadmControlPlane's controller dereferences spec.replicas and
// the rollout's maxSurge; MachineDeployment's needs spec.replicas, its
// selector and the template labels). Call it on every Cluster API object
// before creating it (create-cluster and tests do); Install does not.
//
// It calls Cluster API's own defaulters (core/webhooks/admission,
// bootstrap/kubeadm/webhooks/admission, controlplane/kubeadm/webhooks/admission)
// as for a CREATE: MachineDeployment and MachineSet (replicas from the
// autoscaler annotations or 1, selector and template labels, rolling update
// defaults, the "v" of the version), Machine and MachineHealthCheck (cluster
// name label, timeouts), KubeadmControlPlane (replicas 1, rollout maxSurge 1,
// "v" version) and KubeadmConfigTemplate. Cluster is left alone (only managed
// topologies, not run here, are defaulted upstream). Objects of other kinds
// are skipped. It validates nothing and writes nothing to a cluster.
//
// For an update, default only what is new: the defaults of an update depend
// on the stored object (MachineDeployment replicas under the autoscaler).
func DefaultClusterAPIObjects(ctx context.Context, objs ...client.Object) error {
	ctx = admission.NewContextWithRequest(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create}})
	for _, obj := range objs {
		var err error
		switch o := obj.(type) {
		case *clusterv1.MachineDeployment:
			err = (&coreadmission.MachineDeployment{}).Default(ctx, o)
		case *clusterv1.MachineSet:
			err = (&coreadmission.MachineSet{}).Default(ctx, o)
		case *clusterv1.Machine:
			err = (&coreadmission.Machine{}).Default(ctx, o)
		case *clusterv1.MachineHealthCheck:
			err = (&coreadmission.MachineHealthCheck{}).Default(ctx, o)
		case *controlplanev1.KubeadmControlPlane:
			err = (&kcpadmission.KubeadmControlPlane{}).Default(ctx, o)
		case *bootstrapv1.KubeadmConfigTemplate:
			err = (&bootstrapadmission.KubeadmConfigTemplate{}).Default(ctx, o)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("default %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return nil
}
