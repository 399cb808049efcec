package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/openstrap/openstrap/internal/controlplane"
)

// Cluster is a management cluster: something Install can apply to and that
// can be deleted when the flow is done with it.
type Cluster interface {
	// Name is the cluster's name.
	Name() string
	// RESTConfig returns a new admin client configuration.
	RESTConfig() *rest.Config
	// Kubeconfig returns an admin kubeconfig; it holds credentials.
	Kubeconfig() ([]byte, error)
	// Delete removes the cluster (or, for Existing, forgets it).
	Delete(ctx context.Context) error
}

// ErrUnreachable is returned when a cluster's API server does not answer.
var ErrUnreachable = errors.New("cluster API server unreachable")

func validateName(name string) error {
	ok := name != "" && len(name) <= 63 && name[0] != '-' && name[len(name)-1] != '-'
	for _, r := range name {
		ok = ok && (r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}
	if !ok {
		return fmt.Errorf("%w: cluster name %q must be a DNS label (lower case letters, digits, '-')", ErrInvalidOption, name)
	}
	return nil
}

// LocalCluster is a management cluster made of kube-apiserver, etcd and
// kube-controller-manager processes on this machine; see Local.
type LocalCluster struct {
	name     string
	keepData bool
	proc     *controlplane.Process
	progress func(Event)
}

var _ Cluster = (*LocalCluster)(nil)

// Local starts (or reuses) a management cluster made of a kube-apiserver, an
// etcd and a kube-controller-manager process on a loopback address, with its
// own PKI and data directory (Dir, default
// os.UserCacheDir()/openstrap/clusters/<name>). If the cluster already runs on
// that directory, from this or another process, it is reused as it is (a
// controller manager missing from it is started); if its data was kept by an
// earlier Delete with KeepData, it is started again on that data. The binaries
// are built on first use (see internal/tools).
//
// The controller manager runs kubeadm's set of controllers (Controllers
// changes it): among them the garbage collector, which deletes objects whose
// owner references all point to deleted owners (Cluster API's deletion
// cascades rely on it), and the namespace controller, which empties and
// removes deleted namespaces. There is no kubelet, scheduler or Node.
//
// Options: Dir, KeepData, Address, Port, CA, NoControllerManager, Controllers,
// WithLogger, WithProgress.
//
// The processes outlive the calling program until Delete (or Stop).
func Local(ctx context.Context, name string, opts ...Option) (*LocalCluster, error) {
	o, err := newOptions(fnLocal, opts)
	if err != nil {
		return nil, fmt.Errorf("local cluster %q: %w", name, err)
	}
	if err := validateName(name); err != nil {
		return nil, err
	}
	if o.dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("local cluster %q: data directory: %w (use the Dir option)", name, err)
		}
		o.dir = filepath.Join(cache, "openstrap", "clusters", name)
	}
	log := o.logger(logr.FromContextOrDiscard(ctx)).WithValues("cluster", name)
	done := o.step(PhaseCreate, name, "")
	var kcm *controlplane.ControllerManager
	if !o.noKCM {
		kcm = &controlplane.ControllerManager{Controllers: o.kcmCtrls}
	}
	proc, err := controlplane.Start(logr.NewContext(ctx, log), controlplane.Config{
		Dir:               o.dir,
		Name:              name,
		Address:           o.address,
		Port:              o.port,
		CACert:            o.caCert,
		CAKey:             o.caKey,
		ControllerManager: kcm,
	})
	if err != nil {
		err = fmt.Errorf("local cluster %q: %w", name, err)
		done(err)
		return nil, err
	}
	done(nil)
	if proc.Attached() {
		o.emit(Event{Phase: PhaseReuse, Cluster: name, Done: true})
		log.Info("reusing running local cluster", "endpoint", proc.Endpoint())
	} else {
		log.Info("local cluster ready", "endpoint", proc.Endpoint(), "dir", o.dir)
	}
	return &LocalCluster{name: name, keepData: o.keepData, proc: proc, progress: o.progress}, nil
}

// Name returns the cluster's name.
func (c *LocalCluster) Name() string { return c.name }

// RESTConfig returns a new admin client configuration.
func (c *LocalCluster) RESTConfig() *rest.Config { return c.proc.RESTConfig() }

// Kubeconfig returns the admin kubeconfig (also saved as admin.kubeconfig in
// the data directory).
func (c *LocalCluster) Kubeconfig() ([]byte, error) { return c.proc.AdminKubeconfig(), nil }

// Endpoint returns the API server URL.
func (c *LocalCluster) Endpoint() string { return c.proc.Endpoint() }

// Dir returns the data directory.
func (c *LocalCluster) Dir() string { return c.proc.Dir() }

// String names the cluster without its credentials.
func (c *LocalCluster) String() string {
	return fmt.Sprintf("local cluster %q at %s", c.name, c.proc.Endpoint())
}

// Stop stops the processes and keeps the data; Local with the same name and
// Dir starts the cluster again on it.
func (c *LocalCluster) Stop(ctx context.Context) error {
	if err := c.proc.Stop(ctx); err != nil {
		return fmt.Errorf("local cluster %q: %w", c.name, err)
	}
	return nil
}

