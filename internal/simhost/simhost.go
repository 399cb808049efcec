// Package simhost runs the OpenStack simulator with the machine runtime as a
// background process whose state lives in one directory, so that a
// simulated cloud and the clusters booted on it outlive the command that
// started them, as kind's clusters outlive the kind command.
//
// Layout of the directory: state/ (the simulator's state), machines/ (the
// control planes the runtime started), clouds.yaml, sim.addr, sim.pid,
// sim.log.
package simhost

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/openstrap/openstrap/internal/machineruntime"
	"github.com/openstrap/openstrap/internal/retry"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// CloudName is the clouds.yaml entry of the simulated cloud's member user.
const CloudName = "openstacktest"

// Paths names the files of a simulator directory.
type Paths struct{ Dir string }

// CloudsYAML is the clouds.yaml the simulator writes once it answers.
func (p Paths) CloudsYAML() string { return filepath.Join(p.Dir, "clouds.yaml") }
func (p Paths) pid() string        { return filepath.Join(p.Dir, "sim.pid") }
func (p Paths) addr() string       { return filepath.Join(p.Dir, "sim.addr") }

// ServeCommand is the hidden first argument that makes the create-cluster
// binary serve as the background simulator of the directory that follows.
const ServeCommand = "__serve-sim"

// Binary is where create-cluster keeps its own copy to run as the simulator
// of the cluster whose state is in clusterDir; delete-cluster restarts it
// from there.
func Binary(clusterDir string) string { return filepath.Join(clusterDir, "bin", "openstrap-sim") }

// Log is the background process's log file.
func (p Paths) Log() string { return filepath.Join(p.Dir, "sim.log") }

// Serve runs the simulator and the machine runtime in this process until ctx
// ends, then stops the simulator and the control planes, keeping their state
// for the next Serve on dir.
func Serve(ctx context.Context, dir string, log logr.Logger, opts ...openstacktest.Option) error {
	p := Paths{dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	rt := machineruntime.New(filepath.Join(dir, "machines"), log.WithName("machines"))
	if err := rt.Resume(ctx); err != nil {
		log.Error(err, "resume control planes")
	}
	addr := "127.0.0.1:0"
	if b, err := os.ReadFile(p.addr()); err == nil {
		addr = strings.TrimSpace(string(b))
	}
	pool, err := floatingIPPool(p)
	if err != nil {
		return err
	}
	all := append([]openstacktest.Option{
		openstacktest.WithAddr(addr),
		openstacktest.WithFloatingIPPool(pool),
		openstacktest.WithStateDir(filepath.Join(dir, "state")),
		openstacktest.WithServerHooks(rt.Hooks()),
		openstacktest.WithLogger(log.WithName("openstack")),
	}, opts...)
	srv, err := openstacktest.NewServer(all...)
	if err != nil {
		_ = rt.Close(context.WithoutCancel(ctx))
		return err
	}
	rt.SetConsole(srv.AppendConsole)
	if err := os.WriteFile(p.addr(), []byte(strings.TrimPrefix(srv.URL, "http://")), 0o600); err != nil {
		srv.Close()
		return err
	}
	if err := writeFileAtomic(p.CloudsYAML(), srv.CloudsYAML()); err != nil {
		srv.Close()
		return err
	}
	log.Info("simulated OpenStack ready", "url", srv.URL, "cloudsYAML", p.CloudsYAML())
	<-ctx.Done()
	srv.Close()
	return rt.Close(context.Background())
}

// Running reports whether the background simulator of dir answers.
func Running(ctx context.Context, dir string) bool {
	p := Paths{dir}
	pid, err := readPID(p.pid())
	if err != nil || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(p.addr())
	if err != nil {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+strings.TrimSpace(string(b))+"/identity/v3", nil)
	if err != nil {
		return false
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode < 500
}

// Start starts `exe args...` in the background as the simulator of dir,
// unless one already answers, and waits until it does. The process is put in
// its own session so that it outlives the caller and a Ctrl-C in the
// caller's terminal. It returns the clouds.yaml path.
func Start(ctx context.Context, dir, exe string, args ...string) (string, error) {
	p := Paths{dir}
	if Running(ctx, dir) {
		return p.CloudsYAML(), nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// A clouds.yaml from an earlier run must not pass for this one's.
	_ = os.Remove(p.CloudsYAML())
	logf, err := os.OpenFile(p.Log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start simulator: %w", err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(p.pid(), []byte(strconv.Itoa(pid)), 0o600); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	err = retry.Until(ctx, retry.Policy{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, MaxElapsed: 5 * time.Minute},
		func(ctx context.Context) (bool, error) {
			select {
			case err := <-exited:
				return false, retry.Permanent(fmt.Errorf("simulator exited (%v); see %s", err, p.Log()))
			default:
			}
			_, err := os.Stat(p.CloudsYAML())
			return err == nil && Running(ctx, dir), nil
		})
	if err != nil {
		return "", err
	}
	return p.CloudsYAML(), nil
}

// Stop stops the background simulator of dir and the control planes it
// runs, and waits until it has exited. Stopping one that does not run is not
// an error.
func Stop(ctx context.Context, dir string) error {
	p := Paths{dir}
	pid, err := readPID(p.pid())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		_ = os.Remove(p.pid())
		return nil
	}
	err = retry.Until(ctx, retry.Policy{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, MaxElapsed: time.Minute},
		func(context.Context) (bool, error) { return syscall.Kill(pid, 0) != nil, nil })
	if err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = os.Remove(p.pid())
	return nil
}

// floatingIPPool gives each simulator directory its own /24 in the loopback
// range, kept in sim.pool, so that the API servers of two simulated clouds do
// not try to listen on the same floating IP.
func floatingIPPool(p Paths) (string, error) {
	file := filepath.Join(p.Dir, "sim.pool")
	if b, err := os.ReadFile(file); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	abs, err := filepath.Abs(p.Dir)
	if err != nil {
		return "", err
	}
	h := fnv.New32a()
	h.Write([]byte(abs))
	n := h.Sum32()
	pool := fmt.Sprintf("127.%d.%d.0/24", 100+n%100, (n/100)%250)
	return pool, os.WriteFile(file, []byte(pool), 0o600)
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
