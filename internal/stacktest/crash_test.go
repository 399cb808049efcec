package stacktest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openstrap/openstrap/bootstrap"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// crashSampleSize is how many crash points a normal run sweeps.
const crashSampleSize = 6

// TestCrashSweep kills the manager (Cluster API's controllers and
// openstrap's, one process) at the k-th OpenStack write of a cluster's
// creation (a KubeadmControlPlane of one replica and a MachineDeployment of
// two), restarts it, and checks that the cluster converges to exactly the
// resources an uninterrupted creation makes (no duplicate port, server, load
// balancer or floating IP) and that deleting it leaves the cloud as it was.
//
// A kill is a hard one: at the k-th write the simulator either drops the
// request before handling it (drop-before: the write never happened) or
// handles it and drops the answer (drop-after: it happened, the process
// never knew), and from that moment every request of the dead process fails,
// to the cloud and to the management cluster alike, so that it records
// nothing after the write it died in. Then it is stopped and a new one
// started.
//
// A clean run first measures W, the writes of one creation. A normal run
// then sweeps crashSampleSize points spread over 1..W (the first and last
// write included, both modes; $OPENSTRAP_CRASH_SEED moves the interior
// ones); OPENSTRAP_FULL_CRASH_SWEEP=1 sweeps all W×2, and
// OPENSTRAP_CRASH_POINTS=k:before,k:after,... the points it names. Each point costs about
// a minute: run with -timeout 30m (the sample) or several hours (full).
func TestCrashSweep(t *testing.T) {
	e := Start(t, Options{NoControllers: true})
	cs := &crashStack{e: e}
	ctx := context.Background()
	if err := cs.start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.stop(context.Background()) })
	baseline := e.Cloud.Snapshot()

	// The clean run: what one creation writes and leaves on the cloud.
	var clean []string
	var writes int
	if !t.Run("clean", func(t *testing.T) {
		const ns = "crash-clean"
		cs.createNamespace(t, ns)
		// A matcher that never matches sees every write, in order.
		var mu sync.Mutex
		var order []string
		defer e.Cloud.InjectFault(openstacktest.Fault{Writes: true, Match: func(r *http.Request) bool {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, fmt.Sprintf("%d %s %s", len(order)+1, r.Method, r.URL.Path))
			return false
		}})()
		e.Cloud.ResetCalls()
		if err := e.Apply(ctx, ClusterTemplate(), e.Vars(ns, ns, 1, 2)); err != nil {
			t.Fatalf("apply the cluster template: %v", err)
		}
		e.waitMachines(t, ns, ns, 3)
		e.checkCloud(t, ns, ns)
		// Steady state: the set of resources stops changing.
		Eventually(t, time.Minute, "cloud resources settled", func(ctx context.Context) (bool, string, error) {
			a := crashAdded(baseline, e.Cloud.Snapshot(), ns)
			time.Sleep(3 * time.Second)
			b := crashAdded(baseline, e.Cloud.Snapshot(), ns)
			return cmp.Equal(a, b), strings.Join(b, "\n"), nil
		})
		clean = crashAdded(baseline, e.Cloud.Snapshot(), ns)
		calls := e.Cloud.Calls()
		writes = calls.Writes()
		mu.Lock()
		t.Logf("an uninterrupted creation: %d writes, %d resources:\n%s\nwrites in order:\n%s\ncalls: %v", writes, len(clean),
			strings.Join(clean, "\n"), strings.Join(order, "\n"), calls)
		mu.Unlock()
		cs.deleteCluster(t, ns, baseline)
	}) {
		t.FailNow()
	}
	if writes == 0 || len(clean) == 0 {
		t.Fatalf("the clean run made %d writes and %d resources: nothing to sweep", writes, len(clean))
	}

	full := os.Getenv("OPENSTRAP_FULL_CRASH_SWEEP") == "1"
	seed := uint64(13)
	if v, err := strconv.ParseUint(os.Getenv("OPENSTRAP_CRASH_SEED"), 10, 64); err == nil {
		seed = v
	}
	points := crashPoints(writes, full, seed)
	if v := os.Getenv("OPENSTRAP_CRASH_POINTS"); v != "" {
		var err error
		if points, err = parseCrashPoints(v, writes); err != nil {
			t.Fatal(err)
		}
		t.Logf("crash points from $OPENSTRAP_CRASH_POINTS: %v", points)
	} else if full {
		t.Logf("full crash sweep: %d points", len(points))
	} else {
		t.Logf("crash sample: %d of %d points, seed %d ($OPENSTRAP_CRASH_SEED moves it; OPENSTRAP_FULL_CRASH_SWEEP=1 sweeps all)", len(points), 2*writes, seed)
	}
	swept := 0
	for _, p := range points {
		name := fmt.Sprintf("crash-%d-%s", p.k, strings.TrimPrefix(p.mode.String(), "drop-"))
		var line string
		if !t.Run(name, func(t *testing.T) { line = cs.point(t, p, writes, name, baseline, clean) }) {
			t.Errorf("crash point %d/%d mode=%s failed; the sweep stops there (the cloud may now hold its leftovers)", p.k, writes, p.mode)
			break
		}
		t.Log(line)
		if strings.Contains(line, "converged") {
			swept++
		}
	}
	t.Logf("crash points swept: %d of %d×2", swept, writes)
}

