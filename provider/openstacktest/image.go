package openstacktest

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// imageState is Glance v2.
type imageState struct {
	Images map[string]*gImage `json:"images"`
}

type gImage struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Status          string            `json:"status"`
	Visibility      string            `json:"visibility"`
	Owner           string            `json:"owner"`
	ContainerFormat string            `json:"containerFormat"`
	DiskFormat      string            `json:"diskFormat"`
	MinDisk         int               `json:"minDisk"`
	MinRAM          int               `json:"minRAM"`
	Protected       bool              `json:"protected"`
	Tags            []string          `json:"tags"`
	Properties      map[string]string `json:"properties"`
	Size            int64             `json:"size"`
	VirtualSize     int64             `json:"virtualSize"`
	Checksum        string            `json:"checksum"`
	Hash            string            `json:"hash"`
	Data            []byte            `json:"data,omitempty"`
	CreatedAt       time.Time         `json:"createdAt"`
	UpdatedAt       time.Time         `json:"updatedAt"`
}

// maxImageUpload bounds what the simulator keeps of an uploaded image.
const maxImageUpload = 64 << 20

func (s *Server) seedImage() {
	now := s.now()
	img := &gImage{ID: s.newID(), Name: ImageName, Status: "active", Visibility: "public", Owner: AdminProjectID,
		ContainerFormat: "bare", DiskFormat: "raw", Size: 614858752, VirtualSize: 3758096384,
		Checksum: "a1f6a4c2b8d3e5f7091b2c3d4e5f6a7b", Hash: strings.Repeat("ab", 64),
		Tags: []string{}, Properties: map[string]string{"os_distro": "ubuntu", "os_version": "24.04"},
		CreatedAt: now, UpdatedAt: now}
	s.st.Image.Images = map[string]*gImage{img.ID: img}
}

func (s *Server) routesImage() {
	s.handle(svcImage, "GET /image/{$}", s.imageVersions, routeOpts{public: true})
	s.handle(svcImage, "GET /image/versions", s.imageVersions, routeOpts{public: true})
	s.handle(svcImage, "GET /image/v2/images", s.listImages)
	s.handle(svcImage, "POST /image/v2/images", s.createImage)
	s.handle(svcImage, "GET /image/v2/images/{id}", s.getImage)
	s.handle(svcImage, "DELETE /image/v2/images/{id}", s.deleteImage)
	s.handle(svcImage, "PATCH /image/v2/images/{id}", s.patchImage)
	s.handle(svcImage, "PUT /image/v2/images/{id}/file", s.uploadImage)
	s.handle(svcImage, "GET /image/v2/images/{id}/file", s.downloadImage)
	s.handle(svcImage, "PUT /image/v2/images/{id}/tags/{tag}", s.addImageTag)
	s.handle(svcImage, "DELETE /image/v2/images/{id}/tags/{tag}", s.deleteImageTag)
}

func (s *Server) snapshotImage() []Resource {
	var out []Resource
	for _, img := range s.st.Image.Images {
		out = append(out, Resource{Service: "image", Kind: "image", ID: img.ID, Name: img.Name,
			ProjectID: img.Owner, Status: img.Status, Tags: append([]string(nil), img.Tags...)})
	}
	return out
}

func (s *Server) imageVersions(w http.ResponseWriter, r *http.Request, _ *token) {
	var vs []any
	for _, v := range []struct{ id, status string }{{"v2.16", "CURRENT"}, {"v2.15", "SUPPORTED"}, {"v2.0", "SUPPORTED"}} {
		vs = append(vs, map[string]any{"id": v.id, "status": v.status,
			"links": []map[string]string{{"rel": "self", "href": s.URL + "/image/v2/"}}})
	}
	writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": vs})
}

// imageVisible reports whether tok may see img.
func imageVisible(img *gImage, tok *token) bool {
	return tok.isAdmin() || img.Visibility == "public" || img.Visibility == "community" || img.Owner == tok.ProjectID
}

// findImage returns an image tok may see, for Nova and Cinder too.
func (s *Server) findImage(id string, tok *token) (*gImage, bool) {
	img, ok := s.st.Image.Images[id]
	if !ok || !imageVisible(img, tok) {
		return nil, false
	}
	return img, true
}

