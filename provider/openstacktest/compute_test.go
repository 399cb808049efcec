package openstacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/tags"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"golang.org/x/crypto/ssh"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// bootNet is a tenant network with one subnet for servers.
type bootNet struct {
	ID, SubnetID, Name string
}

func newBootNet(t testing.TB, c *provider.Cloud, name, cidr string) bootNet {
	t.Helper()
	ctx := testContext(t)
	n, err := networks.Create(ctx, c.Network, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatalf("create network %s: %v", name, err)
	}
	// Registered first, so it runs after the cleanups of the servers on it.
	onRealCleanup(t, func(ctx context.Context) {
		if err := networks.Delete(ctx, c.Network, n.ID).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, 404) {
			t.Logf("clean up network %s: %v", name, err)
		}
	})
	sub, err := subnets.Create(ctx, c.Network, subnets.CreateOpts{NetworkID: n.ID, Name: name, CIDR: cidr, IPVersion: 4}).Extract()
	if err != nil {
		t.Fatalf("create subnet %s: %v", cidr, err)
	}
	return bootNet{ID: n.ID, SubnetID: sub.ID, Name: name}
}

// imageID finds the seeded image.
func imageID(t testing.TB, c *provider.Cloud) string {
	t.Helper()
	page, err := images.List(c.Image, images.ListOpts{Name: openstacktest.ImageName}).AllPages(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	list, err := images.ExtractImages(page)
	if err != nil || len(list) != 1 {
		t.Fatalf("image %s: %v, %d found", openstacktest.ImageName, err, len(list))
	}
	return list[0].ID
}

// waitServer polls until the server reaches status (or is gone, for
// "DELETED").
func waitServer(t testing.TB, c *gophercloud.ServiceClient, id, status string) *servers.Server {
	t.Helper()
	ctx := testContext(t)
	for {
		srv, err := servers.Get(ctx, c, id).Extract()
		if status == "DELETED" && gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		if err != nil {
			t.Fatalf("get server %s: %v", id, err)
		}
		if srv.Status == status {
			return srv
		}
		// A server in ERROR stays so while it is deleted.
		if srv.Status == "ERROR" && status != "ERROR" && status != "DELETED" {
			t.Fatalf("server %s went to ERROR: %+v", id, srv.Fault)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server %s still %s, want %s", id, srv.Status, status)
		case <-time.After(pollEvery()):
		}
	}
}

// apiFault parses a Nova/Cinder error body: {"<key>": {"code", "message"}}.
func apiFault(t testing.TB, err error, status int) (key, message string) {
	t.Helper()
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) {
		t.Fatalf("error %v is not an unexpected response code", err)
	}
	if code.Actual != status {
		t.Fatalf("status %d, want %d: %s", code.Actual, status, code.Body)
	}
	var body map[string]struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(code.Body, &body); err != nil || len(body) != 1 {
		t.Fatalf("error body %q is not a fault: %v", code.Body, err)
	}
	for k, v := range body {
		if v.Code != status {
			t.Errorf("fault code %d, want %d", v.Code, status)
		}
		return k, v.Message
	}
	return "", ""
}

