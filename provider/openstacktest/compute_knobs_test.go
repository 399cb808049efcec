package openstacktest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// serverEnv is a simulator with a network ready for servers.
type serverEnv struct {
	s   *openstacktest.Server
	c   *provider.Cloud
	net bootNet
	img string
}

func newServerEnv(t testing.TB, opts ...openstacktest.Option) *serverEnv {
	t.Helper()
	s := openstacktest.NewTestServer(t, opts...)
	c := memberCloud(t, s)
	return &serverEnv{s: s, c: c, net: newBootNet(t, c, "knob-net", "10.20.0.0/16"), img: imageID(t, c)}
}

func (e *serverEnv) create(ctx context.Context, name string) (*servers.Server, error) {
	return servers.Create(ctx, e.c.Compute, servers.CreateOpts{Name: name, ImageRef: e.img, FlavorRef: "1",
		Networks: []servers.Network{{UUID: e.net.ID}}, Tags: nil}, nil).Extract()
}

func (e *serverEnv) serverNames(t testing.TB) []string {
	t.Helper()
	page, err := servers.List(e.c.Compute, servers.ListOpts{}).AllPages(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	list, _ := servers.ExtractServers(page)
	var names []string
	for _, srv := range list {
		names = append(names, srv.Name)
	}
	sort.Strings(names)
	return names
}

const serversPath = `^/compute/v2\.1/servers$`

func TestFaultRespond(t *testing.T) {
	e := newServerEnv(t)
	ctx := testContext(t)
	remove := e.s.InjectFault(openstacktest.Fault{Method: http.MethodPost, Path: serversPath, Status: 503,
		Header: http.Header{"Retry-After": {"2"}}, Times: 1})
	defer remove()
	_, err := e.create(ctx, "a")
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) || code.Actual != 503 || code.ResponseHeader.Get("Retry-After") != "2" {
		t.Fatalf("injected 503: %v", err)
	}
	if key, _ := apiFault(t, err, 503); key != "serviceUnavailable" {
		t.Errorf("503 body key %q", key)
	}
	if len(e.serverNames(t)) != 0 {
		t.Error("a server was created behind the injected 503")
	}
	if _, err := e.create(ctx, "b"); err != nil {
		t.Fatalf("after Times: 1 the fault must stop: %v", err)
	}
	if got := e.s.FaultsApplied(); got != 1 {
		t.Errorf("FaultsApplied = %d, want 1", got)
	}
	// A custom body is sent as is.
	e.s.InjectFault(openstacktest.Fault{Method: http.MethodGet, Path: `/flavors/1$`, Status: 409, Body: `{"conflictingRequest": {"code": 409, "message": "busy"}}`, Times: 1})
	_, err = flavors.Get(ctx, e.c.Compute, "1").Extract()
	if _, msg := apiFault(t, err, 409); msg != "busy" {
		t.Errorf("custom body message %q", msg)
	}
}

func TestFaultDrops(t *testing.T) {
	e := newServerEnv(t)
	ctx := testContext(t)

	e.s.InjectFault(openstacktest.Fault{Method: http.MethodPost, Path: serversPath, Action: openstacktest.DropBefore, Times: 1})
	if _, err := e.create(ctx, "before"); err == nil {
		t.Fatal("DropBefore: the create answered")
	}
	if names := e.serverNames(t); len(names) != 0 {
		t.Errorf("DropBefore: servers %v exist; the call must not have happened", names)
	}

	e.s.InjectFault(openstacktest.Fault{Method: http.MethodPost, Path: serversPath, Action: openstacktest.DropAfter, Times: 1})
	if _, err := e.create(ctx, "after"); err == nil {
		t.Fatal("DropAfter: the create answered")
	}
	if diff := cmp.Diff([]string{"after"}, e.serverNames(t)); diff != "" {
		t.Errorf("DropAfter: the call must have happened (-want +got):\n%s", diff)
	}
}

