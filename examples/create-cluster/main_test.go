package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/containerruntime"
	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/internal/retry"
	"github.com/openstrap/openstrap/internal/simhost"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/userdata"
)

// The test binary doubles as the background simulator, as the real binary
// does.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == serveSimCommand {
		os.Exit(serveSim(os.Args[2:]))
	}
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

func testConfig(t *testing.T, dir string, kind machines.Kind) *config {
	t.Helper()
	return &config{Name: "e2e", Dir: dir, KubernetesVersion: "v1.37.2", NodeCIDR: testNodeCIDR(),
		ControlPlanes: 1, Workers: 2, Bootstrap: "local", JoinTimeout: 2 * time.Minute, Machines: kind,
		Out: testWriter{t}, Log: logr.Discard(), simCommand: []string{os.Args[0], serveSimCommand}}
}

// testNodeCIDR is a /24 that other tests' container networks on this host
// are unlikely to hold (podman refuses overlapping subnets), above the
// Service network 10.96.0.0/12 that preflight keeps node subnets out of.
func testNodeCIDR() string {
	return fmt.Sprintf("10.%d.%d.0/24", 112+rand.IntN(100), rand.IntN(250))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// capture makes cfg's output also go to the returned builder.
func capture(cfg *config) *strings.Builder {
	var b strings.Builder
	cfg.Out = io.MultiWriter(cfg.Out, &b)
	return &b
}

// TestCreateCluster runs the seven steps with container machines (podman
// node containers running systemd, cloud-init, kubeadm and kubelet) and
// checks each step's outcome: the control plane answers through the load
// balancer's floating IP, the objects are pivoted into the new cluster,
// every machine (workers included) is a real Node, Ready, with kubelet
// v1.37.2 and its server's provider ID and address, and CoreDNS runs on a
// pod address (the node image's bridge CNI: no CNI add-on). One control
// plane: a second one's real `kubeadm join --control-plane` joined in 2 of
// 3 runs on this loaded 2-core machine (TestFallbackToProcesses joins two
// on processes). It then stops the simulator (the containers keep running),
// runs again (the restarted simulator adopts them: same containers, nothing
// changed on the cloud), stops it again and tears everything down with
// delete-cluster, which must leave no container, podman network or volume
// of the cluster. Needs root and podman (make test installs it).
func TestCreateCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	engine, err := podman.Setup(ctx)
	if err != nil {
		t.Fatalf("TestCreateCluster boots container machines: podman must work on this machine (make test installs it; run as root): %v", err)
	}
	dir := t.TempDir()
	cfg := testConfig(t, dir, machines.Containers)
	cfg.JoinTimeout = 10 * time.Minute
	// As for a user: the flow copies its binary (here the test binary, whose
	// TestMain serves) into the state directory, where delete-cluster
	// restarts the stopped simulator from.
	cfg.simCommand = nil
	out := capture(cfg)
	t.Cleanup(func() { cleanup(t, dir) })
	sum, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "servers boot as containers (podman, node image ") {
		t.Errorf("output lacks the container runtime line:\n%s", out)
	}
	// Step 1: the endpoint is the load balancer's floating IP.
	if !strings.HasPrefix(sum.Endpoint, "https://127.") || !strings.HasSuffix(sum.Endpoint, ":6443") {
		t.Errorf("endpoint = %q, want the floating IP on 6443", sum.Endpoint)
	}
	// Steps 4 and 7: the admin kubeconfig reaches the cluster through the
	// floating IP; every machine is a Node that kubelet registered.
	kc, err := os.ReadFile(sum.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != sum.Endpoint {
		t.Errorf("kubeconfig server = %s, want the endpoint %s", rc.Host, sum.Endpoint)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*provider.Machine{}
	for _, m := range sum.Machines {
		want[m.Name] = m
	}
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
		m := want[n.Name]
		if m == nil {
			continue
		}
		if !nodeReady(&n) {
			t.Errorf("node %s is not Ready: %+v", n.Name, n.Status.Conditions)
		}
		if got := n.Status.NodeInfo.KubeletVersion; got != "v1.37.2" {
			t.Errorf("node %s kubelet %q, want v1.37.2 (a real kubelet)", n.Name, got)
		}
		if n.Spec.ProviderID != m.ProviderID {
			t.Errorf("node %s providerID %q, want its server's %q", n.Name, n.Spec.ProviderID, m.ProviderID)
		}
		var ips []string
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ips = append(ips, a.Address)
			}
		}
		if !slices.Contains(ips, m.InternalAddress) {
			t.Errorf("node %s internal IPs %v, want its port's %s", n.Name, ips, m.InternalAddress)
		}
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"e2e-control-plane-0", "e2e-worker-0", "e2e-worker-1"}, names); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	// No CNI add-on: CoreDNS gets a pod address from the node image's bridge CNI.
	var dns string
	err = retry.Until(ctx, retry.Policy{Initial: time.Second, Max: 5 * time.Second, MaxElapsed: 5 * time.Minute}, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			dns = fmt.Sprintf("%s %s %s", p.Name, p.Status.Phase, p.Status.PodIP)
			if p.Status.Phase == corev1.PodRunning && strings.HasPrefix(p.Status.PodIP, "10.244.") {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("no CoreDNS pod Running on a pod address (last: %q): %v", dns, err)
	}
	// Step 6: the management objects live in the target, not in the bootstrap cluster.
	checkPivoted(t, ctx, dir, rc, 3)

	// The servers are this runtime's containers (found by the server ID label).
	instance := ""
	containerIDs := map[string]string{}
	for _, m := range sum.Machines {
		cs, err := engine.ListContainers(ctx, map[string]string{containerruntime.LabelServer: m.ServerID})
		if err != nil || len(cs) != 1 || cs[0].State != "running" {
			t.Fatalf("container of server %s (%s): %+v, %v; want one running", m.Name, m.ServerID, cs, err)
		}
		containerIDs[m.Name] = cs[0].ID
		instance = cs[0].Labels[containerruntime.LabelInstance]
	}
	if instance == "" {
		t.Fatal("the containers carry no runtime instance label")
	}

	// The simulator stops; the containers keep running. Running again
	// restarts it, which adopts them: the same containers, the cloud as it
	// was, the cluster still answers.
	simDir := filepath.Join(dir, "cloud")
	before := cloudResources(t, ctx, dir)
	if err := simhost.Stop(ctx, simDir); err != nil {
		t.Fatal(err)
	}
	for name, id := range containerIDs {
		c, err := engine.InspectContainer(ctx, id)
		if err != nil || !c.State.Running {
			t.Errorf("container of %s after the simulator stopped: %+v, %v; want it running", name, c, err)
		}
	}
	again := testConfig(t, dir, machines.Auto)
	again.NodeCIDR, again.simCommand, again.ControlPlanes = cfg.NodeCIDR, nil, cfg.ControlPlanes
	if _, err := run(ctx, again); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if diff := cmp.Diff(before, cloudResources(t, ctx, dir)); diff != "" {
		t.Errorf("second run changed the cloud (-before +after):\n%s", diff)
	}
	for _, m := range sum.Machines {
		cs, err := engine.ListContainers(ctx, map[string]string{containerruntime.LabelServer: m.ServerID})
		if err != nil || len(cs) != 1 || cs[0].ID != containerIDs[m.Name] {
			t.Errorf("container of %s after the restart: %+v, %v; want the same %s", m.Name, cs, err, containerIDs[m.Name])
		}
	}

	// delete-cluster restarts the stopped simulator, deletes the machines
	// and infrastructure, stops it for good and removes the directory:
	// nothing of the cluster is left in podman.
	if err := simhost.Stop(ctx, simDir); err != nil {
		t.Fatal(err)
	}
	deleted := runDeleteCluster(t, dir)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("state directory still there after delete-cluster:\n%s", deleted)
	}
	labels := map[string]string{containerruntime.LabelInstance: instance}
	if cs, err := engine.ListContainers(ctx, labels); err != nil || len(cs) != 0 {
		t.Errorf("containers left after delete-cluster: %+v, %v", cs, err)
	}
	if ns, err := engine.ListNetworks(ctx, labels); err != nil || len(ns) != 0 {
		t.Errorf("podman networks left after delete-cluster: %+v, %v", ns, err)
	}
	if vs, err := engine.ListVolumes(ctx, labels); err != nil || len(vs) != 0 {
		t.Errorf("volumes left after delete-cluster: %v, %v", vs, err)
	}
}

