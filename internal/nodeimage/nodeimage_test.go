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

// TestBootKubeadmInit builds the node image, boots one node from a NoCloud
// seed whose (Jinja) user data runs `kubeadm init`, and checks the node as a
// user would: systemd running, cloud-init done with its final message on
// the console, the Node Ready with kubelet v1.37.2 and the provider ID from
// the seed, the control plane, kube-proxy and CoreDNS Running, the host's
// kernel settings unchanged; then removes everything by ID.
func TestBootKubeadmInit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	e := testEngine(t, ctx)
	before := readSysctls(t)

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
	name := "openstrap-nodeimage-test-" + suffix
	instanceID := "0f3a1c2e-" + suffix + "-4c1d-9e2b-5a6f7d8e9c0b"
	seed := t.TempDir()
	writeSeed(t, seed, instanceID, name)

	vol, err := e.CreateVolume(ctx, name+"-var", map[string]string{"openstrap.test": "nodeimage"})
	if err != nil {
		t.Fatal(err)
	}
	args := RunArgs(RunSpec{Name: name, VarVolume: vol, Seed: seed, Labels: map[string]string{"openstrap.test": "nodeimage"}})
	id, err := e.CreateContainer(ctx, append(args, img.Name)...)
	if err != nil {
		_ = e.RemoveVolume(ctx, vol)
		t.Fatal(err)
	}
	removed := false
	cleanup := func() {
		if removed {
			return
		}
		removed = true
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		if err := e.RemoveContainer(cctx, id); err != nil {
			t.Errorf("remove container %s: %v", id, err)
		}
		if err := e.RemoveVolume(cctx, vol); err != nil {
			t.Errorf("remove volume %s: %v", vol, err)
		}
	}
	defer cleanup()

	booted := time.Now()
	if err := e.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	exec := func(cmd ...string) (string, error) {
		out, err := e.Exec(ctx, id, cmd...)
		return string(out), err
	}
	kubectl := func(args ...string) (string, error) {
		return exec(append([]string{"kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"}, args...)...)
	}

	// cloud-init runs kubeadm init; wait until it has finished.
	var status string
	waitFor(t, ctx, 15*time.Minute, "cloud-init to finish", func() (bool, string) {
		out, _ := exec("cloud-init", "status")
		status = strings.TrimSpace(out)
		return strings.Contains(status, "done") || strings.Contains(status, "error"), status
	})
	t.Logf("cloud-init finished after %s: %s", time.Since(booted).Round(time.Second), status)
	if !strings.Contains(status, "status: done") {
		out, _ := exec("sh", "-c", "cloud-init status --long; tail -n 60 /var/log/cloud-init-output.log")
		t.Fatalf("cloud-init did not finish cleanly:\n%s", out)
	}

	var nodeReady time.Duration
	waitFor(t, ctx, 5*time.Minute, "the Node to be Ready", func() (bool, string) {
		out, err := kubectl("get", "nodes", "-o", "json")
		if err != nil {
			return false, err.Error()
		}
		var nl nodeList
		if err := json.Unmarshal([]byte(out), &nl); err != nil {
			return false, err.Error()
		}
		if len(nl.Items) != 1 {
			return false, fmt.Sprintf("%d nodes", len(nl.Items))
		}
		n := nl.Items[0]
		if !n.ready() {
			return false, "NotReady"
		}
		nodeReady = time.Since(booted)
		if n.Status.NodeInfo.KubeletVersion != KubernetesVersion {
			t.Errorf("kubelet version %q, want %s", n.Status.NodeInfo.KubeletVersion, KubernetesVersion)
		}
		if want := "openstack:///" + instanceID; n.Spec.ProviderID != want {
			t.Errorf("provider ID %q, want %q (from the Jinja user data)", n.Spec.ProviderID, want)
		}
		if n.Metadata.Name != name {
			t.Errorf("node name %q, want %q (local-hostname)", n.Metadata.Name, name)
		}
		return true, ""
	})
	t.Logf("container start to Node Ready: %s", nodeReady.Round(time.Second))

	wantPods := []string{"etcd-", "kube-apiserver-", "kube-controller-manager-", "kube-scheduler-", "kube-proxy-", "coredns-"}
	waitFor(t, ctx, 5*time.Minute, "kube-system pods to run", func() (bool, string) {
		out, err := kubectl("get", "pods", "-n", "kube-system", "-o", "json")
		if err != nil {
			return false, err.Error()
		}
		var pl podList
		if err := json.Unmarshal([]byte(out), &pl); err != nil {
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

	out, err := exec("systemctl", "is-system-running")
	if s := strings.TrimSpace(out); s != "running" {
		failed, _ := exec("systemctl", "--failed", "--no-pager")
		t.Errorf("systemctl is-system-running = %q (%v), want running:\n%s", s, err, failed)
	}
	logs, err := e.Run(ctx, "logs", id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "Cloud-init v.") || !strings.Contains(string(logs), "finished at") {
		t.Errorf("cloud-init's final message is not in podman logs:\n%s", tail(string(logs), 40))
	}
	if preload, _ := exec("journalctl", "-u", "openstrap-preload-images", "--no-pager", "-o", "cat"); preload != "" {
		t.Logf("preload: %s", lastLineWith(preload, "imported in"))
	}
	if st, err := e.Run(ctx, "stats", "--no-stream", "--format", "{{.MemUsage}}", id); err == nil {
		t.Logf("memory of the control-plane container (podman stats, page cache included): %s", strings.TrimSpace(string(st)))
	}
	if ms, err := os.ReadFile("/sys/fs/cgroup/memory/libpod_parent/libpod-" + id + "/memory.stat"); err == nil {
		t.Logf("memory of the control-plane container (cgroup v1 memory.stat): %s", memStat(string(ms)))
	}

	cleanup()
	if out, err := e.Run(ctx, "ps", "-a", "-q", "--filter", "id="+id); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("container %s still listed after removal: %q %v", id, out, err)
	}
	if out, err := e.Run(ctx, "volume", "ls", "-q", "--filter", "name="+vol); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("volume %s still listed after removal: %q %v", vol, out, err)
	}
	for _, h := range []string{"systemd", "memory", "cpu", "pids"} {
		if _, err := os.Stat("/sys/fs/cgroup/" + h + "/libpod_parent/libpod-" + id); err == nil {
			t.Errorf("cgroup of container %s left in the %s hierarchy", id, h)
		}
	}
	if after := readSysctls(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("host kernel settings changed:\nbefore %v\nafter  %v", before, after)
	}
}

// writeSeed writes a NoCloud seed whose Jinja user data runs kubeadm init
// with the container's IP as control-plane endpoint, as a single-node user
// would (control-plane taint removed so CoreDNS schedules).
func writeSeed(t *testing.T, dir, instanceID, hostname string) {
	t.Helper()
	meta := fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", instanceID, hostname)
	user := `## template: jinja
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
    ---
    apiVersion: kubeadm.k8s.io/v1beta4
    kind: ClusterConfiguration
    kubernetesVersion: ` + KubernetesVersion + `
    controlPlaneEndpoint: __IP__:6443
    networking:
      podSubnet: 10.244.0.0/16
runcmd:
- 'ip=$(ip -4 -o route get 1.1.1.1 | sed -n "s/.* src \([0-9.]*\).*/\1/p"); sed -i "s/__IP__/$ip/" /run/kubeadm/kubeadm.yaml'
- kubeadm init --config /run/kubeadm/kubeadm.yaml
- kubectl --kubeconfig /etc/kubernetes/admin.conf taint nodes --all node-role.kubernetes.io/control-plane-
- echo "instance {{ v1.instance_id }} initialised"
`
	for f, data := range map[string]string{"meta-data": meta, "user-data": user} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

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