// crashPoint is one place to kill the manager: at its k-th write (from 1),
// with the request dropped before or after the cloud handled it.
type crashPoint struct {
	k    int
	mode openstacktest.FaultAction
}

// String is the point as OPENSTRAP_CRASH_POINTS names it ("31:after").
func (p crashPoint) String() string {
	return fmt.Sprintf("%d:%s", p.k, strings.TrimPrefix(p.mode.String(), "drop-"))
}

// crashPoints lists every point of w writes in both modes when full, and
// otherwise crashSampleSize of them spread over 1..w: the first and the
// last write, the others at a seeded place within their stretch, the modes
// alternating.
func crashPoints(w int, full bool, seed uint64) []crashPoint {
	modes := []openstacktest.FaultAction{openstacktest.DropBefore, openstacktest.DropAfter}
	var out []crashPoint
	if full {
		for k := 1; k <= w; k++ {
			for _, m := range modes {
				out = append(out, crashPoint{k, m})
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	first := int(seed % 2)
	seen := map[crashPoint]bool{}
	n := crashSampleSize
	for i := 0; i < n; i++ {
		k := 1
		if n > 1 {
			k = 1 + i*(w-1)/(n-1)
		}
		if i > 0 && i < n-1 {
			stretch := (w - 1) / (n - 1)
			if stretch > 1 {
				k += rng.IntN(stretch) - stretch/2
			}
		}
		k = max(1, min(w, k))
		p := crashPoint{k, modes[(i+first)%2]}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// parseCrashPoints reads "k:before,k:after,..." (to rerun points a sweep
// reported) for a creation of w writes.
func parseCrashPoints(v string, w int) ([]crashPoint, error) {
	var out []crashPoint
	for _, f := range strings.Split(v, ",") {
		ks, ms, ok := strings.Cut(strings.TrimSpace(f), ":")
		k, err := strconv.Atoi(ks)
		if !ok || err != nil || k < 1 || k > w {
			return nil, fmt.Errorf("OPENSTRAP_CRASH_POINTS: %q is not k:before or k:after with k in 1..%d", f, w)
		}
		switch ms {
		case "before":
			out = append(out, crashPoint{k, openstacktest.DropBefore})
		case "after":
			out = append(out, crashPoint{k, openstacktest.DropAfter})
		default:
			return nil, fmt.Errorf("OPENSTRAP_CRASH_POINTS: mode %q in %q is not before or after", ms, f)
		}
	}
	return out, nil
}

// crashStack runs the controllers as one process that a crash point can
// kill: once dead, its requests to the cloud (through a simulator fault) and
// to the management cluster (through its transport) all fail.
type crashStack struct {
	e *Env

	cloudDead atomic.Bool // every cloud request fails

	mu      sync.Mutex
	ctrl    *bootstrap.RunningControllers
	apiDead *atomic.Bool // the running process's management cluster requests fail
}

// crashCluster is the management cluster as a process that can die sees it.
type crashCluster struct {
	bootstrap.Cluster
	dead *atomic.Bool
}

// RESTConfig fails every request once the process is dead.
func (c crashCluster) RESTConfig() *rest.Config {
	rc := c.Cluster.RESTConfig()
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper { return crashTransport{rt, c.dead} })
	return rc
}

type crashTransport struct {
	rt   http.RoundTripper
	dead *atomic.Bool
}

func (c crashTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.dead.Load() {
		return nil, fmt.Errorf("%s %s: the process is dead (crash test)", r.Method, r.URL.Path)
	}
	return c.rt.RoundTrip(r)
}

// start starts a new process of controllers.
func (cs *crashStack) start(ctx context.Context) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.ctrl != nil {
		return fmt.Errorf("controllers already running")
	}
	dead := new(atomic.Bool)
	opts := append([]bootstrap.ControllersOption{bootstrap.WithControllersLogger(cs.e.opts.Log.WithName("controllers"))}, cs.e.opts.Controllers...)
	c, err := bootstrap.StartControllers(context.WithoutCancel(ctx), crashCluster{cs.e.Mgmt, dead}, opts...)
	if err != nil {
		return fmt.Errorf("start controllers: %w", err)
	}
	cs.ctrl, cs.apiDead = c, dead
	return nil
}

// kill makes the running process dead. It runs under the simulator's fault
// lock (Fault.OnApply): it only sets flags.
func (cs *crashStack) kill() {
	cs.cloudDead.Store(true)
	cs.mu.Lock()
	if cs.apiDead != nil {
		cs.apiDead.Store(true)
	}
	cs.mu.Unlock()
}

// stop stops the running process, dead or not, and lets the cloud answer
// again.
func (cs *crashStack) stop(ctx context.Context) error {
	cs.mu.Lock()
	c := cs.ctrl
	cs.ctrl, cs.apiDead = nil, nil
	cs.mu.Unlock()
	var err error
	if c != nil {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		err = c.Stop(ctx)
	}
	cs.cloudDead.Store(false)
	return err
}

func (cs *crashStack) createNamespace(t testing.TB, ns string) {
	t.Helper()
	if err := cs.e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
}

// point creates a cluster named name, kills the manager at p, restarts it,
// and checks convergence to clean and a clean delete. It returns the line
// that reports the point.
func (cs *crashStack) point(t *testing.T, p crashPoint, w int, name string, baseline []openstacktest.Resource, clean []string) string {
	e := cs.e
	ctx := context.Background()
	cs.createNamespace(t, name)

	killed := make(chan struct{})
	var once sync.Once
	var killedAt string
	removeDead := e.Cloud.InjectFault(openstacktest.Fault{Match: func(*http.Request) bool { return cs.cloudDead.Load() }, Action: openstacktest.DropBefore})
	defer removeDead()
	removeKill := e.Cloud.InjectFault(openstacktest.Fault{Writes: true, Skip: p.k - 1, Times: 1, Action: p.mode,
		OnApply: func(r *http.Request) {
			once.Do(func() {
				cs.kill()
				killedAt = r.Method + " " + r.URL.Path
				close(killed)
			})
		}})
	defer removeKill()
	e.Cloud.ResetCalls()
	if err := e.Apply(ctx, ClusterTemplate(), e.Vars(name, name, 1, 2)); err != nil {
		t.Fatalf("apply the cluster template: %v", err)
	}

	// Wait for the kill, or for a creation that never reaches the k-th write.
	var reached bool
	deadline := time.After(8 * time.Minute)
	quiet := 0
	lastWrites := -1
wait:
	for {
		select {
		case <-killed:
			reached = true
			break wait
		case <-deadline:
			t.Fatalf("the manager was not killed at write %d in 8 minutes: %d writes so far\n%s", p.k, e.Cloud.Calls().Writes(), e.machinesState(ctx, name, name))
		case <-time.After(time.Second):
		}
		if n := e.Cloud.Calls().Writes(); n == lastWrites && cs.running(ctx, name) {
			quiet++
			if quiet >= 15 {
				break wait
			}
		} else {
			quiet, lastWrites = 0, n
		}
	}
	removeKill()
	if reached {
		start := time.Now()
		if err := cs.stop(ctx); err != nil {
			t.Fatalf("stop the killed manager: %v", err)
		}
		removeDead()
		if err := cs.start(ctx); err != nil {
			t.Fatalf("restart the manager: %v", err)
		}
		t.Logf("killed at write %d/%d (%s, %s); restarted in %s", p.k, w, killedAt, p.mode, time.Since(start).Round(100*time.Millisecond))
	}

	e.waitMachines(t, name, name, 3)
	e.checkCloud(t, name, name)
	var got []string
	Eventually(t, 2*time.Minute, "the cloud holds one cluster's resources", func(ctx context.Context) (bool, string, error) {
		got = crashAdded(baseline, e.Cloud.Snapshot(), name)
		diff := cmp.Diff(clean, got)
		return diff == "", "(-uninterrupted +after the crash):\n" + diff, nil
	})
	cs.deleteCluster(t, name, baseline)
	if !reached {
		return fmt.Sprintf("crash point %d/%d mode=%s: not reached, the creation made only %d writes; converged, %d resources, nothing leaked", p.k, w, p.mode, lastWrites, len(got))
	}
	return fmt.Sprintf("crash point %d/%d mode=%s at %s: converged, %d resources, nothing leaked", p.k, w, p.mode, killedAt, len(got))
}

// running reports whether the cluster has its three Machines running with
// Nodes.
func (cs *crashStack) running(ctx context.Context, name string) bool {
	ms, err := cs.e.machines(ctx, name, name)
	if err != nil || len(ms) != 3 {
		return false
	}
	for _, m := range ms {
		if m.Status.Phase != string(clusterv1.MachinePhaseRunning) || m.Status.NodeRef.Name == "" {
			return false
		}
	}
	return true
}

// deleteCluster deletes the cluster named as its namespace and waits until
// it is gone and the cloud is as in baseline.
func (cs *crashStack) deleteCluster(t testing.TB, name string, baseline []openstacktest.Resource) {
	t.Helper()
	e := cs.e
	if err := e.Client.Delete(context.Background(), &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: name}}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 5*time.Minute, "Cluster gone", func(ctx context.Context) (bool, string, error) {
		var c clusterv1.Cluster
		err := e.Client.Get(ctx, client.ObjectKey{Namespace: name, Name: name}, &c)
		return err != nil && client.IgnoreNotFound(err) == nil, e.machinesState(ctx, name, name) + fmt.Sprint(e.Owned(name)), nil
	})
	Eventually(t, time.Minute, "the cloud as before the cluster", func(ctx context.Context) (bool, string, error) {
		diff := diffResources(baseline, e.Cloud.Snapshot())
		return diff == "", diff, nil
	})
}

var (
	// crashSuffix is the random suffix Cluster API gives generated names.
	crashSuffix = regexp.MustCompile(`-[a-z0-9]{5}\b`)
	// crashUUID is an ID in a name, such as Octavia's VIP port's.
	crashUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// crashAdded lists the resources in after and not in before as sorted
// "service/kind name" lines, with the cluster's name and generated names'
// random suffixes normalised, so that two creations compare equal.
func crashAdded(before, after []openstacktest.Resource, cluster string) []string {
	was := map[string]bool{}
	for _, r := range before {
		was[r.Service+" "+r.Kind+" "+r.ID] = true
	}
	var out []string
	for _, r := range after {
		if was[r.Service+" "+r.Kind+" "+r.ID] {
			continue
		}
		n := crashUUID.ReplaceAllString(strings.ReplaceAll(r.Name, cluster, "CLUSTER"), "ID")
		n = crashSuffix.ReplaceAllString(n, "-*")
		out = append(out, r.Service+"/"+r.Kind+" "+n)
	}
	sort.Strings(out)
	return out
}
