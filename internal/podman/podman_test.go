package podman

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tinyProgram is a static binary for a test image: "echo ARGS", "cat FILE",
// or "sleep" (until killed).
const tinyProgram = `package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	switch os.Args[1] {
	case "echo":
		fmt.Println(strings.Join(os.Args[2:], " "))
	case "cat":
		b, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
	case "sleep":
		fmt.Println("sleeping")
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
	}
}
`

// tinyImage builds a one-binary image (a static Go program) with podman
// import and returns its name; removed at cleanup.
func tinyImage(t *testing.T, e *Engine) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(tinyProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", "tiny", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test image's program: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"proc/", "sys/", "dev/", "etc/", "tmp/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Name: "tiny", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))})
	tw.Write(bin)
	tw.Close()
	name := fmt.Sprintf("localhost/openstrap-test/tiny:%d", time.Now().UnixNano())
	ctx := context.Background()
	if _, err := e.RunInput(ctx, buf.Bytes(), "import", "-", name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := e.Run(context.Background(), "rmi", "--force", name); err != nil {
			t.Errorf("removing test image: %v", err)
		}
	})
	return name
}

func setup(t *testing.T) *Engine {
	t.Helper()
	e, err := Setup(context.Background())
	if errors.Is(err, ErrNotInstalled) {
		t.Fatalf("this test needs podman as root: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSetupIsIdempotentAndConfigures(t *testing.T) {
	e := setup(t)
	e2 := setup(t)
	if e.ConfPath() != e2.ConfPath() {
		t.Fatalf("conf paths differ: %s %s", e.ConfPath(), e2.ConfPath())
	}
	b, err := os.ReadFile(e.ConfPath())
	if err != nil || string(b) != ContainersConf {
		t.Fatalf("containers.conf: %q %v", b, err)
	}
	if fi, err := os.Stat(ModulesDir); err != nil || !fi.IsDir() {
		t.Fatalf("%s: %v", ModulesDir, err)
	}
	for path, min := range InotifyMinimums {
		b, err := os.ReadFile(path)
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || n < min {
			t.Errorf("%s = %q (%v) after Setup, want >= %d", path, b, err, min)
		}
	}
	found := false
	for _, kv := range e.Env() {
		if kv == "CONTAINERS_CONF="+e.ConfPath() {
			found = true
		}
	}
	if !found {
		t.Fatal("Env lacks CONTAINERS_CONF")
	}
	_, err = e.Run(context.Background(), "container", "inspect", "openstrap-no-such-container")
	var pe *Error
	if !errors.As(err, &pe) || pe.Stderr == "" || !IsNotFound(err) {
		t.Fatalf("inspecting a missing container: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "podman container inspect:") {
		t.Fatalf("error does not name the subcommand: %v", err)
	}
}

func TestObjectsLifecycle(t *testing.T) { objectsLifecycle(t, setup(t)) }

// objectsLifecycle creates, inspects, lists and removes networks, a volume
// and a container on e (podman or Docker), with the container on two
// networks given in podman's NAME:ip=IP,mac=MAC form.
func objectsLifecycle(t *testing.T, e *Engine) {
	ctx := context.Background()
	img := tinyImage(t, e)
	labels := map[string]string{"openstrap.test/podman": fmt.Sprint(time.Now().UnixNano())}
	prefix := "openstrap-" + string(e.Kind()) + "-test"

	net, err := e.CreateNetwork(ctx, NetworkSpec{
		Name:     prefix,
		Subnets:  []Subnet{{Subnet: "10.231.7.0/24", Gateway: "10.231.7.1"}},
		Internal: true,
		Labels:   labels,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.RemoveNetwork(context.Background(), net.ID) })
	if len(net.ID) != 64 || !net.Internal || len(net.Subnets) != 1 || net.Subnets[0].Gateway != "10.231.7.1" {
		t.Fatalf("network: %+v", net)
	}
	if net.Interface == "" {
		t.Fatalf("network without a host interface: %+v", net)
	}
	net2, err := e.CreateNetwork(ctx, NetworkSpec{
		Name:     prefix + "-2",
		Subnets:  []Subnet{{Subnet: "10.231.8.0/24", Gateway: "10.231.8.1"}},
		Internal: true,
		Labels:   labels,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.RemoveNetwork(context.Background(), net2.ID) })
	if ns, err := e.ListNetworks(ctx, labels); err != nil || len(ns) != 2 {
		t.Fatalf("listing networks by label: %+v %v", ns, err)
	}
	vol, err := e.CreateVolume(ctx, prefix+"-vol", labels)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.RemoveVolume(context.Background(), vol) })

	id, err := e.CreateContainer(ctx, "--name", prefix, "--systemd=false",
		"--network", net.Name+":ip=10.231.7.9,mac=fa:16:3e:00:00:09",
		"--network", net2.Name+":ip=10.231.8.9", "-v", vol+":/data",
		"--label", "openstrap.test/podman="+labels["openstrap.test/podman"], img, "/tiny", "sleep")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.RemoveContainer(context.Background(), id) })
	if err := e.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	c, err := e.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !c.State.Running || c.State.Pid == 0 {
		t.Fatalf("container not running: %+v", c.State)
	}
	if c.Name != prefix {
		t.Errorf("container name %q, want %q", c.Name, prefix)
	}
	n, ok := c.NetworkSettings.Networks[prefix]
	n2, ok2 := c.NetworkSettings.Networks[prefix+"-2"]
	if !ok || n.IPAddress != "10.231.7.9" || n.MacAddress != "fa:16:3e:00:00:09" || !ok2 || n2.IPAddress != "10.231.8.9" {
		t.Fatalf("container networks: %+v", c.NetworkSettings.Networks)
	}
	if e.Kind() == Podman {
		limits, err := e.Exec(ctx, id, "/tiny", "cat", "/proc/self/limits")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(limits), "Max open files            20000                20000") {
			t.Fatalf("containers.conf ulimits not applied:\n%s", limits)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := e.Logs(ctx, id, false).Output()
		if err == nil && strings.Contains(string(out), "sleeping") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs: %q %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if cs, err := e.ListContainers(ctx, labels); err != nil || len(cs) != 1 || cs[0].ID != id {
		t.Fatalf("listing containers by label: %+v %v", cs, err)
	}
	if err := e.StopContainer(ctx, id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if c, err := e.InspectContainer(ctx, id); err != nil || c.State.Running {
		t.Fatalf("after stop: %+v %v", c, err)
	}
	if err := e.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveContainer(ctx, id); err != nil {
		t.Fatalf("removing a removed container: %v", err)
	}
	for _, n := range []*Network{net, net2} {
		if err := e.RemoveNetwork(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.RemoveVolume(ctx, vol); err != nil {
		t.Fatal(err)
	}
	cs, err := e.ListContainers(ctx, labels)
	ns, err2 := e.ListNetworks(ctx, labels)
	vs, err3 := e.ListVolumes(ctx, labels)
	if err != nil || err2 != nil || err3 != nil || len(cs)+len(ns)+len(vs) != 0 {
		t.Fatalf("left after removal: %v %v %v (%v %v %v)", cs, ns, vs, err, err2, err3)
	}
}
