// Command gen writes the Cluster API CRDs that package capicrds embeds. It
// copies them from the sigs.k8s.io/cluster-api module pinned in go.mod (the
// module cache, downloaded when missing) and patches them as package capicrds
// documents. Run it from anywhere inside the module:
//
//	go generate ./internal/capicrds
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	"sigs.k8s.io/yaml"
)

// The module, the output layout and the provider names; package capicrds
// reads what this program writes and its test checks that both agree.
const (
	capiModule = "sigs.k8s.io/cluster-api"
	crdsDir    = "crds"
	contractV  = "cluster.x-k8s.io/v1beta2"

	core                = "cluster-api"
	kubeadmBootstrap    = "bootstrap-kubeadm"
	kubeadmControlPlane = "control-plane-kubeadm"
	inventory           = "clusterctl"
)

func main() {
	out := flag.String("out", "", "directory to write the crds tree into (default: the capicrds package's crds directory)")
	flag.Parse()
	if err := run(context.Background(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "capicrds/gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	mod, err := pinnedModule(ctx)
	if err != nil {
		return err
	}
	if out == "" {
		pkgDir, err := goOutput(ctx, "list", "-e", "-f", "{{.Dir}}", "github.com/openstrap/openstrap/internal/capicrds")
		if err != nil {
			return err
		}
		out = filepath.Join(strings.TrimSpace(string(pkgDir)), crdsDir)
	}
	gen, err := generate(mod.Dir, mod.Version)
	if err != nil {
		return err
	}
	// Remove what a previous run wrote, so CRDs dropped upstream disappear.
	for _, src := range sources {
		old, _ := filepath.Glob(filepath.Join(out, src.provider, "*.yaml"))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	for _, name := range sortedKeys(gen) {
		f := filepath.Join(out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f, gen[name], 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d CRDs of %s %s into %s\n", len(gen), capiModule, mod.Version, out)
	return nil
}

type module struct{ Path, Version, Dir, Error string }

// pinnedModule finds the Cluster API module that go.mod pins, downloading it
// into the module cache when it is not there yet.
func pinnedModule(ctx context.Context) (module, error) {
	b, err := goOutput(ctx, "list", "-m", "-json", capiModule)
	if err != nil {
		return module{}, err
	}
	var m module
	if err := json.Unmarshal(b, &m); err != nil {
		return module{}, fmt.Errorf("decode go list output: %w", err)
	}
	if m.Dir == "" {
		b, err := goOutput(ctx, "mod", "download", "-json", capiModule+"@"+m.Version)
		if err != nil {
			return module{}, err
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return module{}, fmt.Errorf("decode go mod download output: %w", err)
		}
		if m.Error != "" || m.Dir == "" {
			return module{}, fmt.Errorf("download %s@%s: %s", capiModule, m.Version, m.Error)
		}
	}
	return m, nil
}

func goOutput(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// source is one directory of CRD bases in the module and the provider its
// CRDs belong to.
type source struct {
	provider string
	dir      string   // slash-separated, relative to the module root
	only     []string // file names to take; all *.yaml when empty
}

var sources = []source{
	{provider: core, dir: "core/config/crd/bases"},
	{provider: kubeadmBootstrap, dir: "bootstrap/kubeadm/config/crd/bases"},
	{provider: kubeadmControlPlane, dir: "controlplane/kubeadm/config/crd/bases"},
	// metadata.clusterctl.cluster.x-k8s.io describes provider repositories
	// and is never installed into a cluster.
	{provider: inventory, dir: "cmd/clusterctl/config/crd/bases", only: []string{"clusterctl.cluster.x-k8s.io_providers.yaml"}},
}

// generate reads the CRD bases of the module at modDir and returns the
// patched YAML by path relative to the crds directory.
func generate(modDir, version string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, src := range sources {
		names := src.only
		if len(names) == 0 {
			files, err := filepath.Glob(filepath.Join(modDir, filepath.FromSlash(src.dir), "*.yaml"))
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				names = append(names, filepath.Base(f))
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, fmt.Errorf("no CRDs in %s/%s", capiModule, src.dir)
		}
		for _, name := range names {
			rel := src.dir + "/" + name
			b, err := os.ReadFile(filepath.Join(modDir, filepath.FromSlash(rel)))
			if err != nil {
				return nil, err
			}
			y, err := patch(b, src.provider)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
			header := fmt.Sprintf("# Code generated by internal/capicrds/gen from %s %s %s. DO NOT EDIT.\n", capiModule, version, rel)
			out[src.provider+"/"+name] = append([]byte(header), y...)
		}
	}
	return out, nil
}

// patch serves only the storage version and sets clusterctl's labels (and
// the contract label on provider CRDs).
func patch(doc []byte, p string) ([]byte, error) {
	var crd map[string]any
	if err := yaml.Unmarshal(doc, &crd); err != nil {
		return nil, err
	}
	if crd["kind"] != "CustomResourceDefinition" {
		return nil, fmt.Errorf("kind %v, want one CustomResourceDefinition per file", crd["kind"])
	}
	md, _ := crd["metadata"].(map[string]any)
	spec, _ := crd["spec"].(map[string]any)
	versions, _ := spec["versions"].([]any)
	if md == nil || len(versions) == 0 {
		return nil, fmt.Errorf("no metadata or spec.versions")
	}
	storage := ""
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		isStorage, _ := vm["storage"].(bool)
		vm["served"] = isStorage
		if isStorage {
			storage, _ = vm["name"].(string)
			continue
		}
		// An unserved version is never validated, pruned or converted
		// from; apiextensions.k8s.io/v1 still wants a schema for it.
		vm["schema"] = map[string]any{"openAPIV3Schema": map[string]any{
			"type":                                 "object",
			"x-kubernetes-preserve-unknown-fields": true,
		}}
	}
	if storage == "" {
		return nil, fmt.Errorf("no storage version")
	}
	labels, _ := md["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	switch p {
	case inventory:
		labels[clusterctlv1.ClusterctlCoreLabel] = clusterctlv1.ClusterctlCoreLabelInventoryValue
	default:
		labels[clusterctlv1.ClusterctlLabel] = ""
		labels[clusterv1.ProviderNameLabel] = string(p)
	}
	if p == kubeadmBootstrap || p == kubeadmControlPlane {
		labels[contractV] = storage
	}
	md["labels"] = labels
	return yaml.Marshal(crd)
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