// TestFallbackToProcesses runs the seven steps with --machines auto where
// podman is not on PATH: create-cluster must say that the servers boot as
// processes and why, and the flow (2 control planes, 2 workers) must still
// work on the process runtime; delete-cluster leaves nothing.
func TestFallbackToProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t.Setenv("PATH", pathWithout(t, "podman"))
	if _, err := exec.LookPath("podman"); err == nil {
		t.Fatal("podman still on PATH")
	}
	dir := t.TempDir()
	cfg := testConfig(t, dir, machines.Auto)
	cfg.ControlPlanes = 2
	out := capture(cfg)
	t.Cleanup(func() { cleanup(t, dir) })
	sum, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const want = "servers boot as processes, not containers (openstrap acts out kubeadm; no kubelet runs): no container engine works on this machine: podman is not installed"
	if !strings.Contains(out.String(), want) {
		t.Errorf("output lacks the fallback line %q:\n%s", want, out)
	}
	kc, err := os.ReadFile(sum.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := kubernetes.NewForConfigOrDie(rc).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"e2e-control-plane-0", "e2e-control-plane-1", "e2e-worker-0", "e2e-worker-1"}, names); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	checkPivoted(t, ctx, dir, rc, 4)
	deleted := runDeleteCluster(t, dir)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("state directory still there after delete-cluster:\n%s", deleted)
	}
}

