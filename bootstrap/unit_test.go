package bootstrap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"NAME": "demo", "EMPTY": "", "N": "3"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := []struct {
		in, want    string
		wantMissing []string
	}{
		{in: "name: ${NAME}", want: "name: demo"},
		{in: "${NAME}-${N}", want: "demo-3"},
		{in: "v: ${UNSET:=fallback}", want: "v: fallback"},
		{in: "v: ${UNSET:-fallback}", want: "v: fallback"},
		{in: "v: ${EMPTY:=fallback}", want: "v: fallback"},
		{in: "v: ${EMPTY=fallback}", want: "v: "},
		{in: "v: ${UNSET=fallback}", want: "v: fallback"},
		{in: "v: ${NAME:=fallback}", want: "v: demo"},
		{in: "v: ${UNSET:=}", want: "v: "},
		{in: "v: ${A} ${B} ${A}", want: "v:   ", wantMissing: []string{"A", "B", "A"}},
		{in: "plain $NAME stays", want: "plain $NAME stays"},
		{in: "bad ${not a var} ${1X} ${NAME:x}", want: "bad ${not a var} ${1X} ${NAME:x}"},
		{in: "open ${NAME", want: "open ${NAME"},
		{in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, missing := substitute(tt.in, lookup)
			if got != tt.want {
				t.Errorf("substitute(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if diff := cmp.Diff(tt.wantMissing, missing); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubstituteAllListsEveryMissingVariable(t *testing.T) {
	_, err := substituteAll([][]byte{[]byte("a: ${ZED}\nb: ${ALPHA}"), []byte("c: ${ZED} ${MID:=ok} ${BETA}")},
		func(string) (string, bool) { return "", false })
	var mv *MissingVariablesError
	if !errors.As(err, &mv) || !errors.Is(err, ErrMissingVariables) {
		t.Fatalf("error = %v, want *MissingVariablesError", err)
	}
	if diff := cmp.Diff([]string{"ALPHA", "BETA", "ZED"}, mv.Names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "ALPHA, BETA, ZED") {
		t.Errorf("message %q does not list the names", err)
	}
}

func TestDecodeAndPartition(t *testing.T) {
	manifests := [][]byte{
		[]byte(`
apiVersion: example.openstrap.dev/v1
kind: Widget
metadata: {name: w, namespace: ns1}
---
# only a comment
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: hook}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cm}
- apiVersion: v1
  kind: Namespace
  metadata: {name: ns1}
`),
		[]byte(`{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.openstrap.dev"}}`),
	}
	objs, err := decodeAll(manifests)
	if err != nil {
		t.Fatal(err)
	}
	ns, crds, rest := partition(objs)
	var got []string
	for _, group := range [][]*unstructured.Unstructured{ns, crds, rest} {
		for _, u := range group {
			got = append(got, objectName(u))
		}
	}
	want := []string{
		"Namespace ns1",
		"CustomResourceDefinition widgets.example.openstrap.dev",
		"Widget ns1/w",
		"ConfigMap cm",
		"ValidatingWebhookConfiguration hook",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}

	for _, bad := range []string{"kind: ConfigMap\nmetadata: {name: x}", "apiVersion: v1\nkind: ConfigMap", "a: [unclosed"} {
		if _, err := decodeAll([][]byte{[]byte(bad)}); err == nil {
			t.Errorf("decodeAll(%q) succeeded", bad)
		}
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		fn   string
		opts []Option
		ok   bool
	}{
		{"local options on Local", fnLocal, []Option{Dir("/tmp/x"), KeepData(), Address("127.0.0.5"), Port(6443), WithProgress(func(Event) {})}, true},
		{"kind option on Local", fnLocal, []Option{NodeImage("kindest/node:v1")}, false},
		{"install option on Kind", fnKind, []Option{Variables(nil)}, false},
		{"local option on Existing", fnExisting, []Option{KeepData()}, false},
		{"bad address", fnLocal, []Option{Address("localhost")}, false},
		{"bad port", fnLocal, []Option{Port(70000)}, false},
		{"empty dir", fnLocal, []Option{Dir("")}, false},
		{"CA without key", fnLocal, []Option{CA([]byte("c"), nil)}, false},
		{"kind options", fnKind, []Option{NodeImage("img"), WaitForReady(time.Minute), Retain(), ContainerRuntime("podman"),
			KindConfig([]byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n"))}, true},
		{"bad kind config field", fnKind, []Option{KindConfig([]byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez: []\n"))}, false},
		{"kind config of another kind", fnKind, []Option{KindConfig([]byte("kind: Pod\napiVersion: v1\n"))}, false},
		{"missing kind config file", fnKind, []Option{KindConfigFile("/nonexistent/kind.yaml")}, false},
		{"unknown runtime", fnKind, []Option{ContainerRuntime("lxc")}, false},
		{"negative wait", fnKind, []Option{WaitForReady(-time.Second)}, false},
		{"install options", fnInstall, []Option{FieldManager("me"), Variables(map[string]string{"A_1": "x"}), VariablesFromEnv(), WaitForDeployments(), DefaultNamespace("ns"), NoForceConflicts()}, true},
		{"bad variable name", fnInstall, []Option{Variables(map[string]string{"A-B": "x"})}, false},
		{"existing options", fnExisting, []Option{KubeContext("ctx"), Name("mgmt"), WithLogger(testr.New(t))}, true},
		{"nil option ignored", fnExisting, []Option{nil}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newOptions(tt.fn, tt.opts)
			if tt.ok && err != nil {
				t.Fatalf("newOptions: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("newOptions error = %v, want ErrInvalidOption", err)
			}
		})
	}
}

func TestKindConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kind.yaml")
	cfg := "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := newOptions(fnKind, []Option{KindConfigFile(path)})
	if err != nil {
		t.Fatal(err)
	}
	if string(o.kindConfig) != cfg {
		t.Errorf("kind config = %q, want %q", o.kindConfig, cfg)
	}
}

// TestKindWithoutContainerRuntime runs Kind where no runtime works: none on
// PATH, a docker CLI whose engine does not answer, and an explicit runtime
// that is not installed. Option errors come before the runtime check.
func TestKindWithoutContainerRuntime(t *testing.T) {
	empty := t.TempDir()
	fake := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = -v ]; then echo 'Docker version 99.0.0, build fake'; exit 0; fi\n" +
		"echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' >&2; exit 1\n"
	if err := os.WriteFile(filepath.Join(fake, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		opts     []Option
		want     error
		wantText string
	}{
		{name: "nothing on PATH", path: empty, want: ErrNoContainerRuntime, wantText: "none of docker, podman, nerdctl"},
		{name: "docker engine down", path: fake, want: ErrNoContainerRuntime, wantText: "Cannot connect to the Docker daemon"},
		{name: "podman asked, not installed", path: fake, opts: []Option{ContainerRuntime("podman")}, want: ErrNoContainerRuntime, wantText: "podman"},
		{name: "bad option first", path: empty, opts: []Option{NodeImage("")}, want: ErrInvalidOption},
		{name: "bad name", path: empty, want: ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			t.Setenv("KIND_EXPERIMENTAL_PROVIDER", "")
			name := "mgmt"
			if tt.name == "bad name" {
				name = "Bad_Name"
			}
			var events []Event
			opts := append([]Option{WithProgress(func(e Event) { events = append(events, e) }),
				KindKubeconfigPath(filepath.Join(t.TempDir(), "kubeconfig"))}, tt.opts...)
			c, err := Kind(t.Context(), name, opts...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Kind error = %v, want %v", err, tt.want)
			}
			if c != nil {
				t.Errorf("Kind returned a cluster with an error")
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Kind error %q lacks %q", err, tt.wantText)
			}
			if len(events) != 0 {
				t.Errorf("events before any cluster work: %v", events)
			}
		})
	}
}
