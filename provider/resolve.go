package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/openstrap/openstrap/internal/retry"
)

// uuidRE matches the IDs OpenStack services generate, with or without
// dashes. A reference that looks like one is tried as an ID first.
var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

func looksLikeID(s string) bool { return uuidRE.MatchString(s) }

// flavorInfo is what a machine needs to know of its flavor.
type flavorInfo struct {
	ID, Name          string
	VCPUs, RAM, DiskG int
}

// imageInfo is what a machine needs to know of its image.
type imageInfo struct {
	ID, Name  string
	MinDiskG  int
	SizeBytes int64
}

// networkInfo is a resolved network.
type networkInfo struct {
	ID, Name string
	External bool
}

// subnetInfo is a resolved subnet.
type subnetInfo struct {
	ID, Name, NetworkID string
}

// resolver turns names into IDs, remembering successful answers so that a
// batch of machines looks each name up once. It is safe for concurrent use.
type resolver struct {
	cloud   *Cloud
	compute *gophercloud.ServiceClient
	policy  retry.Policy

	mu    sync.Mutex
	cache map[string]*memoEntry
}

type memoEntry struct {
	done chan struct{}
	val  any
	err  error
}

func newResolver(cloud *Cloud, compute *gophercloud.ServiceClient, p retry.Policy) *resolver {
	return &resolver{cloud: cloud, compute: compute, policy: p, cache: map[string]*memoEntry{}}
}

// memo runs fn once per key among concurrent callers and remembers its
// result when it succeeds. Failures are not remembered.
func (r *resolver) memo(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	for {
		r.mu.Lock()
		e, ok := r.cache[key]
		if !ok {
			e = &memoEntry{done: make(chan struct{})}
			r.cache[key] = e
			r.mu.Unlock()
			e.val, e.err = fn(ctx)
			if e.err != nil {
				r.mu.Lock()
				delete(r.cache, key)
				r.mu.Unlock()
			}
			close(e.done)
			return e.val, e.err
		}
		r.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			return e.val, nil
		}
		if !errors.Is(e.err, context.Canceled) && !errors.Is(e.err, context.DeadlineExceeded) {
			return nil, e.err
		}
		// The caller that looked failed for its own reason; look again.
	}
}

// findErr builds the error for a reference that matched nothing or several
// resources.
func (r *resolver) findErr(kind, ref string, cause error, what string, candidates []string) error {
	sort.Strings(candidates)
	const max = 15
	extra := ""
	if len(candidates) > max {
		extra = fmt.Sprintf(" and %d more", len(candidates)-max)
		candidates = candidates[:max]
	}
	msg := "none"
	if len(candidates) > 0 {
		msg = strings.Join(candidates, ", ") + extra
	}
	return &Error{Op: "find", Kind: kind, Name: ref, Cloud: r.cloud.Name, Err: fmt.Errorf("%w; %s: %s", cause, what, msg)}
}

func (r *resolver) call(ctx context.Context, op func(context.Context) error) error {
	return retry.Do(ctx, r.policy, op)
}

// flavor resolves a flavor name or ID.
func (r *resolver) flavor(ctx context.Context, ref string) (flavorInfo, error) {
	v, err := r.memo(ctx, "flavor\x00"+ref, func(ctx context.Context) (any, error) {
		var all []flavors.Flavor
		err := r.call(ctx, func(ctx context.Context) error {
			pages, err := flavors.ListDetail(r.compute, nil).AllPages(ctx)
			if err != nil {
				return err
			}
			all, err = flavors.ExtractFlavors(pages)
			return err
		})
		if err != nil {
			return nil, &Error{Op: "list", Kind: "flavors", Cloud: r.cloud.Name, Err: err}
		}
		var byName []flavors.Flavor
		for _, f := range all {
			if f.ID == ref {
				return flavorInfo{ID: f.ID, Name: f.Name, VCPUs: f.VCPUs, RAM: f.RAM, DiskG: f.Disk}, nil
			}
			if f.Name == ref {
				byName = append(byName, f)
			}
		}
		switch len(byName) {
		case 1:
			f := byName[0]
			return flavorInfo{ID: f.ID, Name: f.Name, VCPUs: f.VCPUs, RAM: f.RAM, DiskG: f.Disk}, nil
		case 0:
			var names []string
			for _, f := range all {
				names = append(names, f.Name)
			}
			return nil, r.findErr("flavor", ref, ErrNotFound, "available flavors", names)
		}
		var ids []string
		for _, f := range byName {
			ids = append(ids, f.ID)
		}
		return nil, r.findErr("flavor", ref, ErrAmbiguous, "use one of the IDs", ids)
	})
	if err != nil {
		return flavorInfo{}, err
	}
	return v.(flavorInfo), nil
}

