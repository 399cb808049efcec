package infra

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// APIEndpoint is where the cluster's API server is reached.
type APIEndpoint struct {
	Host string
	Port int
}

// String renders host:port, or "" when there is no endpoint yet.
func (e APIEndpoint) String() string {
	if e.Host == "" {
		return ""
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
}

// LoadBalancerStatus holds the API server load balancer's IDs.
type LoadBalancerStatus struct {
	ID         string
	ListenerID string
	PoolID     string
	MonitorID  string
	VIPAddress string
	VIPPortID  string
}

// FloatingIPStatus is the API endpoint's floating IP.
type FloatingIPStatus struct {
	ID      string
	Address string
	// Owned is false for a floating IP the caller brought
	// (Spec.APIServer.FloatingIP): it is never deleted.
	Owned bool
}

// Status is what exists for a cluster: plain IDs and addresses that a caller
// can store and pass back to Ensure (WithStatus) and to the member calls.
type Status struct {
	Cluster           string
	ExternalNetworkID string
	// ExternalNetworkName is the external network's name, so that a later
	// Ensure given the same name need not look it up again.
	ExternalNetworkName string
	NetworkID           string
	SubnetID            string
	// NodeCIDR is the subnet's CIDR.
	NodeCIDR string
	RouterID string
	// SecurityGroups maps each managed role to its group's ID; empty when
	// the groups are unmanaged.
	SecurityGroups map[Role]string
	APIEndpoint    APIEndpoint
	// APIServerPort is the port members listen on.
	APIServerPort int
	LoadBalancer  LoadBalancerStatus
	FloatingIP    FloatingIPStatus
}

// Change is one thing Ensure would do.
type Change struct {
	Resource string
	Name     string
	ID       string
	Action   Action
	// Detail says what differs, for updates and rule changes.
	Detail string
}

// String renders the change on one line.
func (c Change) String() string {
	s := fmt.Sprintf("%s %s", c.Action, c.Resource)
	if c.Name != "" {
		s += fmt.Sprintf(" %q", c.Name)
	}
	if c.ID != "" {
		s += " (" + c.ID + ")"
	}
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// Plan lists what Ensure would create, change or delete.
type Plan struct {
	Changes []Change
}

// Empty reports whether Ensure would change nothing.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

// String renders one change per line.
func (p Plan) String() string {
	if p.Empty() {
		return "no changes"
	}
	lines := make([]string, len(p.Changes))
	for i, c := range p.Changes {
		lines[i] = c.String()
	}
	return strings.Join(lines, "\n")
}
