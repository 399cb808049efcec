package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/openstrap/openstrap/internal/retry"
)

// ErrBootFailed: Nova put the server in ERROR. The error carries Nova's
// fault message; everything created for the machine has been deleted.
var ErrBootFailed = errors.New("server failed to boot")

// computeMicroversion is the Nova API version machines use: 2.52 accepts
// tags when a server is created, so a server is never seen untagged.
const computeMicroversion = "2.52"

// ProviderIDPrefix starts a machine's Kubernetes provider ID, as the
// OpenStack cloud provider sets it on the node.
const ProviderIDPrefix = "openstack:///"

// Machine is the observed state of a machine: what exists in the cloud.
type Machine struct {
	// Cluster and Name identify the machine.
	Cluster string
	Name    string
	// Role is read back from the server's metadata.
	Role Role
	// ServerID is the Nova server's ID.
	ServerID string
	// ProviderID is "openstack:///<server ID>", the node's spec.providerID.
	ProviderID string
	// Status is Nova's server status (ACTIVE, BUILD, ERROR, ...).
	Status string
	// Fault is Nova's fault message for a server in ERROR.
	Fault string `json:",omitempty"`
	// InternalAddress is the first fixed IP of the first port: the node's
	// address and the one registered with the API server pool.
	InternalAddress string
	// Addresses maps network names to the server's fixed IPs on them.
	Addresses map[string][]string
	// FloatingIP is the floating IP on the first port, if any.
	FloatingIP string `json:",omitempty"`
	// PortIDs are the machine's Neutron ports in spec order.
	PortIDs []string
	// VolumeIDs are the Cinder volumes created for the machine (root
	// first).
	VolumeIDs []string `json:",omitempty"`
	// ServerGroupID is the server group openstrap created for the machine,
	// if any.
	ServerGroupID string `json:",omitempty"`
}

// MachinePhase names a step of creating or deleting a machine in a
// MachineEvent.
type MachinePhase string

// Phases reported through WithMachinesProgress.
const (
	PhaseResolve     MachinePhase = "resolve"
	PhaseServerGroup MachinePhase = "server-group"
	PhasePort        MachinePhase = "port"
	PhaseFloatingIP  MachinePhase = "floating-ip"
	PhaseVolume      MachinePhase = "volume"
	PhaseServer      MachinePhase = "server"
	PhaseBoot        MachinePhase = "boot"
	PhasePool        MachinePhase = "api-server-pool"
	PhaseDelete      MachinePhase = "delete"
)

// MachineEvent reports progress on one machine. Events are informative only:
// running the call again resumes where it stopped.
type MachineEvent struct {
	// Cluster and Machine name the machine.
	Cluster string
	Machine string
	// Phase is the step.
	Phase MachinePhase
	// Name and ID identify the resource the step is about, when there is
	// one.
	Name string
	ID   string
	// Done is set when the step finished (successfully when Err is nil).
	Done bool
	// Err is why the step failed.
	Err error
}

// MachinesOption configures Machines.
type MachinesOption interface {
	applyMachines(*machinesOptions)
}

type machinesOption func(*machinesOptions)

func (f machinesOption) applyMachines(o *machinesOptions) { f(o) }

type machinesOptions struct {
	log         *logr.Logger
	progress    func(MachineEvent)
	pool        APIServerPool
	concurrency int
	// call retries single API calls; wait polls state changes.
	call, wait retry.Policy
}

// WithMachinesLogger logs to log instead of the logger in the context.
func WithMachinesLogger(log logr.Logger) MachinesOption {
	return machinesOption(func(o *machinesOptions) { o.log = &log })
}

// WithMachinesProgress calls fn for each step. During CreateBatch fn is
// called from several goroutines at once.
func WithMachinesProgress(fn func(MachineEvent)) MachinesOption {
	return machinesOption(func(o *machinesOptions) { o.progress = fn })
}

// WithAPIServerPool registers control-plane machines with pool when they are
// ACTIVE and removes them when they are deleted.
func WithAPIServerPool(pool APIServerPool) MachinesOption {
	return machinesOption(func(o *machinesOptions) { o.pool = pool })
}

// WithMachinesConcurrency bounds how many machines CreateBatch creates at
// once (10 by default; values below 1 mean 1).
func WithMachinesConcurrency(n int) MachinesOption {
	return machinesOption(func(o *machinesOptions) {
		if n < 1 {
			n = 1
		}
		o.concurrency = n
	})
}

