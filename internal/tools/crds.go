package tools

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// Labels clusterctl puts on the CRDs it installs; pivot and clusterctl move
// discover the types to move by them.
const (
	ClusterctlLabel = "clusterctl.cluster.x-k8s.io"
	ProviderLabel   = "cluster.x-k8s.io/provider"
)

// crdProviders names the provider of each directory ClusterAPICRDPaths
// returns, in its order.
var crdProviders = []string{"cluster-api", "bootstrap-kubeadm", "control-plane-kubeadm", "clusterctl"}

// ClusterAPICRDs reads the pinned Cluster API CRDs from the module cache and
// labels them per provider as clusterctl init does.
func ClusterAPICRDs(ctx context.Context) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dirs, err := ClusterAPICRDPaths(ctx)
	if err != nil {
		return nil, err
	}
	var all []*apiextensionsv1.CustomResourceDefinition
	for i, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			for _, doc := range bytes.Split(b, []byte("\n---")) {
				if len(bytes.TrimSpace(doc)) == 0 {
					continue
				}
				crd := &apiextensionsv1.CustomResourceDefinition{}
				if err := yaml.Unmarshal(doc, crd); err != nil {
					return nil, fmt.Errorf("tools: CRD in %s: %w", f, err)
				}
				if crd.Kind != "CustomResourceDefinition" {
					continue
				}
				if crd.Labels == nil {
					crd.Labels = map[string]string{}
				}
				crd.Labels[ClusterctlLabel] = ""
				if i < len(crdProviders) {
					crd.Labels[ProviderLabel] = crdProviders[i]
				}
				all = append(all, crd)
			}
		}
	}
	return all, nil
}
