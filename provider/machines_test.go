package provider_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	netquotas "github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/quotas"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

const simFlavor = "m1.small"

// checkMachine compares what Create, Get and List report with what the
// cloud has.
func checkMachine(t *testing.T, e *simEnv, got *provider.Machine, spec provider.MachineSpec) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	if got.Status != "ACTIVE" {
		t.Errorf("Status = %q, want ACTIVE", got.Status)
	}
	if got.ProviderID != "openstack:///"+got.ServerID || got.ServerID == "" {
		t.Errorf("ProviderID = %q for server %q", got.ProviderID, got.ServerID)
	}
	if got.Cluster != spec.Cluster || got.Name != spec.Name || got.Role != spec.Default().Role {
		t.Errorf("identity = %s/%s %s, want %s/%s %s", got.Cluster, got.Name, got.Role, spec.Cluster, spec.Name, spec.Default().Role)
	}
	srv, err := servers.Get(ctx, e.cloud.Compute, got.ServerID).Extract()
	if err != nil {
		t.Fatalf("get server: %v", err)
	}
	if srv.Name != spec.Name || srv.Metadata["openstrap-cluster"] != spec.Cluster || srv.Metadata["openstrap-role"] != string(spec.Default().Role) {
		t.Errorf("server name %q metadata %v", srv.Name, srv.Metadata)
	}
	if len(got.PortIDs) != len(spec.Ports) {
		t.Fatalf("PortIDs = %v, want %d ports", got.PortIDs, len(spec.Ports))
	}
	for i, id := range got.PortIDs {
		p, err := ports.Get(ctx, e.cloud.Network, id).Extract()
		if err != nil {
			t.Fatalf("get port %d: %v", i, err)
		}
		if want := fmt.Sprintf("%s-%d", spec.Name, i); p.Name != want {
			t.Errorf("port %d name = %q, want %q", i, p.Name, want)
		}
		if !has(p.Tags, provider.OwnershipTag(spec.Cluster)) {
			t.Errorf("port %s tags = %v, want the ownership tag", p.Name, p.Tags)
		}
		if p.DeviceID != got.ServerID {
			t.Errorf("port %s device = %q, want server %s", p.Name, p.DeviceID, got.ServerID)
		}
		if i == 0 && (len(p.FixedIPs) == 0 || p.FixedIPs[0].IPAddress != got.InternalAddress) {
			t.Errorf("InternalAddress = %q, port 0 has %v", got.InternalAddress, p.FixedIPs)
		}
	}
	if got.InternalAddress == "" {
		t.Error("no InternalAddress")
	}
	if len(got.Addresses) == 0 {
		t.Error("no Addresses")
	}
	if (spec.FloatingIP != nil) != (got.FloatingIP != "") {
		t.Errorf("FloatingIP = %q, spec asks for one: %v", got.FloatingIP, spec.FloatingIP != nil)
	}
	wantVols := len(spec.Volumes)
	if spec.RootVolume != nil {
		wantVols++
	}
	if len(got.VolumeIDs) != wantVols {
		t.Errorf("VolumeIDs = %v, want %d", got.VolumeIDs, wantVols)
	}
	for _, id := range got.VolumeIDs {
		v, err := volumes.Get(ctx, e.cloud.BlockStorage, id).Extract()
		if err != nil {
			t.Fatalf("get volume: %v", err)
		}
		if v.Metadata["openstrap-cluster"] != spec.Cluster || v.Metadata["openstrap-machine"] != spec.Name {
			t.Errorf("volume %s metadata = %v", v.Name, v.Metadata)
		}
	}

	// Get and List report the same machine.
	m := e.machines()
	again, err := m.Get(ctx, spec.Cluster, spec.Name)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(got, again, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Get differs from Create (-create +get):\n%s", diff)
	}
	list, err := m.List(ctx, spec.Cluster)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	found := false
	for _, l := range list {
		if l.Name == spec.Name {
			found = true
			if diff := cmp.Diff(got, l, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("List differs from Create (-create +list):\n%s", diff)
			}
		}
	}
	if !found {
		t.Errorf("List does not report %s", spec.Name)
	}
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestMachinesRoundTrip(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(20*time.Millisecond), openstacktest.WithVolumeDelay(10*time.Millisecond))
	ctx := testCtx(t, e.env.Timeout(2*time.Minute))

	// Fixtures the options refer to: a key pair, a security group, an
	// image found by tags.
	keyName, sgName := e.env.Name("ops"), e.env.Name("demo-nodes")
	if _, err := keypairs.Create(ctx, e.cloud.Compute, keypairs.CreateOpts{Name: keyName,
		PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHXk0XSc1rE4ndl6I0jS2yKFl3KBo1sFzb3WTJc3bVcm ops"}).Extract(); err != nil {
		t.Fatalf("create key pair: %v", err)
	}
	sg, err := groups.Create(ctx, e.cloud.Network, groups.CreateOpts{Name: sgName}).Extract()
	if err != nil {
		t.Fatalf("create security group: %v", err)
	}
	// Unique image tags on a real cloud, where earlier runs' images may be
	// left.
	imgTag := e.env.Name("v1.37")
	img, err := images.Create(ctx, e.cloud.Image, images.CreateOpts{Name: "k8s-node", Tags: []string{"k8s", imgTag},
		ContainerFormat: "bare", DiskFormat: "raw", MinDisk: 5}).Extract()
	if err != nil {
		t.Fatalf("create image: %v", err)
	}
	if e.env.IsReal() {
		t.Cleanup(func() {
			ctx := testCtx(t, time.Minute)
			_ = images.Delete(ctx, e.cloud.Image, img.ID).ExtractErr()
			_ = groups.Delete(ctx, e.cloud.Network, sg.ID).ExtractErr()
			_ = keypairs.Delete(ctx, e.cloud.Compute, keyName, keypairs.DeleteOpts{}).ExtractErr()
		})
	}
	if err := imagedata.Upload(ctx, e.cloud.Image, img.ID, strings.NewReader("disk")).ExtractErr(); err != nil {
		t.Fatalf("upload image: %v", err)
	}
	e.base = e.snapshot()

	tests := []struct {
		name   string
		mutate func(*provider.MachineSpec)
		verify func(*testing.T, *provider.Machine)
		needs  cloudtest.Reason // set when the case needs the simulator
	}{
		{"minimal worker", func(*provider.MachineSpec) {}, nil, ""},
		{"control plane with default server group", func(s *provider.MachineSpec) { s.Role = provider.ControlPlane }, nil, ""},
		{"two ports, subnet, fixed IP, security groups by name and ID, address pairs", func(s *provider.MachineSpec) {
			s.Ports = []provider.PortSpec{
				{Subnet: e.subnetName, FixedIP: "10.6.0.77", SecurityGroups: []string{sgName, "default"},
					AllowedAddressPairs: []provider.AddressPair{{IPAddress: "10.6.0.250"}}},
				{Network: e.netID, SecurityGroups: []string{sg.ID}},
			}
		}, func(t *testing.T, m *provider.Machine) {
			if m.InternalAddress != "10.6.0.77" {
				t.Errorf("InternalAddress = %q, want the fixed IP 10.6.0.77", m.InternalAddress)
			}
			p0, err := ports.Get(ctx, e.cloud.Network, m.PortIDs[0]).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if len(p0.SecurityGroups) != 2 || !has(p0.SecurityGroups, sg.ID) {
				t.Errorf("port 0 security groups = %v, want demo-nodes and default", p0.SecurityGroups)
			}
			if len(p0.AllowedAddressPairs) != 1 || p0.AllowedAddressPairs[0].IPAddress != "10.6.0.250" {
				t.Errorf("port 0 address pairs = %v", p0.AllowedAddressPairs)
			}
			p1, err := ports.Get(ctx, e.cloud.Network, m.PortIDs[1]).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if len(p1.SecurityGroups) != 1 || p1.SecurityGroups[0] != sg.ID {
				t.Errorf("port 1 security groups = %v, want only %s", p1.SecurityGroups, sg.ID)
			}
		}, ""},
		{"image by tags, key, metadata, tags, config drive, AZ", func(s *provider.MachineSpec) {
			s.Image, s.ImageTags = "", []string{"k8s", imgTag}
			s.KeyName = keyName
			s.Metadata = map[string]string{"team": "a"}
			s.Tags = []string{"pool-a"}
			s.ConfigDrive = true
			s.AvailabilityZone = "nova"
		}, nil, ""},
		{"boot from volume and an extra volume", func(s *provider.MachineSpec) {
			s.RootVolume = &provider.RootVolumeSpec{}
			s.Volumes = []provider.VolumeSpec{{Name: "etcd", SizeGiB: 2}}
		}, func(t *testing.T, m *provider.Machine) {
			root, err := volumes.Get(ctx, e.cloud.BlockStorage, m.VolumeIDs[0]).Extract()
			if err != nil {
				t.Fatal(err)
			}
			// m1.small's disk, larger than the image's minimum.
			if root.Name != m.Name+"-root" || root.Size != 20 || root.Status != "in-use" {
				t.Errorf("root volume %s size %d status %s", root.Name, root.Size, root.Status)
			}
			etcd, err := volumes.Get(ctx, e.cloud.BlockStorage, m.VolumeIDs[1]).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if etcd.Name != m.Name+"-etcd" || etcd.Size != 2 || etcd.Status != "in-use" {
				t.Errorf("etcd volume %s size %d status %s", etcd.Name, etcd.Size, etcd.Status)
			}
		}, ""},
		{"extra volume on an image-booted server", func(s *provider.MachineSpec) {
			s.Volumes = []provider.VolumeSpec{{Name: "data", SizeGiB: 1, Type: "lvmdriver-1"}}
		}, func(t *testing.T, m *provider.Machine) {
			v, err := volumes.Get(ctx, e.cloud.BlockStorage, m.VolumeIDs[0]).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if v.VolumeType != "lvmdriver-1" || v.Status != "in-use" {
				t.Errorf("data volume type %q status %q", v.VolumeType, v.Status)
			}
		}, ""},
		{"floating IP", func(s *provider.MachineSpec) { s.FloatingIP = &provider.FloatingIPSpec{} }, nil, ""},
		{"explicit anti-affinity group by name", func(s *provider.MachineSpec) {
			s.ServerGroup = &provider.ServerGroupSpec{Name: e.cluster + "-spread", Policy: provider.PolicyAntiAffinity}
		}, nil, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needs != "" {
				cloudtest.RequireSim(t, tt.needs)
			}
			pool := &fakePool{}
			m := e.machines(provider.WithAPIServerPool(pool))
			spec := e.worker(fmt.Sprintf("demo-m-%d", i))
			tt.mutate(&spec)

			got, err := m.Create(ctx, spec)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			checkMachine(t, e, got, spec)
			if tt.verify != nil {
				tt.verify(t, got)
			}

			nova := *e.cloud.Compute
			nova.Microversion = "2.52" // tags in the answer
			srv, err := servers.Get(ctx, &nova, got.ServerID).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if spec.KeyName != "" && srv.KeyName != spec.KeyName {
				t.Errorf("key name = %q, want %q", srv.KeyName, spec.KeyName)
			}
			for k, v := range spec.Metadata {
				if srv.Metadata[k] != v {
					t.Errorf("metadata %s = %q, want %q", k, srv.Metadata[k], v)
				}
			}
			for _, tag := range append([]string{provider.OwnershipTag(e.cluster)}, spec.Tags...) {
				if srv.Tags == nil || !has(*srv.Tags, tag) {
					t.Errorf("server tags = %v, want %q", srv.Tags, tag)
				}
			}
			if g := spec.Default().ServerGroup; g != nil && g.Name != "" {
				if got.ServerGroupID == "" {
					t.Fatalf("no ServerGroupID for group %q", g.Name)
				}
				sg, err := servergroups.Get(ctx, e.cloud.Compute, got.ServerGroupID).Extract()
				if err != nil {
					t.Fatalf("get server group: %v", err)
				}
				if sg.Name != g.Name || !has(sg.Members, got.ServerID) || !has(sg.Policies, g.Policy) {
					t.Errorf("server group %q policies %v members %v", sg.Name, sg.Policies, sg.Members)
				}
			}
			wantPool := map[string]string{}
			if spec.Role == provider.ControlPlane {
				wantPool[spec.Name] = got.InternalAddress
			}
			if diff := cmp.Diff(wantPool, pool.snapshot()); diff != "" {
				t.Errorf("API server pool (-want +got):\n%s", diff)
			}

			// A second Create finds the machine and writes nothing.
			e.resetCalls()
			again, err := m.Create(ctx, spec)
			if err != nil {
				t.Fatalf("second Create: %v", err)
			}
			if again.ServerID != got.ServerID {
				t.Errorf("second Create returned server %s, want %s", again.ServerID, got.ServerID)
			}
			if w := e.calls().Writes(); w != 0 {
				t.Errorf("second Create made %d writes: %v", w, e.calls())
			}

			if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := m.Get(ctx, spec.Cluster, spec.Name); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("Get after Delete = %v, want ErrNotFound", err)
			}
			if len(pool.snapshot()) != 0 {
				t.Errorf("pool after Delete = %v", pool.snapshot())
			}
			e.assertClean(t)
			// Delete is idempotent.
			if err := m.Delete(ctx, spec.Cluster, spec.Name); err != nil {
				t.Fatalf("second Delete: %v", err)
			}
		})
	}
}

func TestMachinesBootErrorLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(20*time.Millisecond), openstacktest.WithVolumeDelay(10*time.Millisecond))
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	spec := e.worker("demo-bad")
	spec.Role = provider.ControlPlane
	if e.s != nil {
		remove := e.s.FailBoot(func(name string) bool { return name == "demo-bad" }, "No valid host was found. There are not enough hosts available.")
		defer remove()
		spec.RootVolume = &provider.RootVolumeSpec{SizeGiB: 10}
		spec.Volumes = []provider.VolumeSpec{{Name: "data", SizeGiB: 1}}
	} else {
		// A real Nova fails the boot when no host can take the flavor (the
		// fake host has 1000 vCPUs, the quota 10000):
		// the scheduler answers NoValidHost and the server goes to ERROR.
		spec.Flavor = hugeFlavor(t, ctx, e)
	}
	spec.FloatingIP = &provider.FloatingIPSpec{Network: openstacktest.ExternalNetwork}
	pool := &fakePool{}
	var events []provider.MachineEvent
	var mu sync.Mutex
	m := e.machines(provider.WithAPIServerPool(pool), provider.WithMachinesProgress(func(ev provider.MachineEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	_, err := m.Create(ctx, spec)
	if !errors.Is(err, provider.ErrBootFailed) {
		t.Fatalf("Create = %v, want ErrBootFailed", err)
	}
	if !strings.Contains(err.Error(), "No valid host was found") {
		t.Errorf("error %q does not carry Nova's fault", err)
	}
	e.assertClean(t)
	if len(pool.snapshot()) != 0 {
		t.Errorf("a failed machine is in the pool: %v", pool.snapshot())
	}
	mu.Lock()
	defer mu.Unlock()
	var bootErr error
	for _, ev := range events {
		if ev.Phase == provider.PhaseBoot {
			bootErr = ev.Err
		}
	}
	if !errors.Is(bootErr, provider.ErrBootFailed) {
		t.Errorf("no boot event with the failure among %d events", len(events))
	}
}

func TestMachinesFailFastBeforeAnyWrite(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	ctx := testCtx(t, time.Minute)
	// A second image with the seeded image's name makes the name ambiguous.
	dup, err := images.Create(ctx, e.cloud.Image, images.CreateOpts{Name: "twin", ContainerFormat: "bare", DiskFormat: "raw"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	dup2, err := images.Create(ctx, e.cloud.Image, images.CreateOpts{Name: "twin", ContainerFormat: "bare", DiskFormat: "raw"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{dup.ID, dup2.ID} {
		if e.env.IsReal() {
			t.Cleanup(func() { _ = images.Delete(testCtx(t, time.Minute), e.cloud.Image, id).ExtractErr() })
		}
		if err := imagedata.Upload(ctx, e.cloud.Image, id, strings.NewReader("x")).ExtractErr(); err != nil {
			t.Fatal(err)
		}
	}
	e.base = e.snapshot()
	m := e.machines()
	tests := []struct {
		name   string
		mutate func(*provider.MachineSpec)
		is     error
		says   []string
		calls  bool // whether any API call is expected
	}{
		{"user data over Nova's limit", func(s *provider.MachineSpec) { s.UserData = make([]byte, 70000) },
			provider.ErrInvalidSpec, []string{"70000 bytes", "93336 once base64 encoded", "65535"}, false},
		{"unknown flavor lists the flavors", func(s *provider.MachineSpec) { s.Flavor = "m9.huge" },
			provider.ErrNotFound, []string{`flavor "m9.huge"`, "m1.small", "m1.tiny"}, true},
		{"ambiguous image lists the candidates", func(s *provider.MachineSpec) { s.Image = "twin" },
			provider.ErrAmbiguous, []string{`image "twin"`, dup.ID, dup2.ID}, true},
		{"unknown network", func(s *provider.MachineSpec) { s.Ports = []provider.PortSpec{{Network: "nope"}} },
			provider.ErrNotFound, []string{`network "nope"`, e.netName}, true},
		{"unknown security group", func(s *provider.MachineSpec) {
			s.Ports = []provider.PortSpec{{Network: e.netName, SecurityGroups: []string{"nope"}}}
		}, provider.ErrNotFound, []string{`security group "nope"`, "default"}, true},
		{"image without the tags", func(s *provider.MachineSpec) { s.ImageTags = []string{"gpu"} },
			provider.ErrNotFound, []string{"tagged gpu"}, true},
		{"floating IP from a network that is not external", func(s *provider.MachineSpec) {
			s.FloatingIP = &provider.FloatingIPSpec{Network: e.netName}
		}, provider.ErrInvalidSpec, []string{"not external"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := e.worker("demo-x")
			tt.mutate(&spec)
			e.resetCalls()
			_, err := m.Create(ctx, spec)
			if !errors.Is(err, tt.is) {
				t.Fatalf("Create = %v, want %v", err, tt.is)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			calls := e.calls()
			if w := calls.Writes(); w != 0 {
				t.Errorf("%d writes before failing: %v", w, calls)
			}
			if !tt.calls && calls.Total() != 0 {
				t.Errorf("%d API calls, want none: %v", calls.Total(), calls)
			}
			e.assertClean(t)
		})
	}
}

func TestMachinesRollbackWhenAPIRefuses(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	m, cr := e.crashMachines(t) // the crasher counts the calls
	spec := e.worker("demo-rb")
	spec.Ports = append(spec.Ports, provider.PortSpec{Network: e.netName})
	spec.FloatingIP = &provider.FloatingIPSpec{}
	// Nova refuses the server for quota after the ports and the floating IP
	// exist: the project may have no more instances than it has.
	admin := e.env.AdminCloud(ctx)
	d, err := quotasets.GetDetail(ctx, admin.Compute, e.cloud.ProjectID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	used := d.Instances.InUse
	if _, err := quotasets.Update(ctx, admin.Compute, e.cloud.ProjectID, quotasets.UpdateOpts{Instances: &used}).Extract(); err != nil {
		t.Fatalf("set the project's instance quota to what it uses (%d): %v", used, err)
	}
	t.Cleanup(func() { _ = quotasets.Delete(context.Background(), admin.Compute, e.cloud.ProjectID).Err })
	cr.Reset()
	_, err = m.Create(ctx, spec)
	if !errors.Is(err, provider.ErrQuotaExceeded) || !strings.Contains(err.Error(), "instances") {
		t.Fatalf("Create = %v, want ErrQuotaExceeded for instances", err)
	}
	if cr.Writes() < 3 {
		t.Errorf("%d writes: Create did not get as far as the ports and the floating IP", cr.Writes())
	}
	e.assertClean(t)
}

func TestMachinesLostServerAnswerMakesNoDuplicate(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(20*time.Millisecond))
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	m, cr := e.crashMachines(t)
	for _, action := range []cloudtest.CrashAction{cloudtest.CrashAfter, cloudtest.CrashBefore} {
		t.Run(action.String(), func(t *testing.T) {
			before := cr.Applied()
			disarm := cr.ArmWhen(func(r *http.Request) bool {
				return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/servers")
			}, action, nil)
			defer disarm()
			got, err := m.Create(ctx, e.worker("demo-lost"))
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if cr.Applied() != before+1 {
				t.Fatal("the cut was not applied")
			}
			if n := e.kinds()["compute/server"]; n != 1 {
				t.Errorf("%d servers after a lost answer, want 1", n)
			}
			if got.Status != "ACTIVE" {
				t.Errorf("status %s", got.Status)
			}
			if err := m.Delete(ctx, e.cluster, "demo-lost"); err != nil {
				t.Fatal(err)
			}
			e.assertClean(t)
		})
	}
}

func TestMachinesConcurrentCreateOfOneMachine(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(20*time.Millisecond))
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	spec := e.worker("demo-same")
	// Calls for one machine on one Machines value are serialized: all
	// callers get the same server.
	m := e.machines()
	ids := make([]string, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mc, err := m.Create(ctx, spec)
			errs[i] = err
			if mc != nil {
				ids[i] = mc.ServerID
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("Create %d = %s, %v; want server %s", i, ids[i], errs[i], ids[0])
		}
	}
	if n := e.kinds()["compute/server"]; n != 1 {
		t.Errorf("%d servers, want 1", n)
	}
	if err := m.Delete(ctx, e.cluster, "demo-same"); err != nil {
		t.Fatal(err)
	}
	e.assertClean(t)
}

func TestMachinesCreateBatch(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(50*time.Millisecond))
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	pool := &fakePool{}
	m := e.machines(provider.WithMachinesConcurrency(3), provider.WithAPIServerPool(pool))
	var specs []provider.MachineSpec
	for i := 0; i < 3; i++ {
		s := e.worker(fmt.Sprintf("demo-cp-%d", i))
		s.Role = provider.ControlPlane
		specs = append(specs, s)
	}
	for i := 0; i < 5; i++ {
		specs = append(specs, e.worker(fmt.Sprintf("demo-w-%d", i)))
	}
	e.resetCalls()
	got, err := m.CreateBatch(ctx, specs)
	if err != nil {
		t.Fatalf("CreateBatch: %v", err)
	}
	// Waiting machines share server lists rather than each GET its server.
	if calls := e.calls(); calls["GET /compute/v2.1/servers/{id}"] != 0 {
		t.Errorf("%d single-server GETs while waiting, want 0 (shared lists: %d)", calls["GET /compute/v2.1/servers/{id}"], calls["GET /compute/v2.1/servers/detail"])
	}
	seen := map[string]bool{}
	for i, mc := range got {
		if mc == nil || mc.Name != specs[i].Name || mc.Status != "ACTIVE" || seen[mc.ServerID] {
			t.Fatalf("machine %d = %+v", i, mc)
		}
		seen[mc.ServerID] = true
	}
	if len(pool.snapshot()) != 3 {
		t.Errorf("pool = %v, want the 3 control planes", pool.snapshot())
	}
	// The control planes share one group.
	if got[0].ServerGroupID == "" || got[1].ServerGroupID != got[0].ServerGroupID || got[2].ServerGroupID != got[0].ServerGroupID {
		t.Errorf("control-plane groups %q %q %q", got[0].ServerGroupID, got[1].ServerGroupID, got[2].ServerGroupID)
	}
	list, err := m.List(ctx, e.cluster)
	if err != nil || len(list) != len(specs) {
		t.Fatalf("List = %d machines, %v", len(list), err)
	}
	// Again: nothing to do, no writes.
	e.resetCalls()
	if _, err := m.CreateBatch(ctx, specs); err != nil {
		t.Fatalf("second CreateBatch: %v", err)
	}
	if w := e.calls().Writes(); w != 0 {
		t.Errorf("second CreateBatch made %d writes: %v", w, e.calls())
	}
	for _, s := range specs {
		if err := m.Delete(ctx, s.Cluster, s.Name); err != nil {
			t.Fatalf("Delete %s: %v", s.Name, err)
		}
	}
	e.assertClean(t)
}

func TestMachinesQuotaPreflight(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	m, cr := e.crashMachines(t) // the crasher counts the calls
	admin := e.env.AdminCloud(ctx)
	want := []string{"cores", "ram", "gigabytes"}
	if e.env.IsReal() {
		// The local real cloud's Nova quotas are large: lower them for the
		// project (Cinder's are the defaults, 1000 GiB).
		cores, ram := 20, 40960
		if _, err := quotasets.Update(ctx, admin.Compute, e.cloud.ProjectID, quotasets.UpdateOpts{Cores: &cores, RAM: &ram}).Extract(); err != nil {
			t.Fatalf("lower the project's Nova quotas: %v", err)
		}
		t.Cleanup(func() { _ = quotasets.Delete(context.Background(), admin.Compute, e.cloud.ProjectID).Err })
	}
	var specs []provider.MachineSpec
	for i := 0; i < 30; i++ {
		s := e.worker(fmt.Sprintf("demo-q-%d", i))
		s.Flavor = "m1.large" // 4 cores, 8 GiB
		s.RootVolume = &provider.RootVolumeSpec{SizeGiB: 100}
		s.FloatingIP = &provider.FloatingIPSpec{}
		specs = append(specs, s)
	}
	cr.Reset()
	_, err := m.CreateBatch(ctx, specs)
	var qe *provider.QuotaError
	if !errors.As(err, &qe) || !errors.Is(err, provider.ErrQuotaExceeded) {
		t.Fatalf("CreateBatch = %v, want a *QuotaError", err)
	}
	var short []string
	for _, s := range qe.Shortages {
		short = append(short, s.Resource)
		if s.InUse+s.Need <= s.Limit {
			t.Errorf("shortage %+v is no shortage", s)
		}
	}
	t.Logf("quota error: %v", err)
	for _, w := range want {
		if !has(short, w) {
			t.Errorf("shortages %v lack %s", short, w)
		}
	}
	if w := cr.Writes(); w != 0 {
		t.Errorf("pre-flight made %d writes", w)
	}
	e.assertClean(t)

	// Neutron's quota: two floating IPs left, three asked for.
	fips, err := netquotas.GetDetail(ctx, admin.Network, e.cloud.ProjectID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	limit := fips.FloatingIP.Used + 2
	if _, err := netquotas.Update(ctx, admin.Network, e.cloud.ProjectID, netquotas.UpdateOpts{FloatingIP: &limit}).Extract(); err != nil {
		t.Fatalf("lower the floating IP quota: %v", err)
	}
	t.Cleanup(func() { _ = netquotas.Delete(context.Background(), admin.Network, e.cloud.ProjectID).ExtractErr() })
	err = m.CheckQuota(ctx, specs[:3])
	if !errors.As(err, &qe) {
		t.Fatalf("CheckQuota with 2 floating IPs left = %v, want a *QuotaError", err)
	}
	if diff := cmp.Diff([]provider.QuotaShortage{{Resource: "floating IPs", Need: 3, InUse: fips.FloatingIP.Used, Limit: limit}}, qe.Shortages); diff != "" {
		t.Errorf("shortages (-want +got):\n%s", diff)
	}

	// CheckQuota passes for a small batch.
	if err := m.CheckQuota(ctx, specs[:1]); err != nil {
		t.Errorf("CheckQuota of one machine: %v", err)
	}
	// Invalid specs fail before any call.
	cr.Reset()
	bad := []provider.MachineSpec{specs[0], specs[0]}
	if err := m.CheckQuota(ctx, bad); !errors.Is(err, provider.ErrInvalidSpec) {
		t.Errorf("duplicate names: %v, want ErrInvalidSpec", err)
	}
	if n := cr.Count(); n != 0 {
		t.Errorf("%d calls for invalid specs", n)
	}
}

func TestMachinesContextCancelStopsWaiting(t *testing.T) {
	t.Parallel()
	// The simulator takes half the boot delay to delete a server.
	e := newSimEnv(t, openstacktest.WithBootDelay(4*time.Second))
	// The calls Create had sent when it gave up still reach the cloud: the
	// test deletes after the cloud has answered them (st.Wait).
	st := cloudtest.NewSettler(nil)
	cloud, err := e.env.Connect(testCtx(t, e.env.Timeout(time.Minute)), false, st)
	if err != nil {
		t.Fatal(err)
	}
	m := provider.NewMachines(cloud)
	if !e.env.IsReal() {
		m = provider.NewMachines(cloud, provider.WithFastPolling())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = m.Create(ctx, e.worker("demo-slow"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Create = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Create returned %v after the deadline", d)
	}
	// Delete cleans up what the interrupted Create left.
	st.Wait()
	if err := m.Delete(testCtx(t, e.env.Timeout(time.Minute)), e.cluster, "demo-slow"); err != nil {
		t.Fatal(err)
	}
	e.assertClean(t)
}

func TestMachinesUserDataArrivesVerbatim(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string][]byte{}
	e := newSimEnv(t, openstacktest.WithBootDelay(10*time.Millisecond), openstacktest.WithServerHooks(openstacktest.ServerHooks{
		OnActive: func(_ context.Context, ev openstacktest.BootEvent) error {
			mu.Lock()
			defer mu.Unlock()
			got[ev.Name] = ev.UserData
			return nil
		},
	}))
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	m := e.machines()
	tests := map[string][]byte{
		"demo-text":   []byte("#cloud-config\nruncmd: [kubeadm init]\n"),
		"demo-base64": []byte("aGVsbG8="), // valid base64 must not be taken as encoded
		"demo-binary": {0x1f, 0x8b, 0x08, 0x00, 0xff},
		"demo-none":   nil,
	}
	ids := map[string]string{}
	for name, data := range tests {
		spec := e.worker(name)
		spec.UserData = data
		mc, err := m.Create(ctx, spec)
		if err != nil {
			t.Fatalf("Create %s: %v", name, err)
		}
		ids[name] = mc.ServerID
	}
	// Nova shows an admin the user data it keeps for the metadata service
	// (microversion 2.3); on the simulator, the boot hook also sees it.
	admin := *e.env.AdminCloud(ctx).Compute
	admin.Microversion = "2.3"
	for name, id := range ids {
		var srv struct {
			UserData *string `json:"OS-EXT-SRV-ATTR:user_data"`
		}
		if err := servers.Get(ctx, &admin, id).ExtractInto(&srv); err != nil {
			t.Fatalf("read %s as admin: %v", name, err)
		}
		var stored []byte
		if srv.UserData != nil {
			b, err := base64.StdEncoding.DecodeString(*srv.UserData)
			if err != nil {
				t.Fatalf("%s: user_data is not base64: %v", name, err)
			}
			stored = b
		}
		if diff := cmp.Diff(tests[name], stored, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: user data Nova keeps (-sent +stored):\n%s", name, diff)
		}
	}
	if e.env.IsReal() {
		return // Nova's fake driver boots nothing
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == len(tests) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for name, data := range tests {
		if diff := cmp.Diff(data, got[name], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: user data at boot (-sent +booted):\n%s", name, diff)
		}
	}
}

func TestMachinesDeleteTouchesOnlyItsMachine(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, openstacktest.WithBootDelay(10*time.Millisecond), openstacktest.WithVolumeDelay(5*time.Millisecond))
	ctx := testCtx(t, e.env.Timeout(time.Minute))
	m := e.machines()
	// Names that prefix each other, in two clusters.
	names := []string{"demo-w-1", "demo-w-10", "demo-w-1-0", "demo-w"}
	demo, demo2 := e.cluster, e.env.Cluster("demo2")
	for _, cluster := range []string{demo, demo2} {
		for _, n := range names {
			s := e.worker(n)
			s.Cluster = cluster
			s.Ports = append(s.Ports, provider.PortSpec{Network: e.netName})
			s.Volumes = []provider.VolumeSpec{{Name: "data", SizeGiB: 1}}
			s.FloatingIP = &provider.FloatingIPSpec{}
			if _, err := m.Create(ctx, s); err != nil {
				t.Fatalf("Create %s/%s: %v", cluster, n, err)
			}
		}
	}
	before, err := m.List(ctx, demo)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, demo, "demo-w-1"); err != nil {
		t.Fatal(err)
	}
	after, err := m.List(ctx, demo)
	if err != nil {
		t.Fatal(err)
	}
	var want []*provider.Machine
	for _, mc := range before {
		if mc.Name != "demo-w-1" {
			want = append(want, mc)
		}
	}
	if diff := cmp.Diff(want, after, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("other machines changed (-want +got):\n%s", diff)
	}
	other, err := m.List(ctx, demo2)
	if err != nil || len(other) != len(names) {
		t.Fatalf("cluster demo2 has %d machines, %v", len(other), err)
	}
	for _, n := range names[1:] {
		if err := m.Delete(ctx, demo, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		if err := m.Delete(ctx, demo2, n); err != nil {
			t.Fatal(err)
		}
	}
	e.assertClean(t)
}

// hugeFlavor creates, as admin, a public flavor no host can take, and
// deletes it when the test ends.
func hugeFlavor(t *testing.T, ctx context.Context, e *simEnv) string {
	t.Helper()
	admin := e.env.AdminCloud(ctx)
	name := e.env.Name("huge")
	public, disk := true, 10
	f, err := flavors.Create(ctx, admin.Compute, flavors.CreateOpts{Name: name, RAM: 512, VCPUs: 9000, Disk: &disk, IsPublic: &public}).Extract()
	if err != nil {
		t.Fatalf("create flavor %s: %v", name, err)
	}
	t.Cleanup(func() { _ = flavors.Delete(context.Background(), admin.Compute, f.ID).ExtractErr() })
	return name
}
