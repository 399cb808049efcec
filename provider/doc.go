// Package provider is openstrap's access to an OpenStack cloud: authentication
// from clouds.yaml or OS_* variables, the service clients for compute,
// network, load balancing, images and block storage, and the compute side of
// a cluster (servers with their ports, volumes, server groups and floating
// IPs).
//
// Every call that talks to the cloud takes a context and stops when it is
// cancelled. Errors from the cloud keep gophercloud's error in their chain and
// can be tested with errors.Is against ErrNotFound, ErrQuotaExceeded,
// ErrConflict and ErrInvalidSpec. Nothing here logs or returns a password,
// token or key.
package provider
