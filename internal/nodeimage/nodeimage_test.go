package nodeimage

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/internal/tools"
)

// guardedSysctls are host-global kernel settings a node must not change.
var guardedSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "kernel/pid_max",
	"fs/protected_regular", "fs/protected_fifos", "fs/protected_hardlinks", "fs/protected_symlinks",
}

func readSysctls(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range guardedSysctls {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			continue
		}
		out[k] = strings.TrimSpace(string(b))
	}
	return out
}

// testEngine sets podman up or fails the test saying why.
func testEngine(t *testing.T, ctx context.Context) *podman.Engine {
	t.Helper()
	e, err := podman.Setup(ctx)
	if err != nil {
		if errors.Is(err, podman.ErrNotInstalled) {
			t.Fatalf("this test needs podman (as root): %v", err)
		}
		t.Fatalf("podman setup: %v", err)
	}
	return e
}

// TestBootControlPlaneAndWorker builds the node image and boots two nodes
// from NoCloud seeds, as a user's servers would: the first one's Jinja user
// data runs `kubeadm init`, the second's `kubeadm join` with token discovery
// and CA pin. It checks them as a user would: systemd running, cloud-init
// done with its final message on the console (podman logs), both Nodes Ready
// with kubelet v1.37.2 and the provider IDs from the seeds, the control plane,
// kube-proxy and CoreDNS Running, a Deployment of pause pods Available, a pod
// on the worker reachable from the control plane over the bridge CNI, the
// host's kernel settings unchanged; then removes everything by ID and checks
// that nothing is left.
func TestBootControlPlaneAndWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	e := testEngine(t, ctx)
	before := readSysctls(t)
	checkInotifyHeadroom(t, 2)

	start := time.Now()
	img, err := Build(ctx, WithLogger(testr.New(t)), WithEngine(e))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Build: %s in %s", img.Name, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if _, err := Build(ctx, WithEngine(e)); err != nil {
		t.Fatal(err)
	}
	warm := time.Since(start)
	t.Logf("warm Build: %s", warm.Round(time.Millisecond))
	if warm > 2*time.Second {
		t.Errorf("warm Build took %s, want well under a second or two", warm)
	}
	if out, err := e.Run(ctx, "image", "inspect", "--format", "{{.Size}}", img.Name); err == nil {
		t.Logf("image size: %s bytes", strings.TrimSpace(string(out)))
	}

	suffix := randHex(4)
	cp := bootNode(t, ctx, e, img, "openstrap-nodeimage-cp-"+suffix, func(instanceID string) string {
		return initUserData
	})
	defer cp.remove(t)
	cp.waitCloudInit(t, ctx)
	cp.waitReady(t, ctx, cp, 10*time.Minute)
	t.Logf("control plane: container start to Node Ready: %s", cp.readyAfter.Round(time.Second))

	wantPods := []string{"etcd-", "kube-apiserver-", "kube-controller-manager-", "kube-scheduler-", "kube-proxy-", "coredns-"}
	waitFor(t, ctx, 5*time.Minute, "kube-system pods to run", func() (bool, string) {
		pl, err := cp.pods("kube-system")
		if err != nil {
			return false, err.Error()
		}
		var missing []string
		for _, w := range wantPods {
			if !pl.running(w) {
				missing = append(missing, w+"*")
			}
		}
		return len(missing) == 0, "not Running: " + strings.Join(missing, ", ") + "\n" + pl.summary()
	})

	// The join command holds a bootstrap token: it goes into the worker's
	// seed only, never into the test output.
	join, err := cp.exec(ctx, "kubeadm", "token", "create", "--print-join-command")
	if err != nil {
		t.Fatalf("kubeadm token create failed")
	}
	endpoint, token, caHash, ok := parseJoin(join)
	if !ok {
		t.Fatalf("kubeadm token create printed no join command of the expected form")
	}
	worker := bootNode(t, ctx, e, img, "openstrap-nodeimage-worker-"+suffix, func(string) string {
		return fmt.Sprintf(joinUserData, endpoint, token, caHash)
	})
	defer worker.remove(t)
	worker.waitCloudInit(t, ctx)
	worker.waitReady(t, ctx, cp, 10*time.Minute)
	t.Logf("worker: container start to Node Ready: %s", worker.readyAfter.Round(time.Second))

	// A Deployment of pause pods becomes Available; a pod pinned to the
	// worker answers ping from the control plane (cross-node pod route).
	if _, err := cp.kubectl(ctx, "create", "deployment", "pause", "--image=registry.k8s.io/pause:"+PauseVersion, "--replicas=2"); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.kubectl(ctx, "run", "pause-on-worker", "--image=registry.k8s.io/pause:"+PauseVersion,
		"--overrides", `{"apiVersion":"v1","spec":{"nodeName":"`+worker.name+`"}}`); err != nil {
		t.Fatal(err)
	}
	if out, err := cp.kubectl(ctx, "wait", "--for=condition=Available", "deployment/pause", "--timeout=180s"); err != nil {
		t.Errorf("Deployment pause not Available: %v %s", err, out)
	}
	var podIP string
	waitFor(t, ctx, 3*time.Minute, "the pod on the worker to run", func() (bool, string) {
		out, err := cp.kubectl(ctx, "get", "pod", "pause-on-worker", "-o", "jsonpath={.status.phase} {.status.podIP}")
		f := strings.Fields(out)
		if err != nil || len(f) != 2 || f[0] != "Running" {
			return false, out
		}
		podIP = f[1]
		return true, ""
	})
	if out, err := cp.exec(ctx, "ping", "-c", "1", "-W", "3", podIP); err != nil {
		t.Errorf("the control plane cannot reach the worker's pod %s: %v\n%s", podIP, err, out)
	}

	for _, n := range []*testNode{cp, worker} {
		out, err := n.exec(ctx, "systemctl", "is-system-running")
		if s := strings.TrimSpace(out); s != "running" {
			failed, _ := n.exec(ctx, "systemctl", "--failed", "--no-pager")
			t.Errorf("%s: systemctl is-system-running = %q (%v), want running:\n%s", n.name, s, err, failed)
		}
		logs, err := e.Run(ctx, "logs", n.id)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(logs), "Cloud-init v.") || !strings.Contains(string(logs), "finished at") {
			t.Errorf("%s: cloud-init's final message is not in podman logs:\n%s", n.name, tail(string(logs), 40))
		}
		if preload, _ := n.exec(ctx, "journalctl", "-u", "openstrap-preload-images", "--no-pager", "-o", "cat"); preload != "" {
			t.Logf("%s preload: %s", n.name, lastLineWith(preload, "imported in"))
		}
		if st, err := e.Run(ctx, "stats", "--no-stream", "--format", "{{.MemUsage}}", n.id); err == nil {
			t.Logf("%s memory (podman stats, page cache included): %s", n.name, strings.TrimSpace(string(st)))
		}
		if ms, err := os.ReadFile("/sys/fs/cgroup/memory/libpod_parent/libpod-" + n.id + "/memory.stat"); err == nil {
			t.Logf("%s memory (cgroup v1 memory.stat): %s", n.name, memStat(string(ms)))
		}
	}

	for _, n := range []*testNode{worker, cp} {
		n.remove(t)
		if out, err := e.Run(ctx, "ps", "-a", "-q", "--filter", "id="+n.id); err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("container %s still listed after removal: %q %v", n.id, out, err)
		}
		if out, err := e.Run(ctx, "volume", "ls", "-q", "--filter", "name="+n.vol); err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("volume %s still listed after removal: %q %v", n.vol, out, err)
		}
		for _, h := range []string{"systemd", "memory", "cpu", "pids"} {
			if _, err := os.Stat("/sys/fs/cgroup/" + h + "/libpod_parent/libpod-" + n.id); err == nil {
				t.Errorf("cgroup of container %s left in the %s hierarchy", n.id, h)
			}
		}
	}
	if after := readSysctls(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("host kernel settings changed:\nbefore %v\nafter  %v", before, after)
	}
}

