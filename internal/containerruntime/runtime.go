package containerruntime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/openstrap/openstrap/internal/nodeimage"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// Labels the runtime puts on what it creates, to find it again (Resume).
const (
	LabelInstance = "io.openstrap.containerruntime.instance"
	LabelServer   = "io.openstrap.containerruntime.server"
	LabelNetwork  = "io.openstrap.containerruntime.network"
)

// SeedDir is where cloud-init's NoCloud datasource reads its seed.
const SeedDir = nodeimage.SeedDir

// ContainerSpec is what Options.Args turns into podman create flags.
type ContainerSpec struct {
	Name, Hostname string
	// VarVolume is a named volume the runtime created for /var (containerd
	// and kubelet state must not be on the overlay root; it survives
	// stop/start like a disk).
	VarVolume string
	// Seed is the host directory of the NoCloud seed, for SeedDir (read-only).
	Seed   string
	Labels map[string]string
}

// DefaultArgs are the podman create flags of a systemd node container when
// Options.Args is nil: the node image's (nodeimage.RunArgs, which says why
// each is there).
func DefaultArgs(s ContainerSpec) []string {
	return nodeimage.RunArgs(nodeimage.RunSpec{Name: s.Name, Hostname: s.Hostname, VarVolume: s.VarVolume, Seed: s.Seed, Labels: s.Labels})
}

// Options configure a Runtime.
type Options struct {
	// Image is the node image every server boots (required).
	Image string
	// Engine runs podman (required; podman.Setup).
	Engine *podman.Engine
	// Log gets what the runtime does (V(1): every step).
	Log logr.Logger
	// Dir holds the runtime's files (NoCloud seeds, console bookkeeping)
	// (required).
	Dir string
	// Instance tells this runtime's containers and networks from others'
	// on the host (a label value); by default it is derived from Dir, so
	// that a runtime restarted on the same Dir finds its containers again.
	Instance string
	// Args returns the podman create flags of a server's container, image
	// and networks excepted (DefaultArgs when nil); the node image's
	// nodeimage.RunArgs fits with an adapter. The runtime adds one
	// --network flag per port (ip and mac as Neutron allocated them).
	Args func(ContainerSpec) []string
	// Command is the container command; nil keeps the image's (the node
	// image's openstrap-init guards host sysctls before it starts systemd).
	Command []string
	// StopTimeout is how long a stop or soft reboot waits for the guest
	// to shut down before it is killed (30 s when zero).
	StopTimeout time.Duration
}

// Runtime boots simulated servers as containers.
type Runtime struct {
	opts Options
	log  logr.Logger
	// ctx ends at Close; log followers and load balancer connections use it.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	sim       *openstacktest.Server
	machines  map[string]*machine // by server ID
	deleted   map[string]bool     // servers deleted (a late spawn must not create them)
	frontends []openstacktest.Frontend
	closed    bool

	// lbMu orders frontend updates with container starts, so that a
	// container never keeps rules older than the latest frontends.
	lbMu sync.Mutex

	netMu    sync.Mutex         // serializes network creation and removal
	networks map[string]*netwrk // by Neutron network ID
	routes   map[string]bool    // unreachable routes added, by CIDR
	vips     map[string]bool    // VIP addresses added to lo
	chain    bool               // the FORWARD chain exists

	lb *lbProxy
	wg sync.WaitGroup
}

// machine is one server's container.
type machine struct {
	mu          sync.Mutex // serializes operations on the server
	serverID    string
	name        string
	containerID string
	// networks are the Neutron network IDs of its ports, gateway the first
	// port's subnet gateway.
	networks []string
	gateway  string
	// follow is the console follower of the current run (nil: none).
	followDone chan struct{}
	removed    bool
}

