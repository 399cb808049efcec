package provider

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/attributestags"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/openstrap/openstrap/internal/retry"
)

// portPlan is a port with its references resolved.
type portPlan struct {
	networkID, networkName string
	subnetID               string
	fixedIP                string
	securityGroups         *[]string
	pairs                  []ports.AddressPair
}

// machinePlan is a spec with every name resolved to an ID.
type machinePlan struct {
	spec      MachineSpec
	flavor    flavorInfo
	image     imageInfo
	ports     []portPlan
	extNet    networkInfo
	rootSizeG int
}

// volumeCount and volumeGiB are what the plan asks of Cinder.
func (p *machinePlan) volumeCount() int {
	n := len(p.spec.Volumes)
	if p.spec.RootVolume != nil {
		n++
	}
	return n
}

func (p *machinePlan) volumeGiB() int {
	n := p.rootSizeG
	for _, v := range p.spec.Volumes {
		n += v.SizeGiB
	}
	return n
}

// plan resolves every reference of spec.
func (m *Machines) plan(ctx context.Context, spec MachineSpec, res *resolver) (*machinePlan, error) {
	p := &machinePlan{spec: spec}
	if (spec.RootVolume != nil || len(spec.Volumes) > 0) && m.cloud.BlockStorage == nil {
		return nil, &Error{Op: "plan", Kind: "volumes", Name: spec.Name, Cloud: m.cloud.Name,
			Err: fmt.Errorf("%w: the spec asks for volumes and the cloud has no block storage service", ErrInvalidSpec)}
	}
	var err error
	if p.flavor, err = res.flavor(ctx, spec.Flavor); err != nil {
		return nil, err
	}
	if p.image, err = res.image(ctx, spec.Image, spec.ImageTags); err != nil {
		return nil, err
	}
	for i, ps := range spec.Ports {
		pp := portPlan{fixedIP: ps.FixedIP}
		if ps.Network != "" {
			n, err := res.network(ctx, ps.Network)
			if err != nil {
				return nil, fmt.Errorf("port %d: %w", i, err)
			}
			pp.networkID, pp.networkName = n.ID, n.Name
		}
		if ps.Subnet != "" {
			sn, err := res.subnet(ctx, ps.Subnet, pp.networkID)
			if err != nil {
				return nil, fmt.Errorf("port %d: %w", i, err)
			}
			pp.subnetID = sn.ID
			if pp.networkID == "" {
				pp.networkID = sn.NetworkID
			}
		}
		if ps.SecurityGroups != nil {
			ids := make([]string, 0, len(ps.SecurityGroups))
			for _, g := range ps.SecurityGroups {
				id, err := res.securityGroup(ctx, g)
				if err != nil {
					return nil, fmt.Errorf("port %d: %w", i, err)
				}
				ids = append(ids, id)
			}
			pp.securityGroups = &ids
		}
		for _, ap := range ps.AllowedAddressPairs {
			pp.pairs = append(pp.pairs, ports.AddressPair{IPAddress: ap.IPAddress, MACAddress: ap.MACAddress})
		}
		p.ports = append(p.ports, pp)
	}
	if spec.FloatingIP != nil {
		if p.extNet, err = res.externalNetwork(ctx, spec.FloatingIP.Network); err != nil {
			return nil, err
		}
	}
	if rv := spec.RootVolume; rv != nil {
		p.rootSizeG = rv.SizeGiB
		if p.rootSizeG == 0 {
			p.rootSizeG = max(p.flavor.DiskG, p.image.MinDiskG, int((p.image.SizeBytes+(1<<30)-1)>>30))
		}
		if p.rootSizeG == 0 {
			return nil, &Error{Op: "plan", Kind: "root volume", Name: spec.Name + "-root", Cloud: m.cloud.Name,
				Err: fmt.Errorf("%w: RootVolume.SizeGiB is 0 and neither flavor %q nor image %q gives a size", ErrInvalidSpec, p.flavor.Name, p.image.Name)}
		}
	}
	return p, nil
}

