package simhost

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"

	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/provider"
)

// The test binary doubles as the background simulator: Start runs it again
// with this variable set.
const serveEnv = "OPENSTRAP_SIMHOST_TEST_SERVE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveEnv); dir != "" {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			// Stop sends SIGTERM; the default action would skip cleanup.
			waitSignal()
			cancel()
		}()
		if err := Serve(ctx, dir, machines.Processes, logr.Discard()); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestStartStopRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t.Setenv(serveEnv, dir)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Stop(context.Background(), dir) })

	clouds, err := Start(ctx, dir, exe, "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	if !Running(ctx, dir) {
		t.Fatal("Running = false after Start")
	}
	connect := func() *provider.Cloud {
		t.Helper()
		c, err := provider.Connect(ctx, provider.WithCloudsYAML(clouds), provider.WithCloud(CloudName))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	net, err := networks.Create(ctx, connect().Network, networks.CreateOpts{Name: "kept"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// A second Start finds the running simulator.
	if again, err := Start(ctx, dir, exe, "-test.run=^$"); err != nil || again != clouds {
		t.Fatalf("second Start = %q, %v", again, err)
	}
	if err := Stop(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if Running(ctx, dir) {
		t.Fatal("Running = true after Stop")
	}
	if _, err := Start(ctx, dir, exe, "-test.run=^$"); err != nil {
		t.Fatal(err)
	}
	got, err := networks.Get(ctx, connect().Network, net.ID).Extract()
	if err != nil || got.Name != "kept" {
		t.Fatalf("network after restart = %+v, %v; want it kept", got, err)
	}
	// The runtime chosen first is recorded and kept.
	rec, err := ReadMachines(dir)
	if err != nil || rec.Kind != machines.Processes {
		t.Fatalf("recorded machines = %+v, %v; want processes", rec, err)
	}
	if err := CheckKind(dir, machines.Containers); !errors.Is(err, ErrKindMismatch) {
		t.Errorf("CheckKind(containers) on a processes directory = %v, want ErrKindMismatch", err)
	}
	for _, k := range []machines.Kind{"", machines.Auto, machines.Processes} {
		if err := CheckKind(dir, k); err != nil {
			t.Errorf("CheckKind(%q) = %v", k, err)
		}
	}
	if err := StopAndRemove(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if Running(ctx, dir) {
		t.Fatal("Running = true after StopAndRemove")
	}
}

func TestServeArgs(t *testing.T) {
	for _, k := range []machines.Kind{"", machines.Containers, machines.Auto} {
		dir, kind, err := ParseServeArgs(ServeArgs("/some/dir", k))
		if err != nil || dir != "/some/dir" || kind != k {
			t.Errorf("ParseServeArgs(ServeArgs(%q)) = %q, %q, %v", k, dir, kind, err)
		}
	}
	if _, _, err := ParseServeArgs([]string{"--machines", "vms", "/d"}); err == nil {
		t.Error("ParseServeArgs accepted --machines vms")
	}
}
