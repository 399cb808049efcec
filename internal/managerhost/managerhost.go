// Package managerhost runs openstrap's controllers (Cluster API core, the
// kubeadm bootstrap and control-plane providers, openstrap's infrastructure
// provider: bootstrap.StartControllers) in a background process against one
// cluster, and hands them over to another after a pivot, so that the
// controllers outlive the command that started them as internal/simhost's
// simulator does. The process is the caller's own binary run again with
// ServeCommand (see Serve).
//
// A directory holds one host: host.lock (held by the serving process for its
// whole life, so at most one host serves a directory and "it has exited" is
// "the lock is free"), host.pid, host.log, target.json (the cluster the host
// must run against: kubeconfig path and server URL, never the kubeconfig's
// contents) and ready.json (written by the host once its caches synced).
//
// Idempotency and crash safety: target.json is the intent and is written
// before anything is stopped or started. Start with the recorded cluster (or
// in a directory with none) reuses a host that runs against it and otherwise
// (re)starts one; Start with another cluster is refused (ErrOtherCluster):
// only HandOver moves the controllers. HandOver records the new cluster, stops
// the host and waits until it has exited, then starts it against the new
// cluster; killed at any point, HandOver or Start with the new cluster again
// converges. Callers of Start, HandOver and Stop on one directory are
// serialised by a lock file (ctl.lock), across processes too.
package managerhost

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/openstrap/openstrap/bootstrap"
	"github.com/openstrap/openstrap/internal/atomicfile"
	"github.com/openstrap/openstrap/internal/bgproc"
	"github.com/openstrap/openstrap/internal/retry"
)

// ServeCommand is the hidden first argument that makes a binary serve as the
// background controllers host; ServeArgs follow it. The binary's main must
// hand them to Serve.
const ServeCommand = "__serve-controllers"

const (
	// readyTimeout bounds how long Start waits for the host's caches to
	// sync (StartControllers' own bound is 2 minutes).
	readyTimeout = 3 * time.Minute
	// stopGrace is how long Stop waits for the host to stop its
	// controllers before killing it (the manager's graceful shutdown is
	// 15 s, Serve's own bound 30 s).
	stopGrace = 45 * time.Second
	// logTailLines is how much of host.log an error quotes.
	logTailLines = 20
)

// ErrOtherCluster is returned (wrapped) by Start when the directory's
// controllers are recorded for another cluster: move them with HandOver.
var ErrOtherCluster = errors.New("the controllers host is recorded for another cluster")

// Cluster is the cluster a host runs against.
type Cluster struct {
	// Kubeconfig is the absolute path of the kubeconfig the host reads.
	Kubeconfig string `json:"kubeconfig"`
	// Server is the API server URL of its current context.
	Server string `json:"server"`
}

func (t Cluster) String() string { return t.Server + " (kubeconfig " + t.Kubeconfig + ")" }

// ready is what the host writes once its controllers run.
type ready struct {
	Cluster
	PID int       `json:"pid"`
	At  time.Time `json:"at"`
}

type paths struct{ dir string }

func (p paths) lock() string   { return filepath.Join(p.dir, "host.lock") }
func (p paths) ctl() string    { return filepath.Join(p.dir, "ctl.lock") }
func (p paths) pid() string    { return filepath.Join(p.dir, "host.pid") }
func (p paths) target() string { return filepath.Join(p.dir, "target.json") }
func (p paths) ready() string  { return filepath.Join(p.dir, "ready.json") }

// Log is the host's log file in dir.
func Log(dir string) string { return filepath.Join(dir, "host.log") }

// ServeArgs are the arguments after ServeCommand that serve dir against the
// cluster of the kubeconfig at kubeconfigPath.
func ServeArgs(dir, kubeconfigPath string) []string {
	return []string{"--kubeconfig", kubeconfigPath, dir}
}

func parseServeArgs(args []string) (dir, kubeconfig string, verbosity int, err error) {
	fs := flag.NewFlagSet(ServeCommand, flag.ContinueOnError)
	k := fs.String("kubeconfig", "", "kubeconfig of the cluster to reconcile")
	v := fs.Int("v", 0, "log verbosity")
	if err := fs.Parse(args); err != nil {
		return "", "", 0, err
	}
	if fs.NArg() != 1 || *k == "" {
		return "", "", 0, fmt.Errorf("%s: want --kubeconfig PATH DIR, got %q", ServeCommand, args)
	}
	return fs.Arg(0), *k, *v, nil
}

