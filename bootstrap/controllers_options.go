package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/openstrap/openstrap/provider/controllers"
)

// ControllersOption configures SetupControllers, StartControllers and
// ControllersManagerOptions. Options that only make sense when this package
// builds the manager (addresses, leader election) are refused by
// SetupControllers with ErrInvalidOption.
type ControllersOption interface {
	applyControllers(*controllersOptions) error
}

// Controller names accepted by WithControllerConcurrency.
const (
	ControllerCluster             = "Cluster"
	ControllerMachine             = "Machine"
	ControllerMachineSet          = "MachineSet"
	ControllerMachineDeployment   = "MachineDeployment"
	ControllerMachineHealthCheck  = "MachineHealthCheck"
	ControllerMachinePool         = "MachinePool"
	ControllerKubeadmConfig       = "KubeadmConfig"
	ControllerKubeadmControlPlane = "KubeadmControlPlane"
	ControllerClusterCache        = "ClusterCache"
	ControllerOpenStackCluster    = "OpenStackCluster"
	ControllerOpenStackMachine    = "OpenStackMachine"
)

var controllerNames = []string{
	ControllerCluster, ControllerMachine, ControllerMachineSet, ControllerMachineDeployment,
	ControllerMachineHealthCheck, ControllerMachinePool, ControllerKubeadmConfig,
	ControllerKubeadmControlPlane, ControllerClusterCache,
	ControllerOpenStackCluster, ControllerOpenStackMachine,
}

// ProviderSetupFunc registers infrastructure reconcilers (openstrap's, or a
// platform team's own) on the manager SetupControllers configures. It runs
// after Cluster API's reconcilers, the indexes and the cluster cache are set
// up, before the manager starts.
type ProviderSetupFunc func(ctx context.Context, mgr ctrl.Manager) error

type controllersOptions struct {
	fn string

	log    logr.Logger
	hasLog bool

	namespace   string
	watchFilter string
	concurrency int
	perCtrl     map[string]int
	syncPeriod  time.Duration

	providerSetup    ProviderSetupFunc
	hasProviderSetup bool
	newCloud         controllers.CloudFunc
	providerTiming   controllers.Timing

	// manager only (StartControllers, ControllersManagerOptions)
	metricsAddr       string
	healthAddr        string
	leaderElection    bool
	leaderElectionID  string
	leaderElectionNS  string
	cacheSyncTimeout  time.Duration
	gracefulShutdown  time.Duration
	tokenTTL          time.Duration
	remoteGracePeriod time.Duration
}

const (
	fnSetupControllers   = "SetupControllers"
	fnStartControllers   = "StartControllers"
	fnControllersManager = "ControllersManagerOptions"
)

type controllersOption struct {
	name        string
	managerOnly bool
	f           func(*controllersOptions) error
}

func (o controllersOption) applyControllers(x *controllersOptions) error {
	if o.managerOnly && x.fn == fnSetupControllers {
		return fmt.Errorf("%w: %s configures the manager, which the caller of %s builds", ErrInvalidOption, o.name, x.fn)
	}
	if err := o.f(x); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidOption, o.name, err)
	}
	return nil
}

