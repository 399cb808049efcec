package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/openstrap/openstrap/internal/retry"
)

// serverLists shares server list calls between the machines of a cluster
// that wait for their servers at the same time: a waiter uses the newest
// list that was started after its previous look, joining one in flight or
// starting one. A hundred machines booting together then cost one list call
// per poll interval instead of a hundred GETs.
type serverLists struct {
	mu       sync.Mutex
	clusters map[string]*clusterList
}

type clusterList struct {
	last   *listFlight // newest finished list
	flight *listFlight // list in flight
}

type listFlight struct {
	started time.Time
	done    chan struct{}
	servers map[string]servers.Server
	err     error
}

// since returns the cluster's servers from a list started after t.
func (l *serverLists) since(ctx context.Context, m *Machines, cluster string, t time.Time) (map[string]servers.Server, error) {
	for {
		l.mu.Lock()
		if l.clusters == nil {
			l.clusters = map[string]*clusterList{}
		}
		c := l.clusters[cluster]
		if c == nil {
			c = &clusterList{}
			l.clusters[cluster] = c
		}
		if c.last != nil && c.last.started.After(t) {
			res := c.last.servers
			l.mu.Unlock()
			return res, nil
		}
		f := c.flight
		lead := f == nil || !f.started.After(t)
		if lead && f != nil {
			// A list older than what this caller needs is in flight;
			// wait for it, then look again.
			l.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		if lead {
			f = &listFlight{started: time.Now(), done: make(chan struct{})}
			c.flight = f
		}
		l.mu.Unlock()

		if lead {
			srvs, err := m.listServers(ctx, cluster, "")
			if err == nil {
				f.servers = make(map[string]servers.Server, len(srvs))
				for _, s := range srvs {
					f.servers[s.ID] = s
				}
			}
			f.err = err
			l.mu.Lock()
			c.flight = nil
			if err == nil && (c.last == nil || c.last.started.Before(f.started)) {
				c.last = f
			}
			l.mu.Unlock()
			close(f.done)
			return f.servers, err
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err == nil {
			return f.servers, nil
		}
		if errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded) {
			continue // the leader gave up for its own reasons
		}
		return nil, f.err
	}
}

// waitServer polls the server until cond says it is done with it. The
// server comes from a list shared with the cluster's other waiters; a
// server missing from the list is fetched on its own (404 means gone, and
// cond gets nil).
func (m *Machines) waitServer(ctx context.Context, cluster, id string, cond func(*servers.Server) bool) (*servers.Server, error) {
	// The first look needs a list started now: an older one may predate
	// the server.
	last := time.Now()
	var srv *servers.Server
	err := retry.Until(ctx, m.opts.wait, func(ctx context.Context) (bool, error) {
		now := time.Now()
		list, err := m.lists.since(ctx, m, cluster, last)
		if err != nil {
			return false, err
		}
		last = now
		if s, ok := list[id]; ok {
			srv = &s
			return cond(srv), nil
		}
		s, err := servers.Get(ctx, m.compute, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			srv = nil
			return cond(nil), nil
		}
		if err != nil {
			return false, err
		}
		srv = s
		return cond(srv), nil
	})
	return srv, err
}

// ServerStatus returns Nova's status of a machine's server (BUILD, ACTIVE,
// ERROR, ...) and, in ERROR, its fault, from a server list of the cluster
// started at most maxAge ago: callers that poll many machines of a cluster
// at once (controllers requeueing while servers build) share one list call
// instead of making one each. A server missing from the list is fetched on
// its own; one that does not exist is an error matching ErrNotFound.
func (m *Machines) ServerStatus(ctx context.Context, cluster, serverID string, maxAge time.Duration) (status, fault string, err error) {
	list, err := m.lists.since(ctx, m, cluster, time.Now().Add(-maxAge))
	if err != nil {
		return "", "", err
	}
	if s, ok := list[serverID]; ok {
		return s.Status, s.Fault.Message, nil
	}
	s, err := servers.Get(ctx, m.compute, serverID).Extract()
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return "", "", &Error{Op: "get", Kind: "server", ID: serverID, Cloud: m.cloud.Name, Err: fmt.Errorf("%w: %v", ErrNotFound, err)}
	}
	if err != nil {
		return "", "", &Error{Op: "get", Kind: "server", ID: serverID, Cloud: m.cloud.Name, Err: err}
	}
	return s.Status, s.Fault.Message, nil
}
