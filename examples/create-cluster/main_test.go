package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/simhost"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/userdata"
)

// The test binary doubles as the background simulator, as the real binary
// does.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == serveSimCommand {
		os.Exit(serveSim(os.Args[2]))
	}
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

func testConfig(t *testing.T, dir string) *config {
	t.Helper()
	return &config{Name: "e2e", Dir: dir, KubernetesVersion: "v1.37.2", NodeCIDR: "10.6.0.0/24",
		ControlPlanes: 1, Workers: 2, Bootstrap: "local", JoinTimeout: 2 * time.Minute,
		Out: testWriter{t}, Log: logr.Discard(), simCommand: []string{os.Args[0], serveSimCommand}}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestCreateCluster runs the seven steps on the embedded defaults and checks
// each step's outcome, then tears everything down with delete-cluster.
func TestCreateCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.ControlPlanes = 2
	t.Cleanup(func() { cleanup(t, dir) })
	sum, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Step 1: the endpoint is the load balancer's floating IP.
	if !strings.HasPrefix(sum.Endpoint, "https://127.") || !strings.HasSuffix(sum.Endpoint, ":6443") {
		t.Errorf("endpoint = %q, want the floating IP on 6443", sum.Endpoint)
	}
	// Steps 4 and 7: the admin kubeconfig reaches the cluster, every machine is a Node.
	kc, err := os.ReadFile(sum.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
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
	// Step 6: the management objects live in the target, not in the bootstrap cluster.
	tc, err := newClient(rc)
	if err != nil {
		t.Fatal(err)
	}
	var machines clusterv1.MachineList
	if err := tc.List(ctx, &machines, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	if len(machines.Items) != 4 {
		t.Errorf("target holds %d Machines, want 4", len(machines.Items))
	}
	for _, m := range machines.Items {
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
	// Running again changes nothing and finishes.
	before := cloudResources(t, ctx, dir)
	again := testConfig(t, dir)
	again.ControlPlanes = 2
	if _, err := run(ctx, again); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if diff := cmp.Diff(before, cloudResources(t, ctx, dir)); diff != "" {
		t.Errorf("second run changed the cloud (-before +after):\n%s", diff)
	}

	// delete-cluster leaves nothing of the cluster and removes the directory.
	out := runDeleteCluster(t, dir)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("state directory still there after delete-cluster:\n%s", out)
	}
}

// TestDryRun prints every step's plan and creates nothing in the cloud.
func TestDryRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t.Cleanup(func() { cleanup(t, dir) })
	cfg := testConfig(t, dir)
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
	cfg := testConfig(t, dir)
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
	for step := 2; step <= 7; step++ {
		cfg := testConfig(t, dir)
		cfg.Out = io.Discard
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
		cfg = testConfig(t, dir)
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

// cleanup stops what a failed test left running.
func cleanup(t *testing.T, dir string) {
	if _, err := os.Stat(dir); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := simhost.Stop(ctx, filepath.Join(dir, "cloud")); err != nil {
		t.Logf("stop simulator: %v", err)
	}
	// The bootstrap cluster's processes; kube-apiserver may hang in its
	// graceful shutdown once etcd is gone, so they get SIGKILL.
	if out, err := exec.Command("pkill", "-KILL", "-f", dir).CombinedOutput(); err != nil && len(out) > 0 {
		t.Logf("pkill: %s", out)
	}
}