// resolve reads the kubeconfig at path and checks its API server answers.
func resolve(ctx context.Context, path string) (Cluster, *bootstrap.ExistingCluster, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Cluster{}, nil, err
	}
	c, err := bootstrap.Existing(ctx, bootstrap.KubeconfigFile(abs))
	if err != nil {
		return Cluster{}, nil, fmt.Errorf("kubeconfig %s: %w", abs, err)
	}
	return Cluster{Kubeconfig: abs, Server: c.RESTConfig().Host}, c, nil
}

// Serve runs the controllers against the cluster named by args (ServeArgs)
// until ctx ends: it takes dir's host lock (an error if another host holds
// it), starts the controllers (bootstrap.StartControllers: leader election,
// metrics and health probes off), writes ready.json once their caches synced,
// and stops them when ctx ends or they fail. The controllers' CRDs must be
// installed in the cluster (bootstrap.InstallControllerCRDs). It owns the
// process: it sets controller-runtime's and klog's global loggers (to
// stderr, which Start sends to host.log).
func Serve(ctx context.Context, args []string) error {
	dir, kubeconfig, verbosity, err := parseServeArgs(args)
	if err != nil {
		return err
	}
	log := zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.Level(-verbosity)))
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	ctx = logr.NewContext(ctx, log)
	p := paths{dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Running probes the lock for an instant: try for a while.
	lock, err := lockFile(ctx, p.lock(), 10*time.Second)
	if err != nil {
		return fmt.Errorf("%s: another controllers host serves it (%w)", dir, err)
	}
	defer lock.Close()
	_ = os.Remove(p.ready())
	if err := atomicfile.WriteFile(p.pid(), []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
		return err
	}
	t, c, err := resolve(ctx, kubeconfig)
	if err != nil {
		return err
	}
	start := time.Now()
	rc, err := bootstrap.StartControllers(ctx, c, bootstrap.WithControllersLogger(log))
	if err != nil {
		return err
	}
	b, err := json.Marshal(ready{Cluster: t, PID: os.Getpid(), At: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p.ready(), b, 0o600); err != nil {
		return errors.Join(err, rc.Stop(context.WithoutCancel(ctx)))
	}
	log.Info("controllers host ready", "server", t.Server, "kubeconfig", t.Kubeconfig, "took", time.Since(start).Round(time.Millisecond))
	select {
	case <-ctx.Done():
		log.Info("controllers host stopping")
	case <-rc.Done():
	}
	_ = os.Remove(p.ready())
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := rc.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("controllers host stopped")
	return nil
}

// Running reports whether a host serves dir with its controllers started.
func Running(dir string) bool {
	_, ok := running(dir)
	return ok
}

// running returns the ready record of the host serving dir.
func running(dir string) (ready, bool) {
	p := paths{dir}
	var r ready
	b, err := os.ReadFile(p.ready())
	if err != nil || json.Unmarshal(b, &r) != nil {
		return r, false
	}
	pid, err := bgproc.ReadPID(p.pid())
	return r, err == nil && pid == r.PID && bgproc.Alive(pid) && locked(p.lock())
}

// Target returns the cluster recorded for dir's controllers (the one the
// host runs against, or must run against once a HandOver or Start
// completes); an error wrapping os.ErrNotExist when none was recorded.
func Target(dir string) (Cluster, error) {
	var t Cluster
	b, err := os.ReadFile(paths{dir}.target())
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("%s: %w", paths{dir}.target(), err)
	}
	return t, nil
}

func recordTarget(dir string, t Cluster) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(paths{dir}.target(), b, 0o600)
}

