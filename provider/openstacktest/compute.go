package openstacktest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Nova microversions this simulator speaks: those of Zed, the release the
// real-OpenStack test lane runs.
const (
	novaMinVersion = "2.1"
	novaMaxVersion = "2.93"
)

// computeHosts are the simulated hypervisors servers are scheduled on, so
// that (anti-)affinity server groups behave as on a small cloud.
var computeHosts = []string{"compute-0", "compute-1", "compute-2"}

// maxUserData is Nova's limit on the base64-encoded user_data.
const maxUserData = 65535

// computeState is Nova.
type computeState struct {
	Servers  map[string]*nServer      `json:"servers"`
	Flavors  map[string]*nFlavor      `json:"flavors"`
	Keypairs map[string]*nKeypair     `json:"keypairs"` // by user ID + "/" + name
	Groups   map[string]*nGroup       `json:"groups"`
	Quotas   map[string]*computeQuota `json:"quotas"`

	// failBoot holds the FailBoot knobs; they are not persisted.
	failBoot []*bootFailure
	// hookBusy marks servers whose spawn or action hook runs; a
	// transition waits for it. Not persisted: after a restart the spawn
	// hook runs again and actions settle by time.
	hookBusy map[string]bool
}

type nServer struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	ProjectID   string `json:"projectID"`
	UserID      string `json:"userID"`
	Status      string `json:"status"`
	TaskState   string `json:"taskState,omitempty"`
	FlavorID    string `json:"flavorID"`
	ImageID     string `json:"imageID,omitempty"`
	KeyName     string `json:"keyName,omitempty"`
	// KeyData is the key pair's public key when the server was created
	// (Nova keeps it with the instance).
	KeyData          string            `json:"keyData,omitempty"`
	AvailabilityZone string            `json:"availabilityZone"`
	Host             string            `json:"host,omitempty"`
	UserData         []byte            `json:"userData,omitempty"`
	Metadata         map[string]string `json:"metadata"`
	Tags             []string          `json:"tags"`
	SecurityGroups   []string          `json:"securityGroups"`
	Ports            []nServerPort     `json:"ports"`
	Volumes          []nServerVolume   `json:"volumes"`
	ConfigDrive      bool              `json:"configDrive"`
	GroupID          string            `json:"groupID,omitempty"`
	Fault            *nFault           `json:"fault,omitempty"`
	// FailWith, when set, is the fault the server gets instead of
	// becoming ACTIVE.
	FailWith   *nFault   `json:"failWith,omitempty"`
	ReadyAt    time.Time `json:"readyAt"`
	DeleteAt   time.Time `json:"deleteAt,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	LaunchedAt time.Time `json:"launchedAt,omitempty"`
	// NextStatus is the status a stop, start or reboot reaches at
	// TransitionAt.
	NextStatus   string    `json:"nextStatus,omitempty"`
	TransitionAt time.Time `json:"transitionAt,omitempty"`
	// Console is the server's console log, as os-getConsoleOutput shows it.
	Console []string `json:"console,omitempty"`
}

type nServerPort struct {
	ID string `json:"id"`
	// Created is set when Nova created the port (it deletes it with the
	// server); pre-created ports are only unbound.
	Created bool `json:"created"`
}

type nServerVolume struct {
	ID                  string `json:"id"`
	Device              string `json:"device"`
	DeleteOnTermination bool   `json:"deleteOnTermination"`
}

type nFault struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	// Details are shown to administrators, and to everyone when the code
	// is not 500, as Nova does.
	Details string    `json:"details,omitempty"`
	Created time.Time `json:"created"`
}

// bootFailure is one FailBoot knob.
type bootFailure struct {
	match   func(name string) bool
	message string
}

// FailBoot makes every server created from now on whose name matches go
// from BUILD to ERROR, with a fault carrying message, instead of ACTIVE,
// as when a hypervisor fails to spawn it. It returns a function that
// removes the knob. Servers already created are not affected.
func (s *Server) FailBoot(match func(name string) bool, message string) (remove func()) {
	f := &bootFailure{match: match, message: message}
	s.mu.Lock()
	s.st.Compute.failBoot = append(s.st.Compute.failBoot, f)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.st.Compute.failBoot {
			if x == f {
				s.st.Compute.failBoot = append(s.st.Compute.failBoot[:i], s.st.Compute.failBoot[i+1:]...)
				return
			}
		}
	}
}

func (s *Server) seedCompute() {
	c := &s.st.Compute
	c.Servers = map[string]*nServer{}
	c.Keypairs = map[string]*nKeypair{}
	c.Groups = map[string]*nGroup{}
	c.Quotas = map[string]*computeQuota{}
	c.Flavors = map[string]*nFlavor{}
	for _, f := range []nFlavor{
		{ID: "1", Name: "m1.tiny", VCPUs: 1, RAM: 512, Disk: 1},
		{ID: "2", Name: "m1.small", VCPUs: 1, RAM: 2048, Disk: 20},
		{ID: "3", Name: "m1.medium", VCPUs: 2, RAM: 4096, Disk: 40},
		{ID: "4", Name: "m1.large", VCPUs: 4, RAM: 8192, Disk: 80},
		{ID: "5", Name: "m1.xlarge", VCPUs: 8, RAM: 16384, Disk: 160},
	} {
		f := f
		c.Flavors[f.ID] = &f
	}
}

type novaHandler func(w http.ResponseWriter, r *http.Request, tok *token, v apiVersion)

// nova wraps a Nova handler with microversion negotiation.
func (s *Server) nova(h novaHandler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, tok *token) {
		v, aerr := s.microversion(w, r, "compute", novaMinVersion, novaMaxVersion)
		if aerr != nil {
			s.writeError(w, svcCompute, aerr)
			return
		}
		h(w, r, tok, v)
	}
}

func (s *Server) routesCompute() {
	pub := routeOpts{public: true}
	s.handle(svcCompute, "GET /compute/{$}", s.novaVersions, pub)
	s.handle(svcCompute, "GET /compute/v2.1/{$}", s.novaVersion, pub)
	p := "/compute/v2.1"
	s.handle(svcCompute, "POST "+p+"/servers", s.nova(s.createServer))
	s.handle(svcCompute, "GET "+p+"/servers", s.nova(s.listServers))
	s.handle(svcCompute, "GET "+p+"/servers/detail", s.nova(s.listServers))
	s.handle(svcCompute, "GET "+p+"/servers/{id}", s.nova(s.getServer))
	s.handle(svcCompute, "PUT "+p+"/servers/{id}", s.nova(s.updateServer))
	s.handle(svcCompute, "DELETE "+p+"/servers/{id}", s.nova(s.deleteServer))
	s.handle(svcCompute, "POST "+p+"/servers/{id}/action", s.nova(s.serverAction))
	s.handle(svcCompute, "GET "+p+"/servers/{id}/metadata", s.nova(s.getServerMetadata))
	s.handle(svcCompute, "POST "+p+"/servers/{id}/metadata", s.nova(s.updateServerMetadata))
	s.handle(svcCompute, "GET "+p+"/servers/{id}/os-volume_attachments", s.nova(s.listServerVolumes))
	s.handle(svcCompute, "POST "+p+"/servers/{id}/os-volume_attachments", s.nova(s.attachServerVolume))
	s.handle(svcCompute, "GET "+p+"/servers/{id}/os-volume_attachments/{volume}", s.nova(s.getServerVolume))
	s.handle(svcCompute, "DELETE "+p+"/servers/{id}/os-volume_attachments/{volume}", s.nova(s.detachServerVolume))
	s.handle(svcCompute, "GET "+p+"/servers/{id}/tags", s.nova(s.listServerTags))
	s.handle(svcCompute, "PUT "+p+"/servers/{id}/tags", s.nova(s.replaceServerTags))
	s.handle(svcCompute, "DELETE "+p+"/servers/{id}/tags", s.nova(s.deleteServerTags))
	s.handle(svcCompute, "GET "+p+"/servers/{id}/tags/{tag}", s.nova(s.checkServerTag))
	s.handle(svcCompute, "PUT "+p+"/servers/{id}/tags/{tag}", s.nova(s.addServerTag))
	s.handle(svcCompute, "DELETE "+p+"/servers/{id}/tags/{tag}", s.nova(s.deleteServerTag))
	s.routesComputeMisc()
}

func (s *Server) snapshotCompute() []Resource {
	c := &s.st.Compute
	var out []Resource
	for _, v := range c.Servers {
		out = append(out, Resource{Service: "compute", Kind: "server", ID: v.ID, Name: v.Name, ProjectID: v.ProjectID,
			Status: v.Status, Tags: append([]string(nil), v.Tags...)})
	}
	for _, f := range c.Flavors {
		out = append(out, Resource{Service: "compute", Kind: "flavor", ID: f.ID, Name: f.Name})
	}
	for _, k := range c.Keypairs {
		// Keypairs belong to a user, not a project; the ID is user/name.
		out = append(out, Resource{Service: "compute", Kind: "keypair", ID: k.UserID + "/" + k.Name, Name: k.Name})
	}
	for _, g := range c.Groups {
		out = append(out, Resource{Service: "compute", Kind: "server_group", ID: g.ID, Name: g.Name, ProjectID: g.ProjectID})
	}
	return out
}

// advanceCompute moves servers from BUILD to ACTIVE or ERROR and finishes
// deletions, firing the hooks.
func (s *Server) advanceCompute(now time.Time) bool {
	changed := false
	for _, v := range s.st.Compute.Servers {
		if !v.DeleteAt.IsZero() {
			if !now.Before(v.DeleteAt) {
				s.finishDelete(v)
				changed = true
			}
			continue
		}
		if v.NextStatus != "" {
			if !now.Before(v.TransitionAt) && !s.st.Compute.hookBusy[v.ID] {
				v.Status, v.NextStatus, v.TaskState, v.UpdatedAt = v.NextStatus, "", "", now
				changed = true
			}
			continue
		}
		if v.Status != "BUILD" || now.Before(v.ReadyAt) || s.st.Compute.hookBusy[v.ID] {
			continue
		}
		changed = true
		v.UpdatedAt, v.TaskState = now, ""
		if v.FailWith != nil {
			f := *v.FailWith
			f.Created = now
			v.Status, v.Fault, v.FailWith = "ERROR", &f, nil
			continue
		}
		if s.opts.hooks.OnSpawn != nil {
			s.runSpawn(v)
			continue
		}
		v.Status, v.LaunchedAt = "ACTIVE", now
		s.fireActive(v)
	}
	return changed
}

// finishDelete removes a server whose deletion is due: its Nova-created
// ports and delete_on_termination volumes go with it.
func (s *Server) finishDelete(v *nServer) {
	ev := s.bootEvent(v)
	for _, p := range v.Ports {
		if p.Created {
			s.netDeletePort(p.ID)
		} else {
			s.netUnbindPort(p.ID)
		}
	}
	for _, vol := range v.Volumes {
		s.volDetach(vol.ID, v.ID, vol.DeleteOnTermination)
	}
	delete(s.st.Compute.Servers, v.ID)
	if h := s.opts.hooks.OnDelete; h != nil {
		s.goHook(func(ctx context.Context) { h(ctx, ev) })
	}
}

func (s *Server) bootEvent(v *nServer) BootEvent {
	ev := BootEvent{ServerID: v.ID, Name: v.Name, ProjectID: v.ProjectID, UserData: append([]byte(nil), v.UserData...),
		Hostname: sanitizeHostname(v.Name, v.ID), KeyName: v.KeyName, PublicKey: v.KeyData,
		Metadata: map[string]string{}, Tags: append([]string(nil), v.Tags...), Addresses: map[string][]string{}}
	for k, val := range v.Metadata {
		ev.Metadata[k] = val
	}
	ns := s.nst()
	for _, p := range v.Ports {
		info, ok := s.netPort(p.ID)
		if !ok {
			continue
		}
		ev.Addresses[info.NetworkName] = append(ev.Addresses[info.NetworkName], info.FixedIPs...)
		ev.FloatingIPs = append(ev.FloatingIPs, info.FloatingIPs...)
		bp := BootPort{ID: info.ID, NetworkID: info.NetworkID, NetworkName: info.NetworkName, MACAddress: info.MACAddress,
			FloatingIPs: append([]string(nil), info.FloatingIPs...)}
		for _, f := range ns.Ports[p.ID].FixedIPs {
			fi := BootFixedIP{Address: f.IPAddress, SubnetID: f.SubnetID}
			if sub := ns.Subnets[f.SubnetID]; sub != nil {
				fi.CIDR, fi.GatewayIP = sub.CIDR, sub.GatewayIP
			}
			bp.FixedIPs = append(bp.FixedIPs, fi)
		}
		ev.Ports = append(ev.Ports, bp)
	}
	return ev
}

func (s *Server) novaVersionDoc() map[string]any {
	return map[string]any{"id": "v2.1", "status": "CURRENT", "version": novaMaxVersion, "min_version": novaMinVersion,
		"updated": "2013-07-23T11:33:21Z",
		"links":   []map[string]string{{"rel": "self", "href": s.URL + "/compute/v2.1/"}},
		"media-types": []map[string]string{{"base": "application/json",
			"type": "application/vnd.openstack.compute+json;version=2.1"}}}
}

func (s *Server) novaVersions(w http.ResponseWriter, r *http.Request, _ *token) {
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{s.novaVersionDoc()}})
}

func (s *Server) novaVersion(w http.ResponseWriter, r *http.Request, _ *token) {
	writeJSON(w, http.StatusOK, map[string]any{"version": s.novaVersionDoc()})
}

// serverFor finds the server in the path as tok sees it, or writes a 404.
func (s *Server) serverFor(w http.ResponseWriter, r *http.Request, tok *token) *nServer {
	id := r.PathValue("id")
	v, ok := s.st.Compute.Servers[id]
	if !ok || (v.ProjectID != tok.ProjectID && !tok.isAdmin()) {
		s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Instance %s could not be found.", id))
		return nil
	}
	return v
}

// serverCreate is the body of POST /servers.
type serverCreate struct {
	Server *struct {
		Name             *string           `json:"name"`
		Description      *string           `json:"description"`
		ImageRef         string            `json:"imageRef"`
		FlavorRef        string            `json:"flavorRef"`
		KeyName          string            `json:"key_name"`
		UserData         *string           `json:"user_data"`
		AvailabilityZone string            `json:"availability_zone"`
		Metadata         map[string]string `json:"metadata"`
		Tags             []string          `json:"tags"`
		ConfigDrive      any               `json:"config_drive"`
		SecurityGroups   []struct {
			Name string `json:"name"`
		} `json:"security_groups"`
		Networks    any          `json:"networks"`
		BlockDevice []bdmRequest `json:"block_device_mapping_v2"`
		MinCount    int          `json:"min_count"`
		MaxCount    int          `json:"max_count"`
	} `json:"server"`
	Hints map[string]any `json:"os:scheduler_hints"`
}

type bdmRequest struct {
	SourceType          string   `json:"source_type"`
	DestinationType     string   `json:"destination_type"`
	UUID                string   `json:"uuid"`
	BootIndex           *flexInt `json:"boot_index"`
	VolumeSize          flexInt  `json:"volume_size"`
	VolumeType          string   `json:"volume_type"`
	DeleteOnTermination flexBool `json:"delete_on_termination"`
}

// flexInt accepts a number or a numeric string, as Nova's schema does
// (the openstack CLI sends boot_index as a string).
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	n, err := unmarshalFlex(b, strconv.Atoi, "an integer")
	if err == nil {
		*f = flexInt(n)
	}
	return err
}

// flexBool accepts a boolean or one of the strings Nova takes for one.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	v, err := unmarshalFlex(b, strconv.ParseBool, "a boolean")
	if err == nil {
		*f = flexBool(v)
	}
	return err
}

// unmarshalFlex reads b as a T, or as a string that parse turns into one;
// what names T in the error.
func unmarshalFlex[T any](b []byte, parse func(string) (T, error), what string) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err == nil {
		return v, nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return v, err
	}
	v, err := parse(str)
	if err != nil {
		return v, fmt.Errorf("%q is not %s", str, what)
	}
	return v, nil
}

type networkRequest struct {
	UUID    string `json:"uuid"`
	Port    string `json:"port"`
	FixedIP string `json:"fixed_ip"`
	Tag     string `json:"tag"`
}

// uuidLike reports whether v is a UUID as oslo's is_uuid_like reads one:
// 32 hex digits, with or without the four hyphens.
func uuidLike(v string) bool {
	if len(v) == 36 {
		for _, i := range []int{8, 13, 18, 23} {
			if v[i] != '-' {
				return false
			}
		}
		v = strings.ReplaceAll(v, "-", "")
	}
	if len(v) != 32 {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "", format, args...)
}

func (s *Server) createServer(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	var req serverCreate
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	v, aerr := s.buildServers(&req, tok, mv)
	if aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	sgs := []map[string]string{}
	for _, g := range v.SecurityGroups {
		sgs = append(sgs, map[string]string{"name": g})
	}
	w.Header().Set("Location", s.URL+"/compute/v2.1/servers/"+v.ID)
	writeJSON(w, http.StatusAccepted, map[string]any{"server": map[string]any{
		"id": v.ID, "links": s.serverLinks(v.ID), "OS-DCF:diskConfig": "MANUAL", "security_groups": sgs,
		"adminPass": s.randHex(6)}})
}

// buildServers creates min_count to max_count servers, as many as the
// quota allows, named name-1, name-2, ... when more than one; it returns
// the first. A failure part way removes the servers already made.
func (s *Server) buildServers(req *serverCreate, tok *token, mv apiVersion) (*nServer, *apiError) {
	in := req.Server
	// Nova's schema takes a UUID or "" as imageRef, before looking it up.
	if in != nil && in.ImageRef != "" && !uuidLike(in.ImageRef) {
		return nil, badRequest("Invalid input for field/attribute imageRef. Value: %s. '%s' is not valid under any of the given schemas", in.ImageRef, in.ImageRef)
	}
	if in == nil || in.Name == nil {
		return s.buildServer(req, tok, mv)
	}
	lo := max(in.MinCount, 1)
	hi := in.MaxCount
	if hi == 0 {
		hi = lo
	}
	if in.MinCount < 0 || in.MaxCount < 0 || hi < lo {
		return nil, badRequest("min_count must be <= max_count")
	}
	if hi == 1 {
		return s.buildServer(req, tok, mv)
	}
	if nets, ok := in.Networks.([]any); ok {
		for _, raw := range nets {
			if m, ok := raw.(map[string]any); ok && (m["port"] != nil || m["fixed_ip"] != nil) {
				return nil, badRequest("Unable to launch multiple instances with a single configured port ID or fixed IP. Please launch your instance one by one with different ports.")
			}
		}
	}
	// As many as the instance, core and RAM quotas allow, at least lo.
	count := hi
	if f := s.st.Compute.Flavors[in.FlavorRef]; f != nil {
		q, u := s.computeQuotaOf(tok.ProjectID), s.computeUsage(tok.ProjectID)
		fits := func(n int) bool {
			return (q.Instances < 0 || u.instances+n <= q.Instances) && (q.Cores < 0 || u.cores+n*f.VCPUs <= q.Cores) &&
				(q.RAM < 0 || u.ram+n*f.RAM <= q.RAM)
		}
		for count > lo && !fits(count) {
			count--
		}
		if !fits(count) {
			return nil, errorf(http.StatusForbidden, "", "Quota exceeded for instances: Requested %d, but already used %d of %d instances",
				lo, u.instances, q.Instances)
		}
	}
	base := *in.Name
	var made []*nServer
	for i := 1; i <= count; i++ {
		name := fmt.Sprintf("%s-%d", base, i)
		in.Name = &name
		v, aerr := s.buildServer(req, tok, mv)
		if aerr != nil {
			for _, m := range made {
				s.finishDelete(m)
			}
			return nil, aerr
		}
		made = append(made, v)
	}
	return made[0], nil
}

// buildServer validates a create request, creates the server's ports and
// volumes (undoing them on failure) and records the server in BUILD.
func (s *Server) buildServer(req *serverCreate, tok *token, mv apiVersion) (*nServer, *apiError) {
	c := &s.st.Compute
	in := req.Server
	if in == nil {
		return nil, badRequest("Invalid input for field/attribute server. Value: None. None is not of type 'object'")
	}
	switch {
	case in.Name == nil:
		return nil, badRequest("Invalid input for field/attribute server. Value: {...}. 'name' is a required property")
	case *in.Name == "":
		return nil, badRequest("Invalid input for field/attribute name. Value: . '' is too short")
	case len(*in.Name) > 255:
		return nil, badRequest("Invalid input for field/attribute name. Value: %s. '%s' is too long", *in.Name, *in.Name)
	case strings.TrimSpace(*in.Name) != *in.Name:
		return nil, badRequest("Invalid input for field/attribute name. Value: %s. The name can not start or end with whitespace", *in.Name)
	}
	if len(in.Tags) > 0 && !mv.atLeast(2, 52) {
		return nil, badRequest("Invalid input for field/attribute server. Value: %v. Additional properties are not allowed ('tags' was unexpected)", "{...}")
	}
	if in.Description != nil && !mv.atLeast(2, 19) {
		return nil, badRequest("Invalid input for field/attribute server. Additional properties are not allowed ('description' was unexpected)")
	}
	if aerr := validTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	if len(in.Metadata) > 128 {
		return nil, errorf(http.StatusForbidden, "", "Quota exceeded for metadata_items: Requested %d, but already used 0 of 128 metadata_items", len(in.Metadata))
	}
	flavor, ok := c.Flavors[in.FlavorRef]
	if !ok {
		for _, f := range c.Flavors {
			if s.URL+"/compute/v2.1/flavors/"+f.ID == in.FlavorRef {
				flavor, ok = f, true
			}
		}
	}
	if !ok {
		return nil, badRequest("Flavor %s could not be found.", in.FlavorRef)
	}
	var userData []byte
	if in.UserData != nil {
		if len(*in.UserData) > maxUserData {
			return nil, badRequest("Invalid input for field/attribute user_data. Value: (%d characters). is too long (user_data is limited to %d characters of base64)", len(*in.UserData), maxUserData)
		}
		var err error
		userData, err = base64.StdEncoding.DecodeString(*in.UserData)
		if err != nil {
			return nil, badRequest("Invalid input for field/attribute user_data. Value: (%d characters). It is not a 'base64'", len(*in.UserData))
		}
	}
	az := in.AvailabilityZone
	if az == "" {
		az = "nova"
	}
	if az != "nova" {
		return nil, badRequest("The requested availability zone is not available")
	}
	if in.KeyName != "" {
		if _, ok := c.Keypairs[tok.UserID+"/"+in.KeyName]; !ok {
			return nil, badRequest("Invalid key_name provided.")
		}
	}
	configDrive := false
	switch cd := in.ConfigDrive.(type) {
	case bool:
		configDrive = cd
	case string:
		configDrive = strings.EqualFold(cd, "true") || cd == "1"
	}

	// Boot source: imageRef, or a block device with boot_index 0.
	var image *gImage
	bootFromVolume := false
	for _, b := range in.BlockDevice {
		if b.BootIndex != nil && int(*b.BootIndex) == 0 && b.DestinationType == "volume" {
			bootFromVolume = true
		}
		if b.BootIndex != nil && int(*b.BootIndex) == 0 && b.SourceType == "image" && b.DestinationType != "volume" && in.ImageRef == "" {
			in.ImageRef = b.UUID
		}
	}
	if in.ImageRef != "" && !bootFromVolume {
		img, ok := s.findImage(in.ImageRef, tok)
		if !ok {
			return nil, badRequest("Can not find requested image")
		}
		if img.Status != "active" {
			return nil, badRequest("Image %s is not active.", img.ID)
		}
		if flavor.Disk > 0 && img.MinDisk > flavor.Disk {
			return nil, badRequest("Flavor's disk is too small for requested image. Flavor disk is %d bytes, image is %d bytes.", flavor.Disk<<30, img.MinDisk<<30)
		}
		image = img
	} else if !bootFromVolume && len(in.BlockDevice) == 0 {
		// With block devices but none to boot from, the boot sequence
		// check below refuses the request.
		return nil, badRequest("Missing imageRef attribute")
	}

	// Server group and scheduling.
	var group *nGroup
	if gid, ok := req.Hints["group"].(string); ok && gid != "" {
		g, ok := c.Groups[gid]
		if !ok || (g.ProjectID != tok.ProjectID && !tok.isAdmin()) {
			return nil, badRequest("Instance group %s could not be found.", gid)
		}
		if len(g.members(s)) >= s.computeQuotaOf(tok.ProjectID).ServerGroupMembers {
			return nil, errorf(http.StatusForbidden, "", "Quota exceeded, too many servers in group")
		}
		group = g
	}

	// Quotas: instances, cores, ram.
	q := s.computeQuotaOf(tok.ProjectID)
	used := s.computeUsage(tok.ProjectID)
	for _, check := range []struct {
		name       string
		req, inUse int
		limit      int
	}{
		{"instances", 1, used.instances, q.Instances},
		{"cores", flavor.VCPUs, used.cores, q.Cores},
		{"ram", flavor.RAM, used.ram, q.RAM},
	} {
		if check.limit >= 0 && check.inUse+check.req > check.limit {
			return nil, errorf(http.StatusForbidden, "", "Quota exceeded for %s: Requested %d, but already used %d of %d %s",
				check.name, check.req, check.inUse, check.limit, check.name)
		}
	}

	// Security groups (applied to the ports Nova creates).
	sgNames := []string{}
	var sgIDs []string
	for _, g := range in.SecurityGroups {
		id, aerr := s.netSecurityGroupID(tok.ProjectID, g.Name)
		if aerr != nil {
			if aerr.Status == http.StatusConflict {
				return nil, errorf(http.StatusConflict, "", "Multiple security groups found matching '%s'. Use an ID to be more specific.", g.Name)
			}
			return nil, badRequest("Unable to find security_group with name or id '%s'", g.Name)
		}
		sgNames, sgIDs = append(sgNames, g.Name), append(sgIDs, id)
	}
	if len(sgNames) == 0 {
		sgNames = []string{"default"}
	}

	// Networks.
	var nets []networkRequest
	switch n := in.Networks.(type) {
	case nil:
		if mv.atLeast(2, 37) {
			return nil, badRequest("Invalid input for field/attribute server. Value: {...}. 'networks' is a required property")
		}
		// Before 2.37 Nova boots on the one network the project has, or on
		// none when it has none.
		avail := s.availableNetworks(tok.ProjectID)
		if len(avail) > 1 {
			return nil, errorf(http.StatusConflict, "", "Multiple possible networks found, use a Network ID to be more specific.")
		}
		for _, id := range avail {
			nets = append(nets, networkRequest{UUID: id})
		}
	case string:
		switch n {
		case "none":
			if !mv.atLeast(2, 37) {
				return nil, badRequest("Invalid input for field/attribute networks. Value: none. 'none' is not of type 'array'")
			}
		case "auto":
			if !mv.atLeast(2, 37) {
				return nil, badRequest("Invalid input for field/attribute networks. Value: auto. 'auto' is not of type 'array'")
			}
			// "auto" uses the project's one network; the simulator has
			// no auto-allocated topology to create one.
			switch avail := s.availableNetworks(tok.ProjectID); len(avail) {
			case 0:
				return nil, badRequest("Unable to automatically allocate a network for project %s", tok.ProjectID)
			case 1:
				nets = append(nets, networkRequest{UUID: avail[0]})
			default:
				return nil, errorf(http.StatusConflict, "", "Multiple possible networks found, use a Network ID to be more specific.")
			}
		default:
			return nil, badRequest("Invalid input for field/attribute networks. Value: %s. '%s' is not one of ['none', 'auto']", n, n)
		}
	case []any:
		for _, raw := range n {
			m, ok := raw.(map[string]any)
			if !ok {
				return nil, badRequest("Invalid input for field/attribute networks. Value: %v. It is not an object", raw)
			}
			var nr networkRequest
			nr.UUID, _ = m["uuid"].(string)
			nr.Port, _ = m["port"].(string)
			nr.FixedIP, _ = m["fixed_ip"].(string)
			nr.Tag, _ = m["tag"].(string)
			if nr.UUID == "" && nr.Port == "" {
				return nil, badRequest("Bad networks format: network uuid is not in proper format (%s)", nr.UUID)
			}
			nets = append(nets, nr)
		}
	default:
		return nil, badRequest("Invalid input for field/attribute networks. Value: %v. It is not an array", n)
	}
	for _, nr := range nets {
		if nr.Port == "" {
			continue
		}
		info, ok := s.netPort(nr.Port)
		if !ok {
			return nil, badRequest("Port id %s could not be found.", nr.Port)
		}
		if info.DeviceID != "" {
			return nil, errorf(http.StatusConflict, "", "Port %s is still in use.", nr.Port)
		}
	}

	// Block devices: check them all before creating anything. The boot
	// indexes (those >= 0) must run 0, 1, 2...: imageRef does not stand
	// for index 0 once block_device_mapping_v2 is given.
	if len(in.BlockDevice) > 0 {
		var boot []int
		for _, b := range in.BlockDevice {
			if b.BootIndex != nil && *b.BootIndex >= 0 {
				boot = append(boot, int(*b.BootIndex))
			}
		}
		sort.Ints(boot)
		valid := len(boot) > 0
		for i, n := range boot {
			valid = valid && i == n
		}
		if !valid {
			return nil, badRequest("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.")
		}
	}
	for _, b := range in.BlockDevice {
		switch {
		case b.SourceType == "image" && b.DestinationType == "volume":
			if _, ok := s.findImage(b.UUID, tok); !ok {
				return nil, badRequest("Can not find requested image")
			}
			if b.VolumeSize <= 0 {
				return nil, badRequest("Images with destination_type 'volume' need to have a non-zero size specified")
			}
		case b.SourceType == "blank" && b.DestinationType == "volume":
			if b.VolumeSize <= 0 {
				return nil, badRequest("Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size")
			}
		case b.SourceType == "volume" && b.DestinationType == "volume":
			vol, ok := s.st.Volume.Volumes[b.UUID]
			if !ok || (vol.ProjectID != tok.ProjectID && !tok.isAdmin()) {
				return nil, badRequest("Block Device Mapping is Invalid: failed to get volume %s.", b.UUID)
			}
			if vol.Status != "available" {
				return nil, badRequest("Block Device Mapping is Invalid: Volume %s status must be available, but current status is: %s.", b.UUID, vol.Status)
			}
		case b.SourceType == "image" && (b.DestinationType == "local" || b.DestinationType == ""):
		default:
			return nil, badRequest("Block Device Mapping is Invalid: source_type %q with destination_type %q is not supported.", b.SourceType, b.DestinationType)
		}
	}

	now := s.now()
	v := &nServer{ID: s.newID(), Name: *in.Name, ProjectID: tok.ProjectID, UserID: tok.UserID, Status: "BUILD",
		TaskState: "scheduling", FlavorID: flavor.ID, KeyName: in.KeyName, AvailabilityZone: az, UserData: userData,
		Metadata: map[string]string{}, Tags: append([]string{}, in.Tags...), SecurityGroups: sgNames,
		ConfigDrive: configDrive, ReadyAt: now.Add(s.opts.bootDelay), CreatedAt: now, UpdatedAt: now}
	if in.Description != nil {
		v.Description = *in.Description
	}
	if kp := c.Keypairs[tok.UserID+"/"+in.KeyName]; in.KeyName != "" && kp != nil {
		v.KeyData = kp.PublicKey
	}
	if image != nil {
		v.ImageID = image.ID
	}
	for k, val := range in.Metadata {
		v.Metadata[k] = val
	}

	// Create ports and volumes; undo them all if one fails: what this
	// request created is deleted, what existed is released.
	createdVols := map[string]bool{}
	undo := func() {
		for _, p := range v.Ports {
			if p.Created {
				s.netDeletePort(p.ID)
			} else {
				s.netUnbindPort(p.ID)
			}
		}
		for _, vol := range v.Volumes {
			s.volDetach(vol.ID, v.ID, createdVols[vol.ID])
		}
		for id := range createdVols {
			s.volDetach(id, v.ID, true)
		}
	}
	for i, nr := range nets {
		if nr.Port != "" {
			if aerr := s.netBindPort(nr.Port, v.ID, "compute:"+az); aerr != nil {
				undo()
				return nil, errorf(http.StatusConflict, "", "Port %s is still in use.", nr.Port)
			}
			v.Ports = append(v.Ports, nServerPort{ID: nr.Port})
			continue
		}
		spec := portSpec{ProjectID: tok.ProjectID, NetworkID: nr.UUID, SecurityGroups: sgIDs,
			DeviceID: v.ID, DeviceOwner: "compute:" + az}
		if nr.FixedIP != "" {
			spec.FixedIPs = []fixedIPSpec{{IPAddress: nr.FixedIP}}
		}
		info, aerr := s.netCreatePort(spec)
		if aerr != nil && aerr.Type == "InvalidIpForNetwork" && nr.FixedIP != "" {
			// Nova takes the request; the build fails on the compute
			// host, where the port is made.
			v.FailWith = &nFault{Code: 500, Message: fmt.Sprintf("Build of instance %s aborted: Invalid input received: Fixed IP %s is not a valid ip address for network %s.", v.ID, nr.FixedIP, nr.UUID)}
			continue
		}
		if aerr != nil {
			undo()
			switch {
			case aerr.Status == http.StatusNotFound:
				return nil, badRequest("Network %s could not be found.", nr.UUID)
			case aerr.Status == http.StatusConflict && aerr.Type == "OverQuota":
				return nil, errorf(http.StatusForbidden, "", "Maximum number of ports exceeded")
			case aerr.Status == http.StatusConflict:
				// Nova looks the address up first and names the device of
				// the port holding it ("" for an unbound port).
				return nil, badRequest("Fixed IP address %s is already in use on instance %s.", nr.FixedIP, s.deviceWithIP(nr.UUID, nr.FixedIP))
			}
			return nil, badRequest("Network %s (request %d): %s", nr.UUID, i, aerr.Message)
		}
		v.Ports = append(v.Ports, nServerPort{ID: info.ID, Created: true})
	}
	// The same volume mapped twice passes the API; the build fails when
	// Cinder refuses the second connector, and the compute host undoes
	// the mappings: the volumes it made are deleted, the caller's stay
	// available, listed on the server (without delete_on_termination).
	// The simulator makes no volume for such a server.
	mapped, twice := map[string]bool{}, false
	for _, b := range in.BlockDevice {
		if b.SourceType != "volume" || b.DestinationType != "volume" {
			continue
		}
		if mapped[b.UUID] && !twice {
			twice = true
			v.FailWith = &nFault{Code: 500, Message: fmt.Sprintf("Build of instance %s aborted: Unable to update attachment.(Invalid volume: duplicate connectors detected on volume %s). (HTTP 500) (Request-ID: req-%s)", v.ID, b.UUID, s.newID())}
		}
		mapped[b.UUID] = true
	}
	// The root disk is vda; other volumes follow in order.
	next := 'b'
	listed := map[string]bool{}
	for _, b := range in.BlockDevice {
		if b.DestinationType != "volume" {
			continue
		}
		dev := "/dev/vda"
		if b.BootIndex == nil || int(*b.BootIndex) != 0 {
			dev = "/dev/vd" + string(next)
			next++
		}
		volID := b.UUID
		if twice {
			if b.SourceType == "volume" && !bool(b.DeleteOnTermination) && !listed[volID] {
				listed[volID] = true
				v.Volumes = append(v.Volumes, nServerVolume{ID: volID, Device: dev})
			}
			continue
		}
		if b.SourceType != "volume" {
			spec := volumeSpec{ProjectID: tok.ProjectID, UserID: tok.UserID, Size: int(b.VolumeSize), VolumeType: b.VolumeType}
			if b.SourceType == "image" {
				spec.ImageID = b.UUID
			}
			vol, aerr := s.volCreate(spec, tok)
			if aerr != nil {
				undo()
				if aerr.Status == http.StatusRequestEntityTooLarge {
					return nil, errorf(http.StatusForbidden, "", "Volume resource quota exceeded: %s", aerr.Message)
				}
				return nil, badRequest("Block Device Mapping is Invalid: %s", aerr.Message)
			}
			volID = vol.ID
			createdVols[volID] = true
			if vol.ReadyAt.After(v.ReadyAt) {
				v.ReadyAt = vol.ReadyAt.Add(s.opts.bootDelay)
			}
		}
		if aerr := s.volAttach(volID, v.ID, dev); aerr != nil {
			undo()
			return nil, badRequest("Block Device Mapping is Invalid: %s", aerr.Message)
		}
		v.Volumes = append(v.Volumes, nServerVolume{ID: volID, Device: dev, DeleteOnTermination: bool(b.DeleteOnTermination)})
	}

	// Schedule: pick a host that honours the group's policy.
	host, ok := s.scheduleHost(group, v.ID)
	if group != nil {
		v.GroupID = group.ID
		group.Members = append(group.Members, v.ID)
	}
	if !ok {
		v.FailWith = &nFault{Code: 500, Message: "No valid host was found. There are not enough hosts available."}
	} else {
		v.Host = host
	}
	for _, f := range c.failBoot {
		if v.FailWith == nil && f.match(v.Name) {
			v.FailWith = &nFault{Code: 500, Message: f.message}
		}
	}
	c.Servers[v.ID] = v
	return v, nil
}

// deviceWithIP is the device of the port on the network that holds ip.
func (s *Server) deviceWithIP(networkID, ip string) string {
	for _, p := range s.nst().Ports {
		if p.NetworkID != networkID {
			continue
		}
		for _, f := range p.FixedIPs {
			if f.IPAddress == ip {
				return p.DeviceID
			}
		}
	}
	return ""
}

// availableNetworks are the networks Nova would pick from when none is
// requested: the project's own and shared ones, not external ones.
func (s *Server) availableNetworks(projectID string) []string {
	var ids []string
	for _, n := range s.nst().Networks {
		if !n.External && (n.ProjectID == projectID || n.Shared) {
			ids = append(ids, n.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// scheduleHost picks the least loaded host that the group's policy allows:
// anti-affinity puts at most max_server_per_host (1 by default) members on
// a host, affinity keeps members on one host, the soft policies prefer.
func (s *Server) scheduleHost(g *nGroup, self string) (string, bool) {
	load := map[string]int{}
	for _, v := range s.st.Compute.Servers {
		if v.Host != "" {
			load[v.Host]++
		}
	}
	onHost := map[string]int{}
	if g != nil {
		for _, id := range g.members(s) {
			if m := s.st.Compute.Servers[id]; m != nil && m.Host != "" && id != self {
				onHost[m.Host]++
			}
		}
	}
	candidates := append([]string(nil), computeHosts...)
	sort.SliceStable(candidates, func(i, j int) bool { return load[candidates[i]] < load[candidates[j]] })
	if g == nil {
		return candidates[0], true
	}
	var keep []string
	for _, h := range candidates {
		switch g.Policy {
		case "anti-affinity":
			if onHost[h] < max(g.MaxServerPerHost, 1) {
				keep = append(keep, h)
			}
		case "affinity":
			if len(onHost) == 0 || onHost[h] > 0 {
				keep = append(keep, h)
			}
		default:
			keep = append(keep, h)
		}
	}
	switch g.Policy {
	case "soft-anti-affinity":
		sort.SliceStable(keep, func(i, j int) bool { return onHost[keep[i]] < onHost[keep[j]] })
	case "soft-affinity":
		sort.SliceStable(keep, func(i, j int) bool { return onHost[keep[i]] > onHost[keep[j]] })
	}
	if len(keep) == 0 {
		return "", false
	}
	return keep[0], true
}

func (s *Server) serverLinks(id string) []map[string]string {
	return []map[string]string{
		{"rel": "self", "href": s.URL + "/compute/v2.1/servers/" + id},
		{"rel": "bookmark", "href": s.URL + "/compute/servers/" + id},
	}
}

const novaTime = "2006-01-02T15:04:05Z"

// serverBody renders a server in the shape of the microversion.
func (s *Server) serverBody(v *nServer, tok *token, mv apiVersion) map[string]any {
	addresses := map[string][]map[string]any{}
	// Nova fills the addresses (its network info cache) at the end of the
	// build: a BUILD server shows none, even once its ports exist.
	ports := v.Ports
	if v.Status == "BUILD" {
		ports = nil
	}
	for _, p := range ports {
		info, ok := s.netPort(p.ID)
		if !ok {
			continue
		}
		for _, ip := range info.FixedIPs {
			ver := 4
			if strings.Contains(ip, ":") {
				ver = 6
			}
			addresses[info.NetworkName] = append(addresses[info.NetworkName], map[string]any{
				"version": ver, "addr": ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": info.MACAddress})
		}
		for _, ip := range info.FloatingIPs {
			addresses[info.NetworkName] = append(addresses[info.NetworkName], map[string]any{
				"version": 4, "addr": ip, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": info.MACAddress})
		}
	}
	var image any = ""
	if v.ImageID != "" {
		image = map[string]any{"id": v.ImageID, "links": []map[string]string{{"rel": "bookmark", "href": s.URL + "/compute/images/" + v.ImageID}}}
	}
	f := s.st.Compute.Flavors[v.FlavorID]
	var flavor any = map[string]any{"id": v.FlavorID, "links": []map[string]string{{"rel": "bookmark", "href": s.URL + "/compute/flavors/" + v.FlavorID}}}
	if mv.atLeast(2, 47) && f != nil {
		flavor = map[string]any{"vcpus": f.VCPUs, "ram": f.RAM, "disk": f.Disk, "ephemeral": 0, "swap": 0,
			"original_name": f.Name, "extra_specs": map[string]string{}}
	}
	vmState, power := "building", 0
	switch v.Status {
	case "ACTIVE", "REBOOT", "HARD_REBOOT":
		vmState, power = "active", 1
	case "SHUTOFF":
		vmState, power = "stopped", 4
	case "ERROR":
		vmState = "error"
	}
	var taskState any
	if v.TaskState != "" {
		taskState = v.TaskState
	}
	var launched any
	if !v.LaunchedAt.IsZero() {
		launched = v.LaunchedAt.Format(cinderTime)
	}
	vols := []map[string]any{}
	for _, vol := range v.Volumes {
		m := map[string]any{"id": vol.ID}
		if mv.atLeast(2, 3) {
			m["delete_on_termination"] = vol.DeleteOnTermination
		}
		vols = append(vols, m)
	}
	sgs := []map[string]string{}
	for _, g := range v.SecurityGroups {
		sgs = append(sgs, map[string]string{"name": g})
	}
	hostID := ""
	if host := s.serverHost(v); host != "" {
		h := sha256.Sum224([]byte(v.ProjectID + host))
		hostID = hex.EncodeToString(h[:])
	}
	configDrive := ""
	if v.ConfigDrive {
		configDrive = "True"
	}
	md := map[string]string{}
	for k, val := range v.Metadata {
		md[k] = val
	}
	var keyName any
	if v.KeyName != "" {
		keyName = v.KeyName
	}
	b := map[string]any{
		"id": v.ID, "name": v.Name, "status": v.Status, "tenant_id": v.ProjectID, "user_id": v.UserID,
		"metadata": md, "hostId": hostID, "image": image, "flavor": flavor,
		"created": v.CreatedAt.Format(novaTime), "updated": v.UpdatedAt.Format(novaTime),
		"addresses": addresses, "accessIPv4": "", "accessIPv6": "", "links": s.serverLinks(v.ID),
		"OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": v.AvailabilityZone,
		"config_drive": configDrive, "key_name": keyName, "OS-SRV-USG:launched_at": launched,
		"OS-SRV-USG:terminated_at": nil, "OS-EXT-STS:task_state": taskState, "OS-EXT-STS:vm_state": vmState,
		"OS-EXT-STS:power_state": power, "os-extended-volumes:volumes_attached": vols,
	}
	// Nova reads the groups from the server's Neutron ports: a server with
	// no port shows none, not even the key.
	if len(v.Ports) > 0 {
		b["security_groups"] = sgs
	}
	if v.Status == "BUILD" && (v.TaskState == "" || v.TaskState == "scheduling") {
		phase := s.buildPhase(v)
		if phase == "request" {
			phase = "scheduling"
		}
		b["OS-EXT-STS:task_state"] = phase
	}
	// Nova shows progress only in these statuses (not SHUTOFF, ERROR, ...).
	switch v.Status {
	case "ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING":
		b["progress"] = 0
	}
	if v.Fault != nil {
		f := map[string]any{"code": v.Fault.Code, "message": v.Fault.Message, "created": v.Fault.Created.Format(novaTime)}
		if v.Fault.Details != "" && (tok.isAdmin() || v.Fault.Code != 500) {
			f["details"] = v.Fault.Details
		}
		b["fault"] = f
	}
	if mv.atLeast(2, 9) {
		b["locked"] = false
	}
	if mv.atLeast(2, 19) {
		b["description"] = nilIfEmpty(v.Description)
	}
	if mv.atLeast(2, 26) {
		b["tags"] = sortedTags(v.Tags)
	}
	if mv.atLeast(2, 71) {
		groups := []string{}
		if v.GroupID != "" {
			groups = append(groups, v.GroupID)
		}
		b["server_groups"] = groups
	}
	if tok.isAdmin() {
		b["OS-EXT-SRV-ATTR:host"] = nilIfEmpty(s.serverHost(v))
		b["OS-EXT-SRV-ATTR:hypervisor_hostname"] = nilIfEmpty(s.serverHost(v))
		b["OS-EXT-SRV-ATTR:instance_name"] = "instance-" + v.ID[:8]
		if mv.atLeast(2, 3) {
			b["OS-EXT-SRV-ATTR:hostname"] = v.Name
			var ud any
			if v.UserData != nil {
				ud = base64.StdEncoding.EncodeToString(v.UserData)
			}
			b["OS-EXT-SRV-ATTR:user_data"] = ud
		}
	}
	return b
}

func (s *Server) getServer(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if v := s.serverFor(w, r, tok); v != nil {
		writeJSON(w, http.StatusOK, map[string]any{"server": s.serverBody(v, tok, mv)})
	}
}

func (s *Server) updateServer(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.serverFor(w, r, tok)
	if v == nil {
		return
	}
	var req struct {
		Server struct {
			Name        *string `json:"name"`
			Description *string `json:"description"`
		} `json:"server"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	if n := req.Server.Name; n != nil {
		if strings.TrimSpace(*n) == "" || len(*n) > 255 {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute name. The name must be 1 to 255 characters"))
			return
		}
		v.Name = *n
	}
	if d := req.Server.Description; d != nil {
		if !mv.atLeast(2, 19) {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute server. Additional properties are not allowed ('description' was unexpected)"))
			return
		}
		v.Description = *d
	}
	v.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, map[string]any{"server": s.serverBody(v, tok, mv)})
}

