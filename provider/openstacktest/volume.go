package openstacktest

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// volumeState is Cinder v3.
type volumeState struct {
	Volumes map[string]*cVolume `json:"volumes"`
	// Quotas maps a project ID to its limits; absent projects have the
	// defaults.
	Quotas map[string]*volumeQuota `json:"quotas"`
}

type cVolume struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Description      string            `json:"description"`
	ProjectID        string            `json:"projectID"`
	UserID           string            `json:"userID"`
	Size             int               `json:"size"`
	Status           string            `json:"status"`
	VolumeType       string            `json:"volumeType"`
	AvailabilityZone string            `json:"availabilityZone"`
	ImageID          string            `json:"imageID,omitempty"`
	ImageName        string            `json:"imageName,omitempty"`
	Metadata         map[string]string `json:"metadata"`
	Attachments      []cAttachment     `json:"attachments"`
	ReadyAt          time.Time         `json:"readyAt"`
	CreatedAt        time.Time         `json:"createdAt"`
	UpdatedAt        time.Time         `json:"updatedAt"`
}

type cAttachment struct {
	ID         string    `json:"id"`
	ServerID   string    `json:"serverID"`
	Device     string    `json:"device"`
	AttachedAt time.Time `json:"attachedAt"`
}

type volumeQuota struct {
	Volumes   int `json:"volumes"`
	Gigabytes int `json:"gigabytes"`
}

// Cinder's default quotas.
var defaultVolumeQuota = volumeQuota{Volumes: 10, Gigabytes: 1000}

// Cinder microversions this simulator speaks (Zed).
const (
	cinderMinVersion = "3.0"
	cinderMaxVersion = "3.70"
)

// volumeTypes are the volume types a fresh cloud has.
var volumeTypes = []struct{ id, name string }{
	{"5f1c1b9e-2b5e-4c1a-9d2e-8a7b6c5d4e01", "__DEFAULT__"},
	{"6a2d2c0f-3c6f-4d2b-8e3f-9b8c7d6e5f02", "lvmdriver-1"},
}

const volumeHost = "sim-volume@lvmdriver-1#lvmdriver-1"

func (s *Server) seedVolume() {
	s.st.Volume.Volumes = map[string]*cVolume{}
	s.st.Volume.Quotas = map[string]*volumeQuota{}
}

func (s *Server) routesVolume() {
	s.handle(svcVolume, "GET /volume/{$}", s.volumeVersions, routeOpts{public: true})
	s.handle(svcVolume, "GET /volume/v3/{$}", s.volumeVersion, routeOpts{public: true})
	p := "/volume/v3/{project}"
	s.handle(svcVolume, "POST "+p+"/volumes", s.cinder(s.createVolume))
	s.handle(svcVolume, "GET "+p+"/volumes", s.cinder(s.listVolumes))
	s.handle(svcVolume, "GET "+p+"/volumes/detail", s.cinder(s.listVolumes))
	s.handle(svcVolume, "GET "+p+"/volumes/{id}", s.cinder(s.getVolume))
	s.handle(svcVolume, "PUT "+p+"/volumes/{id}", s.cinder(s.updateVolume))
	s.handle(svcVolume, "DELETE "+p+"/volumes/{id}", s.cinder(s.deleteVolume))
	s.handle(svcVolume, "GET "+p+"/types", s.cinder(s.listVolumeTypes))
	s.handle(svcVolume, "GET "+p+"/os-quota-sets/{target}", s.cinder(s.getVolumeQuota))
	s.handle(svcVolume, "PUT "+p+"/os-quota-sets/{target}", s.cinder(s.updateVolumeQuota))
	s.handle(svcVolume, "GET "+p+"/limits", s.cinder(s.volumeLimits))
}

func (s *Server) snapshotVolume() []Resource {
	var out []Resource
	for _, v := range s.st.Volume.Volumes {
		out = append(out, Resource{Service: "volume", Kind: "volume", ID: v.ID, Name: v.Name, ProjectID: v.ProjectID, Status: v.Status})
	}
	return out
}

func (s *Server) advanceVolume(now time.Time) bool {
	changed := false
	for _, v := range s.st.Volume.Volumes {
		if v.Status == "creating" && !now.Before(v.ReadyAt) {
			v.Status, v.UpdatedAt = "available", now
			if len(v.Attachments) > 0 {
				v.Status = "in-use"
			}
			changed = true
		}
	}
	return changed
}

