package machines_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/containerruntime"
	"github.com/openstrap/openstrap/internal/kubetest"
	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/internal/tools"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
	"github.com/openstrap/openstrap/userdata"
)

// cloudInitDone matches cloud-init's final message on the console
// ("Cloud-init v. 22.4.2 finished at ...").
var cloudInitDone = regexp.MustCompile(`Cloud-init v\. \S+ finished at `)

// testCloud is the simulator with container machines, the cluster's
// infrastructure (infra.Ensure) and openstrap's machines API on it.
type testCloud struct {
	t        testing.TB
	ctx      context.Context
	name     string
	cidr     string
	engine   *podman.Engine
	sim      *openstacktest.Server
	cloud    *provider.Cloud
	inf      *infra.Infra
	st       infra.Status
	machines *provider.Machines

	mu       sync.Mutex
	instance string // the container runtime's instance label, once seen
}

// startCloud starts the container runtime and the simulator, and makes the
// cluster's network, subnet, router, load balancer and floating IP with
// infra.Ensure, as examples/create-cluster does. Its cleanup closes both
// and asserts that the runtime left no container, network, volume, route or
// iptables chain behind.
func startCloud(t testing.TB, ctx context.Context, name string) *testCloud {
	t.Helper()
	return startCloudOn(t, ctx, name, nil)
}

// startCloudOn is startCloud on a given engine (podman's when nil).
func startCloudOn(t testing.TB, ctx context.Context, name string, engine *podman.Engine) *testCloud {
	t.Helper()
	var err error
	if engine == nil {
		if engine, err = podman.Setup(ctx); err != nil {
			t.Fatalf("this test needs rootful podman: %v", err)
		}
	}
	c := &testCloud{t: t, ctx: ctx, name: name, engine: engine}
	var seed uint32
	c.cidr, seed = nodeCIDR(t.Name())
	fipPool := fmt.Sprintf("127.%d.%d.0/24", 100+seed%100, (seed/100)%250)
	t.Logf("node CIDR %s, floating IP pool %s", c.cidr, fipPool)

	log := testr.NewWithInterface(t, testr.Options{Verbosity: 0})
	rt, err := machines.StartContainers(ctx, engine, t.TempDir(), log)
	if err != nil {
		t.Fatalf("start the container runtime: %v", err)
	}
	if rt.Kind != machines.Containers {
		t.Fatalf("runtime %s, want containers", rt.Kind)
	}
	t.Logf("node image %s on %s", rt.Image, rt.Engine)
	// Registered before the simulator's cleanup, so it runs after it.
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := rt.Close(cctx); err != nil {
			t.Errorf("close the runtime: %v", err)
		}
		c.assertNothingLeft(cctx)
	})
	// Nova shows a spawn failure's details to admins only, and Create
	// deletes a failed server: log the runtime's error here.
	hooks := rt.Hooks()
	spawn := hooks.OnSpawn
	hooks.OnSpawn = func(ctx context.Context, ev openstacktest.BootEvent) error {
		err := spawn(ctx, ev)
		if err != nil {
			t.Logf("spawn of server %s (%s) failed: %v", ev.ServerID, ev.Name, err)
		}
		return err
	}
	c.sim = openstacktest.NewTestServer(t, openstacktest.WithServerHooks(hooks), openstacktest.WithFloatingIPPool(fipPool),
		openstacktest.WithLogger(log.WithName("openstack")))
	if c.cloud, err = c.sim.Cloud(ctx); err != nil {
		t.Fatal(err)
	}
	c.inf = infra.New(c.cloud)
	if c.st, err = c.inf.Ensure(ctx, infra.Spec{Cluster: name, NodeCIDR: c.cidr, ExternalNetwork: openstacktest.ExternalNetwork}); err != nil {
		t.Fatalf("infra.Ensure: %v", err)
	}
	t.Logf("API endpoint %s", c.st.APIEndpoint)
	c.machines = provider.NewMachines(c.cloud, provider.WithAPIServerPool(c.inf.APIServerPool(c.st)))
	return c
}

