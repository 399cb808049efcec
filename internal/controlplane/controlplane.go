package controlplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/openstrap/openstrap/internal/tools"
)

// Admin identity written into the admin kubeconfig, as kubeadm names it.
const (
	AdminUser  = "kubernetes-admin"
	AdminGroup = "system:masters"
)

// ErrExited is returned (wrapped in a *ComponentError) when etcd,
// kube-apiserver or kube-controller-manager exits before it is ready.
var ErrExited = errors.New("process exited")

// ComponentError reports a component (etcd, kube-apiserver or
// kube-controller-manager) that failed to start, with the end of its log.
type ComponentError struct {
	Component string
	LogFile   string
	LogTail   string
	Err       error
}

func (e *ComponentError) Error() string {
	return fmt.Sprintf("%s: %v (log %s):\n%s", e.Component, e.Err, e.LogFile, e.LogTail)
}

func (e *ComponentError) Unwrap() error { return e.Err }

// Config describes one control plane. Only Dir is required.
type Config struct {
	// Dir holds the PKI, etcd data, logs, state and kubeconfig. Starting again
	// with the same Dir resumes on its data.
	Dir string
	// Name names the cluster in the admin kubeconfig; default "kubernetes".
	Name string
	// Address is the IP kube-apiserver binds to and advertises; default
	// 127.0.0.1. Any 127.x.y.z works on Linux without setup.
	Address string
	// Port is kube-apiserver's secure port; 0 reuses the port of the previous
	// start on Dir or picks a free one.
	Port int
	// CACert and CAKey (PEM) are the cluster CA. When empty the CA in Dir is
	// kept, or a new one is generated and saved there.
	CACert, CAKey []byte
	// ServiceAccountKey (PEM private key) signs service-account tokens. When
	// empty the key in Dir is kept, or a new one is generated and saved there.
	ServiceAccountKey []byte
	// SANs are extra DNS names or IPs for the serving certificate.
	SANs []string
	// ServiceCIDR is the service IP range; default 10.96.0.0/12.
	ServiceCIDR string
	// APIServerArgs are extra kube-apiserver flags ("--name=value"), applied
	// after the defaults so they win.
	APIServerArgs []string
	// KubeAPIServerPath and EtcdPath are the binaries; default built by
	// internal/tools.
	KubeAPIServerPath, EtcdPath string
	// ControllerManager, when not nil, also runs a kube-controller-manager
	// against the API server (garbage collector, namespace controller,
	// CSR approver and signer, bootstrap signer, ...). When nil none is
	// started; one already running on Dir from an earlier Start is kept.
	ControllerManager *ControllerManager
}

// DefaultControllers is kube-controller-manager's --controllers as kubeadm
// sets it: every controller enabled by default, plus the bootstrap signer
// (signs kube-public/cluster-info for each bootstrap token) and the token
// cleaner (deletes expired bootstrap tokens).
var DefaultControllers = []string{"*", "bootstrapsigner", "tokencleaner"}

// ControllerManager configures the kube-controller-manager of a control
// plane. It authenticates as system:kube-controller-manager with a client
// certificate from the cluster CA, signs service-account tokens with the
// control plane's service-account key, signs certificate requests with the
// cluster CA, runs each controller with its own service account
// (--use-service-account-credentials) and, being the only one, without
// leader election. It serves /healthz on a free loopback port.
type ControllerManager struct {
	// Controllers is --controllers; default DefaultControllers. A name
	// prefixed with "-" disables that controller ("-nodelifecycle").
	Controllers []string
	// Args are extra flags ("--name=value"), applied after the defaults so
	// they win.
	Args []string
	// Path is the binary; default built by internal/tools.
	Path string
}

// String describes the configuration without its keys.
func (c Config) String() string {
	return fmt.Sprintf("controlplane.Config{Dir: %q, Address: %q, Port: %d, CA given: %t, SA key given: %t, controller manager: %t}",
		c.Dir, c.Address, c.Port, len(c.CAKey) > 0, len(c.ServiceAccountKey) > 0, c.ControllerManager != nil)
}

