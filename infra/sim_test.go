package infra_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// env is the test's cloud (the simulator, or the real cloud $OS_CLOUD names,
// see internal/cloudtest) connected as the member user, through a transport
// that can cancel a context at the k-th request.
type env struct {
	ct *cloudtest.Env
	// srv is the simulator; nil on a real cloud, where tests that use its
	// knobs call cloudtest.RequireSim first.
	srv   *openstacktest.Server
	cloud *provider.Cloud
	rt    *cancelTransport
	base  []openstacktest.Resource
	// cluster is "demo" on the simulator and "demo-<random>" on a real
	// cloud, whose leftovers the test's end deletes.
	cluster string
}

// newNetEnv is a cloud without Octavia (no load-balancer client).
func newNetEnv(t testing.TB, opts ...openstacktest.Option) *env {
	e := newEnv(t, opts...)
	e.cloud.LoadBalancer = nil
	return e
}

func newEnv(t testing.TB, opts ...openstacktest.Option) *env {
	t.Helper()
	ct := cloudtest.New(t, cloudtest.WithSimOptions(opts...))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt := &cancelTransport{base: http.DefaultTransport}
	cloud, err := ct.Connect(ctx, false, rt)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ct: ct, srv: ct.Sim(), cloud: cloud, rt: rt, cluster: ct.Cluster("demo")}
	e.base = e.snapshot()
	return e
}

// spec is s for the test's cluster.
func (e *env) spec(s infra.Spec) infra.Spec {
	s.Cluster = e.cluster
	return s
}

// snapshot lists the cloud's live resources.
func (e *env) snapshot() []openstacktest.Resource {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return e.ct.Snapshot(ctx)
}

// changed describes how after differs from before. On the simulator that
// is every difference; on a real cloud, where other tests create and delete
// at the same time, it is the resources of before that went or changed and
// the resources of the test's cluster.
func (e *env) changed(before, after []openstacktest.Resource) string {
	if e.srv != nil {
		return cmp.Diff(shape(before), shape(after))
	}
	ids := map[string]bool{}
	for _, r := range before {
		ids[r.ID] = true
	}
	keep := func(rs []openstacktest.Resource) []openstacktest.Resource {
		var out []openstacktest.Resource
		for _, r := range rs {
			if ids[r.ID] || r.HasTag(infra.OwnerTag(e.cluster)) {
				out = append(out, r)
			}
		}
		return out
	}
	return cmp.Diff(shape(keep(before)), shape(keep(after)))
}

// onReal runs fn when the test ends, on a real cloud only (the simulator
// goes with the test): for what a test makes besides its cluster.
func onReal(t *testing.T, e *env, fn func(ctx context.Context) error) {
	t.Helper()
	if e.srv != nil {
		return
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := fn(ctx); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Logf("clean up: %v", err)
		}
	})
}

// deleteServerOnReal deletes a server when the test ends on a real cloud
// and waits until it is gone, so that the cluster's network can go.
func deleteServerOnReal(t *testing.T, e *env, id string) {
	t.Helper()
	onReal(t, e, func(ctx context.Context) error {
		if err := servers.Delete(ctx, e.cloud.Compute, id).ExtractErr(); err != nil {
			return err
		}
		for ctx.Err() == nil {
			if err := servers.Get(ctx, e.cloud.Compute, id).Err; gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return nil
			}
			time.Sleep(500 * time.Millisecond)
		}
		return ctx.Err()
	})
}

// resetCalls zeroes the count of e.cloud's requests.
func (e *env) resetCalls() { e.ct.Counter(e.cloud).Reset() }