// cinder wraps a Cinder handler: the project in the path must be the
// token's (admins may use any), and microversion headers are answered.
func (s *Server) cinder(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, tok *token) {
		if _, aerr := s.microversion(w, r, "volume", cinderMinVersion, cinderMaxVersion); aerr != nil {
			s.writeError(w, svcVolume, aerr)
			return
		}
		if p := r.PathValue("project"); p != tok.ProjectID && !tok.isAdmin() {
			s.writeError(w, svcVolume, errorf(http.StatusForbidden, "", "Policy doesn't allow volume_extension:volume_project_access to be performed."))
			return
		}
		h(w, r, tok)
	}
}

func (s *Server) volumeVersionDoc() map[string]any {
	return map[string]any{"id": "v3.0", "status": "CURRENT", "version": cinderMaxVersion, "min_version": cinderMinVersion,
		"updated": "2022-08-31T00:00:00Z", "links": []map[string]string{{"rel": "self", "href": s.URL + "/volume/v3/"}}}
}

func (s *Server) volumeVersions(w http.ResponseWriter, r *http.Request, _ *token) {
	writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": []any{s.volumeVersionDoc()}})
}

func (s *Server) volumeVersion(w http.ResponseWriter, r *http.Request, _ *token) {
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{s.volumeVersionDoc()}})
}

func (s *Server) volumeQuotaOf(project string) volumeQuota {
	if q, ok := s.st.Volume.Quotas[project]; ok {
		return *q
	}
	return defaultVolumeQuota
}

func (s *Server) volumeUsage(project string) (count, gigabytes int) {
	for _, v := range s.st.Volume.Volumes {
		if v.ProjectID == project {
			count++
			gigabytes += v.Size
		}
	}
	return count, gigabytes
}

// volumeSpec is a volume to create, for the API and for Nova's boot from
// volume.
type volumeSpec struct {
	ProjectID, UserID, Name, Description, VolumeType, AvailabilityZone, ImageID string
	Size                                                                        int
	Metadata                                                                    map[string]string
}

// volCreate creates a volume in "creating" state, with Cinder's checks and
// quotas. Callers hold s.mu.
func (s *Server) volCreate(spec volumeSpec, tok *token) (*cVolume, *apiError) {
	if spec.Size <= 0 {
		return nil, errorf(http.StatusBadRequest, "", "Invalid input received: Volume size '%d' must be an integer and greater than 0.", spec.Size)
	}
	vt := spec.VolumeType
	if vt == "" {
		vt = volumeTypes[0].name
	}
	found := false
	for _, t := range volumeTypes {
		if t.name == vt || t.id == vt {
			vt, found = t.name, true
		}
	}
	if !found {
		return nil, errorf(http.StatusNotFound, "", "Volume type with name %s could not be found.", vt)
	}
	az := spec.AvailabilityZone
	if az == "" {
		az = "nova"
	}
	if az != "nova" {
		return nil, errorf(http.StatusBadRequest, "", "Availability zone '%s' is invalid.", az)
	}
	var img *gImage
	if spec.ImageID != "" {
		var ok bool
		if img, ok = s.findImage(spec.ImageID, tok); !ok {
			return nil, errorf(http.StatusNotFound, "", "Image %s could not be found.", spec.ImageID)
		}
		if img.Status != "active" {
			return nil, errorf(http.StatusBadRequest, "", "Invalid input received: Image %s is not active.", img.ID)
		}
		gb := int((img.Size + 1<<30 - 1) >> 30)
		if gb > spec.Size {
			return nil, errorf(http.StatusBadRequest, "", "Invalid input received: Size of specified image %d is larger than volume size %d.", gb, spec.Size)
		}
		if img.MinDisk > spec.Size {
			return nil, errorf(http.StatusBadRequest, "", "Invalid input received: Volume size %dGB cannot be smaller than the image minDisk size %dGB.", spec.Size, img.MinDisk)
		}
	}
	q := s.volumeQuotaOf(spec.ProjectID)
	count, used := s.volumeUsage(spec.ProjectID)
	if q.Gigabytes >= 0 && used+spec.Size > q.Gigabytes {
		return nil, errorf(http.StatusRequestEntityTooLarge, "overLimit",
			"Requested volume or snapshot exceeds allowed gigabytes quota. Requested %dG, quota is %dG and %dG has been consumed.",
			spec.Size, q.Gigabytes, used)
	}
	if q.Volumes >= 0 && count+1 > q.Volumes {
		return nil, errorf(http.StatusRequestEntityTooLarge, "overLimit",
			"Maximum number of volumes allowed (%d) exceeded for quota 'volumes'.", q.Volumes)
	}
	now := s.now()
	md := map[string]string{}
	for k, v := range spec.Metadata {
		md[k] = v
	}
	v := &cVolume{ID: s.newID(), Name: spec.Name, Description: spec.Description, ProjectID: spec.ProjectID,
		UserID: spec.UserID, Size: spec.Size, Status: "creating", VolumeType: vt, AvailabilityZone: az,
		Metadata: md, ReadyAt: now.Add(s.opts.volumeDelay), CreatedAt: now, UpdatedAt: now}
	if img != nil {
		v.ImageID, v.ImageName = img.ID, img.Name
	}
	s.st.Volume.Volumes[v.ID] = v
	return v, nil
}

