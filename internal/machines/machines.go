// Package machines picks the runtime that boots the simulated cloud's
// servers and starts it, so that the simulator's users (openstack-sim,
// create-cluster's background simulator, the stack tests) choose it by one
// name:
//
//   - containers: each server is a privileged container booted from the
//     node image (internal/nodeimage) by internal/containerruntime:
//     systemd, cloud-init, kubeadm and kubelet run for real. The engine is
//     podman, or Docker where podman does not work and a Docker daemon
//     answers.
//   - processes: the fallback where no container engine works
//     (internal/machineruntime): openstrap's own code acts out the boot; no
//     kubelet, kubeadm or cloud-init runs.
//   - none: servers boot nothing.
//   - auto: containers when podman or Docker works on this machine,
//     processes otherwise, with the reason in Runtime.Fallback.
package machines

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/go-logr/logr"

	"github.com/openstrap/openstrap/internal/containerruntime"
	"github.com/openstrap/openstrap/internal/machineruntime"
	"github.com/openstrap/openstrap/internal/nodeimage"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// Kind names a machine runtime.
type Kind string

// The runtimes.
const (
	None       Kind = "none"
	Processes  Kind = "processes"
	Containers Kind = "containers"
	Auto       Kind = "auto"
)

// ParseKind accepts the names above.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case None, Processes, Containers, Auto:
		return k, nil
	}
	return "", fmt.Errorf("unknown machine runtime %q: use none, processes, containers or auto", s)
}

// Runtime is a started machine runtime.
type Runtime struct {
	// Kind is the runtime that runs (never Auto).
	Kind Kind
	// Fallback says why Auto chose processes ("" otherwise).
	Fallback string
	// Engine is the container engine of Containers ("" for other kinds).
	Engine podman.Kind
	// Image is the node image containers boot ("" for other kinds).
	Image string
	// Instance is the label value (containerruntime.LabelInstance) of the
	// containers and networks a container runtime made ("" otherwise).
	Instance string

	hooks  openstacktest.ServerHooks
	resume func(context.Context) error
	close  func(context.Context) error
}

// Hooks are the simulator hooks to pass to openstacktest.WithServerHooks.
func (r *Runtime) Hooks() openstacktest.ServerHooks { return r.hooks }

// Option returns openstacktest.WithServerHooks(r.Hooks()).
func (r *Runtime) Option() openstacktest.Option { return openstacktest.WithServerHooks(r.hooks) }

// Resume picks up the machines a runtime on the same directory left
// running (containers) or restarts their control planes (processes).
func (r *Runtime) Resume(ctx context.Context) error {
	if r.resume == nil {
		return nil
	}
	return r.resume(ctx)
}

// Close stops the runtime and removes what it started (containers,
// networks, routes, firewall rules, processes).
func (r *Runtime) Close(ctx context.Context) error {
	if r.close == nil {
		return nil
	}
	return r.close(ctx)
}

// Start starts a runtime of kind keeping its files under dir. Containers
// first builds the node image when the cache lacks it (minutes the first
// time, then well under a second); progress goes to log.
func Start(ctx context.Context, kind Kind, dir string, log logr.Logger) (*Runtime, error) {
	switch kind {
	case None:
		return &Runtime{Kind: None}, nil
	case Processes:
		return startProcesses(dir, log), nil
	case Containers:
		return startContainers(ctx, dir, log)
	case Auto:
		r, err := startContainers(ctx, dir, log)
		if err == nil {
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		p := startProcesses(dir, log)
		p.Fallback = err.Error()
		return p, nil
	}
	return nil, fmt.Errorf("machines: unknown kind %q", kind)
}

func startProcesses(dir string, log logr.Logger) *Runtime {
	rt := machineruntime.New(filepath.Join(dir, "machines"), log.WithName("machines"))
	h := rt.Hooks()
	h.Attach = func(sim *openstacktest.Server) { rt.SetConsole(sim.AppendConsole) }
	return &Runtime{Kind: Processes, hooks: h, resume: rt.Resume, close: rt.Close}
}

// ErrNoEngine is returned (wrapped) when no container engine works here.
var ErrNoEngine = errors.New("no container engine works on this machine")

func startContainers(ctx context.Context, dir string, log logr.Logger) (*Runtime, error) {
	eng, err := podman.Setup(ctx)
	if err != nil {
		var derr error
		if eng, derr = podman.SetupDocker(ctx, podman.DockerOptions{}); derr != nil {
			return nil, fmt.Errorf("%w: %w; %w", ErrNoEngine, err, derr)
		}
		log.Info("podman does not work here; booting servers with Docker", "podman", err.Error())
	}
	return StartContainers(ctx, eng, dir, log)
}

// StartContainers starts the container runtime on eng (podman or Docker),
// building the node image into eng's storage when it lacks it.
func StartContainers(ctx context.Context, eng *podman.Engine, dir string, log logr.Logger) (*Runtime, error) {
	img, err := nodeimage.Build(ctx, nodeimage.WithEngine(eng), nodeimage.WithLogger(log.WithName("nodeimage")))
	if err != nil {
		return nil, fmt.Errorf("node image: %w", err)
	}
	rt, err := containerruntime.New(ctx, containerruntime.Options{
		Image:  img.Name,
		Engine: eng,
		Log:    log.WithName("containers"),
		Dir:    filepath.Join(dir, "containers"),
	})
	if err != nil {
		return nil, err
	}
	return &Runtime{Kind: Containers, Engine: eng.Kind(), Image: img.Name, Instance: rt.Instance(), hooks: rt.Hooks(), resume: rt.Resume, close: rt.Close}, nil
}
