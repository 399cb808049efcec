package capicrds

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// Module and Version name the Cluster API module the embedded CRDs were
// generated from; the generator refuses to run when go.mod pins another
// version than the one it writes here.
const (
	Module  = "sigs.k8s.io/cluster-api"
	Version = "v1.14.2"
)

// Labels the embedded CRDs carry, as `clusterctl init` sets them.
const (
	// ClusterctlLabel marks every provider component clusterctl manages;
	// clusterctl move only moves kinds whose CRD has it.
	ClusterctlLabel = "clusterctl.cluster.x-k8s.io"
	// ClusterctlCoreLabel marks clusterctl's own objects (its inventory).
	ClusterctlCoreLabel = "clusterctl.cluster.x-k8s.io/core"
	// ProviderLabel names the provider a component belongs to.
	ProviderLabel = "cluster.x-k8s.io/provider"
	// ContractLabel maps Cluster API's v1beta2 contract to the versions of a
	// provider's kind that implement it.
	ContractLabel = "cluster.x-k8s.io/v1beta2"
)

// Provider is a group of embedded CRDs, named as clusterctl names the
// provider in its cluster.x-k8s.io/provider label.
type Provider string

// The providers whose CRDs are embedded.
const (
	// Core is Cluster API core: Cluster, Machine, MachineSet,
	// MachineDeployment, MachineHealthCheck, MachinePool, ClusterClass,
	// MachineDrainRule, ClusterResourceSet(+Binding), ExtensionConfig and the
	// IPAM kinds.
	Core Provider = "cluster-api"
	// KubeadmBootstrap is CABPK: KubeadmConfig and KubeadmConfigTemplate.
	KubeadmBootstrap Provider = "bootstrap-kubeadm"
	// KubeadmControlPlane is KCP: KubeadmControlPlane and its template.
	KubeadmControlPlane Provider = "control-plane-kubeadm"
	// Inventory is clusterctl's provider inventory (providers.clusterctl.cluster.x-k8s.io).
	Inventory Provider = "clusterctl"
)

// Providers lists every provider in install order.
func Providers() []Provider {
	return []Provider{Core, KubeadmBootstrap, KubeadmControlPlane, Inventory}
}

//go:embed crds
var files embed.FS

// Dir is the directory of the embedded files, one sub-directory per Provider.
const Dir = "crds"

// FS returns the embedded YAML files: crds/<provider>/<group>_<plural>.yaml.
func FS() fs.FS { return files }

// All returns every embedded CRD, in Providers order and by file name within
// a provider.
func All() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return For(Providers()...)
}

// For returns the CRDs of the given providers, in the order given.
func For(providers ...Provider) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, p := range providers {
		crds, err := decodeDir(path.Join(Dir, string(p)))
		if err != nil {
			return nil, err
		}
		if len(crds) == 0 {
			return nil, fmt.Errorf("capicrds: no CRDs embedded for provider %q (known: %v)", p, Providers())
		}
		out = append(out, crds...)
	}
	return out, nil
}

// Manifests returns the embedded YAML of the given providers (all when none is
// given), one element per CRD, for callers that apply YAML (bootstrap.Install).
func Manifests(providers ...Provider) ([][]byte, error) {
	if len(providers) == 0 {
		providers = Providers()
	}
	var out [][]byte
	for _, p := range providers {
		names, err := fileNames(path.Join(Dir, string(p)))
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("capicrds: no CRDs embedded for provider %q (known: %v)", p, Providers())
		}
		for _, n := range names {
			b, err := files.ReadFile(n)
			if err != nil {
				return nil, fmt.Errorf("capicrds: %w", err)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

func fileNames(dir string) ([]string, error) {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("capicrds: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && path.Ext(e.Name()) == ".yaml" {
			names = append(names, path.Join(dir, e.Name()))
		}
	}
	sort.Strings(names)
	return names, nil
}

func decodeDir(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fileNames(dir)
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("capicrds: %w", err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(bytes.TrimSpace(b), crd); err != nil {
			return nil, fmt.Errorf("capicrds: decode %s: %w", n, err)
		}
		out = append(out, crd)
	}
	return out, nil
}
