// Package dockertest starts a private Docker daemon (Debian's docker.io)
// for tests of the Docker engine path, so that they run the real engine
// beside the host's podman without touching the host's Docker, if any.
//
// The daemon keeps its images under /var/lib/openstrap/dockertest (the
// node image is imported once per content hash) and everything else under
// /run/openstrap-dockertest. It changes no host firewall rule, forwarding
// setting or default bridge (--iptables=false, --ip-forward=false,
// --bridge=none): openstrap's container runtime sets the rules its
// networks need. Where root lacks a capability Docker grants privileged
// containers, its OCI runtime is capdrop-runc, built from this package.
package dockertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openstrap/openstrap/internal/podman"
)

// Dirs of the daemon.
var (
	DataRoot = "/var/lib/openstrap/dockertest"
	ExecRoot = "/run/openstrap-dockertest"
)

// Start starts the daemon for the test and returns an Engine driving it;
// the test's cleanup removes every container, network and volume and stops
// the daemon. One test at a time holds it (a lock file). It fails the test
// when dockerd is not installed (`make host` installs docker.io).
func Start(tb testing.TB, ctx context.Context) *podman.Engine {
	tb.Helper()
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		tb.Fatalf("this test needs Docker's daemon (on Debian: apt-get install docker.io; make host installs it): %v", err)
	}
	for _, d := range []string{DataRoot, ExecRoot} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			tb.Fatal(err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(filepath.Dir(DataRoot), "dockertest.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { lock.Close() })

	sock := filepath.Join(ExecRoot, "docker.sock")
	args := []string{
		"--data-root", DataRoot,
		"--exec-root", filepath.Join(ExecRoot, "exec"),
		"--host", "unix://" + sock,
		"--pidfile", filepath.Join(ExecRoot, "docker.pid"),
		"--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
	}
	if rt := capdropRuntime(tb, ctx); rt != "" {
		args = append(args, "--add-runtime", "capdrop-runc="+rt, "--default-runtime", "capdrop-runc")
	}
	stopStale(filepath.Join(ExecRoot, "docker.pid"))
	logPath := filepath.Join(tb.TempDir(), "dockerd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(dockerd, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start dockerd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()

	cli := "docker"
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		cli = "/usr/bin/docker" // docker.io's own CLI speaks the daemon's API version
	}
	var eng *podman.Engine
	deadline := time.Now().Add(90 * time.Second)
	for {
		eng, err = podman.SetupDocker(ctx, podman.DockerOptions{Host: "unix://" + sock, CLI: cli})
		if err == nil {
			break
		}
		select {
		case <-exited:
			tb.Fatalf("dockerd exited: %s", tailFile(logPath))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop(cmd, exited)
			tb.Fatalf("dockerd does not answer: %v\n%s", err, tailFile(logPath))
		}
		time.Sleep(300 * time.Millisecond)
	}
	tb.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := Prune(cctx, eng); err != nil {
			tb.Errorf("dockertest: %v", err)
		}
		stop(cmd, exited)
	})
	// A killed run's containers come back stopped: remove them first.
	if err := Prune(ctx, eng); err != nil {
		tb.Fatalf("dockertest: %v", err)
	}
	return eng
}

// Prune removes every container, network and volume of the daemon.
func Prune(ctx context.Context, eng *podman.Engine) error {
	out, err := eng.Run(ctx, "ps", "--all", "--quiet", "--no-trunc")
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range strings.Fields(string(out)) {
		errs = append(errs, eng.RemoveContainer(ctx, id))
	}
	if _, err := eng.Run(ctx, "network", "prune", "--force"); err != nil {
		errs = append(errs, err)
	}
	if _, err := eng.Run(ctx, "volume", "prune", "--force"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// capdropRuntime builds capdrop-runc when this process lacks a capability
// Docker would grant, and returns its path ("" when none is missing).
func capdropRuntime(tb testing.TB, ctx context.Context) string {
	tb.Helper()
	full, err := boundingIsFull()
	if err != nil {
		tb.Fatal(err)
	}
	if full {
		return ""
	}
	_, file, _, _ := runtime.Caller(0)
	out := filepath.Join(ExecRoot, "capdrop-runc")
	build := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	build.Dir = filepath.Join(filepath.Dir(file), "capdrop-runc")
	if b, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("build capdrop-runc: %v\n%s", err, b)
	}
	return out
}

// boundingIsFull reports whether the bounding set holds every capability
// up to CAP_CHECKPOINT_RESTORE (40).
func boundingIsFull() (bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	var mask uint64
	for _, line := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(line, "CapBnd: %x", &mask); err == nil {
			const all = 1<<41 - 1
			return mask&all == all, nil
		}
	}
	return false, fmt.Errorf("no CapBnd in /proc/self/status")
}

func stop(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// stopStale stops a daemon a killed test left running.
func stopStale(pidfile string) {
	var pid int
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return
	}
	if _, err := fmt.Sscanf(string(b), "%d", &pid); err != nil || pid <= 1 {
		return
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || string(comm) != "dockerd\n" {
		return // gone, or the PID is another process's now
	}
	if syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	for i := 0; i < 300 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