// GoString is String, so %#v does not print keys either.
func (c Config) GoString() string { return c.String() }

func (c *Config) defaults() error {
	if c.Dir == "" {
		return errors.New("controlplane: Config.Dir is required")
	}
	d, err := filepath.Abs(c.Dir)
	if err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	c.Dir = d
	if c.Name == "" {
		c.Name = "kubernetes"
	}
	if c.Address == "" {
		c.Address = "127.0.0.1"
	}
	if net.ParseIP(c.Address) == nil {
		return fmt.Errorf("controlplane: Address %q is not an IP", c.Address)
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = "10.96.0.0/12"
	}
	return nil
}

// state is what state.json keeps between starts.
type state struct {
	APIServerPort int `json:"apiServerPort"`
	EtcdPort      int `json:"etcdPort"`
	EtcdPeerPort  int `json:"etcdPeerPort"`
	EtcdPID       int `json:"etcdPID,omitempty"`
	APIServerPID  int `json:"apiServerPID,omitempty"`
	// ControllerManagerPort is kube-controller-manager's secure (healthz)
	// port on 127.0.0.1.
	ControllerManagerPort int `json:"controllerManagerPort,omitempty"`
	ControllerManagerPID  int `json:"controllerManagerPID,omitempty"`
	// The settings of the last start, used again by a Start on the same Dir
	// that leaves them empty (a restart that knows only the directory).
	Name        string   `json:"name,omitempty"`
	Address     string   `json:"address,omitempty"`
	SANs        []string `json:"sans,omitempty"`
	ServiceCIDR string   `json:"serviceCIDR,omitempty"`
}

// inherit fills the settings cfg leaves empty from the previous start's and
// records cfg's in st.
func (st *state) inherit(cfg *Config) {
	if cfg.Name == "" {
		cfg.Name = st.Name
	}
	if cfg.Address == "" {
		cfg.Address = st.Address
	}
	if len(cfg.SANs) == 0 {
		cfg.SANs = st.SANs
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = st.ServiceCIDR
	}
}

func (st *state) record(cfg Config) {
	st.Name, st.Address, st.SANs, st.ServiceCIDR = cfg.Name, cfg.Address, cfg.SANs, cfg.ServiceCIDR
}

// Process is a running control plane.
type Process struct {
	dir        string
	endpoint   string
	kubeconfig []byte
	rest       *rest.Config
	procs      []*proc // kube-controller-manager, kube-apiserver, etcd: stopped in this order
	attached   bool
}

// Attached reports whether Start found etcd and kube-apiserver already
// running (started earlier on the same Dir) rather than starting them.
func (p *Process) Attached() bool { return p.attached }

// String names the control plane without its credentials.
func (p *Process) String() string {
	return fmt.Sprintf("controlplane.Process(%s, %s)", p.endpoint, p.dir)
}

// Endpoint returns the API server URL, https://address:port.
func (p *Process) Endpoint() string { return p.endpoint }

// Dir returns the data directory.
func (p *Process) Dir() string { return p.dir }

// AdminKubeconfig returns a kubeconfig for the admin user (CN kubernetes-admin,
// O system:masters). It holds a client key: do not log it.
func (p *Process) AdminKubeconfig() []byte { return bytes.Clone(p.kubeconfig) }

// RESTConfig returns a new admin client configuration.
func (p *Process) RESTConfig() *rest.Config { return rest.CopyConfig(p.rest) }

