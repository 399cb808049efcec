package openstacktest_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

func TestImages(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	ctx := testContext(t)
	c := memberCloud(t, s)

	seeded, err := images.Get(ctx, c.Image, imageID(t, c)).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if seeded.Status != images.ImageStatusActive || seeded.Visibility != images.ImageVisibilityPublic || seeded.SizeBytes == 0 {
		t.Errorf("seeded image: %+v", seeded)
	}

	visPrivate := images.ImageVisibilityPrivate
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		img, err := images.Create(ctx, c.Image, images.CreateOpts{Name: "img-" + name, Visibility: &visPrivate,
			ContainerFormat: "bare", DiskFormat: "raw", Tags: []string{"k8s", name},
			Properties: map[string]string{"os_distro": "ubuntu"}}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if img.Status != images.ImageStatusQueued || img.Properties["os_distro"] != "ubuntu" {
			t.Errorf("created: %+v", img)
		}
		ids = append(ids, img.ID)
	}
	data := []byte("not really a disk image")
	if err := imagedata.Upload(ctx, c.Image, ids[0], bytes.NewReader(data)).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	up, err := images.Get(ctx, c.Image, ids[0]).Extract()
	sum := md5.Sum(data)
	if err != nil || up.Status != images.ImageStatusActive || up.SizeBytes != int64(len(data)) || up.Checksum != hex.EncodeToString(sum[:]) {
		t.Errorf("after upload: %+v, %v", up, err)
	}
	rc, err := imagedata.Download(ctx, c.Image, ids[0]).Extract()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Errorf("download = %q", got)
	}
	if err := imagedata.Upload(ctx, c.Image, ids[0], bytes.NewReader(data)).ExtractErr(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Errorf("second upload: %v, want 409", err)
	}

	names := func(opts images.ListOpts) []string {
		t.Helper()
		page, err := images.List(c.Image, opts).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		list, err := images.ExtractImages(page)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, img := range list {
			out = append(out, img.Name)
		}
		return out
	}
	tests := []struct {
		name string
		opts images.ListOpts
		want []string
	}{
		{"name", images.ListOpts{Name: "img-b"}, []string{"img-b"}},
		{"tags all", images.ListOpts{Tags: []string{"k8s", "c"}}, []string{"img-c"}},
		{"status", images.ListOpts{Status: images.ImageStatusActive}, []string{"img-a", openstacktest.ImageName}},
		{"visibility", images.ListOpts{Visibility: images.ImageVisibilityPublic}, []string{openstacktest.ImageName}},
		{"paged", images.ListOpts{Limit: 1}, []string{"img-c", "img-b", "img-a", openstacktest.ImageName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(tt.opts)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	own, err := images.Get(ctx, c.Image, ids[1]).Extract()
	if err != nil || own.Owner != openstacktest.MemberProjectID || own.Visibility != images.ImageVisibilityPrivate {
		t.Fatalf("own image: %+v %v", own, err)
	}

	// JSON patch: rename, replace tags, add and remove properties.
	patched, err := images.Update(ctx, c.Image, ids[1], images.UpdateOpts{
		images.ReplaceImageName{NewName: "img-b2"},
		images.ReplaceImageTags{NewTags: []string{"x"}},
		images.UpdateImageProperty{Op: images.AddOp, Name: "hw_disk_bus", Value: "scsi"},
		images.UpdateImageProperty{Op: images.RemoveOp, Name: "os_distro"},
	}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if patched.Name != "img-b2" || !cmp.Equal(patched.Tags, []string{"x"}) || patched.Properties["hw_disk_bus"] != "scsi" ||
		patched.Properties["os_distro"] != nil {
		t.Errorf("patched: %+v", patched)
	}
	if _, err := images.Update(ctx, c.Image, ids[1], images.UpdateOpts{
		images.UpdateImageProperty{Op: images.RemoveOp, Name: "os_distro"}}).Extract(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Errorf("remove a missing property: %v, want 409", err)
	}

	// Errors: Glance answers HTML.
	_, err = images.Get(ctx, c.Image, "nope").Extract()
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) || code.Actual != 404 || !strings.Contains(string(code.Body), "<title>404 Not Found</title>") ||
		!strings.Contains(provider.Describe(err), "No image found with ID nope") {
		t.Errorf("404: %v", err)
	}
	pub := images.ImageVisibilityPublic
	if _, err := images.Create(ctx, c.Image, images.CreateOpts{Name: "x", Visibility: &pub}).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("member publicizes image: %v, want 403", err)
	}
	if err := images.Delete(ctx, c.Image, seeded.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, 403) {
		t.Errorf("member deletes the public image: %v, want 403", err)
	}
	for _, id := range ids {
		if err := images.Delete(ctx, c.Image, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{openstacktest.ImageName}, names(images.ListOpts{})); diff != "" {
		t.Errorf("after delete (-want +got):\n%s", diff)
	}
}