// pathWithout returns a PATH of one directory holding links to every
// program on PATH but name.
func pathWithout(t *testing.T, name string) string {
	t.Helper()
	bin := t.TempDir()
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			dst := filepath.Join(bin, e.Name())
			if e.Name() == name || e.IsDir() {
				continue
			}
			if _, err := os.Lstat(dst); err == nil {
				continue // the first on PATH wins
			}
			if err := os.Symlink(filepath.Join(d, e.Name()), dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	return bin
}

// checkPivoted checks that the management objects live in the target
// cluster, not in the bootstrap cluster, with every Machine's node set.
func checkPivoted(t *testing.T, ctx context.Context, dir string, rc *rest.Config, machines int) {
	t.Helper()
	tc, err := newClient(rc)
	if err != nil {
		t.Fatal(err)
	}
	var ms clusterv1.MachineList
	if err := tc.List(ctx, &ms, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	if len(ms.Items) != machines {
		t.Errorf("target holds %d Machines, want %d", len(ms.Items), machines)
	}
	for _, m := range ms.Items {
		if m.Status.NodeRef.Name != m.Name {
			t.Errorf("Machine %s nodeRef = %q, want its node", m.Name, m.Status.NodeRef.Name)
		}
	}
	var cl clusterv1.Cluster
	if err := tc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "e2e"}, &cl); err != nil {
		t.Fatalf("Cluster not in the target: %v", err)
	}
	if cl.Spec.Paused != nil && *cl.Spec.Paused {
		t.Error("Cluster is still paused in the target")
	}
	src := localClient(t, ctx, dir)
	var left clusterv1.ClusterList
	if err := src.List(ctx, &left); err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 0 {
		t.Errorf("bootstrap cluster still holds %d Clusters after the pivot", len(left.Items))
	}
}

// TestDryRun prints every step's plan and creates nothing in the cloud.
func TestDryRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t.Cleanup(func() { cleanup(t, dir) })
	cfg := testConfig(t, dir, machines.Processes)
	var out strings.Builder
	cfg.Out = &out
	cfg.DryRun = true
	if _, err := run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[1/7] infrastructure (plan)", "create network", "e2e-network", "[7/7] create 2 worker"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	if got := cloudResources(t, ctx, dir); len(got) != 0 {
		t.Errorf("dry run created %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "bootstrap")); !os.IsNotExist(err) {
		t.Errorf("dry run made a bootstrap cluster")
	}
}