// New returns a Runtime; hand Hooks to openstacktest.WithServerHooks.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	if opts.Image == "" || opts.Engine == nil || opts.Dir == "" {
		return nil, errors.New("containerruntime: Options need Image, Engine and Dir")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("containerruntime: %w", err)
	}
	opts.Dir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("containerruntime: %w", err)
	}
	if opts.Instance == "" {
		sum := sha256.Sum256([]byte(dir))
		opts.Instance = hex.EncodeToString(sum[:])[:10]
	}
	if opts.Args == nil {
		opts.Args = DefaultArgs
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	r := &Runtime{opts: opts, log: opts.Log.WithValues("runtime", opts.Instance),
		machines: map[string]*machine{}, deleted: map[string]bool{},
		networks: map[string]*netwrk{}, routes: map[string]bool{}, vips: map[string]bool{}}
	if err := r.loadHostState(); err != nil {
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.lb = newLBProxy(r)
	if err := r.ensureForwardChain(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Instance is the label value that marks this runtime's objects.
func (r *Runtime) Instance() string { return r.opts.Instance }

// Hooks are the simulator hooks that drive the runtime.
func (r *Runtime) Hooks() openstacktest.ServerHooks {
	return openstacktest.ServerHooks{
		Attach:          r.attach,
		OnSpawn:         r.spawn,
		OnStop:          r.stop,
		OnStart:         r.start,
		OnReboot:        r.reboot,
		OnDelete:        r.delete,
		OnLoadBalancers: r.setFrontends,
	}
}

func (r *Runtime) attach(sim *openstacktest.Server) {
	r.mu.Lock()
	r.sim = sim
	adopted := len(r.machines) > 0
	r.mu.Unlock()
	if adopted {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.pruneDeleted(r.ctx, sim)
		}()
	}
}

// pruneDeleted removes the containers of adopted servers the simulator no
// longer has (deleted while no runtime ran).
func (r *Runtime) pruneDeleted(ctx context.Context, sim *openstacktest.Server) {
	live := map[string]bool{}
	for _, res := range sim.Snapshot() {
		if res.Service == "compute" && res.Kind == "server" {
			live[res.ID] = true
		}
	}
	r.mu.Lock()
	var gone []*machine
	for id, m := range r.machines {
		if !live[id] {
			r.deleted[id] = true
			gone = append(gone, m)
		}
	}
	r.mu.Unlock()
	for _, m := range gone {
		r.log.Info("removing the container of a server deleted while the runtime was down", "server", m.serverID, "container", m.containerID)
		if err := r.removeMachine(ctx, m); err != nil {
			r.log.Error(err, "removing the container of a deleted server", "server", m.serverID)
		}
	}
}

// ContainerID is the container of a server ("" when it has none).
func (r *Runtime) ContainerID(serverID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.machines[serverID]; m != nil {
		return m.containerID
	}
	return ""
}

var invalidName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// containerName is <server name>-<first 8 of the ID>, in podman's alphabet.
func containerName(ev openstacktest.BootEvent) string {
	n := strings.Trim(invalidName.ReplaceAllString(ev.Name, "-"), "-._")
	if n == "" {
		n = "server"
	}
	if len(n) > 40 {
		n = n[:40]
	}
	id := ev.ServerID
	if len(id) > 8 {
		id = id[:8]
	}
	return n + "-" + id
}

func (r *Runtime) labels(serverID string) map[string]string {
	l := map[string]string{LabelInstance: r.opts.Instance}
	if serverID != "" {
		l[LabelServer] = serverID
	}
	return l
}

// spawn creates and starts a server's container (OnSpawn). It is
// idempotent: a server that already has a container is only started.
func (r *Runtime) spawn(ctx context.Context, ev openstacktest.BootEvent) (err error) {
	started := time.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errors.New("container runtime is closed")
	}
	if r.deleted[ev.ServerID] {
		r.mu.Unlock()
		return nil
	}
	m := r.machines[ev.ServerID]
	if m == nil {
		m = &machine{serverID: ev.ServerID, name: containerName(ev)}
		r.machines[ev.ServerID] = m
	}
	r.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed {
		return nil
	}
	log := r.log.WithValues("server", ev.ServerID, "container", m.name)
	if m.containerID != "" {
		return r.startLocked(ctx, m, log)
	}
	seed, err := r.writeSeed(ev)
	if err != nil {
		return err
	}
	vol := m.name + "-var"
	if _, err := r.opts.Engine.CreateVolume(ctx, vol, r.labels(ev.ServerID)); err != nil {
		return fmt.Errorf("creating the /var volume of server %s: %w", ev.ServerID, err)
	}
	args := r.opts.Args(ContainerSpec{Name: m.name, Hostname: ev.Hostname, VarVolume: vol, Seed: seed, Labels: r.labels(ev.ServerID)})
	var nets []string
	defer func() {
		if err != nil {
			for _, n := range nets {
				r.releaseNetwork(context.WithoutCancel(ctx), n)
			}
			if rmErr := r.opts.Engine.RemoveVolume(context.WithoutCancel(ctx), vol); rmErr != nil {
				log.Error(rmErr, "removing the /var volume of a server that failed to spawn")
			}
		}
	}()
	for _, p := range ev.Ports {
		var fixed *openstacktest.BootFixedIP
		for i := range p.FixedIPs {
			if !strings.Contains(p.FixedIPs[i].Address, ":") {
				fixed = &p.FixedIPs[i]
				break
			}
		}
		if fixed == nil {
			continue // IPv6-only ports are not connected
		}
		n, err := r.acquireNetwork(ctx, p.NetworkID, p.NetworkName, fixed.CIDR, fixed.GatewayIP)
		if err != nil {
			return err
		}
		nets = append(nets, p.NetworkID)
		if m.gateway == "" {
			m.gateway = fixed.GatewayIP
		}
		args = append(args, "--network", fmt.Sprintf("%s:ip=%s,mac=%s", n.name, fixed.Address, p.MACAddress))
	}
	if len(nets) == 0 {
		args = append(args, "--network", "none") // networks "none", as Nova boots it
	}
	args = append(args, r.opts.Image)
	args = append(args, r.opts.Command...)
	id, err := r.opts.Engine.CreateContainer(ctx, args...)
	if err != nil {
		return fmt.Errorf("creating the container of server %s: %w", ev.ServerID, err)
	}
	r.mu.Lock()
	m.containerID, m.networks = id, nets
	r.mu.Unlock()
	log.V(1).Info("container created", "id", id)
	if err := r.startLocked(ctx, m, log); err != nil {
		if rmErr := r.removeContainer(context.WithoutCancel(ctx), id); rmErr != nil {
			log.Error(rmErr, "removing a container that failed to start")
		}
		r.mu.Lock()
		m.containerID, m.networks = "", nil
		r.mu.Unlock()
		return err
	}
	log.Info("server booted as a container", "id", id, "took", time.Since(started).Round(time.Millisecond))
	return nil
}

// startLocked starts m's container and sets up what lives in its network
// namespace and its console. Callers hold m.mu.
func (r *Runtime) startLocked(ctx context.Context, m *machine, log logr.Logger) error {
	if err := r.opts.Engine.StartContainer(ctx, m.containerID); err != nil {
		return fmt.Errorf("starting the container of server %s: %w", m.serverID, err)
	}
	return r.afterStart(ctx, m, log)
}

// afterStart runs after every start of m's container. Callers hold m.mu.
func (r *Runtime) afterStart(ctx context.Context, m *machine, log logr.Logger) error {
	c, err := r.opts.Engine.InspectContainer(ctx, m.containerID)
	if err != nil {
		return err
	}
	if !c.State.Running || c.State.Pid == 0 {
		return fmt.Errorf("the container of server %s is not running after start (%s, exit code %d %s)", m.serverID, c.State.Status, c.State.ExitCode, c.State.Error)
	}
	if err := r.setupNetns(ctx, c.State.Pid, m.gateway); err != nil {
		return fmt.Errorf("configuring the network of server %s: %w", m.serverID, err)
	}
	r.lbMu.Lock()
	r.mu.Lock()
	fronts := r.frontends
	r.mu.Unlock()
	err = r.applyNetnsLB(ctx, c.State.Pid, fronts)
	r.lbMu.Unlock()
	if err != nil {
		return fmt.Errorf("load balancer rules of server %s: %w", m.serverID, err)
	}
	r.followConsole(m, log)
	return nil
}

func (r *Runtime) machine(id string) *machine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.machines[id]
}

