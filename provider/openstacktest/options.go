package openstacktest

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/go-logr/logr"
)

// Option configures a Server.
type Option interface {
	apply(*options) error
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

type options struct {
	addr        string
	seed        uint64
	seeded      bool
	stateDir    string
	latency     time.Duration
	bootDelay   time.Duration
	lbDelay     time.Duration
	volumeDelay time.Duration
	fipPool     netip.Prefix
	hooks       ServerHooks
	log         logr.Logger
}

func defaultOptions() options {
	return options{
		addr:        "127.0.0.1:0",
		bootDelay:   100 * time.Millisecond,
		lbDelay:     100 * time.Millisecond,
		volumeDelay: 50 * time.Millisecond,
		fipPool:     netip.MustParsePrefix("127.42.0.0/24"),
		log:         logr.Discard(),
	}
}

// WithAddr makes the server listen on addr ("127.0.0.1:0", a random port, by
// default).
func WithAddr(addr string) Option {
	return optionFunc(func(o *options) error {
		if addr == "" {
			return fmt.Errorf("openstacktest: WithAddr: empty address")
		}
		o.addr = addr
		return nil
	})
}

// WithSeed makes generated IDs, MAC addresses and tokens deterministic for a
// given sequence of requests, for golden tests.
func WithSeed(seed uint64) Option {
	return optionFunc(func(o *options) error {
		o.seed, o.seeded = seed, true
		return nil
	})
}

// WithStateDir keeps the simulated cloud's state in dir and loads it again
// when a server starts on the same dir, so a simulated cloud survives a
// restart.
func WithStateDir(dir string) Option {
	return optionFunc(func(o *options) error {
		if dir == "" {
			return fmt.Errorf("openstacktest: WithStateDir: empty directory")
		}
		o.stateDir = dir
		return nil
	})
}

// WithLatency delays every request by d before it is handled. SetLatency
// changes it later.
func WithLatency(d time.Duration) Option {
	return durationOption("WithLatency", d, func(o *options) *time.Duration { return &o.latency })
}

// WithBootDelay sets how long a Nova server stays in BUILD before it becomes
// ACTIVE (100ms by default).
func WithBootDelay(d time.Duration) Option {
	return durationOption("WithBootDelay", d, func(o *options) *time.Duration { return &o.bootDelay })
}

// WithLoadBalancerDelay sets how long an Octavia object stays PENDING_*
// after each change (100ms by default).
func WithLoadBalancerDelay(d time.Duration) Option {
	return durationOption("WithLoadBalancerDelay", d, func(o *options) *time.Duration { return &o.lbDelay })
}

// WithVolumeDelay sets how long a Cinder volume stays "creating" (50ms by
// default).
func WithVolumeDelay(d time.Duration) Option {
	return durationOption("WithVolumeDelay", d, func(o *options) *time.Duration { return &o.volumeDelay })
}

// durationOption sets the duration field picks to d, refusing a negative
// one; name is the option's in the error.
func durationOption(name string, d time.Duration, field func(*options) *time.Duration) Option {
	return optionFunc(func(o *options) error {
		if d < 0 {
			return fmt.Errorf("openstacktest: %s: negative duration %v", name, d)
		}
		*field(o) = d
		return nil
	})
}

// WithFloatingIPPool sets the addresses floating IPs come from. The default,
// 127.42.0.0/24, lies in the loopback range so that a local process can
// listen on a floating IP.
func WithFloatingIPPool(cidr string) Option {
	return optionFunc(func(o *options) error {
		p, err := netip.ParsePrefix(cidr)
		if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
			return fmt.Errorf("openstacktest: WithFloatingIPPool: %q is not an IPv4 CIDR with room for addresses", cidr)
		}
		o.fipPool = p.Masked()
		return nil
	})
}

// WithLogger makes the server log requests (V(1)) and hook failures.
func WithLogger(log logr.Logger) Option {
	return optionFunc(func(o *options) error {
		o.log = log
		return nil
	})
}

