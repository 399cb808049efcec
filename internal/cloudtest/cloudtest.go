package cloudtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"

	"github.com/openstrap/openstrap/internal/realstack"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// AdminCloudEnv names the environment variable holding the clouds.yaml entry
// of an admin user on the real cloud; by default it is $OS_CLOUD + "-admin"
// (realstack's "realstack-admin").
const AdminCloudEnv = "OPENSTRAP_TEST_ADMIN_CLOUD"

// ExclusiveEnv names the environment variable that, set to "1", tells
// cloudtest that the tests have the real cloud's member project to
// themselves and run one at a time (go test -p 1 -parallel 1), as the
// realstack lane does. Only then does New delete, when a test ends, every
// resource the test left behind (see DeleteAdded).
const ExclusiveEnv = "OPENSTRAP_TEST_EXCLUSIVE"

// RealCloudMark starts the line New logs when a test runs on a real cloud,
// so that a runner can count those tests in go test -v output.
const RealCloudMark = "cloudtest: on the real cloud"

// Option configures New.
type Option interface{ apply(*options) }

type options struct {
	sim []openstacktest.Option
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithSimOptions passes options to the simulator; a real cloud ignores them
// (a test whose assertions depend on them calls RequireSim).
func WithSimOptions(opts ...openstacktest.Option) Option {
	return optionFunc(func(o *options) { o.sim = append(o.sim, opts...) })
}

// Env is one test's cloud: the simulator or the real cloud $OS_CLOUD names.
type Env struct {
	t         testing.TB
	sim       *openstacktest.Server
	cloudName string
	adminName string

	mu       sync.Mutex
	member   *provider.Cloud
	admin    *provider.Cloud
	clusters []string
	// counters count the requests of every Cloud the Env made; guarded by
	// countersMu, since Cloud holds mu while it connects.
	countersMu sync.Mutex
	counters   map[*provider.Cloud]*Counter
	// before is the snapshot when the test started, when ExclusiveEnv is
	// set.
	before []openstacktest.Resource
}

// Real reports whether tests run against a real cloud: $OS_CLOUD is set.
func Real() bool { return os.Getenv("OS_CLOUD") != "" }

// New returns the test's cloud. On the simulator it starts one that closes
// when the test ends; on a real cloud it deletes, when the test ends, what
// carries the ownership tag of every cluster named through Cluster, and with
// ExclusiveEnv set everything else the test left.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt.apply(&o)
	}
	e := &Env{t: t}
	if !Real() {
		e.sim = openstacktest.NewTestServer(t, o.sim...)
		return e
	}
	e.cloudName = os.Getenv("OS_CLOUD")
	e.adminName = os.Getenv(AdminCloudEnv)
	if e.adminName == "" {
		e.adminName = e.cloudName + "-admin"
	}
	// .ci/realstack-lane.sh counts the tests that log this line.
	t.Logf("%s %q (admin %q)", RealCloudMark, e.cloudName, e.adminName)
	t.Cleanup(e.cleanup)
	if os.Getenv(ExclusiveEnv) == "1" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		e.before = e.Snapshot(ctx)
	}
	return e
}

// Sim returns the simulator, or nil on a real cloud.
func (e *Env) Sim() *openstacktest.Server { return e.sim }

// IsReal reports whether the test runs against a real cloud.
func (e *Env) IsReal() bool { return e.sim == nil }

// LocalStack reports whether the real cloud is the local services of
// internal/realstack, whose limits realstack.Gaps lists (no L3 agent: floating
// IPs and router interfaces stay DOWN; no-op amphorae; fake virt and volume
// drivers).
func (e *Env) LocalStack() bool { return e.sim == nil && realstack.Selected(os.Getenv) }

// CloudName is the clouds.yaml entry of the member user: $OS_CLOUD, or the
// simulator's openstacktest.CloudName.
func (e *Env) CloudName() string {
	if e.sim != nil {
		return openstacktest.CloudName
	}
	return e.cloudName
}

// Cloud connects as the member user (once per Env) and fails the test when
// it cannot.
func (e *Env) Cloud(ctx context.Context) *provider.Cloud {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.member == nil {
		c, err := e.connect(ctx, false, nil)
		if err != nil {
			e.t.Fatalf("connect to the test cloud as member: %v", err)
		}
		e.member = c
	}
	return e.member
}

// AdminCloud connects as the admin user (once per Env) and fails the test
// when it cannot.
func (e *Env) AdminCloud(ctx context.Context) *provider.Cloud {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.admin == nil {
		c, err := e.connect(ctx, true, nil)
		if err != nil {
			e.t.Fatalf("connect to the test cloud as admin: %v", err)
		}
		e.admin = c
	}
	return e.admin
}

// Connect makes a new connection as the member user (or the admin user)
// whose requests go through rt (http.DefaultTransport when nil), for tests
// that need their own transport; opts add options such as WithLogger but
// must not set the HTTP client. Like Cloud's, its requests are counted (see
// Counter).
func (e *Env) Connect(ctx context.Context, admin bool, rt http.RoundTripper, opts ...provider.Option) (*provider.Cloud, error) {
	return e.connect(ctx, admin, rt, opts...)
}

