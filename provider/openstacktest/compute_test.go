package openstacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
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
	sub, err := subnets.Create(ctx, c.Network, subnets.CreateOpts{NetworkID: n.ID, CIDR: cidr, IPVersion: 4}).Extract()
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
		if srv.Status == "ERROR" && status != "ERROR" {
			t.Fatalf("server %s went to ERROR: %+v", id, srv.Fault)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server %s still %s, want %s", id, srv.Status, status)
		case <-time.After(10 * time.Millisecond):
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

func TestServerLifecycle(t *testing.T) {
	var mu sync.Mutex
	var active, deleted []openstacktest.BootEvent
	// A boot delay long enough that a loaded machine still sees BUILD first.
	s := openstacktest.NewTestServer(t, openstacktest.WithBootDelay(time.Second), openstacktest.WithServerHooks(openstacktest.ServerHooks{
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
	}))
	ctx := testContext(t)
	c := memberCloud(t, s)
	c.Compute.Microversion = "2.60"
	before := s.Snapshot()
	net := newBootNet(t, c, "demo-net", "10.6.0.0/24")
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: "demo-key"}).Extract(); err != nil {
		t.Fatal(err)
	}
	img := imageID(t, c)
	userData := []byte("#cloud-config\nruncmd: [echo hi]\n")
	created, err := servers.Create(ctx, c.Compute, keypairs.CreateOptsExt{
		CreateOptsBuilder: servers.CreateOpts{
			Name: "demo-cp-0", ImageRef: img, FlavorRef: "2", UserData: userData,
			Networks:       []servers.Network{{UUID: net.ID, FixedIP: "10.6.0.10"}},
			SecurityGroups: []string{"default"}, Metadata: map[string]string{"role": "control-plane"},
			Tags: []string{"openstrap-cluster=demo", "cp"}, AvailabilityZone: "nova",
			ConfigDrive: gophercloud.Enabled,
		},
		KeyName: "demo-key",
	}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.AdminPass == "" {
		t.Fatalf("create answer: %+v", created)
	}
	srv, err := servers.Get(ctx, c.Compute, created.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if srv.Status != "BUILD" {
		t.Errorf("status right after create = %s, want BUILD", srv.Status)
	}
	srv = waitServer(t, c.Compute, created.ID, "ACTIVE")
	wantAddr := map[string]any{"demo-net": []any{map[string]any{"version": float64(4), "addr": "10.6.0.10",
		"OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": addrMAC(srv)}}}
	if diff := cmp.Diff(wantAddr, srv.Addresses); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	if srv.KeyName != "demo-key" || srv.Metadata["role"] != "control-plane" || srv.TenantID != openstacktest.MemberProjectID ||
		srv.AvailabilityZone != "nova" || !srv.ConfigDrive || srv.HostID == "" || srv.LaunchedAt.IsZero() ||
		srv.Flavor["original_name"] != "m1.small" || srv.Image["id"] != img {
		t.Errorf("server: %+v", srv)
	}
	if diff := cmp.Diff([]string{"openstrap-cluster=demo", "cp"}, *srv.Tags); diff != "" {
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
	deadline := time.Now().Add(5 * time.Second)
	for len(s.HookErrors()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	if len(active) != 1 || string(active[0].UserData) != string(userData) || active[0].Name != "demo-cp-0" ||
		!cmp.Equal(active[0].Addresses, map[string][]string{"demo-net": {"10.6.0.10"}}) {
		t.Errorf("OnActive events: %v", active)
	}
	mu.Unlock()
	if errs := s.HookErrors(); len(errs) != 1 || errs[0].Error() != "boot script failed" {
		t.Errorf("HookErrors = %v", errs)
	}
	if strings.Contains(active[0].String(), "cloud-config") {
		t.Errorf("BootEvent.String shows user data: %s", active[0].String())
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
	deadline = time.Now().Add(5 * time.Second)
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

	// Only the network, subnet and keypair remain.
	var extra []string
	for _, r := range s.Snapshot() {
		if !containsResource(before, r) {
			extra = append(extra, r.Kind+"/"+r.Name)
		}
	}
	sort.Strings(extra)
	if diff := cmp.Diff([]string{"keypair/demo-key", "network/demo-net", "subnet/"}, extra); diff != "" {
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

func TestServerCreateErrors(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	net := newBootNet(t, c, "err-net", "10.7.0.0/24")
	img := imageID(t, c)
	used, err := ports.Create(ctx, c.Network, ports.CreateOpts{NetworkID: net.ID, DeviceID: "other-device", DeviceOwner: "compute:nova"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	good := func() servers.CreateOpts {
		return servers.CreateOpts{Name: "bad", ImageRef: img, FlavorRef: "1", Networks: []servers.Network{{UUID: net.ID}}}
	}
	before := s.Snapshot()
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
		{"unknown image", "", func() servers.CreateOptsBuilder { o := good(); o.ImageRef = "nope"; return o },
			400, "badRequest", "Image nope could not be found."},
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
		{"no image", "", func() servers.CreateOptsBuilder { o := good(); o.ImageRef = ""; return o },
			400, "badRequest", "Missing imageRef attribute"},
		{"unsupported microversion", "2.200", func() servers.CreateOptsBuilder { return good() },
			406, "computeFault", "Version 2.200 is not supported by the API. Minimum is 2.1 and maximum is 2.93."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Compute.Microversion = tt.mv
			_, err := servers.Create(ctx, c.Compute, tt.opts(), nil).Extract()
			key, msg := apiFault(t, err, tt.status)
			if key != tt.key || !strings.Contains(msg, tt.message) {
				t.Errorf("fault %s %q, want %s containing %q", key, msg, tt.key, tt.message)
			}
		})
	}
	c.Compute.Microversion = ""
	if diff := cmp.Diff(before, s.Snapshot()); diff != "" {
		t.Errorf("failed creates left resources (-before +after):\n%s", diff)
	}
	// user_data that is not base64 is a 400 too (gophercloud would encode
	// it, so send the body directly).
	body := map[string]any{"server": map[string]any{"name": "x", "imageRef": img, "flavorRef": "1",
		"networks": []any{map[string]any{"uuid": net.ID}}, "user_data": "%%% not base64"}}
	_, err = c.Compute.Post(ctx, c.Compute.ServiceURL("servers"), body, nil, nil)
	if _, msg := apiFault(t, err, 400); !strings.Contains(msg, "base64") {
		t.Errorf("non-base64 user_data: %q", msg)
	}
}

func TestServerPrecreatedPortAndFilters(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	c.Compute.Microversion = "2.52"
	net := newBootNet(t, c, "pre-net", "10.8.0.0/24")
	img := imageID(t, c)
	port, err := ports.Create(ctx, c.Network, ports.CreateOpts{NetworkID: net.ID, Name: "pre-port"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, tags []string, nw servers.Network) string {
		srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: name, ImageRef: img, FlavorRef: "1",
			Networks: []servers.Network{nw}, Tags: tags}, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		return srv.ID
	}
	a := mk("demo-cp-0", []string{"openstrap-cluster=demo", "cp"}, servers.Network{Port: port.ID})
	b := mk("demo-worker-0", []string{"openstrap-cluster=demo", "worker"}, servers.Network{UUID: net.ID})
	o := mk("other-cp-0", []string{"openstrap-cluster=other", "cp"}, servers.Network{UUID: net.ID})
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
		{"name regex", servers.ListOpts{Name: "^demo-"}, []string{a, b}},
		{"name substring", servers.ListOpts{Name: "cp"}, []string{a, o}},
		{"status", servers.ListOpts{Status: "ACTIVE"}, []string{a, b, o}},
		{"tags all", servers.ListOpts{Tags: "openstrap-cluster=demo,cp"}, []string{a}},
		{"tags any", servers.ListOpts{TagsAny: "worker,openstrap-cluster=other"}, []string{b, o}},
		{"not tags", servers.ListOpts{NotTags: "openstrap-cluster=demo,cp"}, []string{b, o}},
		{"not tags any", servers.ListOpts{NotTagsAny: "cp"}, []string{b}},
		{"no match", servers.ListOpts{Name: "nothing"}, nil},
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
			var got []string
			for _, srv := range list {
				got = append(got, srv.ID)
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
	err = servers.List(c.Compute, servers.ListOpts{Limit: 2}).EachPage(ctx, func(_ context.Context, pg pagination.Page) (bool, error) {
		pages++
		list, err := servers.ExtractServers(pg)
		for _, srv := range list {
			seen = append(seen, srv.ID)
		}
		return true, err
	})
	if err != nil || pages != 2 || len(seen) != 3 {
		t.Errorf("paged list: %d pages, %v, err %v", pages, seen, err)
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
	admin := adminCloud(t, s)
	page, err := servers.List(admin.Compute, servers.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := servers.ExtractServers(page); len(list) != 0 {
		t.Errorf("admin project sees %d member servers without all_tenants", len(list))
	}
	page, err = servers.List(admin.Compute, servers.ListOpts{AllTenants: true}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := servers.ExtractServers(page); len(list) != 2 {
		t.Errorf("admin with all_tenants sees %d servers, want 2", len(list))
	}
}

func TestServerGroupsAntiAffinity(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	net := newBootNet(t, c, "grp-net", "10.9.0.0/24")
	img := imageID(t, c)

	c.Compute.Microversion = "2.64"
	g, err := servergroups.Create(ctx, c.Compute, servergroups.CreateOpts{Name: "demo-cp", Policy: "anti-affinity"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if g.Policy == nil || *g.Policy != "anti-affinity" {
		t.Fatalf("group at 2.64: %+v", g)
	}
	hosts := map[string]bool{}
	var ids []string
	for i := 0; i < 4; i++ {
		srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "demo-cp-" + string(rune('0'+i)), ImageRef: img,
			FlavorRef: "1", Networks: []servers.Network{{UUID: net.ID}}}, servers.SchedulerHintOpts{Group: g.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, srv.ID)
	}
	for _, id := range ids[:3] {
		hosts[waitServer(t, c.Compute, id, "ACTIVE").HostID] = true
	}
	if len(hosts) != 3 {
		t.Errorf("3 anti-affine servers on %d hosts", len(hosts))
	}
	failed := waitServer(t, c.Compute, ids[3], "ERROR")
	if failed.Fault.Code != 500 || !strings.Contains(failed.Fault.Message, "No valid host was found") || failed.Fault.Created.IsZero() {
		t.Errorf("4th server fault: %+v", failed.Fault)
	}

	// The older microversion shows policies, not policy.
	c.Compute.Microversion = "2.1"
	old, err := servergroups.Get(ctx, c.Compute, g.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"anti-affinity"}, old.Policies); diff != "" || len(old.Members) != 4 {
		t.Errorf("group at 2.1: %+v %s", old, diff)
	}
	if _, err := servergroups.Create(ctx, c.Compute, servergroups.CreateOpts{Name: "x", Policies: []string{"bogus"}}).Extract(); err == nil {
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

func TestFailBoot(t *testing.T) {
	s := openstacktest.NewTestServer(t)
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

func TestComputeQuotas(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	admin := adminCloud(t, s)
	net := newBootNet(t, c, "q-net", "10.11.0.0/24")
	img := imageID(t, c)
	two, cores := 2, 3
	if _, err := quotasets.Update(ctx, admin.Compute, openstacktest.MemberProjectID, quotasets.UpdateOpts{Instances: &two, Cores: &cores}).Extract(); err != nil {
		t.Fatal(err)
	}
	if _, err := quotasets.Update(ctx, c.Compute, openstacktest.MemberProjectID, quotasets.UpdateOpts{Instances: &two}).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("member updates quota: %v, want 403", err)
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
}

func TestFlavorsKeypairsZones(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	page, err := flavors.ListDetail(c.Compute, flavors.ListOpts{MinRAM: 4096}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fl, _ := flavors.ExtractFlavors(page)
	var names []string
	for _, f := range fl {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"m1.medium", "m1.large", "m1.xlarge"}, names); diff != "" {
		t.Errorf("flavors with >= 4 GiB (-want +got):\n%s", diff)
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
	gen, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: "gen"}).Extract()
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
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: "gen2"}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Errorf("generate at 2.92: %v, want 400", err)
	}
	res := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: "imported", PublicKey: gen.PublicKey, Type: "ssh"})
	if imp, err := res.Extract(); err != nil || imp.Fingerprint != gen.Fingerprint || imp.PrivateKey != "" || imp.Type != "ssh" {
		t.Errorf("import: %+v, %v", imp, err)
	}
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: "imported", PublicKey: gen.PublicKey}).Extract(); err == nil {
		t.Error("duplicate keypair accepted")
	} else if _, msg := apiFault(t, err, 409); msg != "Key pair 'imported' already exists." {
		t.Errorf("duplicate: %q", msg)
	}
	if _, err := keypairs.Create(ctx, c.Compute, keypairs.CreateOpts{Name: "junk", PublicKey: "ssh-rsa AAAA junk"}).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Errorf("invalid public key: %v, want 400", err)
	}
	page, err = keypairs.List(c.Compute, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kps, _ := keypairs.ExtractKeyPairs(page)
	if len(kps) != 2 {
		t.Errorf("keypairs: %+v", kps)
	}
	if err := keypairs.Delete(ctx, c.Compute, "gen", nil).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := keypairs.Get(ctx, c.Compute, "gen", nil).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("deleted keypair: %v", err)
	}
	// Another user does not see the member's keypairs.
	admin := adminCloud(t, s)
	if _, err := keypairs.Get(ctx, admin.Compute, "imported", nil).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("admin sees member keypair by default: %v", err)
	}

	page, err = availabilityzones.List(c.Compute).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	azs, _ := availabilityzones.ExtractAvailabilityZones(page)
	if len(azs) != 1 || azs[0].ZoneName != "nova" || !azs[0].ZoneState.Available {
		t.Errorf("zones: %+v", azs)
	}
	page, err = availabilityzones.ListDetail(admin.Compute).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	azs, _ = availabilityzones.ExtractAvailabilityZones(page)
	if len(azs) != 2 || len(azs[0].Hosts) != 3 {
		t.Errorf("zone detail: %+v", azs)
	}
}

func TestServerTagsAndMicroversionHeaders(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	net := newBootNet(t, c, "tag-net", "10.12.0.0/24")
	img := imageID(t, c)
	c.Compute.Microversion = "2.26"
	res := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "t", ImageRef: img, FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}}, nil)
	srv, err := res.Extract()
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Header.Get("OpenStack-API-Version"); got != "compute 2.26" {
		t.Errorf("OpenStack-API-Version = %q", got)
	}
	if got := res.Header.Get("X-OpenStack-Nova-API-Version"); got != "2.26" {
		t.Errorf("X-OpenStack-Nova-API-Version = %q", got)
	}
	if err := tags.Add(ctx, c.Compute, srv.ID, "a").ExtractErr(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Errorf("tag while BUILD: %v, want 409", err)
	}
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	if err := tags.Add(ctx, c.Compute, srv.ID, "a").ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got, err := tags.ReplaceAll(ctx, c.Compute, srv.ID, tags.ReplaceAllOpts{Tags: []string{"b", "c", "b"}}).Extract()
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

func TestServerFloatingIPAddresses(t *testing.T) {
	var mu sync.Mutex
	var events []openstacktest.BootEvent
	s := openstacktest.NewTestServer(t, openstacktest.WithBootDelay(300*time.Millisecond),
		openstacktest.WithServerHooks(openstacktest.ServerHooks{OnActive: func(_ context.Context, ev openstacktest.BootEvent) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, ev)
			return nil
		}}))
	ctx := testContext(t)
	c := memberCloud(t, s)
	net := newBootNet(t, c, "fip-net", "10.15.0.0/24")
	page, err := networks.List(c.Network, networks.ListOpts{Name: openstacktest.ExternalNetwork}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := networks.ExtractNetworks(page)
	if len(ext) != 1 {
		t.Fatalf("external network: %+v", ext)
	}
	rt, err := routers.Create(ctx, c.Network, routers.CreateOpts{Name: "fip-router", GatewayInfo: &routers.GatewayInfo{NetworkID: ext[0].ID}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := routers.AddInterface(ctx, c.Network, rt.ID, routers.AddInterfaceOpts{SubnetID: net.SubnetID}).Extract(); err != nil {
		t.Fatal(err)
	}
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "fip", ImageRef: imageID(t, c), FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := ports.List(c.Network, ports.ListOpts{DeviceID: srv.ID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pp, _ := ports.ExtractPorts(pl)
	if len(pp) != 1 {
		t.Fatalf("ports: %+v", pp)
	}
	fip, err := floatingips.Create(ctx, c.Network, floatingips.CreateOpts{FloatingNetworkID: ext[0].ID, PortID: pp[0].ID}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	got := waitServer(t, c.Compute, srv.ID, "ACTIVE")
	var kinds []string
	for _, a := range got.Addresses["fip-net"].([]any) {
		m := a.(map[string]any)
		kinds = append(kinds, m["OS-EXT-IPS:type"].(string)+" "+m["addr"].(string))
	}
	want := []string{"fixed " + pp[0].FixedIPs[0].IPAddress, "floating " + fip.FloatingIP}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	page, err = servers.List(c.Compute, servers.ListOpts{IP: strings.ReplaceAll(fip.FloatingIP, ".", `\.`)}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := servers.ExtractServers(page); len(l) != 1 {
		t.Errorf("ip filter found %d servers", len(l))
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

func TestServerActions(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	net := newBootNet(t, c, "act-net", "10.17.0.0/24")
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "act", ImageRef: imageID(t, c), FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if err := servers.Stop(ctx, c.Compute, srv.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Errorf("stop while BUILD: %v, want 409", err)
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
	if err := servers.Start(ctx, c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	if err := servers.Reboot(ctx, c.Compute, srv.ID, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if got, _ := servers.Get(ctx, c.Compute, srv.ID).Extract(); got.Status != "HARD_REBOOT" {
		t.Errorf("status right after a hard reboot: %s", got.Status)
	}
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	_, err = c.Compute.Post(ctx, c.Compute.ServiceURL("servers", srv.ID, "action"), map[string]any{"os-levitate": nil}, nil, nil)
	if _, msg := apiFault(t, err, 400); msg != "There is no such action: os-levitate" {
		t.Errorf("unknown action: %q", msg)
	}
}

func TestServerNetworkSelection(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	img := imageID(t, c)
	create := func(mv string, networks any) (*servers.Server, error) {
		c.Compute.Microversion = mv
		srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "sel", ImageRef: img, FlavorRef: "1", Networks: networks}, nil).Extract()
		if err != nil {
			return nil, err
		}
		return waitServer(t, c.Compute, srv.ID, "ACTIVE"), nil
	}
	// No network yet: "auto" cannot allocate one, "none" boots without.
	if _, err := create("2.37", "auto"); err == nil {
		t.Error("auto without networks accepted")
	} else if _, msg := apiFault(t, err, 400); !strings.Contains(msg, "Unable to automatically allocate a network") {
		t.Errorf("auto without networks: %q", msg)
	}
	if srv, err := create("2.37", "none"); err != nil || len(srv.Addresses) != 0 {
		t.Errorf("networks none: %v, %v", srv, err)
	}
	// One network: picked when none is named (before 2.37) and for "auto".
	newBootNet(t, c, "only", "10.18.0.0/24")
	for _, tc := range []struct {
		mv       string
		networks any
	}{{"2.1", nil}, {"2.37", "auto"}} {
		srv, err := create(tc.mv, tc.networks)
		if err != nil {
			t.Fatalf("%s %v: %v", tc.mv, tc.networks, err)
		}
		if _, ok := srv.Addresses["only"]; !ok {
			t.Errorf("%s %v: addresses %v", tc.mv, tc.networks, srv.Addresses)
		}
	}
	// Two networks: ambiguous, a 409.
	newBootNet(t, c, "second", "10.19.0.0/24")
	for _, tc := range []struct {
		mv       string
		networks any
	}{{"2.1", nil}, {"2.37", "auto"}} {
		_, err := create(tc.mv, tc.networks)
		if key, msg := apiFault(t, err, 409); key != "conflictingRequest" || msg != "Multiple possible networks found, use a Network ID to be more specific." {
			t.Errorf("%s %v: %s %q", tc.mv, tc.networks, key, msg)
		}
	}
}

func TestServerMinMaxCount(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)
	net := newBootNet(t, c, "multi-net", "10.21.0.0/24")
	img := imageID(t, c)
	first, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "multi", ImageRef: img, FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}, Min: 2, Max: 3}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	page, err := servers.List(c.Compute, servers.ListOpts{Name: "^multi-"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := servers.ExtractServers(page)
	var names []string
	for _, srv := range list {
		names = append(names, srv.Name)
		if srv.Name == "multi-1" && srv.ID != first.ID {
			t.Errorf("the answer is not the first server")
		}
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"multi-1", "multi-2", "multi-3"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	// 3 of 10 instances used: max 9 gives the 7 that fit, min 8 is refused.
	if _, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "many", ImageRef: img, FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}, Min: 8, Max: 9}, nil).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("min 8 over quota: %v, want 403", err)
	}
	if _, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "many", ImageRef: img, FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}, Min: 1, Max: 9}, nil).Extract(); err != nil {
		t.Fatal(err)
	}
	page, _ = servers.List(c.Compute, servers.ListOpts{}).AllPages(ctx)
	if all, _ := servers.ExtractServers(page); len(all) != 10 {
		t.Errorf("%d servers after filling the quota, want 10", len(all))
	}
	if _, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "x", ImageRef: img, FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID, FixedIP: "10.21.0.50"}}, Min: 2}, nil).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Errorf("count 2 with a fixed IP: %v, want 400", err)
	}
}