func TestFaultHang(t *testing.T) {
	e := newServerEnv(t)
	e.s.InjectFault(openstacktest.Fault{Method: http.MethodGet, Path: `/flavors`, Action: openstacktest.Hang})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := flavors.Get(ctx, e.c.Compute, "1").Extract()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 150*time.Millisecond {
		t.Errorf("hang: %v after %v", err, time.Since(start))
	}
	e.s.ClearFaults()
	if _, err := flavors.Get(testContext(t), e.c.Compute, "1").Extract(); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

func TestFaultSkipTimesProbability(t *testing.T) {
	e := newServerEnv(t, openstacktest.WithSeed(7))
	ctx := testContext(t)
	e.s.InjectFault(openstacktest.Fault{Method: http.MethodGet, Path: `/flavors/2$`, Status: 500, Skip: 1, Times: 2})
	var got []bool
	for i := 0; i < 5; i++ {
		_, err := flavors.Get(ctx, e.c.Compute, "2").Extract()
		got = append(got, err == nil)
	}
	if diff := cmp.Diff([]bool{true, false, false, true, true}, got); diff != "" {
		t.Errorf("Skip 1, Times 2 (-want +got):\n%s", diff)
	}

	remove := e.s.InjectFault(openstacktest.Fault{Method: http.MethodGet, Path: `/flavors/3$`, Status: 500, Probability: 0.5})
	failed := 0
	for i := 0; i < 200; i++ {
		if _, err := flavors.Get(ctx, e.c.Compute, "3").Extract(); err != nil {
			failed++
		}
	}
	remove()
	if failed < 60 || failed > 140 {
		t.Errorf("probability 0.5 failed %d of 200", failed)
	}
	if _, err := flavors.Get(ctx, e.c.Compute, "3").Extract(); err != nil {
		t.Errorf("after remove: %v", err)
	}
}

func TestLatencyAndCalls(t *testing.T) {
	e := newServerEnv(t, openstacktest.WithLatency(40*time.Millisecond))
	ctx := testContext(t)
	start := time.Now()
	if _, err := flavors.Get(ctx, e.c.Compute, "1").Extract(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("request took %v with 40ms latency", d)
	}
	e.s.SetLatency(0)
	e.s.ResetCalls()
	srv, err := e.create(ctx, "counted")
	if err != nil {
		t.Fatal(err)
	}
	waitServer(t, e.c.Compute, srv.ID, "ACTIVE")
	e.serverNames(t)
	calls := e.s.Calls()
	if calls["POST /compute/v2.1/servers"] != 1 || calls["GET /compute/v2.1/servers/{id}"] < 1 || calls["GET /compute/v2.1/servers/detail"] != 1 {
		t.Errorf("calls: %v", calls)
	}
	if calls.Writes() != 1 || calls.Reads() != calls.Total()-1 {
		t.Errorf("writes %d reads %d total %d", calls.Writes(), calls.Reads(), calls.Total())
	}
	var found bool
	for _, r := range e.s.Snapshot() {
		if r.Kind == "server" && r.ID == srv.ID && r.Status == "ACTIVE" && r.ProjectID == openstacktest.MemberProjectID {
			found = true
		}
	}
	if !found {
		t.Error("the server is not in the snapshot")
	}
}

func TestStateDirSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s1, err := openstacktest.NewServer(openstacktest.WithStateDir(dir), openstacktest.WithBootDelay(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c1, err := s1.Cloud(testContext(t))
	if err != nil {
		s1.Close()
		t.Fatal(err)
	}
	e := &serverEnv{s: s1, c: c1, net: newBootNet(t, c1, "persist-net", "10.30.0.0/24"), img: imageID(t, c1)}
	srv, err := e.create(testContext(t), "survivor")
	if err != nil {
		s1.Close()
		t.Fatal(err)
	}
	s1.Close() // still in BUILD

	s2 := openstacktest.NewTestServer(t, openstacktest.WithStateDir(dir))
	c2 := memberCloud(t, s2)
	got := waitServer(t, c2.Compute, srv.ID, "ACTIVE")
	if got.Name != "survivor" || len(got.Addresses["persist-net"].([]any)) != 1 {
		t.Errorf("after restart: %+v", got)
	}
}

func TestDeterministicIDs(t *testing.T) {
	ids := func() []string {
		e := newServerEnv(t, openstacktest.WithSeed(42))
		var out []string
		for _, name := range []string{"a", "b"} {
			srv, err := e.create(testContext(t), name)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, srv.ID)
		}
		return append(out, e.net.ID, e.img)
	}
	first, second := ids(), ids()
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("same seed, different IDs (-first +second):\n%s", diff)
	}
}

func TestConcurrentServers(t *testing.T) {
	e := newServerEnv(t, openstacktest.WithBootDelay(20*time.Millisecond))
	ctx := testContext(t)
	admin := adminCloud(t, e.s)
	n, big := 50, 100000
	if _, err := quotasets.Update(ctx, admin.Compute, openstacktest.MemberProjectID,
		quotasets.UpdateOpts{Instances: &n, Cores: &n, RAM: &big}).Extract(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv, err := e.create(ctx, fmt.Sprintf("c-%02d", i))
			if err != nil {
				errs <- err
				return
			}
			ids <- srv.ID
		}()
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Error(err)
	}
	addrs := map[string]bool{}
	for id := range ids {
		srv := waitServer(t, e.c.Compute, id, "ACTIVE")
		for _, a := range srv.Addresses["knob-net"].([]any) {
			addr := a.(map[string]any)["addr"].(string)
			if addrs[addr] {
				t.Errorf("address %s given twice", addr)
			}
			addrs[addr] = true
		}
	}
	if len(addrs) != n {
		t.Errorf("%d addresses for %d servers", len(addrs), n)
	}
	// One more is over the instances quota.
	_, err := e.create(ctx, "one-too-many")
	if _, msg := apiFault(t, err, 403); msg != fmt.Sprintf("Quota exceeded for instances: Requested 1, but already used %d of %d instances", n, n) {
		t.Errorf("quota message %q", msg)
	}
}
