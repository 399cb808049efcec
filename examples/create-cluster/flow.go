package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openstrap/openstrap/bootstrap"
	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/atomicfile"
	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/internal/retry"
	"github.com/openstrap/openstrap/internal/simhost"
	"github.com/openstrap/openstrap/internal/tools"
	"github.com/openstrap/openstrap/pivot"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/userdata"
)

// config is what the flags say.
type config struct {
	Name, Dir, Cloud                       string
	Image, Flavor, ExternalNetwork, SSHKey string
	KubernetesVersion, NodeCIDR, Bootstrap string
	Addons                                 string
	ControlPlanes, Workers                 int
	DryRun                                 bool
	JoinTimeout                            time.Duration
	// Machines is how the simulator boots servers (--machines).
	Machines machines.Kind
	Out      io.Writer
	Log      logr.Logger

	// simCommand starts the background simulator: the binary and its
	// arguments before the directory. Default: a copy of this binary.
	simCommand []string
	// beforeStep, when set, is called before each step (tests cancel there).
	beforeStep func(step int)
	// mutateWorker, when set, changes a worker's join input (tests break it).
	mutateWorker func(i int, w *userdata.JoinWorker)
}

// summary is what the flow made.
type summary struct {
	Endpoint   string
	Kubeconfig string
	Machines   []*provider.Machine
	NotJoined  map[string]string
	Steps      [7]time.Duration
	Total      time.Duration
}

var stepTitles = [7]string{
	"infrastructure", "bootstrap cluster", "Cluster API objects", "control plane",
	"add-ons", "pivot", "workers",
}

// flow carries the state between steps.
type flow struct {
	cfg   *config
	sum   *summary
	cloud *provider.Cloud
	inf   *infra.Infra
	st    infra.Status
	mgmt  bootstrap.Cluster
	pki   *userdata.ClusterPKI
	token userdata.BootstrapToken
	// tokenRefreshed is set when this run replaced an expiring saved token.
	tokenRefreshed bool
	// certKey encrypts the certificates init uploads for joining control
	// planes (kubeadm's certificate key); a secret.
	certKey string

	machines   *provider.Machines
	cpUserData map[string][]byte
	workerData map[string][]byte
	target     *rest.Config
	targetCS   kubernetes.Interface
	kubeconfig []byte
	created    map[string]*provider.Machine
	// runtime is how the simulator boots servers (zero on a real cloud).
	runtime simhost.Machines
}

// machinesLine is the progress line that says how the simulated servers
// boot and, when auto fell back to processes, why.
func machinesLine(m simhost.Machines, asked machines.Kind) string {
	switch {
	case m.Kind == machines.Containers:
		engine := m.Engine
		if engine == "" {
			engine = "podman"
		}
		return fmt.Sprintf("servers boot as containers (%s, node image %s): cloud-init runs kubeadm, kubelet registers the Nodes", engine, m.Image)
	case m.Fallback != "":
		return fmt.Sprintf("servers boot as processes, not containers (openstrap acts out kubeadm; no kubelet runs): %s", m.Fallback)
	case asked == m.Kind:
		return fmt.Sprintf("servers boot as %s (--machines %s; openstrap acts out kubeadm, no kubelet runs)", m.Kind, asked)
	}
	return fmt.Sprintf("servers boot as %s, as when this cluster was created", m.Kind)
}

func run(ctx context.Context, cfg *config) (*summary, error) {
	start := time.Now()
	f := &flow{cfg: cfg, sum: &summary{NotJoined: map[string]string{}}, created: map[string]*provider.Machine{}}
	ctx = logr.NewContext(ctx, cfg.Log)
	fmt.Fprintf(cfg.Out, "openstrap create-cluster %q, local state in %s\n", cfg.Name, cfg.Dir)
	// Every check before the first write, for --dry-run too.
	if err := preflight(ctx, cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := f.connect(ctx); err != nil {
		return nil, err
	}
	if cfg.DryRun {
		return nil, f.dryRun(ctx)
	}
	steps := [7]func(context.Context) error{f.infra, f.bootstrapCluster, f.install, f.controlPlane, f.addons, f.pivot, f.workers}
	for i, step := range steps {
		if cfg.beforeStep != nil {
			cfg.beforeStep(i + 1)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i+1, stepTitles[i], err)
		}
		fmt.Fprintf(cfg.Out, "[%d/7] %s\n", i+1, stepTitles[i])
		t := time.Now()
		if err := step(ctx); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i+1, stepTitles[i], err)
		}
		f.sum.Steps[i] = time.Since(t)
		fmt.Fprintf(cfg.Out, "      done in %v\n", f.sum.Steps[i].Round(time.Millisecond))
	}
	f.sum.Total = time.Since(start)
	f.printSummary()
	if len(f.sum.NotJoined) > 0 {
		return f.sum, fmt.Errorf("%d worker(s) did not join", len(f.sum.NotJoined))
	}
	return f.sum, nil
}