// TestServerLifecycle boots a server with a keypair, fixed IP, metadata,
// tags and config drive, checks what Nova shows and the port it made, and
// deletes it: the port goes with the server. On the simulator it also checks
// the boot hooks.
func TestServerLifecycle(t *testing.T) {
	var mu sync.Mutex
	var active, deleted []openstacktest.BootEvent
	// A boot delay long enough that a loaded machine still sees BUILD first.
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithBootDelay(time.Second), openstacktest.WithServerHooks(openstacktest.ServerHooks{
		OnActive: func(ctx context.Context, ev openstacktest.BootEvent) error {
			mu.Lock()
			defer mu.Unlock()
			active = append(active, ev)
			return errors.New("boot script failed")
		},
		OnDelete: func(ctx context.Context, ev openstacktest.BootEvent) {
			mu.Lock()
			defer mu.Unlock()
			deleted = append(deleted, ev)
		},
	})))
	ctx := testContext(t)
	c := e.Cloud(ctx)
	c.Compute.Microversion = "2.60"
	before := e.Snapshot(ctx)
	netName, keyName, srvName, cluster := e.Name("demo-net"), e.Name("demo-key"), e.Name("demo-cp-0"), "openstrap-cluster="+e.Name("demo")
	net := newBootNet(t, c, netName, "10.6.0.0/24")
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: keyName}).Extract(); err != nil {
		t.Fatal(err)
	}
	deleteKeypairLater(t, c.Compute, keyName)
	img := imageID(t, c)
	small := flavorByName(t, c.Compute, "m1.small")
	userData := []byte("#cloud-config\nruncmd: [echo hi]\n")
	created, err := servers.Create(ctx, c.Compute, keypairs.CreateOptsExt{
		CreateOptsBuilder: servers.CreateOpts{
			Name: srvName, ImageRef: img, FlavorRef: small, UserData: userData,
			Networks:       []servers.Network{{UUID: net.ID, FixedIP: "10.6.0.10"}},
			SecurityGroups: []string{"default"}, Metadata: map[string]string{"role": "control-plane"},
			Tags: []string{cluster, "cp"}, AvailabilityZone: "nova",
			ConfigDrive: gophercloud.Enabled,
		},
		KeyName: keyName,
	}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.AdminPass == "" {
		t.Fatalf("create answer: %+v", created)
	}
	deleteServerLater(t, c.Compute, created.ID)
	srv, err := servers.Get(ctx, c.Compute, created.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// While it builds, a server has no addresses yet (Nova fills them at
	// the end) and a task state of the build.
	if srv.Status != "BUILD" || len(srv.Addresses) != 0 || !strings.Contains(" scheduling networking spawning ", " "+srv.TaskState+" ") {
		t.Errorf("right after create: status %s, addresses %v, task state %q; want BUILD, none, a build step", srv.Status, srv.Addresses, srv.TaskState)
	}
	srv = waitServer(t, c.Compute, created.ID, "ACTIVE")
	wantAddr := map[string]any{netName: []any{map[string]any{"version": float64(4), "addr": "10.6.0.10",
		"OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": addrMAC(srv)}}}
	if diff := cmp.Diff(wantAddr, srv.Addresses); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	if srv.KeyName != keyName || srv.Metadata["role"] != "control-plane" || srv.TenantID != c.ProjectID ||
		srv.AvailabilityZone != "nova" || !srv.ConfigDrive || srv.HostID == "" || srv.LaunchedAt.IsZero() ||
		srv.Flavor["original_name"] != "m1.small" || srv.Image["id"] != img {
		t.Errorf("server: %+v", srv)
	}
	// Nova shows tags sorted, not in the order given.
	if diff := cmp.Diff([]string{"cp", cluster}, *srv.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]map[string]any{{"name": "default"}}, srv.SecurityGroups); diff != "" {
		t.Errorf("security groups (-want +got):\n%s", diff)
	}

	// The port Nova created is bound to the server.
	pl, err := ports.List(c.Network, ports.ListOpts{DeviceID: srv.ID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pp, _ := ports.ExtractPorts(pl)
	if len(pp) != 1 || pp[0].DeviceOwner != "compute:nova" || pp[0].FixedIPs[0].IPAddress != "10.6.0.10" {
		t.Fatalf("ports of the server: %+v", pp)
	}

	// The boot hook saw the decoded user data; its error is recorded.
	if s := e.Sim(); s != nil {
		deadline := time.Now().Add(5 * time.Second)
		for len(s.HookErrors()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		if len(active) != 1 || string(active[0].UserData) != string(userData) || active[0].Name != srvName ||
			!cmp.Equal(active[0].Addresses, map[string][]string{netName: {"10.6.0.10"}}) {
			t.Errorf("OnActive events: %v", active)
		}
		mu.Unlock()
		if errs := s.HookErrors(); len(errs) != 1 || errs[0].Error() != "boot script failed" {
			t.Errorf("HookErrors = %v", errs)
		}
		if len(active) > 0 && strings.Contains(active[0].String(), "cloud-config") {
			t.Errorf("BootEvent.String shows user data: %s", active[0].String())
		}
	}

	// Delete: 204, the server goes away, its port with it.
	resp, err := c.Compute.Delete(ctx, c.Compute.ServiceURL("servers", srv.ID), nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %v (%v)", err, resp)
	}
	waitServer(t, c.Compute, srv.ID, "DELETED")
	if _, err := ports.Get(ctx, c.Network, pp[0].ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("port after server delete: %v, want 404", err)
	}
	if e.Sim() != nil {
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(deleted)
			mu.Unlock()
			if n == 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		if len(deleted) != 1 || deleted[0].ServerID != srv.ID {
			t.Errorf("OnDelete events: %v", deleted)
		}
		mu.Unlock()
	}

	// Only the network, subnet and keypair remain (on a real cloud, of what
	// this test named).
	after := e.Snapshot(ctx)
	if e.IsReal() {
		before, after = cloudtest.Owned(before, "", netName, keyName, srvName), cloudtest.Owned(after, "", netName, keyName, srvName)
	}
	var extra []string
	for _, r := range after {
		if !containsResource(before, r) {
			extra = append(extra, r.Kind+"/"+r.Name)
		}
	}
	sort.Strings(extra)
	if diff := cmp.Diff([]string{"keypair/" + keyName, "network/" + netName, "subnet/" + netName}, extra); diff != "" {
		t.Errorf("left after delete (-want +got):\n%s", diff)
	}
}

func addrMAC(srv *servers.Server) any {
	for _, list := range srv.Addresses {
		for _, a := range list.([]any) {
			return a.(map[string]any)["OS-EXT-IPS-MAC:mac_addr"]
		}
	}
	return nil
}

func containsResource(list []openstacktest.Resource, r openstacktest.Resource) bool {
	for _, x := range list {
		if x.Service == r.Service && x.Kind == r.Kind && x.ID == r.ID {
			return true
		}
	}
	return false
}

// TestServerCreateErrors pins Nova's answers to creates it refuses, and
// that a refused create leaves nothing behind.
func TestServerCreateErrors(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	net := newBootNet(t, c, e.Name("err-net"), "10.7.0.0/24")
	img := imageID(t, c)
	tiny := flavorByName(t, c.Compute, "m1.tiny")
	used, err := ports.Create(ctx, c.Network, ports.CreateOpts{NetworkID: net.ID, DeviceID: "other-device", DeviceOwner: "compute:nova"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	onRealCleanup(t, func(ctx context.Context) { _ = ports.Delete(ctx, c.Network, used.ID).ExtractErr() })
	name := e.Name("bad")
	good := func() servers.CreateOpts {
		return servers.CreateOpts{Name: name, ImageRef: img, FlavorRef: tiny, Networks: []servers.Network{{UUID: net.ID}}}
	}
	before := e.Snapshot(ctx)
	tests := []struct {
		name    string
		mv      string
		opts    func() servers.CreateOptsBuilder
		status  int
		key     string
		message string
	}{
		{"unknown flavor", "", func() servers.CreateOptsBuilder { o := good(); o.FlavorRef = "99"; return o },
			400, "badRequest", "Flavor 99 could not be found."},
		{"unknown image", "", func() servers.CreateOptsBuilder {
			o := good()
			o.ImageRef = "00000000-0000-4000-8000-0000000000aa"
			return o
		},
			400, "badRequest", "Can not find requested image"},
		{"image not a UUID", "", func() servers.CreateOptsBuilder { o := good(); o.ImageRef = "nope"; return o },
			400, "badRequest", "Invalid input for field/attribute imageRef. Value: nope. 'nope' is not valid under any of the given schemas"},
		{"missing keypair", "", func() servers.CreateOptsBuilder {
			return keypairs.CreateOptsExt{CreateOptsBuilder: good(), KeyName: "missing"}
		}, 400, "badRequest", "Invalid key_name provided."},
		{"user data too long", "", func() servers.CreateOptsBuilder {
			o := good()
			o.UserData = make([]byte, 49200) // 65600 bytes of base64
			return o
		}, 400, "badRequest", "is too long"},
		{"unknown network", "", func() servers.CreateOptsBuilder {
			o := good()
			o.Networks = []servers.Network{{UUID: "00000000-0000-4000-8000-000000000000"}}
			return o
		}, 400, "badRequest", "Network 00000000-0000-4000-8000-000000000000 could not be found."},
		{"unknown security group", "", func() servers.CreateOptsBuilder { o := good(); o.SecurityGroups = []string{"nope"}; return o },
			400, "badRequest", "Unable to find security_group with name or id 'nope'"},
		{"unknown availability zone", "", func() servers.CreateOptsBuilder { o := good(); o.AvailabilityZone = "az-9"; return o },
			400, "badRequest", "The requested availability zone is not available"},
		{"tags before 2.52", "2.51", func() servers.CreateOptsBuilder { o := good(); o.Tags = []string{"x"}; return o },
			400, "badRequest", "('tags' was unexpected)"},
		{"no networks at 2.37", "2.37", func() servers.CreateOptsBuilder { o := good(); o.Networks = nil; return o },
			400, "badRequest", "'networks' is a required property"},
		{"port in use", "", func() servers.CreateOptsBuilder {
			o := good()
			o.Networks = []servers.Network{{Port: used.ID}}
			return o
		}, 409, "conflictingRequest", "Port " + used.ID + " is still in use."},
		{"fixed IP in use", "", func() servers.CreateOptsBuilder {
			o := good()
			o.Networks = []servers.Network{{UUID: net.ID, FixedIP: used.FixedIPs[0].IPAddress}}
			return o
		}, 400, "badRequest", "Fixed IP address " + used.FixedIPs[0].IPAddress + " is already in use on instance other-device."},
		{"no image", "", func() servers.CreateOptsBuilder { o := good(); o.ImageRef = ""; return o },
			400, "badRequest", "Missing imageRef attribute"},
		{"unsupported microversion", "2.200", func() servers.CreateOptsBuilder { return good() },
			406, "computeFault", "Version 2.200 is not supported by the API. Minimum is 2.1 and maximum is 2.93."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Compute.Microversion = tt.mv
			srv, err := servers.Create(ctx, c.Compute, tt.opts(), nil).Extract()
			if err == nil {
				deleteServerLater(t, c.Compute, srv.ID)
			}
			key, msg := apiFault(t, err, tt.status)
			if key != tt.key || !strings.Contains(msg, tt.message) {
				t.Errorf("fault %s %q, want %s containing %q", key, msg, tt.key, tt.message)
			}
		})
	}
	c.Compute.Microversion = ""
	after := e.Snapshot(ctx)
	if e.IsReal() {
		// Others share the real project: look at servers of this name and
		// at ports on this test's network.
		before, after = cloudtest.Owned(before, "", name), cloudtest.Owned(after, "", name)
		if l := portsOn(t, c, net.ID); len(l) != 1 || l[0].ID != used.ID {
			t.Errorf("ports on the network after failed creates: %+v", l)
		}
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("failed creates left resources (-before +after):\n%s", diff)
	}
	// Bodies gophercloud would not send: user_data that is not base64, an
	// empty name, a server group that does not exist.
	raw := func(name, userData any, hints map[string]any) error {
		srv := map[string]any{"name": name, "imageRef": img, "flavorRef": tiny, "networks": []any{map[string]any{"uuid": net.ID}}}
		if userData != nil {
			srv["user_data"] = userData
		}
		body := map[string]any{"server": srv}
		if hints != nil {
			body["os:scheduler_hints"] = hints
		}
		_, err := c.Compute.Post(ctx, c.Compute.ServiceURL("servers"), body, nil, nil)
		return err
	}
	if _, msg := apiFault(t, raw(name, "%%% not base64", nil), 400); !strings.Contains(msg, "base64") {
		t.Errorf("non-base64 user_data: %q", msg)
	}
	if _, msg := apiFault(t, raw("", nil, nil), 400); msg != "Invalid input for field/attribute name. Value: . '' is too short" {
		t.Errorf("empty name: %q", msg)
	}
	group := "00000000-0000-4000-8000-0000000000bb"
	if _, msg := apiFault(t, raw(name, nil, map[string]any{"group": group}), 400); msg != "Instance group "+group+" could not be found." {
		t.Errorf("unknown server group: %q", msg)
	}

	// A fixed IP outside the network's subnets passes the API: the build
	// fails on the compute host, which makes the port.
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: name, ImageRef: img, FlavorRef: tiny,
		Networks: []servers.Network{{UUID: net.ID, FixedIP: "192.168.9.9"}}}, nil).Extract()
	if err != nil {
		t.Fatalf("fixed IP outside the subnets: %v, want 202", err)
	}
	deleteServerLater(t, c.Compute, srv.ID)
	failed := waitServer(t, c.Compute, srv.ID, "ERROR")
	want := "Build of instance " + srv.ID + " aborted: Invalid input received: Fixed IP 192.168.9.9 is not a valid ip address for network " + net.ID + "."
	if failed.Fault.Code != 500 || failed.Fault.Message != want {
		t.Errorf("fault: %+v, want 500 %q", failed.Fault, want)
	}
	if l := portsOn(t, c, net.ID); len(l) != 1 || l[0].ID != used.ID {
		t.Errorf("ports on the network after a failed build: %+v", l)
	}
}

// portsOn lists the ports on a network.
func portsOn(t testing.TB, c *provider.Cloud, networkID string) []ports.Port {
	t.Helper()
	page, err := ports.List(c.Network, ports.ListOpts{NetworkID: networkID}).AllPages(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ports.ExtractPorts(page)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestServerPrecreatedPortAndFilters boots on a port made beforehand, pins
// the list filters (name regex, status, tags) and pagination, and that
// deleting the server keeps that port, unbound.
func TestServerPrecreatedPortAndFilters(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	c.Compute.Microversion = "2.52"
	net := newBootNet(t, c, e.Name("pre-net"), "10.8.0.0/24")
	img := imageID(t, c)
	tiny := flavorByName(t, c.Compute, "m1.tiny")
	port, err := ports.Create(ctx, c.Network, ports.CreateOpts{NetworkID: net.ID, Name: e.Name("pre-port")}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	onRealCleanup(t, func(ctx context.Context) { _ = ports.Delete(ctx, c.Network, port.ID).ExtractErr() })
	// Names and tags unique to this run, for a real cloud others share.
	prefix := e.Name("pf")
	demo, other := "openstrap-cluster="+e.Name("demo"), "openstrap-cluster="+e.Name("other")
	mk := func(name string, tags []string, nw servers.Network) string {
		srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: prefix + "-" + name, ImageRef: img, FlavorRef: tiny,
			Networks: []servers.Network{nw}, Tags: tags}, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		deleteServerLater(t, c.Compute, srv.ID)
		return srv.ID
	}
	a := mk("demo-cp-0", []string{demo, "cp"}, servers.Network{Port: port.ID})
	b := mk("demo-worker-0", []string{demo, "worker"}, servers.Network{UUID: net.ID})
	o := mk("other-cp-0", []string{other, "cp"}, servers.Network{UUID: net.ID})
	mine := map[string]bool{a: true, b: true, o: true}
	for _, id := range []string{a, b, o} {
		waitServer(t, c.Compute, id, "ACTIVE")
	}
	p, err := ports.Get(ctx, c.Network, port.ID).Extract()
	if err != nil || p.DeviceID != a {
		t.Fatalf("pre-created port after boot: %+v, %v", p, err)
	}

	tests := []struct {
		name string
		opts servers.ListOpts
		want []string
	}{
		{"name regex", servers.ListOpts{Name: "^" + prefix + "-demo-"}, []string{a, b}},
		{"name substring", servers.ListOpts{Name: "cp"}, []string{a, o}},
		{"status", servers.ListOpts{Status: "ACTIVE"}, []string{a, b, o}},
		{"tags all", servers.ListOpts{Tags: demo + ",cp"}, []string{a}},
		{"tags any", servers.ListOpts{TagsAny: "worker," + other}, []string{b, o}},
		{"not tags", servers.ListOpts{NotTags: demo + ",cp"}, []string{b, o}},
		{"not tags any", servers.ListOpts{NotTagsAny: "cp"}, []string{b}},
		{"no match", servers.ListOpts{Name: prefix + "-nothing"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := servers.List(c.Compute, tt.opts).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			list, err := servers.ExtractServers(page)
			if err != nil {
				t.Fatal(err)
			}
			// Of this test's servers: others may share a real project.
			var got []string
			for _, srv := range list {
				if mine[srv.ID] {
					got = append(got, srv.ID)
				}
			}
			sort.Strings(got)
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	// Pagination: two per page, every server once.
	var seen []string
	pages := 0
	err = servers.List(c.Compute, servers.ListOpts{Name: "^" + prefix + "-", Limit: 2}).EachPage(ctx, func(_ context.Context, pg pagination.Page) (bool, error) {
		pages++
		list, err := servers.ExtractServers(pg)
		for _, srv := range list {
			seen = append(seen, srv.ID)
		}
		return true, err
	})
	sort.Strings(seen)
	if want := []string{a, b, o}; err != nil || pages != 2 || !cmp.Equal(seen, sortedCopy(want)) {
		t.Errorf("paged list: %d pages, %v, err %v", pages, seen, err)
	}

	// Nova links the next page whenever a page is full: after the 3
	// servers comes an empty page without a link.
	full := rawGet(t, c.Compute, "2.52", c.Compute.ServiceURL("servers")+"?name="+url.QueryEscape("^"+prefix+"-")+"&limit=3")
	links, _ := full["servers_links"].([]any)
	if l, _ := full["servers"].([]any); len(l) != 3 || len(links) != 1 {
		t.Fatalf("full page: %d servers, links %v", len(l), links)
	}
	after := rawGet(t, c.Compute, "2.52", links[0].(map[string]any)["href"].(string))
	if l, _ := after["servers"].([]any); len(l) != 0 || after["servers_links"] != nil {
		t.Errorf("page after the full one: %v", after)
	}
	_, err = servers.List(c.Compute, servers.ListOpts{Limit: -1}).AllPages(ctx)
	if _, msg := apiFault(t, err, 400); msg != "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'" {
		t.Errorf("limit -1: %q", msg)
	}

	// Deleting the server unbinds the pre-created port but keeps it.
	if err := servers.Delete(ctx, c.Compute, a).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitServer(t, c.Compute, a, "DELETED")
	p, err = ports.Get(ctx, c.Network, port.ID).Extract()
	if err != nil || p.DeviceID != "" || p.DeviceOwner != "" {
		t.Errorf("pre-created port after server delete: %+v, %v", p, err)
	}
	// Another user's project does not see these servers.
	admin := e.AdminCloud(ctx)
	count := func(opts servers.ListOpts) int {
		t.Helper()
		page, err := servers.List(admin.Compute, opts).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		list, _ := servers.ExtractServers(page)
		n := 0
		for _, srv := range list {
			if mine[srv.ID] {
				n++
			}
		}
		return n
	}
	if n := count(servers.ListOpts{}); n != 0 {
		t.Errorf("admin project sees %d member servers without all_tenants", n)
	}
	if n := count(servers.ListOpts{AllTenants: true}); n != 2 {
		t.Errorf("admin with all_tenants sees %d servers, want 2", n)
	}
}

// sortedCopy returns a sorted copy of l.
func sortedCopy(l []string) []string {
	out := append([]string(nil), l...)
	sort.Strings(out)
	return out
}

// TestServerGroupsAntiAffinity fills every compute host with one member of
// an anti-affinity group: the next member fails with No valid host. It also
// pins how microversions show the policy.
func TestServerGroupsAntiAffinity(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	net := newBootNet(t, c, e.Name("grp-net"), "10.9.0.0/24")
	img := imageID(t, c)
	tiny := flavorByName(t, c.Compute, "m1.tiny")
	hostCount := len(computeHosts(t, e.AdminCloud(ctx)))

	c.Compute.Microversion = "2.64"
	g, err := servergroups.Create(ctx, c.Compute, servergroups.CreateOpts{Name: e.Name("demo-cp"), Policy: "anti-affinity"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	onRealCleanup(t, func(ctx context.Context) { _ = servergroups.Delete(ctx, c.Compute, g.ID).ExtractErr() })
	if g.Policy == nil || *g.Policy != "anti-affinity" {
		t.Fatalf("group at 2.64: %+v", g)
	}
	// One at a time, so that the one that fails is the last.
	hosts := map[string]bool{}
	var ids []string
	for i := 0; i <= hostCount; i++ {
		srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: fmt.Sprintf("%s-%d", g.Name, i), ImageRef: img,
			FlavorRef: tiny, Networks: []servers.Network{{UUID: net.ID}}}, servers.SchedulerHintOpts{Group: g.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		deleteServerLater(t, c.Compute, srv.ID)
		ids = append(ids, srv.ID)
		if i < hostCount {
			hosts[waitServer(t, c.Compute, srv.ID, "ACTIVE").HostID] = true
		}
	}
	if len(hosts) != hostCount {
		t.Errorf("%d anti-affine servers on %d hosts", hostCount, len(hosts))
	}
	failed := waitServer(t, c.Compute, ids[hostCount], "ERROR")
	if failed.Fault.Code != 500 || !strings.Contains(failed.Fault.Message, "No valid host was found") || failed.Fault.Created.IsZero() {
		t.Errorf("server %d fault: %+v", hostCount+1, failed.Fault)
	}

	// The older microversion shows policies, not policy.
	c.Compute.Microversion = "2.1"
	old, err := servergroups.Get(ctx, c.Compute, g.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"anti-affinity"}, old.Policies); diff != "" || len(old.Members) != hostCount+1 {
		t.Errorf("group at 2.1: %+v %s", old, diff)
	}
	if _, err := servergroups.Create(ctx, c.Compute, servergroups.CreateOpts{Name: e.Name("x"), Policies: []string{"bogus"}}).Extract(); err == nil {
		t.Error("bogus policy accepted")
	} else if _, msg := apiFault(t, err, 400); !strings.Contains(msg, "bogus") {
		t.Errorf("bogus policy message: %q", msg)
	}
	if err := servergroups.Delete(ctx, c.Compute, g.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := servergroups.Get(ctx, c.Compute, g.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("deleted group: %v", err)
	}
}

// computeHosts lists the hosts of availability zone nova that run
// nova-compute, as the admin's zone detail shows them.
func computeHosts(t testing.TB, admin *provider.Cloud) []string {
	t.Helper()
	page, err := availabilityzones.ListDetail(admin.Compute).AllPages(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	azs, err := availabilityzones.ExtractAvailabilityZones(page)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, z := range azs {
		if z.ZoneName != "nova" {
			continue
		}
		for h, svcs := range z.Hosts {
			if _, ok := svcs["nova-compute"]; ok {
				hosts = append(hosts, h)
			}
		}
	}
	if len(hosts) == 0 {
		t.Fatalf("no compute host in zone nova: %+v", azs)
	}
	sort.Strings(hosts)
	return hosts
}

// TestFailBoot pins the simulator's FailBoot knob: matching servers go to
// ERROR with the fault given, the others boot.
func TestFailBoot(t *testing.T) {
	e := cloudtest.New(t)
	cloudtest.RequireSim(t, cloudtest.NeedsFailBoot)
	s := e.Sim()
	ctx := testContext(t)
	c := memberCloud(t, s)
	net := newBootNet(t, c, "fail-net", "10.10.0.0/24")
	img := imageID(t, c)
	remove := s.FailBoot(func(name string) bool { return strings.HasSuffix(name, "-bad") }, "Build of instance aborted: hypervisor exploded")
	create := func(name string) string {
		srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: name, ImageRef: img, FlavorRef: "1",
			Networks: []servers.Network{{UUID: net.ID}}}, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		return srv.ID
	}
	bad, good := create("x-bad"), create("x-good")
	srv := waitServer(t, c.Compute, bad, "ERROR")
	if srv.Fault.Code != 500 || srv.Fault.Message != "Build of instance aborted: hypervisor exploded" || srv.Fault.Created.IsZero() {
		t.Errorf("fault: %+v", srv.Fault)
	}
	waitServer(t, c.Compute, good, "ACTIVE")
	remove()
	waitServer(t, c.Compute, create("y-bad"), "ACTIVE")
	// Tags cannot change on a server in ERROR, as in Nova.
	c.Compute.Microversion = "2.26"
	if err := tags.Add(ctx, c.Compute, bad, "x").ExtractErr(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Errorf("tag an ERROR server: %v, want 409", err)
	}
}

// TestComputeQuotas pins who may change Nova quotas and, on the simulator,
// the 403 answers and usage once a project's quotas are full.
func TestComputeQuotas(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	t.Run("member cannot change quotas", func(t *testing.T) {
		two := 2
		if _, err := quotasets.Update(ctx, c.Compute, c.ProjectID, quotasets.UpdateOpts{Instances: &two}).Extract(); err == nil {
			t.Error("member updated its quota")
		} else if key, _ := apiFault(t, err, 403); key != "forbidden" {
			t.Errorf("member updates quota: %s, want forbidden", key)
		}
		detail, err := quotasets.GetDetail(ctx, c.Compute, c.ProjectID).Extract()
		if err != nil || detail.Instances.Limit < 1 || detail.Instances.InUse < 0 || detail.Cores.Limit < 1 {
			t.Errorf("quota detail: %+v, %v", detail, err)
		}
	})
	t.Run("full quota", func(t *testing.T) {
		cloudtest.RequireSim(t, cloudtest.NeedsQuotaChange)
		admin := e.AdminCloud(ctx)
		net := newBootNet(t, c, "q-net", "10.11.0.0/24")
		img := imageID(t, c)
		two, cores := 2, 3
		if _, err := quotasets.Update(ctx, admin.Compute, openstacktest.MemberProjectID, quotasets.UpdateOpts{Instances: &two, Cores: &cores}).Extract(); err != nil {
			t.Fatal(err)
		}
		create := func(flavor string) error {
			_, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "q", ImageRef: img, FlavorRef: flavor,
				Networks: []servers.Network{{UUID: net.ID}}}, nil).Extract()
			return err
		}
		if err := create("3"); err != nil { // 2 cores
			t.Fatal(err)
		}
		key, msg := apiFault(t, create("3"), 403)
		if key != "forbidden" || msg != "Quota exceeded for cores: Requested 2, but already used 2 of 3 cores" {
			t.Errorf("cores quota: %s %q", key, msg)
		}
		if !provider.IsQuota(create("3")) {
			t.Error("provider.IsQuota does not recognise Nova's answer")
		}
		if err := create("1"); err != nil {
			t.Fatal(err)
		}
		_, msg = apiFault(t, create("1"), 403)
		if msg != "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances" {
			t.Errorf("instances quota: %q", msg)
		}
		detail, err := quotasets.GetDetail(ctx, c.Compute, openstacktest.MemberProjectID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if detail.Instances.Limit != 2 || detail.Instances.InUse != 2 || detail.Cores.InUse != 3 || detail.RAM.InUse != 4096+512 {
			t.Errorf("quota detail: %+v", detail)
		}
		lim, err := limits.Get(ctx, c.Compute, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if lim.Absolute.MaxTotalInstances != 2 || lim.Absolute.TotalInstancesUsed != 2 || lim.Absolute.MaxTotalCores != 3 {
			t.Errorf("limits: %+v", lim.Absolute)
		}
	})
}

// TestFlavorsKeypairsZones pins flavor lists and lookups, keypair
// generation, import and errors per microversion, and availability zones.
func TestFlavorsKeypairsZones(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	page, err := flavors.ListDetail(c.Compute, flavors.ListOpts{MinRAM: 4096}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fl, _ := flavors.ExtractFlavors(page)
	names := map[string]bool{}
	for _, f := range fl {
		names[f.Name] = true
		if f.RAM < 4096 {
			t.Errorf("minRam=4096 lists %s with %d MiB", f.Name, f.RAM)
		}
	}
	// Both seeds have m1.tiny … m1.large (the simulator m1.xlarge too).
	if !names["m1.medium"] || !names["m1.large"] || names["m1.small"] {
		t.Errorf("flavors with >= 4 GiB: %v", names)
	}
	// No swap is "" until 2.74 and 0 from 2.75.
	for mv, want := range map[string]string{"2.74": `""`, "2.75": "0"} {
		if got := jsonText(rawGet(t, c.Compute, mv, c.Compute.ServiceURL("flavors", "1"))["flavor"].(map[string]any)["swap"]); got != want {
			t.Errorf("swap at %s: %s, want %s", mv, got, want)
		}
	}
	f, err := flavors.Get(ctx, c.Compute, "2").Extract()
	if err != nil || f.Name != "m1.small" || f.VCPUs != 1 || f.RAM != 2048 || f.Disk != 20 {
		t.Errorf("flavor 2: %+v, %v", f, err)
	}
	if _, err := flavors.Get(ctx, c.Compute, "42").Extract(); err == nil {
		t.Error("unknown flavor found")
	} else if key, msg := apiFault(t, err, 404); key != "itemNotFound" || msg != "Flavor 42 could not be found." {
		t.Errorf("unknown flavor: %s %q", key, msg)
	}

	// Keypairs: generated (2.1), imported (2.2+), duplicate, missing.
	genName, gen2Name, impName, junkName := e.Name("gen"), e.Name("gen2"), e.Name("imported"), e.Name("junk")
	for _, n := range []string{genName, gen2Name, impName, junkName} {
		deleteKeypairLater(t, c.Compute, n)
	}
	gen, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: genName}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ssh.ParsePrivateKey([]byte(gen.PrivateKey)); err != nil {
		t.Errorf("generated private key does not parse: %v", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(gen.PublicKey))
	if err != nil || ssh.FingerprintLegacyMD5(pub) != gen.Fingerprint {
		t.Errorf("generated public key %q, fingerprint %s: %v", gen.PublicKey, gen.Fingerprint, err)
	}
	c.Compute.Microversion = "2.92"
	defer func() { c.Compute.Microversion = "" }()
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: gen2Name}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Errorf("generate at 2.92: %v, want 400", err)
	}
	res := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: impName, PublicKey: gen.PublicKey, Type: "ssh"})
	if imp, err := res.Extract(); err != nil || imp.Fingerprint != gen.Fingerprint || imp.PrivateKey != "" || imp.Type != "ssh" {
		t.Errorf("import: %+v, %v", imp, err)
	}
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: impName, PublicKey: gen.PublicKey}).Extract(); err == nil {
		t.Error("duplicate keypair accepted")
	} else if _, msg := apiFault(t, err, 409); msg != "Key pair '"+impName+"' already exists." {
		t.Errorf("duplicate: %q", msg)
	}
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: junkName, PublicKey: "ssh-rsa AAAA junk"}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Errorf("invalid public key: %v, want 400", err)
	}
	// Names: [_- alnum] before 2.92, also @ and . from 2.92.
	dotted := e.Name("me@host.name")
	deleteKeypairLater(t, c.Compute, dotted)
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: dotted, PublicKey: gen.PublicKey}).Extract(); err != nil {
		t.Errorf("name with @ and . at 2.92: %v", err)
	}
	c.Compute.Microversion = "2.91"
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: "a.b", PublicKey: gen.PublicKey}).Extract(); err == nil {
		t.Error("name with . accepted at 2.91")
	} else if _, msg := apiFault(t, err, 400); !strings.HasPrefix(msg, "An invalid 'name' value was provided. The name must be: Only expected characters: [_- 0123") {
		t.Errorf("name with . at 2.91: %q", msg)
	}
	c.Compute.Microversion = ""
	page, err = keypairs.List(c.Compute, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kps, _ := keypairs.ExtractKeyPairs(page)
	var mine []string
	for _, k := range kps {
		if k.Name == genName || k.Name == gen2Name || k.Name == impName || k.Name == junkName {
			mine = append(mine, k.Name)
		}
	}
	if diff := cmp.Diff(sortedCopy([]string{genName, impName}), sortedCopy(mine)); diff != "" {
		t.Errorf("keypairs (-want +got):\n%s", diff)
	}
	if err := keypairs.Delete(ctx, c.Compute, genName, nil).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := keypairs.Get(ctx, c.Compute, genName, nil).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("deleted keypair: %v", err)
	}
	// Another user does not see the member's keypairs.
	admin := e.AdminCloud(ctx)
	if _, err := keypairs.Get(ctx, admin.Compute, impName, nil).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("admin sees member keypair by default: %v", err)
	}

	// Zones: the member sees nova; the admin's detail adds the internal
	// zone and the hosts with their services.
	page, err = availabilityzones.List(c.Compute).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	azs, _ := availabilityzones.ExtractAvailabilityZones(page)
	if len(azs) != 1 || azs[0].ZoneName != "nova" || !azs[0].ZoneState.Available || azs[0].Hosts != nil {
		t.Errorf("zones: %+v", azs)
	}
	page, err = availabilityzones.ListDetail(admin.Compute).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	azs, _ = availabilityzones.ExtractAvailabilityZones(page)
	zones := map[string]availabilityzones.AvailabilityZone{}
	for _, z := range azs {
		zones[z.ZoneName] = z
	}
	if len(zones) != 2 || len(zones["nova"].Hosts) == 0 || len(zones["internal"].Hosts) == 0 {
		t.Errorf("zone detail: %+v", azs)
	}
	for h, svcs := range zones["internal"].Hosts {
		if _, ok := svcs["nova-scheduler"]; !ok {
			t.Errorf("internal zone host %s runs %v, want nova-scheduler among them", h, svcs)
		}
	}
	if len(computeHosts(t, admin)) != len(zones["nova"].Hosts) {
		t.Errorf("zone nova has hosts without nova-compute: %+v", zones["nova"].Hosts)
	}
}

