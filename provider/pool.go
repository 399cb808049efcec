package provider

import "context"

// APIServerPool registers control-plane machines with the cluster's API
// server load balancer. infra implements it (inf.APIServerPool(status));
// provider never imports infra, so the dependency points one way only.
//
// Both methods must be idempotent: adding a member that is already there and
// removing one that is gone succeed.
type APIServerPool interface {
	// AddMember makes address a backend of the API server pool under name.
	AddMember(ctx context.Context, name, address string) error
	// RemoveMember removes the backend registered under name.
	RemoveMember(ctx context.Context, name string) error
}