func (s *Server) deleteServer(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.serverFor(w, r, tok)
	if v == nil {
		return
	}
	if v.DeleteAt.IsZero() {
		// Nova deletes asynchronously: the server is visible with
		// task_state "deleting" for a moment.
		v.TaskState, v.DeleteAt, v.UpdatedAt = "deleting", s.now().Add(s.opts.bootDelay/2), s.now()
	}
	w.WriteHeader(http.StatusNoContent)
}

// serverAction handles os-stop, os-start and reboot: the server passes
// through a task state and settles after half the boot delay.
func (s *Server) serverAction(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.serverFor(w, r, tok)
	if v == nil {
		return
	}
	var req map[string]json.RawMessage
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	if len(req) != 1 {
		s.writeError(w, svcCompute, badRequest("Malformed request body: one action expected"))
		return
	}
	var action string
	for k := range req {
		action = k
	}
	conflict := func(name string) {
		state := map[string]string{"BUILD": "building", "SHUTOFF": "stopped", "ERROR": "error"}[v.Status]
		if state == "" {
			state = "active"
		}
		// Nova checks the vm_state first; no action but delete takes a
		// building server.
		if v.TaskState != "" && v.Status != "BUILD" {
			s.writeError(w, svcCompute, errorf(http.StatusConflict, "", "Cannot '%s' instance %s while it is in task_state %s", name, v.ID, v.TaskState))
			return
		}
		s.writeError(w, svcCompute, errorf(http.StatusConflict, "", "Cannot '%s' instance %s while it is in vm_state %s", name, v.ID, state))
	}
	busy := v.TaskState != "" || v.NextStatus != "" || !v.DeleteAt.IsZero()
	// While the server is only a build request (not yet in a cell), Nova
	// cannot record an instance action for it: 404.
	if v.Status == "BUILD" && v.DeleteAt.IsZero() && action != "os-getConsoleOutput" && s.buildPhase(v) == "request" {
		s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Instance %s could not be found.", v.ID))
		return
	}
	if action == "os-getConsoleOutput" {
		s.consoleOutput(w, v, req[action])
		return
	}
	var status, task, next string
	hard := false
	// Stop and start check instance.host before the vm_state: a server
	// not yet on a compute host is "not ready".
	if (action == "os-stop" || action == "os-start") && s.serverHost(v) == "" {
		s.writeError(w, svcCompute, errorf(http.StatusConflict, "", "Instance %s is not ready", v.ID))
		return
	}
	switch action {
	case "os-stop":
		if busy || (v.Status != "ACTIVE" && v.Status != "ERROR") {
			conflict("stop")
			return
		}
		status, task, next = v.Status, "powering-off", "SHUTOFF"
	case "os-start":
		if busy || v.Status != "SHUTOFF" {
			conflict("start")
			return
		}
		status, task, next = v.Status, "powering-on", "ACTIVE"
	case "reboot":
		var body struct {
			Type string `json:"type"`
		}
		// Nova's schema takes HARD, Hard, hard, SOFT, Soft and soft.
		if err := json.Unmarshal(req["reboot"], &body); err != nil || !contains([]string{"HARD", "Hard", "hard", "SOFT", "Soft", "soft"}, body.Type) {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']", body.Type, body.Type))
			return
		}
		body.Type = strings.ToUpper(body.Type)
		ok := v.Status == "ACTIVE" || body.Type == "HARD" && (v.Status == "SHUTOFF" || v.Status == "ERROR")
		if busy || !ok {
			conflict("reboot")
			return
		}
		status, task, next = "REBOOT", "rebooting", "ACTIVE"
		if body.Type == "HARD" {
			status, task, hard = "HARD_REBOOT", "rebooting_hard", true
		}
	default:
		s.writeError(w, svcCompute, badRequest("There is no such action: %s", action))
		return
	}
	now := s.now()
	v.Status, v.TaskState, v.NextStatus, v.TransitionAt, v.UpdatedAt = status, task, next, now.Add(s.opts.bootDelay/2), now
	s.runAction(v, action, hard)
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) listServers(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	q := r.URL.Query()
	detail := strings.HasSuffix(r.URL.Path, "/detail")
	all := tok.isAdmin() && (q.Get("all_tenants") != "" && !strings.EqualFold(q.Get("all_tenants"), "false") && q.Get("all_tenants") != "0")
	project := tok.ProjectID
	if p := q.Get("project_id"); p != "" && all {
		project, all = p, false
	} else if p := q.Get("tenant_id"); p != "" && all {
		project, all = p, false
	}
	var nameRe *regexp.Regexp
	if n := q.Get("name"); n != "" {
		var err error
		if nameRe, err = regexp.Compile(n); err != nil {
			nameRe = regexp.MustCompile(regexp.QuoteMeta(n))
		}
	}
	// Nova hands ip and ip6 to Neutron as ip_address_substr filters on
	// ports (the ip-substring-filtering extension), which Neutron runs as
	// SQL LIKE '%<value>%' on fixed IPs: a substring where _ and % are
	// wildcards and \ escapes; never a regex, never a floating IP.
	var ipSubs []*regexp.Regexp
	for _, k := range []string{"ip", "ip6"} {
		if ip := q.Get(k); ip != "" {
			ipSubs = append(ipSubs, likeSubstring(ip))
		}
	}
	splitTags := func(k string) []string {
		if q.Get(k) == "" {
			return nil
		}
		return strings.Split(q.Get(k), ",")
	}
	tags, tagsAny, notTags, notTagsAny := splitTags("tags"), splitTags("tags-any"), splitTags("not-tags"), splitTags("not-tags-any")
	var list []*nServer
	for _, v := range s.st.Compute.Servers {
		if !all && v.ProjectID != project {
			continue
		}
		if nameRe != nil && !nameRe.MatchString(v.Name) {
			continue
		}
		if st := q.Get("status"); st != "" && !strings.EqualFold(st, v.Status) {
			continue
		}
		if f := q.Get("flavor"); f != "" && f != v.FlavorID {
			continue
		}
		if img := q.Get("image"); img != "" && img != v.ImageID {
			continue
		}
		if h := q.Get("host"); h != "" && tok.isAdmin() && h != s.serverHost(v) {
			continue
		}
		if len(ipSubs) > 0 && !s.serverIPMatches(v, ipSubs) {
			continue
		}
		if !matchTags(v.Tags, tags, tagsAny, notTags, notTagsAny) {
			continue
		}
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool {
		return newerFirst(list[i].CreatedAt, list[i].ID, list[j].CreatedAt, list[j].ID)
	})
	// paginate answers an unknown marker with Nova's 400.
	page, next, aerr := novaPaginate(list, q, func(v *nServer) string { return v.ID }, "Server")
	if aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	out := make([]any, 0, len(page))
	for _, v := range page {
		if detail {
			out = append(out, s.serverBody(v, tok, mv))
		} else {
			out = append(out, map[string]any{"id": v.ID, "name": v.Name, "links": s.serverLinks(v.ID)})
		}
	}
	body := map[string]any{"servers": out}
	if next != "" {
		nq := r.URL.Query()
		nq.Set("marker", next)
		body["servers_links"] = []map[string]string{{"rel": "next", "href": s.URL + r.URL.Path + "?" + nq.Encode()}}
	}
	writeJSON(w, http.StatusOK, body)
}