func TestServerTagsAndMicroversionHeaders(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	net := newBootNet(t, c, e.Name("tag-net"), "10.12.0.0/24")
	img := imageID(t, c)
	c.Compute.Microversion = "2.26"
	res := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("t"), ImageRef: img, FlavorRef: flavorByName(t, c.Compute, "m1.tiny"),
		Networks: []servers.Network{{UUID: net.ID}}}, nil)
	srv, err := res.Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteServerLater(t, c.Compute, srv.ID)
	if got := res.Header.Get("OpenStack-API-Version"); got != "compute 2.26" {
		t.Errorf("OpenStack-API-Version = %q", got)
	}
	if got := res.Header.Get("X-OpenStack-Nova-API-Version"); got != "2.26" {
		t.Errorf("X-OpenStack-Nova-API-Version = %q", got)
	}
	if err := whileBuilding(t, c.Compute, srv.ID, func() error { return tags.Add(ctx, c.Compute, srv.ID, "a").ExtractErr() }); !gophercloud.ResponseCodeIs(err, 409) {
		t.Errorf("tag while BUILD: %v, want 409", err)
	}
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	if err := tags.Add(ctx, c.Compute, srv.ID, "a").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got, err := tags.ReplaceAll(ctx, c.Compute, srv.ID, tags.ReplaceAllOpts{Tags: []string{"c", "b", "c"}}).Extract()
	if err != nil || !cmp.Equal(got, []string{"b", "c"}) {
		t.Errorf("replace all: %v, %v", got, err)
	}
	if ok, err := tags.Check(ctx, c.Compute, srv.ID, "c").Extract(); err != nil || !ok {
		t.Errorf("check c: %v, %v", ok, err)
	}
	if ok, _ := tags.Check(ctx, c.Compute, srv.ID, "a").Extract(); ok {
		t.Error("check a: present after replace")
	}
	if err := tags.Delete(ctx, c.Compute, srv.ID, "zz").ExtractErr(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("delete missing tag: %v", err)
	}
	if err := tags.DeleteAll(ctx, c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if l, err := tags.List(ctx, c.Compute, srv.ID).Extract(); err != nil || len(l) != 0 {
		t.Errorf("after delete all: %v, %v", l, err)
	}
	// Before 2.26 the tags API does not exist.
	c.Compute.Microversion = "2.25"
	if _, err := tags.List(ctx, c.Compute, srv.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("tags at 2.25: %v, want 404", err)
	}
	// Unknown server.
	c.Compute.Microversion = ""
	if _, err := servers.Get(ctx, c.Compute, "nope").Extract(); err == nil {
		t.Error("unknown server found")
	} else if key, msg := apiFault(t, err, 404); key != "itemNotFound" || msg != "Instance nope could not be found." {
		t.Errorf("unknown server: %s %q", key, msg)
	}
	if err := servers.Delete(ctx, c.Compute, "nope").ExtractErr(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("delete unknown server: %v", err)
	}
}