func newControllersOptions(fn string, opts []ControllersOption) (*controllersOptions, error) {
	o := &controllersOptions{
		fn:                fn,
		concurrency:       defaultConcurrency,
		syncPeriod:        10 * time.Minute,
		metricsAddr:       "0",
		healthAddr:        "0",
		leaderElectionID:  "openstrap-controllers",
		cacheSyncTimeout:  2 * time.Minute,
		gracefulShutdown:  15 * time.Second,
		tokenTTL:          defaultTokenTTL,
		remoteGracePeriod: 5 * time.Minute,
	}
	var errs []error
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		errs = append(errs, opt.applyControllers(o))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// concurrencyOf returns the number of workers of the named controller.
func (o *controllersOptions) concurrencyOf(name string) int {
	if n, ok := o.perCtrl[name]; ok {
		return n
	}
	return o.concurrency
}

// WithControllersLogger makes the manager and every reconciler log to l
// (default: the logger in the context given to StartControllers or
// SetupControllers, else nothing).
func WithControllersLogger(l logr.Logger) ControllersOption {
	return controllersOption{name: "WithControllersLogger", f: func(o *controllersOptions) error {
		o.log, o.hasLog = l, true
		return nil
	}}
}

// WithNamespace restricts the controllers to one namespace (default: all):
// the cache lists and watches only that namespace's objects. It does so with
// a metadata.namespace field selector on cluster-wide lists, because Cluster
// API v1.14's reconcilers fail on controller-runtime's per-namespace
// informers: the controllers still need list and watch permission on the
// whole cluster for the kinds they reconcile.
func WithNamespace(ns string) ControllersOption {
	return controllersOption{name: "WithNamespace", f: func(o *controllersOptions) error {
		if ns == "" {
			return errors.New("empty namespace")
		}
		o.namespace = ns
		return nil
	}}
}

// WithWatchFilter makes every controller act only on objects labelled
// cluster.x-k8s.io/watch-filter=value, as Cluster API's --watch-filter flag
// does; several stacks can then share one cluster.
func WithWatchFilter(value string) ControllersOption {
	return controllersOption{name: "WithWatchFilter", f: func(o *controllersOptions) error {
		if value == "" {
			return errors.New("empty value")
		}
		o.watchFilter = value
		return nil
	}}
}

// WithConcurrency sets the number of workers of every controller (default
// 10); WithControllerConcurrency overrides it per controller.
func WithConcurrency(n int) ControllersOption {
	return controllersOption{name: "WithConcurrency", f: func(o *controllersOptions) error {
		if n < 1 {
			return fmt.Errorf("concurrency %d, want at least 1", n)
		}
		o.concurrency = n
		return nil
	}}
}

// WithControllerConcurrency sets the number of workers of one controller,
// named by a Controller* constant.
func WithControllerConcurrency(controller string, n int) ControllersOption {
	return controllersOption{name: "WithControllerConcurrency", f: func(o *controllersOptions) error {
		known := false
		for _, c := range controllerNames {
			known = known || c == controller
		}
		if !known {
			return fmt.Errorf("unknown controller %q (want one of %v)", controller, controllerNames)
		}
		if n < 1 {
			return fmt.Errorf("%s concurrency %d, want at least 1", controller, n)
		}
		if o.perCtrl == nil {
			o.perCtrl = map[string]int{}
		}
		o.perCtrl[controller] = n
		return nil
	}}
}

// WithSyncPeriod sets how often every object is reconciled again with no
// change (default 10 minutes, as Cluster API's managers).
func WithSyncPeriod(d time.Duration) ControllersOption {
	return controllersOption{name: "WithSyncPeriod", f: func(o *controllersOptions) error {
		if d <= 0 {
			return fmt.Errorf("sync period %v, want > 0", d)
		}
		o.syncPeriod = d
		return nil
	}}
}

// WithProviderSetup registers the infrastructure provider's reconcilers with
// fn instead of openstrap's (provider/controllers.Setup, the default). A nil
// fn registers no infrastructure reconciler at all: Cluster API's controllers
// then wait for an infrastructure provider that someone else runs.
// WithCloudFunc and WithProviderTiming then have no effect.
func WithProviderSetup(fn ProviderSetupFunc) ControllersOption {
	return controllersOption{name: "WithProviderSetup", f: func(o *controllersOptions) error {
		o.providerSetup, o.hasProviderSetup = fn, true
		return nil
	}}
}

// WithCloudFunc makes openstrap's reconcilers connect to OpenStack with fn
// instead of the clouds.yaml of each identityRef Secret
// (controllers.ConnectSecret): tests pass the simulator's cloud, platform
// teams their own authentication.
func WithCloudFunc(fn controllers.CloudFunc) ControllersOption {
	return controllersOption{name: "WithCloudFunc", f: func(o *controllersOptions) error {
		if fn == nil {
			return errors.New("nil function")
		}
		o.newCloud = fn
		return nil
	}}
}

// WithProviderTiming tunes how often openstrap's reconcilers look at the
// cloud again (polls while something builds, the hold after an error a
// person must fix, the bound of one reconcile's cloud calls).
func WithProviderTiming(t controllers.Timing) ControllersOption {
	return controllersOption{name: "WithProviderTiming", f: func(o *controllersOptions) error {
		if t.PollInterval < 0 || t.RetryAfterPermanentError < 0 || t.CloudTimeout < 0 {
			return fmt.Errorf("negative duration in %+v", t)
		}
		o.providerTiming = t
		return nil
	}}
}

// WithBootstrapTokenTTL sets the lifetime of the bootstrap tokens the
// kubeadm bootstrap controller creates for joining machines (default 15
// minutes, as upstream; it refreshes them while a Machine is not joined).
func WithBootstrapTokenTTL(d time.Duration) ControllersOption {
	return controllersOption{name: "WithBootstrapTokenTTL", f: func(o *controllersOptions) error {
		if d < time.Minute {
			return fmt.Errorf("token TTL %v, want at least 1m", d)
		}
		o.tokenTTL = d
		return nil
	}}
}

// WithRemoteConditionsGracePeriod sets how long a workload cluster may be
// unreachable before the Machine and KubeadmControlPlane controllers mark
// their remote conditions Unknown (default 5m; Cluster API refuses < 2m).
func WithRemoteConditionsGracePeriod(d time.Duration) ControllersOption {
	return controllersOption{name: "WithRemoteConditionsGracePeriod", f: func(o *controllersOptions) error {
		if d < 2*time.Minute {
			return fmt.Errorf("%v, want at least 2m (Cluster API's minimum)", d)
		}
		o.remoteGracePeriod = d
		return nil
	}}
}

// WithMetricsAddress serves the manager's Prometheus metrics on addr
// (host:port, ":8080"); default off. Manager options only.
func WithMetricsAddress(addr string) ControllersOption {
	return controllersOption{name: "WithMetricsAddress", managerOnly: true, f: func(o *controllersOptions) error {
		if err := validAddr(addr); err != nil {
			return err
		}
		o.metricsAddr = addr
		return nil
	}}
}

// WithHealthProbeAddress serves /healthz and /readyz on addr; default off.
// Manager options only.
func WithHealthProbeAddress(addr string) ControllersOption {
	return controllersOption{name: "WithHealthProbeAddress", managerOnly: true, f: func(o *controllersOptions) error {
		if err := validAddr(addr); err != nil {
			return err
		}
		o.healthAddr = addr
		return nil
	}}
}

// WithLeaderElection makes the controllers run only while this process holds
// the Lease id in namespace ns (default off: run one manager per cluster).
// Manager options only.
func WithLeaderElection(id, ns string) ControllersOption {
	return controllersOption{name: "WithLeaderElection", managerOnly: true, f: func(o *controllersOptions) error {
		if id == "" || ns == "" {
			return errors.New("lease name and namespace are both required")
		}
		o.leaderElection, o.leaderElectionID, o.leaderElectionNS = true, id, ns
		return nil
	}}
}

// WithCacheSyncTimeout bounds how long StartControllers waits for the
// informers to sync (default 2 minutes). Manager options only.
func WithCacheSyncTimeout(d time.Duration) ControllersOption {
	return controllersOption{name: "WithCacheSyncTimeout", managerOnly: true, f: func(o *controllersOptions) error {
		if d <= 0 {
			return fmt.Errorf("timeout %v, want > 0", d)
		}
		o.cacheSyncTimeout = d
		return nil
	}}
}

func validAddr(addr string) error {
	if addr == "0" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w (want host:port, or 0 for off)", addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("address %q: bad port", addr)
	}
	return nil
}
