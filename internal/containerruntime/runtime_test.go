package containerruntime_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/internal/containerruntime"
	"github.com/openstrap/openstrap/internal/nodeimage"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// cloudInitDone matches cloud-init's final message on the console
// ("Cloud-init v. 22.4.2 finished at ...").
var cloudInitDone = regexp.MustCompile(`Cloud-init v\. \S+ finished at `)

// userData writes a file, prints a marker and starts a TCP echo service
// (socat) on 8080, enabled for later boots, that answers with the host
// name.
const userData = `#cloud-config
write_files:
- path: /root/openstrap-marker
  content: written by cloud-init
- path: /etc/systemd/system/hello.service
  content: |
    [Service]
    ExecStart=/usr/bin/socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:"echo hello-from-%H"
    [Install]
    WantedBy=multi-user.target
runcmd:
- echo OPENSTRAP-MARKER-RUNCMD
- systemctl daemon-reload
- systemctl enable --now --no-block hello.service
`

type env struct {
	t      *testing.T
	ctx    context.Context
	engine *podman.Engine
	rt     *containerruntime.Runtime
	sim    *openstacktest.Server
	cloud  *provider.Cloud
	image  string
	netID  string
	subnet string
	cidrs  []string // tenant ranges the test used
}

// testArgs are the node image's own flags (nodeimage.RunArgs) when
// OPENSTRAP_TEST_NODE_ARGS=nodeimage, else the runtime's defaults.
func testArgs() func(containerruntime.ContainerSpec) []string {
	if os.Getenv("OPENSTRAP_TEST_NODE_ARGS") != "nodeimage" {
		return nil
	}
	return func(s containerruntime.ContainerSpec) []string {
		return nodeimage.RunArgs(nodeimage.RunSpec{Name: s.Name, Hostname: s.Hostname, VarVolume: s.VarVolume, Seed: s.Seed, Labels: s.Labels})
	}
}

func newEnv(t *testing.T, cidr string) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	t.Cleanup(cancel)
	engine, err := podman.Setup(ctx)
	if err != nil {
		t.Fatalf("this test needs podman as root: %v", err)
	}
	img := testImage(t, engine)
	rt, err := containerruntime.New(ctx, containerruntime.Options{Image: img, Engine: engine, Dir: t.TempDir(), Log: testr.New(t),
		StopTimeout: 10 * time.Second, Args: testArgs()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, engine: engine, rt: rt, image: img, cidrs: []string{cidr}}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		e.assertNothingLeft()
	})
	e.sim = openstacktest.NewTestServer(t, openstacktest.WithBootDelay(20*time.Millisecond),
		openstacktest.WithLoadBalancerDelay(20*time.Millisecond), openstacktest.WithServerHooks(rt.Hooks()))
	e.cloud, err = e.sim.Cloud(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.netID, e.subnet = cloudtest.NewNetwork(t, ctx, e.cloud, "machines", cidr)
	return e
}

// assertNothingLeft lists what the runtime could have left: containers,
// networks, volumes with its label, its FORWARD chain, routes, VIPs on lo.
func (e *env) assertNothingLeft() {
	t := e.t
	ctx := context.Background()
	labels := map[string]string{containerruntime.LabelInstance: e.rt.Instance()}
	cs, err1 := e.engine.ListContainers(ctx, labels)
	ns, err2 := e.engine.ListNetworks(ctx, labels)
	vs, err3 := e.engine.ListVolumes(ctx, labels)
	if err1 != nil || err2 != nil || err3 != nil || len(cs)+len(ns)+len(vs) != 0 {
		t.Errorf("left after Close: containers %v, networks %v, volumes %v (%v %v %v)", cs, ns, vs, err1, err2, err3)
	}
	if out, _ := exec.Command("iptables", "-w", "-S").CombinedOutput(); strings.Contains(string(out), "OSCRT-"+e.rt.Instance()) {
		t.Errorf("iptables rules left:\n%s", out)
	}
	// Other runtimes may run on this host: only this test's range counts.
	for _, cidr := range e.cidrs {
		if out, _ := exec.Command("ip", "route", "show", cidr).CombinedOutput(); strings.TrimSpace(string(out)) != "" {
			t.Errorf("routes for %s left:\n%s", cidr, out)
		}
	}
}

