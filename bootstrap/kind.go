package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	kindexec "sigs.k8s.io/kind/pkg/exec"
	kindlog "sigs.k8s.io/kind/pkg/log"
	"sigs.k8s.io/yaml"
)

// ErrNoContainerRuntime is returned by Kind when no container runtime (docker,
// podman or nerdctl) is installed and answering.
var ErrNoContainerRuntime = errors.New("no usable container runtime for kind (need docker, podman or nerdctl with a running engine)")

// KindCluster is a kind cluster; see Kind.
type KindCluster struct {
	name           string
	provider       *cluster.Provider
	kubeconfigPath string
	kubeconfig     []byte
	rest           *rest.Config
	progress       func(Event)
}

var _ Cluster = (*KindCluster)(nil)

// Kind creates a kind cluster through kind's Go API, or reuses it when a kind
// cluster of that name exists, and returns it once its kubeconfig works.
// Options: NodeImage, KindConfig, KindConfigFile, WaitForReady, Retain,
// ContainerRuntime, KindKubeconfigPath, WithLogger, WithProgress.
//
// It needs docker, podman or nerdctl with a running engine and returns
// ErrNoContainerRuntime otherwise. kind's API takes no context: cancelling ctx
// stops Kind from waiting but not kind's own steps already under way.
func Kind(ctx context.Context, name string, opts ...Option) (*KindCluster, error) {
	o, err := newOptions(fnKind, opts)
	if err != nil {
		return nil, fmt.Errorf("kind cluster %q: %w", name, err)
	}
	if err := validateName(name); err != nil {
		return nil, err
	}
	log := o.logger(logr.FromContextOrDiscard(ctx)).WithValues("cluster", name)
	p, runtime, existing, err := kindList(o.runtime, log)
	if err != nil {
		return nil, fmt.Errorf("kind cluster %q: %w", name, err)
	}
	if o.kubeconfigPath == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("kind cluster %q: kubeconfig path: %w (use KindKubeconfigPath)", name, err)
		}
		o.kubeconfigPath = filepath.Join(cache, "openstrap", "kind", name+".kubeconfig")
	}
	if err := os.MkdirAll(filepath.Dir(o.kubeconfigPath), 0o700); err != nil {
		return nil, fmt.Errorf("kind cluster %q: %w", name, err)
	}

	if slices.Contains(existing, name) {
		o.emit(Event{Phase: PhaseReuse, Cluster: name, Done: true})
		log.Info("reusing kind cluster", "runtime", runtime)
	} else {
		done := o.step(PhaseCreate, name, "")
		createOpts := []cluster.CreateOption{
			cluster.CreateWithKubeconfigPath(o.kubeconfigPath),
			cluster.CreateWithRetain(o.retain),
			cluster.CreateWithWaitForReady(o.waitForReady),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
		}
		if o.nodeImage != "" {
			createOpts = append(createOpts, cluster.CreateWithNodeImage(o.nodeImage))
		}
		if o.kindConfig != nil {
			createOpts = append(createOpts, cluster.CreateWithRawConfig(o.kindConfig))
		}
		errc := make(chan error, 1)
		go func() { errc <- p.Create(name, createOpts...) }()
		select {
		case err = <-errc:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			err = fmt.Errorf("create kind cluster %q: %w", name, err)
			done(err)
			return nil, err
		}
		done(nil)
	}

	kc, err := p.KubeConfig(name, false)
	if err != nil {
		return nil, fmt.Errorf("kind cluster %q: kubeconfig: %w", name, err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		return nil, fmt.Errorf("kind cluster %q: kubeconfig: %w", name, err)
	}
	if err := reachable(ctx, rc); err != nil {
		return nil, fmt.Errorf("kind cluster %q: %w: %w", name, ErrUnreachable, err)
	}
	return &KindCluster{name: name, provider: p, kubeconfigPath: o.kubeconfigPath, kubeconfig: []byte(kc), rest: rc, progress: o.progress}, nil
}

// KindAvailable reports whether Kind can run here: it picks the container
// runtime as Kind does (ContainerRuntime, KIND_EXPERIMENTAL_PROVIDER, or the
// first found) and lists kind's clusters, which needs the engine to answer.
// It changes nothing, so a caller can reject a kind bootstrap cluster before
// it makes anything else. The error matches ErrNoContainerRuntime (or
// ErrInvalidOption) as Kind's would. Options: ContainerRuntime, WithLogger.
func KindAvailable(ctx context.Context, opts ...Option) (runtime string, err error) {
	o, err := newOptions(fnKind, opts)
	if err != nil {
		return "", err
	}
	_, runtime, _, err = kindList(o.runtime, o.logger(logr.FromContextOrDiscard(ctx)))
	return runtime, err
}

