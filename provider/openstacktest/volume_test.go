package openstacktest_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/volumeattach"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

func waitVolume(t testing.TB, c *gophercloud.ServiceClient, id, status string) *volumes.Volume {
	t.Helper()
	ctx := testContext(t)
	for {
		v, err := volumes.Get(ctx, c, id).Extract()
		if status == "DELETED" && gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		if err != nil {
			t.Fatalf("get volume %s: %v", id, err)
		}
		if v.Status == status {
			return v
		}
		if v.Status == "error" && status != "error" {
			t.Fatalf("volume %s went to error", id)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("volume %s still %s, want %s", id, v.Status, status)
		case <-time.After(pollEvery()):
		}
	}
}

// deleteVolumeLater deletes the volume when the test ends on a real cloud,
// once it is detached (register it before the server's cleanup, so that it
// runs after).
func deleteVolumeLater(t testing.TB, c *gophercloud.ServiceClient, id string) {
	t.Helper()
	onRealCleanup(t, func(ctx context.Context) {
		for ctx.Err() == nil {
			v, err := volumes.Get(ctx, c, id).Extract()
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return
			}
			if err == nil && (v.Status == "available" || v.Status == "error") {
				err = volumes.Delete(ctx, c, id, nil).ExtractErr()
				if err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) && !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
					t.Logf("clean up volume %s: %v", id, err)
					return
				}
			}
			time.Sleep(pollEvery())
		}
		t.Logf("clean up volume %s: still there", id)
	})
}

// volumeUsage reads the project's Cinder quota usage.
func volumeUsage(t testing.TB, c *provider.Cloud) quotasets.QuotaUsageSet {
	t.Helper()
	u, err := quotasets.GetUsage(testContext(t), c.BlockStorage, c.ProjectID).Extract()
	if err != nil {
		t.Fatalf("volume quota usage: %v", err)
	}
	return u
}