// volAttach marks volume id as attached to a server. Callers hold s.mu.
func (s *Server) volAttach(id, serverID, device string) *apiError {
	v, ok := s.st.Volume.Volumes[id]
	if !ok {
		return errorf(http.StatusNotFound, "", "Volume %s could not be found.", id)
	}
	if len(v.Attachments) > 0 || (v.Status != "available" && v.Status != "creating") {
		return errorf(http.StatusBadRequest, "", "Invalid volume: volume %s status must be available, but current status is: %s.", id, v.Status)
	}
	v.Attachments = append(v.Attachments, cAttachment{ID: s.newID(), ServerID: serverID, Device: device, AttachedAt: s.now()})
	if v.Status == "available" {
		v.Status = "in-use"
	}
	v.UpdatedAt = s.now()
	return nil
}

// volDetach detaches volume id from serverID and deletes it when del is
// set. Callers hold s.mu.
func (s *Server) volDetach(id, serverID string, del bool) {
	v, ok := s.st.Volume.Volumes[id]
	if !ok {
		return
	}
	if del {
		delete(s.st.Volume.Volumes, id)
		return
	}
	var keep []cAttachment
	for _, a := range v.Attachments {
		if a.ServerID != serverID {
			keep = append(keep, a)
		}
	}
	v.Attachments = keep
	if len(keep) == 0 && v.Status == "in-use" {
		v.Status = "available"
	}
	v.UpdatedAt = s.now()
}

const cinderTime = "2006-01-02T15:04:05.000000"

func (s *Server) volumeBody(v *cVolume, detail bool) map[string]any {
	links := []map[string]string{{"rel": "self", "href": s.URL + "/volume/v3/" + v.ProjectID + "/volumes/" + v.ID}}
	if !detail {
		return map[string]any{"id": v.ID, "name": v.Name, "links": links}
	}
	atts := []any{}
	for _, a := range v.Attachments {
		atts = append(atts, map[string]any{"id": v.ID, "attachment_id": a.ID, "volume_id": v.ID, "server_id": a.ServerID,
			"host_name": nil, "device": a.Device, "attached_at": a.AttachedAt.Format(cinderTime)})
	}
	bootable := "false"
	var imgMeta any
	if v.ImageID != "" {
		bootable = "true"
		imgMeta = map[string]string{"image_id": v.ImageID, "image_name": v.ImageName}
	}
	md := map[string]string{}
	for k, val := range v.Metadata {
		md[k] = val
	}
	b := map[string]any{
		"id": v.ID, "name": v.Name, "description": v.Description, "size": v.Size, "status": v.Status,
		"availability_zone": v.AvailabilityZone, "volume_type": v.VolumeType, "metadata": md, "attachments": atts,
		"bootable": bootable, "encrypted": false, "multiattach": false, "replication_status": nil,
		"snapshot_id": nil, "source_volid": nil, "consistencygroup_id": nil, "group_id": nil,
		"user_id": v.UserID, "os-vol-tenant-attr:tenant_id": v.ProjectID, "os-vol-host-attr:host": volumeHost,
		"created_at": v.CreatedAt.Format(cinderTime), "updated_at": v.UpdatedAt.Format(cinderTime), "links": links,
		"migration_status": nil, "os-vol-mig-status-attr:migstat": nil,
	}
	if imgMeta != nil {
		b["volume_image_metadata"] = imgMeta
	}
	return b
}