// calls counts the requests e.cloud sent since the connection or the last
// resetCalls, by operation, on any cloud (cloudtest.Counter): the call-count
// assertions hold on a real cloud too. Requests of other connections (the
// admin's, the snapshots') are not counted.
func (e *env) calls() openstacktest.Calls { return e.ct.Counter(e.cloud).Calls() }

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// cancelTransport cancels a context when the k-th request after arm is
// sent. Every request runs to completion on the server even when its
// caller gives up, as with a process that dies: the cloud still handles what
// it received. wait blocks until those requests are done.
type cancelTransport struct {
	base   http.RoundTripper
	mu     sync.Mutex
	left   int
	cancel context.CancelFunc
	fired  atomic.Bool
	wg     sync.WaitGroup
}

func (c *cancelTransport) arm(k int, cancel context.CancelFunc) {
	c.mu.Lock()
	c.left, c.cancel = k, cancel
	c.mu.Unlock()
	c.fired.Store(false)
}

// wait returns when every request sent so far has been answered.
func (c *cancelTransport) wait() { c.wg.Wait() }

type rtResult struct {
	resp *http.Response
	err  error
}

func (c *cancelTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	var cancel context.CancelFunc
	if c.cancel != nil {
		c.left--
		if c.left == 0 {
			cancel, c.cancel = c.cancel, nil
		}
	}
	c.mu.Unlock()
	done := make(chan rtResult)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		resp, err := c.base.RoundTrip(req.WithContext(context.WithoutCancel(req.Context())))
		select {
		case done <- rtResult{resp, err}:
		case <-req.Context().Done():
			// The caller gave up; nobody reads the answer.
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	if cancel != nil {
		res := <-done
		if res.err == nil {
			res.resp.Body.Close()
		}
		cancel()
		c.fired.Store(true)
		return nil, context.Canceled
	}
	select {
	case res := <-done:
		return res.resp, res.err
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

func baseSpec() infra.Spec {
	return infra.Spec{Cluster: "demo", NodeCIDR: "10.6.0.0/24", ExternalNetwork: openstacktest.ExternalNetwork}
}

func netOnlySpec() infra.Spec {
	s := baseSpec()
	s.APIServer.DisableLoadBalancer = true
	return s
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// shape is a snapshot without IDs, statuses and order: what exists.
func shape(rs []openstacktest.Resource) []string {
	var out []string
	for _, r := range rs {
		tags := slices.Clone(r.Tags)
		sort.Strings(tags)
		out = append(out, fmt.Sprintf("%s/%s %q %v", r.Service, r.Kind, uuidRE.ReplaceAllString(r.Name, "<id>"), tags))
	}
	sort.Strings(out)
	return out
}

// owned lists the resources carrying the cluster's tag.
func owned(rs []openstacktest.Resource, cluster string) []openstacktest.Resource {
	var out []openstacktest.Resource
	for _, r := range rs {
		if r.HasTag(infra.OwnerTag(cluster)) {
			out = append(out, r)
		}
	}
	return out
}

func count(rs []openstacktest.Resource, kind string) int {
	n := 0
	for _, r := range rs {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

func TestEnsureColdCreatesExpectedResources(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  infra.Spec
		want  map[string]int // owned resources per kind
		setup func(testing.TB, ...openstacktest.Option) *env
	}{
		{"network only", netOnlySpec(), map[string]int{"network": 1, "subnet": 1, "router": 1, "security_group": 3, "floatingip": 1}, newNetEnv},
		{"load balancer", baseSpec(), map[string]int{"network": 1, "subnet": 1, "router": 1, "security_group": 3, "floatingip": 1,
			"loadbalancer": 1, "listener": 1, "pool": 1, "healthmonitor": 1}, newEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.setup(t)
			spec := e.spec(tc.spec)
			want := maps.Clone(tc.want)
			if e.srv == nil {
				delete(want, "healthmonitor") // not in a real cloud's snapshot; checkLB reads it
			}
			var events []infra.Event
			var mu sync.Mutex
			inf := infra.New(e.cloud, infra.WithProgress(func(ev infra.Event) {
				mu.Lock()
				events = append(events, ev)
				mu.Unlock()
			}))
			st, err := inf.Ensure(testCtx(t), spec)
			if err != nil {
				t.Fatal(err)
			}
			snap := e.snapshot()
			got := map[string]int{}
			for _, r := range owned(snap, e.cluster) {
				got[r.Kind]++
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("owned resources per kind (-want +got):\n%s", diff)
			}
			checkRelations(t, e, st, spec)
			// Octavia takes the load balancer with its listener, pool and
			// monitor in one request. The local real cloud's Octavia (Zed)
			// leaves such children PENDING_CREATE and infra makes them one
			// by one (realstack README, Observed behaviours).
			lbPosts := map[string]int{}
			for op, n := range e.calls() {
				if strings.HasPrefix(op, "POST ") && strings.Contains(op, "/lbaas/") {
					lbPosts[op[strings.LastIndex(op, "/")+1:]] += n
				}
			}
			if !e.ct.LocalStack() && !spec.APIServer.DisableLoadBalancer && !cmp.Equal(lbPosts, map[string]int{"loadbalancers": 1}) {
				t.Errorf("Octavia creates: %v, want one fully populated load balancer", lbPosts)
			}
			if len(events) == 0 {
				t.Error("no progress events")
			}
			for _, ev := range events {
				if ev.Err != nil {
					t.Errorf("event with error: %v", ev)
				}
			}
		})
	}
}

// checkRelations reads the created resources back through gophercloud and
// checks how they hang together.
func checkRelations(t *testing.T, e *env, st infra.Status, spec infra.Spec) {
	t.Helper()
	ctx := testCtx(t)
	c := e.cloud.Network
	for _, id := range []string{st.NetworkID, st.SubnetID, st.RouterID, st.ExternalNetworkID} {
		if id == "" {
			t.Fatalf("status lacks an ID: %+v", st)
		}
	}
	if st.APIEndpoint.Host == "" || st.APIEndpoint.Port != 6443 {
		t.Errorf("APIEndpoint = %+v", st.APIEndpoint)
	}
	sub := getSubnet(t, ctx, c, st.SubnetID)
	if sub.NetworkID != st.NetworkID || sub.CIDR != spec.NodeCIDR {
		t.Errorf("subnet %+v: want network %s and CIDR %s", sub, st.NetworkID, spec.NodeCIDR)
	}
	rtr := getRouter(t, ctx, c, st.RouterID)
	if rtr.GatewayInfo.NetworkID != st.ExternalNetworkID {
		t.Errorf("router gateway = %q, want external network %s", rtr.GatewayInfo.NetworkID, st.ExternalNetworkID)
	}
	if !routerHasSubnet(t, ctx, c, st.RouterID, st.SubnetID) {
		t.Errorf("router %s has no interface on subnet %s", st.RouterID, st.SubnetID)
	}
	// Rules that reference groups reference the cluster's groups.
	groupIDs := map[string]bool{}
	for _, id := range st.SecurityGroups {
		groupIDs[id] = true
	}
	if len(groupIDs) != 3 {
		t.Fatalf("security groups = %v", st.SecurityGroups)
	}
	etcdFromCP := false
	for role, id := range st.SecurityGroups {
		g := getGroup(t, ctx, c, id)
		for _, r := range g.Rules {
			if r.RemoteGroupID != "" && !groupIDs[r.RemoteGroupID] {
				t.Errorf("group %s rule %s references foreign group %s", role, r.ID, r.RemoteGroupID)
			}
			if role == infra.RoleControlPlane && r.PortRangeMin == 2379 && r.PortRangeMax == 2380 && r.RemoteGroupID == st.SecurityGroups[infra.RoleControlPlane] {
				etcdFromCP = true
			}
		}
	}
	if !etcdFromCP {
		t.Error("control-plane group lacks etcd 2379-2380 from itself")
	}
	fip := getFIP(t, ctx, c, st.FloatingIP.ID)
	if fip.FloatingIP != st.APIEndpoint.Host || fip.FloatingNetworkID != st.ExternalNetworkID {
		t.Errorf("floating IP %+v does not match the status %+v", fip, st)
	}
	if !spec.APIServer.DisableLoadBalancer {
		checkLB(t, e, st)
		if fip.PortID != st.LoadBalancer.VIPPortID {
			t.Errorf("floating IP port = %q, want the VIP port %s", fip.PortID, st.LoadBalancer.VIPPortID)
		}
	}
}

func TestSecondEnsureMakesNoWrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  infra.Spec
		setup func(testing.TB, ...openstacktest.Option) *env
	}{
		{"network only", netOnlySpec(), newNetEnv},
		{"load balancer", baseSpec(), newEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.setup(t)
			spec := e.spec(tc.spec)
			inf := infra.New(e.cloud)
			st, err := inf.Ensure(testCtx(t), spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, withStatus := range []bool{false, true} {
				e.resetCalls()
				var opts []infra.EnsureOption
				if withStatus {
					opts = append(opts, infra.WithStatus(st))
				}
				st2, err := inf.Ensure(testCtx(t), spec, opts...)
				if err != nil {
					t.Fatal(err)
				}
				calls := e.calls()
				if calls.Writes() != 0 {
					t.Errorf("withStatus=%v: second Ensure made %d writes: %v", withStatus, calls.Writes(), calls)
				}
				for op, n := range calls {
					// One read per kind; the external network by name only
					// without a status.
					limit := 1
					if op == "GET /network/v2.0/networks" && !withStatus {
						limit = 2
					}
					if n > limit {
						t.Errorf("withStatus=%v: %s called %d times, want at most %d", withStatus, op, n, limit)
					}
				}
				if diff := cmp.Diff(st, st2); diff != "" {
					t.Errorf("status changed (-first +second):\n%s", diff)
				}
			}
		})
	}
}

func TestPlan(t *testing.T) {
	e := newNetEnv(t)
	inf := infra.New(e.cloud)
	spec := e.spec(netOnlySpec())
	plan, err := inf.Plan(testCtx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("Plan made %d writes", w)
	}
	creates := map[string]int{}
	for _, c := range plan.Changes {
		if c.Action != infra.ActionCreate {
			t.Errorf("cold plan has %v", c)
		}
		creates[c.Resource]++
	}
	want := map[string]int{"network": 1, "subnet": 1, "router": 1, "router interface": 1, "security group": 3,
		"security group rule": 11, "floating IP": 1}
	if diff := cmp.Diff(want, creates); diff != "" {
		t.Errorf("cold plan creates (-want +got):\n%s\n%s", diff, plan)
	}
	if _, err := inf.Ensure(testCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	plan, err = inf.Plan(testCtx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Empty() {
		t.Errorf("plan after Ensure:\n%s", plan)
	}
	// Drift shows up in the plan.
	spec.SecurityGroups.NodePorts = true
	plan, err = inf.Plan(testCtx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].Resource != "security group rule" || !strings.Contains(plan.Changes[0].Detail, "30000-32767") {
		t.Errorf("plan with NodePorts:\n%s", plan)
	}
}

func TestDeleteRemovesEverything(t *testing.T) {
	e := newNetEnv(t)
	inf := infra.New(e.cloud)
	if _, err := inf.Ensure(testCtx(t), e.spec(netOnlySpec())); err != nil {
		t.Fatal(err)
	}
	if err := inf.Delete(testCtx(t), e.cluster); err != nil {
		t.Fatal(err)
	}
	if diff := e.changed(e.base, e.snapshot()); diff != "" {
		t.Errorf("after Delete (-before Ensure +after Delete):\n%s", diff)
	}
	// Idempotent.
	e.resetCalls()
	if err := inf.Delete(testCtx(t), e.cluster); err != nil {
		t.Fatal(err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("second Delete made %d writes", w)
	}
}
