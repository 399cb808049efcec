package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	addonsv1 "sigs.k8s.io/cluster-api/api/addons/v1beta2"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ipamv1 "sigs.k8s.io/cluster-api/api/ipam/v1beta2"
	"sigs.k8s.io/cluster-api/bootstrap/kubeadm/reconcilers/kubeadmconfig"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/controllers/remote"
	"sigs.k8s.io/cluster-api/controlplane/kubeadm/reconcilers/kubeadmcontrolplane"
	"sigs.k8s.io/cluster-api/core/reconcilers/cluster"
	"sigs.k8s.io/cluster-api/core/reconcilers/machine"
	"sigs.k8s.io/cluster-api/core/reconcilers/machinedeployment"
	"sigs.k8s.io/cluster-api/core/reconcilers/machinehealthcheck"
	"sigs.k8s.io/cluster-api/core/reconcilers/machinepool"
	"sigs.k8s.io/cluster-api/core/reconcilers/machineset"
	"sigs.k8s.io/cluster-api/feature"
	"sigs.k8s.io/cluster-api/util/index"
	"sigs.k8s.io/cluster-api/util/secret"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/controllers"
)

// Defaults of the controllers, Cluster API's own where it has one.
const (
	defaultConcurrency = 10
	// defaultTokenTTL is CABPK's default bootstrap token lifetime.
	defaultTokenTTL = 15 * time.Minute
	// remoteConnectionGracePeriod is how long the Cluster controller waits
	// for an unreachable workload cluster before marking its
	// RemoteConnectionProbe condition False (upstream's default).
	remoteConnectionGracePeriod = 50 * time.Second
	// etcdDialTimeout and etcdCallTimeout are KCP's defaults for reaching
	// etcd members through the API server.
	etcdDialTimeout = 10 * time.Second
	etcdCallTimeout = 15 * time.Second
	// clusterCacheQPS and clusterCacheBurst limit each workload cluster's
	// client (upstream's defaults).
	clusterCacheQPS   = 20
	clusterCacheBurst = 30
	// userAgent names the process in the API servers' logs.
	userAgent = "openstrap-controllers"
)

// NewControllersScheme returns a scheme with every type the controllers read
// or write: Kubernetes' built-in types, CRDs, Cluster API core (v1beta2),
// the kubeadm bootstrap and control-plane types (v1beta2), addons, IPAM and
// openstrap's infrastructure types (infrastructure.cluster.x-k8s.io/v1beta2).
// Managers that run the controllers must be built on a scheme with at least
// these.
func NewControllersScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme,
		clusterv1.AddToScheme, bootstrapv1.AddToScheme, controlplanev1.AddToScheme,
		addonsv1.AddToScheme, ipamv1.AddToScheme, infrav1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("controllers scheme: %w", err)
		}
	}
	return s, nil
}

// ControllersCacheOptions returns the manager cache options that every
// reconciler of the stack can live with. Each Cluster API provider's own
// setup.ManagerCacheOptions strips data the others need (CABPK's drops
// MachineSet spec and status, KCP's drops worker Machines' spec and status
// and caches only control-plane KubeadmConfigs), so one shared manager takes
// the union of what they keep: every object whole, except Secrets. Of
// Secrets, the cache keeps the data only of Cluster API's purpose Secrets
// (<cluster>-kubeconfig, -ca, -etcd, -sa, -proxy, ...) labelled
// cluster.x-k8s.io/cluster-name, as upstream does, and only the metadata of
// every other Secret: upstream caches no other Secret at all, but
// openstrap's reconcilers watch identity Secrets (clouds.yaml), which carry
// no Cluster API label, to act when credentials change. The manager's default
// client reads Secrets and ConfigMaps from the API server, never the cache
// (see ControllersClientOptions).
func ControllersCacheOptions(opts ...ControllersOption) (cache.Options, error) {
	o, err := newControllersOptions(fnControllersManager, opts)
	if err != nil {
		return cache.Options{}, fmt.Errorf("controllers cache options: %w", err)
	}
	return o.cacheOptions(), nil
}