// Create creates the machine spec describes, or returns it when it exists,
// and waits until its server is ACTIVE. In order it ensures the server
// group, the ports (tagged), the floating IP, the volumes and then the
// server; a control-plane machine is then added to the API server pool.
//
// If Nova puts the server in ERROR, Create deletes the server and everything
// created for it and returns an error matching ErrBootFailed that carries
// Nova's fault. If an API refuses a request before the server exists (a
// quota, a bad fixed IP), what was created for the machine is deleted again.
// If the API server pool refuses the member, Create returns the machine
// along with the error; calling Create again retries the registration.
func (m *Machines) Create(ctx context.Context, spec MachineSpec) (*Machine, error) {
	spec = spec.Default()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return m.create(ctx, spec, m.newResolver())
}

// Start is Create without the waits: it submits what is missing of the
// machine (server group, ports, floating IP, volumes, then the server) and
// returns at once, for callers such as controllers that must not block on
// the cloud. It has Create's crash safety: the server is looked for by name
// and ownership tag before anything is created, and a failure before the
// server exists deletes what was created for it.
//
// When the server exists, Start changes nothing and returns the machine as
// Nova shows it now: BUILD, ACTIVE, or ERROR with Machine.Fault (Start never
// deletes a failed server; Delete does). When a volume of the machine is
// still being created, Start returns an error matching ErrPending: call it
// again later. Start does not touch the API server pool
// (WithAPIServerPool): the caller adds a control-plane machine once Get
// shows it ACTIVE.
func (m *Machines) Start(ctx context.Context, spec MachineSpec) (*Machine, error) {
	spec = spec.Default()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return m.createMode(ctx, spec, m.newResolver(), false)
}

func (m *Machines) create(ctx context.Context, spec MachineSpec, res *resolver) (*Machine, error) {
	return m.createMode(ctx, spec, res, true)
}

// createMode is Create (wait) or Start (!wait).
func (m *Machines) createMode(ctx context.Context, spec MachineSpec, res *resolver, wait bool) (*Machine, error) {
	if m.compute == nil || m.cloud.Network == nil {
		return nil, &Error{Op: "create", Kind: "machine", Name: spec.Name, Cloud: m.cloud.Name,
			Err: fmt.Errorf("%w: the cloud has no compute or network service client", ErrInvalidSpec)}
	}
	unlock, err := m.locks.lock(ctx, "machine\x00"+spec.Cluster+"\x00"+spec.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	log := m.logger(ctx).WithValues("cluster", spec.Cluster, "machine", spec.Name)

	srv, err := m.findServer(ctx, spec.Cluster, spec.Name)
	if err != nil {
		return nil, err
	}
	if srv != nil {
		log.V(1).Info("server exists", "server", srv.ID, "status", srv.Status)
		if !wait {
			ms, err := m.observe(ctx, spec.Cluster, []servers.Server{*srv}, spec.Name)
			if err != nil {
				return nil, err
			}
			return ms[0], nil
		}
		return m.finish(ctx, spec, srv.ID, nil)
	}

	m.event(MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhaseResolve})
	p, err := m.plan(ctx, spec, res)
	if err != nil {
		return nil, err
	}
	log.V(0).Info("creating machine", "flavor", p.flavor.Name, "image", p.image.Name, "ports", len(p.ports))

	b := &built{noWait: !wait}
	serverID, err := m.build(ctx, p, b)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrPending) {
			// The caller gave up; Create again resumes, Delete cleans up.
			return nil, err
		}
		// A server POST whose every answer was lost may still have
		// created the server: then keep everything for Create again.
		if srv, ferr := m.findServer(ctx, spec.Cluster, spec.Name); ferr != nil || srv != nil {
			return nil, err
		}
		log.V(0).Info("creating machine failed before its server existed; deleting what was created")
		if cerr := m.deleteResources(ctx, spec.Cluster, spec.Name, b.groupID); cerr != nil {
			return nil, errors.Join(err, fmt.Errorf("clean up after the failure: %w", cerr))
		}
		return nil, err
	}
	if !wait {
		srv := &servers.Server{ID: serverID, Name: spec.Name, Status: "BUILD",
			Metadata: map[string]string{MetadataRole: string(spec.Role), MetadataServerGroup: b.groupID}}
		mc := assemble(spec.Cluster, srv, b.ports, nil, nil)
		if b.fip != nil {
			mc.FloatingIP = b.fip.FloatingIP
		}
		mc.VolumeIDs = b.volumeIDs
		return mc, nil
	}
	return m.finish(ctx, spec, serverID, b)
}