// nodeCIDR gives a test a tenant /24 of its own (10.160-219.x.0/24), so
// that parallel tests' container networks never overlap, and the seed the
// floating IP pool is picked from.
func nodeCIDR(name string) (string, uint32) {
	h := fnv.New32a()
	h.Write([]byte(name))
	h.Write([]byte(time.Now().String()))
	n := h.Sum32()
	return fmt.Sprintf("10.%d.%d.0/24", 160+n%60, (n/60)%250), n
}

// spec is the OpenStack side of a machine, as create-cluster makes it.
func (c *testCloud) spec(name string, role provider.Role, data []byte) provider.MachineSpec {
	var groups []string
	for _, r := range []infra.Role{infra.RoleNode, infra.Role(role)} {
		if id, ok := c.st.SecurityGroups[r]; ok {
			groups = append(groups, id)
		}
	}
	return provider.MachineSpec{Cluster: c.name, Name: name, Role: role, Flavor: "m1.medium", Image: openstacktest.ImageName,
		UserData: data, Ports: []provider.PortSpec{{Network: c.st.NetworkID, Subnet: c.st.SubnetID, SecurityGroups: groups}}}
}

// console returns a server's console output through Nova's API.
func (c *testCloud) console(id string) (string, error) {
	return servers.ShowConsoleOutput(c.ctx, c.cloud.Compute, id, servers.ShowConsoleOutputOpts{}).Extract()
}

