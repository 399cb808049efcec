package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/userdata"
)

// loadSecrets makes the PKI and token once, reads the same ones back, and
// refuses a damaged PKI instead of making a new CA.
func TestLoadSecrets(t *testing.T) {
	dir := t.TempDir()
	f := &flow{cfg: &config{Dir: dir}}
	if err := f.loadSecrets(); err != nil {
		t.Fatal(err)
	}
	pkiDir := filepath.Join(dir, "pki")
	tokenFile := filepath.Join(pkiDir, "bootstrap-token")
	st, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %o, want 600", st.Mode().Perm())
	}
	caCert, err := os.ReadFile(filepath.Join(pkiDir, userdata.FileCACert))
	if err != nil {
		t.Fatal(err)
	}

	again := &flow{cfg: &config{Dir: dir}}
	if err := again.loadSecrets(); err != nil {
		t.Fatal(err)
	}
	if again.pki.CACertHash() != f.pki.CACertHash() || again.token.Value() != f.token.Value() {
		t.Error("a second load made new secrets instead of reading the saved ones")
	}

	if err := os.WriteFile(filepath.Join(pkiDir, userdata.FileCAKey), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = (&flow{cfg: &config{Dir: dir}}).loadSecrets()
	if err == nil {
		t.Fatal("a corrupt ca.key was accepted")
	}
	t.Logf("corrupt ca.key: %v", err)
	for _, want := range []string{userdata.FileCAKey, "no new CA", "restore"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if now, _ := os.ReadFile(filepath.Join(pkiDir, userdata.FileCACert)); !bytes.Equal(now, caCert) {
		t.Error("ca.crt was replaced after a load error")
	}
	if b, _ := os.ReadFile(filepath.Join(pkiDir, userdata.FileCAKey)); string(b) != "not a key\n" {
		t.Error("the corrupt ca.key was overwritten")
	}

	// A missing file of the set is an error too, naming it.
	if err := os.Remove(filepath.Join(pkiDir, userdata.FileEtcdCAKey)); err != nil {
		t.Fatal(err)
	}
	if err := (&flow{cfg: &config{Dir: dir}}).loadSecrets(); err == nil || !strings.Contains(err.Error(), userdata.FileEtcdCAKey) {
		t.Errorf("partial PKI: err %v, want an error naming the missing file", err)
	}
}

// A saved token that has expired, or expires within tokenMargin, is replaced
// by a new one saved with its expiry (mode 0600); one that lives long enough
// is kept. The clock is a parameter: no sleeping.
func TestLoadTokenRefreshesExpired(t *testing.T) {
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "bootstrap-token")
	old, err := userdata.NewBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		content string
		refresh bool
	}{
		{"expired a day ago", old.Value() + "\n" + now.Add(-24*time.Hour).Format(time.RFC3339) + "\n", true},
		{"expires within the margin", old.Value() + "\n" + now.Add(tokenMargin-time.Minute).Format(time.RFC3339) + "\n", true},
		{"no saved expiry (older state directory)", old.Value() + "\n", true},
		{"valid for a day", old.Value() + "\n" + now.Add(24*time.Hour).Format(time.RFC3339) + "\n", false},
	} {
		if err := os.WriteFile(file, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		f := &flow{cfg: &config{Out: &out}}
		if err := f.loadToken(file, now); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := f.token.Value() != old.Value(); got != c.refresh || f.tokenRefreshed != c.refresh {
			t.Errorf("%s: refreshed = %v (flag %v), want %v", c.name, got, f.tokenRefreshed, c.refresh)
		}
		if strings.Contains(out.String(), old.Secret) || strings.Contains(out.String(), f.token.Secret) {
			t.Errorf("%s: output shows a token secret", c.name)
		}
		if !c.refresh {
			continue
		}
		if want := now.Add(userdata.DefaultTokenTTL); !f.token.Expires.Equal(want) {
			t.Errorf("%s: new token expires %s, want %s", c.name, f.token.Expires, want)
		}
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: token file mode %o, want 600", c.name, st.Mode().Perm())
		}
		saved := &flow{cfg: &config{}}
		if err := saved.loadToken(file, now); err != nil {
			t.Fatal(err)
		}
		if saved.token.Value() != f.token.Value() || !saved.token.Expires.Equal(f.token.Expires) {
			t.Errorf("%s: the saved token or expiry differs from the new one", c.name)
		}
	}
	if err := os.WriteFile(file, []byte(old.Value()+"\nyesterday\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&flow{cfg: &config{}}).loadToken(file, now); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("a malformed expiry: err %v, want one naming the format", err)
	}
}

