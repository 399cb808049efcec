package main

import (
	"context"
	"io/fs"
	"path"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/internal/capicrds"
)

// TestEmbeddedUpToDate regenerates the CRDs from the module go.mod pins and
// compares them with what package capicrds embeds: when the pin moves and
// nobody ran `go generate ./internal/capicrds`, it fails.
func TestEmbeddedUpToDate(t *testing.T) {
	mod, err := pinnedModule(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if mod.Version != capicrds.Version {
		t.Errorf("go.mod pins %s, capicrds.Version is %s", mod.Version, capicrds.Version)
	}
	gen, err := generate(mod.Dir, mod.Version)
	if err != nil {
		t.Fatal(err)
	}
	embedded := map[string][]byte{}
	err = fs.WalkDir(capicrds.FS(), capicrds.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" {
			return err
		}
		b, err := fs.ReadFile(capicrds.FS(), p)
		embedded[p[len(capicrds.Dir)+1:]] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sortedKeys(gen), sortedKeys(embedded)); diff != "" {
		t.Fatalf("embedded files differ from generated ones (-generated +embedded); run go generate ./internal/capicrds:\n%s", diff)
	}
	for name, want := range gen {
		if string(embedded[name]) != string(want) {
			t.Errorf("%s differs from what the generator writes; run go generate ./internal/capicrds", name)
		}
	}
	// The generator's names agree with the package's.
	for _, src := range sources {
		found := false
		for _, p := range capicrds.Providers() {
			found = found || string(p) == src.provider
		}
		if !found {
			t.Errorf("generator provider %q is not a capicrds.Provider", src.provider)
		}
	}
}

func TestPatchRefusesOtherKinds(t *testing.T) {
	if _, err := patch([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), core); err == nil {
		t.Error("patch accepted a ConfigMap")
	}
	if _, err := patch([]byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x}\nspec:\n  versions:\n  - {name: v1, served: true, storage: false}\n"), core); err == nil {
		t.Error("patch accepted a CRD without a storage version")
	}
}
