package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/finalizers"
	"sigs.k8s.io/cluster-api/util/patch"
	"sigs.k8s.io/cluster-api/util/paused"
	"sigs.k8s.io/cluster-api/util/predicates"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/provider"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// clusterConditions are the conditions the cluster reconciler owns; Ready
// sums them up.
var clusterConditions = []string{
	infrav1.OpenStackAuthenticationSucceededCondition,
	infrav1.NetworkReadyCondition,
	infrav1.SecurityGroupsReadyCondition,
	infrav1.APIEndpointReadyCondition,
	infrav1.FailureDomainsReadyCondition,
}

// OpenStackClusterReconciler reconciles OpenStackClusters: it ensures the
// cluster's network infrastructure with infra, publishes the API endpoint,
// the failure domains and status.initialization.provisioned, and deletes
// the infrastructure once every OpenStackMachine of the cluster is gone.
type OpenStackClusterReconciler struct {
	// Client reads and writes Kubernetes objects; a manager's client.
	Client client.Client
	// Clouds connects to the clouds of identities; NewClouds(nil) when nil.
	// Share one with the machine reconciler.
	Clouds *Clouds
	// WatchFilterValue, when set, limits the reconciler to objects with the
	// label cluster.x-k8s.io/watch-filter of that value.
	WatchFilterValue string
	// Timing: zero values take the defaults of Options.
	Timing Timing

	holds holds
}

// SetupWithManager registers the reconciler with mgr: it watches
// OpenStackClusters, their Clusters (unpause) and identity Secrets.
func (r *OpenStackClusterReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts controller.Options) error {
	if r.Client == nil {
		return errors.New("OpenStackClusterReconciler: Client is nil")
	}
	if r.Clouds == nil {
		r.Clouds = NewClouds(nil)
	}
	r.Timing = r.Timing.withDefaults()
	log := mgr.GetLogger().WithName("openstackcluster")
	scheme := mgr.GetScheme()
	return ctrl.NewControllerManagedBy(mgr).
		For(&infrav1.OpenStackCluster{}, builder.WithPredicates(
			// Not ResourceNotPaused: events of paused objects still come,
			// so that their Paused condition is set; Reconcile returns
			// before any cloud call (as Cluster API's own reconcilers do).
			predicates.ResourceHasFilterLabel(scheme, log, r.WatchFilterValue))).
		Named("openstackcluster").
		WithOptions(opts).
		Watches(&clusterv1.Cluster{},
			handler.EnqueueRequestsFromMapFunc(util.ClusterToInfrastructureMapFunc(ctx, infrav1.GroupVersion.WithKind(infrav1.OpenStackClusterKind), mgr.GetClient(), &infrav1.OpenStackCluster{})),
			builder.WithPredicates(predicates.All(scheme, log,
				predicates.ResourceHasFilterLabel(scheme, log, r.WatchFilterValue),
				predicates.ClusterUnpaused(scheme, log))),
		).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToClusters)).
		Complete(r)
}

// secretToClusters maps an identity Secret to the OpenStackClusters of its
// namespace that name it.
func (r *OpenStackClusterReconciler) secretToClusters(ctx context.Context, o client.Object) []reconcile.Request {
	var list infrav1.OpenStackClusterList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, c := range list.Items {
		if c.Spec.IdentityRef.Name == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&c)})
		}
	}
	return out
}

