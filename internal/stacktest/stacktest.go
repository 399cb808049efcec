package stacktest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/openstrap/openstrap/bootstrap"
	"github.com/openstrap/openstrap/bootstrap/clustertemplate"
	"github.com/openstrap/openstrap/internal/machines"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// KubernetesVersion is the version the clusters of these tests run.
const KubernetesVersion = "v1.37.2"

// ClusterTemplate is the cluster template the tests apply,
// clustertemplate.Template: a Cluster, its OpenStackCluster and identity
// Secret, a KubeadmControlPlane and a MachineDeployment with their
// templates, and the workers' MachineHealthCheck, with clusterctl's
// variables.
func ClusterTemplate() []byte { return clustertemplate.Template() }

// Scheme knows the core, Cluster API (v1beta2) and openstrap kinds.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, clusterv1.AddToScheme,
		bootstrapv1.AddToScheme, controlplanev1.AddToScheme, infrav1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // static registration of known types
		}
	}
	return s
}

// Options change what Start starts.
type Options struct {
	// Latency is added to every simulated OpenStack call.
	Latency time.Duration
	// BootDelay is how long a simulated server stays in BUILD.
	BootDelay time.Duration
	// NoControllers leaves the controllers stopped; StartControllers starts them.
	NoControllers bool
	// Controllers are extra options for bootstrap.StartControllers.
	Controllers []bootstrap.ControllersOption
	// Log receives the controllers' and the runtime's logs.
	Log logr.Logger
	// Machines is how servers boot: machines.Processes by default;
	// machines.Containers boots them as node containers (real cloud-init,
	// kubeadm, kubelet).
	Machines machines.Kind
}

// Env is a management cluster (kube-apiserver, etcd and
// kube-controller-manager processes) with Cluster API's controllers and
// openstrap's provider running against it in this process, and a simulated
// OpenStack whose servers boot through the process machine runtime.
type Env struct {
	Mgmt    *bootstrap.LocalCluster
	Cloud   *openstacktest.Server
	Runtime *machines.Runtime
	Client  client.Client

	opts Options
	mu   sync.Mutex
	ctrl *bootstrap.RunningControllers
}

