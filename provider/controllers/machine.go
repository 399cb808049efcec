package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// machineConditions are the conditions the machine reconciler owns.
var machineConditions = []string{
	infrav1.OpenStackAuthenticationSucceededCondition,
	infrav1.InstanceReadyCondition,
	infrav1.APIServerIngressReadyCondition,
}

// OpenStackMachineReconciler reconciles OpenStackMachines: once the
// cluster's infrastructure is provisioned and the Machine's bootstrap data
// exists, it creates the server (provider.Machines.Start), publishes its
// provider ID, addresses and state, adds control-plane machines to the API
// server's load balancer, and on deletion removes all of it.
type OpenStackMachineReconciler struct {
	// Client reads and writes Kubernetes objects; a manager's client.
	Client client.Client
	// Clouds connects to the clouds of identities; NewClouds(nil) when nil.
	// Share one with the cluster reconciler.
	Clouds *Clouds
	// WatchFilterValue, when set, limits the reconciler to objects with the
	// label cluster.x-k8s.io/watch-filter of that value.
	WatchFilterValue string
	// Timing: zero values take the defaults of Options.
	Timing Timing

	holds holds
}

// SetupWithManager registers the reconciler with mgr: it watches
// OpenStackMachines, their Machines, the Clusters (unpause,
// infrastructure provisioned), the OpenStackClusters and identity Secrets.
func (r *OpenStackMachineReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts controller.Options) error {
	if r.Client == nil {
		return errors.New("OpenStackMachineReconciler: Client is nil")
	}
	if r.Clouds == nil {
		r.Clouds = NewClouds(nil)
	}
	r.Timing = r.Timing.withDefaults()
	log := mgr.GetLogger().WithName("openstackmachine")
	scheme := mgr.GetScheme()
	clusterToMachines, err := util.ClusterToTypedObjectsMapper(mgr.GetClient(), &infrav1.OpenStackMachineList{}, scheme)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&infrav1.OpenStackMachine{}, builder.WithPredicates(
			// Not ResourceNotPaused: events of paused objects still come,
			// so that their Paused condition is set; Reconcile returns
			// before any cloud call (as Cluster API's own reconcilers do).
			predicates.ResourceHasFilterLabel(scheme, log, r.WatchFilterValue))).
		Named("openstackmachine").
		WithOptions(opts).
		Watches(&clusterv1.Machine{},
			handler.EnqueueRequestsFromMapFunc(util.MachineToInfrastructureMapFunc(infrav1.GroupVersion.WithKind(infrav1.OpenStackMachineKind))),
			builder.WithPredicates(predicates.ResourceHasFilterLabel(scheme, log, r.WatchFilterValue))).
		Watches(&clusterv1.Cluster{}, handler.EnqueueRequestsFromMapFunc(clusterToMachines),
			builder.WithPredicates(predicates.All(scheme, log,
				predicates.ResourceHasFilterLabel(scheme, log, r.WatchFilterValue),
				predicates.ClusterPausedTransitionsOrInfrastructureProvisioned(scheme, log)))).
		Watches(&infrav1.OpenStackCluster{}, handler.EnqueueRequestsFromMapFunc(r.infraClusterToMachines),
			builder.WithPredicates(predicates.ResourceHasFilterLabel(scheme, log, r.WatchFilterValue))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToMachines)).
		Complete(r)
}