func (f *flow) say(format string, args ...any) {
	fmt.Fprintf(f.cfg.Out, "      "+format+"\n", args...)
}

// connect reaches the cloud: the one named, or the local simulator.
func (f *flow) connect(ctx context.Context) error {
	cfg := f.cfg
	if cfg.Cloud == "" || cfg.Bootstrap == "local" {
		if err := f.buildBinaries(ctx); err != nil {
			return err
		}
	}
	var opts []provider.Option
	if cfg.Cloud == "" {
		simDir := filepath.Join(cfg.Dir, "cloud")
		if err := simhost.CheckKind(simDir, cfg.Machines); err != nil {
			return fmt.Errorf("--machines %s: %w", cfg.Machines, err)
		}
		cmd, err := f.simCommand()
		if err != nil {
			return err
		}
		t := time.Now()
		if _, err := simhost.ReadMachines(simDir); err != nil && cfg.Machines != machines.Processes && !simhost.Running(ctx, simDir) {
			f.say("starting the simulated OpenStack (--machines %s; the first container run builds the node image: minutes, progress in %s)",
				cfg.Machines, simhost.Paths{Dir: simDir}.Log())
		}
		clouds, err := simhost.Start(ctx, simDir, cmd[0], append(cmd[1:], simhost.ServeArgs(simDir, cfg.Machines)...)...)
		if err != nil {
			return fmt.Errorf("start the simulated OpenStack: %w", err)
		}
		fmt.Fprintf(cfg.Out, "      simulated OpenStack running (clouds.yaml %s, log %s) in %v\n",
			clouds, simhost.Paths{Dir: simDir}.Log(), time.Since(t).Round(time.Millisecond))
		rec, err := simhost.ReadMachines(simDir)
		if err != nil {
			return fmt.Errorf("the simulated OpenStack's machine runtime: %w", err)
		}
		f.runtime = rec
		f.say("%s", machinesLine(rec, cfg.Machines))
		opts = append(opts, provider.WithCloudsYAML(clouds), provider.WithCloud(simhost.CloudName))
		simDefaults(cfg)
	} else {
		opts = append(opts, provider.WithCloud(cfg.Cloud))
	}
	cloud, err := provider.Connect(ctx, opts...)
	if err != nil {
		return err
	}
	f.cloud = cloud
	f.inf = infra.New(cloud, infra.WithLogger(cfg.Log), infra.WithProgress(func(e infra.Event) { f.say("%s", e) }))
	return nil
}

