package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func startT(t *testing.T, cfg Config) *Process {
	t.Helper()
	p, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start(%v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p
}

func clientset(t *testing.T, rc *rest.Config) *kubernetes.Clientset {
	t.Helper()
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ready(ctx context.Context, rc *rest.Config) error {
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	return c.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
}

// TestStartStopRestartKeepsData starts a control plane on a non-default
// loopback address, checks the admin identity, stops it, starts it again on the
// same directory and finds its data, CA and endpoint unchanged.
func TestStartStopRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	cfg := Config{Dir: dir, Address: "127.0.0.7", Name: "demo", SANs: []string{"demo.example", "10.1.2.3"}}
	p := startT(t, cfg)
	if !strings.HasPrefix(p.Endpoint(), "https://127.0.0.7:") {
		t.Errorf("Endpoint = %s, want https://127.0.0.7:*", p.Endpoint())
	}
	c := clientset(t, p.RESTConfig())
	review, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := review.Status.UserInfo; got.Username != AdminUser || !slices.Contains(got.Groups, AdminGroup) {
		t.Errorf("admin identity = %s %v, want %s in %s", got.Username, got.Groups, AdminUser, AdminGroup)
	}
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, "admin.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, p.AdminKubeconfig()) {
		t.Errorf("admin.kubeconfig on disk differs from AdminKubeconfig()")
	}
	kc, err := clientcmd.Load(p.AdminKubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if kc.CurrentContext != "kubernetes-admin@demo" {
		t.Errorf("current context = %q, want kubernetes-admin@demo", kc.CurrentContext)
	}
	caBefore, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}

	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ready(ctx, p.RESTConfig()); err == nil {
		t.Fatalf("server still ready after Stop")
	}
	if err := p.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	p2 := startT(t, cfg)
	if p2.Endpoint() != p.Endpoint() {
		t.Errorf("endpoint after restart = %s, want %s", p2.Endpoint(), p.Endpoint())
	}
	if _, err := clientset(t, p2.RESTConfig()).CoreV1().Namespaces().Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace lost across restart: %v", err)
	}
	// The old kubeconfig still works: same CA, same address.
	if err := ready(ctx, p.RESTConfig()); err != nil {
		t.Errorf("kubeconfig of the first start no longer works: %v", err)
	}
	caAfter, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(caBefore, caAfter) {
		t.Errorf("CA changed across restart")
	}
	// The serving certificate carries the extra SANs.
	tlsCfg := p2.RESTConfig()
	tlsCfg.Host = strings.Replace(p2.Endpoint(), "127.0.0.7", "127.0.0.1", 1)
	tlsCfg.ServerName = "demo.example"
	if err := ready(ctx, tlsCfg); err == nil {
		t.Errorf("server reachable on 127.0.0.1 although bound to 127.0.0.7")
	}
	for _, fi := range []string{"ca.key", "sa.key", "apiserver.key"} {
		st, err := os.Stat(filepath.Join(dir, "pki", fi))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", fi, st.Mode().Perm())
		}
	}
}

// TestStartAttachesToRunning starts twice on one directory: the second Start
// attaches to the running processes instead of starting new ones, and Stop
// through it stops them.
func TestStartAttachesToRunning(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	p1 := startT(t, Config{Dir: dir, Address: "127.0.0.8"})
	st1, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	p2 := startT(t, Config{Dir: dir, Address: "127.0.0.8"})
	st2, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st1, st2); diff != "" {
		t.Errorf("second Start changed the processes (-first +second):\n%s", diff)
	}
	if p1.Attached() || !p2.Attached() {
		t.Errorf("Attached() = %t, %t; want false, true", p1.Attached(), p2.Attached())
	}
	if p1.Endpoint() != p2.Endpoint() {
		t.Errorf("endpoints differ: %s, %s", p1.Endpoint(), p2.Endpoint())
	}
	if err := ready(ctx, p2.RESTConfig()); err != nil {
		t.Fatalf("attached process not usable: %v", err)
	}
	if err := p2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ready(ctx, p1.RESTConfig()); err == nil {
		t.Errorf("server still ready after Stop through the attached Process")
	}
	for _, pid := range []int{st1.EtcdPID, st1.APIServerPID} {
		if runningCommand(pid, dir) {
			t.Errorf("process %d still running", pid)
		}
	}
}