// TestVolumes walks Cinder through its API and through Nova: create from
// an image and blank, filters, pages, errors, quotas, attach on boot. On a
// real cloud other volumes may exist in the project: lists filter by this
// test's metadata, quota checks count from the usage before.
func TestVolumes(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	img := imageID(t, c)
	// Other volumes of the project are not this test's: its own carry a
	// unique owner.
	owner := e.Name("volumes")
	before := volumeUsage(t, c)

	v, err := volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 10, Name: e.Name("demo-root"), ImageID: img,
		Metadata: map[string]string{"k": "v", "owner": owner}, AvailabilityZone: "nova"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteVolumeLater(t, c.BlockStorage, v.ID)
	if v.Status != "creating" || v.Size != 10 || v.VolumeType != "__DEFAULT__" {
		t.Errorf("created: %+v", v)
	}
	v = waitVolume(t, c.BlockStorage, v.ID, "available")
	if v.Bootable != "true" || v.VolumeImageMetadata["image_id"] != img || v.Metadata["k"] != "v" || v.CreatedAt.IsZero() ||
		v.TenantID != c.ProjectID {
		t.Errorf("available: %+v", v)
	}
	dataName := e.Name("data")
	blank, err := volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 1, Name: dataName, VolumeType: "lvmdriver-1",
		Metadata: map[string]string{"owner": owner}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteVolumeLater(t, c.BlockStorage, blank.ID)
	page, err := volumes.List(c.BlockStorage, volumes.ListOpts{Name: dataName}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := volumes.ExtractVolumes(page)
	if len(list) != 1 || list[0].ID != blank.ID || list[0].VolumeType != "lvmdriver-1" {
		t.Errorf("list name=%s: %+v", dataName, list)
	}
	for _, tt := range []struct {
		md   map[string]string
		want int
	}{
		{map[string]string{"k": "v", "owner": owner}, 1},
		{map[string]string{"k": "x", "owner": owner}, 0},
		{map[string]string{"k": "v", "owner": owner, "other": "y"}, 0},
	} {
		page, err := volumes.List(c.BlockStorage, volumes.ListOpts{Metadata: tt.md}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l, _ := volumes.ExtractVolumes(page); len(l) != tt.want || tt.want == 1 && l[0].ID != v.ID {
			t.Errorf("metadata filter %v: %d volumes, want %d", tt.md, len(l), tt.want)
		}
	}
	var ids []string
	err = volumes.List(c.BlockStorage, volumes.ListOpts{Limit: 1, Metadata: map[string]string{"owner": owner}}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		l, err := volumes.ExtractVolumes(p)
		for _, x := range l {
			ids = append(ids, x.ID)
		}
		return true, err
	})
	if err != nil || len(ids) != 2 {
		t.Errorf("paged: %v, %v", ids, err)
	}

	tests := []struct {
		name    string
		opts    volumes.CreateOpts
		status  int
		message string
	}{
		// gophercloud leaves a zero size out: Cinder's generic 400.
		{"no size", volumes.CreateOpts{Size: 0}, 400, "The server could not comply with the request since it is either malformed or otherwise incorrect."},
		{"unknown type", volumes.CreateOpts{Size: 1, VolumeType: "gold"}, 404, "Volume type with name gold could not be found."},
		{"unknown zone", volumes.CreateOpts{Size: 1, AvailabilityZone: "az-9"}, 400, "Availability zone 'az-9' is invalid."},
		{"unknown image", volumes.CreateOpts{Size: 1, ImageID: "nope"}, 400, "Invalid image identifier or unable to access requested image."},
		{"unknown image UUID", volumes.CreateOpts{Size: 1, ImageID: "6d9a1d4e-0b8f-4f1e-9a51-0c3f8c2b7e11"}, 400,
			"Invalid image identifier or unable to access requested image."},
		{"gigabytes quota", volumes.CreateOpts{Size: before.Gigabytes.Limit - before.Gigabytes.InUse - 10}, 413, fmt.Sprintf(
			"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested %dG, quota is %dG and %dG has been consumed.",
			before.Gigabytes.Limit-before.Gigabytes.InUse-10, before.Gigabytes.Limit, before.Gigabytes.InUse+11)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := volumes.Create(ctx, c.BlockStorage, tt.opts, nil).Extract()
			_, msg := apiFault(t, err, tt.status)
			if msg != tt.message {
				t.Errorf("message %q, want %q", msg, tt.message)
			}
		})
	}
	// An explicit size 0 fails Cinder's schema.
	var zero struct{}
	_, err = c.BlockStorage.Post(ctx, c.BlockStorage.ServiceURL("volumes"), map[string]any{"volume": map[string]any{"size": 0}}, &zero, nil)
	if _, msg := apiFault(t, err, 400); msg != "Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1" {
		t.Errorf("size 0: %q", msg)
	}

	// Volume count quota (lowered to what is in use, restored after): 413
	// overLimit, recognised as a quota error.
	admin := e.AdminCloud(ctx)
	full := before.Volumes.InUse + 2
	if _, err := quotasets.Update(ctx, admin.BlockStorage, c.ProjectID, quotasets.UpdateOpts{Volumes: &full}).Extract(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		limit := before.Volumes.Limit
		if _, err := quotasets.Update(context.Background(), admin.BlockStorage, c.ProjectID, quotasets.UpdateOpts{Volumes: &limit}).Extract(); err != nil {
			t.Errorf("restore the volumes quota: %v", err)
		}
	})
	_, err = volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 1}, nil).Extract()
	if key, msg := apiFault(t, err, 413); key != "overLimit" || msg != fmt.Sprintf("VolumeLimitExceeded: Maximum number of volumes allowed (%d) exceeded for quota 'volumes'.", full) {
		t.Errorf("volumes quota: %s %q", key, msg)
	}
	if !provider.IsQuota(err) {
		t.Error("provider.IsQuota does not recognise Cinder's 413")
	}
	usage := volumeUsage(t, c)
	if usage.Volumes.InUse != full || usage.Volumes.Limit != full || usage.Gigabytes.InUse != before.Gigabytes.InUse+11 {
		t.Errorf("usage: %+v, before %+v", usage, before)
	}

	// Attach through Nova: in-use, delete refused; detach on server delete.
	net := newBootNet(t, c, e.Name("vol-net"), "10.13.0.0/24")
	waitVolume(t, c.BlockStorage, blank.ID, "available")
	// Nova wants the image as boot index 0 beside other mappings.
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("with-data"), ImageRef: img, FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}},
		BlockDevice: []servers.BlockDevice{
			{SourceType: servers.SourceImage, DestinationType: servers.DestinationLocal, UUID: img, BootIndex: 0, DeleteOnTermination: true},
			{SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume, UUID: blank.ID, BootIndex: 1},
		}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteServerLater(t, c.Compute, srv.ID)
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	att := waitVolume(t, c.BlockStorage, blank.ID, "in-use")
	if len(att.Attachments) != 1 || att.Attachments[0].ServerID != srv.ID || att.Attachments[0].Device == "" {
		t.Errorf("attachments: %+v", att.Attachments)
	}
	err = volumes.Delete(ctx, c.BlockStorage, blank.ID, nil).ExtractErr()
	if _, msg := apiFault(t, err, 400); !strings.HasPrefix(msg, "Invalid volume: Volume status must be available") {
		t.Errorf("delete in-use: %q", msg)
	}
	if err := servers.Delete(ctx, c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitServer(t, c.Compute, srv.ID, "DELETED")
	waitVolume(t, c.BlockStorage, blank.ID, "available")
	for _, id := range []string{v.ID, blank.ID} {
		if err := volumes.Delete(ctx, c.BlockStorage, id, nil).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitVolume(t, c.BlockStorage, id, "DELETED")
	}
	if _, err := volumes.Get(ctx, c.BlockStorage, v.ID).Extract(); err == nil {
		t.Error("deleted volume found")
	} else if key, msg := apiFault(t, err, 404); key != "itemNotFound" || msg != "Volume "+v.ID+" could not be found." {
		t.Errorf("404: %s %q", key, msg)
	}
	page, err = volumes.List(c.BlockStorage, volumes.ListOpts{Metadata: map[string]string{"owner": owner}}).AllPages(ctx)
	if l, _ := volumes.ExtractVolumes(page); err != nil || len(l) != 0 {
		t.Errorf("volumes left: %+v, %v", l, err)
	}
}

