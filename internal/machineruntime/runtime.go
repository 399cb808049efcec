package machineruntime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/openstrap/openstrap/internal/controlplane"
	"github.com/openstrap/openstrap/internal/retry"
	"github.com/openstrap/openstrap/provider/openstacktest"
	"github.com/openstrap/openstrap/userdata"
	"github.com/openstrap/openstrap/userdata/kubeadm"
)

// nodeRestriction makes kube-apiserver hold nodes to their own objects, as a
// kubeadm control plane does; joins are checked against it.
const nodeRestriction = "--enable-admission-plugins=NodeRestriction"

// Controllers is what the workload control planes' kube-controller-manager
// runs: kubeadm's set (every default controller, the bootstrap signer and
// the token cleaner) without the node lifecycle controller, since no
// kubelet posts heartbeats on these machines.
var Controllers = []string{"*", "bootstrapsigner", "tokencleaner", "-nodelifecycle"}

// controlPlaneConfig completes cfg with what every workload control plane of
// the runtime runs.
func controlPlaneConfig(cfg controlplane.Config) controlplane.Config {
	cfg.APIServerArgs = append(cfg.APIServerArgs, nodeRestriction)
	cfg.ControllerManager = &controlplane.ControllerManager{Controllers: Controllers}
	return cfg
}

// ProviderID is the Node spec.providerID of an OpenStack server, as the
// OpenStack cloud provider and Cluster API's OpenStack provider spell it.
func ProviderID(serverID string) string { return "openstack:///" + serverID }

// kubeletDirName is the directory, under the runtime's, of the joined
// servers' kubelet credentials.
const kubeletDirName = "kubelet"

// Runtime boots simulated servers. Its methods are safe for concurrent use.
type Runtime struct {
	dir string
	log logr.Logger
	// discovery is how long a join waits for its control plane and for
	// cluster-info to be signed for its token.
	discovery time.Duration

	mu       sync.Mutex
	console  func(serverID string, lines ...string)
	clusters map[string]*cluster // by API endpoint host:port
	servers  map[string]string   // control-plane server ID -> endpoint
	results  map[string]error    // server name -> outcome of its boot (nil: booted)
}

// cluster is one running control plane.
type cluster struct {
	proc *controlplane.Process
	cs   kubernetes.Interface
}

// New returns a Runtime that keeps each control plane's data under dir
// (dir/<server ID>) and the joined servers' kubelet credentials under
// dir/kubelet/<server ID>.
func New(dir string, log logr.Logger) *Runtime {
	return &Runtime{dir: dir, log: log, discovery: 2 * time.Minute, clusters: map[string]*cluster{},
		servers: map[string]string{}, results: map[string]error{}}
}

// KubeletDir returns the directory holding the kubelet credentials of the
// joined server serverID (KubeletConf, written once the node registered).
func (r *Runtime) KubeletDir(serverID string) string {
	return filepath.Join(r.dir, kubeletDirName, serverID)
}

// SetConsole makes the runtime write what each boot did to the server's
// console log, as cloud-init does on a real machine; pass the simulator's
// AppendConsole.
func (r *Runtime) SetConsole(fn func(serverID string, lines ...string)) {
	r.mu.Lock()
	r.console = fn
	r.mu.Unlock()
}

// discoveryTimeout is how long a join waits for its control plane to come
// up and for cluster-info to be signed for its token, as kubeadm's
// discovery timeout does (5 minutes by default; shorter here, since the
// runtime's control planes start in seconds).
func (r *Runtime) discoveryTimeout() time.Duration { return r.discovery }

// Hooks returns the simulator hooks that boot and stop servers.
func (r *Runtime) Hooks() openstacktest.ServerHooks {
	return openstacktest.ServerHooks{OnActive: r.Boot, OnDelete: r.Shutdown}
}

// Result reports how the boot of the server named name went: done is false
// while it has not finished (or never started); err is why it failed.
func (r *Runtime) Result(name string) (done bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err, done = r.results[name]
	return done, err
}