func (s *Server) imageBody(img *gImage) map[string]any {
	b := map[string]any{}
	for k, v := range img.Properties {
		b[k] = v
	}
	var size, vsize, checksum, hash, algo any
	if img.Status == "active" {
		size, vsize, checksum, hash, algo = img.Size, img.VirtualSize, img.Checksum, img.Hash, "sha512"
	}
	for k, v := range map[string]any{
		"id": img.ID, "name": img.Name, "status": img.Status, "visibility": img.Visibility, "owner": img.Owner,
		"container_format": nilIfEmpty(img.ContainerFormat), "disk_format": nilIfEmpty(img.DiskFormat),
		"min_disk": img.MinDisk, "min_ram": img.MinRAM, "protected": img.Protected, "os_hidden": false,
		"tags": append([]string{}, img.Tags...), "size": size, "virtual_size": vsize, "checksum": checksum,
		"os_hash_algo": algo, "os_hash_value": hash,
		"created_at": img.CreatedAt.Format(time.RFC3339), "updated_at": img.UpdatedAt.Format(time.RFC3339),
		"self": "/v2/images/" + img.ID, "file": "/v2/images/" + img.ID + "/file", "schema": "/v2/schemas/image",
	} {
		b[k] = v
	}
	return b
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request, tok *token) {
	q := r.URL.Query()
	var list []*gImage
	for _, img := range s.st.Image.Images {
		if !imageVisible(img, tok) {
			continue
		}
		vis := q.Get("visibility")
		if vis == "" && img.Visibility == "community" {
			continue
		}
		if vis != "" && vis != "all" && img.Visibility != vis {
			continue
		}
		if !matchImageFilter(q.Get("name"), img.Name) || !matchImageFilter(q.Get("id"), img.ID) ||
			!matchImageFilter(q.Get("status"), img.Status) || !matchImageFilter(q.Get("owner"), img.Owner) ||
			!matchImageFilter(q.Get("disk_format"), img.DiskFormat) ||
			!matchImageFilter(q.Get("container_format"), img.ContainerFormat) {
			continue
		}
		ok := true
		for _, tag := range q["tag"] {
			ok = ok && contains(img.Tags, tag)
		}
		if !ok {
			continue
		}
		list = append(list, img)
	}
	// Glance sorts by created_at descending, then ID.
	sort.Slice(list, func(i, j int) bool {
		return newerFirst(list[i].CreatedAt, list[i].ID, list[j].CreatedAt, list[j].ID)
	})
	if m := q.Get("marker"); m != "" {
		idx := markerIndex(list, m, func(img *gImage) string { return img.ID })
		if idx < 0 {
			s.glanceError(w, r, errorf(http.StatusBadRequest, "", "No image found with ID %s", m))
			return
		}
		list = list[idx+1:]
	}
	limit := 25
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			s.glanceError(w, r, errorf(http.StatusBadRequest, "", "limit param must be an integer"))
			return
		}
		limit = min(n, 1000)
	}
	// As Glance: "first" is the query without its marker, and a full page
	// has a "next" link even when nothing follows (its page is empty).
	params := glanceParams(r.URL.RawQuery)
	body := map[string]any{"first": "/v2/images", "schema": "/v2/schemas/images"}
	if params != "" {
		body["first"] = "/v2/images?" + params
	}
	if len(list) >= limit {
		list = list[:limit]
	}
	if len(list) > 0 && len(list) == limit {
		next := "marker=" + url.QueryEscape(list[len(list)-1].ID)
		if params != "" {
			next = params + "&" + next
		}
		body["next"] = "/v2/images?" + next
	}
	out := make([]any, 0, len(list))
	for _, img := range list {
		out = append(out, s.imageBody(img))
	}
	body["images"] = out
	writeJSON(w, http.StatusOK, body)
}

// matchImageFilter applies a Glance filter value: exact, or "in:a,b".
func matchImageFilter(filter, v string) bool {
	if filter == "" {
		return true
	}
	if rest, ok := strings.CutPrefix(filter, "in:"); ok {
		return contains(strings.Split(rest, ","), v)
	}
	return filter == v
}

