package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteFileIfChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if wrote, err := WriteFileIfChanged(path, []byte("a"), 0o644); err != nil || !wrote {
		t.Fatalf("first write: wrote %v, %v", wrote, err)
	}
	// Backdate the file so a rewrite would show in its mtime.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if wrote, err := WriteFileIfChanged(path, []byte("a"), 0o644); err != nil || wrote {
		t.Fatalf("same content and mode: wrote %v, %v", wrote, err)
	}
	if info, err := os.Stat(path); err != nil || !info.ModTime().Equal(old) {
		t.Fatalf("identical file was rewritten: %v, %v", info.ModTime(), err)
	}
	// Same content, other mode: rewritten with the mode asked for.
	if wrote, err := WriteFileIfChanged(path, []byte("a"), 0o600); err != nil || !wrote {
		t.Fatalf("mode change: wrote %v, %v", wrote, err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode after rewrite: %v, %v", info.Mode(), err)
	}
	if wrote, err := WriteFileIfChanged(path, []byte("b"), 0o600); err != nil || !wrote {
		t.Fatalf("content change: wrote %v, %v", wrote, err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "b" {
		t.Fatalf("content %q, %v", b, err)
	}
	assertOnly(t, dir, "f")
}