// Boot does what the server's user data would do on a real machine: kubeadm
// init starts a control plane on the endpoint's address, kubeadm join
// registers a node with the cluster at the discovery endpoint.
func (r *Runtime) Boot(ctx context.Context, ev openstacktest.BootEvent) error {
	err := r.boot(ctx, ev)
	r.mu.Lock()
	r.results[ev.Name] = err
	console := r.console
	r.mu.Unlock()
	line := "openstrap machine runtime: " + ev.Name + " booted"
	if err != nil {
		r.log.Error(err, "boot failed", "server", ev.Name)
		line = "openstrap machine runtime: " + ev.Name + " failed to boot: " + err.Error()
	} else {
		r.log.Info("booted", "server", ev.Name)
	}
	if console != nil {
		console(ev.ServerID, line)
	}
	return err
}

// toConsole appends line to the server's console log, if there is one.
func (r *Runtime) toConsole(serverID, line string) {
	r.mu.Lock()
	console := r.console
	r.mu.Unlock()
	if console != nil {
		console(serverID, line)
	}
}

func (r *Runtime) boot(ctx context.Context, ev openstacktest.BootEvent) error {
	if len(ev.UserData) == 0 {
		return fmt.Errorf("server %s has no user data: nothing to boot", ev.Name)
	}
	p, err := userdata.Parse(ev.UserData, userdata.WithNodeName(ev.Name))
	if err != nil {
		return fmt.Errorf("server %s: %w", ev.Name, err)
	}
	switch p.Role {
	case userdata.RoleInit:
		return r.init(ctx, ev, p)
	case userdata.RoleControlPlane, userdata.RoleWorker:
		return r.join(ctx, ev, p)
	}
	return fmt.Errorf("server %s: user data has unknown role %q", ev.Name, p.Role)
}

func (r *Runtime) init(ctx context.Context, ev openstacktest.BootEvent, p *userdata.Parsed) error {
	docs := p.Kubeadm
	if docs.Init == nil || docs.Cluster == nil {
		return fmt.Errorf("server %s: init user data lacks InitConfiguration or ClusterConfiguration", ev.Name)
	}
	endpoint := docs.Cluster.ControlPlaneEndpoint
	host, portStr, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("server %s: controlPlaneEndpoint %q: %w", ev.Name, endpoint, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("server %s: controlPlaneEndpoint %q: bad port", ev.Name, endpoint)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("server %s: controlPlaneEndpoint %q is not a loopback address the runtime can listen on", ev.Name, endpoint)
	}
	file := func(name string) ([]byte, error) {
		f, ok := p.Files["/etc/kubernetes/pki/"+name]
		if !ok {
			return nil, fmt.Errorf("server %s: user data does not write /etc/kubernetes/pki/%s", ev.Name, name)
		}
		return f.Content, nil
	}
	caCert, err := file("ca.crt")
	if err != nil {
		return err
	}
	caKey, err := file("ca.key")
	if err != nil {
		return err
	}
	saKey, err := file("sa.key")
	if err != nil {
		return err
	}
	cl, err := r.startCluster(ctx, ev.ServerID, endpoint, controlplane.Config{
		Dir: filepath.Join(r.dir, ev.ServerID), Name: docs.Cluster.ClusterName, Address: host, Port: port,
		CACert: caCert, CAKey: caKey, ServiceAccountKey: saKey,
		SANs: append(append([]string(nil), docs.Cluster.APIServer.CertSANs...), ev.FloatingIPs...), ServiceCIDR: docs.Cluster.Networking.ServiceSubnet,
	})
	if err != nil {
		return fmt.Errorf("server %s: %w", ev.Name, err)
	}
	var tokens []BootstrapToken
	now := time.Now()
	for _, t := range docs.Init.BootstrapTokens {
		id, secret, ok := strings.Cut(t.Token, ".")
		if !ok {
			return fmt.Errorf("server %s: a bootstrap token is not of the form <id>.<secret>", ev.Name)
		}
		bt := BootstrapToken{ID: id, Secret: secret, Usages: t.Usages, Groups: t.Groups}
		switch {
		case t.Expires != nil:
			bt.Expires = t.Expires.Time
		case t.TTL != nil && t.TTL.Duration > 0:
			bt.Expires = now.Add(t.TTL.Duration)
		case t.TTL == nil:
			bt.Expires = now.Add(24 * time.Hour) // kubeadm's default TTL
		}
		tokens = append(tokens, bt)
	}
	clusterYAML, err := kubeadm.Marshal(kubeadm.Documents{APIVersion: docs.APIVersion, Cluster: docs.Cluster})
	if err != nil {
		return fmt.Errorf("server %s: %w", ev.Name, err)
	}
	if err := initObjects(ctx, cl.cs, "https://"+endpoint, caCert, tokens, clusterYAML); err != nil {
		return fmt.Errorf("server %s: kubeadm init phases: %w", ev.Name, err)
	}
	return registerSelf(ctx, cl.cs, nodeName(ev, docs.Init.NodeRegistration), docs.Init.NodeRegistration, ev)
}