// machinesOfCluster lists the OpenStackMachines of a cluster.
func (r *OpenStackMachineReconciler) machinesOfCluster(ctx context.Context, namespace, cluster string) []reconcile.Request {
	if cluster == "" {
		return nil
	}
	var list infrav1.OpenStackMachineList
	if err := r.Client.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{clusterv1.ClusterNameLabel: cluster}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// infraClusterToMachines maps an OpenStackCluster to its machines, which
// wait for it to be provisioned.
func (r *OpenStackMachineReconciler) infraClusterToMachines(ctx context.Context, o client.Object) []reconcile.Request {
	osc, ok := o.(*infrav1.OpenStackCluster)
	if !ok || osc.Status.Initialization == nil || !osc.Status.Initialization.Provisioned {
		return nil
	}
	return r.machinesOfCluster(ctx, o.GetNamespace(), o.GetLabels()[clusterv1.ClusterNameLabel])
}

// secretToMachines maps an identity Secret to the machines of the clusters
// that use it, and a bootstrap data Secret to its machine's cluster.
func (r *OpenStackMachineReconciler) secretToMachines(ctx context.Context, o client.Object) []reconcile.Request {
	var list infrav1.OpenStackClusterList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, c := range list.Items {
		if c.Spec.IdentityRef.Name == o.GetName() {
			out = append(out, r.machinesOfCluster(ctx, c.Namespace, c.Labels[clusterv1.ClusterNameLabel])...)
		}
	}
	return out
}

// machineScope is what one reconcile of a machine works with.
type machineScope struct {
	osm     *infrav1.OpenStackMachine
	machine *clusterv1.Machine
	cluster *clusterv1.Cluster
	osc     *infrav1.OpenStackCluster // nil when it is gone (deletion)
	name    string                    // the cluster's name in the cloud
	cp      bool
}

// Reconcile brings one OpenStackMachine closer to its spec.
func (r *OpenStackMachineReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	log := ctrl.LoggerFrom(ctx)
	osm := &infrav1.OpenStackMachine{}
	if err := r.Client.Get(ctx, req.NamespacedName, osm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !osm.DeletionTimestamp.IsZero()
	machine, err := util.GetOwnerMachine(ctx, r.Client, osm.ObjectMeta)
	if err != nil && !(apierrors.IsNotFound(err) && deleting) {
		return ctrl.Result{}, fmt.Errorf("get the Machine owning OpenStackMachine %s: %w", klog.KObj(osm), err)
	}
	if machine == nil && !deleting {
		log.V(1).Info("waiting for Cluster API to set the owner Machine")
		return ctrl.Result{}, nil
	}
	// Being deleted without its Machine (deleted first, in a cascade), an
	// OpenStackMachine is found its cluster through its labels, which
	// Cluster API copies onto it.
	sc := &machineScope{osm: osm, machine: machine, name: osm.Labels[clusterv1.ClusterNameLabel]}
	_, sc.cp = osm.Labels[clusterv1.MachineControlPlaneLabel]
	if machine != nil {
		log = log.WithValues("Machine", klog.KObj(machine))
		sc.name, sc.cp = machine.Spec.ClusterName, util.IsControlPlaneMachine(machine)
	}
	cluster, err := util.GetClusterByName(ctx, r.Client, osm.Namespace, sc.name)
	if err != nil && !(apierrors.IsNotFound(err) && deleting) {
		log.V(1).Info("the Machine's Cluster is not there", "error", err.Error())
		return ctrl.Result{}, nil
	}
	sc.cluster = cluster
	if cluster != nil {
		log = log.WithValues("Cluster", klog.KObj(cluster))
		sc.name = clusterName(cluster)
	}
	ctx = ctrl.LoggerInto(ctx, log)
	if isPaused, requeue, err := paused.EnsurePausedCondition(ctx, r.Client, cluster, osm); err != nil || isPaused || requeue {
		return ctrl.Result{}, err
	}
	if sc.osc, err = r.infraCluster(ctx, osm.Namespace, cluster, sc.name); err != nil {
		return ctrl.Result{}, err
	}

	if osm.DeletionTimestamp.IsZero() {
		if added, err := finalizers.EnsureFinalizer(ctx, r.Client, osm, infrav1.MachineFinalizer); err != nil || added {
			return ctrl.Result{}, err
		}
	}
	helper, err := patch.NewHelper(osm, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		// While deleting, reconcileDelete says what Ready waits for.
		if osm.DeletionTimestamp.IsZero() {
			if err := conditions.SetSummaryCondition(osm, osm, infrav1.ReadyCondition,
				conditions.ForConditionTypes(machineConditions), conditions.IgnoreTypesIfMissing(machineConditions)); err != nil {
				reterr = kerrors.NewAggregate([]error{reterr, err})
			}
		}
		err := helper.Patch(ctx, osm, patch.WithOwnedConditions{Conditions: append([]string{infrav1.ReadyCondition, clusterv1.PausedCondition}, machineConditions...)})
		if err != nil && !(apierrors.IsNotFound(err) && !osm.DeletionTimestamp.IsZero()) {
			reterr = kerrors.NewAggregate([]error{reterr, err})
		}
	}()
	// The cloud layer's own progress logs go one level down: a reconcile
	// per object and poll would drown the reconcilers' own.
	cctx, cancel := context.WithTimeout(ctrl.LoggerInto(ctx, log.V(1)), r.Timing.CloudTimeout)
	defer cancel()
	if !osm.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(cctx, log, sc)
	}
	return r.reconcileNormal(cctx, log, sc)
}

func (r *OpenStackMachineReconciler) reconcileNormal(ctx context.Context, log logr.Logger, sc *machineScope) (ctrl.Result, error) {
	osm, osc := sc.osm, sc.osc
	if sc.cluster == nil {
		return ctrl.Result{}, nil
	}
	if osc == nil || osc.Status.Initialization == nil || !osc.Status.Initialization.Provisioned {
		setFalse(osm, infrav1.InstanceReadyCondition, infrav1.WaitingForClusterInfrastructureReason,
			"waiting for the cluster's OpenStackCluster to be provisioned")
		return ctrl.Result{}, nil
	}
	// A provider ID without a status (an object moved by clusterctl or
	// pivot, a status write that was lost) also means the server exists:
	// it is looked up by name, never created again.
	hasServer := (osm.Status.InstanceID != nil && *osm.Status.InstanceID != "") ||
		(osm.Spec.ProviderID != nil && *osm.Spec.ProviderID != "")
	if !hasServer && sc.machine.Spec.Bootstrap.DataSecretName == nil {
		setFalse(osm, infrav1.InstanceReadyCondition, infrav1.WaitingForBootstrapDataReason,
			"waiting for the Machine's bootstrap data (spec.bootstrap.dataSecretName)")
		return ctrl.Result{}, nil
	}

	id, err := readIdentity(ctx, r.Client, osc.Namespace, osc.Spec.IdentityRef)
	if wait := r.holds.active(osm.UID, osm.Generation, identityVersion(id), time.Now()); wait > 0 {
		log.V(1).Info("a person must act on the last failure; not calling the cloud", "retryIn", wait.Round(time.Second))
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if err != nil {
		return fail(log, &r.holds, r.Timing, osm, identityVersion(id), infrav1.OpenStackAuthenticationSucceededCondition, err)
	}
	s, err := r.Clouds.session(ctx, id)
	if err != nil {
		return fail(log, &r.holds, r.Timing, osm, identityVersion(id), infrav1.OpenStackAuthenticationSucceededCondition, err)
	}
	setTrue(osm, infrav1.OpenStackAuthenticationSucceededCondition)

	var mc *provider.Machine
	if osm.Status.InstanceID != nil && ptr.Deref(osm.Status.InstanceState, "") == infrav1.InstanceStateBuild {
		// While it builds, one list of the cluster's servers per poll
		// serves every machine of the cluster.
		st, _, err := s.machines.ServerStatus(ctx, sc.name, *osm.Status.InstanceID, r.Timing.PollInterval/2)
		if err != nil && !errors.Is(err, provider.ErrNotFound) {
			return ctrl.Result{}, fmt.Errorf("get the state of server %s: %w", *osm.Status.InstanceID, err)
		}
		if err == nil && st == string(infrav1.InstanceStateBuild) {
			setFalse(osm, infrav1.InstanceReadyCondition, infrav1.InstanceNotReadyReason, "the server is building")
			return ctrl.Result{RequeueAfter: r.Timing.PollInterval}, nil
		}
	}
	if hasServer {
		mc, err = s.machines.Get(ctx, sc.name, osm.Name)
		if err == nil && (mc.Status == "DELETED" || mc.Status == "SOFT_DELETED") {
			err = provider.ErrNotFound
		}
		if errors.Is(err, provider.ErrNotFound) {
			setFalse(osm, infrav1.InstanceReadyCondition, infrav1.InstanceDeletedReason,
				fmt.Sprintf("server %s was deleted outside of openstrap; delete the Machine to have it replaced", ptr.Deref(osm.Spec.ProviderID, "")))
			osm.Status.InstanceState = ptr.To(infrav1.InstanceStateDeleted)
			return ctrl.Result{}, nil
		}
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("get the server of machine %s: %w", osm.Name, err)
		}
	} else {
		data, err := r.userData(ctx, sc)
		if err != nil {
			return fail(log, &r.holds, r.Timing, osm, identityVersion(id), infrav1.InstanceReadyCondition, err)
		}
		spec, err := machineSpec(sc.name, osm, sc.machine, osc, sc.cp, data)
		if err != nil {
			return fail(log, &r.holds, r.Timing, osm, identityVersion(id), infrav1.InstanceReadyCondition, err)
		}
		mc, err = s.machines.Start(ctx, spec)
		if errors.Is(err, provider.ErrPending) {
			setFalse(osm, infrav1.InstanceReadyCondition, infrav1.InstanceNotReadyReason, "the machine's volumes are being created")
			return ctrl.Result{RequeueAfter: r.Timing.PollInterval}, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctrl.Result{}, err
			}
			res, ferr := fail(log, &r.holds, r.Timing, osm, identityVersion(id), infrav1.InstanceReadyCondition, err)
			if c := conditions.Get(osm, infrav1.InstanceReadyCondition); c != nil && c.Reason == infrav1.OpenStackErrorReason {
				c.Reason = infrav1.InstanceCreateFailedReason
				conditions.Set(osm, *c)
			}
			return res, ferr
		}
		osm.Status.FailureDomain = spec.AvailabilityZone
		log.Info("server submitted", "server", mc.ServerID)
	}

	setMachineStatus(osm, mc)
	switch mc.Status {
	case "ACTIVE":
		setTrue(osm, infrav1.InstanceReadyCondition)
	case "ERROR":
		msg := "the server went to ERROR"
		if mc.Fault != "" {
			msg += ": " + mc.Fault
		}
		setFalse(osm, infrav1.InstanceReadyCondition, infrav1.InstanceStateErrorReason, msg+"; delete the Machine to have it replaced")
		return ctrl.Result{}, nil
	case "BUILD":
		setFalse(osm, infrav1.InstanceReadyCondition, infrav1.InstanceNotReadyReason, "the server is building")
		return ctrl.Result{RequeueAfter: r.Timing.PollInterval}, nil
	default:
		setFalse(osm, infrav1.InstanceReadyCondition, infrav1.InstanceNotReadyReason, "the server is "+mc.Status)
		return ctrl.Result{RequeueAfter: r.Timing.RetryAfterPermanentError}, nil
	}

	if sc.cp {
		if mc.InternalAddress == "" {
			setFalse(osm, infrav1.APIServerIngressReadyCondition, infrav1.LoadBalancerMemberErrorReason, "the server has no fixed IP to register with the API server's load balancer")
			return ctrl.Result{}, nil
		}
		err := s.infra.AddAPIServerMember(ctx, knownStatus(sc.name, osc), infra.Member{Name: osm.Name, Address: mc.InternalAddress})
		if errors.Is(err, provider.ErrPending) {
			setFalse(osm, infrav1.APIServerIngressReadyCondition, infrav1.ProvisioningReason, "Octavia is adding the server to the API server's pool")
			return ctrl.Result{RequeueAfter: r.Timing.PollInterval}, nil
		}
		if err != nil {
			if f := classify(err); !f.permanent {
				setFalse(osm, infrav1.APIServerIngressReadyCondition, infrav1.LoadBalancerMemberErrorReason, f.message)
				return ctrl.Result{}, fmt.Errorf("add server %s to the API server's pool: %w", mc.ServerID, err)
			}
			return fail(log, &r.holds, r.Timing, osm, identityVersion(id), infrav1.APIServerIngressReadyCondition, err)
		}
		setTrue(osm, infrav1.APIServerIngressReadyCondition)
	}
	if osm.Status.Initialization == nil || !osm.Status.Initialization.Provisioned {
		log.Info("machine provisioned", "server", mc.ServerID, "address", mc.InternalAddress)
	}
	osm.Status.Initialization = &infrav1.MachineInitialization{Provisioned: true}
	r.holds.clear(osm.UID)
	return ctrl.Result{}, nil
}