// buildBinaries makes sure kube-apiserver and etcd, which the local bootstrap
// cluster and the simulated machines run, are built; the first run builds
// them from the Go module proxy.
func (f *flow) buildBinaries(ctx context.Context) error {
	dir, err := tools.Dir()
	if err != nil {
		return err
	}
	for _, name := range []string{tools.Etcd, tools.KubeAPIServer} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			continue
		}
		f.say("building %s %s from the Go module proxy into %s (first run only; kube-apiserver takes 10-25 minutes on 2 cores)",
			name, tools.KubernetesVersion, dir)
		t := time.Now()
		if _, err := tools.Path(ctx, name); err != nil {
			return err
		}
		f.say("built %s in %v", name, time.Since(t).Round(time.Second))
	}
	return nil
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// simCommand copies this binary next to the simulator's state, so that the
// background process does not depend on a `go run` build that is removed
// when this process exits.
func (f *flow) simCommand() ([]string, error) {
	if f.cfg.simCommand != nil {
		return f.cfg.simCommand, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dst := simhost.Binary(f.cfg.Dir)
	if err := copyFile(exe, dst); err != nil {
		return nil, fmt.Errorf("copy the simulator binary: %w", err)
	}
	return []string{dst, serveSimCommand}, nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o700); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func (f *flow) infraSpec() infra.Spec {
	return infra.Spec{Cluster: f.cfg.Name, NodeCIDR: f.cfg.NodeCIDR, ExternalNetwork: f.cfg.ExternalNetwork}
}

// Step 1.
func (f *flow) infra(ctx context.Context) error {
	st, err := f.inf.Ensure(ctx, f.infraSpec())
	if err != nil {
		return err
	}
	f.st = st
	f.sum.Endpoint = "https://" + st.APIEndpoint.String()
	f.say("API endpoint %s", f.sum.Endpoint)
	f.machines = provider.NewMachines(f.cloud, provider.WithMachinesLogger(f.cfg.Log),
		provider.WithAPIServerPool(f.inf.APIServerPool(st)),
		provider.WithMachinesProgress(func(e provider.MachineEvent) {
			if e.Done {
				f.say("%s %s %s %s", e.Machine, e.Phase, e.Name, e.ID)
			}
		}))
	return nil
}

// Step 2.
func (f *flow) bootstrapCluster(ctx context.Context) error {
	progress := bootstrap.WithProgress(func(e bootstrap.Event) {
		if e.Done {
			f.say("%s", e)
		}
	})
	var err error
	switch b := f.cfg.Bootstrap; {
	case b == "local":
		f.mgmt, err = bootstrap.Local(ctx, f.cfg.Name+"-bootstrap", bootstrap.Dir(filepath.Join(f.cfg.Dir, "bootstrap")), bootstrap.KeepData(), progress)
	case b == "kind":
		f.mgmt, err = bootstrap.Kind(ctx, f.cfg.Name+"-bootstrap", progress)
	case strings.HasPrefix(b, "kubeconfig="):
		f.mgmt, err = bootstrap.Existing(ctx, bootstrap.KubeconfigFile(strings.TrimPrefix(b, "kubeconfig=")), progress)
	default:
		return fmt.Errorf("--bootstrap %q: want local, kind or kubeconfig=PATH", b)
	}
	if err != nil {
		return err
	}
	f.say("management cluster %s at %s", f.mgmt.Name(), f.mgmt.RESTConfig().Host)
	return nil
}

// Step 3.
func (f *flow) install(ctx context.Context) error {
	if err := f.loadSecrets(); err != nil {
		return err
	}
	endpoint := f.st.APIEndpoint.String()
	f.cpUserData = map[string][]byte{}
	f.workerData = map[string][]byte{}
	var objs []machineObject
	for i := 0; i < f.cfg.ControlPlanes; i++ {
		name := fmt.Sprintf("%s-control-plane-%d", f.cfg.Name, i)
		spec := f.controlPlaneSpec(i, endpoint)
		data, err := userdata.Render(spec)
		if err != nil {
			return err
		}
		f.cpUserData[name] = data
		objs = append(objs, machineObject{name: name, role: provider.ControlPlane, userData: data})
	}
	for i := 0; i < f.cfg.Workers; i++ {
		name := fmt.Sprintf("%s-worker-%d", f.cfg.Name, i)
		join := userdata.JoinWorker{Cluster: f.cfg.Name, KubernetesVersion: f.cfg.KubernetesVersion,
			Endpoint: endpoint, Token: f.token, CACertHashes: []string{f.pki.CACertHash()},
			Node: f.node()}
		if f.cfg.mutateWorker != nil {
			f.cfg.mutateWorker(i, &join)
		}
		data, err := userdata.Render(join)
		if err != nil {
			return err
		}
		f.workerData[name] = data
		objs = append(objs, machineObject{name: name, role: provider.Worker, userData: data})
	}
	kubeconfig, err := userdata.AdminKubeconfig(f.pki, f.cfg.Name, "https://"+endpoint)
	if err != nil {
		return err
	}
	f.kubeconfig = kubeconfig
	f.sum.Kubeconfig = filepath.Join(f.cfg.Dir, "kubeconfig")
	if err := os.WriteFile(f.sum.Kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	if f.target, err = clientcmd.RESTConfigFromKubeConfig(kubeconfig); err != nil {
		return err
	}
	f.target.Timeout = 15 * time.Second
	if f.targetCS, err = kubernetes.NewForConfig(f.target); err != nil {
		return err
	}
	if f.pivoted(ctx) {
		f.say("the cluster's objects already live in the cluster itself (pivoted): nothing to install")
		return nil
	}
	crds, err := crdManifests(ctx)
	if err != nil {
		return err
	}
	secrets, err := f.pki.Secrets(f.cfg.Name, namespace)
	if err != nil {
		return err
	}
	secrets = append(secrets, userdata.KubeconfigSecret(f.cfg.Name, namespace, kubeconfig))
	objects, err := clusterManifests(f.cfg, f.st.APIEndpoint.Host, f.st.APIEndpoint.Port, secrets, objs)
	if err != nil {
		return err
	}
	if err := bootstrap.Install(ctx, f.mgmt, crds, bootstrap.FieldManager("openstrap")); err != nil {
		return err
	}
	f.say("installed %d CRDs", len(crds))
	if err := bootstrap.Install(ctx, f.mgmt, objects, bootstrap.FieldManager("openstrap")); err != nil {
		return err
	}
	mc, err := newClient(f.mgmt.RESTConfig())
	if err != nil {
		return err
	}
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.name)
	}
	if err := setOwners(ctx, mc, f.cfg.Name, names); err != nil {
		return err
	}
	f.say("installed %d objects (Cluster, %d Machines with infrastructure and bootstrap data, PKI and kubeconfig Secrets)", len(objects), len(objs))
	return nil
}

