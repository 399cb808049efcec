// Package controllers holds openstrap's Cluster API infrastructure provider
// reconcilers for OpenStack: OpenStackClusterReconciler turns an
// OpenStackCluster into the cluster's network infrastructure (infra.Ensure,
// infra.Delete) and OpenStackMachineReconciler turns an OpenStackMachine
// into a Nova server with its ports and volumes (provider.Machines). They
// run on a controller-runtime manager, beside Cluster API's own reconcilers
// or a platform team's; Setup wires both.
//
// # Names in the cloud
//
// The cloud resources of a cluster carry the ownership tag
// "openstrap-cluster=<Cluster name>" and are named "<Cluster name>-...";
// a machine's server is named like its OpenStackMachine. The Cluster's
// name, not "<namespace>-<name>", keeps the names short (infra allows 40
// characters) and matches what the rest of openstrap (create-cluster,
// pivot) makes, so a cluster made by those flows is adopted as is. The
// price: two Clusters with the same name in different namespaces must not
// share an OpenStack project.
//
// # Never blocking on the cloud
//
// A reconcile submits work and returns: the infrastructure is ensured with
// infra.WithoutWaiting, servers are submitted with Machines.Start and
// looked at again with Machines.ServerStatus and Machines.Get, load
// balancer members are added and removed without waiting for Octavia, and
// servers are deleted with Machines.StartDelete. While something builds or
// goes the reconciler asks to be called again after Timing.PollInterval.
// Each reconcile is bounded by Timing.CloudTimeout; deleting the cluster's
// load balancer (infra.Delete) and a machine's volumes still waits,
// bounded, for them to be gone, since what lies under them cannot go
// before.
//
// # Errors a person must act on
//
// A missing or malformed identity Secret, credentials the cloud refuses, a
// flavor, image or network that does not exist, a spec the cloud refuses
// (400) and an exhausted quota end in a False condition whose reason names
// the problem (see the reasons in provider/api/v1beta2) and whose message
// says what to do. The reconciler then does not call the cloud again for
// that object until its spec (generation) or its identity Secret changes,
// or Timing.RetryAfterPermanentError has passed; connections are cached
// per Secret resourceVersion, so a refused password is not sent again until
// the Secret changes. Other errors (5xx, timeouts) are returned and retried
// with controller-runtime's backoff.
//
// # No webhooks
//
// Objects reach the reconcilers without admission webhooks: the CRD schema
// (enums, limits, CEL rules, defaults such as identityRef.type=Secret) is
// all the validation and defaulting the API server does. The reconcilers
// default the rest themselves, without writing defaults back into the spec:
// no managedSubnets and no network mean one subnet 10.6.0.0/24; no
// externalNetwork means the cloud's only external network (none: an
// internal cluster); no ports mean one port on the cluster's network with
// the managed security groups of the machine's role; control-plane machines
// without a serverGroup go to the soft-anti-affinity group
// "<cluster>-control-plane". Values the cloud layer cannot honour (a
// filter by name and tags at once, an API server fixedIP with a load
// balancer, load balancer additionalPorts, spec.tags on the cluster) are
// refused with an InvalidSpec condition naming the field, never ignored.
//
// # Concurrency
//
// Reconcilers are safe for concurrent use across objects (controller-runtime
// never reconciles one object twice at once). Two managers must not
// reconcile the same objects at once: use leader election.
//
// # Watches and cache
//
// OpenStackClusters watch their Clusters (unpause) and identity Secrets;
// OpenStackMachines watch their Machines, the Clusters (unpause,
// infrastructure provisioned), the OpenStackClusters (provisioned) and
// identity Secrets. The manager's cache therefore holds Secrets (the
// bootstrap data Secrets are read through it too); limit the manager to
// the namespaces it serves (cache.Options.DefaultNamespaces) where that
// matters. Nothing watches the cloud: a server deleted behind openstrap's
// back is noticed on the next reconcile of its object.
package controllers