func (s *Server) createVolume(w http.ResponseWriter, r *http.Request, tok *token) {
	var req struct {
		Volume *struct {
			Size             *int              `json:"size"`
			Name             string            `json:"name"`
			Description      string            `json:"description"`
			VolumeType       string            `json:"volume_type"`
			AvailabilityZone string            `json:"availability_zone"`
			ImageRef         string            `json:"imageRef"`
			SnapshotID       string            `json:"snapshot_id"`
			SourceVolID      string            `json:"source_volid"`
			Metadata         map[string]string `json:"metadata"`
		} `json:"volume"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcVolume, aerr)
		return
	}
	if req.Volume == nil {
		s.writeError(w, svcVolume, errorf(http.StatusBadRequest, "", "Invalid input for field/attribute volume. Value: None. None is not of type 'object'"))
		return
	}
	in := req.Volume
	if in.SnapshotID != "" {
		s.writeError(w, svcVolume, errorf(http.StatusNotFound, "", "Snapshot %s could not be found.", in.SnapshotID))
		return
	}
	if in.SourceVolID != "" {
		s.writeError(w, svcVolume, errorf(http.StatusBadRequest, "", "Invalid input received: cloning volumes is not supported by this simulator."))
		return
	}
	// Zed's schema: size at least 1; without size nor a source, Cinder's
	// generic 400.
	switch {
	case in.Size == nil:
		s.writeError(w, svcVolume, errorf(http.StatusBadRequest, "", "The server could not comply with the request since it is either malformed or otherwise incorrect."))
		return
	case *in.Size < 1:
		s.writeError(w, svcVolume, errorf(http.StatusBadRequest, "", "Invalid input for field/attribute size. Value: %d. %d is less than the minimum of 1", *in.Size, *in.Size))
		return
	}
	v, aerr := s.volCreate(volumeSpec{ProjectID: tok.ProjectID, UserID: tok.UserID, Name: in.Name, Description: in.Description,
		VolumeType: in.VolumeType, AvailabilityZone: in.AvailabilityZone, ImageID: in.ImageRef, Size: *in.Size, Metadata: in.Metadata}, tok)
	if aerr != nil {
		s.writeError(w, svcVolume, cinderCreateError(aerr, in.ImageRef))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"volume": s.volumeBody(v, true)})
}

// cinderCreateError is how Cinder's volume create API words volCreate's
// refusals (Nova's block device mappings word them their own way): an
// unknown image is 400, quota faults name the exception.
func cinderCreateError(aerr *apiError, imageRef string) *apiError {
	switch {
	case aerr.Status == http.StatusNotFound && imageRef != "" && aerr.Message == "Image "+imageRef+" could not be found.":
		return errorf(http.StatusBadRequest, "", "Invalid image identifier or unable to access requested image.")
	case aerr.Status == http.StatusRequestEntityTooLarge && strings.HasPrefix(aerr.Message, "Requested volume or snapshot"):
		return errorf(aerr.Status, "overLimit", "VolumeSizeExceedsAvailableQuota: %s", aerr.Message)
	case aerr.Status == http.StatusRequestEntityTooLarge && strings.HasPrefix(aerr.Message, "Maximum number of volumes"):
		return errorf(aerr.Status, "overLimit", "VolumeLimitExceeded: %s", aerr.Message)
	}
	return aerr
}

func (s *Server) volumeFor(w http.ResponseWriter, r *http.Request, tok *token) *cVolume {
	id := r.PathValue("id")
	v, ok := s.st.Volume.Volumes[id]
	if !ok || (v.ProjectID != tok.ProjectID && !tok.isAdmin()) {
		s.writeError(w, svcVolume, errorf(http.StatusNotFound, "", "Volume %s could not be found.", id))
		return nil
	}
	return v
}

func (s *Server) getVolume(w http.ResponseWriter, r *http.Request, tok *token) {
	if v := s.volumeFor(w, r, tok); v != nil {
		writeJSON(w, http.StatusOK, map[string]any{"volume": s.volumeBody(v, true)})
	}
}

func (s *Server) updateVolume(w http.ResponseWriter, r *http.Request, tok *token) {
	v := s.volumeFor(w, r, tok)
	if v == nil {
		return
	}
	var req struct {
		Volume struct {
			Name        *string           `json:"name"`
			Description *string           `json:"description"`
			Metadata    map[string]string `json:"metadata"`
		} `json:"volume"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcVolume, aerr)
		return
	}
	if req.Volume.Name != nil {
		v.Name = *req.Volume.Name
	}
	if req.Volume.Description != nil {
		v.Description = *req.Volume.Description
	}
	if req.Volume.Metadata != nil {
		v.Metadata = req.Volume.Metadata
	}
	v.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, map[string]any{"volume": s.volumeBody(v, true)})
}