// WithServerHooks runs hooks when a Nova server is built, becomes ACTIVE,
// is stopped, started, rebooted or deleted, and when load balancers change,
// for example to make a machine "boot" from its user data.
func WithServerHooks(h ServerHooks) Option {
	return optionFunc(func(o *options) error {
		o.hooks = h
		return nil
	})
}

// ServerHooks are called outside any request, each in its own goroutine,
// with a context that is cancelled when the Server closes. Every field is
// optional.
type ServerHooks struct {
	// Attach runs once, in NewServer before any other hook, with the
	// Server the hooks belong to, so that a runtime can write to consoles
	// (AppendConsole) without being handed the Server afterwards.
	Attach func(sim *Server)
	// OnSpawn runs when a server's build delay has passed, as Nova's
	// compute driver spawns the instance: the server stays in BUILD with
	// task_state "spawning" until it returns. An error puts the server in
	// ERROR with a fault (see SpawnFault); nil makes it ACTIVE. After a
	// restart from a state dir it runs again for a server still spawning,
	// so it must be idempotent.
	OnSpawn func(ctx context.Context, ev BootEvent) error
	// OnActive runs when a server goes from BUILD to ACTIVE. An error is
	// recorded (see HookErrors); the server stays ACTIVE, as a real VM whose
	// boot script failed does.
	OnActive func(ctx context.Context, ev BootEvent) error
	// OnStop, OnStart and OnReboot run when os-stop, os-start and reboot
	// are accepted; the server keeps the action's task state until the hook
	// returned and the action's delay passed. An error is recorded (see
	// HookErrors) and handled as Nova's compute manager does: a failed stop
	// or start reverts the task state (the server stays ACTIVE or SHUTOFF),
	// a failed reboot puts the server in ERROR with a fault.
	OnStop   func(ctx context.Context, ev BootEvent) error
	OnStart  func(ctx context.Context, ev BootEvent) error
	OnReboot func(ctx context.Context, ev BootEvent, hard bool) error
	// OnDelete runs when a server is deleted.
	OnDelete func(ctx context.Context, ev BootEvent)
	// OnLoadBalancers gets the complete set of load balancer frontends
	// (see Frontends) whenever it differs from the last one delivered,
	// after any change to load balancers, listeners, pools, members or
	// floating IP associations, and once at start. Calls are serialized and
	// coalesced: a hook that is slow gets only the latest set next.
	OnLoadBalancers func(ctx context.Context, frontends []Frontend)
}

// BootEvent describes a server to a hook.
type BootEvent struct {
	ServerID  string
	Name      string
	ProjectID string
	// Hostname is the host name Nova's metadata gives the instance: the
	// server name sanitized as Nova does (lower case, [a-z0-9-], at most 63
	// characters).
	Hostname string
	// UserData is the decoded user_data the server was created with.
	UserData []byte
	Metadata map[string]string
	Tags     []string
	// KeyName and PublicKey are the server's key pair ("" for none), as the
	// metadata service's public-keys hand them to cloud-init.
	KeyName   string
	PublicKey string
	// Addresses maps a network name to the server's fixed IPs on it.
	Addresses map[string][]string
	// FloatingIPs are the floating IPs associated with the server's ports.
	FloatingIPs []string
	// Ports are the server's Neutron ports, in attachment order.
	Ports []BootPort
}

// BootPort is one Neutron port of a server, with what a machine needs to
// configure its interface exactly as Neutron allocated it.
type BootPort struct {
	ID          string
	NetworkID   string
	NetworkName string
	MACAddress  string
	FixedIPs    []BootFixedIP
	// FloatingIPs are the floating IPs associated with this port.
	FloatingIPs []string
}

// BootFixedIP is one fixed IP of a port with its subnet.
type BootFixedIP struct {
	Address  string
	SubnetID string
	// CIDR and GatewayIP are the subnet's ("" gateway for none).
	CIDR      string
	GatewayIP string
}

// String leaves out the user data, which holds keys and tokens.
func (e BootEvent) String() string {
	return fmt.Sprintf("server %s (%s), %d bytes of user data", e.Name, e.ServerID, len(e.UserData))
}
