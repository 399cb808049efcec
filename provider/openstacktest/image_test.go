package openstacktest_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// TestImages walks Glance: the seeded public image, private images with
// tags and properties, upload and download, list filters and pages, JSON
// patch, and the errors (404 body, 403 for public images, 409s).
func TestImages(t *testing.T) {
	e := cloudtest.New(t)
	ctx := testContext(t)
	c := e.Cloud(ctx)

	seeded, err := images.Get(ctx, c.Image, imageID(t, c)).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if seeded.Status != images.ImageStatusActive || seeded.Visibility != images.ImageVisibilityPublic || seeded.SizeBytes == 0 {
		t.Errorf("seeded image: %+v", seeded)
	}

	visPrivate := images.ImageVisibilityPrivate
	// Names and a tag of this run only: others may share a real project.
	prefix, k8s := e.Name("img"), e.Name("k8s")
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		img, err := images.Create(ctx, c.Image, images.CreateOpts{Name: prefix + "-" + name, Visibility: &visPrivate,
			ContainerFormat: "bare", DiskFormat: "raw", Tags: []string{k8s, name},
			Properties: map[string]string{"os_distro": "ubuntu"}}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		onRealCleanup(t, func(ctx context.Context) { _ = images.Delete(ctx, c.Image, img.ID).ExtractErr() })
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

	// names lists the names of this test's images and of the seeded one
	// that opts finds, sorted (Glance sorts by created_at, which has
	// whole seconds on a real cloud: images made in one second tie).
	names := func(opts images.ListOpts) []string {
		t.Helper()
		var out []string
		err := images.List(c.Image, opts).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
			list, err := images.ExtractImages(p)
			for _, img := range list {
				if strings.HasPrefix(img.Name, prefix+"-") || img.Name == openstacktest.ImageName {
					out = append(out, img.Name)
				}
			}
			return true, err
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(out)
		return out
	}
	a, b, cc := prefix+"-a", prefix+"-b", prefix+"-c"
	tests := []struct {
		name string
		opts images.ListOpts
		want []string
	}{
		{"name", images.ListOpts{Name: b}, []string{b}},
		{"tags all", images.ListOpts{Tags: []string{k8s, "c"}}, []string{cc}},
		{"status", images.ListOpts{Status: images.ImageStatusActive}, []string{a, openstacktest.ImageName}},
		{"visibility", images.ListOpts{Visibility: images.ImageVisibilityPublic}, []string{openstacktest.ImageName}},
		{"paged", images.ListOpts{Limit: 1, Tags: []string{k8s}}, []string{a, b, cc}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(sortedCopy(tt.want), names(tt.opts)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Glance links the next page whenever a page is full, even when
	// nothing follows; "first" keeps the query but the marker.
	q := "limit=2&tag=" + k8s
	first := rawGet(t, c.Image, "", c.Image.ServiceURL("images")+"?"+q)
	page1, _ := first["images"].([]any)
	if len(page1) != 2 {
		t.Fatalf("page 1: %v", first)
	}
	last := page1[1].(map[string]any)["id"].(string)
	if first["first"] != "/v2/images?"+q || first["next"] != "/v2/images?"+q+"&marker="+last {
		t.Errorf("links of page 1: first %v next %v", first["first"], first["next"])
	}
	second := rawGet(t, c.Image, "", c.Image.ServiceURL("images")+"?"+q+"&marker="+last)
	if page2, _ := second["images"].([]any); second["first"] != "/v2/images?"+q || second["next"] != nil || len(page2) != 1 {
		t.Errorf("page 2: first %v next %v, %d images", second["first"], second["next"], len(page2))
	}
	full := rawGet(t, c.Image, "", c.Image.ServiceURL("images")+"?tag="+k8s+"&limit=3")
	if full["next"] == nil {
		t.Errorf("a full last page has no next link: %v", full["next"])
	}
	own, err := images.Get(ctx, c.Image, ids[1]).Extract()
	if err != nil || own.Owner != c.ProjectID || own.Visibility != images.ImageVisibilityPrivate {
		t.Fatalf("own image: %+v %v", own, err)
	}

	// JSON patch: rename, replace tags, add and remove properties.
	patched, err := images.Update(ctx, c.Image, ids[1], images.UpdateOpts{
		images.ReplaceImageName{NewName: b + "2"},
		images.ReplaceImageTags{NewTags: []string{"x"}},
		images.UpdateImageProperty{Op: images.AddOp, Name: "hw_disk_bus", Value: "scsi"},
		images.UpdateImageProperty{Op: images.RemoveOp, Name: "os_distro"},
	}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if patched.Name != b+"2" || !cmp.Equal(patched.Tags, []string{"x"}) || patched.Properties["hw_disk_bus"] != "scsi" ||
		patched.Properties["os_distro"] != nil {
		t.Errorf("patched: %+v", patched)
	}
	if _, err := images.Update(ctx, c.Image, ids[1], images.UpdateOpts{
		images.UpdateImageProperty{Op: images.RemoveOp, Name: "os_distro"}}).Extract(); !gophercloud.ResponseCodeIs(err, 409) {
		t.Errorf("remove a missing property: %v, want 409", err)
	}

	// Errors: Glance's webob answers in the type the Accept header asks
	// for: JSON for gophercloud, HTML by default.
	_, err = images.Get(ctx, c.Image, "nope").Extract()
	var code gophercloud.ErrUnexpectedResponseCode
	// (provider.Describe does not read this JSON shape yet: it looks for
	// a top-level faultstring or a nested message.)
	if !errors.As(err, &code) || code.Actual != 404 {
		t.Errorf("404: %v", err)
	} else if diff := cmp.Diff(map[string]string{"message": "No image found with ID nope<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"},
		jsonObject(t, code.Body)); diff != "" {
		t.Errorf("404 body (-want +got):\n%s", diff)
	}
	// Neither HTML nor JSON acceptable: webob's plain text.
	resp, err := c.Image.Request(ctx, "GET", c.Image.ServiceURL("images", "nope"), &gophercloud.RequestOpts{
		OkCodes: []int{404}, KeepResponseBody: true, MoreHeaders: map[string]string{"Accept": "application/octet-stream"}})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || string(plain) != "404 Not Found\n\nNo image found with ID nope\n\n   " {
		t.Errorf("404 as plain text: %s %q", ct, plain)
	}
	for _, accept := range []string{"text/html", "*/*"} {
		resp, err := c.Image.Request(ctx, "GET", c.Image.ServiceURL("images", "nope"), &gophercloud.RequestOpts{
			OkCodes: []int{404}, KeepResponseBody: true, MoreHeaders: map[string]string{"Accept": accept}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<title>404 Not Found</title>") ||
			!strings.Contains(string(body), "No image found with ID nope<br /><br />") {
			t.Errorf("404 for Accept %s: %s %q", accept, resp.Header.Get("Content-Type"), body)
		}
	}
	// Schema errors quote jsonschema's report; an unknown marker is a 400.
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"name": prefix + "-v", "visibility": "bogus"}, "Provided object does not match schema 'image': 'bogus' is not one of ['community', 'public', 'private', 'shared']\n\n" +
			"Failed validating 'enum' in schema['properties']['visibility']:\n    {'description': 'Scope of image accessibility',\n     'enum': ['community', 'public', 'private', 'shared'],\n     'type': 'string'}\n\n" +
			"On instance['visibility']:\n    'bogus'<br /><br />\n\n\n"},
		{map[string]any{"name": prefix + "-p", "foo": 1}, "Provided object does not match schema 'image': 1 is not of type 'string'\n\n" +
			"Failed validating 'type' in schema['additionalProperties']:\n    {'type': 'string'}\n\nOn instance['foo']:\n    1<br /><br />\n\n\n"},
	} {
		_, err := c.Image.Post(ctx, c.Image.ServiceURL("images"), tc.body, nil, &gophercloud.RequestOpts{OkCodes: []int{201}})
		if !errors.As(err, &code) || code.Actual != 400 || jsonObject(t, code.Body)["message"] != tc.want {
			t.Errorf("create %v: %v", tc.body, err)
		}
	}
	marker := "00000000-0000-4000-8000-0000000000cc"
	_, err = images.List(c.Image, images.ListOpts{Marker: marker}).AllPages(ctx)
	if !errors.As(err, &code) || code.Actual != 400 || jsonObject(t, code.Body)["message"] != "No image found with ID "+marker+"<br /><br />\n\n\n" {
		t.Errorf("unknown marker: %v", err)
	}
	pub := images.ImageVisibilityPublic
	if img, err := images.Create(ctx, c.Image, images.CreateOpts{Name: prefix + "-x", Visibility: &pub}).Extract(); !gophercloud.ResponseCodeIs(err, 403) {
		if err == nil {
			onRealCleanup(t, func(ctx context.Context) { _ = images.Delete(ctx, c.Image, img.ID).ExtractErr() })
		}
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

// jsonObject decodes a JSON object of strings.
func jsonObject(t testing.TB, b []byte) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("body %q is not a JSON object of strings: %v", b, err)
	}
	return m
}
