// Package simhost runs the OpenStack simulator with a machine runtime
// (internal/machines) as a background process whose state lives in one
// directory, so that a simulated cloud and the clusters booted on it outlive
// the command that started them, as kind's clusters outlive the kind command.
//
// The machine runtime is chosen when the directory is first served (Serve's
// kind: containers, processes or auto) and recorded in machines.json; later
// Serves of the directory use the recorded runtime, so that a restarted
// simulator finds its machines again (Runtime.Resume): container machines
// are adopted, process control planes restarted.
//
// Stopping: Stop ends the simulator process but keeps the machines. Container
// machines keep running while the simulator is down (like a cloud's VMs while
// its API is down); what the simulator itself serves (the Nova API, the load
// balancers' floating IPs and VIPs) is unreachable until the next Serve.
// Process control planes stop with the simulator and restart with it.
// StopAndRemove ends it for good: the runtime removes everything it made
// (containers, their volumes, podman networks, routes, iptables chains).
// delete-cluster uses StopAndRemove, so a cluster whose simulator was only
// stopped leaves nothing once deleted.
//
// Layout of the directory: state/ (the simulator's state), machines/ (the
// process runtime's control planes), containers/ (the container runtime's
// seeds), machines.json, clouds.yaml, sim.addr, sim.pid, sim.log.
package simhost

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/openstrap/openstrap/internal/atomicfile"
	"github.com/openstrap/openstrap/internal/bgproc"
	"github.com/openstrap/openstrap/internal/machines"
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
// binary serve as the background simulator; ServeArgs follow it.
const ServeCommand = "__serve-sim"

// ServeArgs are the arguments after ServeCommand that serve dir with the
// machine runtime kind ("" serves with the runtime dir recorded, or auto).
func ServeArgs(dir string, kind machines.Kind) []string {
	if kind == "" {
		return []string{dir}
	}
	return []string{"--machines", string(kind), dir}
}

// ParseServeArgs reads ServeArgs.
func ParseServeArgs(args []string) (dir string, kind machines.Kind, err error) {
	fs := flag.NewFlagSet(ServeCommand, flag.ContinueOnError)
	k := fs.String("machines", "", "machine runtime: containers, processes or auto")
	if err := fs.Parse(args); err != nil {
		return "", "", err
	}
	if fs.NArg() != 1 {
		return "", "", fmt.Errorf("%s: want [--machines KIND] DIR, got %q", ServeCommand, args)
	}
	if *k != "" {
		if kind, err = machines.ParseKind(*k); err != nil {
			return "", "", err
		}
	}
	return fs.Arg(0), kind, nil
}

// Binary is where create-cluster keeps its own copy to run as the simulator
// of the cluster whose state is in clusterDir; delete-cluster restarts it
// from there.
func Binary(clusterDir string) string { return filepath.Join(clusterDir, "bin", "openstrap-sim") }

// Log is the background process's log file.
func (p Paths) Log() string { return filepath.Join(p.Dir, "sim.log") }

func (p Paths) machines() string { return filepath.Join(p.Dir, "machines.json") }
func (p Paths) remove() string   { return filepath.Join(p.Dir, "sim.remove") }

// Machines is the machine runtime a simulator directory boots its servers
// with, as Serve recorded it.
type Machines struct {
	// Kind is containers or processes (none: servers boot nothing).
	Kind machines.Kind `json:"kind"`
	// Fallback says why auto chose processes.
	Fallback string `json:"fallback,omitempty"`
	// Image is the node image of container machines.
	Image string `json:"image,omitempty"`
	// Engine is the container engine of container machines (podman or
	// docker).
	Engine string `json:"engine,omitempty"`
}

// ReadMachines returns the runtime recorded in dir (an error wrapping
// os.ErrNotExist when dir was never served).
func ReadMachines(dir string) (Machines, error) {
	var m Machines
	b, err := os.ReadFile(Paths{dir}.machines())
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", Paths{dir}.machines(), err)
	}
	return m, nil
}

// ErrKindMismatch is returned (wrapped) when a directory's servers boot with
// another runtime than the one asked for.
var ErrKindMismatch = errors.New("the simulated cloud's servers boot with another machine runtime")

// CheckKind reports whether serving dir with kind keeps the runtime dir
// recorded (auto and "" always do).
func CheckKind(dir string, kind machines.Kind) error {
	rec, err := ReadMachines(dir)
	if err != nil || kind == "" || kind == machines.Auto || kind == rec.Kind {
		return nil
	}
	return fmt.Errorf("%w: %s boots its servers as %s, not %s (delete the cluster to change it)", ErrKindMismatch, dir, rec.Kind, kind)
}

