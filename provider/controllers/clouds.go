package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/provider"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// CACertKey is the optional key of an identity Secret holding PEM
// certificates to trust for the cloud's TLS, as the OpenStack provider for
// Cluster API names it.
const CACertKey = "cacert"

// Identity is the cloud identity of an object: its identityRef and the
// Secret it names, as the reconciler read it.
type Identity struct {
	// Namespace is the namespace of the object and of the Secret.
	Namespace string
	// Ref is the object's identityRef.
	Ref infrav1.OpenStackIdentityReference
	// Secret is the Secret Ref names. Its data holds credentials: never
	// log it.
	Secret *corev1.Secret
}

// CloudFunc connects to the cloud of an identity. ConnectSecret is the
// default; tests and callers with their own authentication pass another.
// Errors a person must fix should match provider.ErrCloudConfig or
// provider.ErrAuthentication: they are cached until the Secret changes.
type CloudFunc func(ctx context.Context, id Identity) (*provider.Cloud, error)

// ConnectSecret connects with the clouds.yaml under the Secret's
// "clouds.yaml" key (infrav1.CloudsYAMLKey), the cloud Ref.CloudName
// names, Ref.Region when set, and the PEM under "cacert" when present.
func ConnectSecret(ctx context.Context, id Identity) (*provider.Cloud, error) {
	if id.Secret == nil {
		return nil, fmt.Errorf("%w: identity Secret %s/%s not read", provider.ErrCloudConfig, id.Namespace, id.Ref.Name)
	}
	data := id.Secret.Data[infrav1.CloudsYAMLKey]
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: Secret %s/%s has no %q key: put the clouds.yaml there",
			provider.ErrCloudConfig, id.Namespace, id.Ref.Name, infrav1.CloudsYAMLKey)
	}
	opts := []provider.Option{provider.WithCloudsYAMLData(data), provider.WithCloud(id.Ref.CloudName)}
	if id.Ref.Region != "" {
		opts = append(opts, provider.WithRegion(id.Ref.Region))
	}
	if ca := id.Secret.Data[CACertKey]; len(ca) > 0 {
		opts = append(opts, provider.WithCACertData(ca))
	}
	c, err := provider.Connect(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("identity Secret %s/%s, cloud %q: %w", id.Namespace, id.Ref.Name, id.Ref.CloudName, err)
	}
	return c, nil
}

// session is one authenticated cloud with the services the reconcilers use
// on it. The services keep per-process state (locks, shared polls), so
// every reconcile of the same identity shares one session.
type session struct {
	cloud    *provider.Cloud
	infra    *infra.Infra
	machines *provider.Machines
}

// Clouds caches connections per identity: per Secret (UID), cloud name and
// region, for one resourceVersion of the Secret. A reconcile reuses the
// connection (its token is renewed by gophercloud when it expires); a
// changed Secret makes a new one. A refusal a person must fix
// (provider.ErrCloudConfig, provider.ErrAuthentication) is cached too, so
// the same wrong password is not sent again until the Secret changes.
// Clouds is safe for concurrent use.
type Clouds struct {
	connect CloudFunc
	mu      sync.Mutex
	entries map[string]*cloudEntry
}

type cloudEntry struct {
	version string
	done    chan struct{}
	s       *session
	err     error
}

// NewClouds returns a cache that connects with fn (ConnectSecret when nil).
func NewClouds(fn CloudFunc) *Clouds {
	if fn == nil {
		fn = ConnectSecret
	}
	return &Clouds{connect: fn, entries: map[string]*cloudEntry{}}
}

func (c *Clouds) session(ctx context.Context, id Identity) (*session, error) {
	if id.Secret == nil {
		return nil, fmt.Errorf("%w: identity Secret %s/%s not read", provider.ErrCloudConfig, id.Namespace, id.Ref.Name)
	}
	key := string(id.Secret.UID) + "\x00" + id.Ref.CloudName + "\x00" + id.Ref.Region
	version := id.Secret.ResourceVersion
	for {
		c.mu.Lock()
		e := c.entries[key]
		if e != nil && e.version == version {
			c.mu.Unlock()
			select {
			case <-e.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if e.s != nil || cacheable(e.err) {
				return e.s, e.err
			}
			// A transient failure of another caller: connect again.
			c.mu.Lock()
			if c.entries[key] == e {
				delete(c.entries, key)
			}
			c.mu.Unlock()
			continue
		}
		e = &cloudEntry{version: version, done: make(chan struct{})}
		c.entries[key] = e
		c.mu.Unlock()

		cloud, err := c.connect(ctx, id)
		if err == nil {
			e.s = &session{
				cloud:    cloud,
				infra:    infra.New(cloud, infra.WithoutWaiting()),
				machines: provider.NewMachines(cloud),
			}
		}
		e.err = err
		close(e.done)
		if err != nil && !cacheable(err) {
			c.mu.Lock()
			if c.entries[key] == e {
				delete(c.entries, key)
			}
			c.mu.Unlock()
		}
		return e.s, e.err
	}
}

// cacheable reports whether a connection failure needs a person (and a
// changed Secret) to go away.
func cacheable(err error) bool {
	return errors.Is(err, provider.ErrCloudConfig) || errors.Is(err, provider.ErrAuthentication)
}