// buildPhase is where a BUILD server is in Nova's build, by the share of
// its boot time gone (measured on Zed with the fake driver: about 14%
// build request, then scheduling to 23%, networking to 31%, spawning):
// "request" while it is only a build request, then the task states
// "scheduling", "networking" and "spawning".
func (s *Server) buildPhase(v *nServer) string {
	total, gone := v.ReadyAt.Sub(v.CreatedAt), s.now().Sub(v.CreatedAt)
	switch {
	case total <= 0:
		return "spawning"
	case gone < total/8:
		return "request"
	case gone < total/4:
		return "scheduling"
	case gone < total/3:
		return "networking"
	}
	return "spawning"
}

// serverHost is the compute host Nova shows for the server: none until
// the compute host has claimed it, after scheduling.
func (s *Server) serverHost(v *nServer) string {
	if v.Status == "BUILD" && v.DeleteAt.IsZero() {
		if p := s.buildPhase(v); p == "request" || p == "scheduling" {
			return ""
		}
	}
	return v.Host
}

// novaMaxLimit is Nova's [api] max_limit: the most a list answers.
const novaMaxLimit = 1000

// novaPaginate is paginate as Nova's lists do it: limit must be digits
// (schema), at most max_limit items, and a full page links the next one
// even when nothing follows (the next page is then empty).
func novaPaginate[T any](list []T, q url.Values, id func(T) string, kind string) ([]T, string, *apiError) {
	limit := novaMaxLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || strings.TrimLeft(l, "0123456789") != "" {
			return nil, "", badRequest("Invalid input for query parameters limit. Value: %s. '%s' does not match '^[0-9]*$'", l, l)
		}
		limit = min(n, novaMaxLimit)
	}
	capped := url.Values{}
	for k, v := range q {
		capped[k] = v
	}
	capped.Set("limit", strconv.Itoa(limit))
	page, next, aerr := paginate(list, capped, id, kind)
	if aerr == nil && next == "" && limit > 0 && len(page) == limit {
		next = id(page[len(page)-1])
	}
	return page, next, aerr
}

