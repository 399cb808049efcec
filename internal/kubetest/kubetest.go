package kubetest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/openstrap/openstrap/internal/tools"
)

// Labels set on the Cluster API CRDs that Start installs, the way
// `clusterctl init` labels them; `clusterctl move` only moves the kinds whose
// CRD carries ClusterctlLabel.
const (
	ClusterctlLabel = tools.ClusterctlLabel
	ProviderLabel   = tools.ProviderLabel
)

// startTimeout bounds the start of each process; the default of envtest (20 s)
// is too short on a loaded two-core machine.
const startTimeout = 90 * time.Second

// Options selects the CRDs installed into a new environment.
type Options struct {
	// ClusterAPICRDs installs the CRDs of Cluster API core, the kubeadm
	// bootstrap and control plane providers and clusterctl's inventory, from
	// the pinned module, labelled as `clusterctl init` labels them.
	ClusterAPICRDs bool
	// CRDDirectoryPaths are directories (or files) of CRD YAML to install.
	CRDDirectoryPaths []string
	// CRDs are CRD objects to install.
	CRDs []*apiextensionsv1.CustomResourceDefinition
}

// Env is one running API server with its etcd.
type Env struct {
	// Config is an admin (system:masters) client configuration for the API server.
	Config *rest.Config

	env *envtest.Environment
}

// String names the server without its credentials.
func (e *Env) String() string {
	if e == nil || e.Config == nil {
		return "kubetest.Env(<stopped>)"
	}
	return fmt.Sprintf("kubetest.Env(%s)", e.Config.Host)
}

// Start starts kube-apiserver and etcd, building the binaries first when the
// tools cache lacks them, and installs the requested CRDs. ctx bounds the
// build and the CRD lookup; the processes outlive it until Stop.
func Start(ctx context.Context, opts Options) (*Env, error) {
	for _, p := range opts.CRDDirectoryPaths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("kubetest: CRD path: %w", err)
		}
	}
	assets, err := tools.KubebuilderAssets(ctx)
	if err != nil {
		return nil, fmt.Errorf("kubetest: binaries: %w", err)
	}
	crds := append([]*apiextensionsv1.CustomResourceDefinition(nil), opts.CRDs...)
	if opts.ClusterAPICRDs {
		capi, err := clusterAPICRDs(ctx)
		if err != nil {
			return nil, err
		}
		crds = append(crds, capi...)
	}
	existing := false
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        opts.CRDDirectoryPaths,
		CRDs:                     crds,
		ErrorIfCRDPathMissing:    true,
		UseExistingCluster:       &existing,
		ControlPlaneStartTimeout: startTimeout,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start can fail after the processes run (CRD install): stop them.
		_ = env.Stop()
		return nil, fmt.Errorf("kubetest: start API server: %w", err)
	}
	return &Env{Config: cfg, env: env}, nil
}

// Stop stops the API server and etcd and removes their data.
func (e *Env) Stop() error {
	if e == nil || e.env == nil {
		return nil
	}
	err := e.env.Stop()
	e.env = nil
	if err != nil {
		return fmt.Errorf("kubetest: stop API server: %w", err)
	}
	return nil
}

// Kubeconfig returns an admin kubeconfig for the API server, for tools such as
// clusterctl and for code that takes kubeconfig bytes. It holds a client key:
// do not log it.
func (e *Env) Kubeconfig() ([]byte, error) {
	if e == nil || e.env == nil {
		return nil, fmt.Errorf("kubetest: kubeconfig of a stopped environment")
	}
	return append([]byte(nil), e.env.KubeConfig...), nil
}

// clusterAPICRDs reads the Cluster API CRDs from the module cache, labelled
// per provider as clusterctl does.
func clusterAPICRDs(ctx context.Context) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	crds, err := tools.ClusterAPICRDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("kubetest: cluster API CRDs: %w", err)
	}
	return crds, nil
}

// quietControllerRuntime gives controller-runtime's global logger a sink, so
// that envtest does not print a stack trace complaining that none was set.
// Test entry points only: a test that wants those logs calls
// ctrllog.SetLogger after them.
func quietControllerRuntime() { ctrllog.SetLogger(logr.Discard()) }

// ForTest starts an environment for one test and stops it when the test ends.
// It discards controller-runtime's global logs (see Main).
func ForTest(t testing.TB, opts Options) *Env {
	t.Helper()
	quietControllerRuntime()
	env, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	return env
}

// Main runs a package's tests against one environment started with opts,
// stored in *env before the tests run and stopped after them. It discards
// controller-runtime's global logs, which envtest otherwise reports with a
// stack trace; call ctrllog.SetLogger after it to see them.
//
//	var env *kubetest.Env
//
//	func TestMain(m *testing.M) { kubetest.Main(m, kubetest.Options{ClusterAPICRDs: true}, &env) }
func Main(m *testing.M, opts Options, env **Env) {
	os.Exit(run(m, opts, env))
}

func run(m *testing.M, opts Options, env **Env) int {
	quietControllerRuntime()
	e, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