// infraCluster returns the cluster's OpenStackCluster: the one its Cluster
// names, or (the Cluster gone) the one labelled with the cluster's name;
// nil when there is none.
func (r *OpenStackMachineReconciler) infraCluster(ctx context.Context, namespace string, cluster *clusterv1.Cluster, name string) (*infrav1.OpenStackCluster, error) {
	if cluster != nil {
		if cluster.Spec.InfrastructureRef.Name == "" {
			return nil, nil
		}
		osc := &infrav1.OpenStackCluster{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: cluster.Spec.InfrastructureRef.Name}, osc)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return osc, err
	}
	if name == "" {
		return nil, nil
	}
	var list infrav1.OpenStackClusterList
	if err := r.Client.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{clusterv1.ClusterNameLabel: name}); err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	return &list.Items[0], nil
}

// userData reads the Machine's bootstrap data Secret.
func (r *OpenStackMachineReconciler) userData(ctx context.Context, sc *machineScope) ([]byte, error) {
	name := *sc.machine.Spec.Bootstrap.DataSecretName
	s := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: sc.machine.Namespace, Name: name}, s); err != nil {
		// Not found is retried with backoff: the Secret is written before
		// the Machine names it, so this is the cache catching up.
		return nil, fmt.Errorf("read the Machine's bootstrap data Secret %s/%s: %w", sc.machine.Namespace, name, err)
	}
	return bootstrapUserData(s)
}

