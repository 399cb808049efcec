package openstacktest_test

import (
	"context"
	"net/http"
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
		select {
		case <-ctx.Done():
			t.Fatalf("volume %s still %s, want %s", id, v.Status, status)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestVolumes walks Cinder through its API and through Nova: create from
// an image and blank, filters, pages, errors, quotas, attach on boot.
func TestVolumes(t *testing.T) {
	e := cloudtest.New(t)
	cloudtest.RequireSim(t, cloudtest.NeedsCinder)
	s := e.Sim()
	ctx := testContext(t)
	c := memberCloud(t, s)
	img := imageID(t, c)
	before := s.Snapshot()

	v, err := volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 10, Name: "demo-root", ImageID: img,
		Metadata: map[string]string{"k": "v"}, AvailabilityZone: "nova"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "creating" || v.Size != 10 || v.VolumeType != "__DEFAULT__" {
		t.Errorf("created: %+v", v)
	}
	v = waitVolume(t, c.BlockStorage, v.ID, "available")
	if v.Bootable != "true" || v.VolumeImageMetadata["image_id"] != img || v.Metadata["k"] != "v" || v.CreatedAt.IsZero() ||
		v.TenantID != openstacktest.MemberProjectID {
		t.Errorf("available: %+v", v)
	}
	blank, err := volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 1, Name: "data", VolumeType: "lvmdriver-1"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	page, err := volumes.List(c.BlockStorage, volumes.ListOpts{Name: "data"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := volumes.ExtractVolumes(page)
	if len(list) != 1 || list[0].ID != blank.ID || list[0].VolumeType != "lvmdriver-1" {
		t.Errorf("list name=data: %+v", list)
	}
	for _, tt := range []struct {
		md   map[string]string
		want int
	}{{map[string]string{"k": "v"}, 1}, {map[string]string{"k": "x"}, 0}, {map[string]string{"k": "v", "other": "y"}, 0}} {
		page, err := volumes.List(c.BlockStorage, volumes.ListOpts{Metadata: tt.md}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l, _ := volumes.ExtractVolumes(page); len(l) != tt.want || tt.want == 1 && l[0].ID != v.ID {
			t.Errorf("metadata filter %v: %d volumes, want %d", tt.md, len(l), tt.want)
		}
	}
	var ids []string
	err = volumes.List(c.BlockStorage, volumes.ListOpts{Limit: 1}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
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
		{"zero size", volumes.CreateOpts{Size: 0}, 400, "must be an integer and greater than 0"},
		{"unknown type", volumes.CreateOpts{Size: 1, VolumeType: "gold"}, 404, "Volume type with name gold could not be found."},
		{"unknown zone", volumes.CreateOpts{Size: 1, AvailabilityZone: "az-9"}, 400, "Availability zone 'az-9' is invalid."},
		{"unknown image", volumes.CreateOpts{Size: 1, ImageID: "nope"}, 404, "Image nope could not be found."},
		{"gigabytes quota", volumes.CreateOpts{Size: 991}, 413, "Requested volume or snapshot exceeds allowed gigabytes quota. Requested 991G, quota is 1000G and 11G has been consumed."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := volumes.Create(ctx, c.BlockStorage, tt.opts, nil).Extract()
			_, msg := apiFault(t, err, tt.status)
			if !strings.Contains(msg, tt.message) {
				t.Errorf("message %q, want %q", msg, tt.message)
			}
		})
	}

	// Volume count quota: 413 overLimit, recognised as a quota error.
	admin := adminCloud(t, s)
	two := 2
	if _, err := quotasets.Update(ctx, admin.BlockStorage, openstacktest.MemberProjectID, quotasets.UpdateOpts{Volumes: &two}).Extract(); err != nil {
		t.Fatal(err)
	}
	_, err = volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 1}, nil).Extract()
	if key, msg := apiFault(t, err, 413); key != "overLimit" || msg != "Maximum number of volumes allowed (2) exceeded for quota 'volumes'." {
		t.Errorf("volumes quota: %s %q", key, msg)
	}
	if !provider.IsQuota(err) {
		t.Error("provider.IsQuota does not recognise Cinder's 413")
	}
	usage, err := quotasets.GetUsage(ctx, c.BlockStorage, openstacktest.MemberProjectID).Extract()
	if err != nil || usage.Volumes.InUse != 2 || usage.Volumes.Limit != 2 || usage.Gigabytes.InUse != 11 {
		t.Errorf("usage: %+v, %v", usage, err)
	}

	// Attach through Nova: in-use, delete refused; detach on server delete.
	net := newBootNet(t, c, "vol-net", "10.13.0.0/24")
	waitVolume(t, c.BlockStorage, blank.ID, "available")
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "with-data", ImageRef: img, FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}},
		BlockDevice: []servers.BlockDevice{{SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume,
			UUID: blank.ID, BootIndex: 1}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
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
	var left []string
	for _, r := range s.Snapshot() {
		if !containsResource(before, r) && r.Service == "volume" {
			left = append(left, r.Name)
		}
	}
	if len(left) != 0 {
		t.Errorf("volumes left: %v", left)
	}
}

// TestBootFromVolume boots servers from image-backed volumes and checks
// that a half-done create undoes itself.
func TestBootFromVolume(t *testing.T) {
	e := cloudtest.New(t)
	cloudtest.RequireSim(t, cloudtest.NeedsCinder)
	s := e.Sim()
	ctx := testContext(t)
	c := memberCloud(t, s)
	img := imageID(t, c)
	net := newBootNet(t, c, "bfv-net", "10.14.0.0/24")
	c.Compute.Microversion = "2.60"
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "bfv", FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}},
		BlockDevice: []servers.BlockDevice{{SourceType: servers.SourceImage, DestinationType: servers.DestinationVolume,
			UUID: img, BootIndex: 0, VolumeSize: 20, DeleteOnTermination: true}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
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
	body := map[string]any{"server": map[string]any{"name": "cli", "flavorRef": "1", "imageRef": img,
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
	cli := waitServer(t, c.Compute, created.Server.ID, "ACTIVE")
	if v := waitVolume(t, c.BlockStorage, cli.AttachedVolumes[0].ID, "in-use"); v.Size != 3 {
		t.Errorf("CLI-style root volume: %+v", v)
	}
	if err := servers.Delete(ctx, c.Compute, cli.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitServer(t, c.Compute, cli.ID, "DELETED")
	waitVolume(t, c.BlockStorage, cli.AttachedVolumes[0].ID, "DELETED")

	// A failure half way (the same volume mapped twice) undoes what the
	// request created and leaves the caller's volume alone, even with
	// delete_on_termination.
	own, err := volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 1, Name: "mine"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitVolume(t, c.BlockStorage, own.ID, "available")
	before := s.Snapshot()
	_, err = servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "half", FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}},
		BlockDevice: []servers.BlockDevice{
			{SourceType: servers.SourceImage, DestinationType: servers.DestinationVolume, UUID: img, BootIndex: 0, VolumeSize: 5, DeleteOnTermination: true},
			{SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume, UUID: own.ID, BootIndex: 1, DeleteOnTermination: true},
			{SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume, UUID: own.ID, BootIndex: 2},
		}}, nil).Extract()
	apiFault(t, err, 400)
	if diff := cmp.Diff(before, s.Snapshot()); diff != "" {
		t.Errorf("half-done create left changes (-before +after):\n%s", diff)
	}
	waitVolume(t, c.BlockStorage, own.ID, "available")

	// A BDM without a size is refused before anything is created.
	_, err = servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "bfv", FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}},
		BlockDevice: []servers.BlockDevice{{SourceType: servers.SourceImage, DestinationType: servers.DestinationVolume,
			UUID: img, BootIndex: 0}}}, nil).Extract()
	apiFault(t, err, 400)
	if diff := cmp.Diff(before, s.Snapshot()); diff != "" {
		t.Errorf("refused create left resources:\n%s", diff)
	}
}