// faultDetails returns the fault details (admins only, as on Nova) of the
// servers whose IDs msg names.
func (c *testCloud) faultDetails(msg string) string {
	admin, err := c.sim.AdminCloud(c.ctx)
	if err != nil {
		return "; admin cloud: " + err.Error()
	}
	var b strings.Builder
	for _, id := range uuidRE.FindAllString(msg, -1) {
		s, err := servers.Get(c.ctx, admin.Compute, id).Extract()
		if err == nil {
			fmt.Fprintf(&b, "; server %s fault details: %s", id, s.Fault.Details)
		}
	}
	return b.String()
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func (c *testCloud) serverStatus(id string) (string, error) {
	s, err := servers.Get(c.ctx, c.cloud.Compute, id).Extract()
	if err != nil {
		return "", err
	}
	return s.Status, nil
}

// containerOf finds the node container of a server by the runtime's labels
// and remembers the runtime's instance for the cleanup check.
func (c *testCloud) containerOf(serverID string) (podman.ContainerSummary, error) {
	cs, err := c.engine.ListContainers(c.ctx, map[string]string{containerruntime.LabelServer: serverID})
	if err != nil {
		return podman.ContainerSummary{}, err
	}
	if len(cs) != 1 {
		return podman.ContainerSummary{}, fmt.Errorf("server %s has %d containers", serverID, len(cs))
	}
	c.mu.Lock()
	c.instance = cs[0].Labels[containerruntime.LabelInstance]
	c.mu.Unlock()
	return cs[0], nil
}

// assertNothingLeft lists what the runtime could have left behind:
// containers, networks and volumes with its instance label, its FORWARD
// chain, the unreachable route of the test's subnet, a VIP on lo.
func (c *testCloud) assertNothingLeft(ctx context.Context) {
	t := c.t
	c.mu.Lock()
	inst := c.instance
	c.mu.Unlock()
	if inst == "" {
		t.Errorf("cleanup check: the runtime's instance label was never seen on a container")
		return
	}
	labels := map[string]string{containerruntime.LabelInstance: inst}
	cs, err1 := c.engine.ListContainers(ctx, labels)
	ns, err2 := c.engine.ListNetworks(ctx, labels)
	vs, err3 := c.engine.ListVolumes(ctx, labels)
	if err1 != nil || err2 != nil || err3 != nil || len(cs)+len(ns)+len(vs) != 0 {
		t.Errorf("left after Close: containers %v, networks %v, volumes %v (%v %v %v)", cs, ns, vs, err1, err2, err3)
	}
	for _, table := range []string{"filter", "nat"} {
		out, err := exec.CommandContext(ctx, "iptables", "-w", "-t", table, "-S").CombinedOutput()
		if err != nil {
			t.Errorf("iptables -t %s -S: %v: %s", table, err, out)
		}
		if strings.Contains(string(out), inst) {
			t.Errorf("iptables (%s) still names the runtime %s:\n%s", table, inst, grepLines(string(out), inst))
		}
	}
	out, err := exec.CommandContext(ctx, "ip", "route", "show", "table", "all").CombinedOutput()
	if err != nil {
		t.Errorf("ip route: %v: %s", err, out)
	}
	if strings.Contains(string(out), c.cidr) {
		t.Errorf("routes for %s left:\n%s", c.cidr, grepLines(string(out), c.cidr))
	}
	if vip := c.st.LoadBalancer.VIPAddress; vip != "" {
		out, _ := exec.CommandContext(ctx, "ip", "-4", "addr", "show", "dev", "lo").CombinedOutput()
		if strings.Contains(string(out), " "+vip+"/32") {
			t.Errorf("VIP %s left on lo:\n%s", vip, out)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// stopError ends an eventually wait at once: the awaited state cannot come.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }

// eventually polls f every 2 s until it reports done, and fails the test
// with the last state and error it reported when timeout passes, or at once
// when f returns a *stopError.
func eventually(t testing.TB, ctx context.Context, timeout time.Duration, what string, f func(ctx context.Context) (bool, string, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var state string
	var err error
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var done bool
		done, state, err = f(cctx)
		cancel()
		if done && err == nil {
			return
		}
		var stop *stopError
		if errors.As(err, &stop) {
			t.Fatalf("%s: %v", what, stop.err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not after %v; last state: %s; last error: %v", what, timeout, state, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// cluster is a workload cluster booted from openstrap's user data.
type cluster struct {
	*testCloud
	pki   *userdata.ClusterPKI
	token userdata.BootstrapToken
	cs    kubernetes.Interface
	// servers maps machine (= Node) name to server ID.
	servers map[string]string
}

func (c *testCloud) newCluster() *cluster {
	t := c.t
	pki, err := userdata.NewClusterPKI()
	if err != nil {
		t.Fatal(err)
	}
	token, err := userdata.NewBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := userdata.AdminKubeconfig(pki, c.name, "https://"+c.st.APIEndpoint.String())
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.Timeout = 20 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{testCloud: c, pki: pki, token: token, cs: cs, servers: map[string]string{}}
}

// node registers the machine under its server's name and ID, as the
// OpenStack provider's templates do (no cloud controller manager runs here,
// so not ExternalCloudProvider, whose taint would keep pods Pending).
// slowHost gives kubeadm init's first API call (made before it waits for
// the control plane) more than kubeadm's 1 minute: node containers share
// two cores with other tests here.
var slowHost = userdata.Timeouts{KubernetesAPICall: 5 * time.Minute}

func node() userdata.Node {
	return userdata.Node{ProviderID: userdata.ProviderIDFromMetadata}
}

func (cl *cluster) initData(extraTokens ...userdata.BootstrapToken) []byte {
	data, err := userdata.Render(userdata.Init{Cluster: cl.name, KubernetesVersion: tools.KubernetesVersion,
		Endpoint: cl.st.APIEndpoint.String(), PKI: cl.pki, BootstrapTokens: append([]userdata.BootstrapToken{cl.token}, extraTokens...),
		Node: node(), Timeouts: slowHost})
	if err != nil {
		cl.t.Fatalf("render init user data: %v", err)
	}
	return data
}

func (cl *cluster) joinControlPlaneData() []byte {
	data, err := userdata.Render(userdata.JoinControlPlane{Cluster: cl.name, KubernetesVersion: tools.KubernetesVersion,
		Endpoint: cl.st.APIEndpoint.String(), Token: cl.token, CACertHashes: []string{cl.pki.CACertHash()}, PKI: cl.pki,
		Node: node(), Timeouts: slowHost})
	if err != nil {
		cl.t.Fatalf("render control plane join user data: %v", err)
	}
	return data
}

func (cl *cluster) workerData(mutate func(*userdata.JoinWorker)) []byte {
	j := userdata.JoinWorker{Cluster: cl.name, KubernetesVersion: tools.KubernetesVersion,
		Endpoint: cl.st.APIEndpoint.String(), Token: cl.token, CACertHashes: []string{cl.pki.CACertHash()}, Node: node()}
	if mutate != nil {
		mutate(&j)
	}
	data, err := userdata.Render(j)
	if err != nil {
		cl.t.Fatalf("render worker user data: %v", err)
	}
	return data
}

// create creates machines as a batch, checks that each is ACTIVE with a
// node container, and records their servers.
func (cl *cluster) create(specs ...provider.MachineSpec) []*provider.Machine {
	cl.t.Helper()
	ms, err := cl.machines.CreateBatch(cl.ctx, specs)
	if err != nil {
		cl.t.Fatalf("create machines: %v%s", err, cl.faultDetails(err.Error()))
	}
	for _, m := range ms {
		cl.servers[m.Name] = m.ServerID
		if m.Status != "ACTIVE" {
			cl.t.Fatalf("machine %s is %s (%s), want ACTIVE", m.Name, m.Status, m.Fault)
		}
		if _, err := cl.containerOf(m.ServerID); err != nil {
			cl.t.Fatalf("machine %s: %v", m.Name, err)
		}
	}
	return ms
}

// kubeadmFailed matches kubeadm's fatal error as it reaches the console.
var kubeadmFailed = regexp.MustCompile(`error: error execution phase .*`)

// execHealth says whether podman can still run a process in the server's
// node container (it cannot once the container's cgroup was removed under
// it).
func (c *testCloud) execHealth(serverID string) string {
	ct, err := c.containerOf(serverID)
	if err != nil {
		return err.Error()
	}
	if out, err := c.engine.Run(c.ctx, "exec", ct.ID, "true"); err != nil {
		return fmt.Sprintf("podman exec fails: %v %s", err, out)
	}
	return "podman exec works"
}

// waitReady waits until every named Node is Ready and returns when each
// first was seen Ready. The state in a failure names each machine's server
// status and the end of its console.
func (cl *cluster) waitReady(timeout time.Duration, names ...string) map[string]time.Time {
	cl.t.Helper()
	seen := map[string]time.Time{}
	eventually(cl.t, cl.ctx, timeout, fmt.Sprintf("Nodes %v Ready", names), func(ctx context.Context) (bool, string, error) {
		var state, failed []string
		for _, n := range names {
			if _, ok := seen[n]; ok {
				continue
			}
			no, err := cl.cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			switch {
			case err == nil && kubetest.NodeReady(no) == corev1.ConditionTrue:
				seen[n] = time.Now()
				continue
			case err == nil:
				state = append(state, fmt.Sprintf("%s: Node Ready=%s", n, kubetest.NodeReady(no)))
			default:
				state = append(state, fmt.Sprintf("%s: %v", n, err))
			}
			if id := cl.servers[n]; id != "" {
				st, _ := cl.serverStatus(id)
				out, _ := cl.console(id)
				state = append(state, fmt.Sprintf("server %s %s (%s), console ends:\n%s", id, st, cl.execHealth(id), tail(out, 8)))
				if m := kubeadmFailed.FindString(out); m != "" {
					failed = append(failed, n+": "+m+"\n"+grepLines(out, "cloud-init["))
				}
			}
		}
		if len(failed) > 0 {
			return false, "", &stopError{fmt.Errorf("kubeadm failed on %s; state:\n%s", strings.Join(failed, "; "), strings.Join(state, "\n"))}
		}
		return len(seen) == len(names), strings.Join(state, "\n"), nil
	})
	return seen
}

// TestOpenstrapUserDataCluster boots a 1 control plane + 2 worker cluster
// on the simulator with container machines from openstrap's own pieces, as
// examples/create-cluster does (infra.Ensure, userdata init and join,
// provider machines with the API server pool), and checks it as a user
// would with client-go through the floating IP; then bad user data (not
// cloud-config, a wrong CA pin, an expired token) on servers that stay
// ACTIVE while the console says why they did not join; a deleted worker's
// Node goes NotReady; and nothing of the runtime is left afterwards.
func TestOpenstrapUserDataCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	c := startCloud(t, ctx, "udc")
	cl := c.newCluster()
	// A second token that expires right after kubeadm init made it.
	expiring, err := userdata.NewBootstrapToken(userdata.WithTokenTTL(time.Second))
	if err != nil {
		t.Fatal(err)
	}

	cp := c.name + "-control-plane-0"
	t0 := time.Now()
	cl.create(c.spec(cp, provider.ControlPlane, cl.initData(expiring)))
	created := time.Since(t0)
	ready := cl.waitReady(15*time.Minute, cp)
	cpReady := ready[cp].Sub(t0)
	t.Logf("FIGURE control plane: server create to ACTIVE %v, to Node Ready %v", created.Round(time.Second), cpReady.Round(time.Second))

	// The expiring token is gone (tokencleaner) and unsigned (bootstrapsigner)
	// before a worker tries it.
	eventually(t, ctx, 3*time.Minute, "expired token removed", func(ctx context.Context) (bool, string, error) {
		_, err := cl.cs.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-"+expiring.ID, metav1.GetOptions{})
		if err == nil || !apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("Secret bootstrap-token-%s still there (%v)", expiring.ID, err), nil
		}
		ci, err := cl.cs.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		if _, ok := ci.Data["jws-kubeconfig-"+expiring.ID]; ok {
			return false, "cluster-info still signed for the expired token", nil
		}
		if _, ok := ci.Data["jws-kubeconfig-"+cl.token.ID]; !ok {
			return false, "cluster-info not signed for the good token", nil
		}
		return true, "", nil
	})

	otherPKI, err := userdata.NewClusterPKI()
	if err != nil {
		t.Fatal(err)
	}
	workers := []string{c.name + "-worker-0", c.name + "-worker-1"}
	bad := map[string]string{
		"not-cloud-config": c.name + "-bad-yaml",
		"wrong CA pin":     c.name + "-bad-pin",
		"expired token":    c.name + "-bad-token",
	}
	specs := []provider.MachineSpec{
		c.spec(workers[0], provider.Worker, cl.workerData(nil)),
		c.spec(workers[1], provider.Worker, cl.workerData(nil)),
		c.spec(bad["not-cloud-config"], provider.Worker, []byte(badCloudConfig)),
		c.spec(bad["wrong CA pin"], provider.Worker, cl.workerData(func(j *userdata.JoinWorker) {
			j.CACertHashes = []string{otherPKI.CACertHash()}
		})),
		c.spec(bad["expired token"], provider.Worker, cl.workerData(func(j *userdata.JoinWorker) {
			j.Token = expiring
			j.Timeouts.Discovery = time.Minute // kubeadm's 5 min would only make the test wait
		})),
	}
	t1 := time.Now()
	cl.create(specs...)
	ready = cl.waitReady(15*time.Minute, workers...)
	for _, w := range workers {
		t.Logf("FIGURE worker %s: server create (batch of 5) to Node Ready %v", w, ready[w].Sub(t1).Round(time.Second))
	}

	t.Run("Nodes run kubelet "+tools.KubernetesVersion+" with the servers' provider IDs", func(t *testing.T) {
		nodes, err := cl.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for _, n := range append([]string{cp}, workers...) {
			want[n] = "openstack:///" + cl.servers[n]
		}
		got := map[string]bool{}
		for _, n := range nodes.Items {
			got[n.Name] = true
			w, ok := want[n.Name]
			if !ok {
				t.Errorf("unexpected Node %s (a bad machine joined?)", n.Name)
				continue
			}
			if v := n.Status.NodeInfo.KubeletVersion; v != tools.KubernetesVersion {
				t.Errorf("Node %s: kubelet %q, want %s", n.Name, v, tools.KubernetesVersion)
			}
			if n.Spec.ProviderID != w {
				t.Errorf("Node %s: provider ID %q, want %q", n.Name, n.Spec.ProviderID, w)
			}
			if kubetest.NodeReady(&n) != corev1.ConditionTrue {
				t.Errorf("Node %s not Ready", n.Name)
			}
		}
		for n := range want {
			if !got[n] {
				t.Errorf("no Node %s", n)
			}
		}
	})

	t.Run("kube-system runs", func(t *testing.T) {
		eventually(t, ctx, 5*time.Minute, "kube-system pods Running", func(ctx context.Context) (bool, string, error) {
			return kubetest.KubeSystemRunning(ctx, cl.cs, 3)
		})
	})

	t.Run("a Deployment of pause pods becomes Available", func(t *testing.T) {
		d := kubetest.PauseDeployment(3)
		if _, err := cl.cs.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, ctx, 5*time.Minute, "Deployment Available", func(ctx context.Context) (bool, string, error) {
			return kubetest.DeploymentAvailable(ctx, cl.cs, d)
		})
	})

	t.Run("each console holds cloud-init's final message", func(t *testing.T) {
		for _, n := range append([]string{cp}, workers...) {
			cl.assertBootConsole(t, n)
		}
	})

	t.Run("memory of the 1+2 cluster", func(t *testing.T) {
		ws, usage, per := cl.memory(t, append([]string{cp}, workers...)...)
		t.Logf("FIGURE memory of the 1+2 cluster (node containers' cgroups): working set %s, usage with page cache %s; %s", mib(ws), mib(usage), per)
		if usage > 3<<30 {
			t.Errorf("the 1+2 cluster uses %s (page cache included), more than 3 GiB", mib(usage))
		}
	})

	t.Run("bad user data: the server stays ACTIVE and its console says why it did not join", func(t *testing.T) {
		cases := []struct {
			name string
			want *regexp.Regexp
		}{
			// cloud-init's YAML loader, as the console shows its warning.
			{bad["not-cloud-config"], regexp.MustCompile(`Failed loading yaml blob`)},
			// kubeadm's token discovery with a pin of another CA.
			{bad["wrong CA pin"], regexp.MustCompile(`cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "sha256:[0-9a-f]{64}" are pinned`)},
			// kubeadm's token discovery once its timeout (1 min here) is over.
			{bad["expired token"], regexp.MustCompile(`could not find a JWS signature in the cluster-info ConfigMap for token ID "` + expiring.ID + `"`)},
		}
		for _, tc := range cases {
			id := cl.servers[tc.name]
			eventually(t, ctx, 9*time.Minute, tc.name+": console says why", func(ctx context.Context) (bool, string, error) {
				out, err := cl.console(id)
				if err != nil {
					return false, "", err
				}
				if tc.want.MatchString(out) && cloudInitDone.MatchString(out) {
					return true, "", nil
				}
				return false, "console ends:\n" + tail(out, 12), nil
			})
			out, _ := cl.console(id)
			t.Logf("%s: %s", tc.name, tc.want.FindString(out))
			if st, err := cl.serverStatus(id); err != nil || st != "ACTIVE" {
				t.Errorf("server %s (%s) is %s (%v), want ACTIVE", tc.name, id, st, err)
			}
			if _, err := cl.cs.CoreV1().Nodes().Get(ctx, tc.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("%s: Node lookup gave %v, want NotFound", tc.name, err)
			}
			if tc.name != bad["not-cloud-config"] && strings.Contains(out, "kubeadm join") && !strings.Contains(out, "error execution phase preflight") {
				t.Errorf("%s: kubeadm join did not fail in preflight:\n%s", tc.name, tail(out, 20))
			}
		}
	})

	t.Run("a worker whose server is deleted goes NotReady, the others stay Ready", func(t *testing.T) {
		gone, stay := workers[1], []string{cp, workers[0]}
		if err := servers.Delete(ctx, cl.cloud.Compute, cl.servers[gone]).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		td := time.Now()
		eventually(t, ctx, 4*time.Minute, "Node "+gone+" NotReady", func(ctx context.Context) (bool, string, error) {
			n, err := cl.cs.CoreV1().Nodes().Get(ctx, gone, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			st := kubetest.NodeReady(n)
			return st != corev1.ConditionTrue, "Ready=" + string(st), nil
		})
		t.Logf("Node %s NotReady %v after its server's deletion", gone, time.Since(td).Round(time.Second))
		// A stopped sibling must not take the other nodes' cgroups with it.
		time.Sleep(30 * time.Second)
		for _, n := range stay {
			no, err := cl.cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if kubetest.NodeReady(no) != corev1.ConditionTrue {
				t.Errorf("Node %s is %s after another node's server was deleted", n, kubetest.NodeReady(no))
			}
		}
	})
}

// assertBootConsole checks, through Nova, that the console of machine n
// holds cloud-init's final message and no schema warning.
func (cl *cluster) assertBootConsole(t *testing.T, n string) {
	t.Helper()
	out, err := cl.console(cl.servers[n])
	if err != nil {
		t.Fatalf("console of %s: %v", n, err)
	}
	if !cloudInitDone.MatchString(out) {
		t.Errorf("server %s: console has no cloud-init final message; its end:\n%s", n, tail(out, 15))
	}
	if strings.Contains(out, "Invalid cloud-config provided") {
		t.Errorf("server %s: cloud-init found the merged cloud-config invalid:\n%s", n, grepLines(out, "cloud-config"))
	}
}

// badCloudConfig claims to be cloud-config but is not YAML.
const badCloudConfig = `#cloud-config
runcmd:
  - [ echo, "never runs"
write_files: {{ path: /etc/never
`

// memory sums the working set (memory.usage_in_bytes minus
// total_inactive_file, as kubelet counts it) and the usage (page cache
// included, as podman stats shows it) of the named
// machines' node containers from their cgroup v1 memory controller, which
// holds everything the node runs (pods included: the node's cgroup
// namespace roots them under the container).
func (c *testCloud) memory(t testing.TB, names ...string) (workingSet, usage int64, per string) {
	t.Helper()
	var total, all int64
	var lines []string
	for _, n := range names {
		ct, err := c.containerOf(c.serverID(n))
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.engine.Run(c.ctx, "inspect", "--format", "{{.State.CgroupPath}}", ct.ID)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join("/sys/fs/cgroup/memory", strings.TrimSpace(string(out)))
		u, err := readInt(filepath.Join(dir, "memory.usage_in_bytes"))
		if err != nil {
			t.Fatalf("memory of %s: %v", n, err)
		}
		inactive, err := memStat(filepath.Join(dir, "memory.stat"), "total_inactive_file")
		if err != nil {
			t.Fatalf("memory of %s: %v", n, err)
		}
		ws := u - inactive
		total += ws
		all += u
		lines = append(lines, fmt.Sprintf("%s %s (usage %s)", n, mib(ws), mib(u)))
	}
	if out, err := exec.CommandContext(c.ctx, "podman", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}").CombinedOutput(); err == nil {
		t.Logf("podman stats:\n%s", out)
	}
	return total, all, strings.Join(lines, "; ")
}

func (c *testCloud) serverID(name string) string {
	pages, err := servers.List(c.cloud.Compute, servers.ListOpts{Name: "^" + regexp.QuoteMeta(name) + "$"}).AllPages(c.ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	ss, err := servers.ExtractServers(pages)
	if err != nil || len(ss) != 1 {
		c.t.Fatalf("server %s: %d found (%v)", name, len(ss), err)
	}
	return ss[0].ID
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func memStat(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && k == key {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// BenchmarkOpenstrapUserDataCluster3x10 boots a 3 control plane + 10 worker
// cluster the same way (control planes one after the other, as kubeadm's
// etcd member joins want, then the workers as one batch) and reports the
// time to all Nodes Ready and the node containers' memory. Run it alone on
// the machine (13 nodes took a 2-core host to load 300 while they booted):
//
//	flock /tmp/openstrap-containers.lock go test -count=1 -run '^$' -bench OpenstrapUserDataCluster3x10 -benchtime 1x -timeout 60m -v ./internal/machines/
func BenchmarkOpenstrapUserDataCluster3x10(b *testing.B) {
	for i := 0; i < b.N; i++ {
		bootLarge(b, 3, 10)
	}
}

func bootLarge(b *testing.B, controlPlanes, workers int) {
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	c := startCloud(b, ctx, "big")
	// A fresh simulated project allows 10 instances, 20 cores.
	admin, err := c.sim.AdminCloud(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := quotasets.Update(ctx, admin.Compute, openstacktest.MemberProjectID, quotasets.UpdateOpts{
		Instances: ptr.To(controlPlanes + workers + 5), Cores: ptr.To(4 * (controlPlanes + workers)),
		RAM: ptr.To(8192 * (controlPlanes + workers))}).Extract(); err != nil {
		b.Fatalf("raise the compute quota: %v", err)
	}
	cl := c.newCluster()
	var names []string
	t0 := time.Now()
	for i := 0; i < controlPlanes; i++ {
		name := fmt.Sprintf("%s-control-plane-%d", c.name, i)
		data := cl.joinControlPlaneData()
		if i == 0 {
			data = cl.initData()
		}
		ti := time.Now()
		cl.create(c.spec(name, provider.ControlPlane, data))
		r := cl.waitReady(20*time.Minute, name)
		b.Logf("FIGURE %s: server create to Node Ready %v", name, r[name].Sub(ti).Round(time.Second))
		names = append(names, name)
	}
	var specs []provider.MachineSpec
	var ws []string
	for i := 0; i < workers; i++ {
		name := fmt.Sprintf("%s-worker-%d", c.name, i)
		specs = append(specs, c.spec(name, provider.Worker, cl.workerData(nil)))
		ws = append(ws, name)
	}
	tw := time.Now()
	cl.create(specs...)
	r := cl.waitReady(30*time.Minute, ws...)
	var last time.Time
	for _, w := range ws {
		if r[w].After(last) {
			last = r[w]
		}
	}
	names = append(names, ws...)
	b.Logf("FIGURE %d workers: batch create to all Ready %v; first control plane create to all %d Nodes Ready %v",
		workers, last.Sub(tw).Round(time.Second), len(names), last.Sub(t0).Round(time.Second))
	eventually(b, ctx, 10*time.Minute, "kube-system pods Running", func(ctx context.Context) (bool, string, error) {
		return kubetest.KubeSystemRunning(ctx, cl.cs, len(names))
	})
	set, usage, per := cl.memory(b, names...)
	b.Logf("FIGURE memory of the %d+%d cluster: working set %s, usage with page cache %s; %s", controlPlanes, workers, mib(set), mib(usage), per)
	b.ReportMetric(float64(set)/(1<<20), "MiB-working-set")
	b.ReportMetric(float64(usage)/(1<<20), "MiB-usage")
	b.ReportMetric(last.Sub(t0).Seconds(), "s-to-ready")
}
