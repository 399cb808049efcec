// Package pivot moves Cluster API objects from one management cluster to
// another (step 6 of the openstrap flow), as `clusterctl move` does, but
// transactionally, resumably and faster.
//
// # What moves
//
// The types are discovered from the source's CRDs labelled with Cluster API's
// provider label (cluster.x-k8s.io/provider) or clusterctl's label
// (clusterctl.cluster.x-k8s.io), in their storage versions, plus Secrets and
// ConfigMaps. NewGraph builds a pure in-memory graph of the objects: owner
// references, and soft ownership by Cluster API's conventions (cluster secrets
// named <cluster>-kubeconfig/-ca/-etcd/-sa/-proxy, the cluster-name label on
// unowned Secrets and ConfigMaps, ClusterResourceSet bindings and resources,
// ClusterClass references). Clusters, ClusterClasses, ClusterResourceSets and
// objects labelled clusterctl.cluster.x-k8s.io/move-hierarchy move with all they
// own; objects labelled clusterctl.cluster.x-k8s.io/move move alone. Related
// objects that stay behind are reported as warnings.
//
// # Protocol and guarantees
//
// Move checks preconditions (types established in the target, no conflicting
// objects, clusters not paused by someone else, clusters provisioned), pauses
// the clusters (spec.paused on Clusters, the cluster.x-k8s.io/paused annotation on
// ClusterClasses), waits until no object carries
// clusterctl.cluster.x-k8s.io/block-move, creates the objects in the target in
// owner order with bounded concurrency (owner references remapped to the new
// UIDs, status restored through the status subresource), verifies that the
// target holds every object, deletes them from the source (children first,
// removing the finalizers of moved objects only, after marking them with
// clusterctl.cluster.x-k8s.io/delete-for-move) and unpauses the clusters in the
// target.
//
// Every object written carries OriginUIDAnnotation, the UID of the object it
// was copied from, and every pause carries PausedByMoveAnnotation. This makes
// Move idempotent and resumable: after an interruption at any point (process
// killed, context cancelled, API errors) a new Move with the same options
// completes the move with each object exactly once in the target and none in
// the source, and Rollback instead returns to the original state. Nothing is
// deleted from the source before the target holds all of it, so no object is
// ever in neither cluster.
//
// ToDirectory and FromDirectory back the same graph up to YAML files and
// restore it with the same guarantees.
//
// Concurrency: the functions are safe to call concurrently for disjoint
// selections; two moves of the same objects at once are not supported.
package pivot