// controlPlaneSpec is the kubeadm input of control plane i: init for the
// first; the others fetch the CA keys init uploaded (kubeadm-certs, for two
// hours) with the certificate key, so no key is in their user data. They are
// created minutes after init; one joining later would need the keys in its
// user data (userdata.JoinControlPlane.PKI) or a new upload.
func (f *flow) controlPlaneSpec(i int, endpoint string) userdata.Spec {
	if i == 0 {
		return userdata.Init{Cluster: f.cfg.Name, KubernetesVersion: f.cfg.KubernetesVersion,
			Endpoint: endpoint, PKI: f.pki, BootstrapTokens: []userdata.BootstrapToken{f.token},
			UploadCertificates: f.certKey != "", CertificateKey: f.certKey, Node: f.node()}
	}
	return userdata.JoinControlPlane{Cluster: f.cfg.Name, KubernetesVersion: f.cfg.KubernetesVersion,
		Endpoint: endpoint, Token: f.token, CACertHashes: []string{f.pki.CACertHash()}, CertificateKey: f.certKey,
		Node: f.node()}
}

// node is how machines register as Nodes. On a real cloud the kubelet and
// kube-controller-manager defer to the OpenStack cloud controller manager
// (an add-on), which sets each Node's addresses and provider ID and removes
// its "uninitialized" taint. The simulated cloud has no such controller:
// there the kubelet keeps its own addresses and, on container machines, is
// given the provider ID itself (openstack:///<instance ID from cloud-init's
// metadata>), as the OpenStack provider's templates do; the process runtime
// sets it when it registers the Node.
func (f *flow) node() userdata.Node {
	if f.cfg.Cloud != "" {
		return userdata.Node{ExternalCloudProvider: true}
	}
	var n userdata.Node
	if f.runtime.Kind == machines.Containers {
		n.KubeletExtraArgs = map[string]string{"provider-id": provider.ProviderIDPrefix + "{{ ds.meta_data.instance_id }}"}
	}
	return n
}

// loadSecrets reads the cluster's PKI and bootstrap token from the state
// directory, or makes and saves them, so that a resumed run renders the same
// user data. A new PKI is made only when none of its files exists: a partial
// or unreadable one is an error, since a new CA would orphan the running
// cluster.
func (f *flow) loadSecrets() error {
	dir := filepath.Join(f.cfg.Dir, "pki")
	pki, err := userdata.LoadClusterPKI(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w; the cluster PKI in %s belongs to the cluster this state directory describes, "+
				"so no new CA is made: restore the file from a backup, or delete the cluster (delete-cluster) "+
				"and its state directory to start over", err, dir)
		}
		if pki, err = userdata.NewClusterPKI(); err != nil {
			return err
		}
		if err := pki.WriteDir(dir); err != nil {
			return err
		}
	}
	f.pki = pki
	if f.cfg.ControlPlanes > 1 {
		if err := f.loadCertKey(filepath.Join(dir, "certificate-key")); err != nil {
			return err
		}
	}
	return f.loadToken(filepath.Join(dir, "bootstrap-token"), time.Now())
}