// TestResumeRefreshesExpiredToken stops a flow before the workers, ages the
// saved token past its expiry and removes its Secret from the new cluster (as
// kube-controller-manager's token cleaner does a day later), and resumes: the
// flow makes and saves a new token, adds it to the cluster, and the worker
// joins with it (the process runtime's join checks the token against the
// cluster-info signature the cluster's bootstrap signer makes per token).
func TestResumeRefreshesExpiredToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t.Cleanup(func() { cleanup(t, dir) })
	cfg := testConfig(t, dir, machines.Processes)
	cfg.Workers = 1
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	cfg.beforeStep = func(s int) {
		if s == 7 {
			scancel()
		}
	}
	if _, err := run(sctx, cfg); err == nil || sctx.Err() == nil {
		t.Fatalf("interrupt before step 7: run = %v, want it cancelled", err)
	}
	tokenFile := filepath.Join(dir, "pki", "bootstrap-token")
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	old, err := userdata.ParseBootstrapToken(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	expired := old.Value() + "\n" + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + "\n"
	if err := os.WriteFile(tokenFile, []byte(expired), 0o600); err != nil {
		t.Fatal(err)
	}
	kc, err := os.ReadFile(filepath.Join(dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	// The init machine makes the token in its kubeadm phases, which may still
	// run when the flow stops.
	oldSecret := old.TokenSecret(time.Now()).Name
	deadline := time.Now().Add(time.Minute)
	for {
		err := cs.CoreV1().Secrets("kube-system").Delete(ctx, oldSecret, metav1.DeleteOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delete the first token's Secret %s (kubeadm init should have made it): %v", oldSecret, err)
		}
		time.Sleep(time.Second)
	}

	cidr := cfg.NodeCIDR
	cfg = testConfig(t, dir, machines.Processes)
	cfg.Workers, cfg.NodeCIDR = 1, cidr
	out := capture(cfg)
	if _, err := run(ctx, cfg); err != nil {
		t.Fatalf("resume with an expired token: %v", err)
	}
	b, err = os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 || fields[0] == old.Value() {
		t.Fatal("the expired token was not replaced by a new one with its expiry")
	}
	tok, err := userdata.ParseBootstrapToken(fields[0])
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(tokenFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, mode %v, want 600", err, st.Mode().Perm())
	}
	if _, err := cs.CoreV1().Secrets("kube-system").Get(ctx, tok.TokenSecret(time.Now()).Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the new token's Secret in the cluster: %v", err)
	}
	for _, want := range []string{"bootstrap token " + old.ID + " expires", "bootstrap token " + tok.ID + " added to the cluster", "e2e-worker-0 joined"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), tok.Secret) || strings.Contains(out.String(), old.Secret) {
		t.Error("output shows a token secret")
	}
}

// With more than one control plane, init uploads the certificates with the
// saved certificate key and the joining control planes fetch them with it:
// no private key is in a joining control plane's user data. A second load
// keeps the key (0600).
func TestControlPlanesJoinWithCertificateKey(t *testing.T) {
	dir := t.TempDir()
	cfg := &config{Name: "demo", Dir: dir, KubernetesVersion: "v1.37.2", ControlPlanes: 2}
	f := &flow{cfg: cfg}
	if err := f.loadSecrets(); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "pki", "certificate-key")
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("certificate key file: %v, want mode 600", err)
	}
	again := &flow{cfg: cfg}
	if err := again.loadSecrets(); err != nil {
		t.Fatal(err)
	}
	if again.certKey == "" || again.certKey != f.certKey {
		t.Fatal("a second load did not read the saved certificate key")
	}

	parse := func(i int) *userdata.Parsed {
		t.Helper()
		data, err := userdata.Render(f.controlPlaneSpec(i, "10.6.0.10:6443"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := userdata.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := parse(0)
	if first.Role != userdata.RoleInit || first.Kubeadm.Init.CertificateKey != f.certKey || !strings.Contains(first.KubeadmCommand, "--upload-certs") {
		t.Errorf("init: role %s, command %q: want kubeadm init --upload-certs with the saved certificate key", first.Role, first.KubeadmCommand)
	}
	join := parse(1)
	if join.Role != userdata.RoleControlPlane || join.Kubeadm.Join.ControlPlane == nil || join.Kubeadm.Join.ControlPlane.CertificateKey != f.certKey {
		t.Fatalf("join: role %s: want a control-plane join with the saved certificate key", join.Role)
	}
	for path, file := range join.Files {
		if strings.HasSuffix(path, ".key") || bytes.Contains(file.Content, []byte("PRIVATE KEY")) {
			t.Errorf("a joining control plane's user data writes a private key: %s", path)
		}
	}

	// One control plane: nothing to upload, no key made.
	f = &flow{cfg: &config{Name: "one", Dir: t.TempDir(), KubernetesVersion: "v1.37.2", ControlPlanes: 1}}
	if err := f.loadSecrets(); err != nil {
		t.Fatal(err)
	}
	if p := parse(0); p.Kubeadm.Init.CertificateKey != "" || strings.Contains(p.KubeadmCommand, "--upload-certs") {
		t.Error("a single control plane uploads its certificates")
	}
}