// Start runs the controllers against the cluster of the kubeconfig at
// kubeconfigPath in a background process, `exe ServeCommand ServeArgs...`,
// and waits until their caches synced (bounded: 3 minutes, and ctx). A host
// already running against that cluster is reused. If dir's controllers are
// recorded for another cluster, Start refuses (ErrOtherCluster) unless it is
// completing an interrupted HandOver to this one.
func Start(ctx context.Context, dir, exe, kubeconfigPath string) (Cluster, error) {
	t, _, err := resolve(ctx, kubeconfigPath)
	if err != nil {
		return Cluster{}, fmt.Errorf("controllers host: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Cluster{}, err
	}
	unlock, err := lockCtl(ctx, dir)
	if err != nil {
		return Cluster{}, err
	}
	defer unlock()
	if rec, err := Target(dir); err == nil && rec != t {
		return Cluster{}, fmt.Errorf("controllers host %s: %w: it is recorded for %s, not %s (HandOver moves it)", dir, ErrOtherCluster, rec, t)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return Cluster{}, err
	}
	return t, ensure(ctx, dir, exe, t)
}

// HandOver moves dir's controllers to the cluster of the kubeconfig at
// newKubeconfigPath: it records that cluster as the target, stops the host
// and waits until it has exited (nothing reconciles the old cluster once
// HandOver returns, nor after it failed past that point), then starts it
// against the new cluster as Start does. A host already running against the
// new cluster is kept. In a directory without a host it just starts one.
func HandOver(ctx context.Context, dir, exe, newKubeconfigPath string) (Cluster, error) {
	t, _, err := resolve(ctx, newKubeconfigPath)
	if err != nil {
		return Cluster{}, fmt.Errorf("hand over controllers: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Cluster{}, err
	}
	unlock, err := lockCtl(ctx, dir)
	if err != nil {
		return Cluster{}, err
	}
	defer unlock()
	if err := recordTarget(dir, t); err != nil {
		return Cluster{}, err
	}
	return t, ensure(ctx, dir, exe, t)
}

// ensure makes the host of dir run against t (recorded), with dir's ctl lock
// held.
func ensure(ctx context.Context, dir, exe string, t Cluster) error {
	p := paths{dir}
	if r, ok := running(dir); ok && r.Cluster == t {
		return recordTarget(dir, t)
	}
	// Whatever serves dir now (another cluster's host, one not ready yet, a
	// host whose ready.json was lost) must be gone first.
	if err := stop(ctx, dir); err != nil {
		return err
	}
	if err := recordTarget(dir, t); err != nil {
		return err
	}
	proc, err := bgproc.Spawn(exe, append([]string{ServeCommand}, ServeArgs(dir, t.Kubeconfig)...), Log(dir), p.pid())
	if err != nil {
		return fmt.Errorf("start controllers host: %w", err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err = proc.Wait(waitCtx, func(context.Context) bool {
		r, ok := running(dir)
		return ok && r.PID == proc.Pid && r.Cluster == t
	})
	if errors.Is(err, bgproc.ErrExited) {
		// A host spawned by a caller killed before it took the lock wins
		// the lock over this one: fine if it runs against t.
		if r, ok := running(dir); ok && r.Cluster == t {
			return nil
		}
	}
	if err != nil {
		if !errors.Is(err, bgproc.ErrExited) {
			_ = stop(context.WithoutCancel(ctx), dir)
		}
		return fmt.Errorf("controllers host against %s: %w; %s ends with:\n%s", t.Server, err, Log(dir), bgproc.LogTail(Log(dir), logTailLines))
	}
	return nil
}

// Stop stops dir's host and waits until it has exited (killed after 45 s).
// The recorded target stays: Start with the same cluster starts it again.
// Stopping a host that does not run is not an error.
func Stop(ctx context.Context, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lockCtl(ctx, dir)
	if err != nil {
		return err
	}
	defer unlock()
	return stop(ctx, dir)
}

func stop(ctx context.Context, dir string) error {
	p := paths{dir}
	if !locked(p.lock()) {
		// No host: a pid file left by a killed one may name another
		// process by now.
		_ = os.Remove(p.pid())
		_ = os.Remove(p.ready())
		return nil
	}
	err := bgproc.Stop(ctx, p.pid(), stopGrace)
	// The pid file may be missing or stale while a host still holds the
	// lock (it writes its pid right after taking the lock): wait for it.
	werr := retry.Until(ctx, retry.Policy{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, MaxElapsed: stopGrace},
		func(ctx context.Context) (bool, error) {
			if !locked(p.lock()) {
				return true, nil
			}
			if pid, err := bgproc.ReadPID(p.pid()); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return false, nil
		})
	_ = os.Remove(p.ready())
	if werr != nil {
		return errors.Join(err, fmt.Errorf("controllers host of %s still holds %s: %w", dir, p.lock(), werr))
	}
	if err != nil {
		return fmt.Errorf("controllers host of %s: %w", dir, err)
	}
	return nil
}

// locked reports whether a process holds the lock at path.
func locked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	return false
}

// lockFile takes an exclusive lock on path, trying until wait passed.
func lockFile(ctx context.Context, path string, wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	err = retry.Until(ctx, retry.Policy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, MaxElapsed: wait},
		func(context.Context) (bool, error) {
			err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return false, nil
			}
			return err == nil, err
		})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// lockCtl serialises Start, HandOver and Stop on dir.
func lockCtl(ctx context.Context, dir string) (func(), error) {
	f, err := lockFile(ctx, paths{dir}.ctl(), readyTimeout+2*stopGrace)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}