// Start starts etcd and kube-apiserver on cfg.Dir, and kube-controller-manager
// when cfg.ControllerManager is set, and waits until the API server is ready
// and the controller manager healthy. When they already run on that Dir
// (started by this or another process) it attaches to them instead; a
// controller manager that is wanted but not running is started then. If ctx
// ends before they are ready, the processes it started are killed.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	if cfg.Dir == "" {
		return nil, errors.New("controlplane: Config.Dir is required")
	}
	if d, err := filepath.Abs(cfg.Dir); err == nil {
		cfg.Dir = d
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "logs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("controlplane: %w", err)
		}
	}
	unlock, err := lockDir(ctx, filepath.Join(cfg.Dir, "lock"))
	if err != nil {
		return nil, fmt.Errorf("controlplane: lock %s: %w", cfg.Dir, err)
	}
	defer unlock()
	st, err := readState(cfg.Dir)
	if err != nil {
		return nil, err
	}
	st.inherit(&cfg)
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	st.record(cfg)
	log := logr.FromContextOrDiscard(ctx).WithValues("dir", cfg.Dir)

	pk, err := loadOrCreatePKI(filepath.Join(cfg.Dir, "pki"), cfg.CACert, cfg.CAKey, cfg.ServiceAccountKey)
	if err != nil {
		return nil, fmt.Errorf("controlplane: PKI in %s: %w", cfg.Dir, err)
	}

	// Attach to a running pair started earlier on this Dir.
	etcdProc := findProc("etcd", st.EtcdPID, cfg.Dir)
	apiProc := findProc("kube-apiserver", st.APIServerPID, cfg.Dir)
	kcmProc := findProc(kubeControllerManager, st.ControllerManagerPID, cfg.Dir)
	if etcdProc != nil && apiProc != nil {
		p, err := newProcess(cfg, st, pk, []*proc{apiProc, etcdProc})
		if err != nil {
			return nil, err
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = p.waitReady(actx, apiProc)
		cancel()
		if err == nil {
			p.attached = true
			log.V(1).Info("attached to running control plane", "endpoint", p.endpoint)
			if err := p.ensureControllerManager(ctx, cfg, &st, pk, kcmProc); err != nil {
				return nil, err
			}
			return p, nil
		}
	}
	// A half-running set is stopped and started again.
	for _, pr := range []*proc{kcmProc, apiProc, etcdProc} {
		if pr != nil {
			if err := pr.stop(ctx); err != nil {
				return nil, fmt.Errorf("controlplane: stop stale %s: %w", pr.name, err)
			}
		}
	}

	kubeAPIServer, etcd := cfg.KubeAPIServerPath, cfg.EtcdPath
	if kubeAPIServer == "" {
		if kubeAPIServer, err = tools.Path(ctx, tools.KubeAPIServer); err != nil {
			return nil, fmt.Errorf("controlplane: %w", err)
		}
	}
	if etcd == "" {
		if etcd, err = tools.Path(ctx, tools.Etcd); err != nil {
			return nil, fmt.Errorf("controlplane: %w", err)
		}
	}
	if err := choosePorts(&st, cfg); err != nil {
		return nil, err
	}
	if err := writeState(cfg.Dir, st); err != nil {
		return nil, err
	}
	if err := writeServingCert(pk, cfg); err != nil {
		return nil, fmt.Errorf("controlplane: serving certificate: %w", err)
	}

	start := time.Now()
	log.V(1).Info("starting etcd", "port", st.EtcdPort)
	etcdProc, err = startProc("etcd", etcd, etcdArgs(cfg, st), cfg.Dir)
	if err != nil {
		return nil, err
	}
	st.EtcdPID = etcdProc.pid
	if err := writeState(cfg.Dir, st); err != nil {
		_ = etcdProc.kill()
		return nil, err
	}
	if err := waitEtcd(ctx, etcdProc, st.EtcdPort); err != nil {
		_ = etcdProc.kill()
		return nil, err
	}

	log.V(1).Info("starting kube-apiserver", "address", cfg.Address, "port", st.APIServerPort)
	apiProc, err = startProc("kube-apiserver", kubeAPIServer, apiServerArgs(cfg, st), cfg.Dir)
	if err != nil {
		_ = etcdProc.kill()
		return nil, err
	}
	st.APIServerPID = apiProc.pid
	p, err := newProcess(cfg, st, pk, []*proc{apiProc, etcdProc})
	if err == nil {
		err = writeState(cfg.Dir, st)
	}
	if err == nil {
		err = p.waitReady(ctx, apiProc)
	}
	if err != nil {
		_ = apiProc.kill()
		_ = etcdProc.kill()
		return nil, err
	}
	if err := p.ensureControllerManager(ctx, cfg, &st, pk, nil); err != nil {
		_ = apiProc.kill()
		_ = etcdProc.kill()
		return nil, err
	}
	log.Info("control plane ready", "endpoint", p.endpoint, "controllerManager", cfg.ControllerManager != nil,
		"duration", time.Since(start).Round(time.Millisecond))
	return p, nil
}