func (s *Server) deleteVolume(w http.ResponseWriter, r *http.Request, tok *token) {
	v := s.volumeFor(w, r, tok)
	if v == nil {
		return
	}
	switch {
	case len(v.Attachments) > 0 || v.Status == "in-use":
		s.writeError(w, svcVolume, errorf(http.StatusBadRequest, "", "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer."))
		return
	case v.Status == "creating":
		s.writeError(w, svcVolume, errorf(http.StatusBadRequest, "", "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer."))
		return
	}
	delete(s.st.Volume.Volumes, v.ID)
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) listVolumes(w http.ResponseWriter, r *http.Request, tok *token) {
	q := r.URL.Query()
	detail := strings.HasSuffix(r.URL.Path, "/detail")
	all := tok.isAdmin() && (q.Get("all_tenants") == "1" || strings.EqualFold(q.Get("all_tenants"), "true"))
	project := tok.ProjectID
	if tok.isAdmin() && q.Get("project_id") != "" {
		project, all = q.Get("project_id"), false
	}
	var mdFilter map[string]string
	if m := q.Get("metadata"); m != "" {
		var ok bool
		if mdFilter, ok = parseDictLiteral(m); !ok {
			s.writeError(w, svcVolume, badRequest("Invalid input received: Invalid filter metadata: %s", m))
			return
		}
	}
	var list []*cVolume
	for _, v := range s.st.Volume.Volumes {
		if !all && v.ProjectID != project {
			continue
		}
		if !hasMetadata(v.Metadata, mdFilter) {
			continue
		}
		if n := q.Get("name"); n != "" && v.Name != n {
			continue
		}
		if st := q.Get("status"); st != "" && v.Status != st {
			continue
		}
		if b := q.Get("bootable"); b != "" && (strings.EqualFold(b, "true") != (v.ImageID != "")) {
			continue
		}
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool {
		return newerFirst(list[i].CreatedAt, list[i].ID, list[j].CreatedAt, list[j].ID)
	})
	page, next, aerr := paginate(list, q, func(v *cVolume) string { return v.ID }, "Volume")
	if aerr != nil {
		s.writeError(w, svcVolume, aerr)
		return
	}
	out := make([]any, 0, len(page))
	for _, v := range page {
		out = append(out, s.volumeBody(v, detail))
	}
	body := map[string]any{"volumes": out}
	if next != "" {
		nq := r.URL.Query()
		nq.Set("marker", next)
		body["volumes_links"] = []map[string]string{{"rel": "next", "href": s.URL + r.URL.Path + "?" + nq.Encode()}}
	}
	writeJSON(w, http.StatusOK, body)
}

// dictEntry matches one 'key': 'value' pair of a Python or JSON dict.
var dictEntry = regexp.MustCompile(`(['"])((?:\\.|[^\\])*?)['"]\s*:\s*(['"])((?:\\.|[^\\])*?)['"]\s*(?:,|$)`)

// parseDictLiteral reads a filter such as {'k':'v', 'k2':'v2'}, the form
// Cinder evaluates (and gophercloud sends) for metadata filters.
func parseDictLiteral(s string) (map[string]string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, false
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	out := map[string]string{}
	for body != "" {
		m := dictEntry.FindStringSubmatchIndex(body)
		if m == nil || m[0] != 0 {
			return nil, false
		}
		out[body[m[4]:m[5]]] = body[m[8]:m[9]]
		body = strings.TrimSpace(body[m[1]:])
	}
	return out, true
}