// TestWorkerJoinFailuresReported breaks one worker's CA pin and gives another
// a token the cluster does not know: both must fail to join, and the report
// must say why, from the machines' console logs.
func TestWorkerJoinFailuresReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t.Cleanup(func() { cleanup(t, dir) })
	cfg := testConfig(t, dir, machines.Processes)
	cfg.Workers = 3
	cfg.JoinTimeout = 20 * time.Second
	other, err := userdata.NewClusterPKI()
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := userdata.NewBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	cfg.mutateWorker = func(i int, w *userdata.JoinWorker) {
		switch i {
		case 1:
			w.CACertHashes = []string{other.CACertHash()}
		case 2:
			w.Token = stranger
		}
	}
	sum, err := run(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "2 worker(s) did not join") {
		t.Fatalf("run = %v, want 2 workers that did not join", err)
	}
	for name, want := range map[string]string{
		"e2e-worker-1": "matches none of the 1 pinned hashes",
		"e2e-worker-2": "no signature for token ID",
	} {
		if got := sum.NotJoined[name]; !strings.Contains(got, want) {
			t.Errorf("report for %s = %q, want it to say %q", name, got, want)
		}
		if strings.Contains(sum.NotJoined[name], stranger.Secret) {
			t.Errorf("report for %s leaks a token secret", name)
		}
	}
	if _, ok := sum.NotJoined["e2e-worker-0"]; ok {
		t.Errorf("the good worker did not join: %s", sum.NotJoined["e2e-worker-0"])
	}
}

// TestResumeAfterInterrupt cancels the flow before each step in turn, runs it
// again to the end, and checks that the cloud holds exactly one cluster's
// resources.
func TestResumeAfterInterrupt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t.Cleanup(func() { cleanup(t, dir) })
	var want []string
	cidr := testNodeCIDR()
	for step := 2; step <= 7; step++ {
		cfg := testConfig(t, dir, machines.Processes)
		cfg.NodeCIDR = cidr
		cfg.Out = io.Discard
		out := capture(cfg)
		sctx, scancel := context.WithCancel(ctx)
		cfg.beforeStep = func(s int) {
			if s == step {
				scancel()
			}
		}
		if _, err := run(sctx, cfg); err == nil || sctx.Err() == nil {
			t.Fatalf("interrupt before step %d: run = %v, want it cancelled", step, err)
		}
		scancel()
		// Asked for, the process runtime is named (not a fallback).
		if line := "servers boot as processes (--machines processes; openstrap acts out kubeadm, no kubelet runs)"; !strings.Contains(out.String(), line) {
			t.Fatalf("output lacks %q:\n%s", line, out)
		}
		cfg = testConfig(t, dir, machines.Processes)
		cfg.NodeCIDR = cidr
		cfg.Out = io.Discard
		if _, err := run(ctx, cfg); err != nil {
			t.Fatalf("resume after an interrupt before step %d: %v", step, err)
		}
		got := cloudResources(t, ctx, dir)
		if want == nil {
			want = got
			if len(want) == 0 {
				t.Fatal("no resources")
			}
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("after an interrupt before step %d the cloud differs (-first +now):\n%s", step, diff)
		}
	}
	t.Logf("swept interrupts before steps 2-7; each resumed to the same %d resources", len(want))
}

// cloudResources lists every resource tagged for the e2e cluster, by kind
// and name.
func cloudResources(t *testing.T, ctx context.Context, dir string) []string {
	t.Helper()
	cloud, err := provider.Connect(ctx, provider.WithCloudsYAML(simhost.Paths{Dir: filepath.Join(dir, "cloud")}.CloudsYAML()),
		provider.WithCloud(simhost.CloudName))
	if err != nil {
		t.Fatal(err)
	}
	tag := infra.OwnerTag("e2e")
	var out []string
	add := func(kind string, err error, names ...string) {
		if err != nil {
			t.Fatalf("list %s: %v", kind, err)
		}
		for _, n := range names {
			out = append(out, kind+"/"+n)
		}
	}
	pn, err := networks.List(cloud.Network, networks.ListOpts{Tags: tag}).AllPages(ctx)
	nets, _ := networks.ExtractNetworks(pn)
	add("network", err, namesOf(nets, func(n networks.Network) string { return n.Name })...)
	ps, err := subnets.List(cloud.Network, subnets.ListOpts{Tags: tag}).AllPages(ctx)
	sns, _ := subnets.ExtractSubnets(ps)
	add("subnet", err, namesOf(sns, func(n subnets.Subnet) string { return n.Name })...)
	pr, err := routers.List(cloud.Network, routers.ListOpts{Tags: tag}).AllPages(ctx)
	rts, _ := routers.ExtractRouters(pr)
	add("router", err, namesOf(rts, func(n routers.Router) string { return n.Name })...)
	pp, err := ports.List(cloud.Network, ports.ListOpts{Tags: tag}).AllPages(ctx)
	pts, _ := ports.ExtractPorts(pp)
	add("port", err, namesOf(pts, func(n ports.Port) string { return n.Name })...)
	pg, err := groups.List(cloud.Network, groups.ListOpts{Tags: tag}).AllPages(ctx)
	sgs, _ := groups.ExtractGroups(pg)
	add("security-group", err, namesOf(sgs, func(n groups.SecGroup) string { return n.Name })...)
	pf, err := floatingips.List(cloud.Network, floatingips.ListOpts{Tags: tag}).AllPages(ctx)
	fips, _ := floatingips.ExtractFloatingIPs(pf)
	add("floating-ip", err, namesOf(fips, func(n floatingips.FloatingIP) string { return n.Description })...)
	pl, err := loadbalancers.List(cloud.LoadBalancer, loadbalancers.ListOpts{Tags: []string{tag}}).AllPages(ctx)
	lbs, _ := loadbalancers.ExtractLoadBalancers(pl)
	add("load-balancer", err, namesOf(lbs, func(n loadbalancers.LoadBalancer) string { return n.Name })...)
	pv, err := servers.List(cloud.Compute, servers.ListOpts{Tags: tag}).AllPages(ctx)
	svs, _ := servers.ExtractServers(pv)
	add("server", err, namesOf(svs, func(n servers.Server) string { return n.Name + ":" + n.Status })...)
	sort.Strings(out)
	return out
}