// withContainer runs fn with the server's machine locked, failing when the
// server has no container.
func (r *Runtime) withContainer(serverID string, fn func(m *machine) error) error {
	m := r.machine(serverID)
	if m == nil {
		return fmt.Errorf("server %s has no container", serverID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.containerID == "" || m.removed {
		return fmt.Errorf("server %s has no container", serverID)
	}
	return fn(m)
}

// stop stops a server's container (os-stop).
func (r *Runtime) stop(ctx context.Context, ev openstacktest.BootEvent) error {
	return r.withContainer(ev.ServerID, func(m *machine) error {
		return r.opts.Engine.StopContainer(ctx, m.containerID, r.opts.StopTimeout)
	})
}

// start starts a server's container (os-start).
func (r *Runtime) start(ctx context.Context, ev openstacktest.BootEvent) error {
	return r.withContainer(ev.ServerID, func(m *machine) error {
		return r.startLocked(ctx, m, r.log.WithValues("server", ev.ServerID))
	})
}

// reboot restarts a server's container: a soft reboot lets systemd shut
// down (StopTimeout), a hard one kills it.
func (r *Runtime) reboot(ctx context.Context, ev openstacktest.BootEvent, hard bool) error {
	return r.withContainer(ev.ServerID, func(m *machine) error {
		timeout := r.opts.StopTimeout
		if hard {
			timeout = 0
		}
		if err := r.opts.Engine.RestartContainer(ctx, m.containerID, timeout); err != nil {
			return err
		}
		return r.afterStart(ctx, m, r.log.WithValues("server", ev.ServerID))
	})
}

// delete removes a server's container, seed and, with its last user, its
// networks (OnDelete).
func (r *Runtime) delete(ctx context.Context, ev openstacktest.BootEvent) {
	r.mu.Lock()
	r.deleted[ev.ServerID] = true
	m := r.machines[ev.ServerID]
	r.mu.Unlock()
	if m == nil {
		return
	}
	// Finish the removal even when the simulator closes meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := r.removeMachine(ctx, m); err != nil {
		r.log.Error(err, "deleting a server's container", "server", ev.ServerID)
	}
}

// removeMachine removes m's container (by ID, with its anonymous volumes),
// its seed, and releases its networks.
func (r *Runtime) removeMachine(ctx context.Context, m *machine) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed {
		return nil
	}
	if m.containerID != "" {
		// Kept for Close to try again when this fails.
		if err := r.removeContainer(ctx, m.containerID); err != nil {
			return err
		}
	}
	var errs []error
	if err := r.opts.Engine.RemoveVolume(ctx, m.name+"-var"); err != nil {
		errs = append(errs, err)
	}
	if m.followDone != nil {
		select {
		case <-m.followDone:
		case <-time.After(5 * time.Second):
		}
	}
	for _, n := range m.networks {
		r.releaseNetwork(ctx, n)
	}
	if err := os.RemoveAll(r.serverDir(m.serverID)); err != nil {
		errs = append(errs, err)
	}
	m.removed = true
	r.mu.Lock()
	delete(r.machines, m.serverID)
	r.mu.Unlock()
	return errors.Join(errs...)
}

