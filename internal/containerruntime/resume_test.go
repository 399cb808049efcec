package containerruntime_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/internal/containerruntime"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// resumeDirEnv names the directory the first process of TestResume works
// in; set, TestResumeFirstProcess is that process.
const resumeDirEnv = "OPENSTRAP_CONTAINERRUNTIME_RESUME_DIR"

// TestResumeFirstProcess is the process TestResume kills: a simulator with
// a state dir and a runtime boot a server behind a load balancer with a
// floating IP, then write the server ID and FIP and wait to be killed.
func TestResumeFirstProcess(t *testing.T) {
	dir := os.Getenv(resumeDirEnv)
	if dir == "" {
		return // only as TestResume's child
	}
	ctx := context.Background()
	engine, err := podman.Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := containerruntime.New(ctx, containerruntime.Options{Image: os.Getenv("OPENSTRAP_RESUME_IMAGE"), Engine: engine,
		Dir: filepath.Join(dir, "runtime"), Log: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := openstacktest.NewServer(openstacktest.WithStateDir(filepath.Join(dir, "sim")), openstacktest.WithBootDelay(20*time.Millisecond),
		openstacktest.WithLoadBalancerDelay(20*time.Millisecond), openstacktest.WithServerHooks(rt.Hooks()))
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := sim.Cloud(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, engine: engine, rt: rt, sim: sim, cloud: cloud}
	e.netID, e.subnet = cloudtest.NewNetwork(t, ctx, cloud, "machines", "10.231.41.0/24")
	srv := e.createServer("resumed", userData, "")
	gone := e.createServer("gone", "#cloud-config\n", "")
	e.waitStatus(gone.ID, "ACTIVE")
	e.waitStatus(srv.ID, "ACTIVE")
	e.waitConsole(srv.ID, cloudInitDone, 1, 3*time.Minute)
	got, _ := servers.Get(ctx, cloud.Compute, srv.ID).Extract()
	ip := ""
	for _, addrs := range got.Addresses {
		for _, a := range addrs.([]any) {
			ip = a.(map[string]any)["addr"].(string)
		}
	}
	lb := cloudtest.NewTCPLoadBalancer(t, ctx, cloud, cloudtest.TCPLoadBalancerSpec{VIPSubnetID: e.subnet, Port: 8080, MemberAddress: ip})
	fip := cloudtest.ExternalFloatingIP(t, ctx, cloud, e.subnet, lb.LB.VipPortID)
	fipAddr := net.JoinHostPort(fip.FloatingIP, "8080")
	eventually(t, "the FIP in the first process", 30*time.Second, func() error { _, err := dial(fipAddr); return err })
	time.Sleep(time.Second) // let the console follower record what it forwarded
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(srv.ID+" "+fipAddr+" "+gone.ID), 0o600); err != nil {
		t.Fatal(err)
	}
	select {} // killed by TestResume
}

// TestResume kills a process whose runtime booted a server (SIGKILL: no
// cleanup), then a new simulator on the same state dir and a new runtime on
// the same directory Resume: the container is adopted (not recreated), its
// console is not repeated, the load balancer answers again, stop/start
// work, the container of a server deleted while no runtime ran goes, and
// delete plus Close leave nothing.
func TestResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	engine, err := podman.Setup(ctx)
	if err != nil {
		t.Fatalf("this test needs podman as root: %v", err)
	}
	img := testImage(t, engine)
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestResumeFirstProcess$", "-test.v")
	child.Env = append(os.Environ(), resumeDirEnv+"="+dir, "OPENSTRAP_RESUME_IMAGE="+img)
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var ready []byte
	for {
		if ready, err = os.ReadFile(filepath.Join(dir, "ready")); err == nil {
			break
		}
		if child.ProcessState != nil || ctx.Err() != nil {
			t.Fatalf("first process ended before it was ready:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	fields := strings.Fields(string(ready))
	serverID, fipAddr, goneID := fields[0], fields[1], fields[2]

	// While no runtime runs, one server is deleted.
	{
		sim, err := openstacktest.NewServer(openstacktest.WithStateDir(filepath.Join(dir, "sim")), openstacktest.WithBootDelay(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		cloud, err := sim.Cloud(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := servers.Delete(ctx, cloud.Compute, goneID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		(&env{t: t, ctx: ctx, cloud: cloud}).waitStatus(goneID, "DELETED")
		sim.Close()
	}

	rt, err := containerruntime.New(ctx, containerruntime.Options{Image: img, Engine: engine, Dir: filepath.Join(dir, "runtime"), Log: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, engine: engine, rt: rt, image: img, cidrs: []string{"10.231.41.0/24"}}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		e.assertNothingLeft()
	})
	labels := map[string]string{containerruntime.LabelInstance: rt.Instance()}
	before, err := engine.ListContainers(ctx, map[string]string{containerruntime.LabelInstance: rt.Instance(), containerruntime.LabelServer: serverID})
	if err != nil || len(before) != 1 {
		t.Fatalf("container of the killed runtime's server: %+v %v", before, err)
	}
	if err := rt.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	e.sim = openstacktest.NewTestServer(t, openstacktest.WithStateDir(filepath.Join(dir, "sim")), openstacktest.WithBootDelay(20*time.Millisecond),
		openstacktest.WithLoadBalancerDelay(20*time.Millisecond), openstacktest.WithServerHooks(rt.Hooks()))
	if e.cloud, err = e.sim.Cloud(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rt.ContainerID(serverID); got != before[0].ID {
		t.Fatalf("adopted container %q, want %s", got, before[0].ID)
	}
	eventually(t, "the container of the server deleted meanwhile removed", 30*time.Second, func() error {
		cs, err := engine.ListContainers(ctx, labels)
		if err == nil && len(cs) != 1 {
			err = fmt.Errorf("%d containers, want the resumed server's only", len(cs))
		}
		return err
	})
	eventually(t, "the FIP after the restart", 30*time.Second, func() error {
		got, err := dial(fipAddr)
		if err == nil && got != "hello-from-resumed" {
			err = fmt.Errorf("answer %q", got)
		}
		return err
	})
	time.Sleep(time.Second)
	if n := len(cloudInitDone.FindAllString(e.console(serverID), -1)); n != 1 {
		t.Errorf("cloud-init's final message %d times on the console after Resume, want once", n)
	}
	if err := servers.Stop(ctx, e.cloud.Compute, serverID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(serverID, "SHUTOFF")
	if err := servers.Start(ctx, e.cloud.Compute, serverID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(serverID, "ACTIVE")
	e.waitConsole(serverID, cloudInitDone, 2, 2*time.Minute)
	eventually(t, "the FIP after a stop and start", 30*time.Second, func() error { _, err := dial(fipAddr); return err })
	if err := servers.Delete(ctx, e.cloud.Compute, serverID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(serverID, "DELETED")
	eventually(t, "the container gone", 30*time.Second, func() error {
		cs, err := engine.ListContainers(ctx, labels)
		if err == nil && len(cs) != 0 {
			err = fmt.Errorf("%d containers left", len(cs))
		}
		return err
	})
}