// Delete stops the processes and removes the data directory, unless the
// cluster was made with KeepData. Deleting a stopped or deleted cluster
// succeeds.
func (c *LocalCluster) Delete(ctx context.Context) error {
	o := options{progress: c.progress}
	done := o.step(PhaseDelete, c.name, "")
	err := c.proc.Stop(ctx)
	if err == nil && !c.keepData {
		err = os.RemoveAll(c.proc.Dir())
	}
	if err != nil {
		err = fmt.Errorf("delete local cluster %q: %w", c.name, err)
	}
	done(err)
	return err
}

// ExistingCluster is a cluster reached through a kubeconfig; see Existing.
type ExistingCluster struct {
	name       string
	rest       *rest.Config
	kubeconfig []byte
}

var _ Cluster = (*ExistingCluster)(nil)

// KubeconfigSource is where Existing reads a kubeconfig from: KubeconfigFile
// or KubeconfigBytes.
type KubeconfigSource interface {
	clientConfig(context string) (clientcmd.ClientConfig, error)
}

type kubeconfigFile string

func (f kubeconfigFile) clientConfig(ctxName string) (clientcmd.ClientConfig, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = string(f)
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: ctxName}), nil
}

type kubeconfigBytes []byte

func (b kubeconfigBytes) clientConfig(ctxName string) (clientcmd.ClientConfig, error) {
	cfg, err := clientcmd.Load(b)
	if err != nil {
		// The parser's message may quote the input: keep only its kind.
		return nil, errors.New("kubeconfig bytes are not a valid kubeconfig")
	}
	return clientcmd.NewNonInteractiveClientConfig(*cfg, ctxName, &clientcmd.ConfigOverrides{}, nil), nil
}

// KubeconfigFile reads the kubeconfig at path; an empty path follows the
// usual rules ($KUBECONFIG, then ~/.kube/config).
func KubeconfigFile(path string) KubeconfigSource { return kubeconfigFile(path) }

// KubeconfigBytes uses the given kubeconfig.
func KubeconfigBytes(b []byte) KubeconfigSource { return kubeconfigBytes(b) }

// Existing wraps a running cluster reached through a kubeconfig and checks
// that its API server answers (ErrUnreachable otherwise). Delete does not
// touch the cluster: it is not ours. Options: KubeContext, Name, WithLogger,
// WithProgress.
func Existing(ctx context.Context, src KubeconfigSource, opts ...Option) (*ExistingCluster, error) {
	o, err := newOptions(fnExisting, opts)
	if err != nil {
		return nil, fmt.Errorf("existing cluster: %w", err)
	}
	if src == nil {
		return nil, fmt.Errorf("existing cluster: %w: no kubeconfig source", ErrInvalidOption)
	}
	cc, err := src.clientConfig(o.kubeContext)
	if err != nil {
		return nil, fmt.Errorf("existing cluster: %w", err)
	}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("existing cluster: load kubeconfig: %w", err)
	}
	ctxName := o.kubeContext
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	kctx, ok := raw.Contexts[ctxName]
	switch {
	case ctxName == "":
		return nil, fmt.Errorf("existing cluster: kubeconfig has no current context (use KubeContext)")
	case !ok:
		return nil, fmt.Errorf("existing cluster: kubeconfig has no context %q", ctxName)
	}
	name := o.name
	if name == "" {
		name = kctx.Cluster
	}
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("existing cluster %q: %w", name, err)
	}
	kc, err := minifiedKubeconfig(raw, ctxName)
	if err != nil {
		return nil, fmt.Errorf("existing cluster %q: %w", name, err)
	}
	log := o.logger(logr.FromContextOrDiscard(ctx)).WithValues("cluster", name)
	done := o.step(PhaseConnect, name, "")
	err = reachable(ctx, rc)
	if err != nil {
		err = fmt.Errorf("existing cluster %q at %s: %w: %w", name, rc.Host, ErrUnreachable, err)
	}
	done(err)
	if err != nil {
		return nil, err
	}
	log.Info("using existing cluster", "server", rc.Host)
	return &ExistingCluster{name: name, rest: rc, kubeconfig: kc}, nil
}

// minifiedKubeconfig keeps only ctxName and inlines referenced files.
func minifiedKubeconfig(raw clientcmdapi.Config, ctxName string) ([]byte, error) {
	cfg := raw.DeepCopy()
	cfg.CurrentContext = ctxName
	if err := clientcmdapi.MinifyConfig(cfg); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if err := clientcmdapi.FlattenConfig(cfg); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return clientcmd.Write(*cfg)
}

// reachable asks the server for its version.
func reachable(ctx context.Context, rc *rest.Config) error {
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return err
	}
	res := dc.RESTClient().Get().AbsPath("/version").Do(ctx)
	if err := res.Error(); err != nil {
		// Keep connection errors short: they may repeat the URL only.
		return errors.New(strings.TrimSpace(err.Error()))
	}
	return nil
}

// Name returns the cluster's name.
func (c *ExistingCluster) Name() string { return c.name }

// RESTConfig returns a new client configuration.
func (c *ExistingCluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.rest) }

// Kubeconfig returns a self-contained kubeconfig holding only the selected
// context.
func (c *ExistingCluster) Kubeconfig() ([]byte, error) {
	return append([]byte(nil), c.kubeconfig...), nil
}

// Delete does nothing: an existing cluster belongs to someone else.
func (c *ExistingCluster) Delete(context.Context) error { return nil }

// String names the cluster without its credentials.
func (c *ExistingCluster) String() string {
	return fmt.Sprintf("existing cluster %q at %s", c.name, c.rest.Host)
}
