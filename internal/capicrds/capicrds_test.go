package capicrds_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/openstrap/openstrap/internal/capicrds"
)

// TestVersionMatchesGoMod fails when go.mod pins another Cluster API than the
// one the constants (and the embedded CRDs) name.
func TestVersionMatchesGoMod(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-m", "-f", "{{.Version}}", capicrds.Module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", capicrds.Module, err)
	}
	if got := strings.TrimSpace(string(out)); got != capicrds.Version {
		t.Errorf("go.mod pins %s %s, capicrds.Version is %s: update it and run go generate ./internal/capicrds", capicrds.Module, got, capicrds.Version)
	}
}

func TestAll(t *testing.T) {
	crds, err := capicrds.All()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]capicrds.Provider{
		"clusters.cluster.x-k8s.io":                                  capicrds.Core,
		"machines.cluster.x-k8s.io":                                  capicrds.Core,
		"machinesets.cluster.x-k8s.io":                               capicrds.Core,
		"machinedeployments.cluster.x-k8s.io":                        capicrds.Core,
		"machinehealthchecks.cluster.x-k8s.io":                       capicrds.Core,
		"machinepools.cluster.x-k8s.io":                              capicrds.Core,
		"clusterclasses.cluster.x-k8s.io":                            capicrds.Core,
		"machinedrainrules.cluster.x-k8s.io":                         capicrds.Core,
		"clusterresourcesets.addons.cluster.x-k8s.io":                capicrds.Core,
		"clusterresourcesetbindings.addons.cluster.x-k8s.io":         capicrds.Core,
		"extensionconfigs.runtime.cluster.x-k8s.io":                  capicrds.Core,
		"ipaddresses.ipam.cluster.x-k8s.io":                          capicrds.Core,
		"ipaddressclaims.ipam.cluster.x-k8s.io":                      capicrds.Core,
		"kubeadmconfigs.bootstrap.cluster.x-k8s.io":                  capicrds.KubeadmBootstrap,
		"kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io":          capicrds.KubeadmBootstrap,
		"kubeadmcontrolplanes.controlplane.cluster.x-k8s.io":         capicrds.KubeadmControlPlane,
		"kubeadmcontrolplanetemplates.controlplane.cluster.x-k8s.io": capicrds.KubeadmControlPlane,
		"providers.clusterctl.cluster.x-k8s.io":                      capicrds.Inventory,
	}
	seen := map[string]bool{}
	for _, crd := range crds {
		name := crd.Name
		seen[name] = true
		p, ok := want[name]
		if !ok {
			t.Errorf("unexpected CRD %s", name)
			continue
		}
		served := []string{}
		storage := ""
		for _, v := range crd.Spec.Versions {
			if v.Served {
				served = append(served, v.Name)
			}
			if v.Storage {
				storage = v.Name
			}
		}
		wantVersion := "v1beta2"
		if p == capicrds.Inventory {
			wantVersion = "v1alpha3"
		}
		if len(served) != 1 || served[0] != wantVersion || storage != wantVersion {
			t.Errorf("%s serves %v, stores %q; want only %s", name, served, storage, wantVersion)
		}
		if crd.Spec.Conversion != nil && crd.Spec.Conversion.Strategy != "None" {
			t.Errorf("%s has conversion %v, want none", name, crd.Spec.Conversion.Strategy)
		}
		l := crd.Labels
		switch p {
		case capicrds.Inventory:
			if l[capicrds.ClusterctlCoreLabel] != "inventory" {
				t.Errorf("%s labels %v, want %s=inventory", name, l, capicrds.ClusterctlCoreLabel)
			}
			if _, ok := l[capicrds.ClusterctlLabel]; ok {
				t.Errorf("%s has %s: clusterctl move would try to move the inventory", name, capicrds.ClusterctlLabel)
			}
		default:
			if v, ok := l[capicrds.ClusterctlLabel]; !ok || v != "" {
				t.Errorf("%s labels %v, want %s=\"\"", name, l, capicrds.ClusterctlLabel)
			}
			if l[capicrds.ProviderLabel] != string(p) {
				t.Errorf("%s: %s=%q, want %q", name, capicrds.ProviderLabel, l[capicrds.ProviderLabel], p)
			}
		}
		if p == capicrds.KubeadmBootstrap || p == capicrds.KubeadmControlPlane {
			if l[capicrds.ContractLabel] != "v1beta2" {
				t.Errorf("%s: %s=%q, want v1beta2", name, capicrds.ContractLabel, l[capicrds.ContractLabel])
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("CRD %s missing", name)
		}
	}
}

func TestForAndManifests(t *testing.T) {
	kcp, err := capicrds.For(capicrds.KubeadmControlPlane)
	if err != nil {
		t.Fatal(err)
	}
	if len(kcp) != 2 {
		t.Errorf("KubeadmControlPlane has %d CRDs, want 2", len(kcp))
	}
	if _, err := capicrds.For("no-such-provider"); err == nil || !strings.Contains(err.Error(), "no-such-provider") {
		t.Errorf("For(unknown) = %v, want an error naming it", err)
	}
	all, err := capicrds.All()
	if err != nil {
		t.Fatal(err)
	}
	m, err := capicrds.Manifests()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != len(all) {
		t.Errorf("Manifests() has %d documents, All() %d CRDs", len(m), len(all))
	}
	// Each call decodes a fresh copy: changing one must not leak into the next.
	all[0].Labels["mutated"] = "yes"
	again, err := capicrds.All()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again[0].Labels["mutated"]; ok {
		t.Error("All() returned shared objects")
	}
}
