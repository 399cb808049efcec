package controllers_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/openstrap/openstrap/provider"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/controllers"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// errKilled is what a killed process's requests get.
var errKilled = errors.New("process killed")

// killTransport lets the first `at` cloud writes through (the last one
// completes on the cloud but its answer is lost, as with a process that
// dies while its request is in flight), then calls kill and fails every
// further request.
type killTransport struct {
	at     int
	kill   func()
	writes atomic.Int64
	dead   atomic.Bool
}

func (k *killTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if k.dead.Load() {
		return nil, errKilled
	}
	write := req.Method != http.MethodGet && req.Method != http.MethodHead && !strings.HasSuffix(req.URL.Path, "/auth/tokens")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if write && int(k.writes.Add(1)) == k.at && k.dead.CompareAndSwap(false, true) {
		// The write happened on the cloud; its answer is lost with the
		// process.
		if resp != nil {
			resp.Body.Close()
		}
		go k.kill()
		return nil, errKilled
	}
	return resp, err
}

// TestCrashSweep: the manager is killed at its stride-th cloud write
// ($OPENSTRAP_CRASH_STRIDE, 1 by default: at every write) while a
// cluster with a load balancer, a control plane and a worker are being
// created, and restarted, until a run converges. The cloud then holds
// exactly one cluster's resources, and deleting the objects leaves it as it
// was.
func TestCrashSweep(t *testing.T) {
	t.Parallel()
	stride := 1
	if v, err := strconv.Atoi(os.Getenv("OPENSTRAP_CRASH_STRIDE")); err == nil && v > 0 {
		stride = v
	}
	e := newEnv(t, openstacktest.WithBootDelay(100*time.Millisecond), openstacktest.WithLoadBalancerDelay(50*time.Millisecond))
	e.stopMgr() // the sweep runs managers of its own
	e.createCluster("crash", false, nil)
	e.createMachine("crash", "crash-cp-0", true, []byte("#cloud-config\n"), nil)
	e.createMachine("crash", "crash-md-0", false, []byte("#cloud-config\n"), nil)

	done := func() bool {
		osc := e.getCluster("crash")
		if osc.Status.Initialization == nil || !osc.Status.Initialization.Provisioned {
			return false
		}
		for _, n := range []string{"crash-cp-0", "crash-md-0"} {
			m := e.getMachine(n)
			if m.Status.Initialization == nil || !m.Status.Initialization.Provisioned {
				return false
			}
		}
		return true
	}
	kills := 0
	for run := 0; !done(); run++ {
		if run > 200 {
			t.Fatalf("no convergence after %d runs", run)
		}
		var mu sync.Mutex
		var stop func()
		rt := &killTransport{at: stride, kill: func() {
			mu.Lock()
			defer mu.Unlock()
			stop()
		}}
		x := *e
		x.copts.NewCloud = func(ctx context.Context, id controllers.Identity) (*provider.Cloud, error) {
			return provider.Connect(ctx, provider.WithCloudsYAMLData(id.Secret.Data[infrav1.CloudsYAMLKey]),
				provider.WithCloud(id.Ref.CloudName), provider.WithHTTPClient(&http.Client{Transport: rt}))
		}
		mu.Lock()
		stop = x.startManager(t)
		mu.Unlock()
		deadline := time.Now().Add(time.Minute)
		for !rt.dead.Load() && !done() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		stop()
		mu.Unlock()
		if rt.dead.Load() {
			kills++
		}
	}
	t.Logf("converged after %d kills (one every %d cloud writes)", kills, stride)
	if kills == 0 {
		t.Fatalf("the manager was never killed: the sweep tested nothing")
	}

	// Exactly one cluster's resources: no name made twice.
	seen := map[string]int{}
	for _, a := range e.added() {
		if !strings.HasSuffix(a, " ") { // nameless ones (rules, VIP ports) aside
			seen[a]++
		}
	}
	var dups []string
	for k, n := range seen {
		if n > 1 {
			dups = append(dups, k)
		}
	}
	sort.Strings(dups)
	if len(dups) > 0 {
		t.Errorf("made more than once: %v", dups)
	}
	if n := e.countKind("compute/server"); n != 2 {
		t.Errorf("%d servers, want 2: %v", n, e.added())
	}
	if n := e.countKind("load-balancer/loadbalancer"); n != 1 {
		t.Errorf("%d load balancers, want 1", n)
	}
	if n := e.countKind("network/floatingip"); n != 1 {
		t.Errorf("%d floating IPs, want 1", n)
	}
	if n := e.countKind("network/security_group_rule"); n != 19 {
		t.Errorf("%d security group rules, want the 19 of an uninterrupted run", n)
	}

	final := e.restart(t)
	for _, n := range []string{"crash-cp-0", "crash-md-0"} {
		final.deleteAndWait(&infrav1.OpenStackMachine{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: e.ns}})
	}
	final.deleteAndWait(&infrav1.OpenStackCluster{ObjectMeta: metav1.ObjectMeta{Name: "crash", Namespace: e.ns}})
	if left := final.added(); len(left) > 0 {
		t.Errorf("left in the cloud: %v", left)
	}
}
