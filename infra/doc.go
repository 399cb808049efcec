// Package infra builds and removes a Kubernetes cluster's network
// infrastructure on OpenStack: the network, subnet and router, managed
// security groups for control-plane and worker machines, the API server's
// Octavia load balancer (listener, pool, health monitor, members) and the
// floating IP of the API endpoint.
//
//	inf := infra.New(cloud, infra.WithProgress(print))
//	st, err := inf.Ensure(ctx, infra.Spec{Cluster: "demo", NodeCIDR: "10.6.0.0/24", ExternalNetwork: "public"})
//	err = inf.AddAPIServerMember(ctx, st, infra.Member{Name: "demo-cp-0", Address: "10.6.0.12"})
//	err = inf.Delete(ctx, "demo")
//
// # Idempotency and crash safety
//
// Every resource Ensure creates is named "<cluster>-..." and tagged
// OwnerTag(cluster) ("openstrap-cluster=<cluster>"): Octavia objects at
// creation, Neutron resources right after it (Neutron's create bodies take no
// tags). Ensure finds resources again by those names (and by tag), so it can
// be called again after any failure, including a process killed between two
// API calls: it adopts an untagged resource with its name (the leftover of
// a crash between create and tag), creates only what is missing and
// corrects drift (a missing managed security group rule is added, a foreign
// rule in a managed group removed, a router gateway restored). After an
// ambiguous failure of a create (a dropped connection), it looks again
// before creating again, so nothing is duplicated. An Ensure that finds
// everything in place makes no write call and one read per resource kind
// (with WithStatus; without it, one more read to resolve the external
// network by name).
//
// Resources the caller brings (Spec.Network, Spec.Subnet, Spec.Router,
// Spec.APIServer.FloatingIP, unmanaged security groups) are used and never
// modified beyond what the spec asks (an interface on a caller's router, an
// association of a caller's floating IP) and never deleted. Delete removes
// what carries the cluster's tag or its deterministic names, in dependency
// order, and is idempotent; it refuses while servers still use the network
// unless Force is given.
//
// Plan reports what Ensure would do, making only read calls.
//
// # Concurrency
//
// Ensure works on independent resources at once: the security groups
// while the network and router are built, the load balancer as soon as the
// subnet exists, the floating IP once the load balancer and the router
// interface exist; at most WithConcurrency calls are in flight. An Infra is
// safe for concurrent use, but two Ensure or Delete calls for the same
// cluster must not overlap.
//
// # Errors, retries, logging
//
// Transient errors (5xx, 429 with Retry-After, dropped connections,
// Octavia's 409 while a load balancer is PENDING_*) are retried with
// backoff within the context's deadline. Permanent ones (400, quota, a
// missing external network) fail at once with a *provider.Error naming the
// resource and what to do, matching provider.ErrNotFound,
// ErrQuotaExceeded, ErrConflict, ErrInvalidSpec or ErrAmbiguous with
// errors.Is. Spec errors name the field and its value. Logging goes to the
// logr.Logger in the context (or WithLogger): V(0) for phases, V(1) for
// each resource; progress events (WithProgress) report each decision with
// its duration. Neither carries credentials.
package infra