func (o *controllersOptions) cacheOptions() cache.Options {
	// A namespace restriction is a field selector, not DefaultNamespaces:
	// with DefaultNamespaces controller-runtime hands out multi-namespace
	// informers, and Cluster API v1.14's MachineSet and MachineDeployment
	// reconcilers fail on every reconcile ("failed to cast MachineSet
	// informer to SharedIndexInformer", util/controller/consistency.go).
	var selector fields.Selector
	if o.namespace != "" {
		selector = fields.OneTermEqualSelector("metadata.namespace", o.namespace)
	}
	sync := o.syncPeriod
	return cache.Options{
		DefaultFieldSelector: selector,
		SyncPeriod:           &sync,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Transform: stripSecret},
			// Cluster-scoped, read to learn a referenced kind's contract
			// version: never restricted to the namespace.
			&apiextensionsv1.CustomResourceDefinition{}: {Field: fields.Everything()},
		},
	}
}

// stripSecret keeps a cached Secret's data only when it is one of Cluster
// API's purpose Secrets labelled with its cluster's name.
func stripSecret(in any) (any, error) {
	if s, ok := in.(*corev1.Secret); ok {
		s.SetManagedFields(nil)
		if _, labelled := s.Labels[clusterv1.ClusterNameLabel]; !labelled || !secret.HasPurposeSuffix(s.Name) {
			s.Data, s.StringData = nil, nil
		}
	}
	return in, nil
}

// ControllersClientOptions returns the manager client options of the stack:
// Secrets and ConfigMaps are read from the API server (the cache holds only
// some of them), and unstructured objects (infrastructure and bootstrap
// references) from the cache.
func ControllersClientOptions() client.Options {
	return client.Options{
		Cache: &client.CacheOptions{
			DisableFor:   []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}},
			Unstructured: true,
		},
	}
}

// ControllersManagerOptions returns the options StartControllers builds its
// manager with, for a caller that builds the manager itself and then calls
// SetupControllers: the scheme of NewControllersScheme, the cache and client
// options above, no webhook server (none of Cluster API's webhooks run; see
// DefaultClusterAPIObjects), metrics and health probes off unless asked for,
// leader election off unless asked for, and controller name validation off
// so that several stacks (tests, say) can run in one process.
func ControllersManagerOptions(opts ...ControllersOption) (ctrl.Options, error) {
	o, err := newControllersOptions(fnControllersManager, opts)
	if err != nil {
		return ctrl.Options{}, fmt.Errorf("controllers manager options: %w", err)
	}
	return o.managerOptions(logr.Discard())
}

func (o *controllersOptions) managerOptions(log logr.Logger) (ctrl.Options, error) {
	scheme, err := NewControllersScheme()
	if err != nil {
		return ctrl.Options{}, err
	}
	if o.hasLog {
		log = o.log
	}
	mo := ctrl.Options{
		Scheme: scheme,
		Logger: log,
		Cache:  o.cacheOptions(),
		Client: ControllersClientOptions(),
		Controller: config.Controller{
			SkipNameValidation: ptr.To(true),
			CacheSyncTimeout:   o.cacheSyncTimeout,
		},
		Metrics:                 metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:  o.healthAddr,
		LeaderElection:          o.leaderElection,
		LeaderElectionID:        o.leaderElectionID,
		LeaderElectionNamespace: o.leaderElectionNS,
		GracefulShutdownTimeout: &o.gracefulShutdown,
	}
	if o.leaderElection {
		mo.LeaderElectionReleaseOnCancel = true
	}
	return mo, nil
}

// SetupControllers registers the whole Cluster API stack on mgr: Cluster API
// core (Cluster, Machine, MachineSet, MachineDeployment, MachineHealthCheck,
// and MachinePool while Cluster API's MachinePool feature gate is on, its
// default), the kubeadm bootstrap provider (KubeadmConfig), the kubeadm
// control-plane provider (KubeadmControlPlane), the field indexes they use,
// one cluster cache (clients to workload clusters, shared by all of them),
// and then the infrastructure provider's reconcilers: openstrap's
// OpenStackCluster and OpenStackMachine reconcilers (provider/controllers)
// unless WithProviderSetup says otherwise.
// Not registered: ClusterClass and topology (feature gate ClusterTopology,
// off by default), the Runtime SDK, ClusterResourceSet, the CRD storage
// version migrator (the CRDs InstallControllerCRDs installs store and serve
// v1beta2 only) and every webhook.
//
// mgr must be built on a scheme holding NewControllersScheme's types, with a
// cache that keeps what the reconcilers read (ControllersCacheOptions; the
// cache options of one upstream provider are not enough), and, when more than
// one stack is set up in a process, with controller name validation off. It
// must not have started. The CRDs must be installed (InstallControllerCRDs).
// ctx must live as long as the manager: the cluster cache and the
// reconcilers keep it.
//
// Cluster API's feature gates are process-wide
// (sigs.k8s.io/cluster-api/feature.MutableGates): set them before calling.
//
// Options: WithControllersLogger, WithNamespace (must match the manager's
// cache), WithWatchFilter, WithConcurrency, WithControllerConcurrency,
// WithSyncPeriod (informational here: the manager's cache sets it),
// WithProviderSetup, WithCloudFunc, WithProviderTiming,
// WithBootstrapTokenTTL, WithRemoteConditionsGracePeriod.
func SetupControllers(ctx context.Context, mgr ctrl.Manager, opts ...ControllersOption) error {
	o, err := newControllersOptions(fnSetupControllers, opts)
	if err != nil {
		return fmt.Errorf("setup controllers: %w", err)
	}
	if mgr == nil {
		return fmt.Errorf("setup controllers: %w: nil manager", ErrInvalidOption)
	}
	return o.setup(ctx, mgr)
}