// volumesAndServers keeps the volumes and servers of a snapshot: what a
// refused boot from volume must not leave.
func volumesAndServers(rs []openstacktest.Resource) []openstacktest.Resource {
	var out []openstacktest.Resource
	for _, r := range rs {
		if r.Kind == "volume" || r.Kind == "server" {
			out = append(out, r)
		}
	}
	return out
}

// TestBootFromVolume boots servers from image-backed volumes and checks
// that a half-done create undoes itself.
func TestBootFromVolume(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	img := imageID(t, c)
	net := newBootNet(t, c, e.Name("bfv-net"), "10.14.0.0/24")
	c.Compute.Microversion = "2.60"
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("bfv"), FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}},
		BlockDevice: []servers.BlockDevice{{SourceType: servers.SourceImage, DestinationType: servers.DestinationVolume,
			UUID: img, BootIndex: 0, VolumeSize: 20, DeleteOnTermination: true}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteServerLater(t, c.Compute, srv.ID)
	got := waitServer(t, c.Compute, srv.ID, "ACTIVE")
	if len(got.AttachedVolumes) != 1 || got.Image != nil && len(got.Image) != 0 {
		t.Fatalf("boot-from-volume server: volumes %+v, image %v", got.AttachedVolumes, got.Image)
	}
	vol := waitVolume(t, c.BlockStorage, got.AttachedVolumes[0].ID, "in-use")
	if vol.Size != 20 || vol.Bootable != "true" || vol.Attachments[0].ServerID != srv.ID {
		t.Errorf("root volume: %+v", vol)
	}
	if err := servers.Delete(ctx, c.Compute, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitServer(t, c.Compute, srv.ID, "DELETED")
	waitVolume(t, c.BlockStorage, vol.ID, "DELETED")

	// Nova's schema takes boot_index and volume_size as strings too (the
	// openstack CLI sends them so).
	body := map[string]any{"server": map[string]any{"name": e.Name("cli"), "flavorRef": "1", "imageRef": img,
		"networks": []any{map[string]any{"uuid": net.ID}},
		"block_device_mapping_v2": []any{map[string]any{"source_type": "image", "destination_type": "volume", "uuid": img,
			"boot_index": "0", "volume_size": "3", "delete_on_termination": "true"}}}}
	var created struct {
		Server struct {
			ID string `json:"id"`
		} `json:"server"`
	}
	if _, err := c.Compute.Post(ctx, c.Compute.ServiceURL("servers"), body, &created, &gophercloud.RequestOpts{OkCodes: []int{202}}); err != nil {
		t.Fatal(err)
	}
	deleteServerLater(t, c.Compute, created.Server.ID)
	cli := waitServer(t, c.Compute, created.Server.ID, "ACTIVE")
	if v := waitVolume(t, c.BlockStorage, cli.AttachedVolumes[0].ID, "in-use"); v.Size != 3 {
		t.Errorf("CLI-style root volume: %+v", v)
	}
	if err := servers.Delete(ctx, c.Compute, cli.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitServer(t, c.Compute, cli.ID, "DELETED")
	waitVolume(t, c.BlockStorage, cli.AttachedVolumes[0].ID, "DELETED")

	// A BDM without a size is refused before anything is created.
	before := volumesAndServers(e.Snapshot(ctx))
	_, err = servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("bfv"), FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}},
		BlockDevice: []servers.BlockDevice{{SourceType: servers.SourceImage, DestinationType: servers.DestinationVolume,
			UUID: img, BootIndex: 0}}}, nil).Extract()
	apiFault(t, err, 400)
	if diff := cmp.Diff(before, volumesAndServers(e.Snapshot(ctx))); diff != "" {
		t.Errorf("refused create left resources:\n%s", diff)
	}

	own, err := volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 1, Name: e.Name("mine")}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteVolumeLater(t, c.BlockStorage, own.ID)
	waitVolume(t, c.BlockStorage, own.ID, "available")

	// The boot indexes of block_device_mapping_v2 must run 0, 1, 2...;
	// imageRef does not stand for index 0 once mappings are given.
	before = volumesAndServers(e.Snapshot(ctx))
	data := func(boot int) servers.BlockDevice {
		return servers.BlockDevice{SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume, UUID: own.ID, BootIndex: boot}
	}
	local := servers.BlockDevice{SourceType: servers.SourceImage, DestinationType: servers.DestinationLocal, UUID: img, BootIndex: 0}
	root := servers.BlockDevice{SourceType: servers.SourceImage, DestinationType: servers.DestinationVolume, UUID: img, BootIndex: 0, VolumeSize: 1}
	for _, tc := range []struct {
		name  string
		image string
		bdm   []servers.BlockDevice
	}{
		{"imageRef, no index 0", img, []servers.BlockDevice{data(1)}},
		{"no imageRef, no index 0", "", []servers.BlockDevice{data(1)}},
		{"image volume at index 1, no size", "", []servers.BlockDevice{{SourceType: servers.SourceImage,
			DestinationType: servers.DestinationVolume, UUID: img, BootIndex: 1}}},
		{"gap", img, []servers.BlockDevice{local, data(2)}},
		{"index 0 twice", "", []servers.BlockDevice{root, data(0)}},
	} {
		_, err = servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("boot-seq"), FlavorRef: "1", ImageRef: tc.image,
			Networks: []servers.Network{{UUID: net.ID}}, BlockDevice: tc.bdm}, nil).Extract()
		if _, msg := apiFault(t, err, 400); msg != "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid." {
			t.Errorf("%s: %q", tc.name, msg)
		}
	}
	if diff := cmp.Diff(before, volumesAndServers(e.Snapshot(ctx))); diff != "" {
		t.Errorf("refused creates left resources:\n%s", diff)
	}

	// The same volume mapped twice.
	half, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("half"), FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}},
		BlockDevice: []servers.BlockDevice{
			{SourceType: servers.SourceImage, DestinationType: servers.DestinationVolume, UUID: img, BootIndex: 0, VolumeSize: 5, DeleteOnTermination: true},
			{SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume, UUID: own.ID, BootIndex: 1, DeleteOnTermination: true},
			{SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume, UUID: own.ID, BootIndex: 2},
		}}, nil).Extract()
	if err != nil {
		t.Fatalf("volume mapped twice: %v, want 202 (the build fails)", err)
	}
	deleteServerLater(t, c.Compute, half.ID)
	got = waitServer(t, c.Compute, half.ID, "ERROR")
	want := fmt.Sprintf("Build of instance %s aborted: Unable to update attachment.(Invalid volume: duplicate connectors detected on volume %s).", half.ID, own.ID)
	if got.Fault.Code != 500 || !strings.HasPrefix(got.Fault.Message, want) {
		t.Errorf("fault %+v, want 500 %q", got.Fault, want)
	}
	waitVolume(t, c.BlockStorage, own.ID, "available")
	// The volume made from the image goes with the failed build, before
	// the server is deleted; the server still lists the caller's volume
	// (its mapping without delete_on_termination), which Cinder has
	// detached.
	if len(got.AttachedVolumes) != 1 || got.AttachedVolumes[0].ID != own.ID {
		t.Errorf("failed server's volumes: %+v, want only %s", got.AttachedVolumes, own.ID)
	}
	for _, r := range volumesAndServers(e.Snapshot(ctx)) {
		// Nova names no volume it makes from an image.
		if r.Kind == "volume" && r.Name == "" && !slices.ContainsFunc(before, func(b openstacktest.Resource) bool { return b.ID == r.ID }) {
			waitVolume(t, c.BlockStorage, r.ID, "DELETED")
		}
	}
	if err := servers.Delete(ctx, c.Compute, half.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitServer(t, c.Compute, half.ID, "DELETED")
	if diff := cmp.Diff(before, volumesAndServers(e.Snapshot(ctx))); diff != "" {
		t.Errorf("failed build left changes (-before +after):\n%s", diff)
	}
	waitVolume(t, c.BlockStorage, own.ID, "available")
}