// TestGivenCAAndServiceAccountKey passes PKI in and finds it used and saved.
func TestGivenCAAndServiceAccountKey(t *testing.T) {
	t.Parallel()
	caCrt, caKey, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	_, saKey, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := startT(t, Config{Dir: dir, Address: "127.0.0.9", CACert: caCrt, CAKey: caKey, ServiceAccountKey: saKey})
	kc, err := clientcmd.Load(p.AdminKubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range kc.Clusters {
		if !bytes.Equal(c.CertificateAuthorityData, caCrt) {
			t.Errorf("cluster %s CA is not the given CA", name)
		}
	}
	for file, want := range map[string][]byte{"ca.crt": caCrt, "ca.key": caKey, "sa.key": saKey} {
		got, err := os.ReadFile(filepath.Join(dir, "pki", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("pki/%s is not the given one", file)
		}
	}
	if err := ready(t.Context(), p.RESTConfig()); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	caCrt, caKey, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no dir", Config{}, "Dir is required"},
		{"bad address", Config{Address: "localhost"}, "is not an IP"},
		{"cert without key", Config{CACert: caCrt}, "given together"},
		{"key of another CA", Config{CACert: caCrt, CAKey: otherKey}, "does not match"},
		{"garbage CA", Config{CACert: []byte("x"), CAKey: caKey}, "not PEM"},
		{"garbage SA key", Config{ServiceAccountKey: []byte("x")}, "service-account key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.Dir == "" && tt.name != "no dir" {
				tt.cfg.Dir = t.TempDir()
			}
			_, err := Start(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Start error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error leaks key material: %v", err)
			}
		})
	}
}

// TestComponentExitIsReported makes kube-apiserver refuse its flags: Start
// returns a ComponentError wrapping ErrExited with its log, and leaves no etcd
// running.
func TestComponentExitIsReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := Start(t.Context(), Config{Dir: dir, APIServerArgs: []string{"--no-such-flag=1"}})
	var ce *ComponentError
	if !errors.As(err, &ce) || !errors.Is(err, ErrExited) {
		t.Fatalf("Start error = %v, want a ComponentError wrapping ErrExited", err)
	}
	if ce.Component != "kube-apiserver" || !strings.Contains(ce.LogTail, "no-such-flag") {
		t.Errorf("ComponentError = %s, %q; want kube-apiserver and the flag in the log", ce.Component, ce.LogTail)
	}
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runningCommand(st.EtcdPID, dir) {
		t.Errorf("etcd %d left running", st.EtcdPID)
	}
}

func TestConfigStringRedacts(t *testing.T) {
	caCrt, caKey, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: "/x", CACert: caCrt, CAKey: caKey, ServiceAccountKey: caKey}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, "PRIVATE") || strings.Contains(s, "BEGIN") {
			t.Errorf("formatted Config leaks PEM: %s", s)
		}
	}
}

// TestConcurrentStartsShareOneControlPlane starts twice at once on one Dir:
// the file lock lets one start the processes and the other attach to them.
func TestConcurrentStartsShareOneControlPlane(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{Dir: dir, Address: "127.0.0.10"}
	procs := make([]*Process, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() { procs[i], errs[i] = Start(t.Context(), cfg) })
	}
	wg.Wait()
	for i, p := range procs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
	}
	if procs[0].Attached() == procs[1].Attached() {
		t.Errorf("Attached() = %t, %t; want exactly one attached", procs[0].Attached(), procs[1].Attached())
	}
	if procs[0].Endpoint() != procs[1].Endpoint() {
		t.Errorf("endpoints differ: %s, %s", procs[0].Endpoint(), procs[1].Endpoint())
	}
	out, err := exec.Command("pgrep", "-f", "--", "--data-dir="+filepath.Join(dir, "etcd")).Output()
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	if n := len(strings.Fields(string(out))); n != 1 {
		t.Errorf("%d etcd processes on %s, want 1", n, dir)
	}
}