func (o *controllersOptions) setup(ctx context.Context, mgr ctrl.Manager) error {
	log := logr.FromContextOrDiscard(ctx)
	if o.hasLog {
		log = o.log
	}
	ctx = ctrl.LoggerInto(ctx, log)
	wrap := func(what string, err error) error {
		return fmt.Errorf("setup controllers: %s: %w", what, err)
	}
	for _, gvk := range []struct{ obj runtime.Object }{{&clusterv1.Cluster{}}, {&bootstrapv1.KubeadmConfig{}}, {&controlplanev1.KubeadmControlPlane{}}} {
		if _, _, err := mgr.GetScheme().ObjectKinds(gvk.obj); err != nil {
			return wrap("scheme", fmt.Errorf("%w (build the manager on NewControllersScheme)", err))
		}
	}
	if err := index.AddDefaultIndexes(ctx, mgr); err != nil {
		return wrap("indexes", err)
	}
	secretCachingClient, err := client.New(mgr.GetConfig(), client.Options{
		HTTPClient: mgr.GetHTTPClient(),
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		Cache:      &client.CacheOptions{Reader: mgr.GetCache()},
	})
	if err != nil {
		return wrap("secret caching client", err)
	}
	opt := func(name string) controller.Options {
		return controller.Options{MaxConcurrentReconciles: o.concurrencyOf(name)}
	}
	clusterCache, err := clustercache.SetupWithManager(ctx, mgr, clustercache.Options{
		SecretClient:     secretCachingClient,
		WatchFilterValue: o.watchFilter,
		Cache: clustercache.CacheOptions{
			DefaultTransform: cache.TransformStripManagedFields(),
			Indexes:          []clustercache.CacheOptionsIndex{clustercache.NodeProviderIDIndex},
		},
		Client: clustercache.ClientOptions{
			QPS:       clusterCacheQPS,
			Burst:     clusterCacheBurst,
			UserAgent: remote.DefaultClusterAPIUserAgent(userAgent),
			Cache: clustercache.ClientCacheOptions{
				// The union of what core, CABPK and KCP read live from
				// workload clusters: Pods must not be cached with KCP's
				// control-plane-only selector, or drain would miss them.
				DisableFor: []client.Object{
					&corev1.ConfigMap{}, &corev1.Secret{}, &corev1.Pod{},
					&appsv1.DaemonSet{}, &appsv1.Deployment{},
					&storagev1.VolumeAttachment{}, &corev1.PersistentVolume{},
				},
			},
		},
	}, opt(ControllerClusterCache))
	if err != nil {
		return wrap("cluster cache", err)
	}

	type setupper interface {
		SetupWithManager(context.Context, ctrl.Manager, controller.Options) error
	}
	reconcilers := []struct {
		name string
		r    setupper
		opts controller.Options
	}{
		{ControllerCluster, &cluster.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: clusterCache,
			WatchFilterValue: o.watchFilter, RemoteConnectionGracePeriod: remoteConnectionGracePeriod,
		}, opt(ControllerCluster)},
		{ControllerMachine, &machine.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: clusterCache,
			WatchFilterValue: o.watchFilter, RemoteConditionsGracePeriod: o.remoteGracePeriod,
		}, opt(ControllerMachine)},
		{ControllerMachineSet, &machineset.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: clusterCache,
			WatchFilterValue: o.watchFilter,
		}, opt(ControllerMachineSet)},
		{ControllerMachineDeployment, &machinedeployment.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), WatchFilterValue: o.watchFilter,
		}, opt(ControllerMachineDeployment)},
		{ControllerMachineHealthCheck, &machinehealthcheck.Reconciler{
			Client: mgr.GetClient(), ClusterCache: clusterCache, WatchFilterValue: o.watchFilter,
		}, opt(ControllerMachineHealthCheck)},
		{ControllerKubeadmConfig, &kubeadmconfig.Reconciler{
			Client: mgr.GetClient(), SecretCachingClient: secretCachingClient, APIReader: mgr.GetAPIReader(),
			ClusterCache: clusterCache, WatchFilterValue: o.watchFilter, TokenTTL: o.tokenTTL,
		}, opt(ControllerKubeadmConfig)},
		{ControllerKubeadmControlPlane, &kubeadmcontrolplane.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), SecretCachingClient: secretCachingClient,
			ClusterCache: clusterCache, WatchFilterValue: o.watchFilter,
			EtcdDialTimeout: etcdDialTimeout, EtcdCallTimeout: etcdCallTimeout, EtcdLogger: zap.NewNop(),
			RemoteConditionsGracePeriod: o.remoteGracePeriod,
		}, controller.Options{
			MaxConcurrentReconciles: o.concurrencyOf(ControllerKubeadmControlPlane),
			// KCP talks to every etcd member in one reconcile (upstream's value).
			ReconciliationTimeout: 3 * time.Minute,
		}},
	}
	if feature.Gates.Enabled(feature.MachinePool) {
		reconcilers = append(reconcilers, struct {
			name string
			r    setupper
			opts controller.Options
		}{ControllerMachinePool, &machinepool.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: clusterCache,
			WatchFilterValue: o.watchFilter,
		}, opt(ControllerMachinePool)})
	}
	for _, r := range reconcilers {
		if err := r.r.SetupWithManager(ctx, mgr, r.opts); err != nil {
			return wrap(r.name+" controller", err)
		}
	}
	providerSetup := o.providerSetup
	if !o.hasProviderSetup {
		providerSetup = o.openstrapSetup
	}
	if providerSetup != nil {
		if err := providerSetup(ctx, mgr); err != nil {
			return wrap("infrastructure provider", err)
		}
	}
	log.V(1).Info("controllers set up", "controllers", len(reconcilers), "namespace", o.namespace, "watchFilter", o.watchFilter)
	return nil
}