// built records what build created or found, for the result and for clean
// up.
type built struct {
	groupID   string // set when openstrap owns the group
	noWait    bool   // Start: volumes not yet available make ErrPending
	ports     []ports.Port
	fip       *floatingips.FloatingIP
	volumeIDs []string
}

// build ensures everything up to the server and creates the server. It
// returns the server's ID.
func (m *Machines) build(ctx context.Context, p *machinePlan, b *built) (string, error) {
	spec := p.spec
	var groupID string
	if g := spec.ServerGroup; g != nil && (g.ID != "" || g.Name != "") {
		id, isOwned, err := m.ensureServerGroup(ctx, spec, g)
		if err != nil {
			return "", err
		}
		groupID = id
		defer m.useGroup(id)()
		if isOwned {
			b.groupID = id
		}
	}
	for i := range p.ports {
		port, err := m.ensurePort(ctx, spec, i, p.ports[i], b.groupID)
		if err != nil {
			return "", err
		}
		b.ports = append(b.ports, port)
	}
	if spec.FloatingIP != nil {
		fip, err := m.ensureFloatingIP(ctx, spec, p.extNet, b.ports[0])
		if err != nil {
			return "", err
		}
		b.fip = fip
	}
	var bdm []servers.BlockDevice
	if spec.RootVolume != nil || len(spec.Volumes) > 0 {
		vols, err := m.ensureVolumes(ctx, p, !b.noWait)
		if err != nil {
			return "", err
		}
		b.volumeIDs = vols
		next := 0
		if spec.RootVolume != nil {
			bdm = append(bdm, servers.BlockDevice{SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume,
				UUID: vols[0], BootIndex: 0})
			next = 1
		} else {
			bdm = append(bdm, servers.BlockDevice{SourceType: servers.SourceImage, DestinationType: servers.DestinationLocal,
				UUID: p.image.ID, BootIndex: 0, DeleteOnTermination: true})
		}
		for _, id := range vols[next:] {
			bdm = append(bdm, servers.BlockDevice{SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume,
				UUID: id, BootIndex: -1})
		}
	}
	return m.createServer(ctx, p, b, groupID, bdm)
}

// ensureServerGroup returns the server group's ID and whether openstrap
// owns it (found or created by name).
func (m *Machines) ensureServerGroup(ctx context.Context, spec MachineSpec, g *ServerGroupSpec) (string, bool, error) {
	ev := MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhaseServerGroup, Name: g.Name, ID: g.ID}
	if g.ID != "" {
		err := m.call(ctx, func(ctx context.Context) error {
			_, err := servergroups.Get(ctx, m.compute, g.ID).Extract()
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return retry.Permanent(err)
			}
			return err
		})
		if err != nil {
			return "", false, &Error{Op: "get", Kind: "server group", ID: g.ID, Cloud: m.cloud.Name, Err: err}
		}
		ev.Done = true
		m.event(ev)
		return g.ID, false, nil
	}
	unlock, err := m.locks.lock(ctx, "group\x00"+g.Name)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	var id string
	err = m.call(ctx, func(ctx context.Context) error {
		found, err := m.serverGroupsNamed(ctx, g.Name)
		if err != nil {
			return err
		}
		if len(found) > 0 {
			id = found[0].ID
			// A race between processes can leave twins; keep the first,
			// drop empty twins.
			for _, twin := range found[1:] {
				if len(twin.Members) == 0 {
					_ = servergroups.Delete(ctx, m.compute, twin.ID).ExtractErr()
				}
			}
			return nil
		}
		sg, err := servergroups.Create(ctx, m.compute, servergroups.CreateOpts{Name: g.Name, Policies: []string{g.Policy}}).Extract()
		if err != nil {
			if !retry.IsTransient(err) {
				return retry.Permanent(err)
			}
			return err
		}
		id = sg.ID
		return nil
	})
	if err != nil {
		return "", false, &Error{Op: "ensure", Kind: "server group", Name: g.Name, Cloud: m.cloud.Name, Err: err}
	}
	ev.ID, ev.Done = id, true
	m.event(ev)
	return id, true, nil
}