var imageReserved = map[string]bool{"id": true, "name": true, "visibility": true, "container_format": true,
	"disk_format": true, "min_disk": true, "min_ram": true, "protected": true, "tags": true, "os_hidden": true,
	"status": true, "owner": true, "size": true, "virtual_size": true, "checksum": true, "created_at": true,
	"updated_at": true, "file": true, "self": true, "schema": true, "locations": true, "direct_url": true,
	"os_hash_algo": true, "os_hash_value": true}

func (s *Server) createImage(w http.ResponseWriter, r *http.Request, tok *token) {
	var req map[string]any
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.glanceError(w, r, aerr)
		return
	}
	str := func(k string) string { v, _ := req[k].(string); return v }
	img := &gImage{ID: str("id"), Name: str("name"), Status: "queued", Visibility: str("visibility"),
		Owner: tok.ProjectID, ContainerFormat: str("container_format"), DiskFormat: str("disk_format"),
		Tags: []string{}, Properties: map[string]string{}, CreatedAt: s.now(), UpdatedAt: s.now()}
	if img.Visibility == "" {
		img.Visibility = "shared"
	}
	switch img.Visibility {
	case "public", "private", "shared", "community":
	default:
		s.glanceError(w, r, errorf(http.StatusBadRequest, "", "Provided object does not match schema 'image': %s is not one of ['community', 'public', 'private', 'shared']\n\n"+
			"Failed validating 'enum' in schema['properties']['visibility']:\n    {'description': 'Scope of image accessibility',\n     'enum': ['community', 'public', 'private', 'shared'],\n     'type': 'string'}\n\n"+
			"On instance['visibility']:\n    %s", pyRepr(img.Visibility), pyRepr(img.Visibility)))
		return
	}
	if img.Visibility == "public" && !tok.isAdmin() {
		s.glanceError(w, r, errorf(http.StatusForbidden, "", "You are not authorized to complete publicize_image action."))
		return
	}
	if img.ID == "" {
		img.ID = s.newID()
	} else if _, ok := s.st.Image.Images[img.ID]; ok {
		s.glanceError(w, r, errorf(http.StatusConflict, "", "Image with identifier %s already exists!", img.ID))
		return
	}
	if v, ok := req["min_disk"].(float64); ok {
		img.MinDisk = int(v)
	}
	if v, ok := req["min_ram"].(float64); ok {
		img.MinRAM = int(v)
	}
	if v, ok := req["protected"].(bool); ok {
		img.Protected = v
	}
	if tags, ok := req["tags"].([]any); ok {
		for _, t := range tags {
			if ts, ok := t.(string); ok && !contains(img.Tags, ts) {
				img.Tags = append(img.Tags, ts)
			}
		}
	}
	for k, v := range req {
		if imageReserved[k] {
			continue
		}
		vs, ok := v.(string)
		if !ok {
			s.glanceError(w, r, errorf(http.StatusBadRequest, "", "Provided object does not match schema 'image': %s is not of type 'string'\n\n"+
				"Failed validating 'type' in schema['additionalProperties']:\n    {'type': 'string'}\n\nOn instance['%s']:\n    %s", pyRepr(v), k, pyRepr(v)))
			return
		}
		img.Properties[k] = vs
	}
	s.st.Image.Images[img.ID] = img
	w.Header().Set("Location", s.URL+"/image/v2/images/"+img.ID)
	writeJSON(w, http.StatusCreated, s.imageBody(img))
}

func (s *Server) imageFor(w http.ResponseWriter, r *http.Request, tok *token) *gImage {
	img, ok := s.findImage(r.PathValue("id"), tok)
	if !ok {
		s.glanceError(w, r, errorf(http.StatusNotFound, "", "No image found with ID %s", r.PathValue("id")))
		return nil
	}
	return img
}

// imageWritable checks that tok owns img.
func (s *Server) imageWritable(w http.ResponseWriter, r *http.Request, img *gImage, tok *token) bool {
	if img.Owner != tok.ProjectID && !tok.isAdmin() {
		s.glanceError(w, r, errorf(http.StatusForbidden, "", "You are not permitted to modify image %s.", img.ID))
		return false
	}
	return true
}

