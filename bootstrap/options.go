package bootstrap

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// ErrInvalidOption is returned when an option has a bad value or is passed to
// a function it does not apply to.
var ErrInvalidOption = errors.New("invalid option")

// Option configures Local, Kind, Existing or Install. Each option documents
// the functions it applies to; passing it to another is an ErrInvalidOption.
type Option interface {
	apply(*options) error
}

// Names of the functions options apply to.
const (
	fnLocal    = "Local"
	fnKind     = "Kind"
	fnExisting = "Existing"
	fnInstall  = "Install"
)

type options struct {
	fn       string
	log      logr.Logger
	hasLog   bool
	progress func(Event)

	// Local
	dir      string
	keepData bool
	address  string
	port     int
	caCert   []byte
	caKey    []byte
	noKCM    bool
	kcmCtrls []string

	// Existing
	kubeContext string
	name        string

	// Kind
	nodeImage      string
	kindConfig     []byte
	kindConfigFile string
	waitForReady   time.Duration
	retain         bool
	runtime        string
	kubeconfigPath string

	// Install
	fieldManager     string
	vars             map[string]string
	varsFromEnv      bool
	waitDeployments  bool
	defaultNamespace string
	noForce          bool
}

type option struct {
	name string
	only []string // functions it applies to; all when empty
	f    func(*options) error
}

func (o option) apply(x *options) error {
	if len(o.only) > 0 && !slices.Contains(o.only, x.fn) {
		return fmt.Errorf("%w: %s applies to %s, not %s", ErrInvalidOption, o.name, strings.Join(o.only, ", "), x.fn)
	}
	if err := o.f(x); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidOption, o.name, err)
	}
	return nil
}

func newOptions(fn string, opts []Option) (*options, error) {
	o := &options{fn: fn}
	var errs []error
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		errs = append(errs, opt.apply(o))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// logger returns the option's logger, else the context's.
func (o *options) logger(fromCtx logr.Logger) logr.Logger {
	if o.hasLog {
		return o.log
	}
	return fromCtx
}

func (o *options) emit(e Event) {
	if o.progress != nil {
		o.progress(e)
	}
}

// WithLogger logs to l instead of the logger in the context. All functions.
func WithLogger(l logr.Logger) Option {
	return option{name: "WithLogger", f: func(o *options) error { o.log, o.hasLog = l, true; return nil }}
}

// WithProgress calls fn with an Event at each step. fn runs on the caller's
// goroutine and should return quickly. All functions.
func WithProgress(fn func(Event)) Option {
	return option{name: "WithProgress", f: func(o *options) error { o.progress = fn; return nil }}
}

// Dir sets the data directory of a Local cluster; default
// os.UserCacheDir()/openstrap/clusters/<name>. Local only.
func Dir(dir string) Option {
	return option{name: "Dir", only: []string{fnLocal}, f: func(o *options) error {
		if dir == "" {
			return errors.New("empty directory")
		}
		o.dir = dir
		return nil
	}}
}

// KeepData makes Delete of a Local cluster stop it but keep its data, so that
// Local with the same name (and Dir) starts it again on that data. Local only.
func KeepData() Option {
	return option{name: "KeepData", only: []string{fnLocal}, f: func(o *options) error { o.keepData = true; return nil }}
}

// Address sets the IP a Local cluster's API server binds to; default
// 127.0.0.1. Any 127.x.y.z works on Linux, so several Local clusters can
// use the same port on different addresses. Local only.
func Address(ip string) Option {
	return option{name: "Address", only: []string{fnLocal}, f: func(o *options) error {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("%q is not an IP address", ip)
		}
		o.address = ip
		return nil
	}}
}

// Port sets a Local cluster's API server port; default a free port, kept
// across restarts. Local only.
func Port(port int) Option {
	return option{name: "Port", only: []string{fnLocal}, f: func(o *options) error {
		if port <= 0 || port > 65535 {
			return fmt.Errorf("port %d out of range", port)
		}
		o.port = port
		return nil
	}}
}

// CA gives a Local cluster its CA certificate and key (PEM); by default one is
// generated and kept in the data directory. Local only.
func CA(certPEM, keyPEM []byte) Option {
	return option{name: "CA", only: []string{fnLocal}, f: func(o *options) error {
		if len(certPEM) == 0 || len(keyPEM) == 0 {
			return errors.New("certificate and key are both required")
		}
		o.caCert, o.caKey = certPEM, keyPEM
		return nil
	}}
}

// NoControllerManager makes a Local cluster run without
// kube-controller-manager: nothing then collects garbage (objects whose
// owners are gone stay), finishes deleting namespaces or signs certificates.
// Cluster API's deletion relies on the garbage collector; use this only for a
// cluster that holds plain objects. A kube-controller-manager already running
// on the data directory is kept. Local only.
func NoControllerManager() Option {
	return option{name: "NoControllerManager", only: []string{fnLocal}, f: func(o *options) error { o.noKCM = true; return nil }}
}

// Controllers sets a Local cluster's kube-controller-manager --controllers;
// default "*,bootstrapsigner,tokencleaner" as kubeadm sets it. "*" enables
// the controllers on by default, a name enables one, "-name" disables one.
// It applies when the controller manager starts, not to one already running.
// Local only.
func Controllers(names ...string) Option {
	return option{name: "Controllers", only: []string{fnLocal}, f: func(o *options) error {
		if len(names) == 0 {
			return errors.New("no controller names")
		}
		for _, n := range names {
			if n == "" || strings.ContainsAny(n, ", \t\n") {
				return fmt.Errorf("bad controller name %q", n)
			}
		}
		o.kcmCtrls = slices.Clone(names)
		return nil
	}}
}

