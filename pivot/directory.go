package pivot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// ToDirectory writes the graph that Move would move from from as YAML files
// (one object per file, with status and UIDs) into dir, which must be empty or
// not exist. The clusters are paused while the snapshot is taken and unpaused
// afterwards; the files record them paused by the move, so that FromDirectory
// restores them paused and then unpauses them. The files hold the clusters'
// secrets: keep the directory private (it is created with mode 0700).
func ToDirectory(ctx context.Context, from *rest.Config, dir string, opts Options) (*Report, error) {
	src, err := newKube(from)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("backup directory %s is not empty", dir)
	}
	m := newMover(opts, opts.selector())
	m.src, m.dir = src, dir
	return m.run(ctx)
}

// FromDirectory restores into to the objects ToDirectory wrote into dir, with
// the same guarantees as Move: owner order, status, remapped owner references,
// the origin marker (the UID recorded in the file) so that an interrupted
// restore can be run again, and clusters unpaused at the end.
func FromDirectory(ctx context.Context, dir string, to *rest.Config, opts Options) (*Report, error) {
	dst, err := newKube(to)
	if err != nil {
		return nil, err
	}
	objs, err := readDirectory(dir)
	if err != nil {
		return nil, err
	}
	m := newMover(opts, opts.selector())
	m.dst, m.files = dst, objs
	return m.run(ctx)
}

func fileName(n *Node) string {
	ns := n.Ref.Namespace
	if ns == "" {
		ns = "_cluster"
	}
	return fmt.Sprintf("%03d_%s_%s_%s.yaml", n.Level(), strings.ToLower(kindOf(n.Ref)), ns, n.Ref.Name)
}

// writeFiles writes the snapshot; each file is written to a temporary name and
// renamed, so a file that exists is complete.
func (m *mover) writeFiles() error {
	m.phase(PhaseWrite, len(m.g.Moved()))
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	for _, n := range m.g.Moved() {
		obj := n.Object.DeepCopy()
		unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
		b, err := yaml.Marshal(obj.Object)
		if err != nil {
			return fmt.Errorf("encode %s: %w", n.Ref, err)
		}
		path := filepath.Join(m.dir, fileName(n))
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", n.Ref, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("write %s: %w", n.Ref, err)
		}
		m.objectDone(PhaseWrite, n.Ref, len(m.g.Moved()))
	}
	return nil
}

func readDirectory(dir string) ([]*unstructured.Unstructured, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read backup directory: %w", err)
	}
	var objs []*unstructured.Unstructured
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read backup file %s: %w", e.Name(), err)
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, fmt.Errorf("decode backup file %s: %w", e.Name(), err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("decode backup file %s: %w", e.Name(), err)
		}
		if obj.GetKind() == "" || obj.GetName() == "" || obj.GetUID() == "" {
			return nil, fmt.Errorf("backup file %s: kind, name and uid are required", e.Name())
		}
		objs = append(objs, obj)
	}
	slices.SortFunc(objs, func(a, b *unstructured.Unstructured) int { return compareRefs(refOf(a), refOf(b)) })
	return objs, nil
}