func (s *Server) getImage(w http.ResponseWriter, r *http.Request, tok *token) {
	if img := s.imageFor(w, r, tok); img != nil {
		writeJSON(w, http.StatusOK, s.imageBody(img))
	}
}

func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request, tok *token) {
	img := s.imageFor(w, r, tok)
	if img == nil || !s.imageWritable(w, r, img, tok) {
		return
	}
	if img.Protected {
		s.glanceError(w, r, errorf(http.StatusForbidden, "", "Image %s is protected and cannot be deleted.", img.ID))
		return
	}
	delete(s.st.Image.Images, img.ID)
	w.WriteHeader(http.StatusNoContent)
}

// patchImage applies a JSON patch (application/openstack-images-v2.1-json-patch)
// to an image's writable fields and custom properties.
func (s *Server) patchImage(w http.ResponseWriter, r *http.Request, tok *token) {
	img := s.imageFor(w, r, tok)
	if img == nil || !s.imageWritable(w, r, img, tok) {
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openstack-images-v2.1-json-patch") {
		s.glanceError(w, r, errorf(http.StatusUnsupportedMediaType, "", "Unsupported Content-Type"))
		return
	}
	var ops []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if aerr := decodeJSON(r, &ops); aerr != nil {
		s.glanceError(w, r, aerr)
		return
	}
	next := *img
	next.Tags = append([]string{}, img.Tags...)
	next.Properties = map[string]string{}
	for k, v := range img.Properties {
		next.Properties[k] = v
	}
	for _, op := range ops {
		name := strings.TrimPrefix(op.Path, "/")
		if op.Op != "add" && op.Op != "replace" && op.Op != "remove" {
			s.glanceError(w, r, errorf(http.StatusBadRequest, "", "Unable to find '%s' in JSON Schema change", op.Op))
			return
		}
		str, isStr := op.Value.(string)
		num, isNum := op.Value.(float64)
		bad := func() {
			s.glanceError(w, r, errorf(http.StatusBadRequest, "", "Invalid value for %s", name))
		}
		switch name {
		case "name":
			if !isStr {
				bad()
				return
			}
			next.Name = str
		case "visibility":
			if !isStr || !contains([]string{"public", "private", "shared", "community"}, str) {
				bad()
				return
			}
			if str == "public" && !tok.isAdmin() {
				s.glanceError(w, r, errorf(http.StatusForbidden, "", "You are not authorized to complete publicize_image action."))
				return
			}
			next.Visibility = str
		case "min_disk", "min_ram":
			if !isNum || num < 0 {
				bad()
				return
			}
			if name == "min_disk" {
				next.MinDisk = int(num)
			} else {
				next.MinRAM = int(num)
			}
		case "protected":
			b, ok := op.Value.(bool)
			if !ok {
				bad()
				return
			}
			next.Protected = b
		case "tags":
			list, ok := op.Value.([]any)
			if !ok {
				bad()
				return
			}
			next.Tags = []string{}
			for _, t := range list {
				if ts, ok := t.(string); ok && !contains(next.Tags, ts) {
					next.Tags = append(next.Tags, ts)
				}
			}
		default:
			if imageReserved[name] || strings.Contains(name, "/") {
				s.glanceError(w, r, errorf(http.StatusForbidden, "", "Attribute '%s' is read-only.", name))
				return
			}
			if op.Op == "remove" {
				if _, ok := next.Properties[name]; !ok {
					s.glanceError(w, r, errorf(http.StatusConflict, "", "Property %s does not exist.", name))
					return
				}
				delete(next.Properties, name)
				continue
			}
			if !isStr {
				bad()
				return
			}
			next.Properties[name] = str
		}
	}
	next.UpdatedAt = s.now()
	*img = next
	writeJSON(w, http.StatusOK, s.imageBody(img))
}

