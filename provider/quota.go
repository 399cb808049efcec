package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	bsquotas "github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	netquotas "github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/quotas"
)

// QuotaShortage is one resource a batch needs more of than the project's
// quota leaves.
type QuotaShortage struct {
	// Resource is the quota's name: "instances", "cores", "ram" (MiB),
	// "ports", "floating IPs", "volumes", "gigabytes".
	Resource string
	// Need is what the batch asks for; InUse what the project already uses
	// (reserved included); Limit the quota.
	Need, InUse, Limit int
}

// QuotaError is the result of a failed quota pre-flight: every resource that
// falls short, reported at once before anything was created. It matches
// ErrQuotaExceeded.
type QuotaError struct {
	// Cloud names the cloud, when known.
	Cloud string
	// Machines is how many machines of the batch still had to be created.
	Machines int
	// Shortages lists each resource that falls short.
	Shortages []QuotaShortage
}

// Error implements error.
func (e *QuotaError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "quota exceeded for %d machines", e.Machines)
	if e.Cloud != "" {
		fmt.Fprintf(&b, " on cloud %q", e.Cloud)
	}
	b.WriteString(": ")
	for i, s := range e.Shortages {
		if i > 0 {
			b.WriteString("; ")
		}
		unit := ""
		if s.Resource == "ram" {
			unit = " MiB"
		}
		fmt.Fprintf(&b, "%s: need %d%s, %d of %d in use (%d free)", s.Resource, s.Need, unit, s.InUse, s.Limit, max(s.Limit-s.InUse, 0))
	}
	b.WriteString(" (free resources or ask for a higher quota)")
	return b.String()
}

// Is makes the error match ErrQuotaExceeded.
func (e *QuotaError) Is(target error) bool { return target == ErrQuotaExceeded }

// quotaNeed sums what a set of plans asks of the cloud.
type quotaNeed struct {
	machines, instances, cores, ram, ports, fips, volumes, gigabytes int
}

func (n *quotaNeed) add(p *machinePlan) {
	n.machines++
	n.instances++
	n.cores += p.flavor.VCPUs
	n.ram += p.flavor.RAM
	n.ports += len(p.ports)
	if p.spec.FloatingIP != nil {
		n.fips++
	}
	n.volumes += p.volumeCount()
	n.gigabytes += p.volumeGiB()
}

// checkQuota compares need with the project's quota and usage in Nova,
// Neutron and Cinder. A quota API the cloud does not offer or the user may
// not read is skipped (and logged): the create calls still fail cleanly on
// quota then.
func (m *Machines) checkQuota(ctx context.Context, need quotaNeed) error {
	log := m.logger(ctx)
	qe := &QuotaError{Cloud: m.cloud.Name, Machines: need.machines}
	check := func(resource string, need, inUse, limit int) {
		if need > 0 && limit >= 0 && inUse+need > limit {
			qe.Shortages = append(qe.Shortages, QuotaShortage{Resource: resource, Need: need, InUse: inUse, Limit: limit})
		}
	}
	skippable := func(err error) bool {
		return gophercloud.ResponseCodeIs(err, http.StatusNotFound) || gophercloud.ResponseCodeIs(err, http.StatusForbidden)
	}
	if need.instances > 0 {
		var lim *limits.Limits
		err := m.call(ctx, func(ctx context.Context) error {
			var err error
			lim, err = limits.Get(ctx, m.compute, nil).Extract()
			return err
		})
		switch {
		case err == nil:
			a := lim.Absolute
			check("instances", need.instances, a.TotalInstancesUsed, a.MaxTotalInstances)
			check("cores", need.cores, a.TotalCoresUsed, a.MaxTotalCores)
			check("ram", need.ram, a.TotalRAMUsed, a.MaxTotalRAMSize)
		case skippable(err):
			log.Info("compute quota not checked", "reason", Describe(err))
		default:
			return &Error{Op: "get", Kind: "compute limits", Cloud: m.cloud.Name, Err: err}
		}
	}
	if (need.ports > 0 || need.fips > 0) && m.cloud.ProjectID != "" {
		var q *netquotas.QuotaDetailSet
		err := m.call(ctx, func(ctx context.Context) error {
			var err error
			q, err = netquotas.GetDetail(ctx, m.cloud.Network, m.cloud.ProjectID).Extract()
			return err
		})
		switch {
		case err == nil:
			check("ports", need.ports, q.Port.Used+q.Port.Reserved, q.Port.Limit)
			check("floating IPs", need.fips, q.FloatingIP.Used+q.FloatingIP.Reserved, q.FloatingIP.Limit)
		case skippable(err):
			log.Info("network quota not checked", "reason", Describe(err))
		default:
			return &Error{Op: "get", Kind: "network quota", Cloud: m.cloud.Name, Err: err}
		}
	}
	if need.volumes > 0 && m.cloud.BlockStorage != nil && m.cloud.ProjectID != "" {
		// Only the two quotas needed are decoded, so that an answer that
		// renders others without usage still serves.
		var q struct {
			QuotaSet struct {
				Volumes   bsquotas.QuotaUsage `json:"volumes"`
				Gigabytes bsquotas.QuotaUsage `json:"gigabytes"`
			} `json:"quota_set"`
		}
		err := m.call(ctx, func(ctx context.Context) error {
			return bsquotas.GetUsage(ctx, m.cloud.BlockStorage, m.cloud.ProjectID).ExtractInto(&q)
		})
		switch {
		case err == nil:
			v, g := q.QuotaSet.Volumes, q.QuotaSet.Gigabytes
			check("volumes", need.volumes, v.InUse+v.Reserved, v.Limit)
			check("gigabytes", need.gigabytes, g.InUse+g.Reserved, g.Limit)
		case skippable(err):
			log.Info("block storage quota not checked", "reason", Describe(err))
		default:
			return &Error{Op: "get", Kind: "block storage quota", Cloud: m.cloud.Name, Err: err}
		}
	}
	if len(qe.Shortages) > 0 {
		return qe
	}
	return nil
}