func (s *Server) serverIPMatches(v *nServer, subs []*regexp.Regexp) bool {
	for _, p := range v.Ports {
		info, ok := s.netPort(p.ID)
		if !ok {
			continue
		}
		for _, ip := range info.FixedIPs {
			for _, re := range subs {
				if re.MatchString(ip) {
					return true
				}
			}
		}
	}
	return false
}

// likeSubstring is SQL's LIKE '%<v>%' as a regexp: _ is any character, %
// any run of them, \ makes the next one literal.
func likeSubstring(v string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)")
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '_':
			b.WriteString(".")
		case c == '%':
			b.WriteString(".*")
		case c == '\\' && i+1 < len(v):
			i++
			b.WriteString(regexp.QuoteMeta(v[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(v[i : i+1]))
		}
	}
	return regexp.MustCompile(b.String())
}

// sortedTags is how Nova shows a server's tags: sorted, as its tags
// table's primary key (resource, tag) gives them back.
func sortedTags(tags []string) []string {
	out := append([]string{}, tags...)
	sort.Strings(out)
	return out
}

// matchTags applies the tags (all of), tags-any, not-tags (not all of)
// and not-tags-any (none of) filters.
func matchTags(have, all, anyOf, notAll, notAny []string) bool {
	for _, t := range all {
		if !contains(have, t) {
			return false
		}
	}
	if len(anyOf) > 0 {
		found := false
		for _, t := range anyOf {
			found = found || contains(have, t)
		}
		if !found {
			return false
		}
	}
	if len(notAll) > 0 {
		hasAll := true
		for _, t := range notAll {
			hasAll = hasAll && contains(have, t)
		}
		if hasAll {
			return false
		}
	}
	for _, t := range notAny {
		if contains(have, t) {
			return false
		}
	}
	return true
}