func (e *env) imageID() string {
	page, err := images.List(e.cloud.Image, images.ListOpts{Name: openstacktest.ImageName}).AllPages(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	list, _ := images.ExtractImages(page)
	return list[0].ID
}

func (e *env) createServer(name, userData, key string) *servers.Server {
	e.t.Helper()
	opts := servers.CreateOpts{Name: name, ImageRef: e.imageID(), FlavorRef: "2", UserData: []byte(userData),
		Networks: []servers.Network{{UUID: e.netID}}}
	var b servers.CreateOptsBuilder = opts
	if key != "" {
		b = keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: key}
	}
	s, err := servers.Create(e.ctx, e.cloud.Compute, b, nil).Extract()
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) waitStatus(id, status string) *servers.Server {
	e.t.Helper()
	for {
		s, err := servers.Get(e.ctx, e.cloud.Compute, id).Extract()
		if status == "DELETED" && gophercloud.ResponseCodeIs(err, 404) {
			return nil
		}
		if err != nil {
			e.t.Fatal(err)
		}
		if s.Status == status {
			return s
		}
		if s.Status == "ERROR" && status != "ERROR" {
			e.t.Fatalf("server %s is in ERROR: %+v", id, s.Fault)
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("server %s still %s, want %s", id, s.Status, status)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (e *env) console(id string) string {
	e.t.Helper()
	out, err := servers.ShowConsoleOutput(e.ctx, e.cloud.Compute, id, servers.ShowConsoleOutputOpts{}).Extract()
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// waitConsole waits until the console matches want n times.
func (e *env) waitConsole(id string, want *regexp.Regexp, n int, timeout time.Duration) string {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := e.console(id)
		if len(want.FindAllStringIndex(out, -1)) >= n {
			return out
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("console of %s lacks %q (x%d) after %v:\n%s", id, want, n, timeout, tailString(out, 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (e *env) exec(containerID string, cmd ...string) string {
	e.t.Helper()
	out, err := e.engine.Exec(e.ctx, containerID, cmd...)
	if err != nil {
		e.t.Fatalf("exec %v: %v", cmd, err)
	}
	return string(out)
}

func (e *env) running(containerID string) bool {
	e.t.Helper()
	c, err := e.engine.InspectContainer(e.ctx, containerID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.State.Running
}

// dial reads the first line a TCP server at addr answers with.
func dial(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func eventually(t *testing.T, what string, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func routeGet(addr string) string {
	out, _ := exec.Command("ip", "route", "get", addr).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// TestContainerMachines boots servers of the simulator as containers: Neutron's
// IP, cloud-init's work and console through Nova, stop/start/reboot, a load
// balancer's floating IP from the host and from another container, invalid
// user data, a failed spawn, and nothing left after delete and Close.
func TestContainerMachines(t *testing.T) {
	e := newEnv(t, "10.231.40.0/24")
	ctx := e.ctx
	kp, err := keypairs.Create(ctx, e.cloud.Compute, keypairs.CreateOpts{Name: "ops"}).Extract()
	if err != nil {
		t.Fatal(err)
	}

	created := time.Now()
	srv := e.createServer("cp-0", userData, kp.Name)
	e.waitStatus(srv.ID, "ACTIVE")
	activeAfter := time.Since(created)
	cid := e.rt.ContainerID(srv.ID)
	if cid == "" || !e.running(cid) {
		t.Fatalf("server %s: container %q not running", srv.ID, cid)
	}
	out := e.waitConsole(srv.ID, cloudInitDone, 1, 3*time.Minute)
	doneAfter := time.Since(created)
	t.Logf("server create → ACTIVE (container running): %v; → cloud-init final message on the console: %v", activeAfter.Round(time.Millisecond), doneAfter.Round(time.Millisecond))
	if !strings.Contains(out, "OPENSTRAP-MARKER-RUNCMD") {
		t.Errorf("console lacks the marker or cloud-init's final message:\n%s", tailString(out, 3000))
	}

	// The container has exactly Neutron's address and MAC.
	pl, err := ports.List(e.cloud.Network, ports.ListOpts{DeviceID: srv.ID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := ports.ExtractPorts(pl)
	if len(ps) != 1 {
		t.Fatalf("ports of the server: %+v", ps)
	}
	ip := ps[0].FixedIPs[0].IPAddress
	c, err := e.engine.InspectContainer(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	var gotIP, gotMAC string
	for _, n := range c.NetworkSettings.Networks {
		gotIP, gotMAC = n.IPAddress, n.MacAddress
	}
	if gotIP != ip || gotMAC != ps[0].MACAddress {
		t.Errorf("container address %s %s, Neutron's %s %s", gotIP, gotMAC, ip, ps[0].MACAddress)
	}
	if got := e.exec(cid, "cat", "/root/openstrap-marker"); got != "written by cloud-init" {
		t.Errorf("file written by cloud-init: %q", got)
	}
	if got := e.exec(cid, "hostname"); strings.TrimSpace(got) != "cp-0" {
		t.Errorf("hostname %q", got)
	}
	if got := e.exec(cid, "cat", "/home/debian/.ssh/authorized_keys"); !strings.Contains(got, strings.Fields(kp.PublicKey)[1]) {
		t.Errorf("authorized_keys of the default user lacks the key pair:\n%s", got)
	}
	if got := e.exec(cid, "ip", "route", "show", "default"); !strings.Contains(got, "via 10.231.40.1") {
		t.Errorf("default route in the container: %q", got)
	}
	if r := routeGet(ip); !strings.Contains(r, "dev podman") {
		t.Errorf("host route to the container: %s", r)
	}
	// Nothing routed off the machine: the container's default route ends at
	// the host, whose FORWARD chain rejects it.
	if _, err := e.engine.Exec(ctx, cid, "ping", "-c1", "-W2", "192.0.2.1"); err == nil {
		t.Error("the container reached an address off its network")
	}

	// A load balancer with a floating IP in front of the server's port 8080.
	lbc := e.cloud.LoadBalancer
	lb := cloudtest.NewTCPLoadBalancer(t, ctx, e.cloud, cloudtest.TCPLoadBalancerSpec{Name: "api", VIPSubnetID: e.subnet, Port: 8080,
		MemberAddress: ip, MemberSubnetID: e.subnet})
	fip := cloudtest.ExternalFloatingIP(t, ctx, e.cloud, e.subnet, lb.LB.VipPortID)
	fipAddr := net.JoinHostPort(fip.FloatingIP, "8080")
	eventually(t, "the FIP from the host", 30*time.Second, func() error {
		got, err := dial(fipAddr)
		if err == nil && got != "hello-from-cp-0" {
			err = fmt.Errorf("answer %q", got)
		}
		return err
	})

	// A second machine reaches the LB through the FIP (127.x inside its
	// own network namespace is DNATed to the VIP).
	w := e.createServer("worker-0", userData, "")
	e.waitStatus(w.ID, "ACTIVE")
	wid := e.rt.ContainerID(w.ID)
	fromWorker := func() error {
		out, err := e.engine.Exec(ctx, wid, "socat", "-T3", "-", "TCP:"+fipAddr)
		if err == nil && strings.TrimSpace(string(out)) != "hello-from-cp-0" {
			err = fmt.Errorf("answer %q", out)
		}
		return err
	}
	eventually(t, "the FIP from another container", 30*time.Second, fromWorker)

	// stop, start, reboot through Nova.
	if err := servers.Stop(ctx, e.cloud.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(srv.ID, "SHUTOFF")
	if e.running(cid) {
		t.Error("container still running after os-stop")
	}
	if err := servers.Start(ctx, e.cloud.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(srv.ID, "ACTIVE")
	if !e.running(cid) || e.rt.ContainerID(srv.ID) != cid {
		t.Error("container not running (or replaced) after os-start")
	}
	e.waitConsole(srv.ID, cloudInitDone, 2, 2*time.Minute)
	eventually(t, "the FIP from the host after a restart", 30*time.Second, func() error { _, err := dial(fipAddr); return err })
	if err := servers.Reboot(ctx, e.cloud.Compute, srv.ID, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(srv.ID, "ACTIVE")
	e.waitConsole(srv.ID, cloudInitDone, 3, 2*time.Minute)
	eventually(t, "the FIP from another container after a reboot", 30*time.Second, fromWorker)

	// The load balancer follows member changes: the worker replaces cp-0.
	wip := ""
	for _, addrs := range e.waitStatus(w.ID, "ACTIVE").Addresses {
		for _, a := range addrs.([]any) {
			wip = a.(map[string]any)["addr"].(string)
		}
	}
	if _, err := pools.CreateMember(ctx, lbc, lb.Pool.ID, pools.CreateMemberOpts{Address: wip, ProtocolPort: 8080, SubnetID: e.subnet}).Extract(); err != nil {
		t.Fatal(err)
	}
	cloudtest.WaitLoadBalancerActive(t, ctx, lbc, lb.LB.ID)
	if err := pools.DeleteMember(ctx, lbc, lb.Pool.ID, lb.Member.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the FIP answering from the new member", 30*time.Second, func() error {
		got, err := dial(fipAddr)
		if err == nil && got != "hello-from-worker-0" {
			err = fmt.Errorf("answer %q", got)
		}
		return err
	})

	// Invalid cloud-config: ACTIVE, and the console says why.
	bad := e.createServer("bad-data", "#cloud-config\nwrite_files: [unclosed\n", "")
	e.waitStatus(bad.ID, "ACTIVE")
	badOut := e.waitConsole(bad.ID, cloudInitDone, 1, 3*time.Minute)
	if !strings.Contains(badOut, "Failed loading yaml") && !strings.Contains(badOut, "invalid cloud-config") {
		t.Errorf("console of the server with invalid user data does not say why:\n%s", tailString(badOut, 3000))
	}
	for _, l := range strings.Split(badOut, "\n") {
		if strings.Contains(l, "yaml") || strings.Contains(l, "cloud-config") {
			t.Logf("console of the server with invalid user data: %s", l)
		}
	}

	// Delete: containers, network, rules go; the range stays unreachable.
	bridge := ""
	if ns, err := e.engine.ListNetworks(ctx, map[string]string{containerruntime.LabelInstance: e.rt.Instance()}); err == nil && len(ns) == 1 {
		bridge = ns[0].Interface
	} else {
		t.Fatalf("networks of the runtime: %+v %v", ns, err)
	}
	for _, s := range []*servers.Server{srv, w, bad} {
		if err := servers.Delete(ctx, e.cloud.Compute, s.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(s.ID, "DELETED")
	}
	eventually(t, "containers, volumes and the network gone", 30*time.Second, func() error {
		labels := map[string]string{containerruntime.LabelInstance: e.rt.Instance()}
		cs, err := e.engine.ListContainers(ctx, labels)
		if err != nil {
			return err
		}
		ns, err := e.engine.ListNetworks(ctx, labels)
		if err != nil {
			return err
		}
		vs, err := e.engine.ListVolumes(ctx, labels)
		if err != nil {
			return err
		}
		if len(cs)+len(ns)+len(vs) != 0 {
			return fmt.Errorf("left: %d containers, %d networks, %d volumes", len(cs), len(ns), len(vs))
		}
		return nil
	})
	if out, _ := exec.Command("iptables", "-w", "-S", "OSCRT-"+e.rt.Instance()).CombinedOutput(); strings.Contains(string(out), bridge) {
		t.Errorf("FORWARD rules of the removed bridge %s left:\n%s", bridge, out)
	}
	if r := routeGet(ip); !strings.Contains(r, "No route to host") {
		t.Errorf("after the network went, ip route get %s = %q, want no route to host", ip, r)
	}
	if out, _ := exec.Command("ip", "route", "show", "10.231.40.0/24").CombinedOutput(); !strings.Contains(string(out), "unreachable 10.231.40.0/24") {
		t.Errorf("unreachable route for the tenant range missing: %q", out)
	}
}

// TestSpawnFailure: a container that cannot be created puts the server in
// ERROR with Nova's fault; the cause is in the fault's details (admin).
func TestSpawnFailure(t *testing.T) {
	// Podman refuses a subnet that overlaps its default network
	// (10.88.0.0/16), so creating the network, and the server, fails.
	e := newEnv(t, "10.88.200.0/24")
	srv := e.createServer("doomed", "#cloud-config\n", "")
	got := e.waitStatus(srv.ID, "ERROR")
	if got.Fault.Code != 500 || got.Fault.Message != openstacktest.SpawnFault(srv.ID) {
		t.Errorf("fault: %+v", got.Fault)
	}
	admin, err := e.sim.AdminCloud(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Server struct {
			Fault struct {
				Details string `json:"details"`
			} `json:"fault"`
		} `json:"server"`
	}
	if _, err := admin.Compute.Get(e.ctx, admin.Compute.ServiceURL("servers", srv.ID), &raw, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw.Server.Fault.Details, "creating the container network") {
		t.Errorf("fault details: %q", raw.Server.Fault.Details)
	}
	if e.rt.ContainerID(srv.ID) != "" {
		t.Error("a failed spawn left a container")
	}
	if len(e.sim.HookErrors()) == 0 {
		t.Error("the spawn error was not recorded in HookErrors")
	}
}

// TestServerWithoutNetwork: a server booted with networks "none" runs in a
// container with only a loopback interface, as Nova boots it.
func TestServerWithoutNetwork(t *testing.T) {
	e := newEnv(t, "10.231.42.0/24")
	e.cloud.Compute.Microversion = "2.37"
	s, err := servers.Create(e.ctx, e.cloud.Compute, servers.CreateOpts{Name: "isolated", ImageRef: e.imageID(), FlavorRef: "2",
		UserData: []byte("#cloud-config\n"), Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(s.ID, "ACTIVE")
	cid := e.rt.ContainerID(s.ID)
	if cid == "" || !e.running(cid) {
		t.Fatalf("container %q not running", cid)
	}
	if got := e.exec(cid, "ip", "-o", "link"); strings.Count(got, "\n") != 1 || !strings.Contains(got, "lo:") {
		t.Errorf("interfaces of a server without networks:\n%s", got)
	}
	e.waitConsole(s.ID, cloudInitDone, 1, 3*time.Minute)
}