func hasMetadata(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// newerFirst orders list items as Nova, Glance and Cinder do: created_at
// descending, then ID descending.
func newerFirst(createdI time.Time, idI string, createdJ time.Time, idJ string) bool {
	if !createdI.Equal(createdJ) {
		return createdI.After(createdJ)
	}
	return idI > idJ
}

// markerIndex is the position in list of the item whose ID is marker, or -1.
func markerIndex[T any](list []T, marker string, id func(T) string) int {
	idx := -1
	for i, x := range list {
		if id(x) == marker {
			idx = i
		}
	}
	return idx
}

// paginate applies limit, marker and offset; next is the marker of the
// next page, empty on the last one.
func paginate[T any](list []T, q map[string][]string, id func(T) string, kind string) (page []T, next string, aerr *apiError) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if m := get("marker"); m != "" {
		idx := markerIndex(list, m, id)
		if idx < 0 {
			return nil, "", errorf(http.StatusBadRequest, "", "marker [%s] not found", m)
		}
		list = list[idx+1:]
	}
	if o := get("offset"); o != "" {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 {
			return nil, "", errorf(http.StatusBadRequest, "", "Invalid offset: %q", o)
		}
		list = list[min(n, len(list)):]
	}
	if l := get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return nil, "", errorf(http.StatusBadRequest, "", "Invalid input received: limit must be a non-negative integer, not %q", l)
		}
		if n < len(list) {
			if n == 0 {
				return []T{}, "", nil
			}
			return list[:n], id(list[n-1]), nil
		}
	}
	return list, "", nil
}

func (s *Server) listVolumeTypes(w http.ResponseWriter, r *http.Request, tok *token) {
	var out []any
	for _, t := range volumeTypes {
		out = append(out, map[string]any{"id": t.id, "name": t.name, "is_public": true, "description": nil,
			"extra_specs": map[string]string{}, "os-volume-type-access:is_public": true})
	}
	writeJSON(w, http.StatusOK, map[string]any{"volume_types": out})
}

func (s *Server) getVolumeQuota(w http.ResponseWriter, r *http.Request, tok *token) {
	target := r.PathValue("target")
	if target != tok.ProjectID && !tok.isAdmin() {
		s.writeError(w, svcVolume, errorf(http.StatusForbidden, "", "Policy doesn't allow volume_extension:quotas:show to be performed."))
		return
	}
	q := s.volumeQuotaOf(target)
	count, used := s.volumeUsage(target)
	vals := map[string][2]int{"volumes": {q.Volumes, count}, "gigabytes": {q.Gigabytes, used},
		"snapshots": {10, 0}, "backups": {10, 0}, "backup_gigabytes": {1000, 0}, "per_volume_gigabytes": {-1, 0},
		"groups": {10, 0}, "volumes___DEFAULT__": {-1, count}, "gigabytes___DEFAULT__": {-1, used}}
	usage := r.URL.Query().Get("usage")
	body := map[string]any{"id": target}
	for k, v := range vals {
		if usage == "true" || usage == "True" {
			body[k] = map[string]int{"limit": v[0], "in_use": v[1], "reserved": 0, "allocated": 0}
		} else {
			body[k] = v[0]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"quota_set": body})
}

func (s *Server) updateVolumeQuota(w http.ResponseWriter, r *http.Request, tok *token) {
	if !tok.isAdmin() {
		s.writeError(w, svcVolume, errorf(http.StatusForbidden, "", "Policy doesn't allow volume_extension:quotas:update to be performed."))
		return
	}
	target := r.PathValue("target")
	var req struct {
		QuotaSet map[string]any `json:"quota_set"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcVolume, aerr)
		return
	}
	q := s.volumeQuotaOf(target)
	for k, v := range req.QuotaSet {
		n, ok := v.(float64)
		if !ok {
			continue
		}
		switch k {
		case "volumes":
			q.Volumes = int(n)
		case "gigabytes":
			q.Gigabytes = int(n)
		}
	}
	s.st.Volume.Quotas[target] = &q
	writeJSON(w, http.StatusOK, map[string]any{"quota_set": map[string]any{"volumes": q.Volumes, "gigabytes": q.Gigabytes}})
}

func (s *Server) volumeLimits(w http.ResponseWriter, r *http.Request, tok *token) {
	q := s.volumeQuotaOf(tok.ProjectID)
	count, used := s.volumeUsage(tok.ProjectID)
	writeJSON(w, http.StatusOK, map[string]any{"limits": map[string]any{"rate": []any{}, "absolute": map[string]int{
		"maxTotalVolumes": q.Volumes, "maxTotalVolumeGigabytes": q.Gigabytes, "totalVolumesUsed": count,
		"totalGigabytesUsed": used, "maxTotalSnapshots": 10, "totalSnapshotsUsed": 0}}})
}