func (s *Server) getServerMetadata(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if v := s.serverFor(w, r, tok); v != nil {
		writeJSON(w, http.StatusOK, map[string]any{"metadata": v.Metadata})
	}
}

func (s *Server) updateServerMetadata(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.serverFor(w, r, tok)
	if v == nil {
		return
	}
	var req struct {
		Metadata map[string]string `json:"metadata"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	for k, val := range req.Metadata {
		v.Metadata[k] = val
	}
	if len(v.Metadata) > 128 {
		s.writeError(w, svcCompute, errorf(http.StatusForbidden, "", "Quota exceeded for metadata_items: Requested %d, but already used 0 of 128 metadata_items", len(v.Metadata)))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"metadata": v.Metadata})
}

func volumeAttachmentBody(v *nServer, vol nServerVolume, mv apiVersion) map[string]any {
	b := map[string]any{"id": vol.ID, "volumeId": vol.ID, "serverId": v.ID, "device": vol.Device}
	if mv.atLeast(2, 79) {
		b["delete_on_termination"] = vol.DeleteOnTermination
	}
	return b
}

func (s *Server) listServerVolumes(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.serverFor(w, r, tok)
	if v == nil {
		return
	}
	out := []any{}
	for _, vol := range v.Volumes {
		out = append(out, volumeAttachmentBody(v, vol, mv))
	}
	writeJSON(w, http.StatusOK, map[string]any{"volumeAttachments": out})
}

func (s *Server) getServerVolume(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.serverFor(w, r, tok)
	if v == nil {
		return
	}
	for _, vol := range v.Volumes {
		if vol.ID == r.PathValue("volume") {
			writeJSON(w, http.StatusOK, map[string]any{"volumeAttachment": volumeAttachmentBody(v, vol, mv)})
			return
		}
	}
	s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Volume %s is not attached to instance %s.", r.PathValue("volume"), v.ID))
}

// attachServerVolume attaches a volume to a running server (ACTIVE only,
// as Nova's attach needs a settled instance).
func (s *Server) attachServerVolume(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	// Nova checks the body against its schema before it looks the
	// server up.
	var req struct {
		VolumeAttachment *struct {
			VolumeID            *string `json:"volumeId"`
			Device              string  `json:"device"`
			DeleteOnTermination *bool   `json:"delete_on_termination"`
		} `json:"volumeAttachment"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	in := req.VolumeAttachment
	if in == nil || in.VolumeID == nil {
		s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute volumeAttachment. 'volumeId' is a required property"))
		return
	}
	volID := *in.VolumeID
	if !uuidLike(volID) {
		s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute volumeId. Value: %s. '%s' is not a 'uuid'", volID, volID))
		return
	}
	if in.DeleteOnTermination != nil && !mv.atLeast(2, 79) {
		s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('delete_on_termination' was unexpected)"))
		return
	}
	v := s.serverFor(w, r, tok)
	if v == nil {
		return
	}
	if (v.Status != "ACTIVE" && v.Status != "SHUTOFF") || !v.DeleteAt.IsZero() {
		s.writeError(w, svcCompute, errorf(http.StatusConflict, "", "Cannot 'attach_volume' instance %s while it is in vm_state %s", v.ID, strings.ToLower(v.Status)))
		return
	}
	vol, ok := s.st.Volume.Volumes[volID]
	if !ok || (vol.ProjectID != tok.ProjectID && !tok.isAdmin()) {
		s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Volume %s could not be found.", volID))
		return
	}
	if vol.Status != "available" {
		s.writeError(w, svcCompute, badRequest("Invalid volume: volume %s status must be available, but current status is: %s.", vol.ID, vol.Status))
		return
	}
	used := map[string]bool{"/dev/vda": true}
	for _, x := range v.Volumes {
		used[x.Device] = true
	}
	dev := in.Device
	for c := 'b'; dev == "" && c <= 'z'; c++ {
		if d := "/dev/vd" + string(c); !used[d] {
			dev = d
		}
	}
	if used[dev] {
		s.writeError(w, svcCompute, badRequest("The supplied device path (%s) is in use.", dev))
		return
	}
	if aerr := s.volAttach(vol.ID, v.ID, dev); aerr != nil {
		s.writeError(w, svcCompute, badRequest("%s", aerr.Message))
		return
	}
	att := nServerVolume{ID: vol.ID, Device: dev, DeleteOnTermination: in.DeleteOnTermination != nil && *in.DeleteOnTermination}
	v.Volumes = append(v.Volumes, att)
	v.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, map[string]any{"volumeAttachment": volumeAttachmentBody(v, att, mv)})
}