// Start starts an environment for one test and stops it when the test ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if o.Log.GetSink() == nil {
		o.Log = fileLogger(t)
	}
	// Cluster API's cluster cache logs through controller-runtime's global
	// logger.
	ctrllog.SetLogger(o.Log)
	dir := t.TempDir()
	if o.Machines == "" {
		o.Machines = machines.Processes
	}
	rt, err := machines.Start(ctx, o.Machines, filepath.Join(dir, "runtime"), o.Log)
	if err != nil {
		t.Fatalf("machine runtime %s: %v", o.Machines, err)
	}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("machine runtime: %v", err)
		}
	})
	simOpts := []openstacktest.Option{
		openstacktest.WithFloatingIPPool(loopbackPool(t.Name())),
		rt.Option(),
	}
	if o.Latency > 0 {
		simOpts = append(simOpts, openstacktest.WithLatency(o.Latency))
	}
	if o.BootDelay > 0 {
		simOpts = append(simOpts, openstacktest.WithBootDelay(o.BootDelay))
	}
	sim, err := openstacktest.NewServer(simOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)

	mgmt, err := bootstrap.Local(ctx, "mgmt", bootstrap.Dir(filepath.Join(dir, "mgmt")))
	if err != nil {
		t.Fatalf("management cluster: %v", err)
	}
	t.Cleanup(func() { _ = mgmt.Delete(context.Background()) })
	if err := bootstrap.InstallControllerCRDs(ctx, mgmt); err != nil {
		t.Fatalf("install CRDs: %v", err)
	}
	c, err := client.New(mgmt.RESTConfig(), client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Mgmt: mgmt, Cloud: sim, Runtime: rt, Client: c, opts: o}
	t.Cleanup(func() { _ = e.StopControllers(context.Background()) })
	if !o.NoControllers {
		if err := e.StartControllers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// loopbackPool gives each test a /24 of its own in 127.0.0.0/8, so that the
// API servers the runtime starts on floating IPs never collide.
func loopbackPool(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	h.Write([]byte(time.Now().String()))
	n := h.Sum32()
	return fmt.Sprintf("127.%d.%d.0/24", 100+n%100, (n/100)%250)
}

// StartControllers starts Cluster API's controllers and openstrap's provider
// against the management cluster; they run until StopControllers, whatever
// becomes of ctx.
func (e *Env) StartControllers(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctrl != nil {
		return errors.New("controllers already running")
	}
	opts := append([]bootstrap.ControllersOption{bootstrap.WithControllersLogger(e.opts.Log.WithName("controllers"))}, e.opts.Controllers...)
	c, err := bootstrap.StartControllers(context.WithoutCancel(ctx), e.Mgmt, opts...)
	if err != nil {
		return fmt.Errorf("start controllers: %w", err)
	}
	e.ctrl = c
	return nil
}

// StopControllers stops the controllers gracefully (the crash sweep kills
// them harder, see crash_test.go).
func (e *Env) StopControllers(ctx context.Context) error {
	e.mu.Lock()
	c := e.ctrl
	e.ctrl = nil
	e.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Stop(ctx)
}

// Vars are the template variables of a cluster on this environment's cloud.
func (e *Env) Vars(name, namespace string, controlPlanes, workers int) map[string]string {
	return map[string]string{
		"CLUSTER_NAME":                    name,
		"NAMESPACE":                       namespace,
		"KUBERNETES_VERSION":              KubernetesVersion,
		"CONTROL_PLANE_MACHINE_COUNT":     fmt.Sprint(controlPlanes),
		"WORKER_MACHINE_COUNT":            fmt.Sprint(workers),
		"OPENSTACK_CLOUD":                 openstacktest.CloudName,
		"OPENSTACK_CLOUD_YAML_B64":        base64.StdEncoding.EncodeToString(e.Cloud.CloudsYAML()),
		"OPENSTACK_IMAGE_NAME":            openstacktest.ImageName,
		"OPENSTACK_EXTERNAL_NETWORK_NAME": openstacktest.ExternalNetwork,
	}
}

// Apply renders the cluster template with vars and applies it.
func (e *Env) Apply(ctx context.Context, template []byte, vars map[string]string) error {
	return bootstrap.Install(ctx, e.Mgmt, [][]byte{template}, bootstrap.Variables(vars))
}

// Owned lists the simulated cloud's resources tagged as cluster's, as
// "kind/name" sorted, for comparisons in failure messages.
func (e *Env) Owned(cluster string) []string {
	var out []string
	for _, r := range e.Cloud.Snapshot() {
		if r.HasTag("openstrap-cluster=" + cluster) {
			out = append(out, r.Kind+"/"+r.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Servers lists the names of the project's servers.
func (e *Env) Servers() []string {
	var out []string
	for _, r := range e.Cloud.Snapshot() {
		if r.Kind == "server" {
			out = append(out, r.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Workload returns a client of the workload cluster, from the kubeconfig
// Secret Cluster API wrote.
func (e *Env) Workload(ctx context.Context, namespace, cluster string) (kubernetes.Interface, error) {
	var s corev1.Secret
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: cluster + "-kubeconfig"}, &s); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(s.Data["value"])
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %s: %w", cluster, err)
	}
	cfg.Timeout = 10 * time.Second
	return kubernetes.NewForConfig(cfg)
}

// Eventually polls cond every interval until it reports done, fails, or the
// timeout passes; the last state cond described goes into the failure.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (done bool, state string, err error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	state := ""
	start := time.Now()
	for {
		done, s, err := cond(ctx)
		if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			s = s + " (error: " + err.Error() + ")"
		}
		state = s
		if done {
			t.Logf("%s after %s", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not done after %s; last state: %s", what, timeout, strings.TrimSpace(state))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// diffResources lists what was added to or removed from the cloud between
// two snapshots, one line each; "" when they hold the same resources.
func diffResources(before, after []openstacktest.Resource) string {
	key := func(r openstacktest.Resource) string { return r.Service + " " + r.Kind + " " + r.Name + " " + r.ID }
	was := map[string]bool{}
	for _, r := range before {
		was[key(r)] = true
	}
	var b strings.Builder
	for _, r := range after {
		k := key(r)
		if !was[k] {
			b.WriteString("+ " + k + "\n")
		}
		delete(was, k)
	}
	for k := range was {
		b.WriteString("- " + k + "\n")
	}
	return b.String()
}

// fileLogger writes the environment's logs to the file named by
// $STACKTEST_LOG, for debugging a run; it discards them otherwise.
func fileLogger(t testing.TB) logr.Logger {
	path := os.Getenv("STACKTEST_LOG")
	if path == "" {
		return logr.Discard()
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	var mu sync.Mutex
	return funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, "%s %s %s\n", time.Now().Format("15:04:05.000"), prefix, args)
	}, funcr.Options{Verbosity: 4})
}
