package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// prepare defaults and validates specs and rejects a machine named twice.
func prepare(specs []MachineSpec) ([]MachineSpec, error) {
	out := make([]MachineSpec, len(specs))
	var errs []error
	seen := map[string]int{}
	for i, s := range specs {
		s = s.Default()
		out[i] = s
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("spec %d: %w", i, err))
		}
		key := s.Cluster + "/" + s.Name
		if j, dup := seen[key]; dup {
			errs = append(errs, &Error{Op: "validate", Kind: "machine", Name: s.Name,
				Err: fmt.Errorf("%w: specs %d and %d name the same machine", ErrInvalidSpec, j, i)})
		}
		seen[key] = i
	}
	return out, errors.Join(errs...)
}

// preflight resolves the specs of machines that do not exist yet and checks
// the quota for them. It returns the resolver, warm for the creates.
func (m *Machines) preflight(ctx context.Context, specs []MachineSpec) (*resolver, error) {
	res := m.newResolver()
	existing := map[string]map[string]bool{}
	var need quotaNeed
	for _, s := range specs {
		names, ok := existing[s.Cluster]
		if !ok {
			srvs, err := m.listServers(ctx, s.Cluster, "")
			if err != nil {
				return nil, err
			}
			names = map[string]bool{}
			for _, srv := range srvs {
				names[srv.Name] = true
			}
			existing[s.Cluster] = names
		}
		if names[s.Name] {
			continue
		}
		p, err := m.plan(ctx, s, res)
		if err != nil {
			return nil, fmt.Errorf("machine %q: %w", s.Name, err)
		}
		need.add(p)
	}
	if need.machines == 0 {
		return res, nil
	}
	return res, m.checkQuota(ctx, need)
}

// CheckQuota resolves specs (flavors, images, networks, ...) and checks that
// the project's quota and usage leave room for the machines among them that
// do not exist yet: instances, cores, RAM, ports, floating IPs, volumes and
// gigabytes. Every shortage is reported in one *QuotaError, which matches
// ErrQuotaExceeded. It creates nothing.
func (m *Machines) CheckQuota(ctx context.Context, specs []MachineSpec) error {
	specs, err := prepare(specs)
	if err != nil {
		return err
	}
	_, err = m.preflight(ctx, specs)
	return err
}

// CreateBatch creates several machines, at most the configured concurrency
// at once (WithMachinesConcurrency). It first validates every spec and runs
// CheckQuota, and creates nothing when either fails. Then it creates the
// machines like Create; one machine failing does not stop the others.
//
// The result has one entry per spec, in order, as Create returns it (nil
// when the machine was not created); the error joins every failure, each
// naming its machine.
func (m *Machines) CreateBatch(ctx context.Context, specs []MachineSpec) ([]*Machine, error) {
	specs, err := prepare(specs)
	if err != nil {
		return nil, err
	}
	res, err := m.preflight(ctx, specs)
	if err != nil {
		return nil, err
	}
	out := make([]*Machine, len(specs))
	errs := make([]error, len(specs))
	sem := make(chan struct{}, m.opts.concurrency)
	var wg sync.WaitGroup
	for i := range specs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = fmt.Errorf("machine %q: %w", specs[i].Name, ctx.Err())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			mc, err := m.create(ctx, specs[i], res)
			out[i] = mc
			if err != nil {
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", specs[i].Name)) {
					err = fmt.Errorf("machine %q: %w", specs[i].Name, err)
				}
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
