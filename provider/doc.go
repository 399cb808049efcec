// Package provider is openstrap's access to an OpenStack cloud: authentication
// from clouds.yaml or OS_* variables (Connect), the service clients for
// compute, network, load balancing, images and block storage (Cloud), and the
// compute side of a cluster (NewMachines): servers with their ports, volumes,
// server groups and floating IPs, created, observed and deleted by cluster and
// machine name.
//
// The machines service is idempotent and crash-safe: every resource it
// creates carries a deterministic name and the ownership tag
// openstrap-cluster=<cluster>, a second Create returns the existing machine,
// and Create or Delete run again after any failure converge without
// duplicating or leaking anything. One Machines value is safe for concurrent
// use.
//
// Every call that talks to the cloud takes a context and stops when it is
// cancelled. Errors from the cloud keep gophercloud's error in their chain and
// can be tested with errors.Is against ErrNotFound, ErrQuotaExceeded,
// ErrConflict, ErrInvalidSpec and ErrAmbiguous. Nothing here logs or returns a
// password, token or key.
package provider