// Machines creates, finds and deletes the machines of clusters on one cloud.
//
// Every method is idempotent and safe for concurrent use: calls for the same
// machine are serialized, calls for different machines run in parallel.
// Resources are found again by deterministic names ("<machine>-<i>" ports,
// "<machine>-root" volumes) plus the ownership marker
// "openstrap-cluster=<cluster>" (tag, description or metadata), so a call
// made after a crash or a lost answer picks up what an earlier call created
// instead of duplicating it. Two processes must not create the same machine
// at the same moment (controllers elect a leader for this): the look before
// each create cannot see a create of another process still in flight.
//
// Waiting is cheap: the machines of a cluster that wait for their servers at
// the same time share one server list call per poll.
type Machines struct {
	cloud   *Cloud
	compute *gophercloud.ServiceClient
	opts    machinesOptions
	locks   keyedMutex
	lists   serverLists

	// groupsMu guards groupUse: server groups a Create of this process is
	// about to put a server into, which Delete must not remove meanwhile.
	groupsMu sync.Mutex
	groupUse map[string]int
}

// useGroup marks a server group as about to get a member until release is
// called.
func (m *Machines) useGroup(id string) (release func()) {
	m.groupsMu.Lock()
	defer m.groupsMu.Unlock()
	if m.groupUse == nil {
		m.groupUse = map[string]int{}
	}
	m.groupUse[id]++
	return func() {
		m.groupsMu.Lock()
		defer m.groupsMu.Unlock()
		if m.groupUse[id]--; m.groupUse[id] <= 0 {
			delete(m.groupUse, id)
		}
	}
}

func (m *Machines) groupInUse(id string) bool {
	m.groupsMu.Lock()
	defer m.groupsMu.Unlock()
	return m.groupUse[id] > 0
}

// NewMachines returns the machines service of cloud.
func NewMachines(cloud *Cloud, opts ...MachinesOption) *Machines {
	o := machinesOptions{
		concurrency: 10,
		call:        retry.Policy{Initial: 200 * time.Millisecond, Max: 3 * time.Second, MaxElapsed: 2 * time.Minute},
		// Polls are shared by a cluster's waiters (see serverLists), so
		// they can be frequent.
		wait: retry.Policy{Initial: 200 * time.Millisecond, Max: 500 * time.Millisecond},
	}
	for _, opt := range opts {
		opt.applyMachines(&o)
	}
	m := &Machines{cloud: cloud, opts: o}
	if cloud.Compute != nil {
		c := *cloud.Compute
		c.Microversion = computeMicroversion
		m.compute = &c
	}
	return m
}

func (m *Machines) logger(ctx context.Context) logr.Logger {
	if m.opts.log != nil {
		return *m.opts.log
	}
	return logr.FromContextOrDiscard(ctx)
}

func (m *Machines) event(ev MachineEvent) {
	if m.opts.progress != nil {
		m.opts.progress(ev)
	}
}

func (m *Machines) call(ctx context.Context, op func(context.Context) error) error {
	return retry.Do(ctx, m.opts.call, op)
}

func (m *Machines) newResolver() *resolver {
	return newResolver(m.cloud, m.compute, m.opts.call)
}