// openstrapSetup registers openstrap's OpenStackCluster and OpenStackMachine
// reconcilers, the default infrastructure provider of the stack.
func (o *controllersOptions) openstrapSetup(ctx context.Context, mgr ctrl.Manager) error {
	return controllers.Setup(ctx, mgr, controllers.Options{
		ClusterConcurrency: o.concurrencyOf(ControllerOpenStackCluster),
		MachineConcurrency: o.concurrencyOf(ControllerOpenStackMachine),
		WatchFilterValue:   o.watchFilter,
		NewCloud:           o.newCloud,
		Timing:             o.providerTiming,
		SkipNameValidation: true,
	})
}

// RunningControllers is a controller manager started by StartControllers.
type RunningControllers struct {
	mgr    ctrl.Manager
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

// Manager returns the running manager, for its client, cache or event
// recorder. Do not Add to it: it has started.
func (c *RunningControllers) Manager() ctrl.Manager { return c.mgr }

// Client returns the manager's client (cache-backed reads for Cluster API's
// kinds, direct reads for Secrets and ConfigMaps).
func (c *RunningControllers) Client() client.Client { return c.mgr.GetClient() }

// Done is closed when the manager has stopped, after Stop or on its own
// (lost leader election, a controller that failed).
func (c *RunningControllers) Done() <-chan struct{} { return c.done }

// Err returns why the manager stopped: nil while it runs and after a clean
// Stop.
func (c *RunningControllers) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stop stops every controller and waits until the manager has returned, or
// until ctx ends. In-flight reconciles get the manager's graceful shutdown
// time (15 s) to finish. It returns the manager's error, if it failed.
func (c *RunningControllers) Stop(ctx context.Context) error {
	c.cancel()
	select {
	case <-c.done:
		return c.Err()
	case <-ctx.Done():
		return fmt.Errorf("stop controllers: %w", ctx.Err())
	}
}

// StartControllers runs the whole stack (see SetupControllers) against the
// cluster c in this process: it builds a manager on c's admin configuration
// with ControllersManagerOptions, sets the controllers up, starts the
// manager in a goroutine and returns once the informers of Cluster API's
// kinds have synced, or with the error that stopped it. The CRDs must be
// installed first (InstallControllerCRDs): a missing one is reported by name.
//
// The manager runs until Stop or until ctx ends; ctx also carries the
// logger (unless WithControllersLogger). Every option applies.
func StartControllers(ctx context.Context, c Cluster, opts ...ControllersOption) (*RunningControllers, error) {
	o, err := newControllersOptions(fnStartControllers, opts)
	if err != nil {
		return nil, fmt.Errorf("start controllers: %w", err)
	}
	if c == nil {
		return nil, fmt.Errorf("start controllers: %w: nil cluster", ErrInvalidOption)
	}
	log := logr.FromContextOrDiscard(ctx)
	if o.hasLog {
		log = o.log
	}
	log = log.WithValues("cluster", c.Name())
	o.log, o.hasLog = log, true

	rc := c.RESTConfig()
	rc.UserAgent = remote.DefaultClusterAPIUserAgent(userAgent)
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 50, 100
	}
	if err := checkControllerCRDs(ctx, rc); err != nil {
		return nil, fmt.Errorf("start controllers in %q: %w", c.Name(), err)
	}
	mo, err := o.managerOptions(log)
	if err != nil {
		return nil, fmt.Errorf("start controllers in %q: %w", c.Name(), err)
	}
	mgr, err := ctrl.NewManager(rc, mo)
	if err != nil {
		return nil, fmt.Errorf("start controllers in %q: manager: %w", c.Name(), err)
	}
	if o.healthAddr != "0" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, fmt.Errorf("start controllers in %q: health check: %w", c.Name(), err)
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, fmt.Errorf("start controllers in %q: ready check: %w", c.Name(), err)
		}
	}
	runCtx, cancel := context.WithCancel(ctrl.LoggerInto(context.WithoutCancel(ctx), log))
	if err := o.setup(runCtx, mgr); err != nil {
		cancel()
		return nil, fmt.Errorf("start controllers in %q: %w", c.Name(), err)
	}
	h := &RunningControllers{mgr: mgr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		err := mgr.Start(runCtx)
		if err != nil {
			h.mu.Lock()
			h.err = fmt.Errorf("controllers in %q: %w", c.Name(), err)
			h.mu.Unlock()
		}
	}()
	// The caller's ctx ends the manager too.
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-h.done:
		}
	}()
	if err := h.waitSynced(ctx, o.cacheSyncTimeout); err != nil {
		stopCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer stop()
		_ = h.Stop(stopCtx)
		if merr := h.Err(); merr != nil {
			err = errors.Join(err, merr)
		}
		return nil, fmt.Errorf("start controllers in %q: %w", c.Name(), err)
	}
	log.Info("controllers started")
	return h, nil
}