// kubeControllerManager is the component (and log file) name.
const kubeControllerManager = "kube-controller-manager"

// ensureControllerManager makes p include a healthy kube-controller-manager
// when cfg wants one: running is the one found from an earlier start (nil
// when none runs), attached to when it answers, else started. When cfg
// wants none, a running one is kept so that Stop stops it.
func (p *Process) ensureControllerManager(ctx context.Context, cfg Config, st *state, pk *pki, running *proc) error {
	log := logr.FromContextOrDiscard(ctx).WithValues("dir", cfg.Dir)
	if running != nil {
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := waitHealthy(hctx, running, st.ControllerManagerPort)
		cancel()
		if err == nil || cfg.ControllerManager == nil {
			p.procs = append([]*proc{running}, p.procs...)
			return nil
		}
		log.Info("restarting unhealthy kube-controller-manager", "reason", err.Error())
		if err := running.stop(ctx); err != nil {
			return fmt.Errorf("controlplane: stop stale %s: %w", running.name, err)
		}
	}
	cm := cfg.ControllerManager
	if cm == nil {
		return nil
	}
	path := cm.Path
	if path == "" {
		var err error
		if path, err = tools.Path(ctx, tools.KubeControllerManager); err != nil {
			return fmt.Errorf("controlplane: %w", err)
		}
	}
	if err := p.writeControllerManagerKubeconfig(cfg, pk); err != nil {
		return err
	}
	if st.ControllerManagerPort == 0 || !portFree("127.0.0.1", st.ControllerManagerPort) {
		port, err := freePort("127.0.0.1")
		if err != nil {
			return fmt.Errorf("controlplane: pick kube-controller-manager port: %w", err)
		}
		st.ControllerManagerPort = port
	}
	start := time.Now()
	log.V(1).Info("starting kube-controller-manager", "port", st.ControllerManagerPort)
	pr, err := startProc(kubeControllerManager, path, controllerManagerArgs(cfg, *st), cfg.Dir)
	if err != nil {
		return err
	}
	st.ControllerManagerPID = pr.pid
	if err := writeState(cfg.Dir, *st); err != nil {
		_ = pr.kill()
		return err
	}
	if err := waitHealthy(ctx, pr, st.ControllerManagerPort); err != nil {
		_ = pr.kill()
		return err
	}
	p.procs = append([]*proc{pr}, p.procs...)
	log.V(1).Info("kube-controller-manager healthy", "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// ControllerManagerUser is the identity kube-controller-manager authenticates
// as; Kubernetes' bootstrap RBAC policy binds its role to this user.
const ControllerManagerUser = "system:kube-controller-manager"

// writeControllerManagerKubeconfig writes controller-manager.kubeconfig
// (0600) with a client certificate for system:kube-controller-manager.
func (p *Process) writeControllerManagerKubeconfig(cfg Config, pk *pki) error {
	crt, key, err := pk.issue(pkix.Name{CommonName: ControllerManagerUser}, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return fmt.Errorf("controlplane: kube-controller-manager certificate: %w", err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[cfg.Name] = &clientcmdapi.Cluster{Server: p.endpoint, CertificateAuthorityData: pk.caCertPEM}
	kc.AuthInfos[ControllerManagerUser] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	kc.Contexts[ControllerManagerUser+"@"+cfg.Name] = &clientcmdapi.Context{Cluster: cfg.Name, AuthInfo: ControllerManagerUser}
	kc.CurrentContext = ControllerManagerUser + "@" + cfg.Name
	b, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("controlplane: kube-controller-manager kubeconfig: %w", err)
	}
	if err := writeIfChanged(filepath.Join(cfg.Dir, "controller-manager.kubeconfig"), b, 0o600); err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	return nil
}

func controllerManagerArgs(cfg Config, st state) []string {
	pki := filepath.Join(cfg.Dir, "pki")
	kubeconfig := filepath.Join(cfg.Dir, "controller-manager.kubeconfig")
	controllers := cfg.ControllerManager.Controllers
	if len(controllers) == 0 {
		controllers = DefaultControllers
	}
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(st.ControllerManagerPort),
		// Its self-signed serving certificate goes here.
		"--cert-dir=" + filepath.Join(cfg.Dir, kubeControllerManager),
		"--client-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--root-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--service-account-private-key-file=" + filepath.Join(pki, "sa.key"),
		"--cluster-signing-cert-file=" + filepath.Join(pki, "ca.crt"),
		"--cluster-signing-key-file=" + filepath.Join(pki, "ca.key"),
		"--cluster-name=" + cfg.Name,
		"--service-cluster-ip-range=" + cfg.ServiceCIDR,
		"--use-service-account-credentials=true",
		"--controllers=" + strings.Join(controllers, ","),
		"--leader-elect=false",
		"--profiling=false",
	}
	return append(args, cfg.ControllerManager.Args...)
}

// waitHealthy polls kube-controller-manager's /healthz until it answers ok,
// the process exits or ctx ends. Its serving certificate is self-signed and
// the path needs no credentials, as for kubeadm's liveness probe.
func waitHealthy(ctx context.Context, pr *proc, port int) error {
	url := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/healthz"
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe of our own child
	}}
	defer hc.CloseIdleConnections()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("healthz: %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return pr.failure(fmt.Errorf("not healthy (%w): %w", last, ctx.Err()))
		case <-pr.exited():
			return pr.failure(ErrExited)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops kube-controller-manager (when it runs), kube-apiserver and then
// etcd: SIGTERM, then SIGKILL when a process is still running after a grace
// period or when ctx ends. The data is kept; Start on the same Dir resumes it.
func (p *Process) Stop(ctx context.Context) error {
	var errs []error
	for _, pr := range p.procs {
		if err := pr.stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", pr.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	// Forget the process IDs, unless the directory is gone already.
	if _, err := os.Stat(filepath.Join(p.dir, "state.json")); err == nil {
		st, err := readState(p.dir)
		if err != nil {
			return err
		}
		st.APIServerPID, st.EtcdPID, st.ControllerManagerPID = 0, 0, 0
		return writeState(p.dir, st)
	}
	return nil
}

// newProcess builds the admin credentials and kubeconfig of a control plane.
func newProcess(cfg Config, st state, pk *pki, procs []*proc) (*Process, error) {
	endpoint := "https://" + net.JoinHostPort(cfg.Address, strconv.Itoa(st.APIServerPort))
	crt, key, err := pk.issue(pkix.Name{CommonName: AdminUser, Organization: []string{AdminGroup}}, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("controlplane: admin certificate: %w", err)
	}
	kc := clientcmdapi.NewConfig()
	ctxName := AdminUser + "@" + cfg.Name
	kc.Clusters[cfg.Name] = &clientcmdapi.Cluster{Server: endpoint, CertificateAuthorityData: pk.caCertPEM}
	kc.AuthInfos[AdminUser] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	kc.Contexts[ctxName] = &clientcmdapi.Context{Cluster: cfg.Name, AuthInfo: AdminUser}
	kc.CurrentContext = ctxName
	b, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("controlplane: admin kubeconfig: %w", err)
	}
	if err := writeIfChanged(filepath.Join(cfg.Dir, "admin.kubeconfig"), b, 0o600); err != nil {
		return nil, fmt.Errorf("controlplane: %w", err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("controlplane: admin kubeconfig: %w", err)
	}
	return &Process{dir: cfg.Dir, endpoint: endpoint, kubeconfig: b, rest: rc, procs: procs}, nil
}

// waitReady polls /readyz until it answers ok, the process exits or ctx ends.
func (p *Process) waitReady(ctx context.Context, api *proc) error {
	rc := rest.CopyConfig(p.rest)
	rc.Timeout = 5 * time.Second
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return fmt.Errorf("controlplane: client: %w", err)
	}
	defer hc.CloseIdleConnections()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.endpoint+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz: %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return api.failure(fmt.Errorf("not ready (%w): %w", last, ctx.Err()))
		case <-api.exited():
			return api.failure(ErrExited)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func waitEtcd(ctx context.Context, pr *proc, port int) error {
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/health"
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			var h struct{ Health string }
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if err == nil && h.Health == "true" {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("health %q", h.Health)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return pr.failure(fmt.Errorf("not healthy (%w): %w", last, ctx.Err()))
		case <-pr.exited():
			return pr.failure(ErrExited)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func etcdArgs(cfg Config, st state) []string {
	client := "http://127.0.0.1:" + strconv.Itoa(st.EtcdPort)
	peer := "http://127.0.0.1:" + strconv.Itoa(st.EtcdPeerPort)
	return []string{
		"--name=default",
		"--data-dir=" + filepath.Join(cfg.Dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=default=" + peer,
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
}

func apiServerArgs(cfg Config, st state) []string {
	pki := filepath.Join(cfg.Dir, "pki")
	args := []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(st.EtcdPort),
		"--bind-address=" + cfg.Address,
		"--advertise-address=" + cfg.Address,
		// A loopback advertise address is refused unless the endpoint
		// reconciler is off; without kube-controller-manager nothing needs it.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(st.APIServerPort),
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(pki, "sa.key"),
		"--service-cluster-ip-range=" + cfg.ServiceCIDR,
		"--authorization-mode=Node,RBAC",
		"--enable-bootstrap-token-auth=true",
		"--allow-privileged=true",
		"--cert-dir=" + pki,
		"--profiling=false",
	}
	return append(args, cfg.APIServerArgs...)
}

// writeServingCert issues kube-apiserver's serving certificate for the
// address, the in-cluster names, the first service IP and cfg.SANs.
func writeServingCert(pk *pki, cfg Config) error {
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	ips := []net.IP{net.ParseIP(cfg.Address), net.ParseIP("127.0.0.1")}
	if _, n, err := net.ParseCIDR(cfg.ServiceCIDR); err == nil {
		first := append(net.IP(nil), n.IP...)
		first[len(first)-1]++
		ips = append(ips, first)
	}
	for _, s := range cfg.SANs {
		if ip := net.ParseIP(s); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, s)
		}
	}
	crt, key, err := pk.issue(pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth, dns, ips)
	if err != nil {
		return err
	}
	dir := filepath.Join(cfg.Dir, "pki")
	if err := writeIfChanged(filepath.Join(dir, "apiserver.key"), key, 0o600); err != nil {
		return err
	}
	return writeIfChanged(filepath.Join(dir, "apiserver.crt"), crt, 0o644)
}

// choosePorts keeps the ports of the previous start where they are still free
// and picks free ones otherwise. An explicit cfg.Port always wins.
func choosePorts(st *state, cfg Config) error {
	var err error
	pick := func(addr string, old int) int {
		if err != nil {
			return 0
		}
		if old != 0 && portFree(addr, old) {
			return old
		}
		var p int
		p, err = freePort(addr)
		return p
	}
	if cfg.Port != 0 {
		st.APIServerPort = cfg.Port
	} else {
		st.APIServerPort = pick(cfg.Address, st.APIServerPort)
	}
	st.EtcdPort = pick("127.0.0.1", st.EtcdPort)
	st.EtcdPeerPort = pick("127.0.0.1", st.EtcdPeerPort)
	if st.EtcdPort == st.EtcdPeerPort && err == nil {
		st.EtcdPeerPort = pick("127.0.0.1", 0)
	}
	if err != nil {
		return fmt.Errorf("controlplane: pick ports: %w", err)
	}
	return nil
}

func portFree(addr string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func freePort(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func readState(dir string) (state, error) {
	var st state
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return st, fmt.Errorf("controlplane: read state in %s: %w", dir, err)
	}
	return st, nil
}

func writeState(dir string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = writeIfChanged(filepath.Join(dir, "state.json"), append(b, '\n'), 0o644)
	}
	if err != nil {
		return fmt.Errorf("controlplane: write state in %s: %w", dir, err)
	}
	return nil
}

// lockDir takes an exclusive flock on path, polling so that ctx can end the wait.
func lockDir(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// logTail returns the last n bytes of a log file.
func logTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(fi.Size()-n, 0)
	}
	b := make([]byte, n)
	k, _ := f.Read(b)
	return strings.TrimSpace(string(b[:k]))
}

// runningCommand reports whether pid is a live (not zombie) process whose
// command line mentions dir, so a reused PID is not mistaken for ours.
func runningCommand(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(cmdline, []byte(dir+string(filepath.Separator)))
}

// proc is one etcd or kube-apiserver process, started here (cmd set) or found
// running from an earlier start.
type proc struct {
	name    string
	pid     int
	dir     string
	logFile string
	cmd     *exec.Cmd
	done    chan struct{} // closed when a started process exits
}

func startProc(name, path string, args []string, dir string) (*proc, error) {
	logFile := filepath.Join(dir, "logs", name+".log")
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("controlplane: %s log: %w", name, err)
	}
	defer f.Close()
	fmt.Fprintf(f, "\n=== openstrap controlplane: starting %s at %s\n", name, time.Now().UTC().Format(time.RFC3339))
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group: a terminal's Ctrl-C to the caller does not stop the
	// control plane, which outlives the caller until Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("controlplane: start %s: %w", name, err)
	}
	p := &proc{name: name, pid: cmd.Process.Pid, dir: dir, logFile: logFile, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func findProc(name string, pid int, dir string) *proc {
	if !runningCommand(pid, dir) {
		return nil
	}
	return &proc{name: name, pid: pid, dir: dir, logFile: filepath.Join(dir, "logs", name+".log")}
}

// exited returns a channel closed when a started process has exited; for a
// found process it is never closed.
func (p *proc) exited() <-chan struct{} {
	if p.done == nil {
		return nil
	}
	return p.done
}

func (p *proc) alive() bool {
	if p.done != nil {
		select {
		case <-p.done:
			return false
		default:
			return true
		}
	}
	return runningCommand(p.pid, p.dir)
}

func (p *proc) failure(err error) error {
	return &ComponentError{Component: p.name, LogFile: p.logFile, LogTail: logTail(p.logFile, 2048), Err: err}
}

func (p *proc) kill() error {
	if !p.alive() {
		return nil
	}
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if p.done != nil {
		<-p.done
		return nil
	}
	for i := 0; i < 100 && p.alive(); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if p.alive() {
		return fmt.Errorf("process %d still running after SIGKILL", p.pid)
	}
	return nil
}

// stopGrace is how long a process gets after SIGTERM before SIGKILL.
const stopGrace = 15 * time.Second

func (p *proc) stop(ctx context.Context) error {
	if !p.alive() {
		return nil
	}
	if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	deadline := time.After(stopGrace)
	for p.alive() {
		select {
		case <-ctx.Done():
			return p.kill()
		case <-deadline:
			return p.kill()
		case <-p.exited():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