// Reconcile brings one OpenStackCluster closer to its spec.
func (r *OpenStackClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	log := ctrl.LoggerFrom(ctx)
	osc := &infrav1.OpenStackCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, osc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	cluster, err := util.GetOwnerCluster(ctx, r.Client, osc.ObjectMeta)
	if err != nil && !(apierrors.IsNotFound(err) && !osc.DeletionTimestamp.IsZero()) {
		return ctrl.Result{}, fmt.Errorf("get the Cluster owning OpenStackCluster %s: %w", klog.KObj(osc), err)
	}
	if cluster == nil && osc.DeletionTimestamp.IsZero() {
		log.V(1).Info("waiting for Cluster API to set the owner Cluster")
		return ctrl.Result{}, nil
	}
	name := clusterNameOf(cluster, osc)
	if cluster != nil {
		log = log.WithValues("Cluster", klog.KObj(cluster))
		ctx = ctrl.LoggerInto(ctx, log)
	}
	if isPaused, requeue, err := paused.EnsurePausedCondition(ctx, r.Client, cluster, osc); err != nil || isPaused || requeue {
		return ctrl.Result{}, err
	}
	if osc.DeletionTimestamp.IsZero() {
		// Before the first cloud write.
		if added, err := finalizers.EnsureFinalizer(ctx, r.Client, osc, infrav1.ClusterFinalizer); err != nil || added {
			return ctrl.Result{}, err
		}
	}
	helper, err := patch.NewHelper(osc, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		// While deleting, reconcileDelete says what Ready waits for.
		if osc.DeletionTimestamp.IsZero() {
			if err := conditions.SetSummaryCondition(osc, osc, infrav1.ReadyCondition,
				conditions.ForConditionTypes(clusterConditions), conditions.IgnoreTypesIfMissing(clusterConditions)); err != nil {
				reterr = kerrors.NewAggregate([]error{reterr, err})
			}
		}
		err := helper.Patch(ctx, osc, patch.WithOwnedConditions{Conditions: append([]string{infrav1.ReadyCondition, clusterv1.PausedCondition}, clusterConditions...)})
		if err != nil && !(apierrors.IsNotFound(err) && !osc.DeletionTimestamp.IsZero()) {
			reterr = kerrors.NewAggregate([]error{reterr, err})
		}
	}()
	// The cloud layer's own progress logs go one level down: a reconcile
	// per object and poll would drown the reconcilers' own.
	cctx, cancel := context.WithTimeout(ctrl.LoggerInto(ctx, log.V(1)), r.Timing.CloudTimeout)
	defer cancel()
	if !osc.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(cctx, log, name, osc)
	}
	return r.reconcileNormal(cctx, log, name, osc)
}

// clusterNameOf is the cluster's name: the owner's, else the cluster-name
// label, else the owner reference's (an OpenStackCluster being deleted
// after its Cluster).
func clusterNameOf(cluster *clusterv1.Cluster, osc *infrav1.OpenStackCluster) string {
	if cluster != nil {
		return clusterName(cluster)
	}
	if n := osc.Labels[clusterv1.ClusterNameLabel]; n != "" {
		return n
	}
	for _, o := range osc.OwnerReferences {
		if o.Kind == "Cluster" {
			return o.Name
		}
	}
	return ""
}

// identity reads the Secret of an identityRef. A missing Secret is an
// error matching provider.ErrCloudConfig.
func readIdentity(ctx context.Context, c client.Client, namespace string, ref infrav1.OpenStackIdentityReference) (Identity, error) {
	id := Identity{Namespace: namespace, Ref: ref}
	if ref.Type != "" && ref.Type != infrav1.IdentityTypeSecret {
		return id, fmt.Errorf("%w: spec.identityRef.type %q: only Secret is supported", provider.ErrCloudConfig, ref.Type)
	}
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return id, fmt.Errorf("%w: identity Secret %s/%s does not exist: create it with the clouds.yaml under the key %q",
				provider.ErrCloudConfig, namespace, ref.Name, infrav1.CloudsYAMLKey)
		}
		return id, fmt.Errorf("read identity Secret %s/%s: %w", namespace, ref.Name, err)
	}
	id.Secret = s
	return id, nil
}

// identityVersion is the identity's part of a hold key.
func identityVersion(id Identity) string {
	if id.Secret == nil {
		return "missing"
	}
	return string(id.Secret.UID) + "/" + id.Secret.ResourceVersion
}

// setFalse sets a condition False with a reason and message.
func setFalse(obj conditions.Setter, typ, reason, msg string) {
	conditions.Set(obj, metav1.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: msg})
}

func setTrue(obj conditions.Setter, typ string) {
	conditions.Set(obj, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: infrav1.ReadyReason})
}