// serverGroupsNamed lists the project's server groups named name, the one
// with most members (then lowest ID) first.
func (m *Machines) serverGroupsNamed(ctx context.Context, name string) ([]servergroups.ServerGroup, error) {
	pages, err := servergroups.List(m.compute, nil).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	all, err := servergroups.ExtractServerGroups(pages)
	if err != nil {
		return nil, err
	}
	var out []servergroups.ServerGroup
	for _, g := range all {
		if g.Name == name && (m.cloud.ProjectID == "" || g.ProjectID == "" || g.ProjectID == m.cloud.ProjectID) {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Members) != len(out[j].Members) {
			return len(out[i].Members) > len(out[j].Members)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ensurePort finds or creates port i of the machine and makes sure it
// carries the ownership tag (and the tag of the server group openstrap
// created for the machine, if any). The ownership marker is also written into the
// description at creation, so a port whose tagging was interrupted is still
// recognized.
func (m *Machines) ensurePort(ctx context.Context, spec MachineSpec, i int, pp portPlan, groupID string) (ports.Port, error) {
	name := fmt.Sprintf("%s-%d", spec.Name, i)
	marker := OwnershipTag(spec.Cluster)
	want := []string{marker}
	if groupID != "" {
		// Delete finds the group here when the server is already gone.
		want = append(want, groupTag(groupID))
	}
	ev := MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhasePort, Name: name}
	var port ports.Port
	err := m.call(ctx, func(ctx context.Context) error {
		found, err := m.clusterPorts(ctx, spec.Cluster, ports.ListOpts{Name: name})
		if err != nil {
			return err
		}
		if len(found) > 0 {
			sort.Slice(found, func(a, b int) bool {
				if (found[a].DeviceID == "") != (found[b].DeviceID == "") {
					return found[a].DeviceID != "" // a bound port is the one in use
				}
				return found[a].ID < found[b].ID
			})
			port = found[0]
			for _, twin := range found[1:] {
				if twin.DeviceID == "" {
					_ = ports.Delete(ctx, m.cloud.Network, twin.ID).ExtractErr()
				}
			}
		} else {
			opts := ports.CreateOpts{
				NetworkID:           pp.networkID,
				Name:                name,
				Description:         marker,
				SecurityGroups:      pp.securityGroups,
				AllowedAddressPairs: pp.pairs,
			}
			if pp.subnetID != "" || pp.fixedIP != "" {
				opts.FixedIPs = []ports.IP{{SubnetID: pp.subnetID, IPAddress: pp.fixedIP}}
			}
			created, err := ports.Create(ctx, m.cloud.Network, opts).Extract()
			if err != nil {
				if !retry.IsTransient(err) {
					return retry.Permanent(err)
				}
				return err
			}
			port = *created
			ev.ID = port.ID
			m.event(ev)
		}
		if !hasAll(port.Tags, want) {
			tags := append([]string(nil), port.Tags...)
			for _, w := range want {
				if !hasAll(tags, []string{w}) {
					tags = append(tags, w)
				}
			}
			if _, err := attributestags.ReplaceAll(ctx, m.cloud.Network, "ports", port.ID, attributestags.ReplaceAllOpts{Tags: tags}).Extract(); err != nil {
				return err
			}
			port.Tags = tags
		}
		return nil
	})
	if err != nil {
		return ports.Port{}, &Error{Op: "ensure", Kind: "port", Name: name, ID: port.ID, Cloud: m.cloud.Name, Err: err}
	}
	ev.ID, ev.Done = port.ID, true
	m.event(ev)
	return port, nil
}

// ensureFloatingIP finds or creates the floating IP of the machine's first
// port. It is created already associated, so it is found again by port.
func (m *Machines) ensureFloatingIP(ctx context.Context, spec MachineSpec, ext networkInfo, port ports.Port) (*floatingips.FloatingIP, error) {
	marker := OwnershipTag(spec.Cluster)
	ev := MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhaseFloatingIP}
	var fip floatingips.FloatingIP
	err := m.call(ctx, func(ctx context.Context) error {
		var found []floatingips.FloatingIP
		pages, err := floatingips.List(m.cloud.Network, floatingips.ListOpts{PortID: port.ID}).AllPages(ctx)
		if err == nil {
			found, err = floatingips.ExtractFloatingIPs(pages)
		}
		if err != nil {
			return err
		}
		kept := found[:0]
		for _, f := range found {
			if f.PortID == port.ID {
				kept = append(kept, f)
			}
		}
		if len(kept) > 0 {
			fip = kept[0]
		} else {
			var fixed string
			if len(port.FixedIPs) > 0 {
				fixed = port.FixedIPs[0].IPAddress
			}
			created, err := floatingips.Create(ctx, m.cloud.Network, floatingips.CreateOpts{
				FloatingNetworkID: ext.ID, PortID: port.ID, FixedIP: fixed, Description: marker,
			}).Extract()
			if err != nil {
				if !retry.IsTransient(err) {
					return retry.Permanent(err)
				}
				return err
			}
			fip = *created
		}
		if owned(spec.Cluster, fip.Description, nil) && !hasAll(fip.Tags, []string{marker}) {
			tags := append(append([]string(nil), fip.Tags...), marker)
			if _, err := attributestags.ReplaceAll(ctx, m.cloud.Network, "floatingips", fip.ID, attributestags.ReplaceAllOpts{Tags: tags}).Extract(); err != nil {
				return err
			}
			fip.Tags = tags
		}
		return nil
	})
	if err != nil {
		return nil, &Error{Op: "ensure", Kind: "floating IP", Name: port.Name, ID: fip.ID, Cloud: m.cloud.Name, Err: err}
	}
	ev.Name, ev.ID, ev.Done = fip.FloatingIP, fip.ID, true
	m.event(ev)
	return &fip, nil
}

// errVolumeFailed: Cinder failed to create a volume.
var errVolumeFailed = errors.New("volume went to status error")

// ensureVolumes finds or creates the machine's volumes (root first) and
// waits until they are available. It returns their IDs in order. Without
// wait it looks once and returns an error matching ErrPending while one is
// still being created.
func (m *Machines) ensureVolumes(ctx context.Context, p *machinePlan, wait bool) ([]string, error) {
	spec := p.spec
	type want struct {
		name, typ, az string
		size          int
		image         string
	}
	var wants []want
	if rv := spec.RootVolume; rv != nil {
		wants = append(wants, want{name: spec.Name + "-root", typ: rv.Type, az: rv.AvailabilityZone, size: p.rootSizeG, image: p.image.ID})
	}
	for _, v := range spec.Volumes {
		wants = append(wants, want{name: spec.Name + "-" + v.Name, typ: v.Type, az: v.AvailabilityZone, size: v.SizeGiB})
	}
	existing, err := m.machineVolumes(ctx, spec.Cluster, spec.Name)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(wants))
	for i, w := range wants {
		ev := MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhaseVolume, Name: w.name}
		for _, v := range existing {
			if v.Name == w.name && v.Status != "error" && v.Status != "deleting" {
				ids[i] = v.ID
				break
			}
		}
		if ids[i] != "" {
			continue
		}
		err := m.call(ctx, func(ctx context.Context) error {
			// After a lost answer, look again before creating.
			again, err := m.machineVolumes(ctx, spec.Cluster, spec.Name)
			if err != nil {
				return err
			}
			for _, v := range again {
				if v.Name == w.name && v.Status != "error" && v.Status != "deleting" {
					ids[i] = v.ID
					return nil
				}
			}
			v, err := volumes.Create(ctx, m.cloud.BlockStorage, volumes.CreateOpts{
				Name: w.name, Size: w.size, VolumeType: w.typ, AvailabilityZone: w.az, ImageID: w.image,
				Metadata: volumeMetadata(spec.Cluster, spec.Name),
			}, nil).Extract()
			if err != nil {
				if !retry.IsTransient(err) {
					return retry.Permanent(err)
				}
				return err
			}
			ids[i] = v.ID
			return nil
		})
		if err != nil {
			return nil, &Error{Op: "create", Kind: "volume", Name: w.name, Cloud: m.cloud.Name, Err: err}
		}
		ev.ID = ids[i]
		m.event(ev)
	}
	for i, id := range ids {
		pending := false
		err := retry.Until(ctx, m.opts.wait, func(ctx context.Context) (bool, error) {
			v, err := volumes.Get(ctx, m.cloud.BlockStorage, id).Extract()
			if err != nil {
				if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
					return false, retry.Permanent(err)
				}
				return false, err
			}
			switch v.Status {
			case "available", "in-use":
				return true, nil
			case "error":
				return false, retry.Permanent(errVolumeFailed)
			}
			pending = !wait
			return !wait, nil
		})
		if pending {
			return nil, &Error{Op: "wait for", Kind: "volume", Name: wants[i].name, ID: id, Cloud: m.cloud.Name,
				Err: fmt.Errorf("%w: the volume is still being created", ErrPending)}
		}
		if err != nil {
			return nil, &Error{Op: "wait for", Kind: "volume", Name: wants[i].name, ID: id, Cloud: m.cloud.Name, Err: err}
		}
		m.event(MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhaseVolume, Name: wants[i].name, ID: id, Done: true})
	}
	return ids, nil
}