// TestAttachVolumeToRunningServer attaches and detaches a volume through
// Nova's os-volume_attachments.
func TestAttachVolumeToRunningServer(t *testing.T) {
	e := cloudtest.New(t)
	cloudtest.RequireSim(t, cloudtest.NeedsCinder)
	s := e.Sim()
	ctx := testContext(t)
	c := memberCloud(t, s)
	net := newBootNet(t, c, "att-net", "10.16.0.0/24")
	srv, err := servers.Create(ctx, c.Compute, servers.CreateOpts{Name: "att", ImageRef: imageID(t, c), FlavorRef: "1",
		Networks: []servers.Network{{UUID: net.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	vol, err := volumes.Create(ctx, c.BlockStorage, volumes.CreateOpts{Size: 2, Name: "data"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
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
	if att.Device != "/dev/vdb" || att.VolumeID != vol.ID || att.ServerID != srv.ID {
		t.Errorf("attachment: %+v", att)
	}
	if v := waitVolume(t, c.BlockStorage, vol.ID, "in-use"); v.Attachments[0].Device != "/dev/vdb" {
		t.Errorf("volume attachments: %+v", v.Attachments)
	}
	if _, err := volumeattach.Create(ctx, c.Compute, srv.ID, opts).Extract(); !gophercloud.ResponseCodeIs(err, 400) {
		t.Errorf("attach twice: %v, want 400", err)
	}
	if _, err := volumeattach.Create(ctx, c.Compute, srv.ID, volumeattach.CreateOpts{VolumeID: "nope"}).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("attach unknown volume: %v, want 404", err)
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