// kindList picks the node provider and lists its kind clusters.
func kindList(want string, log logr.Logger) (*cluster.Provider, string, []string, error) {
	providerOpt, runtime, err := kindProvider(want)
	if err != nil {
		return nil, runtime, nil, err
	}
	p := cluster.NewProvider(providerOpt, cluster.ProviderWithLogger(kindLogger{log}))
	existing, err := p.List()
	if err != nil {
		// The CLI is there but the engine does not answer: say what it said.
		if re := kindexec.RunErrorForError(err); re != nil && len(re.Output) > 0 {
			out := strings.TrimSpace(string(re.Output))
			if len(out) > 512 {
				out = out[len(out)-512:]
			}
			err = fmt.Errorf("%w: %s", err, out)
		}
		return nil, runtime, nil, fmt.Errorf("%w: %s: %w", ErrNoContainerRuntime, runtime, err)
	}
	return p, runtime, existing, nil
}

// kindProvider picks the node provider: the one asked for, else
// KIND_EXPERIMENTAL_PROVIDER, else the first available.
func kindProvider(want string) (cluster.ProviderOption, string, error) {
	if want == "" {
		want = os.Getenv("KIND_EXPERIMENTAL_PROVIDER")
	}
	switch want {
	case "docker", "podman", "nerdctl":
		if _, err := exec.LookPath(want); err != nil {
			return nil, want, fmt.Errorf("%w: %s: %w", ErrNoContainerRuntime, want, err)
		}
		switch want {
		case "docker":
			return cluster.ProviderWithDocker(), want, nil
		case "podman":
			return cluster.ProviderWithPodman(), want, nil
		}
		return cluster.ProviderWithNerdctl(want), want, nil
	case "":
	default:
		return nil, want, fmt.Errorf("%w: unknown container runtime %q", ErrInvalidOption, want)
	}
	opt, err := cluster.DetectNodeProvider()
	if err != nil || opt == nil {
		return nil, "", fmt.Errorf("%w: none of docker, podman, nerdctl found on PATH", ErrNoContainerRuntime)
	}
	for _, r := range []string{"docker", "nerdctl", "podman"} {
		if _, err := exec.LookPath(r); err == nil {
			return opt, r, nil
		}
	}
	return opt, "detected", nil
}

func validateKindConfig(b []byte) error {
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return fmt.Errorf("kind configuration: %w", err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		return fmt.Errorf("kind configuration: want kind Cluster of kind.x-k8s.io/v1alpha4, got %q of %q", c.Kind, c.APIVersion)
	}
	return nil
}

// Name returns the cluster's name.
func (c *KindCluster) Name() string { return c.name }

// RESTConfig returns a new admin client configuration.
func (c *KindCluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.rest) }

// Kubeconfig returns the admin kubeconfig for use from this host.
func (c *KindCluster) Kubeconfig() ([]byte, error) { return append([]byte(nil), c.kubeconfig...), nil }

// String names the cluster without its credentials.
func (c *KindCluster) String() string {
	return fmt.Sprintf("kind cluster %q at %s", c.name, c.rest.Host)
}

// Delete deletes the kind cluster's nodes and its kubeconfig entry.
func (c *KindCluster) Delete(ctx context.Context) error {
	o := options{progress: c.progress}
	done := o.step(PhaseDelete, c.name, "")
	errc := make(chan error, 1)
	go func() { errc <- c.provider.Delete(c.name, c.kubeconfigPath) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		err = fmt.Errorf("delete kind cluster %q: %w", c.name, err)
	}
	done(err)
	return err
}

// kindLogger sends kind's messages to a logr.Logger.
type kindLogger struct{ l logr.Logger }

func (k kindLogger) Warn(msg string)                          { k.l.Info(msg, "level", "warning") }
func (k kindLogger) Warnf(format string, args ...any)         { k.Warn(fmt.Sprintf(format, args...)) }
func (k kindLogger) Error(msg string)                         { k.l.Info(msg, "level", "error") }
func (k kindLogger) Errorf(format string, args ...any)        { k.Error(fmt.Sprintf(format, args...)) }
func (k kindLogger) V(level kindlog.Level) kindlog.InfoLogger { return kindInfo{k.l.V(int(level))} }

type kindInfo struct{ l logr.Logger }

func (k kindInfo) Info(msg string)                  { k.l.Info(msg) }
func (k kindInfo) Infof(format string, args ...any) { k.l.Info(fmt.Sprintf(format, args...)) }
func (k kindInfo) Enabled() bool                    { return k.l.Enabled() }