func (s *Server) detachServerVolume(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.serverFor(w, r, tok)
	if v == nil {
		return
	}
	id := r.PathValue("volume")
	for i, vol := range v.Volumes {
		if vol.ID != id {
			continue
		}
		if vol.Device == "/dev/vda" {
			s.writeError(w, svcCompute, badRequest("Cannot detach a root device volume"))
			return
		}
		if v.Status != "ACTIVE" && v.Status != "SHUTOFF" {
			s.writeError(w, svcCompute, errorf(http.StatusConflict, "", "Cannot 'detach_volume' instance %s while it is in vm_state %s", v.ID, strings.ToLower(v.Status)))
			return
		}
		s.volDetach(id, v.ID, false)
		v.Volumes = append(v.Volumes[:i], v.Volumes[i+1:]...)
		v.UpdatedAt = s.now()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Volume %s is not attached to instance %s.", id, v.ID))
}

// Server tags (microversion 2.26 and later).

const maxServerTags = 50

func validTags(tags []string) *apiError {
	if len(tags) > maxServerTags {
		return badRequest("Invalid input for field/attribute tags. Value: [...]. is too long (at most %d tags)", maxServerTags)
	}
	for _, t := range tags {
		if t == "" || len(t) > 60 || strings.ContainsAny(t, ",/") {
			return badRequest("Invalid input for field/attribute tags. Value: %s. Tags must be 1 to 60 characters without ',' or '/'", t)
		}
	}
	return nil
}

// tagServer checks the microversion and finds the server for a tag route.
func (s *Server) tagServer(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) *nServer {
	if !mv.atLeast(2, 26) {
		s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "The resource could not be found."))
		return nil
	}
	v := s.serverFor(w, r, tok)
	if v != nil && v.Status != "ACTIVE" && v.Status != "SHUTOFF" && r.Method != http.MethodGet {
		// Nova changes tags only of servers in a settled state (not
		// building, not error).
		state := "building"
		if v.Status == "ERROR" {
			state = "error"
		}
		s.writeError(w, svcCompute, errorf(http.StatusConflict, "", "Cannot 'update tags' instance %s while it is in vm_state %s", v.ID, state))
		return nil
	}
	return v
}