// startCluster starts (or finds running) the control plane of endpoint,
// with a kube-controller-manager beside kube-apiserver and etcd.

func (r *Runtime) startCluster(ctx context.Context, serverID, endpoint string, cfg controlplane.Config) (*cluster, error) {
	r.mu.Lock()
	if cl, ok := r.clusters[endpoint]; ok {
		r.servers[serverID] = endpoint
		r.mu.Unlock()
		return cl, nil
	}
	r.mu.Unlock()
	proc, err := controlplane.Start(ctx, controlPlaneConfig(cfg))
	if err != nil {
		return nil, err
	}
	cl, err := newCluster(proc)
	if err != nil {
		_ = proc.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clusters[endpoint] = cl
	r.servers[serverID] = endpoint
	return cl, nil
}

func newCluster(proc *controlplane.Process) (*cluster, error) {
	cs, err := kubernetes.NewForConfig(proc.RESTConfig())
	if err != nil {
		return nil, err
	}
	return &cluster{proc: proc, cs: cs}, nil
}

func (r *Runtime) join(ctx context.Context, ev openstacktest.BootEvent, p *userdata.Parsed) error {
	j := p.Kubeadm.Join
	if j == nil || j.Discovery.BootstrapToken == nil {
		return fmt.Errorf("server %s: join user data lacks a JoinConfiguration with token discovery", ev.Name)
	}
	d := j.Discovery.BootstrapToken
	// kubeadm join keeps retrying discovery; the control plane may still be
	// starting.
	var cl *cluster
	_ = retry.Until(ctx, retry.Policy{Initial: 200 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: r.discoveryTimeout()},
		func(context.Context) (bool, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			cl = r.clusters[d.APIServerEndpoint]
			return cl != nil, nil
		})
	if cl == nil {
		return &JoinError{Node: ev.Name, Step: "discovery", Err: fmt.Errorf("no API server answers at %s", d.APIServerEndpoint)}
	}
	token := d.Token
	if j.Discovery.TLSBootstrapToken != "" {
		token = j.Discovery.TLSBootstrapToken
	}
	name := nodeName(ev, j.NodeRegistration)
	err := join(ctx, joinRequest{
		Endpoint: d.APIServerEndpoint, Token: token, CAHashes: d.CACertHashes,
		UnsafeSkipCAVerification: d.UnsafeSkipCAVerification, DiscoveryTimeout: r.discoveryTimeout(),
		NodeName: name, ProviderID: ProviderID(ev.ServerID), Labels: nodeLabels(j.NodeRegistration), Taints: j.NodeRegistration.Taints,
		Addresses: internalAddresses(ev), KubeletDir: r.KubeletDir(ev.ServerID),
		Progress: func(line string) { r.toConsole(ev.ServerID, line) },
	})
	if err != nil || j.ControlPlane == nil {
		return err
	}
	return markControlPlane(ctx, cl.cs, name, j.NodeRegistration.Taints)
}

// markControlPlane labels and taints a joined control-plane node with admin
// credentials, as kubeadm's mark-control-plane phase does: NodeRestriction
// forbids a node to set its own role label.
func markControlPlane(ctx context.Context, cs kubernetes.Interface, name string, taints []corev1.Taint) error {
	if taints == nil {
		taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	}
	return retry.Do(ctx, retry.Policy{MaxElapsed: time.Minute, Retryable: conflictOrTransient}, func(ctx context.Context) error {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Labels["node-role.kubernetes.io/control-plane"] = ""
		node.Spec.Taints = taints
		_, err = cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

// registerSelf registers the init node with its server's provider ID, as its
// kubelet would (with admin credentials: the init node's kubelet
// certificate is not modelled).
func registerSelf(ctx context.Context, cs kubernetes.Interface, name string, reg kubeadm.NodeRegistrationOptions, ev openstacktest.BootEvent) error {
	labels := nodeLabels(reg)
	labels["node-role.kubernetes.io/control-plane"] = ""
	labels[corev1.LabelHostname] = name
	taints := reg.Taints
	if taints == nil {
		taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.NodeSpec{Taints: taints, ProviderID: ProviderID(ev.ServerID)}}
	_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("register node %s: %w", name, err)
	}
	return setNodeStatus(ctx, cs, name, internalAddresses(ev))
}

func nodeName(ev openstacktest.BootEvent, reg kubeadm.NodeRegistrationOptions) string {
	if reg.Name != "" && !strings.Contains(reg.Name, "{{") && reg.Name != userdata.NodeNamePlaceholder {
		return reg.Name
	}
	return ev.Name
}

// nodeLabels reads --node-labels from the kubelet's extra arguments.
func nodeLabels(reg kubeadm.NodeRegistrationOptions) map[string]string {
	labels := map[string]string{}
	for _, a := range reg.KubeletExtraArgs {
		if a.Name != "node-labels" {
			continue
		}
		for _, kv := range strings.Split(a.Value, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if k != "" {
				labels[k] = v
			}
		}
	}
	return labels
}

func internalAddresses(ev openstacktest.BootEvent) []corev1.NodeAddress {
	var out []corev1.NodeAddress
	for _, ips := range ev.Addresses {
		for _, ip := range ips {
			out = append(out, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
		}
	}
	return out
}

// Shutdown stops the control plane a deleted server ran, keeping nothing.
func (r *Runtime) Shutdown(ctx context.Context, ev openstacktest.BootEvent) {
	r.mu.Lock()
	endpoint, ok := r.servers[ev.ServerID]
	delete(r.servers, ev.ServerID)
	delete(r.results, ev.Name)
	var cl *cluster
	if ok {
		cl = r.clusters[endpoint]
		delete(r.clusters, endpoint)
	}
	r.mu.Unlock()
	if err := os.RemoveAll(r.KubeletDir(ev.ServerID)); err != nil {
		r.log.Error(err, "remove kubelet data", "server", ev.Name)
	}
	if cl == nil {
		return
	}
	if err := cl.proc.Stop(context.WithoutCancel(ctx)); err != nil {
		r.log.Error(err, "stop control plane", "server", ev.Name)
	}
	if err := os.RemoveAll(cl.proc.Dir()); err != nil {
		r.log.Error(err, "remove control plane data", "server", ev.Name)
	}
}

// Resume starts again the control planes whose data is under the runtime's
// directory, after the process that ran them restarted.
func (r *Runtime) Resume(ctx context.Context) error {
	entries, err := os.ReadDir(r.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || e.Name() == kubeletDirName {
			continue
		}
		dir := filepath.Join(r.dir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
			continue // not a control plane that ever started
		}
		proc, err := controlplane.Start(ctx, controlPlaneConfig(controlplane.Config{Dir: dir}))
		if err != nil {
			errs = append(errs, fmt.Errorf("resume %s: %w", e.Name(), err))
			continue
		}
		cl, err := newCluster(proc)
		if err != nil {
			errs = append(errs, fmt.Errorf("resume %s: %w", e.Name(), err))
			continue
		}
		endpoint := strings.TrimPrefix(proc.Endpoint(), "https://")
		r.mu.Lock()
		r.clusters[endpoint] = cl
		r.servers[e.Name()] = endpoint
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Close stops every control plane, keeping their data for Resume.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	cls := r.clusters
	r.clusters = map[string]*cluster{}
	r.mu.Unlock()
	var errs []error
	for _, cl := range cls {
		errs = append(errs, cl.proc.Stop(ctx))
	}
	return errors.Join(errs...)
}