// testNode is one node container of the boot test.
type testNode struct {
	e             *podman.Engine
	name, id, vol string
	instanceID    string
	started       time.Time
	readyAfter    time.Duration
	removed       bool
}

// bootNode writes a NoCloud seed (user data from userData(instanceID)),
// creates the node's /var volume and container with RunArgs, and starts it.
func bootNode(t *testing.T, ctx context.Context, e *podman.Engine, img Image, name string, userData func(instanceID string) string) *testNode {
	t.Helper()
	n := &testNode{e: e, name: name, instanceID: "0f3a1c2e-" + randHex(2) + "-4c1d-9e2b-" + randHex(6)}
	seed := t.TempDir()
	meta := fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", n.instanceID, name)
	for f, data := range map[string]string{"meta-data": meta, "user-data": userData(n.instanceID)} {
		if err := os.WriteFile(filepath.Join(seed, f), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	labels := map[string]string{"openstrap.test": "nodeimage"}
	vol, err := e.CreateVolume(ctx, name+"-var", labels)
	if err != nil {
		t.Fatal(err)
	}
	n.vol = vol
	args := RunArgs(RunSpec{Name: name, VarVolume: vol, Seed: seed, Labels: labels})
	id, err := e.CreateContainer(ctx, append(args, img.Name)...)
	if err != nil {
		_ = e.RemoveVolume(ctx, vol)
		t.Fatal(err)
	}
	n.id = id
	n.started = time.Now()
	if err := e.StartContainer(ctx, id); err != nil {
		n.remove(t)
		t.Fatal(err)
	}
	return n
}

// remove deletes the container and its volume by ID (once), first logging
// what went on inside when the test failed.
func (n *testNode) remove(t *testing.T) {
	if n.removed {
		return
	}
	n.removed = true
	if t.Failed() {
		n.diagnose(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.e.RemoveContainer(ctx, n.id); err != nil {
		t.Errorf("remove container %s: %v", n.id, err)
	}
	if err := n.e.RemoveVolume(ctx, n.vol); err != nil {
		t.Errorf("remove volume %s: %v", n.vol, err)
	}
}

// diagnose logs the node's unit states, containers and recent errors.
func (n *testNode) diagnose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := n.exec(ctx, "sh", "-c", "systemctl --failed --no-pager; systemctl status --no-pager --lines=0 containerd kubelet openstrap-preload-images; "+
		"crictl ps -a 2>&1 | head -20; journalctl --no-pager -p warning -n 40 -u containerd -u kubelet 2>&1 | grep -v 'Failed to set rlimit' | tail -25")
	t.Logf("%s diagnostics:\n%s", n.name, out)
}

func (n *testNode) exec(ctx context.Context, cmd ...string) (string, error) {
	out, err := n.e.Exec(ctx, n.id, cmd...)
	return string(out), err
}

func (n *testNode) kubectl(ctx context.Context, args ...string) (string, error) {
	return n.exec(ctx, append([]string{"kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"}, args...)...)
}

func (n *testNode) pods(namespace string) (podList, error) {
	var pl podList
	out, err := n.kubectl(context.Background(), "get", "pods", "-n", namespace, "-o", "json")
	if err != nil {
		return pl, err
	}
	err = json.Unmarshal([]byte(out), &pl)
	return pl, err
}

// waitCloudInit waits until cloud-init has finished and fails unless done.
func (n *testNode) waitCloudInit(t *testing.T, ctx context.Context) {
	t.Helper()
	var status string
	waitFor(t, ctx, 15*time.Minute, n.name+": cloud-init to finish", func() (bool, string) {
		out, _ := n.exec(ctx, "cloud-init", "status")
		status = strings.TrimSpace(out)
		return strings.Contains(status, "done") || strings.Contains(status, "error"), status
	})
	t.Logf("%s: cloud-init finished after %s: %s", n.name, time.Since(n.started).Round(time.Second), status)
	if !strings.Contains(status, "status: done") {
		out, _ := n.exec(ctx, "sh", "-c", "cloud-init status --long; tail -n 60 /var/log/cloud-init-output.log")
		t.Fatalf("%s: cloud-init did not finish cleanly:\n%s", n.name, out)
	}
}

// waitReady waits until n's Node is Ready (asked through cp) and checks its
// kubelet version, provider ID and name.
func (n *testNode) waitReady(t *testing.T, ctx context.Context, cp *testNode, timeout time.Duration) {
	t.Helper()
	waitFor(t, ctx, timeout, n.name+": the Node to be Ready", func() (bool, string) {
		out, err := cp.kubectl(ctx, "get", "node", n.name, "-o", "json")
		if err != nil {
			return false, fmt.Sprintf("%v %s", err, out)
		}
		var nd node
		if err := json.Unmarshal([]byte(out), &nd); err != nil {
			return false, err.Error()
		}
		if !nd.ready() {
			return false, "NotReady"
		}
		n.readyAfter = time.Since(n.started)
		if nd.Status.NodeInfo.KubeletVersion != KubernetesVersion {
			t.Errorf("%s: kubelet version %q, want %s", n.name, nd.Status.NodeInfo.KubeletVersion, KubernetesVersion)
		}
		if want := "openstack:///" + n.instanceID; nd.Spec.ProviderID != want {
			t.Errorf("%s: provider ID %q, want %q (from the Jinja user data)", n.name, nd.Spec.ProviderID, want)
		}
		return true, ""
	})
}

// parseJoin reads `kubeadm join ENDPOINT --token T --discovery-token-ca-cert-hash H`.
func parseJoin(s string) (endpoint, token, caHash string, ok bool) {
	f := strings.Fields(s)
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "join":
			endpoint = f[i+1]
		case "--token":
			token = f[i+1]
		case "--discovery-token-ca-cert-hash":
			caHash = f[i+1]
		}
	}
	return endpoint, token, caHash, endpoint != "" && token != "" && caHash != ""
}

// initUserData runs kubeadm init with the node's IP as control-plane
// endpoint, as a single-node user would (control-plane taint removed so
// CoreDNS and the pause pods schedule there too). Generous kubeadm timeouts:
// on a loaded 2-core host the API server may take minutes; a failed command
// fails cloud-init (set -e).
const initUserData = `## template: jinja
#cloud-config
write_files:
- path: /run/kubeadm/kubeadm.yaml
  owner: root:root
  permissions: "0640"
  content: |
    apiVersion: kubeadm.k8s.io/v1beta4
    kind: InitConfiguration
    nodeRegistration:
      kubeletExtraArgs:
      - name: provider-id
        value: openstack:///{{ ds.meta_data.instance_id }}
    timeouts:
      controlPlaneComponentHealthCheck: 10m0s
      kubeletHealthCheck: 10m0s
      kubernetesAPICall: 3m0s
    ---
    apiVersion: kubeadm.k8s.io/v1beta4
    kind: ClusterConfiguration
    kubernetesVersion: ` + KubernetesVersion + `
    controlPlaneEndpoint: __IP__:6443
    networking:
      podSubnet: 10.244.0.0/16
runcmd:
- set -e
- 'ip=$(ip -4 -o route get 1.1.1.1 | sed -n "s/.* src \([0-9.]*\).*/\1/p"); sed -i "s/__IP__/$ip/" /run/kubeadm/kubeadm.yaml'
- kubeadm init --config /run/kubeadm/kubeadm.yaml
- kubectl --kubeconfig /etc/kubernetes/admin.conf taint nodes --all node-role.kubernetes.io/control-plane-
- echo "instance {{ v1.instance_id }} initialised"
`

// joinUserData joins a worker as Cluster API's kubeadm bootstrap provider
// renders it: a JoinConfiguration file with token discovery and CA pin.
const joinUserData = `## template: jinja
#cloud-config
write_files:
- path: /run/kubeadm/kubeadm-join-config.yaml
  owner: root:root
  permissions: "0640"
  content: |
    apiVersion: kubeadm.k8s.io/v1beta4
    kind: JoinConfiguration
    discovery:
      bootstrapToken:
        apiServerEndpoint: %s
        token: %s
        caCertHashes:
        - %s
    nodeRegistration:
      kubeletExtraArgs:
      - name: provider-id
        value: openstack:///{{ ds.meta_data.instance_id }}
    timeouts:
      discovery: 10m0s
      tlsBootstrap: 10m0s
      kubeletHealthCheck: 10m0s
      kubernetesAPICall: 3m0s
runcmd:
- set -e
- kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml
`

type nodeList struct{ Items []node }

type node struct {
	Metadata struct{ Name string }
	Spec     struct {
		ProviderID string `json:"providerID"`
	}
	Status struct {
		Conditions []struct{ Type, Status string }
		NodeInfo   struct {
			KubeletVersion string `json:"kubeletVersion"`
		} `json:"nodeInfo"`
	}
}

func (n node) ready() bool {
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

type podList struct {
	Items []struct {
		Metadata struct{ Name string }
		Status   struct{ Phase string }
	}
}

func (pl podList) running(prefix string) bool {
	for _, p := range pl.Items {
		if strings.HasPrefix(p.Metadata.Name, prefix) && p.Status.Phase == "Running" {
			return true
		}
	}
	return false
}

func (pl podList) summary() string {
	var b strings.Builder
	for _, p := range pl.Items {
		fmt.Fprintf(&b, "  %s %s\n", p.Metadata.Name, p.Status.Phase)
	}
	return b.String()
}

// waitFor polls cond every 2 s until it holds, failing the test at timeout
// with cond's last message.
func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, last)
		}
		time.Sleep(2 * time.Second)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lastLineWith(s, sub string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return lines[i]
		}
	}
	return ""
}