func namesOf[T any](items []T, name func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, name(it))
	}
	return out
}

func localClient(t *testing.T, ctx context.Context, dir string) client.Client {
	t.Helper()
	kc, err := os.ReadFile(filepath.Join(dir, "bootstrap", "admin.kubeconfig"))
	if err != nil {
		t.Fatalf("bootstrap cluster kubeconfig: %v", err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newClient(rc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runDeleteCluster runs examples/delete-cluster on dir, as a user would.
func runDeleteCluster(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "delete-cluster")
	build := exec.Command("go", "build", "-o", bin, "../delete-cluster")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build delete-cluster: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--name", "e2e", "--dir", dir)
	cmd.Env = append(os.Environ(), "OS_CLOUD=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("delete-cluster: %v\n%s", err, out)
	}
	t.Logf("delete-cluster:\n%s", out)
	return string(out)
}

// cleanup stops what a failed test left running. A simulator with
// container machines is started again if it stopped (it adopts its
// containers) and stopped for good, which removes them.
func cleanup(t *testing.T, dir string) {
	if _, err := os.Stat(dir); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	simDir := filepath.Join(dir, "cloud")
	if rec, err := simhost.ReadMachines(simDir); err == nil && rec.Kind == machines.Containers {
		if _, err := simhost.Start(ctx, simDir, os.Args[0], append([]string{serveSimCommand}, simhost.ServeArgs(simDir, "")...)...); err != nil {
			t.Logf("restart the simulator to remove its containers: %v", err)
		}
	}
	if err := simhost.StopAndRemove(ctx, simDir); err != nil {
		t.Logf("stop simulator: %v", err)
	}
	// The bootstrap cluster's processes; kube-apiserver may hang in its
	// graceful shutdown once etcd is gone, so they get SIGKILL.
	if out, err := exec.Command("pkill", "-KILL", "-f", dir).CombinedOutput(); err != nil && len(out) > 0 {
		t.Logf("pkill: %s", out)
	}
}

// TestConsoleReason keeps kubeadm's error lines that cloud-init's closing
// lines would otherwise push out of a not-joined report.
func TestConsoleReason(t *testing.T) {
	console := "[init] x\nerror execution phase control-plane-join/etcd: timeout\nmore\n\x1b[0;32m  OK  \x1b[0m] Failed to start cloud-final.service\nSee 'systemctl status cloud-final.service' for details.\n[  OK  ] Reached target cloud-init.target\n"
	got := consoleReason(console)
	want := "error execution phase control-plane-join/etcd: timeout | OK  ] Failed to start cloud-final.service | See 'systemctl status cloud-final.service' for details. | [  OK  ] Reached target cloud-init.target"
	if got != want {
		t.Errorf("consoleReason = %q, want %q", got, want)
	}
	if got := consoleReason("a\nb\n"); got != "a | b" {
		t.Errorf("consoleReason(short) = %q", got)
	}
}