func (s *Server) listServerTags(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if v := s.tagServer(w, r, tok, mv); v != nil {
		writeJSON(w, http.StatusOK, map[string]any{"tags": sortedTags(v.Tags)})
	}
}

func (s *Server) replaceServerTags(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.tagServer(w, r, tok, mv)
	if v == nil {
		return
	}
	var req struct {
		Tags []string `json:"tags"`
	}
	if aerr := decodeJSON(r, &req); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	if aerr := validTags(req.Tags); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	v.Tags = nil
	for _, t := range req.Tags {
		if !contains(v.Tags, t) {
			v.Tags = append(v.Tags, t)
		}
	}
	v.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, map[string]any{"tags": sortedTags(v.Tags)})
}

func (s *Server) deleteServerTags(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	if v := s.tagServer(w, r, tok, mv); v != nil {
		v.Tags = []string{}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) checkServerTag(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.tagServer(w, r, tok, mv)
	if v == nil {
		return
	}
	if !contains(v.Tags, r.PathValue("tag")) {
		s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Tag %s could not be found.", r.PathValue("tag")))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) addServerTag(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.tagServer(w, r, tok, mv)
	if v == nil {
		return
	}
	t := r.PathValue("tag")
	if contains(v.Tags, t) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if aerr := validTags(append(append([]string(nil), v.Tags...), t)); aerr != nil {
		s.writeError(w, svcCompute, aerr)
		return
	}
	v.Tags = append(v.Tags, t)
	w.Header().Set("Location", s.URL+"/compute/v2.1/servers/"+v.ID+"/tags/"+t)
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) deleteServerTag(w http.ResponseWriter, r *http.Request, tok *token, mv apiVersion) {
	v := s.tagServer(w, r, tok, mv)
	if v == nil {
		return
	}
	t := r.PathValue("tag")
	if !removeTag(&v.Tags, t) {
		s.writeError(w, svcCompute, errorf(http.StatusNotFound, "", "Tag %s could not be found.", t))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