func toImageInfo(im images.Image) imageInfo {
	return imageInfo{ID: im.ID, Name: im.Name, MinDiskG: im.MinDiskGigabytes, SizeBytes: im.SizeBytes}
}

func hasAll(have, want []string) bool {
	set := map[string]bool{}
	for _, t := range have {
		set[t] = true
	}
	for _, t := range want {
		if !set[t] {
			return false
		}
	}
	return true
}

// image resolves an image by name or ID and, optionally, tags. Only active
// images qualify.
func (r *resolver) image(ctx context.Context, ref string, tags []string) (imageInfo, error) {
	tags = append([]string(nil), tags...)
	sort.Strings(tags)
	label := ref
	if len(tags) > 0 {
		label = strings.TrimSpace(ref + " tagged " + strings.Join(tags, ","))
	}
	v, err := r.memo(ctx, "image\x00"+ref+"\x00"+strings.Join(tags, "\x00"), func(ctx context.Context) (any, error) {
		if looksLikeID(ref) {
			var im *images.Image
			err := r.call(ctx, func(ctx context.Context) error {
				var err error
				im, err = images.Get(ctx, r.cloud.Image, ref).Extract()
				return err
			})
			switch {
			case err == nil:
				if im.Status != images.ImageStatusActive {
					return nil, &Error{Op: "find", Kind: "image", Name: ref, Cloud: r.cloud.Name,
						Err: fmt.Errorf("%w: image is %s, not active", ErrConflict, im.Status)}
				}
				if !hasAll(im.Tags, tags) {
					return nil, &Error{Op: "find", Kind: "image", Name: label, Cloud: r.cloud.Name,
						Err: fmt.Errorf("%w: image %s lacks some of the tags %v (it has %v)", ErrNotFound, ref, tags, im.Tags)}
				}
				return toImageInfo(*im), nil
			case !gophercloud.ResponseCodeIs(err, 404):
				return nil, &Error{Op: "get", Kind: "image", ID: ref, Cloud: r.cloud.Name, Err: err}
			}
		}
		opts := images.ListOpts{Tags: tags, Status: images.ImageStatusActive}
		if ref != "" {
			opts.Name = ref
		}
		found, err := r.listImages(ctx, opts)
		if err != nil {
			return nil, err
		}
		switch len(found) {
		case 1:
			return toImageInfo(found[0]), nil
		case 0:
			all, err := r.listImages(ctx, images.ListOpts{Status: images.ImageStatusActive})
			if err != nil {
				return nil, err
			}
			var names []string
			for _, im := range all {
				if len(im.Tags) > 0 {
					names = append(names, fmt.Sprintf("%s (tags %s)", im.Name, strings.Join(im.Tags, ",")))
				} else {
					names = append(names, im.Name)
				}
			}
			return nil, r.findErr("image", label, ErrNotFound, "active images", names)
		}
		var ids []string
		for _, im := range found {
			ids = append(ids, fmt.Sprintf("%s (%s)", im.ID, im.Name))
		}
		return nil, r.findErr("image", label, ErrAmbiguous, "matching images", ids)
	})
	if err != nil {
		return imageInfo{}, err
	}
	return v.(imageInfo), nil
}

func (r *resolver) listImages(ctx context.Context, opts images.ListOpts) ([]images.Image, error) {
	var out []images.Image
	err := r.call(ctx, func(ctx context.Context) error {
		pages, err := images.List(r.cloud.Image, opts).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = images.ExtractImages(pages)
		return err
	})
	if err != nil {
		return nil, &Error{Op: "list", Kind: "images", Cloud: r.cloud.Name, Err: err}
	}
	// Glance's name filter is exact; check anyway, and the status.
	kept := out[:0]
	for _, im := range out {
		if (opts.Name == "" || im.Name == opts.Name) && im.Status == images.ImageStatusActive && hasAll(im.Tags, opts.Tags) {
			kept = append(kept, im)
		}
	}
	return kept, nil
}

type networkWithExt struct {
	networks.Network
	external.NetworkExternalExt
}

// preferOwn keeps the resources of the cloud's project when names collide
// across projects (an admin sees every project's resources).
func preferOwn[T any](items []T, project func(T) string, own string) []T {
	if len(items) < 2 || own == "" {
		return items
	}
	var mine []T
	for _, it := range items {
		if project(it) == own {
			mine = append(mine, it)
		}
	}
	if len(mine) > 0 {
		return mine
	}
	return items
}