// TestComponentImagesAreKubeadms checks that the archive holds exactly the
// images kubeadm v1.37.2 names (internal/tools checks those against kubeadm).
func TestComponentImagesAreKubeadms(t *testing.T) {
	want := map[string]bool{}
	for _, r := range tools.KubeadmImages() {
		want[r] = true
	}
	got := map[string]bool{}
	for _, ci := range ComponentImages {
		got[ci.Ref] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("component images %v, kubeadm wants %v", got, want)
	}
}

// TestMirrorIn reads mirrors from one-line and deb822 apt sources.
func TestMirrorIn(t *testing.T) {
	for in, want := range map[string]string{
		"deb http://deb.debian.org/debian bookworm main\n":                                      "http://deb.debian.org/debian",
		"deb [signed-by=/k.gpg arch=amd64] http://m.example/debian/ bookworm main\n":            "http://m.example/debian",
		"Types: deb\nURIs: http://deb.debian.org/debian-security\n\nURIs: http://x.example/d\n": "http://x.example/d",
		"# nothing\n": "",
	} {
		if got := mirrorIn(in); got != want {
			t.Errorf("mirrorIn(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestComponentImageReproducible builds the pause image twice, a second
// apart, from the real pause binary and checks that the image IDs and
// manifest digests are equal (fixed times, owners and compression).
func TestComponentImageReproducible(t *testing.T) {
	ctx := context.Background()
	pause, err := tools.Path(ctx, tools.Pause)
	if err != nil {
		t.Fatal(err)
	}
	var ids, digests []string
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "os-release"), []byte("ID=debian\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		basePath := filepath.Join(dir, "base.tar.gz")
		if err := writeLayerFile(basePath, func(tw *tar.Writer) error {
			return addFile(tw, filepath.Join(dir, "os-release"), "etc/os-release", 0o644)
		}); err != nil {
			t.Fatal(err)
		}
		base, err := tarball.LayerFromFile(basePath)
		if err != nil {
			t.Fatal(err)
		}
		b := &builder{bins: map[string]string{tools.Pause: pause}}
		var ci ComponentImage
		for _, c := range ComponentImages {
			if c.Binary == tools.Pause {
				ci = c
			}
		}
		img, err := b.componentImage(ci, base, dir)
		if err != nil {
			t.Fatal(err)
		}
		id, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ids, digests = append(ids, id.String()), append(digests, d.String())
		time.Sleep(time.Second)
	}
	if ids[0] != ids[1] || digests[0] != digests[1] {
		t.Errorf("same inputs gave different images: IDs %v, digests %v", ids, digests)
	}
}

// memStat summarises a cgroup v1 memory.stat: resident (rss), page cache.
func memStat(s string) string {
	v := map[string]int64{}
	for _, l := range strings.Split(s, "\n") {
		var k string
		var n int64
		if _, err := fmt.Sscan(l, &k, &n); err == nil {
			v[k] = n
		}
	}
	return fmt.Sprintf("rss %d MiB, cache %d MiB", v["total_rss"]>>20, v["total_cache"]>>20)
}

// inotifyPerNode is about what one node uses of root's inotify instances
// (systemd 5, kubelet up to 5, containerd's CRI, dbus, logind, and on a
// control plane kube-controller-manager 7, kube-apiserver 3, ...), measured.
const inotifyPerNode = 25

// checkInotifyHeadroom warns when root's inotify instances may not take
// nodes more: every container on the host runs as root in the same
// user namespace and shares fs.inotify.max_user_instances (128 by default).
// A node beyond it gets "failed to create fsnotify watcher: too many open
// files" from containerd's CRI plugin and never becomes Ready.
func checkInotifyHeadroom(t *testing.T, nodes int) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		return
	}
	var max int
	fmt.Sscan(strings.TrimSpace(string(b)), &max)
	used := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/fd")
	for _, fd := range procs {
		ents, _ := os.ReadDir(fd)
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(fd, e.Name())); err == nil && l == "anon_inode:inotify" {
				used++
			}
		}
	}
	// Descriptors shared by forked processes are counted once per process,
	// so this overcounts: a warning, the node's diagnostics say the rest.
	if need := nodes * inotifyPerNode; max-used < need {
		t.Logf("WARNING: root holds about %d inotify descriptors, fs.inotify.max_user_instances=%d; %d node(s) need about %d more. "+
			"If a node's containerd reports \"too many open files\", raise it on the host (sysctl fs.inotify.max_user_instances=8192) or stop other node containers", used, max, nodes, need)
	}
}