// createServer posts the server. After an answer that was lost (a dropped
// connection, a 5xx) it lists the servers again before another attempt, so
// it never creates a second server for the machine.
func (m *Machines) createServer(ctx context.Context, p *machinePlan, b *built, groupID string, bdm []servers.BlockDevice) (string, error) {
	spec := p.spec
	md := map[string]string{}
	maps.Copy(md, spec.Metadata)
	md[OwnershipTagKey] = spec.Cluster
	md[MetadataRole] = string(spec.Role)
	if b.groupID != "" {
		md[MetadataServerGroup] = b.groupID
	}
	tags := append([]string{OwnershipTag(spec.Cluster)}, spec.Tags...)
	nets := make([]servers.Network, len(b.ports))
	for i, port := range b.ports {
		nets[i] = servers.Network{Port: port.ID}
	}
	opts := servers.CreateOpts{
		Name:             spec.Name,
		FlavorRef:        p.flavor.ID,
		AvailabilityZone: spec.AvailabilityZone,
		Networks:         nets,
		Metadata:         md,
		Tags:             tags,
		BlockDevice:      bdm,
	}
	if spec.RootVolume == nil {
		opts.ImageRef = p.image.ID
	}
	if len(spec.UserData) > 0 {
		// Encoded here: gophercloud sends data that happens to be valid
		// base64 unencoded.
		opts.UserData = []byte(base64.StdEncoding.EncodeToString(spec.UserData))
	}
	if spec.ConfigDrive {
		yes := true
		opts.ConfigDrive = &yes
	}
	var hints servers.SchedulerHintOptsBuilder
	if groupID != "" {
		hints = servers.SchedulerHintOpts{Group: groupID}
	}
	ev := MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhaseServer, Name: spec.Name}
	var id string
	attempted := false
	err := m.call(ctx, func(ctx context.Context) error {
		if attempted {
			srv, err := m.findServer(ctx, spec.Cluster, spec.Name)
			if err != nil {
				return err
			}
			if srv != nil {
				id = srv.ID
				return nil
			}
		}
		attempted = true
		srv, err := servers.Create(ctx, m.compute, keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: spec.KeyName}, hints).Extract()
		if err != nil {
			if !retry.IsTransient(err) {
				return retry.Permanent(err)
			}
			return err
		}
		id = srv.ID
		return nil
	})
	if err != nil {
		return "", &Error{Op: "create", Kind: "server", Name: spec.Name, Cloud: m.cloud.Name, Err: err}
	}
	ev.ID, ev.Done = id, true
	m.event(ev)
	return id, nil
}