// loadCertKey reads the certificate key, or makes and saves one (0600), so
// that a resumed run renders the key init uploaded with.
func (f *flow) loadCertKey(file string) error {
	b, err := os.ReadFile(file)
	if err == nil {
		if f.certKey = strings.TrimSpace(string(b)); f.certKey == "" {
			return fmt.Errorf("%s is empty: restore it from a backup (control planes join with the key init uploaded the certificates with)", file)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if f.certKey, err = userdata.NewCertificateKey(); err != nil {
		return err
	}
	return atomicfile.WriteFile(file, []byte(f.certKey+"\n"), 0o600)
}

// tokenMargin is how long a saved bootstrap token must still work when a run
// starts: the rest of the flow joins machines with it.
const tokenMargin = 2 * time.Hour

// loadToken reads the bootstrap token and its expiry ("<token>\n<RFC 3339>\n")
// or, when there is none or it expires within tokenMargin of now, makes a new
// one and saves it (the cluster gets it through init's user data or ensureToken).
func (f *flow) loadToken(file string, now time.Time) error {
	b, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil {
		lines := strings.Fields(string(b))
		if len(lines) == 0 {
			return fmt.Errorf("%s: empty; delete it to make a new bootstrap token", file)
		}
		if f.token, err = userdata.ParseBootstrapToken(lines[0]); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if len(lines) > 1 {
			if f.token.Expires, err = time.Parse(time.RFC3339, lines[1]); err != nil {
				return fmt.Errorf("%s: line 2 is not an RFC 3339 expiry; delete the file to make a new bootstrap token", file)
			}
		}
		if !f.token.ExpiresWithin(now, tokenMargin) {
			return nil
		}
		if f.cfg.Out != nil {
			when := "at a time not saved"
			if !f.token.Expires.IsZero() {
				when = f.token.Expires.Format(time.RFC3339)
			}
			f.say("bootstrap token %s expires %s: making a new one", f.token.ID, when)
		}
		f.tokenRefreshed = true
	}
	if f.token, err = userdata.NewBootstrapToken(); err != nil {
		return err
	}
	f.token.Expires = now.Add(f.token.TTL).UTC().Truncate(time.Second)
	return atomicfile.WriteFile(file, []byte(f.token.Value()+"\n"+f.token.Expires.Format(time.RFC3339)+"\n"), 0o600)
}

// ensureToken adds a bootstrap token made on this run's resume (the saved one
// had expired) to the target cluster, where no init made it; joining machines
// need it before they boot. A first run's token is made by kubeadm init.
// kube-system may not exist yet when init itself runs on this resume.
func (f *flow) ensureToken(ctx context.Context) error {
	if !f.tokenRefreshed {
		return nil
	}
	s := f.token.TokenSecret(time.Now())
	err := retry.Until(ctx, retry.Policy{Initial: 200 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: f.cfg.JoinTimeout},
		func(ctx context.Context) (bool, error) {
			_, err := f.targetCS.CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
			switch {
			case err == nil:
				f.say("bootstrap token %s added to the cluster (expires %s)", f.token.ID, f.token.Expires.Format(time.RFC3339))
				return true, nil
			case apierrors.IsAlreadyExists(err):
				return true, nil
			case apierrors.IsNotFound(err):
				return false, nil
			}
			return false, err
		})
	if err != nil {
		return fmt.Errorf("add bootstrap token %s to the cluster: %w", f.token.ID, err)
	}
	return nil
}

// pivoted reports whether the target cluster answers and holds the Cluster.
func (f *flow) pivoted(ctx context.Context) bool {
	c, err := newClient(f.target)
	if err != nil {
		return false
	}
	var cl clusterv1.Cluster
	return c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: f.cfg.Name}, &cl) == nil
}

// machineSpec is the OpenStack side of one machine.
func (f *flow) machineSpec(name string, role provider.Role, data []byte) provider.MachineSpec {
	var groups []string
	for _, r := range []infra.Role{infra.RoleNode, infra.Role(role)} {
		if id, ok := f.st.SecurityGroups[r]; ok {
			groups = append(groups, id)
		}
	}
	return provider.MachineSpec{Cluster: f.cfg.Name, Name: name, Role: role, Flavor: f.cfg.Flavor, Image: f.cfg.Image,
		KeyName: f.cfg.SSHKey, UserData: data,
		Ports: []provider.PortSpec{{Network: f.st.NetworkID, Subnet: f.st.SubnetID, SecurityGroups: groups}}}
}