func (s *Server) uploadImage(w http.ResponseWriter, r *http.Request, tok *token) {
	img := s.imageFor(w, r, tok)
	if img == nil || !s.imageWritable(w, r, img, tok) {
		return
	}
	if img.Status != "queued" {
		s.glanceError(w, r, errorf(http.StatusConflict, "", "Image status transition from %s to saving is not allowed", img.Status))
		return
	}
	if img.DiskFormat == "" || img.ContainerFormat == "" {
		s.glanceError(w, r, errorf(http.StatusBadRequest, "", "Properties disk_format, container_format must be set prior to saving data."))
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxImageUpload+1))
	if err != nil {
		s.glanceError(w, r, errorf(http.StatusBadRequest, "", "Error reading image data: %v", err))
		return
	}
	if len(data) > maxImageUpload {
		s.glanceError(w, r, errorf(http.StatusRequestEntityTooLarge, "", "Image exceeds the storage quota: the simulator keeps at most %d bytes", maxImageUpload))
		return
	}
	sum := md5.Sum(data)
	h := sha512.Sum512(data)
	img.Data, img.Size, img.VirtualSize = data, int64(len(data)), int64(len(data))
	img.Checksum, img.Hash = hex.EncodeToString(sum[:]), hex.EncodeToString(h[:])
	img.Status, img.UpdatedAt = "active", s.now()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) downloadImage(w http.ResponseWriter, r *http.Request, tok *token) {
	img := s.imageFor(w, r, tok)
	if img == nil {
		return
	}
	if img.Status != "active" || img.Data == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-MD5", img.Checksum)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(img.Data)
}

func (s *Server) addImageTag(w http.ResponseWriter, r *http.Request, tok *token) {
	img := s.imageFor(w, r, tok)
	if img == nil || !s.imageWritable(w, r, img, tok) {
		return
	}
	if t := r.PathValue("tag"); !contains(img.Tags, t) {
		img.Tags = append(img.Tags, t)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteImageTag(w http.ResponseWriter, r *http.Request, tok *token) {
	img := s.imageFor(w, r, tok)
	if img == nil || !s.imageWritable(w, r, img, tok) {
		return
	}
	t := r.PathValue("tag")
	if !removeTag(&img.Tags, t) {
		s.glanceError(w, r, errorf(http.StatusNotFound, "", "Tag %s not found", t))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// glanceError writes e as Glance's webob does, by the client's Accept
// header: JSON {"message", "code", "title"} when it prefers
// application/json (gophercloud sends that), the HTML page when it prefers
// text/html, takes anything or sends none, plain text otherwise.
func (s *Server) glanceError(w http.ResponseWriter, r *http.Request, e *apiError) {
	status := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	body := e.Message + "<br /><br />\n\n\n"
	switch webobOffer(r.Header.Get("Accept")) {
	case "application/json":
		writeJSON(w, e.Status, map[string]any{"message": body, "code": status, "title": http.StatusText(e.Status)})
	case "text/html":
		s.writeError(w, svcImage, e)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(e.Status)
		// webob's strip_tags: newlines to spaces, <br /> to newlines.
		fmt.Fprintf(w, "%s\n\n%s", status, strings.ReplaceAll(strings.ReplaceAll(body, "\n", " "), "<br />", "\n"))
	}
}

// webobOffer picks text/html or application/json for an Accept header as
// webob's acceptable_offers does (the higher quality; html on a tie), or
// "" when the header accepts neither.
func webobOffer(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return "text/html"
	}
	best, bestQ := "", 0.0
	for _, offer := range []string{"text/html", "application/json"} {
		typ, _, _ := strings.Cut(offer, "/")
		q := 0.0
		for _, part := range strings.Split(accept, ",") {
			params := strings.Split(part, ";")
			rng := strings.ToLower(strings.TrimSpace(params[0]))
			pq := 1.0
			for _, p := range params[1:] {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						pq = f
					}
				}
			}
			if rng == offer || rng == typ+"/*" || rng == "*/*" {
				q = max(q, pq)
			}
		}
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best
}

// glanceParams is a query string without its marker, in the order given,
// as Glance re-encodes request.params with urlencode.
func glanceParams(raw string) string {
	var out []string
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, _ = url.QueryUnescape(k)
		v, _ = url.QueryUnescape(v)
		if k == "marker" {
			continue
		}
		out = append(out, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return strings.Join(out, "&")
}

// pyRepr renders a JSON value as Python's repr, which Glance's schema
// errors quote.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		if strings.Contains(x, "'") && !strings.Contains(x, `"`) {
			return `"` + x + `"`
		}
		return "'" + strings.ReplaceAll(x, "'", `\'`) + "'"
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}