// finish waits for the server to be ACTIVE, handles ERROR and registers a
// control-plane machine with the API server pool.
func (m *Machines) finish(ctx context.Context, spec MachineSpec, serverID string, b *built) (*Machine, error) {
	log := m.logger(ctx).WithValues("cluster", spec.Cluster, "machine", spec.Name, "server", serverID)
	var srv *servers.Server
	var err error
	for look := 0; ; look++ {
		srv, err = m.waitServer(ctx, spec.Cluster, serverID, func(s *servers.Server) bool {
			return s == nil || s.Status == "ACTIVE" || s.Status == "ERROR"
		})
		if err != nil || srv == nil || srv.Status != "ERROR" || srv.Fault.Message != "" {
			break
		}
		// ERROR without a fault: Nova records the fault after the state,
		// and a building server has been seen to show ERROR for a moment.
		srv = m.faultOf(ctx, srv)
		if srv.Status == "ERROR" || look == 2 {
			break
		}
		log.V(1).Info("server showed ERROR without a fault, then " + srv.Status + "; waiting on")
	}
	if err == nil && srv == nil {
		err = fmt.Errorf("%w: the server disappeared while it was booting", ErrNotFound)
	}
	if err != nil {
		return nil, &Error{Op: "wait for", Kind: "server", Name: spec.Name, ID: serverID, Cloud: m.cloud.Name, Err: err}
	}
	if srv.Status == "ERROR" {
		fault := srv.Fault.Message
		if fault == "" {
			fault = "no fault message"
		}
		log.V(0).Info("server went to ERROR; deleting the machine", "fault", fault)
		m.event(MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhaseBoot, ID: serverID, Done: true,
			Err: fmt.Errorf("%w: %s", ErrBootFailed, fault)})
		bootErr := &Error{Op: "create", Kind: "server", Name: spec.Name, ID: serverID, Cloud: m.cloud.Name,
			Err: fmt.Errorf("%w: Nova fault: %s", ErrBootFailed, fault)}
		if derr := m.deleteLocked(ctx, spec.Cluster, spec.Name, srv); derr != nil {
			return nil, errors.Join(bootErr, fmt.Errorf("clean up after the failed boot: %w", derr))
		}
		return nil, bootErr
	}
	m.event(MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhaseBoot, ID: serverID, Done: true})

	var mc *Machine
	if b != nil {
		mc = assemble(spec.Cluster, srv, b.ports, nil, nil)
		if b.fip != nil {
			mc.FloatingIP = b.fip.FloatingIP
		}
		mc.VolumeIDs = b.volumeIDs
	} else {
		ms, err := m.observe(ctx, spec.Cluster, []servers.Server{*srv}, spec.Name)
		if err != nil {
			return nil, err
		}
		mc = ms[0]
	}
	if spec.Role == ControlPlane && m.opts.pool != nil {
		ev := MachineEvent{Cluster: spec.Cluster, Machine: spec.Name, Phase: PhasePool, Name: mc.InternalAddress}
		if mc.InternalAddress == "" {
			err := &Error{Op: "add", Kind: "API server pool member", Name: spec.Name, ID: serverID, Cloud: m.cloud.Name,
				Err: errors.New("the machine has no fixed IP")}
			ev.Done, ev.Err = true, err
			m.event(ev)
			return mc, err
		}
		if err := m.opts.pool.AddMember(ctx, spec.Name, mc.InternalAddress); err != nil {
			ev.Done, ev.Err = true, err
			m.event(ev)
			return mc, fmt.Errorf("add machine %q to the API server pool: %w", spec.Name, err)
		}
		ev.Done = true
		m.event(ev)
	}
	log.V(0).Info("machine ready", "address", mc.InternalAddress, "status", mc.Status)
	return mc, nil
}

// faultOf reads srv again, briefly, until it shows its fault or leaves
// ERROR: Nova sets a server to ERROR before it records why (scheduler utils
// set the state, then add the instance fault), so the first look may have
// none.
func (m *Machines) faultOf(ctx context.Context, srv *servers.Server) *servers.Server {
	p := m.opts.wait
	p.MaxElapsed = 20 * p.Max
	_ = retry.Until(ctx, p, func(ctx context.Context) (bool, error) {
		s, err := servers.Get(ctx, m.compute, srv.ID).Extract()
		if err != nil {
			return true, nil // keep what we have
		}
		srv = s
		return s.Fault.Message != "" || s.Status != "ERROR", nil
	})
	return srv
}