// syncedKinds are the kinds whose informers StartControllers waits for:
// every kind a Cluster API controller is built For.
func syncedKinds() []client.Object {
	return []client.Object{
		&clusterv1.Cluster{}, &clusterv1.Machine{}, &clusterv1.MachineSet{},
		&clusterv1.MachineDeployment{}, &clusterv1.MachineHealthCheck{},
		&bootstrapv1.KubeadmConfig{}, &controlplanev1.KubeadmControlPlane{},
	}
}

// waitSynced waits until the manager's cache has synced the informers of
// syncedKinds, the manager stopped, or timeout passed.
func (c *RunningControllers) waitSynced(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	synced := make(chan error, 1)
	go func() {
		// The cache starts with the manager; informers asked for before
		// that start with it.
		for _, obj := range syncedKinds() {
			if _, err := c.mgr.GetCache().GetInformer(ctx, obj, cache.BlockUntilSynced(true)); err != nil {
				synced <- fmt.Errorf("informer for %T: %w", obj, err)
				return
			}
		}
		if !c.mgr.GetCache().WaitForCacheSync(ctx) {
			synced <- fmt.Errorf("caches did not sync: %w", context.Cause(ctx))
			return
		}
		synced <- nil
	}()
	select {
	case err := <-synced:
		if err != nil {
			return err
		}
		// A controller whose own sources failed stops the manager at once.
		select {
		case <-c.done:
			return fmt.Errorf("manager stopped: %w", c.Err())
		case <-time.After(100 * time.Millisecond):
		}
		return nil
	case <-c.done:
		if err := c.Err(); err != nil {
			return err
		}
		return errors.New("manager stopped before its caches synced")
	case <-ctx.Done():
		return fmt.Errorf("waiting for caches to sync: %w", ctx.Err())
	}
}