// fail records err in the condition typ and decides what the reconcile
// returns: a permanent failure holds the object (no cloud call until its
// spec or identity changes or the hold expires); others are returned for
// controller-runtime's backoff.
func fail(log logr.Logger, h *holds, t Timing, obj interface {
	conditions.Setter
	client.Object
}, idVersion, typ string, err error) (ctrl.Result, error) {
	f := classify(err)
	setFalse(obj, typ, f.reason, f.message)
	if !f.permanent {
		return ctrl.Result{}, err
	}
	h.set(obj.GetUID(), obj.GetGeneration(), idVersion, time.Now().Add(t.RetryAfterPermanentError))
	log.V(1).Info("a person must act; not calling the cloud again until the spec or identity changes", "reason", f.reason,
		"generation", obj.GetGeneration(), "identity", idVersion, "retryIn", t.RetryAfterPermanentError)
	return ctrl.Result{RequeueAfter: t.RetryAfterPermanentError}, nil
}

func (r *OpenStackClusterReconciler) reconcileNormal(ctx context.Context, log logr.Logger, name string, osc *infrav1.OpenStackCluster) (ctrl.Result, error) {
	id, err := readIdentity(ctx, r.Client, osc.Namespace, osc.Spec.IdentityRef)
	if wait := r.holds.active(osc.UID, osc.Generation, identityVersion(id), time.Now()); wait > 0 {
		log.V(1).Info("a person must act on the last failure; not calling the cloud", "retryIn", wait.Round(time.Second))
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if err != nil {
		return fail(log, &r.holds, r.Timing, osc, identityVersion(id), infrav1.OpenStackAuthenticationSucceededCondition, err)
	}
	s, err := r.Clouds.session(ctx, id)
	if err != nil {
		return fail(log, &r.holds, r.Timing, osc, identityVersion(id), infrav1.OpenStackAuthenticationSucceededCondition, err)
	}
	setTrue(osc, infrav1.OpenStackAuthenticationSucceededCondition)

	external := ""
	if ptr.Deref(osc.Spec.EnableExternalNetwork, true) && osc.Spec.ExternalNetwork == nil {
		if osc.Status.ExternalNetwork != nil {
			external = osc.Status.ExternalNetwork.ID
		} else if external, err = findExternalNetwork(ctx, s.cloud); err != nil {
			return fail(log, &r.holds, r.Timing, osc, identityVersion(id), infrav1.NetworkReadyCondition, err)
		}
	}
	spec, err := infraSpec(name, osc, external)
	if err != nil {
		return fail(log, &r.holds, r.Timing, osc, identityVersion(id), infrav1.NetworkReadyCondition, err)
	}
	st, err := s.infra.Ensure(ctx, spec, infra.WithStatus(knownStatus(name, osc)))
	setClusterStatus(osc, spec, st)
	if err != nil {
		typ := conditionOf(err)
		if errors.Is(err, provider.ErrPending) {
			setFalse(osc, typ, infrav1.ProvisioningReason, "Octavia is still building the API server load balancer; checking again in "+r.Timing.PollInterval.String())
			return ctrl.Result{RequeueAfter: r.Timing.PollInterval}, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return ctrl.Result{}, fmt.Errorf("ensure the infrastructure of cluster %q: %w", name, err)
		}
		return fail(log, &r.holds, r.Timing, osc, identityVersion(id), typ, fmt.Errorf("ensure the infrastructure of cluster %q: %w", name, err))
	}
	setTrue(osc, infrav1.NetworkReadyCondition)
	setTrue(osc, infrav1.SecurityGroupsReadyCondition)

	if ep := osc.Spec.ControlPlaneEndpoint; ep == nil || ep.Host == "" {
		host, port := st.APIEndpoint.Host, int32(st.APIEndpoint.Port)
		if host == "" && osc.Spec.APIServer != nil && osc.Spec.APIServer.FixedIP != nil {
			host, port = *osc.Spec.APIServer.FixedIP, int32(spec.APIServer.Port)
			if port == 0 {
				port = infra.DefaultAPIServerPort
			}
		}
		if host == "" {
			setFalse(osc, infrav1.APIEndpointReadyCondition, infrav1.InvalidSpecReason,
				"the infrastructure has no API endpoint (no load balancer, no floating IP, no apiServer.fixedIP); enable one of them")
			return ctrl.Result{}, nil
		}
		osc.Spec.ControlPlaneEndpoint = &clusterv1.APIEndpoint{Host: host, Port: port}
	}
	setTrue(osc, infrav1.APIEndpointReadyCondition)

	if len(osc.Status.FailureDomains) == 0 || len(osc.Spec.ControlPlaneAvailabilityZones) > 0 {
		fds, err := failureDomains(ctx, s.cloud, osc)
		if err != nil {
			return fail(log, &r.holds, r.Timing, osc, identityVersion(id), infrav1.FailureDomainsReadyCondition, err)
		}
		osc.Status.FailureDomains = fds
	}
	setTrue(osc, infrav1.FailureDomainsReadyCondition)
	if osc.Status.Initialization == nil || !osc.Status.Initialization.Provisioned {
		log.Info("cluster infrastructure provisioned", "endpoint", osc.Spec.ControlPlaneEndpoint.Host)
	}
	osc.Status.Initialization = &infrav1.ClusterInitialization{Provisioned: true}
	r.holds.clear(osc.UID)
	return ctrl.Result{}, nil
}

// conditionOf picks the cluster condition an infra error belongs to.
func conditionOf(err error) string {
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return infrav1.NetworkReadyCondition
	}
	switch pe.Kind {
	case "security group", "security group rule":
		return infrav1.SecurityGroupsReadyCondition
	case "load balancer", "listener", "pool", "health monitor", "floating IP", "member", "load balancer children":
		return infrav1.APIEndpointReadyCondition
	}
	return infrav1.NetworkReadyCondition
}