// TestServerFloatingIPAddresses pins that a floating IP on a server's port
// shows among the server's addresses and matches the ip filter; on the
// simulator the boot hook sees it too.
func TestServerFloatingIPAddresses(t *testing.T) {
	var mu sync.Mutex
	var events []openstacktest.BootEvent
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithBootDelay(300*time.Millisecond),
		openstacktest.WithServerHooks(openstacktest.ServerHooks{OnActive: func(_ context.Context, ev openstacktest.BootEvent) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, ev)
			return nil
		}})))
	ctx := testContext(t)
	c := e.Cloud(ctx)
	net := newBootNet(t, c, e.Name("fip-net"), "10.15.0.0/24")
	page, err := networks.List(c.Network, networks.ListOpts{Name: openstacktest.ExternalNetwork}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := networks.ExtractNetworks(page)
	if len(ext) != 1 {
		t.Fatalf("external network: %+v", ext)
	}
	rt, err := routers.Create(ctx, c.Network, routers.CreateOpts{Name: e.Name("fip-router"), GatewayInfo: &routers.GatewayInfo{NetworkID: ext[0].ID}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	onRealCleanup(t, func(ctx context.Context) {
		_, _ = routers.RemoveInterface(ctx, c.Network, rt.ID, routers.RemoveInterfaceOpts{SubnetID: net.SubnetID}).Extract()
		_ = routers.Delete(ctx, c.Network, rt.ID).ExtractErr()
	})
	if _, err := routers.AddInterface(ctx, c.Network, rt.ID, routers.AddInterfaceOpts{SubnetID: net.SubnetID}).Extract(); err != nil {
		t.Fatal(err)
	}
	// The floating IP goes on a port made beforehand, so that Nova sees it
	// when it builds the server's network info: a floating IP added later
	// shows once Neutron's network-changed event arrives, which realstack's
	// Neutron does not send (Nova's periodic refresh finds it in ~60 s).
	port, err := ports.Create(ctx, c.Network, ports.CreateOpts{NetworkID: net.ID, Name: e.Name("fip-port")}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	onRealCleanup(t, func(ctx context.Context) { _ = ports.Delete(ctx, c.Network, port.ID).ExtractErr() })
	fip, err := floatingips.Create(ctx, c.Network, floatingips.CreateOpts{FloatingNetworkID: ext[0].ID, PortID: port.ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	onRealCleanup(t, func(ctx context.Context) { _ = floatingips.Delete(ctx, c.Network, fip.ID).ExtractErr() })
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("fip"), ImageRef: imageID(t, c), FlavorRef: flavorByName(t, c.Compute, "m1.tiny"),
		Networks: []servers.Network{{Port: port.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteServerLater(t, c.Compute, srv.ID)
	pp := waitPorts(t, c, srv.ID, 1)
	got := waitServer(t, c.Compute, srv.ID, "ACTIVE")
	var kinds []string
	list, _ := got.Addresses[net.Name].([]any)
	for _, a := range list {
		m := a.(map[string]any)
		kinds = append(kinds, m["OS-EXT-IPS:type"].(string)+" "+m["addr"].(string))
	}
	want := []string{"fixed " + pp[0].FixedIPs[0].IPAddress, "floating " + fip.FloatingIP}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	// The ip filter is Neutron's ip_address_substr on ports, SQL LIKE
	// '%<ip>%' on fixed IPs: a substring anywhere, _ a wildcard, \ an
	// escape; a floating IP or a regex finds nothing.
	fixed := pp[0].FixedIPs[0].IPAddress // 10.15.0.x
	for _, tc := range []struct {
		ip    string
		found bool
	}{
		{fixed, true}, {fixed[3:], true}, {strings.ReplaceAll(fixed, ".", `\.`), true}, {"10_15", true},
		{fip.FloatingIP, false}, {"^10", false}, {".*" + fixed[len(fixed)-1:], false}, {"10\\_15", false},
	} {
		page, err = servers.List(c.Compute, servers.ListOpts{IP: tc.ip}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := servers.ExtractServers(page)
		found := false
		for _, x := range l {
			found = found || x.ID == srv.ID
		}
		if found != tc.found {
			t.Errorf("ip=%s finds the server: %v, want %v", tc.ip, found, tc.found)
		}
	}
	if e.Sim() == nil {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 || !cmp.Equal(events[0].FloatingIPs, []string{fip.FloatingIP}) {
		t.Errorf("boot event floating IPs: %+v", events)
	}
}

// whileBuilding calls fn until it answers something else than 404 while
// the server is still in BUILD: Nova (and the simulator) answers 404 to
// actions on a server that is still only a build request (not yet in a
// cell), 409 from then on.
func whileBuilding(t testing.TB, c *gophercloud.ServiceClient, id string, fn func() error) error {
	t.Helper()
	for {
		err := fn()
		if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return err
		}
		srv, gerr := servers.Get(testContext(t), c, id).Extract()
		if gerr != nil || srv.Status != "BUILD" {
			return err
		}
		time.Sleep(pollEvery())
	}
}

// waitPorts waits until Nova has made n ports for the server (a real Nova
// makes them after scheduling, not in the create call).
func waitPorts(t testing.TB, c *provider.Cloud, serverID string, n int) []ports.Port {
	t.Helper()
	ctx := testContext(t)
	for {
		pl, err := ports.List(c.Network, ports.ListOpts{DeviceID: serverID}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pp, err := ports.ExtractPorts(pl)
		if err != nil {
			t.Fatal(err)
		}
		if len(pp) == n {
			return pp
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server %s has %d ports, want %d", serverID, len(pp), n)
		case <-time.After(pollEvery()):
		}
	}
}

// TestServerActions pins the power state machine (stop, start, hard
// reboot), its 409s and the answer to an unknown action.
func TestServerActions(t *testing.T) {
	// A boot delay that leaves a loaded machine time to see each step.
	e := cloudtest.New(t, cloudtest.WithSimOptions(openstacktest.WithBootDelay(3*time.Second)))
	ctx := testContext(t)
	c := e.Cloud(ctx)
	net := newBootNet(t, c, e.Name("act-net"), "10.17.0.0/24")
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("act"), ImageRef: imageID(t, c), FlavorRef: flavorByName(t, c.Compute, "m1.tiny"),
		Networks: []servers.Network{{UUID: net.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteServerLater(t, c.Compute, srv.ID)
	// Nova checks instance.host first (unset until a compute host claims
	// the server), then the vm_state: building.
	err = whileBuilding(t, c.Compute, srv.ID, func() error { return servers.Stop(ctx, c.Compute, srv.ID).ExtractErr() })
	if err == nil {
		t.Error("stop while BUILD accepted")
	} else if _, msg := apiFault(t, err, 409); msg != "Instance "+srv.ID+" is not ready" && msg != "Cannot 'stop' instance "+srv.ID+" while it is in vm_state building" {
		t.Errorf("stop while BUILD: %q", msg)
	}
	if !e.IsReal() {
		// Once a host shows, the vm_state decides. (A real Nova spawns too
		// quickly to hit this window reliably.)
		for {
			got, err := servers.Get(ctx, c.Compute, srv.ID).Extract()
			if err != nil || got.Status != "BUILD" {
				t.Fatalf("server left BUILD before a host showed: %v %v", got, err)
			}
			if got.HostID != "" {
				break
			}
			time.Sleep(pollEvery())
		}
		err := servers.Stop(ctx, c.Compute, srv.ID).ExtractErr()
		if _, msg := apiFault(t, err, 409); msg != "Cannot 'stop' instance "+srv.ID+" while it is in vm_state building" {
			t.Errorf("stop while BUILD on a host: %q", msg)
		}
	}
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	if err := servers.Start(ctx, c.Compute, srv.ID).ExtractErr(); err == nil {
		t.Error("start an ACTIVE server accepted")
	} else if _, msg := apiFault(t, err, 409); msg != "Cannot 'start' instance "+srv.ID+" while it is in vm_state active" {
		t.Errorf("start ACTIVE: %q", msg)
	}
	if err := servers.Stop(ctx, c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if got, _ := servers.Get(ctx, c.Compute, srv.ID).Extract(); got.TaskState != "powering-off" {
		t.Errorf("task state right after stop: %q", got.TaskState)
	}
	if got := waitServer(t, c.Compute, srv.ID, "SHUTOFF"); got.VmState != "stopped" || got.PowerState != servers.SHUTDOWN {
		t.Errorf("stopped server: vm_state %s power %v", got.VmState, got.PowerState)
	}
	// Nova shows progress in ACTIVE and BUILD, not in SHUTOFF.
	if _, ok := rawGet(t, c.Compute, "", c.Compute.ServiceURL("servers", srv.ID))["server"].(map[string]any)["progress"]; ok {
		t.Error("a SHUTOFF server shows progress")
	}
	if err := servers.Start(ctx, c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	if p, ok := rawGet(t, c.Compute, "", c.Compute.ServiceURL("servers", srv.ID))["server"].(map[string]any)["progress"]; !ok || jsonText(p) != "0" {
		t.Errorf("progress of an ACTIVE server: %v", p)
	}
	if err := servers.Reboot(ctx, c.Compute, srv.ID, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if got, _ := servers.Get(ctx, c.Compute, srv.ID).Extract(); got.Status != "HARD_REBOOT" {
		t.Errorf("status right after a hard reboot: %s", got.Status)
	}
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	// The reboot type: HARD, Hard, hard, SOFT, Soft or soft.
	if err := servers.Reboot(ctx, c.Compute, srv.ID, servers.RebootOpts{Type: "soft"}).ExtractErr(); err != nil {
		t.Errorf("reboot soft: %v", err)
	}
	if got, _ := servers.Get(ctx, c.Compute, srv.ID).Extract(); got.Status != "REBOOT" {
		t.Errorf("status right after a soft reboot: %s", got.Status)
	}
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	err = servers.Reboot(ctx, c.Compute, srv.ID, servers.RebootOpts{Type: "MEDIUM"}).ExtractErr()
	if _, msg := apiFault(t, err, 400); msg != "Invalid input for field/attribute type. Value: MEDIUM. 'MEDIUM' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']" {
		t.Errorf("reboot MEDIUM: %q", msg)
	}
	_, err = c.Compute.Post(ctx, c.Compute.ServiceURL("servers", srv.ID, "action"), map[string]any{"os-levitate": nil}, nil, nil)
	if _, msg := apiFault(t, err, 400); msg != "There is no such action: os-levitate" {
		t.Errorf("unknown action: %q", msg)
	}
}

// TestServerNetworkSelection pins how Nova picks networks when the request
// names none ("auto", "none", or no networks before 2.37).
func TestServerNetworkSelection(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	img := imageID(t, c)
	tiny := flavorByName(t, c.Compute, "m1.tiny")
	name := e.Name("sel")
	create := func(t *testing.T, mv string, networks any) (*servers.Server, error) {
		t.Helper()
		c.Compute.Microversion = mv
		srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: name, ImageRef: img, FlavorRef: tiny, Networks: networks}, nil).Extract()
		if err != nil {
			return nil, err
		}
		deleteServerLater(t, c.Compute, srv.ID)
		return waitServer(t, c.Compute, srv.ID, "ACTIVE"), nil
	}
	t.Run("none", func(t *testing.T) {
		srv, err := create(t, "2.37", "none")
		if err != nil || len(srv.Addresses) != 0 {
			t.Fatalf("networks none: %v, %v", srv, err)
		}
		// Security groups come from the server's ports: none, no key.
		if sg, ok := rawGet(t, c.Compute, "2.37", c.Compute.ServiceURL("servers", srv.ID))["server"].(map[string]any)["security_groups"]; ok {
			t.Errorf("a server without ports shows security_groups %v", sg)
		}
	})
	// These need a project with no network, then exactly one: the
	// simulator's fresh project, not a real one others share.
	t.Run("empty then one network", func(t *testing.T) {
		cloudtest.RequireSim(t, cloudtest.NeedsSimFeature)
		// No network yet: "auto" cannot allocate one.
		if _, err := create(t, "2.37", "auto"); err == nil {
			t.Error("auto without networks accepted")
		} else if _, msg := apiFault(t, err, 400); !strings.Contains(msg, "Unable to automatically allocate a network") {
			t.Errorf("auto without networks: %q", msg)
		}
		// One network: picked when none is named (before 2.37) and for "auto".
		newBootNet(t, c, "only", "10.18.0.0/24")
		for _, tc := range []struct {
			mv       string
			networks any
		}{{"2.1", nil}, {"2.37", "auto"}} {
			srv, err := create(t, tc.mv, tc.networks)
			if err != nil {
				t.Fatalf("%s %v: %v", tc.mv, tc.networks, err)
			}
			if _, ok := srv.Addresses["only"]; !ok {
				t.Errorf("%s %v: addresses %v", tc.mv, tc.networks, srv.Addresses)
			}
		}
	})
	// Two networks (at least): ambiguous, a 409.
	t.Run("two networks", func(t *testing.T) {
		newBootNet(t, c, e.Name("first"), "10.19.0.0/24")
		newBootNet(t, c, e.Name("second"), "10.20.0.0/24")
		for _, tc := range []struct {
			mv       string
			networks any
		}{{"2.1", nil}, {"2.37", "auto"}} {
			_, err := create(t, tc.mv, tc.networks)
			if key, msg := apiFault(t, err, 409); key != "conflictingRequest" || msg != "Multiple possible networks found, use a Network ID to be more specific." {
				t.Errorf("%s %v: %s %q", tc.mv, tc.networks, key, msg)
			}
		}
	})
}

// TestServerMinMaxCount pins multiple create: names, the answer, and a
// fixed IP refused with a count; on the simulator also the count the
// instances quota leaves.
func TestServerMinMaxCount(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	net := newBootNet(t, c, e.Name("multi-net"), "10.21.0.0/24")
	img := imageID(t, c)
	tiny := flavorByName(t, c.Compute, "m1.tiny")
	prefix := e.Name("multi")
	list := func(t *testing.T, name string) []servers.Server {
		t.Helper()
		page, err := servers.List(c.Compute, servers.ListOpts{Name: "^" + name + "-"}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, err := servers.ExtractServers(page)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	first, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: prefix, ImageRef: img, FlavorRef: tiny,
		Networks: []servers.Network{{UUID: net.ID}}, Min: 2, Max: 3}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, srv := range list(t, prefix) {
		deleteServerLater(t, c.Compute, srv.ID)
		names = append(names, srv.Name)
		if srv.Name == prefix+"-1" && srv.ID != first.ID {
			t.Errorf("the answer is not the first server")
		}
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{prefix + "-1", prefix + "-2", prefix + "-3"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if _, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("x"), ImageRef: img, FlavorRef: tiny,
		Networks: []servers.Network{{UUID: net.ID, FixedIP: "10.21.0.50"}}, Min: 2}, nil).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Errorf("count 2 with a fixed IP: %v, want 400", err)
	}
	t.Run("instances quota", func(t *testing.T) {
		cloudtest.RequireSim(t, cloudtest.NeedsQuotaChange)
		// 3 of 10 instances used: max 9 gives the 7 that fit, min 8 is refused.
		if _, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "many", ImageRef: img, FlavorRef: tiny,
			Networks: []servers.Network{{UUID: net.ID}}, Min: 8, Max: 9}, nil).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
			t.Errorf("min 8 over quota: %v, want 403", err)
		}
		if _, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "many", ImageRef: img, FlavorRef: tiny,
			Networks: []servers.Network{{UUID: net.ID}}, Min: 1, Max: 9}, nil).Extract(); err != nil {
			t.Fatal(err)
		}
		page, _ := servers.List(c.Compute, servers.ListOpts{}).AllPages(ctx)
		if all, _ := servers.ExtractServers(page); len(all) != 10 {
			t.Errorf("%d servers after filling the quota, want 10", len(all))
		}
	})
}
