package tools

import (
	"context"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/openstrap/openstrap/internal/capicrds"
)

// Labels clusterctl puts on the CRDs it installs; pivot and clusterctl move
// discover the types to move by them.
const (
	ClusterctlLabel = capicrds.ClusterctlLabel
	ProviderLabel   = capicrds.ProviderLabel
)

// ClusterAPICRDs returns the pinned Cluster API CRDs (core, kubeadm bootstrap,
// kubeadm control plane, clusterctl's inventory) labelled as clusterctl init
// labels them and serving v1beta2 only. They are embedded in package
// internal/capicrds, generated from the module go.mod pins: nothing is read
// from the module cache at run time. ctx is unused and kept for callers.
func ClusterAPICRDs(ctx context.Context) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	_ = ctx
	crds, err := capicrds.All()
	if err != nil {
		return nil, fmt.Errorf("tools: %w", err)
	}
	return crds, nil
}
