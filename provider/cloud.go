package provider

import "github.com/gophercloud/gophercloud/v2"

// Cloud is an authenticated connection to one OpenStack cloud and region. It
// is safe for concurrent use; the service clients share one token that is
// renewed when it expires.
type Cloud struct {
	// Name is the clouds.yaml entry the connection came from, if any.
	Name string
	// Region is the region every service client points at.
	Region string
	// ProjectID is the project the token is scoped to.
	ProjectID string

	// Provider is the authenticated gophercloud provider client.
	Provider *gophercloud.ProviderClient
	// Compute is Nova (v2.1).
	Compute *gophercloud.ServiceClient
	// Network is Neutron (v2.0).
	Network *gophercloud.ServiceClient
	// LoadBalancer is Octavia (v2); nil when the cloud has none.
	LoadBalancer *gophercloud.ServiceClient
	// Image is Glance (v2).
	Image *gophercloud.ServiceClient
	// BlockStorage is Cinder (v3); nil when the cloud has none.
	BlockStorage *gophercloud.ServiceClient
}