// setMachineStatus publishes what exists of the machine.
func setMachineStatus(osm *infrav1.OpenStackMachine, mc *provider.Machine) {
	if osm.Spec.ProviderID == nil || *osm.Spec.ProviderID == "" {
		osm.Spec.ProviderID = ptr.To(infrav1.ProviderIDPrefix + mc.ServerID)
	}
	osm.Status.InstanceID = ptr.To(mc.ServerID)
	osm.Status.InstanceState = ptr.To(infrav1.InstanceState(mc.Status))
	osm.Status.Addresses = machineAddresses(mc)
	res := &infrav1.MachineResources{}
	for _, p := range mc.PortIDs {
		res.Ports = append(res.Ports, infrav1.PortStatus{ID: p})
	}
	for _, v := range mc.VolumeIDs {
		res.Volumes = append(res.Volumes, infrav1.VolumeStatus{ID: v, Name: v})
	}
	osm.Status.Resources = res
	if mc.ServerGroupID != "" {
		if osm.Status.Resolved == nil {
			osm.Status.Resolved = &infrav1.ResolvedMachineSpec{}
		}
		osm.Status.Resolved.ServerGroupID = mc.ServerGroupID
	}
}

func (r *OpenStackMachineReconciler) reconcileDelete(ctx context.Context, log logr.Logger, sc *machineScope) (ctrl.Result, error) {
	osm, osc := sc.osm, sc.osc
	if !controllerutil.ContainsFinalizer(osm, infrav1.MachineFinalizer) {
		return ctrl.Result{}, nil
	}
	setFalse(osm, infrav1.InstanceReadyCondition, infrav1.DeletingReason, "deleting the server, its ports and volumes")
	setFalse(osm, infrav1.ReadyCondition, infrav1.DeletingReason, "deleting the server, its ports and volumes")
	if osc == nil {
		if osm.Status.InstanceID == nil && osm.Status.Resources == nil {
			// Nothing was ever made, and nothing can be reached.
			controllerutil.RemoveFinalizer(osm, infrav1.MachineFinalizer)
			return ctrl.Result{}, nil
		}
		setFalse(osm, infrav1.InstanceReadyCondition, infrav1.DeletionFailedReason,
			"the cluster's OpenStackCluster is gone, so its identity is unknown; the server cannot be deleted")
		return ctrl.Result{RequeueAfter: r.Timing.RetryAfterPermanentError}, nil
	}
	id, err := readIdentity(ctx, r.Client, osc.Namespace, osc.Spec.IdentityRef)
	if wait := r.holds.active(osm.UID, osm.Generation, identityVersion(id), time.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	var s *session
	if err == nil {
		s, err = r.Clouds.session(ctx, id)
	}
	if err == nil && sc.cp {
		err = s.infra.RemoveAPIServerMember(ctx, knownStatus(sc.name, osc), osm.Name)
		if errors.Is(err, provider.ErrPending) {
			return ctrl.Result{RequeueAfter: r.Timing.PollInterval}, nil
		}
		if err == nil {
			setFalse(osm, infrav1.APIServerIngressReadyCondition, infrav1.DeletingReason, "removed from the API server's pool")
		}
	}
	if err == nil {
		err = s.machines.StartDelete(ctx, sc.name, osm.Name)
		if errors.Is(err, provider.ErrPending) {
			setFalse(osm, infrav1.InstanceReadyCondition, infrav1.DeletingReason, "Nova is deleting the server")
			return ctrl.Result{RequeueAfter: r.Timing.PollInterval}, nil
		}
	}
	if err != nil {
		f := classify(err)
		setFalse(osm, infrav1.InstanceReadyCondition, infrav1.DeletionFailedReason, f.message)
		setFalse(osm, infrav1.ReadyCondition, infrav1.DeletionFailedReason, f.message)
		if f.permanent {
			r.holds.set(osm.UID, osm.Generation, identityVersion(id), time.Now().Add(r.Timing.RetryAfterPermanentError))
			return ctrl.Result{RequeueAfter: r.Timing.RetryAfterPermanentError}, nil
		}
		return ctrl.Result{}, fmt.Errorf("delete machine %s: %w", osm.Name, err)
	}
	log.Info("machine deleted")
	osm.Status.InstanceState = ptr.To(infrav1.InstanceStateDeleted)
	controllerutil.RemoveFinalizer(osm, infrav1.MachineFinalizer)
	r.holds.clear(osm.UID)
	return ctrl.Result{}, nil
}