// network resolves a network name or ID.
func (r *resolver) network(ctx context.Context, ref string) (networkInfo, error) {
	v, err := r.memo(ctx, "network\x00"+ref, func(ctx context.Context) (any, error) {
		if looksLikeID(ref) {
			var n networkWithExt
			err := r.call(ctx, func(ctx context.Context) error {
				return networks.Get(ctx, r.cloud.Network, ref).ExtractInto(&n)
			})
			if err == nil {
				return networkInfo{ID: n.ID, Name: n.Name, External: n.External}, nil
			}
			if !gophercloud.ResponseCodeIs(err, 404) {
				return nil, &Error{Op: "get", Kind: "network", ID: ref, Cloud: r.cloud.Name, Err: err}
			}
		}
		found, err := r.listNetworks(ctx, networks.ListOpts{Name: ref})
		if err != nil {
			return nil, err
		}
		found = preferOwn(found, func(n networkWithExt) string { return n.ProjectID }, r.cloud.ProjectID)
		switch len(found) {
		case 1:
			return networkInfo{ID: found[0].ID, Name: found[0].Name, External: found[0].External}, nil
		case 0:
			all, err := r.listNetworks(ctx, networks.ListOpts{})
			if err != nil {
				return nil, err
			}
			var names []string
			for _, n := range all {
				names = append(names, n.Name)
			}
			return nil, r.findErr("network", ref, ErrNotFound, "visible networks", names)
		}
		var ids []string
		for _, n := range found {
			ids = append(ids, n.ID)
		}
		return nil, r.findErr("network", ref, ErrAmbiguous, "use one of the IDs", ids)
	})
	if err != nil {
		return networkInfo{}, err
	}
	return v.(networkInfo), nil
}

func (r *resolver) listNetworks(ctx context.Context, opts networks.ListOptsBuilder) ([]networkWithExt, error) {
	var out []networkWithExt
	err := r.call(ctx, func(ctx context.Context) error {
		pages, err := networks.List(r.cloud.Network, opts).AllPages(ctx)
		if err != nil {
			return err
		}
		out = nil
		return networks.ExtractNetworksInto(pages, &out)
	})
	if err != nil {
		return nil, &Error{Op: "list", Kind: "networks", Cloud: r.cloud.Name, Err: err}
	}
	if o, ok := opts.(networks.ListOpts); ok && o.Name != "" {
		kept := out[:0]
		for _, n := range out {
			if n.Name == o.Name {
				kept = append(kept, n)
			}
		}
		out = kept
	}
	return out, nil
}

// externalNetwork resolves the network floating IPs come from: ref by name
// or ID, or the cloud's only external network when ref is empty.
func (r *resolver) externalNetwork(ctx context.Context, ref string) (networkInfo, error) {
	if ref != "" {
		n, err := r.network(ctx, ref)
		if err != nil {
			return n, err
		}
		if !n.External {
			return n, &Error{Op: "find", Kind: "external network", Name: ref, ID: n.ID, Cloud: r.cloud.Name,
				Err: fmt.Errorf("%w: the network is not external (router:external is false)", ErrInvalidSpec)}
		}
		return n, nil
	}
	v, err := r.memo(ctx, "external\x00", func(ctx context.Context) (any, error) {
		yes := true
		found, err := r.listNetworks(ctx, external.ListOptsExt{ListOptsBuilder: networks.ListOpts{}, External: &yes})
		if err != nil {
			return nil, err
		}
		var ext []networkWithExt
		for _, n := range found {
			if n.External {
				ext = append(ext, n)
			}
		}
		switch len(ext) {
		case 1:
			return networkInfo{ID: ext[0].ID, Name: ext[0].Name, External: true}, nil
		case 0:
			return nil, &Error{Op: "find", Kind: "external network", Cloud: r.cloud.Name,
				Err: fmt.Errorf("%w: the cloud has no external network", ErrNotFound)}
		}
		var names []string
		for _, n := range ext {
			names = append(names, fmt.Sprintf("%s (%s)", n.Name, n.ID))
		}
		return nil, r.findErr("external network", "", ErrAmbiguous, "name one of", names)
	})
	if err != nil {
		return networkInfo{}, err
	}
	return v.(networkInfo), nil
}

