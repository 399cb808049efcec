package bootstrap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKindAvailable picks the runtime as Kind does and fails as Kind would,
// without making anything: no runtime on PATH, an engine that does not
// answer, a runtime asked for that is not installed.
func TestKindAvailable(t *testing.T) {
	fake := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = -v ]; then echo 'Docker version 99.0.0, build fake'; exit 0; fi\n" +
		"echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' >&2; exit 1\n"
	if err := os.WriteFile(filepath.Join(fake, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, wantText string
		opts                 []Option
		want                 error
	}{
		{name: "nothing on PATH", path: t.TempDir(), want: ErrNoContainerRuntime, wantText: "none of docker, podman, nerdctl"},
		{name: "docker engine down", path: fake, want: ErrNoContainerRuntime, wantText: "Cannot connect to the Docker daemon"},
		{name: "podman asked, not installed", path: fake, opts: []Option{ContainerRuntime("podman")}, want: ErrNoContainerRuntime, wantText: "podman"},
		{name: "option of another function", path: fake, opts: []Option{KeepData()}, want: ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			t.Setenv("KIND_EXPERIMENTAL_PROVIDER", "")
			_, err := KindAvailable(t.Context(), tt.opts...)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("KindAvailable = %v, want %v saying %q", err, tt.want, tt.wantText)
			}
		})
	}
}

// TestDecode substitutes and decodes as Install does, without a cluster.
func TestDecode(t *testing.T) {
	m := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: ${NS:=addons}\n")
	objs, err := Decode([][]byte{m}, Variables(map[string]string{"NAME": "cm"}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	if strings.Join(got, " ") != "ConfigMap/cm Namespace/addons" {
		t.Errorf("Decode = %v, want ConfigMap/cm Namespace/addons", got)
	}
	if _, err := Decode([][]byte{m}); !errors.Is(err, ErrMissingVariables) || !strings.Contains(err.Error(), "NAME") {
		t.Errorf("Decode without NAME = %v, want a missing-variables error naming it", err)
	}
	if _, err := Decode([][]byte{[]byte("apiVersion: v1\nmetadata:\n  name: x\n")}); err == nil || !strings.Contains(err.Error(), "lacks apiVersion, kind or metadata.name") {
		t.Errorf("Decode of an object without kind = %v", err)
	}
	if _, err := Decode([][]byte{[]byte("kind: [\n")}); err == nil || !strings.Contains(err.Error(), "document 1") {
		t.Errorf("Decode of broken YAML = %v", err)
	}
}