// secondDisk reports whether dev names a server's second disk, as the
// libvirt driver (vdb) or Nova's fake driver (sdb) call it.
func secondDisk(dev string) bool { return dev == "/dev/vdb" || dev == "/dev/sdb" }

// TestAttachVolumeToRunningServer attaches and detaches a volume through
// Nova's os-volume_attachments.
func TestAttachVolumeToRunningServer(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)
	net := newBootNet(t, c, e.Name("att-net"), "10.16.0.0/24")
	vol, err := volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 2, Name: e.Name("data")}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteVolumeLater(t, c.BlockStorage, vol.ID)
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: e.Name("att"), ImageRef: imageID(t, c), FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	deleteServerLater(t, c.Compute, srv.ID)
	opts := volumeattach.CreateOpts{VolumeID: vol.ID}
	if _, err := volumeattach.Create(ctx, c.Compute, srv.ID, opts).Extract(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Errorf("attach while BUILD: %v, want 409", err)
	}
	waitServer(t, c.Compute, srv.ID, "ACTIVE")
	waitVolume(t, c.BlockStorage, vol.ID, "available")
	att, err := volumeattach.Create(ctx, c.Compute, srv.ID, opts).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// The device name is the virt driver's: libvirt's (and the
	// simulator's) /dev/vdb, Nova's fake driver's /dev/sdb.
	if !secondDisk(att.Device) || att.VolumeID != vol.ID || att.ServerID != srv.ID {
		t.Errorf("attachment: %+v", att)
	}
	if v := waitVolume(t, c.BlockStorage, vol.ID, "in-use"); len(v.Attachments) != 1 || v.Attachments[0].Device != att.Device ||
		v.Attachments[0].ServerID != srv.ID {
		t.Errorf("volume attachments: %+v", v.Attachments)
	}
	if _, err := volumeattach.Create(ctx, c.Compute, srv.ID, opts).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Errorf("attach twice: %v, want 400", err)
	}
	unknown := "6d9a1d4e-0b8f-4f1e-9a51-0c3f8c2b7e11"
	_, err = volumeattach.Create(ctx, c.Compute, srv.ID, volumeattach.CreateOpts{VolumeID: unknown}).Extract()
	if _, msg := apiFault(t, err, 404); msg != "Volume "+unknown+" could not be found." {
		t.Errorf("attach unknown volume: %q", msg)
	}
	// A volumeId that is no UUID fails Nova's schema, checked before the
	// server is looked up.
	for _, id := range []string{srv.ID, unknown} {
		_, err = volumeattach.Create(ctx, c.Compute, id, volumeattach.CreateOpts{VolumeID: "nope"}).Extract()
		if _, msg := apiFault(t, err, 400); msg != "Invalid input for field/attribute volumeId. Value: nope. 'nope' is not a 'uuid'" {
			t.Errorf("attach volume nope to %s: %q", id, msg)
		}
	}
	page, err := volumeattach.List(c.Compute, srv.ID).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := volumeattach.ExtractVolumeAttachments(page); len(l) != 1 {
		t.Errorf("attachments listed: %+v", l)
	}
	if err := volumeattach.Delete(ctx, c.Compute, srv.ID, vol.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitVolume(t, c.BlockStorage, vol.ID, "available")
	if _, err := volumeattach.Get(ctx, c.Compute, srv.ID, vol.ID).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("get detached: %v, want 404", err)
	}
}