// Step 4.
func (f *flow) controlPlane(ctx context.Context) error {
	names := sortedKeys(f.cpUserData)
	first, err := f.machines.Create(ctx, f.machineSpec(names[0], provider.ControlPlane, f.cpUserData[names[0]]))
	if err != nil {
		return err
	}
	f.created[first.Name] = first
	f.say("machine %s %s %s", first.Name, first.Status, first.InternalAddress)
	t := time.Now()
	watch := &bootWatch{server: first.ServerID, every: 10 * time.Second, console: f.console}
	err = retry.Until(ctx, retry.Policy{Initial: 200 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: f.cfg.JoinTimeout},
		func(ctx context.Context) (bool, error) {
			if _, err := f.targetCS.Discovery().ServerVersion(); err == nil {
				return true, nil
			}
			return false, watch.check(ctx, time.Now())
		})
	if errors.Is(err, errBootFailed) {
		return fmt.Errorf("the API server at %s will not answer: %w", f.sum.Endpoint, err)
	}
	if err != nil {
		if out, cerr := f.console(ctx, first.ServerID); cerr == nil && strings.TrimSpace(out) != "" {
			err = fmt.Errorf("%w; console of %s: %s", err, first.Name, consoleReason(out))
		}
		return fmt.Errorf("the API server at %s did not answer within %v: %w", f.sum.Endpoint, f.cfg.JoinTimeout, err)
	}
	v, _ := f.targetCS.Discovery().ServerVersion()
	f.say("API server %s answers (Kubernetes %s) after %v", f.sum.Endpoint, v.GitVersion, time.Since(t).Round(time.Millisecond))
	// The other control planes join the running one.
	if len(names) > 1 {
		if err := f.ensureToken(ctx); err != nil {
			return err
		}
		var specs []provider.MachineSpec
		for _, name := range names[1:] {
			specs = append(specs, f.machineSpec(name, provider.ControlPlane, f.cpUserData[name]))
		}
		ms, err := f.machines.CreateBatch(ctx, specs)
		if err != nil {
			return err
		}
		for _, m := range ms {
			f.created[m.Name] = m
		}
		if pending := f.waitNodes(ctx, names[1:]); len(pending) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			return fmt.Errorf("control planes did not join: %s", strings.Join(f.notJoined(ctx, pending), "; "))
		}
	}
	if f.pivoted(ctx) {
		return nil
	}
	mc, err := newClient(f.mgmt.RESTConfig())
	if err != nil {
		return err
	}
	return markProvisioned(ctx, mc, f.cfg.Name, f.created)
}

// Step 5.
func (f *flow) addons(ctx context.Context) error {
	if f.cfg.Addons == "" {
		f.say("no --addons given")
		return nil
	}
	manifests, err := readManifests(f.cfg.Addons)
	if err != nil {
		return err
	}
	target, err := bootstrap.Existing(ctx, bootstrap.KubeconfigBytes(f.kubeconfig))
	if err != nil {
		return err
	}
	vars := addonVars(f.cfg, f.sum.Endpoint)
	if err := bootstrap.Install(ctx, target, manifests, bootstrap.Variables(vars), bootstrap.VariablesFromEnv(),
		bootstrap.FieldManager("openstrap")); err != nil {
		return err
	}
	f.say("applied %d manifest file(s) from %s", len(manifests), f.cfg.Addons)
	return nil
}

