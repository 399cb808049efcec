package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/openstrap/openstrap/internal/retry"
)

// Delete deletes the machine named name in cluster: it removes a
// control-plane machine from the API server pool, deletes the server and
// waits until it is gone, then deletes the floating IP, ports and volumes
// created for it and its server group when openstrap created the group and
// this was its last member. Deleting a machine that does not exist (or no
// longer does) succeeds, and a Delete interrupted at any point can be called
// again. When the machine has no server, Delete also removes the control
// planes' default group if it is empty: a Create interrupted right after
// making it leaves nothing else that names it.
func (m *Machines) Delete(ctx context.Context, cluster, name string) error {
	if cluster == "" || name == "" {
		return &Error{Op: "delete", Kind: "machine", Name: name, Cloud: m.cloud.Name,
			Err: fmt.Errorf("%w: cluster and name are required", ErrInvalidSpec)}
	}
	unlock, err := m.locks.lock(ctx, "machine\x00"+cluster+"\x00"+name)
	if err != nil {
		return err
	}
	defer unlock()
	srv, err := m.findServer(ctx, cluster, name)
	if err != nil {
		return err
	}
	return m.deleteLocked(ctx, cluster, name, srv)
}

// StartDelete is Delete without the waits on the server: while the machine
// has a server it sends the server's deletion (once: not again while Nova
// shows the server deleting) and returns an error matching ErrPending; once
// the server is gone it deletes the floating IP, ports, volumes and server
// group made for the machine, as Delete does, and returns nil. Controllers
// call it on each reconcile of a deleted object so that no worker waits for
// Nova. A control-plane machine leaves the API server pool (WithAPIServerPool)
// before its server goes.
func (m *Machines) StartDelete(ctx context.Context, cluster, name string) error {
	if cluster == "" || name == "" {
		return &Error{Op: "delete", Kind: "machine", Name: name, Cloud: m.cloud.Name,
			Err: fmt.Errorf("%w: cluster and name are required", ErrInvalidSpec)}
	}
	unlock, err := m.locks.lock(ctx, "machine\x00"+cluster+"\x00"+name)
	if err != nil {
		return err
	}
	defer unlock()
	srv, err := m.findServer(ctx, cluster, name)
	if err != nil {
		return err
	}
	if srv == nil || srv.Status == "DELETED" || srv.Status == "SOFT_DELETED" {
		return m.deleteLocked(ctx, cluster, name, nil)
	}
	if m.opts.pool != nil && Role(srv.Metadata[MetadataRole]) == ControlPlane {
		if err := m.opts.pool.RemoveMember(ctx, name); err != nil {
			return fmt.Errorf("remove machine %q from the API server pool: %w", name, err)
		}
	}
	if srv.TaskState != "deleting" {
		m.logger(ctx).V(0).Info("deleting server", "cluster", cluster, "machine", name, "server", srv.ID)
		err := m.call(ctx, func(ctx context.Context) error {
			err := servers.Delete(ctx, m.compute, srv.ID).ExtractErr()
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return &Error{Op: "delete", Kind: "server", Name: name, ID: srv.ID, Cloud: m.cloud.Name, Err: err}
		}
	}
	return &Error{Op: "delete", Kind: "server", Name: name, ID: srv.ID, Cloud: m.cloud.Name,
		Err: fmt.Errorf("%w: Nova is deleting the server", ErrPending)}
}

// deleteLocked deletes the machine whose server is srv (nil when it has
// none). The caller holds the machine's lock.
func (m *Machines) deleteLocked(ctx context.Context, cluster, name string, srv *servers.Server) error {
	log := m.logger(ctx).WithValues("cluster", cluster, "machine", name)
	var groupID string
	role := Role("")
	if srv != nil {
		groupID = srv.Metadata[MetadataServerGroup]
		role = Role(srv.Metadata[MetadataRole])
	}
	if m.opts.pool != nil && (srv == nil || role == ControlPlane) {
		ev := MachineEvent{Cluster: cluster, Machine: name, Phase: PhasePool}
		if err := m.opts.pool.RemoveMember(ctx, name); err != nil {
			ev.Done, ev.Err = true, err
			m.event(ev)
			return fmt.Errorf("remove machine %q from the API server pool: %w", name, err)
		}
		ev.Done = true
		m.event(ev)
	}
	if srv != nil {
		log.V(0).Info("deleting server", "server", srv.ID)
		if err := m.deleteServer(ctx, cluster, srv.ID); err != nil {
			return &Error{Op: "delete", Kind: "server", Name: name, ID: srv.ID, Cloud: m.cloud.Name, Err: err}
		}
		m.event(MachineEvent{Cluster: cluster, Machine: name, Phase: PhaseDelete, Name: "server", ID: srv.ID, Done: true})
	}
	if err := m.deleteResources(ctx, cluster, name, groupID); err != nil {
		return err
	}
	if srv == nil {
		// A Create interrupted right after it made the control planes'
		// default group left nothing that names the group.
		return m.deleteEmptyDefaultGroup(ctx, cluster)
	}
	return nil
}

// deleteEmptyDefaultGroup deletes the control planes' default server group
// of cluster when it has no members and no Create of this process is about
// to use it.
func (m *Machines) deleteEmptyDefaultGroup(ctx context.Context, cluster string) error {
	name := MachineSpec{Cluster: cluster, Role: ControlPlane}.Default().ServerGroup.Name
	var found []servergroups.ServerGroup
	err := m.call(ctx, func(ctx context.Context) error {
		var err error
		found, err = m.serverGroupsNamed(ctx, name)
		return err
	})
	if err != nil {
		return &Error{Op: "list", Kind: "server groups", Name: name, Cloud: m.cloud.Name, Err: err}
	}
	for _, g := range found {
		if len(g.Members) > 0 || m.groupInUse(g.ID) {
			continue
		}
		if err := m.deleteGroupIfEmpty(ctx, g.ID); err != nil {
			return &Error{Op: "delete", Kind: "server group", Name: name, ID: g.ID, Cloud: m.cloud.Name, Err: err}
		}
	}
	return nil
}

// deleteServer deletes a server and waits until Nova no longer shows it.
func (m *Machines) deleteServer(ctx context.Context, cluster, id string) error {
	err := m.call(ctx, func(ctx context.Context) error {
		err := servers.Delete(ctx, m.compute, id).ExtractErr()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	// Gone means gone: Nova shows DELETED while the instance is still being
	// destroyed, and its ports and server-group membership go only after.
	_, err = m.waitServer(ctx, cluster, id, func(s *servers.Server) bool {
		return s == nil || s.Status == "SOFT_DELETED"
	})
	return err
}

// deleteResources deletes what was created for a machine apart from its
// server: floating IPs, then the server group (groupID or the one its ports
// name) when it is empty, then ports (last index first, so that an
// interrupted run leaves a prefix of them), then volumes. Missing resources
// are skipped.
func (m *Machines) deleteResources(ctx context.Context, cluster, name, groupID string) error {
	var errs []error
	byIndex, err := m.machinePorts(ctx, cluster, name)
	if err != nil {
		return err
	}
	var all []ports.Port
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(idx)))
	portIDs := map[string]bool{}
	for _, i := range idx {
		for _, p := range byIndex[i] {
			all = append(all, p)
			portIDs[p.ID] = true
		}
	}
	if len(all) > 0 {
		fips, err := m.floatingIPs(ctx, cluster, floatingips.ListOpts{Description: OwnershipTag(cluster)})
		if err != nil {
			return err
		}
		for _, f := range fips {
			if !portIDs[f.PortID] {
				continue
			}
			err := m.call(ctx, func(ctx context.Context) error {
				err := floatingips.Delete(ctx, m.cloud.Network, f.ID).ExtractErr()
				if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
					return nil
				}
				return err
			})
			if err != nil {
				errs = append(errs, &Error{Op: "delete", Kind: "floating IP", Name: f.FloatingIP, ID: f.ID, Cloud: m.cloud.Name, Err: err})
				continue
			}
			m.event(MachineEvent{Cluster: cluster, Machine: name, Phase: PhaseDelete, Name: "floating IP " + f.FloatingIP, ID: f.ID, Done: true})
		}
	}
	if len(errs) > 0 {
		// Keep the ports: they lead the next Delete to what is left.
		return errors.Join(errs...)
	}
	// The server group goes before the ports, which name it when the
	// server is already gone.
	groups := map[string]bool{}
	if groupID != "" {
		groups[groupID] = true
	}
	for _, p := range all {
		for _, t := range p.Tags {
			if id, ok := strings.CutPrefix(t, MetadataServerGroup+"="); ok && id != "" {
				groups[id] = true
			}
		}
	}
	for id := range groups {
		if m.groupInUse(id) {
			continue
		}
		if err := m.deleteGroupIfEmpty(ctx, id); err != nil {
			errs = append(errs, &Error{Op: "delete", Kind: "server group", ID: id, Cloud: m.cloud.Name, Err: err})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, p := range all {
		err := m.call(ctx, func(ctx context.Context) error {
			err := ports.Delete(ctx, m.cloud.Network, p.ID).ExtractErr()
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			errs = append(errs, &Error{Op: "delete", Kind: "port", Name: p.Name, ID: p.ID, Cloud: m.cloud.Name, Err: err})
			continue
		}
		m.event(MachineEvent{Cluster: cluster, Machine: name, Phase: PhaseDelete, Name: "port " + p.Name, ID: p.ID, Done: true})
	}
	vols, err := m.machineVolumes(ctx, cluster, name)
	if err != nil {
		errs = append(errs, err)
	}
	for _, v := range vols {
		if err := m.deleteVolume(ctx, v.ID); err != nil {
			errs = append(errs, &Error{Op: "delete", Kind: "volume", Name: v.Name, ID: v.ID, Cloud: m.cloud.Name, Err: err})
			continue
		}
		m.event(MachineEvent{Cluster: cluster, Machine: name, Phase: PhaseDelete, Name: "volume " + v.Name, ID: v.ID, Done: true})
	}
	return errors.Join(errs...)
}

// deleteVolume waits until the volume is detached, deletes it and waits
// until it is gone.
func (m *Machines) deleteVolume(ctx context.Context, id string) error {
	err := retry.Until(ctx, m.opts.wait, func(ctx context.Context) (bool, error) {
		v, err := volumes.Get(ctx, m.cloud.BlockStorage, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		switch v.Status {
		case "in-use", "attaching", "detaching", "creating", "downloading", "reserved":
			return false, nil
		case "deleting":
			return true, nil
		}
		err = volumes.Delete(ctx, m.cloud.BlockStorage, id, volumes.DeleteOpts{}).ExtractErr()
		switch {
		case err == nil, gophercloud.ResponseCodeIs(err, http.StatusNotFound):
			return true, nil
		case gophercloud.ResponseCodeIs(err, http.StatusBadRequest):
			// Cinder refuses while the status is changing; look again.
			return false, nil
		}
		return false, err
	})
	if err != nil {
		return err
	}
	return retry.Until(ctx, m.opts.wait, func(ctx context.Context) (bool, error) {
		v, err := volumes.Get(ctx, m.cloud.BlockStorage, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if v.Status == "error_deleting" {
			return false, retry.Permanent(fmt.Errorf("volume %s went to error_deleting", id))
		}
		return false, nil
	})
}

// deleteGroupIfEmpty deletes a server group openstrap created once it has
// no members.
func (m *Machines) deleteGroupIfEmpty(ctx context.Context, id string) error {
	return m.call(ctx, func(ctx context.Context) error {
		g, err := servergroups.Get(ctx, m.compute, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(g.Members) > 0 {
			return nil
		}
		err = servergroups.Delete(ctx, m.compute, id).ExtractErr()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		return err
	})
}