// Serve runs the simulator and the machine runtime in this process until ctx
// ends. kind is used when dir has no recorded runtime ("" means auto);
// otherwise the recorded one is resumed (an explicit other kind is an
// error). When ctx ends the simulator stops; the machines are kept (see the
// package doc) unless StopAndRemove asked for their removal.
func Serve(ctx context.Context, dir string, kind machines.Kind, log logr.Logger, opts ...openstacktest.Option) error {
	p := Paths{dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_ = os.Remove(p.remove())
	if err := CheckKind(dir, kind); err != nil {
		return err
	}
	if rec, err := ReadMachines(dir); err == nil {
		kind = rec.Kind
	} else if kind == "" {
		kind = machines.Auto
	}
	rt, err := machines.Start(ctx, kind, dir, log)
	if err != nil {
		return fmt.Errorf("machines %s: %w", kind, err)
	}
	rec := Machines{Kind: rt.Kind, Fallback: rt.Fallback, Image: rt.Image, Engine: string(rt.Engine)}
	if old, err := ReadMachines(dir); err == nil {
		rec.Fallback = old.Fallback // why the directory's runtime was chosen
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p.machines(), b, 0o600); err != nil {
		return err
	}
	// Before the simulator answers, as the runtimes' own resume tests do:
	// containers are adopted (not created again), control planes restarted.
	if err := rt.Resume(ctx); err != nil {
		log.Error(err, "resume machines")
	}
	stop := func() error {
		if _, err := os.Stat(p.remove()); err == nil || rt.Kind != machines.Containers {
			// For good (or process control planes, which cannot outlive
			// this process): remove or stop what the runtime made.
			err := rt.Close(context.Background())
			_ = os.Remove(p.remove())
			return err
		}
		log.Info("simulator stopping; container machines keep running until the next Serve or StopAndRemove")
		return nil
	}
	addr := "127.0.0.1:0"
	if b, err := os.ReadFile(p.addr()); err == nil {
		addr = strings.TrimSpace(string(b))
	}
	pool, err := floatingIPPool(p)
	if err != nil {
		return errors.Join(err, stop())
	}
	all := append([]openstacktest.Option{
		openstacktest.WithAddr(addr),
		openstacktest.WithFloatingIPPool(pool),
		openstacktest.WithStateDir(filepath.Join(dir, "state")),
		rt.Option(),
		openstacktest.WithLogger(log.WithName("openstack")),
	}, opts...)
	srv, err := openstacktest.NewServer(all...)
	if err != nil {
		return errors.Join(err, stop())
	}
	if err := os.WriteFile(p.addr(), []byte(strings.TrimPrefix(srv.URL, "http://")), 0o600); err != nil {
		srv.Close()
		return errors.Join(err, stop())
	}
	if err := atomicfile.WriteFile(p.CloudsYAML(), srv.CloudsYAML(), 0o600); err != nil {
		srv.Close()
		return errors.Join(err, stop())
	}
	log.Info("simulated OpenStack ready", "url", srv.URL, "cloudsYAML", p.CloudsYAML(), "machines", rt.Kind, "fallback", rt.Fallback)
	<-ctx.Done()
	srv.Close()
	return stop()
}

// Running reports whether the background simulator of dir answers.
func Running(ctx context.Context, dir string) bool {
	p := Paths{dir}
	pid, err := bgproc.ReadPID(p.pid())
	if err != nil || !bgproc.Alive(pid) {
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
// unless one already answers, and waits until it does (for container
// machines, the first run builds the node image: minutes; its progress is
// in the log). The process is put in
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
	proc, err := bgproc.Spawn(exe, args, p.Log(), p.pid())
	if err != nil {
		return "", fmt.Errorf("start simulator: %w", err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	err = proc.Wait(waitCtx, func(ctx context.Context) bool {
		_, err := os.Stat(p.CloudsYAML())
		return err == nil && Running(ctx, dir)
	})
	if errors.Is(err, bgproc.ErrExited) {
		err = fmt.Errorf("simulator %w; see %s", err, p.Log())
	}
	if err != nil {
		return "", err
	}
	return p.CloudsYAML(), nil
}

// Stop stops the background simulator of dir and waits until it has
// exited. Container machines keep running; process control planes stop
// (both resume with the next Serve). Stopping one that does not run is not
// an error.
func Stop(ctx context.Context, dir string) error {
	_ = stop(ctx, dir, time.Minute) // killed when it did not exit in time
	return nil
}

// StopAndRemove stops the background simulator of dir for good: before it
// exits, its machine runtime removes everything it made (containers with
// their volumes, podman networks, routes, iptables chains). A simulator that
// does not run has nothing running to remove with; start it first (Start)
// so that it adopts what its last run left.
func StopAndRemove(ctx context.Context, dir string) error {
	p := Paths{dir}
	if pid, err := bgproc.ReadPID(p.pid()); err != nil || !bgproc.Alive(pid) {
		return stop(ctx, dir, time.Minute)
	}
	if err := os.WriteFile(p.remove(), nil, 0o600); err != nil {
		return err
	}
	// Removing a container waits for its systemd (up to 10 s each).
	return stop(ctx, dir, 10*time.Minute)
}

func stop(ctx context.Context, dir string, grace time.Duration) error {
	if err := bgproc.Stop(ctx, Paths{dir}.pid(), grace); err != nil {
		return fmt.Errorf("the simulator: %w", err)
	}
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