func readManifests(path string) ([][]byte, error) {
	files, err := addonFiles(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Step 6.
func (f *flow) pivot(ctx context.Context) error {
	target, err := bootstrap.Existing(ctx, bootstrap.KubeconfigBytes(f.kubeconfig))
	if err != nil {
		return err
	}
	crds, err := crdManifests(ctx)
	if err != nil {
		return err
	}
	if err := bootstrap.Install(ctx, target, crds, bootstrap.FieldManager("openstrap")); err != nil {
		return err
	}
	rep, err := pivot.Move(ctx, f.mgmt.RESTConfig(), f.target, pivot.Options{Namespace: namespace,
		Clusters: []string{f.cfg.Name}, Progress: func(e pivot.Event) {
			if e.Kind == "" {
				f.say("%s", e)
			}
		}})
	if err != nil {
		return err
	}
	f.say("%s", rep)
	return nil
}

// Step 7.
func (f *flow) workers(ctx context.Context) error {
	names := sortedKeys(f.workerData)
	specs := make([]provider.MachineSpec, 0, len(names))
	for _, name := range names {
		specs = append(specs, f.machineSpec(name, provider.Worker, f.workerData[name]))
	}
	if len(specs) > 0 {
		if err := f.ensureToken(ctx); err != nil {
			return err
		}
		ms, err := f.machines.CreateBatch(ctx, specs)
		if err != nil {
			return err
		}
		for _, m := range ms {
			f.created[m.Name] = m
		}
	}
	pending := f.waitNodes(ctx, names)
	if err := ctx.Err(); err != nil {
		return err
	}
	f.notJoined(ctx, pending)
	joined := map[string]*provider.Machine{}
	for n, m := range f.created {
		if m.Role == provider.Worker && !pending[n] {
			joined[n] = m
		}
	}
	if len(joined) == 0 {
		return nil
	}
	// The management state now lives in the target: record the workers there.
	tc, err := newClient(f.target)
	if err != nil {
		return err
	}
	return markMachines(ctx, tc, joined)
}

// waitNodes waits up to the join timeout for the named machines to become
// Ready Nodes of the target cluster and returns those that did not. On
// container machines kubelet registers each Node and reports it Ready once
// the node image's bridge CNI config is in place (no CNI add-on is needed).
func (f *flow) waitNodes(ctx context.Context, names []string) map[string]bool {
	pending := map[string]bool{}
	for _, n := range names {
		pending[n] = true
	}
	// Machines whose boot failed are not waited for (they stay pending).
	watches, failed := map[string]*bootWatch{}, map[string]bool{}
	for _, n := range names {
		if m := f.created[n]; m != nil && m.ServerID != "" {
			watches[n] = &bootWatch{server: m.ServerID, every: 10 * time.Second, console: f.console}
		}
	}
	t := time.Now()
	_ = retry.Until(ctx, retry.Policy{Initial: 200 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: f.cfg.JoinTimeout},
		func(ctx context.Context) (bool, error) {
			for n := range pending {
				if failed[n] {
					continue
				}
				node, err := f.targetCS.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
				if err != nil || !nodeReady(node) {
					if w := watches[n]; w != nil {
						if err := w.check(ctx, time.Now()); err != nil {
							failed[n] = true
							f.say("node %s will not join: %v", n, err)
						}
					}
					continue
				}
				kubelet := "no kubelet"
				if v := node.Status.NodeInfo.KubeletVersion; v != "" {
					kubelet = "kubelet " + v
				}
				f.say("node %s joined and is Ready after %v (%s)", n, time.Since(t).Round(time.Millisecond), kubelet)
				delete(pending, n)
			}
			return len(pending) == len(failed), nil
		})
	return pending
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// notJoined records and prints why each pending machine is not a Node: its
// server's state and the end of its console log, where a real machine's
// cloud-init says what went wrong.
func (f *flow) notJoined(ctx context.Context, pending map[string]bool) []string {
	var out []string
	for _, n := range sortedKeys(pending) {
		what := "no Node registered"
		if node, err := f.targetCS.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{}); err == nil && !nodeReady(node) {
			what = "its Node is not Ready"
		}
		reason := what + " in time"
		if m, err := f.machines.Get(ctx, f.cfg.Name, n); err == nil {
			reason = fmt.Sprintf("server %s is %s but %s within %v", m.ServerID, m.Status, what, f.cfg.JoinTimeout)
			if m.Fault != "" {
				reason += ": " + m.Fault
			}
			if out, err := f.console(ctx, m.ServerID); err == nil && strings.TrimSpace(out) != "" {
				if why, failed := userdata.BootFailed(out); failed {
					reason += "; console: " + why
				} else {
					reason += "; console: " + consoleReason(out)
				}
			}
		}
		f.sum.NotJoined[n] = reason
		f.say("node %s did not join: %s", n, reason)
		out = append(out, n+": "+reason)
	}
	return out
}

// console is the end of a server's console log (its last 200 lines).
func (f *flow) console(ctx context.Context, serverID string) (string, error) {
	return servers.ShowConsoleOutput(ctx, f.cloud.Compute, serverID, servers.ShowConsoleOutputOpts{Length: 200}).Extract()
}

// errBootFailed marks a machine whose cloud-init reported its user data failed.
var errBootFailed = errors.New("its boot failed")

// bootWatch reads a server's console at most once per interval while a step
// waits for the machine, so the step stops as soon as cloud-init reports the
// user data failed (userdata.BootFailed) instead of at the join timeout.
type bootWatch struct {
	server  string
	every   time.Duration
	console func(ctx context.Context, serverID string) (string, error)
	last    time.Time
}

// check returns a permanent error wrapping errBootFailed, with the console's
// reason, once the server's boot failed; nil while it may still succeed or
// the console cannot be read.
func (w *bootWatch) check(ctx context.Context, now time.Time) error {
	if !w.last.IsZero() && now.Sub(w.last) < w.every {
		return nil
	}
	w.last = now
	out, err := w.console(ctx, w.server)
	if err != nil {
		return nil
	}
	if reason, failed := userdata.BootFailed(out); failed {
		return retry.Permanent(fmt.Errorf("server %s: %w: %s", w.server, errBootFailed, reason))
	}
	return nil
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// consoleReason is the end of a console log on one line: its last 3 lines,
// after the last 2 earlier lines that mention an error (where a real
// machine's kubeadm says why it failed, before cloud-init's and systemd's
// closing lines), secrets redacted.
func consoleReason(console string) string {
	var lines []string
	for _, l := range strings.Split(ansiEscape.ReplaceAllString(console, ""), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	tail := lines[max(0, len(lines)-3):]
	var errs []string
	for _, l := range lines[:len(lines)-len(tail)] {
		if strings.Contains(strings.ToLower(l), "error") {
			errs = append(errs, l)
		}
	}
	out := append(errs[max(0, len(errs)-2):], tail...)
	for i, l := range out {
		out[i] = userdata.RedactConsole(l)
	}
	return strings.Join(out, " | ")
}

func (f *flow) dryRun(ctx context.Context) error {
	fmt.Fprintln(f.cfg.Out, "[1/7] infrastructure (plan)")
	plan, err := f.inf.Plan(ctx, f.infraSpec())
	if err != nil {
		return err
	}
	f.say("%s", plan)
	fmt.Fprintf(f.cfg.Out, "[2/7] bootstrap cluster: %s, state under %s\n", f.cfg.Bootstrap, filepath.Join(f.cfg.Dir, "bootstrap"))
	fmt.Fprintf(f.cfg.Out, "[3/7] install Cluster API CRDs and Cluster %q with %d Machines\n", f.cfg.Name, f.cfg.ControlPlanes+f.cfg.Workers)
	fmt.Fprintf(f.cfg.Out, "[4/7] create %d control-plane machine(s) (%s, %s) with kubeadm init user data\n", f.cfg.ControlPlanes, f.cfg.Flavor, f.cfg.Image)
	fmt.Fprintf(f.cfg.Out, "[5/7] add-ons: %s\n", orNone(f.cfg.Addons))
	fmt.Fprintf(f.cfg.Out, "[6/7] pivot the objects of Cluster %q to the new cluster\n", f.cfg.Name)
	fmt.Fprintf(f.cfg.Out, "[7/7] create %d worker machine(s) that join with a bootstrap token\n", f.cfg.Workers)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (f *flow) printSummary() {
	out := f.cfg.Out
	fmt.Fprintln(out, "Summary")
	fmt.Fprintf(out, "  endpoint    %s\n", f.sum.Endpoint)
	fmt.Fprintf(out, "  kubeconfig  %s\n", f.sum.Kubeconfig)
	names := sortedKeys(f.created)
	for _, n := range names {
		m := f.created[n]
		f.sum.Machines = append(f.sum.Machines, m)
		fmt.Fprintf(out, "  machine     %-28s %-8s %s\n", n, m.Status, m.InternalAddress)
	}
	for i, d := range f.sum.Steps {
		fmt.Fprintf(out, "  step %d      %-22s %v\n", i+1, stepTitles[i], d.Round(time.Millisecond))
	}
	for _, n := range sortedKeys(f.sum.NotJoined) {
		fmt.Fprintf(out, "  not joined  %-28s %s\n", n, f.sum.NotJoined[n])
	}
	fmt.Fprintf(out, "  total       %v\n", f.sum.Total.Round(time.Millisecond))
	fmt.Fprintf(out, "Try: kubectl --kubeconfig %s get nodes\n", f.sum.Kubeconfig)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
