package v1beta2_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cluster-api/util/contract"
	"sigs.k8s.io/yaml"

	v1beta2 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// TestCRDs checks the embedded CRDs: one per kind registered by
// AddToScheme, served and stored as v1beta2 only, with the labels Cluster
// API (contract version) and clusterctl (move) need.
func TestCRDs(t *testing.T) {
	crds, err := v1beta2.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := v1beta2.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, crd := range crds {
		kinds[crd.Spec.Names.Kind] = true
		gvk := v1beta2.GroupVersion.WithKind(crd.Spec.Names.Kind)
		if !scheme.Recognizes(gvk) || !scheme.Recognizes(v1beta2.GroupVersion.WithKind(crd.Spec.Names.ListKind)) {
			t.Errorf("CRD %s: kind %s or %s not registered by AddToScheme", crd.Name, crd.Spec.Names.Kind, crd.Spec.Names.ListKind)
		}
		// Cluster API finds the CRD of a referenced kind by this name.
		if want := contract.CalculateCRDName(v1beta2.Group, crd.Spec.Names.Kind); crd.Name != want || crd.Spec.Group != v1beta2.Group {
			t.Errorf("CRD %s (group %s): want name %s", crd.Name, crd.Spec.Group, want)
		}
		if got := crd.Labels["cluster.x-k8s.io/v1beta2"]; got != "v1beta2" {
			t.Errorf("CRD %s: label cluster.x-k8s.io/v1beta2 = %q, want v1beta2", crd.Name, got)
		}
		if _, ok := crd.Labels["clusterctl.cluster.x-k8s.io"]; !ok {
			t.Errorf("CRD %s: label clusterctl.cluster.x-k8s.io missing (clusterctl move needs it)", crd.Name)
		}
		if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != v1beta2.Version || !crd.Spec.Versions[0].Served || !crd.Spec.Versions[0].Storage {
			t.Errorf("CRD %s: want exactly v1beta2, served and stored", crd.Name)
			continue
		}
		v := crd.Spec.Versions[0]
		wantStatus := crd.Spec.Names.Kind == v1beta2.OpenStackClusterKind || crd.Spec.Names.Kind == v1beta2.OpenStackMachineKind
		if hasStatus := v.Subresources != nil && v.Subresources.Status != nil; hasStatus != wantStatus {
			t.Errorf("CRD %s: status subresource %v, want %v", crd.Name, hasStatus, wantStatus)
		}
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil || v.Schema.OpenAPIV3Schema.XPreserveUnknownFields != nil {
			t.Errorf("CRD %s: want a structural schema that does not preserve unknown fields", crd.Name)
		}
	}
	for _, k := range []string{v1beta2.OpenStackClusterKind, v1beta2.OpenStackClusterTemplateKind, v1beta2.OpenStackMachineKind, v1beta2.OpenStackMachineTemplateKind} {
		if !kinds[k] {
			t.Errorf("no CRD for kind %s", k)
		}
	}
	if len(crds) != 4 {
		t.Errorf("CRDs() returned %d CRDs, want 4", len(crds))
	}
}

// TestCRDsEqualGeneratedFiles checks that CRDs returns exactly what
// controller-gen wrote into crd/ (make verify-generate checks that those
// files match the types).
func TestCRDsEqualGeneratedFiles(t *testing.T) {
	crds, err := v1beta2.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("crd/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(crds) {
		t.Fatalf("%d files in crd/, CRDs() returned %d", len(files), len(crds))
	}
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, want); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, crds[i]); d != "" {
			t.Errorf("CRDs()[%d] differs from %s (-file +embedded):\n%s", i, f, d)
		}
	}
}