// KubeContext selects the kubeconfig context; default the current context.
// Existing only.
func KubeContext(name string) Option {
	return option{name: "KubeContext", only: []string{fnExisting}, f: func(o *options) error {
		if name == "" {
			return errors.New("empty context name")
		}
		o.kubeContext = name
		return nil
	}}
}

// Name names an Existing cluster; default the kubeconfig cluster name of the
// selected context. Existing only.
func Name(name string) Option {
	return option{name: "Name", only: []string{fnExisting}, f: func(o *options) error {
		if name == "" {
			return errors.New("empty name")
		}
		o.name = name
		return nil
	}}
}

// NodeImage sets the kind node image, e.g. kindest/node:v1.35.0. Kind only.
func NodeImage(image string) Option {
	return option{name: "NodeImage", only: []string{fnKind}, f: func(o *options) error {
		if image == "" {
			return errors.New("empty image")
		}
		o.nodeImage = image
		return nil
	}}
}

// KindConfig sets the kind cluster configuration (kind.x-k8s.io/v1alpha4
// Cluster YAML). Kind only.
func KindConfig(yaml []byte) Option {
	return option{name: "KindConfig", only: []string{fnKind}, f: func(o *options) error {
		if err := validateKindConfig(yaml); err != nil {
			return err
		}
		o.kindConfig = yaml
		return nil
	}}
}

// KindConfigFile reads the kind cluster configuration from a file. Kind only.
func KindConfigFile(path string) Option {
	return option{name: "KindConfigFile", only: []string{fnKind}, f: func(o *options) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := validateKindConfig(b); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		o.kindConfig = b
		return nil
	}}
}

// WaitForReady makes Kind wait up to d for the control plane to be Ready.
// Kind only.
func WaitForReady(d time.Duration) Option {
	return option{name: "WaitForReady", only: []string{fnKind}, f: func(o *options) error {
		if d < 0 {
			return fmt.Errorf("negative duration %v", d)
		}
		o.waitForReady = d
		return nil
	}}
}

// Retain keeps the kind nodes when creation fails, for debugging. Kind only.
func Retain() Option {
	return option{name: "Retain", only: []string{fnKind}, f: func(o *options) error { o.retain = true; return nil }}
}

// ContainerRuntime selects kind's node provider: "docker", "podman" or
// "nerdctl"; default the first one available (or KIND_EXPERIMENTAL_PROVIDER).
// Kind only.
func ContainerRuntime(name string) Option {
	return option{name: "ContainerRuntime", only: []string{fnKind}, f: func(o *options) error {
		switch name {
		case "docker", "podman", "nerdctl":
			o.runtime = name
			return nil
		}
		return fmt.Errorf("unknown container runtime %q (want docker, podman or nerdctl)", name)
	}}
}

// KindKubeconfigPath sets the file kind writes the cluster's kubeconfig to;
// default a file in os.UserCacheDir()/openstrap/kind, so the user's
// ~/.kube/config is left alone. Kind only.
func KindKubeconfigPath(path string) Option {
	return option{name: "KindKubeconfigPath", only: []string{fnKind}, f: func(o *options) error {
		if path == "" {
			return errors.New("empty path")
		}
		o.kubeconfigPath = path
		return nil
	}}
}

// FieldManager sets the server-side apply field manager; default
// DefaultFieldManager. Install only.
func FieldManager(name string) Option {
	return option{name: "FieldManager", only: []string{fnInstall}, f: func(o *options) error {
		if name == "" {
			return errors.New("empty field manager")
		}
		o.fieldManager = name
		return nil
	}}
}

// Variables supplies values for ${VAR} references in the manifests; several
// Variables options merge, later ones winning. Install only.
func Variables(vars map[string]string) Option {
	return option{name: "Variables", only: []string{fnInstall}, f: func(o *options) error {
		if o.vars == nil {
			o.vars = map[string]string{}
		}
		for k, v := range vars {
			if !validVarName(k) {
				return fmt.Errorf("bad variable name %q", k)
			}
			o.vars[k] = v
		}
		return nil
	}}
}

// VariablesFromEnv also looks variables up in the process environment, after
// those given with Variables, as clusterctl does. Install only.
func VariablesFromEnv() Option {
	return option{name: "VariablesFromEnv", only: []string{fnInstall}, f: func(o *options) error { o.varsFromEnv = true; return nil }}
}

// WaitForDeployments makes Install wait until every Deployment it applied is
// Available. Install only.
func WaitForDeployments() Option {
	return option{name: "WaitForDeployments", only: []string{fnInstall}, f: func(o *options) error { o.waitDeployments = true; return nil }}
}

// DefaultNamespace is the namespace of namespaced objects that name none;
// default "default". Install only.
func DefaultNamespace(ns string) Option {
	return option{name: "DefaultNamespace", only: []string{fnInstall}, f: func(o *options) error {
		if ns == "" {
			return errors.New("empty namespace")
		}
		o.defaultNamespace = ns
		return nil
	}}
}

// NoForceConflicts makes Install fail on fields owned by another field
// manager instead of taking them over (the default, like
// kubectl apply --server-side --force-conflicts). Install only.
func NoForceConflicts() Option {
	return option{name: "NoForceConflicts", only: []string{fnInstall}, f: func(o *options) error { o.noForce = true; return nil }}
}