// Counter returns the request counter of c, a Cloud that Cloud, AdminCloud
// or Connect made, and fails the test for any other.
func (e *Env) Counter(c *provider.Cloud) *Counter {
	e.t.Helper()
	e.countersMu.Lock()
	n := e.counters[c]
	e.countersMu.Unlock()
	if n == nil {
		e.t.Fatalf("cloudtest: Counter of a Cloud this Env did not make")
	}
	return n
}

// connect connects through a Counter over rt.
func (e *Env) connect(ctx context.Context, admin bool, rt http.RoundTripper, opts ...provider.Option) (*provider.Cloud, error) {
	n := newCounter(rt)
	opts = append([]provider.Option{provider.WithHTTPClient(&http.Client{Transport: n})}, opts...)
	c, err := e.dial(ctx, admin, opts)
	if err != nil {
		return nil, err
	}
	n.bind(c)
	e.countersMu.Lock()
	if e.counters == nil {
		e.counters = map[*provider.Cloud]*Counter{}
	}
	e.counters[c] = n
	e.countersMu.Unlock()
	return c, nil
}

func (e *Env) dial(ctx context.Context, admin bool, opts []provider.Option) (*provider.Cloud, error) {
	switch {
	case e.sim != nil && admin:
		return e.sim.AdminCloud(ctx, opts...)
	case e.sim != nil:
		return e.sim.Cloud(ctx, opts...)
	}
	name := e.cloudName
	if admin {
		name = e.adminName
	}
	// provider.Connect refuses WithHTTPClient with a transport of its own
	// for a clouds.yaml cloud that sets TLS options, so the credentials go
	// in explicitly.
	auth, region, err := authOf(name)
	if err != nil {
		return nil, err
	}
	c, err := provider.Connect(ctx, append([]provider.Option{provider.WithAuth(auth), provider.WithRegion(region)}, opts...)...)
	if err != nil {
		return nil, err
	}
	c.Name = name
	return c, nil
}

// authOf reads a cloud's password credentials from clouds.yaml, found as
// gophercloud finds it ($OS_CLIENT_CONFIG_FILE and the usual places).
func authOf(cloud string) (provider.Auth, string, error) {
	ao, eo, _, err := clouds.Parse(clouds.WithCloudName(cloud))
	if err != nil {
		return provider.Auth{}, "", fmt.Errorf("clouds.yaml cloud %q: %w", cloud, err)
	}
	a := provider.Auth{AuthURL: ao.IdentityEndpoint, Username: ao.Username, UserID: ao.UserID, Password: ao.Password,
		UserDomainName: ao.DomainName, UserDomainID: ao.DomainID}
	if ao.Scope != nil {
		a.ProjectName, a.ProjectID = ao.Scope.ProjectName, ao.Scope.ProjectID
		a.ProjectDomainName, a.ProjectDomainID = ao.Scope.DomainName, ao.Scope.DomainID
	}
	return a, eo.Region, nil
}

// Name returns base on the simulator, and base with a random suffix on a
// real cloud, so that tests sharing one cloud (and earlier runs' leftovers)
// do not collide.
func (e *Env) Name(base string) string {
	if e.sim != nil {
		return base
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		e.t.Fatalf("random name: %v", err)
	}
	return base + "-" + hex.EncodeToString(b[:])
}

// Cluster returns a cluster name like Name and, on a real cloud, deletes
// every resource carrying its ownership tag when the test ends.
func (e *Env) Cluster(base string) string {
	name := e.Name(base)
	if e.sim == nil {
		e.mu.Lock()
		e.clusters = append(e.clusters, name)
		e.mu.Unlock()
	}
	return name
}

func (e *Env) cleanup() {
	e.mu.Lock()
	clusters := append([]string(nil), e.clusters...)
	c := e.member
	e.mu.Unlock()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, cl := range clusters {
		if err := DeleteOwned(ctx, c, provider.OwnershipTag(cl)); err != nil {
			e.t.Errorf("clean up cluster %s on the real cloud: %v", cl, err)
		}
	}
	if e.before != nil {
		if err := DeleteAdded(ctx, c, e.before); err != nil {
			e.t.Errorf("clean up what the test left on the real cloud: %v", err)
		}
	}
}

// Timeout scales d for a real cloud, where servers take seconds to become
// ACTIVE and load balancers to leave PENDING_*, rather than milliseconds.
func (e *Env) Timeout(d time.Duration) time.Duration {
	if e.sim != nil {
		return d
	}
	return max(d*5, 3*time.Minute)
}

// isTag reports whether tags holds tag.
func isTag(tags []string, tag string) bool {
	for _, x := range tags {
		if x == tag {
			return true
		}
	}
	return false
}

// ownedBy reports whether a description or name marks a resource of the
// cluster whose ownership tag is tag, for resources without tags.
func ownedBy(text, tag string) bool { return strings.Contains(text, tag) }