// Close removes everything the runtime created, by ID: containers with
// their volumes, networks, routes, iptables chains, VIP addresses, seeds.
func (r *Runtime) Close(ctx context.Context) error {
	r.lbMu.Lock()
	r.mu.Lock()
	r.closed = true
	r.lbMu.Unlock()
	var ms []*machine
	for _, m := range r.machines {
		ms = append(ms, m)
	}
	r.mu.Unlock()
	var errs []error
	for _, m := range ms {
		if err := r.removeMachine(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	r.lb.close()
	r.cancel()
	r.wg.Wait()
	errs = append(errs, r.removeNetworks(ctx)...)
	return errors.Join(errs...)
}

// Resume re-adopts the containers and networks of this runtime's instance
// after a process restart (found by their labels): running containers get
// their network namespace set up again and their console followed (lines
// already forwarded are not repeated). Containers of servers the simulator
// no longer has are removed once the runtime is attached to it.
func (r *Runtime) Resume(ctx context.Context) error {
	nets, err := r.opts.Engine.ListNetworks(ctx, r.labels(""))
	if err != nil {
		return err
	}
	r.netMu.Lock()
	// Routes of networks removed before the restart are still wanted.
	for cidr := range r.routes {
		if err := r.addUnreachableRoute(ctx, cidr); err != nil {
			r.netMu.Unlock()
			return err
		}
	}
	for _, n := range nets {
		id := n.Labels[LabelNetwork]
		if id == "" || len(n.Subnets) == 0 {
			continue
		}
		if err := r.addUnreachableRoute(ctx, n.Subnets[0].Subnet); err != nil {
			r.netMu.Unlock()
			return err
		}
		r.networks[id] = &netwrk{neutronID: id, name: n.Name, podmanID: n.ID, bridge: n.Interface,
			cidr: n.Subnets[0].Subnet, gateway: n.Subnets[0].Gateway}
		r.routes[n.Subnets[0].Subnet] = true
		if err := r.persistLocked(); err != nil {
			r.netMu.Unlock()
			return err
		}
		if err := r.addForwardRules(ctx, n.Interface); err != nil {
			r.netMu.Unlock()
			return err
		}
	}
	r.netMu.Unlock()
	cs, err := r.opts.Engine.ListContainers(ctx, r.labels(""))
	if err != nil {
		return err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
	var errs []error
	for _, c := range cs {
		sid := c.Labels[LabelServer]
		if sid == "" {
			continue
		}
		info, err := r.opts.Engine.InspectContainer(ctx, c.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m := &machine{serverID: sid, name: strings.TrimPrefix(info.Name, "/"), containerID: c.ID}
		r.netMu.Lock()
		for _, n := range r.networks {
			if _, ok := info.NetworkSettings.Networks[n.name]; ok {
				m.networks = append(m.networks, n.neutronID)
				n.users++
				if m.gateway == "" {
					m.gateway = n.gateway
				}
			}
		}
		r.netMu.Unlock()
		r.mu.Lock()
		r.machines[sid] = m
		r.mu.Unlock()
		if info.State.Running {
			m.mu.Lock()
			if err := r.afterStart(ctx, m, r.log.WithValues("server", sid)); err != nil {
				errs = append(errs, err)
			}
			m.mu.Unlock()
		}
	}
	r.mu.Lock()
	sim := r.sim
	r.mu.Unlock()
	if sim != nil {
		r.pruneDeleted(ctx, sim)
	}
	return errors.Join(errs...)
}