// Get returns the machine named name in cluster, or an error matching
// ErrNotFound.
func (m *Machines) Get(ctx context.Context, cluster, name string) (*Machine, error) {
	srv, err := m.findServer(ctx, cluster, name)
	if err != nil {
		return nil, err
	}
	if srv == nil {
		return nil, &Error{Op: "get", Kind: "machine", Name: name, Cloud: m.cloud.Name,
			Err: fmt.Errorf("%w: no server %q tagged %s", ErrNotFound, name, OwnershipTag(cluster))}
	}
	ms, err := m.observe(ctx, cluster, []servers.Server{*srv}, name)
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// List returns the machines of cluster, sorted by name.
func (m *Machines) List(ctx context.Context, cluster string) ([]*Machine, error) {
	srvs, err := m.listServers(ctx, cluster, "")
	if err != nil {
		return nil, err
	}
	return m.observe(ctx, cluster, srvs, "")
}

// listServers lists the servers tagged for cluster, named name when it is
// set. Nova's name filter is a regular expression, so names are compared
// again here.
func (m *Machines) listServers(ctx context.Context, cluster, name string) ([]servers.Server, error) {
	var out []servers.Server
	err := m.call(ctx, func(ctx context.Context) error {
		pages, err := servers.List(m.compute, servers.ListOpts{Name: name, Tags: OwnershipTag(cluster)}).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = servers.ExtractServers(pages)
		return err
	})
	if err != nil {
		return nil, &Error{Op: "list", Kind: "servers", Name: OwnershipTag(cluster), Cloud: m.cloud.Name, Err: err}
	}
	kept := out[:0]
	for _, s := range out {
		if (name == "" || s.Name == name) && s.Tags != nil && hasAll(*s.Tags, []string{OwnershipTag(cluster)}) {
			kept = append(kept, s)
		}
	}
	sort.Slice(kept, func(i, j int) bool {
		if kept[i].Name != kept[j].Name {
			return kept[i].Name < kept[j].Name
		}
		if !kept[i].Created.Equal(kept[j].Created) {
			return kept[i].Created.Before(kept[j].Created)
		}
		return kept[i].ID < kept[j].ID
	})
	return kept, nil
}

// findServer returns the machine's server, or nil when there is none. If a
// race outside this process left two, the oldest is the machine.
func (m *Machines) findServer(ctx context.Context, cluster, name string) (*servers.Server, error) {
	srvs, err := m.listServers(ctx, cluster, name)
	if err != nil || len(srvs) == 0 {
		return nil, err
	}
	if len(srvs) > 1 {
		m.logger(ctx).Info("several servers for one machine; using the oldest", "cluster", cluster, "machine", name, "servers", len(srvs))
	}
	return &srvs[0], nil
}

// portIndex returns i for a port named "<machine>-<i>".
func portIndex(machine, portName string) (int, bool) {
	rest, ok := strings.CutPrefix(portName, machine+"-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || strconv.Itoa(i) != rest {
		return 0, false
	}
	return i, true
}

// owned reports whether a Neutron resource carries the ownership tag or the
// ownership description openstrap sets when it creates it.
func owned(cluster, description string, tags []string) bool {
	return description == OwnershipTag(cluster) || hasAll(tags, []string{OwnershipTag(cluster)})
}

// clusterPorts lists the ports openstrap created for cluster's machines.
func (m *Machines) clusterPorts(ctx context.Context, cluster string, opts ports.ListOpts) ([]ports.Port, error) {
	opts.ProjectID = m.cloud.ProjectID
	var out []ports.Port
	err := m.call(ctx, func(ctx context.Context) error {
		pages, err := ports.List(m.cloud.Network, opts).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = ports.ExtractPorts(pages)
		return err
	})
	if err != nil {
		return nil, &Error{Op: "list", Kind: "ports", Name: opts.Name, Cloud: m.cloud.Name, Err: err}
	}
	kept := out[:0]
	for _, p := range out {
		if owned(cluster, p.Description, p.Tags) && (opts.Name == "" || p.Name == opts.Name) {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

// machinePorts returns the ports of a machine by index.
func (m *Machines) machinePorts(ctx context.Context, cluster, machine string) (map[int][]ports.Port, error) {
	all, err := m.clusterPorts(ctx, cluster, ports.ListOpts{Description: OwnershipTag(cluster)})
	if err != nil {
		return nil, err
	}
	byIndex := map[int][]ports.Port{}
	for _, p := range all {
		if i, ok := portIndex(machine, p.Name); ok {
			byIndex[i] = append(byIndex[i], p)
		}
	}
	return byIndex, nil
}

// floatingIPs lists the floating IPs openstrap created for cluster.
func (m *Machines) floatingIPs(ctx context.Context, cluster string, opts floatingips.ListOpts) ([]floatingips.FloatingIP, error) {
	opts.ProjectID = m.cloud.ProjectID
	var out []floatingips.FloatingIP
	err := m.call(ctx, func(ctx context.Context) error {
		pages, err := floatingips.List(m.cloud.Network, opts).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = floatingips.ExtractFloatingIPs(pages)
		return err
	})
	if err != nil {
		return nil, &Error{Op: "list", Kind: "floating IPs", Cloud: m.cloud.Name, Err: err}
	}
	kept := out[:0]
	for _, f := range out {
		if owned(cluster, f.Description, f.Tags) && (opts.PortID == "" || f.PortID == opts.PortID) {
			kept = append(kept, f)
		}
	}
	return kept, nil
}

// volumeMetadata marks the volumes of a machine; Cinder volumes have no
// tags.
func volumeMetadata(cluster, machine string) map[string]string {
	md := map[string]string{OwnershipTagKey: cluster}
	if machine != "" {
		md[MetadataMachine] = machine
	}
	return md
}

// machineVolumes lists the volumes openstrap created for cluster, or for
// one machine of it.
func (m *Machines) machineVolumes(ctx context.Context, cluster, machine string) ([]volumes.Volume, error) {
	if m.cloud.BlockStorage == nil {
		return nil, nil
	}
	md := volumeMetadata(cluster, machine)
	var out []volumes.Volume
	err := m.call(ctx, func(ctx context.Context) error {
		pages, err := volumes.List(m.cloud.BlockStorage, volumes.ListOpts{Metadata: md}).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = volumes.ExtractVolumes(pages)
		return err
	})
	if err != nil {
		return nil, &Error{Op: "list", Kind: "volumes", Cloud: m.cloud.Name, Err: err}
	}
	kept := out[:0]
	for _, v := range out {
		if v.Metadata[OwnershipTagKey] == cluster && (machine == "" || v.Metadata[MetadataMachine] == machine) {
			kept = append(kept, v)
		}
	}
	return kept, nil
}

// observe builds the machines of srvs with their ports, floating IPs and
// volumes. machine narrows the lookups to one machine.
func (m *Machines) observe(ctx context.Context, cluster string, srvs []servers.Server, machine string) ([]*Machine, error) {
	out := make([]*Machine, 0, len(srvs))
	if len(srvs) == 0 {
		return out, nil
	}
	allPorts, err := m.clusterPorts(ctx, cluster, ports.ListOpts{Description: OwnershipTag(cluster)})
	if err != nil {
		return nil, err
	}
	fips, err := m.floatingIPs(ctx, cluster, floatingips.ListOpts{Description: OwnershipTag(cluster)})
	if err != nil {
		return nil, err
	}
	vols, err := m.machineVolumes(ctx, cluster, machine)
	if err != nil {
		return nil, err
	}
	for i := range srvs {
		srv := &srvs[i]
		var mine []ports.Port
		for _, p := range allPorts {
			if _, ok := portIndex(srv.Name, p.Name); ok && (p.DeviceID == srv.ID || p.DeviceID == "") {
				mine = append(mine, p)
			}
		}
		var myVols []volumes.Volume
		for _, v := range vols {
			if v.Metadata[MetadataMachine] == srv.Name {
				myVols = append(myVols, v)
			}
		}
		out = append(out, assemble(cluster, srv, mine, fips, myVols))
	}
	return out, nil
}

// assemble builds a Machine from what was found.
func assemble(cluster string, srv *servers.Server, ps []ports.Port, fips []floatingips.FloatingIP, vols []volumes.Volume) *Machine {
	mc := &Machine{
		Cluster:       cluster,
		Name:          srv.Name,
		Role:          Role(srv.Metadata[MetadataRole]),
		ServerID:      srv.ID,
		ProviderID:    ProviderIDPrefix + srv.ID,
		Status:        srv.Status,
		Addresses:     map[string][]string{},
		ServerGroupID: srv.Metadata[MetadataServerGroup],
	}
	if srv.Status == "ERROR" {
		mc.Fault = srv.Fault.Message
	}
	for network, raw := range srv.Addresses {
		list, _ := raw.([]any)
		for _, a := range list {
			am, _ := a.(map[string]any)
			addr, _ := am["addr"].(string)
			if typ, _ := am["OS-EXT-IPS:type"].(string); addr == "" || typ == "floating" {
				continue
			}
			mc.Addresses[network] = append(mc.Addresses[network], addr)
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		a, _ := portIndex(srv.Name, ps[i].Name)
		b, _ := portIndex(srv.Name, ps[j].Name)
		return a < b
	})
	for _, p := range ps {
		mc.PortIDs = append(mc.PortIDs, p.ID)
	}
	if len(ps) > 0 {
		if len(ps[0].FixedIPs) > 0 {
			mc.InternalAddress = ps[0].FixedIPs[0].IPAddress
		}
		for _, f := range fips {
			if f.PortID == ps[0].ID {
				mc.FloatingIP = f.FloatingIP
			}
		}
	}
	sort.Slice(vols, func(i, j int) bool {
		ri, rj := strings.HasSuffix(vols[i].Name, "-root"), strings.HasSuffix(vols[j].Name, "-root")
		if ri != rj {
			return ri
		}
		return vols[i].Name < vols[j].Name
	})
	for _, v := range vols {
		mc.VolumeIDs = append(mc.VolumeIDs, v.ID)
	}
	return mc
}

// keyedMutex serializes work per key (one machine, one server group) and
// honours the context while waiting.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	sem  chan struct{}
	refs int
}

func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{sem: make(chan struct{}, 1)}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case e.sem <- struct{}{}:
		return func() { <-e.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