// subnet resolves a subnet name or ID, within networkID when it is set.
func (r *resolver) subnet(ctx context.Context, ref, networkID string) (subnetInfo, error) {
	v, err := r.memo(ctx, "subnet\x00"+ref+"\x00"+networkID, func(ctx context.Context) (any, error) {
		if looksLikeID(ref) {
			var sn *subnets.Subnet
			err := r.call(ctx, func(ctx context.Context) error {
				var err error
				sn, err = subnets.Get(ctx, r.cloud.Network, ref).Extract()
				return err
			})
			if err == nil {
				if networkID != "" && sn.NetworkID != networkID {
					return nil, &Error{Op: "find", Kind: "subnet", Name: ref, Cloud: r.cloud.Name,
						Err: fmt.Errorf("%w: subnet belongs to network %s, not %s", ErrInvalidSpec, sn.NetworkID, networkID)}
				}
				return subnetInfo{ID: sn.ID, Name: sn.Name, NetworkID: sn.NetworkID}, nil
			}
			if !gophercloud.ResponseCodeIs(err, 404) {
				return nil, &Error{Op: "get", Kind: "subnet", ID: ref, Cloud: r.cloud.Name, Err: err}
			}
		}
		list := func(opts subnets.ListOpts) ([]subnets.Subnet, error) {
			var out []subnets.Subnet
			err := r.call(ctx, func(ctx context.Context) error {
				pages, err := subnets.List(r.cloud.Network, opts).AllPages(ctx)
				if err != nil {
					return err
				}
				out, err = subnets.ExtractSubnets(pages)
				return err
			})
			if err != nil {
				return nil, &Error{Op: "list", Kind: "subnets", Cloud: r.cloud.Name, Err: err}
			}
			kept := out[:0]
			for _, s := range out {
				if (opts.Name == "" || s.Name == opts.Name) && (opts.NetworkID == "" || s.NetworkID == opts.NetworkID) {
					kept = append(kept, s)
				}
			}
			return kept, nil
		}
		found, err := list(subnets.ListOpts{Name: ref, NetworkID: networkID})
		if err != nil {
			return nil, err
		}
		found = preferOwn(found, func(s subnets.Subnet) string { return s.ProjectID }, r.cloud.ProjectID)
		switch len(found) {
		case 1:
			return subnetInfo{ID: found[0].ID, Name: found[0].Name, NetworkID: found[0].NetworkID}, nil
		case 0:
			all, err := list(subnets.ListOpts{NetworkID: networkID})
			if err != nil {
				return nil, err
			}
			var names []string
			for _, s := range all {
				names = append(names, fmt.Sprintf("%s (%s)", s.Name, s.CIDR))
			}
			return nil, r.findErr("subnet", ref, ErrNotFound, "visible subnets", names)
		}
		var ids []string
		for _, s := range found {
			ids = append(ids, s.ID)
		}
		return nil, r.findErr("subnet", ref, ErrAmbiguous, "use one of the IDs", ids)
	})
	if err != nil {
		return subnetInfo{}, err
	}
	return v.(subnetInfo), nil
}

// securityGroup resolves a security group name or ID of the cloud's
// project.
func (r *resolver) securityGroup(ctx context.Context, ref string) (string, error) {
	v, err := r.memo(ctx, "secgroup\x00"+ref, func(ctx context.Context) (any, error) {
		if looksLikeID(ref) {
			var g *groups.SecGroup
			err := r.call(ctx, func(ctx context.Context) error {
				var err error
				g, err = groups.Get(ctx, r.cloud.Network, ref).Extract()
				return err
			})
			if err == nil {
				return g.ID, nil
			}
			if !gophercloud.ResponseCodeIs(err, 404) {
				return nil, &Error{Op: "get", Kind: "security group", ID: ref, Cloud: r.cloud.Name, Err: err}
			}
		}
		list := func(opts groups.ListOpts) ([]groups.SecGroup, error) {
			var out []groups.SecGroup
			err := r.call(ctx, func(ctx context.Context) error {
				pages, err := groups.List(r.cloud.Network, opts).AllPages(ctx)
				if err != nil {
					return err
				}
				out, err = groups.ExtractGroups(pages)
				return err
			})
			if err != nil {
				return nil, &Error{Op: "list", Kind: "security groups", Cloud: r.cloud.Name, Err: err}
			}
			kept := out[:0]
			for _, g := range out {
				if (opts.Name == "" || g.Name == opts.Name) && (opts.ProjectID == "" || g.ProjectID == opts.ProjectID) {
					kept = append(kept, g)
				}
			}
			return kept, nil
		}
		found, err := list(groups.ListOpts{Name: ref, ProjectID: r.cloud.ProjectID})
		if err != nil {
			return nil, err
		}
		switch len(found) {
		case 1:
			return found[0].ID, nil
		case 0:
			all, err := list(groups.ListOpts{ProjectID: r.cloud.ProjectID})
			if err != nil {
				return nil, err
			}
			var names []string
			for _, g := range all {
				names = append(names, g.Name)
			}
			return nil, r.findErr("security group", ref, ErrNotFound, "the project's security groups", names)
		}
		var ids []string
		for _, g := range found {
			ids = append(ids, g.ID)
		}
		return nil, r.findErr("security group", ref, ErrAmbiguous, "use one of the IDs", ids)
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}
