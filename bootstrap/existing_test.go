package bootstrap

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TestExisting loads the shared test server from kubeconfig bytes and from a
// file with several contexts.
func TestExisting(t *testing.T) {
	ctx := t.Context()
	kc, err := env.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Existing(ctx, KubeconfigBytes(kc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() == "" {
		t.Errorf("empty name")
	}
	if err := c.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := answers(ctx, c); err != nil {
		t.Errorf("server gone after Delete of an Existing cluster: %v", err)
	}
	own, err := c.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Existing(ctx, KubeconfigBytes(own), Name("again"))
	if err != nil {
		t.Fatalf("Existing from its own Kubeconfig: %v", err)
	}
	if again.Name() != "again" || again.RESTConfig().Host != c.RESTConfig().Host {
		t.Errorf("second load: %s", again)
	}

	// A file with a good and a bad context.
	cfg, err := clientcmd.Load(kc)
	if err != nil {
		t.Fatal(err)
	}
	good := cfg.Contexts[cfg.CurrentContext]
	cfg.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.Contexts["bad"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: good.AuthInfo}
	cfg.Contexts["good"] = good.DeepCopy()
	cfg.CurrentContext = "bad"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    []Option
		wantErr error
		text    string
	}{
		{name: "named good context", opts: []Option{KubeContext("good")}},
		{name: "current context unreachable", wantErr: ErrUnreachable, text: "127.0.0.1:1"},
		{name: "missing context", opts: []Option{KubeContext("missing")}, text: `no context "missing"`},
		{name: "Local option", opts: []Option{Dir("/x")}, wantErr: ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Existing(ctx, KubeconfigFile(path), tt.opts...)
			if tt.wantErr == nil && tt.text == "" {
				if err != nil {
					t.Fatal(err)
				}
				if err := answers(ctx, c); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Existing error = %v, want %v containing %q", err, tt.wantErr, tt.text)
			}
		})
	}
}

func TestExistingBadKubeconfigDoesNotEcho(t *testing.T) {
	secret := "client-key-data: c2VjcmV0LWtleQ== {{{"
	_, err := Existing(t.Context(), KubeconfigBytes([]byte(secret)))
	if err == nil {
		t.Fatal("Existing accepted garbage")
	}
	if strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("error echoes kubeconfig content: %v", err)
	}
	if _, err := Existing(t.Context(), KubeconfigFile(filepath.Join(t.TempDir(), "none"))); err == nil {
		t.Errorf("Existing of a missing file succeeded")
	}
	if _, err := Existing(t.Context(), KubeconfigBytes([]byte("apiVersion: v1\nkind: Config\n"))); err == nil || !strings.Contains(err.Error(), "no current context") {
		t.Errorf("kubeconfig without contexts: %v", err)
	}
	if _, err := Existing(t.Context(), nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("nil source: %v", err)
	}
}