func (r *OpenStackClusterReconciler) reconcileDelete(ctx context.Context, log logr.Logger, name string, osc *infrav1.OpenStackCluster) (ctrl.Result, error) {
	setFalse(osc, infrav1.ReadyCondition, infrav1.DeletingReason, "deleting the cluster's infrastructure")
	var machines infrav1.OpenStackMachineList
	if err := r.Client.List(ctx, &machines, client.InNamespace(osc.Namespace), client.MatchingLabels{clusterv1.ClusterNameLabel: name}); err != nil {
		return ctrl.Result{}, err
	}
	if n := len(machines.Items); n > 0 {
		setFalse(osc, infrav1.ReadyCondition, infrav1.DeletingReason, fmt.Sprintf("waiting for %d OpenStackMachines of the cluster to be deleted", n))
		log.V(1).Info("waiting for the cluster's machines to be deleted", "machines", n)
		return ctrl.Result{RequeueAfter: r.Timing.PollInterval}, nil
	}
	if !controllerutil.ContainsFinalizer(osc, infrav1.ClusterFinalizer) {
		return ctrl.Result{}, nil
	}
	id, err := readIdentity(ctx, r.Client, osc.Namespace, osc.Spec.IdentityRef)
	if wait := r.holds.active(osc.UID, osc.Generation, identityVersion(id), time.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if err == nil {
		var s *session
		if s, err = r.Clouds.session(ctx, id); err == nil {
			err = s.infra.Delete(ctx, name)
		}
	}
	if err != nil {
		if errors.Is(err, infra.ErrInUse) {
			setFalse(osc, infrav1.ReadyCondition, infrav1.DeletingReason, "servers still use the cluster's network: "+err.Error())
			return ctrl.Result{RequeueAfter: r.Timing.PollInterval}, nil
		}
		f := classify(err)
		setFalse(osc, infrav1.ReadyCondition, infrav1.DeletionFailedReason, f.message)
		if f.permanent {
			r.holds.set(osc.UID, osc.Generation, identityVersion(id), time.Now().Add(r.Timing.RetryAfterPermanentError))
			return ctrl.Result{RequeueAfter: r.Timing.RetryAfterPermanentError}, nil
		}
		return ctrl.Result{}, fmt.Errorf("delete the infrastructure of cluster %q: %w", name, err)
	}
	log.Info("cluster infrastructure deleted")
	controllerutil.RemoveFinalizer(osc, infrav1.ClusterFinalizer)
	r.holds.clear(osc.UID)
	return ctrl.Result{}, nil
}
