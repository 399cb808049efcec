package pivot

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/openstrap/openstrap/internal/kubetest"
	"github.com/openstrap/openstrap/internal/pivotbench/capigraph"
)

// TestMoveAllNamespaces moves every namespace at once, between a pair of API
// servers of its own (the shared pair holds other tests' objects).
func TestMoveAllNamespaces(t *testing.T) {
	dir, err := capigraph.CRDDir()
	if err != nil {
		t.Fatal(err)
	}
	opts := kubetest.Options{ClusterAPICRDs: true, CRDDirectoryPaths: []string{dir}}
	src, dst := kubetest.ForTest(t, opts), kubetest.ForTest(t, opts)
	namespaces := []string{"team-a", "team-b"}
	before := map[string]map[string]*unstructured.Unstructured{}
	for i, ns := range namespaces {
		load(t, src.Config, capigraph.Objects(capigraph.Spec{Namespace: ns, Clusters: i + 1, Machines: 2}))
		before[ns] = snapshotNS(t, src.Config, ns)
	}
	rep, err := Move(context.Background(), src.Config, dst.Config, Options{})
	if err != nil {
		t.Fatalf("Move: %v", err)
	}
	total := 0
	for _, ns := range namespaces {
		checkMoved(t, before[ns], snapshotNS(t, dst.Config, ns), snapshotNS(t, src.Config, ns))
		total += len(before[ns])
	}
	if len(rep.Plan) != total {
		t.Errorf("moved %d objects, want %d (the namespaces' objects only)", len(rep.Plan), total)
	}
	for _, w := range rep.Warnings {
		t.Errorf("unexpected warning: %s", w)
	}
}
