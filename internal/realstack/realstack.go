package realstack

import (
	"path/filepath"
)

// Names and addresses that realstack.sh and seed.py set up. They mirror
// provider/openstacktest's fixtures where the simulator has the same thing.
const (
	// MemberCloud is the clouds.yaml entry of the member user "demo" in
	// project "demo" (roles member and load-balancer_member), like the
	// simulator's "openstacktest".
	MemberCloud = "realstack"
	// AdminCloud is the clouds.yaml entry of the admin user in project
	// "admin", like the simulator's "openstacktest-admin".
	AdminCloud = "realstack-admin"

	// DirEnv names the environment variable that moves the state directory.
	DirEnv = "OPENSTRAP_REALSTACK_DIR"
	// DefaultDir is the state directory (data, config, logs, pid files,
	// clouds.yaml) when DirEnv is unset.
	DefaultDir = "/var/lib/openstrap-realstack"
	// CloudsFileName is the clouds.yaml inside the state directory.
	CloudsFileName = "clouds.yaml"

	// ExternalNetwork is the router:external flat network (physnet
	// "public") that floating IPs come from.
	ExternalNetwork = "public"
	// FloatingIPCIDR is its subnet, the same range as the simulator's
	// default floating IP pool.
	FloatingIPCIDR = "127.42.0.0/24"
	// ImageName is the seeded image (raw, 1 MiB of zeros).
	ImageName = "ubuntu-24.04"
)

// Flavors are the seeded flavor names, smallest first.
func Flavors() []string {
	return []string{"m1.tiny", "m1.small", "m1.medium", "m1.large"}
}

// Dir returns the state directory that realstack.sh uses, given an
// environment lookup such as os.Getenv.
func Dir(getenv func(string) string) string {
	if d := getenv(DirEnv); d != "" {
		return d
	}
	return DefaultDir
}

// CloudsFile returns the clouds.yaml that realstack.sh writes.
func CloudsFile(getenv func(string) string) string {
	return filepath.Join(Dir(getenv), CloudsFileName)
}

// Selected reports whether the environment points OpenStack clients at the
// local real stack: OS_CLOUD names one of its clouds. (A test suite that
// honours OS_CLOUD works with any real cloud; this only tells the local
// stack, whose gaps Gaps lists, from others.)
func Selected(getenv func(string) string) bool {
	switch getenv("OS_CLOUD") {
	case MemberCloud, AdminCloud:
		return true
	}
	return false
}

// Gap is a behaviour of a production OpenStack that the local services
// cannot show. Tests that depend on one are marked with its Name.
type Gap struct {
	// Name is a short stable key, such as "lb-vip-port".
	Name string
	// Reason says what the local stack does instead, and why.
	Reason string
}

// Gaps lists every known gap of the local stack, each with its reason: the
// behaviours, not the tests. Which tests depend on them is marked with the
// tests (internal/cloudtest's gap list). It returns a new slice on each call.
func Gaps() []Gap {
	return []Gap{
		{"lb-vip-security-group", "Octavia's network driver here (internal/realstack/octavia) makes the VIP " +
			"a real Neutron port but plugs no amphora: the port keeps the project's default security " +
			"group instead of Octavia's lb-<id> group with the listeners' rules"},
		{"lb-graph-create", "Debian 12's Octavia (Zed, SQLAlchemy 1.4) commits a fully populated load " +
			"balancer before its listeners and pools and casts the create to its worker in between: " +
			"the worker marks the load balancer ACTIVE and leaves the children PENDING_CREATE for good"},
		{"lb-operating-status", "no amphora reports health: load balancers, listeners and pools stay " +
			"operating_status OFFLINE and members NO_MONITOR once ACTIVE"},
		{"floatingip-status", "no L3 agent: floating IPs stay status DOWN; a production cloud makes " +
			"an associated floating IP ACTIVE"},
		{"dataplane", "nothing boots or routes: Nova's fake driver makes servers ACTIVE without " +
			"running their user data, so no process answers on a server's or a VIP's address"},
		{"volumes", "Cinder runs Cinder's fake volume driver (internal/realstack/cinder): volumes " +
			"go through the real API, scheduler, quotas and attach state machine but hold no data, " +
			"and Nova's fake driver names attached disks /dev/sdX where libvirt says /dev/vdX"},
		{"provider-networks", "one flat physical network (\"public\") holds the external network; " +
			"tests cannot create further flat or VLAN provider networks on it"},
	}
}

// GapByName returns the gap with that name, and whether there is one.
func GapByName(name string) (Gap, bool) {
	for _, g := range Gaps() {
		if g.Name == name {
			return g, true
		}
	}
	return Gap{}, false
}
