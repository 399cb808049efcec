package pivot

import (
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
)

// Annotations this package writes.
const (
	// OriginUIDAnnotation is written on every object a Move creates; its value is the
	// UID of the object it was copied from. A repeated or resumed Move uses it to
	// recognise what it already wrote, and Rollback to find what to move back.
	OriginUIDAnnotation = "pivot.openstrap.io/origin-uid"
	// PausedByMoveAnnotation marks Clusters and ClusterClasses that a Move paused, so
	// that only those are unpaused when the move completes or is rolled back.
	PausedByMoveAnnotation = "pivot.openstrap.io/paused-by-move"
	// RemovedFinalizersAnnotation records, on a source object whose deletion has
	// begun, the finalizers the move removed from it, so that a resumed move still
	// copies them and Rollback restores them.
	RemovedFinalizersAnnotation = "pivot.openstrap.io/removed-finalizers"
)

// The Cluster API and clusterctl contract this package follows.
const (
	clusterNameLabel        = clusterv1.ClusterNameLabel
	providerLabel           = clusterv1.ProviderNameLabel
	pausedAnnotation        = clusterv1.PausedAnnotation
	clusterctlLabel         = clusterctlv1.ClusterctlLabel
	moveLabel               = clusterctlv1.ClusterctlMoveLabel
	moveHierarchyLabel      = clusterctlv1.ClusterctlMoveHierarchyLabel
	blockMoveAnnotation     = clusterctlv1.BlockMoveAnnotation
	deleteForMoveAnnotation = clusterctlv1.DeleteForMoveAnnotation
)
