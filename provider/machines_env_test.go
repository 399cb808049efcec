package provider_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/attributestags"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// simEnv is a cloud (the simulator, or the real one $OS_CLOUD names, see
// internal/cloudtest) with a cluster network routed to the external network,
// as infra would leave it.
type simEnv struct {
	env *cloudtest.Env
	// s is the simulator; nil on a real cloud, where tests that use it call
	// cloudtest.RequireSim first.
	s        *openstacktest.Server
	cloud    *provider.Cloud
	netID    string
	subnetID string
	// cluster, netName and subnetName are "demo", "demo-net" and
	// "demo-subnet" on the simulator, unique names on a real cloud.
	cluster, netName, subnetName string
	// base is the snapshot after the setup; tests compare against it.
	base []openstacktest.Resource
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newSimEnv(t testing.TB, opts ...openstacktest.Option) *simEnv {
	t.Helper()
	env := cloudtest.New(t, cloudtest.WithSimOptions(opts...))
	ctx := testCtx(t, env.Timeout(time.Minute))
	cloud := env.Cloud(ctx)
	e := &simEnv{env: env, s: env.Sim(), cloud: cloud, cluster: env.Cluster("demo"),
		netName: env.Name("demo-net"), subnetName: env.Name("demo-subnet")}
	// On a real cloud the fixtures carry a tag of their own so that the
	// test's cleanup deletes them.
	fixtureTag := provider.OwnershipTag(env.Cluster("demo-fixture"))
	tag := func(kind, id string) {
		if !env.IsReal() {
			return
		}
		if _, err := attributestags.ReplaceAll(ctx, cloud.Network, kind, id, attributestags.ReplaceAllOpts{Tags: []string{fixtureTag}}).Extract(); err != nil {
			t.Fatalf("tag %s %s: %v", kind, id, err)
		}
	}
	net, err := networks.Create(ctx, cloud.Network, networks.CreateOpts{Name: e.netName}).Extract()
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	tag("networks", net.ID)
	e.netID = net.ID
	sn, err := subnets.Create(ctx, cloud.Network, subnets.CreateOpts{NetworkID: net.ID, Name: e.subnetName,
		CIDR: "10.6.0.0/24", IPVersion: 4}).Extract()
	if err != nil {
		t.Fatalf("create subnet: %v", err)
	}
	tag("subnets", sn.ID)
	e.subnetID = sn.ID
	ext, err := networks.List(cloud.Network, networks.ListOpts{Name: openstacktest.ExternalNetwork}).AllPages(ctx)
	if err != nil {
		t.Fatalf("list external network: %v", err)
	}
	exts, _ := networks.ExtractNetworks(ext)
	if len(exts) != 1 {
		t.Fatalf("external network %q: found %d", openstacktest.ExternalNetwork, len(exts))
	}
	r, err := routers.Create(ctx, cloud.Network, routers.CreateOpts{Name: env.Name("demo-router"),
		GatewayInfo: &routers.GatewayInfo{NetworkID: exts[0].ID}}).Extract()
	if err != nil {
		t.Fatalf("create router: %v", err)
	}
	tag("routers", r.ID)
	if _, err := routers.AddInterface(ctx, cloud.Network, r.ID, routers.AddInterfaceOpts{SubnetID: sn.ID}).Extract(); err != nil {
		t.Fatalf("add router interface: %v", err)
	}
	e.base = e.snapshot()
	return e
}

// resetCalls zeroes the count of e.cloud's requests.
func (e *simEnv) resetCalls() { e.env.Counter(e.cloud).Reset() }

// calls counts the requests e.cloud sent since the last resetCalls, by
// operation, on any cloud (cloudtest.Counter); requests of other
// connections (the admin's, the snapshots') are not counted.
func (e *simEnv) calls() openstacktest.Calls { return e.env.Counter(e.cloud).Calls() }

// snapshot lists the cloud's live resources.
func (e *simEnv) snapshot() []openstacktest.Resource {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return e.env.Snapshot(ctx)
}

// machines returns a Machines service, with fast polling on the simulator.
func (e *simEnv) machines(opts ...provider.MachinesOption) *provider.Machines {
	if e.env.IsReal() {
		return provider.NewMachines(e.cloud, opts...)
	}
	return provider.NewMachines(e.cloud, append([]provider.MachinesOption{provider.WithFastPolling()}, opts...)...)
}

func (e *simEnv) worker(name string) provider.MachineSpec {
	return provider.MachineSpec{
		Cluster:  e.cluster,
		Name:     name,
		Role:     provider.Worker,
		Flavor:   simFlavor,
		Image:    openstacktest.ImageName,
		UserData: []byte("#cloud-config\n"),
		Ports:    []provider.PortSpec{{Network: e.netName}},
	}
}

// resourceKey identifies a snapshot entry.
func resourceKey(r openstacktest.Resource) string {
	return r.Service + "/" + r.Kind + "/" + r.Name + "/" + r.ID
}

// diffSnapshot returns what was added to and removed from the setup's
// snapshot.
func (e *simEnv) diffSnapshot() (added, removed []string) {
	base := map[string]bool{}
	for _, r := range e.base {
		base[resourceKey(r)] = true
	}
	now := map[string]bool{}
	for _, r := range e.snapshot() {
		k := resourceKey(r)
		now[k] = true
		if !base[k] {
			added = append(added, k+" "+r.Status)
		}
	}
	for k := range base {
		if !now[k] {
			removed = append(removed, k)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

// assertClean fails when the cloud differs from the setup's snapshot.
func (e *simEnv) assertClean(t testing.TB) {
	t.Helper()
	added, removed := e.diffSnapshot()
	if len(added) > 0 || len(removed) > 0 {
		t.Errorf("cloud differs from its state before the test:\nleft behind: %s\nremoved: %s",
			strings.Join(added, "\n  "), strings.Join(removed, "\n  "))
	}
}

// kinds counts the resources added since the setup by service/kind.
func (e *simEnv) kinds() map[string]int {
	added, _ := e.diffSnapshot()
	out := map[string]int{}
	for _, a := range added {
		parts := strings.SplitN(a, "/", 3)
		out[parts[0]+"/"+parts[1]]++
	}
	return out
}

// fakePool is an APIServerPool that remembers its members.
type fakePool struct {
	mu      sync.Mutex
	members map[string]string
	adds    int
	removes int
}

func (p *fakePool) AddMember(_ context.Context, name, address string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.members == nil {
		p.members = map[string]string{}
	}
	p.members[name] = address
	p.adds++
	return nil
}

func (p *fakePool) RemoveMember(_ context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.members, name)
	p.removes++
	return nil
}

func (p *fakePool) snapshot() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneMap(p.members)
}

func cloneMap(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

var _ = cmp.Diff
