package userdata

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

func TestNewClusterPKI(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, alg := range []KeyAlgorithm{RSA2048, ECDSAP256} {
		t.Run(string(alg), func(t *testing.T) {
			p, err := NewClusterPKI(WithKeyAlgorithm(alg), WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			if p.Algorithm() != alg {
				t.Errorf("Algorithm() = %q", p.Algorithm())
			}
			if err := p.Validate(now); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				ck *CertKey
				cn string
			}{{p.CA, "kubernetes"}, {p.EtcdCA, "etcd-ca"}, {p.FrontProxyCA, "front-proxy-ca"}} {
				cert := c.ck.Cert
				if cert.Subject.CommonName != c.cn || !cert.IsCA || !cert.BasicConstraintsValid {
					t.Errorf("%s: subject %q IsCA %v", c.cn, cert.Subject.CommonName, cert.IsCA)
				}
				wantUsage := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign
				if cert.KeyUsage != wantUsage {
					t.Errorf("%s: key usage %b, want %b", c.cn, cert.KeyUsage, wantUsage)
				}
				if diff := cmp.Diff([]string{c.cn}, cert.DNSNames); diff != "" {
					t.Errorf("%s SANs (-want +got):\n%s", c.cn, diff)
				}
				if got := cert.NotAfter.Sub(now); got != DefaultCAValidity {
					t.Errorf("%s validity %v", c.cn, got)
				}
				// Self-signed: the chain verifies against itself.
				pool := x509.NewCertPool()
				pool.AddCert(cert)
				if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Errorf("%s does not verify: %v", c.cn, err)
				}
				switch alg {
				case RSA2048:
					if k, ok := cert.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
						t.Errorf("%s: not RSA 2048", c.cn)
					}
				case ECDSAP256:
					if k, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve.Params().Name != "P-256" {
						t.Errorf("%s: not P-256", c.cn)
					}
				}
			}
			// The discovery pin is sha256 of the DER SubjectPublicKeyInfo.
			der, _ := x509.MarshalPKIXPublicKey(p.CA.Cert.PublicKey)
			sum := sha256.Sum256(der)
			if want := "sha256:" + hex.EncodeToString(sum[:]); p.CACertHash() != want {
				t.Errorf("CACertHash = %s, want %s", p.CACertHash(), want)
			}
		})
	}
	if _, err := NewClusterPKI(WithKeyAlgorithm("DSA")); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("bad algorithm: %v", err)
	}
}

func TestPKIValidateRejects(t *testing.T) {
	good := fixturePKI(t, RSA2048)
	other := fixturePKI(t, ECDSAP256)
	now := time.Now()
	tests := map[string]struct {
		pki   *ClusterPKI
		at    time.Time
		field string
	}{
		"nil":          {nil, now, "PKI"},
		"missing etcd": {&ClusterPKI{CA: good.CA, FrontProxyCA: good.FrontProxyCA, ServiceAccount: good.ServiceAccount}, now, "PKI.EtcdCA"},
		"key mismatch": {&ClusterPKI{CA: &CertKey{Cert: good.CA.Cert, Key: other.CA.Key}, EtcdCA: good.EtcdCA, FrontProxyCA: good.FrontProxyCA, ServiceAccount: good.ServiceAccount}, now, "PKI.CA"},
		"expired":      {good, now.Add(100 * 365 * 24 * time.Hour), "PKI.CA"},
		"missing SA":   {&ClusterPKI{CA: good.CA, EtcdCA: good.EtcdCA, FrontProxyCA: good.FrontProxyCA}, now, "PKI.ServiceAccount"},
	}
	for name, tt := range tests {
		err := tt.pki.Validate(tt.at)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: err = %v, want field %s", name, err, tt.field)
		}
	}
}

func TestPKIDirRoundTrip(t *testing.T) {
	p := fixturePKI(t, ECDSAP256)
	dir := t.TempDir()
	if err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"ca.key": 0o600, "etcd/ca.key": 0o600, "sa.key": 0o600, "ca.crt": 0o644, "sa.pub": 0o644} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v err %v, want %v", name, st.Mode().Perm(), err, mode)
		}
	}
	q, err := LoadClusterPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	pf, _ := p.Files()
	qf, _ := q.Files()
	if diff := cmp.Diff(pf, qf); diff != "" {
		t.Error("PKI changed through WriteDir/LoadClusterPKI")
	}
	if err := os.Remove(filepath.Join(dir, "front-proxy-ca.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadClusterPKI(dir); err == nil || !strings.Contains(err.Error(), "front-proxy-ca.key") || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing key: %v, want an error naming it that is not fs.ErrNotExist (a partial PKI must not be replaced)", err)
	}
	if _, err := LoadClusterPKI(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directory: %v, want fs.ErrNotExist", err)
	}
}

// WriteDir over an old set with wider modes leaves exact modes, replaces every
// file, keeps unrelated files and leaves no temporary directory.
func TestPKIWriteDirReplacesWithExactModes(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "pki")
	if err := fixturePKI(t, ECDSAP256).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ca.key", "ca.crt", "etcd/ca.key", "sa.pub"} {
		if err := os.Chmod(filepath.Join(dir, name), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"etcd", "."} {
		if err := os.Chmod(filepath.Join(dir, name), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bootstrap-token"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := NewClusterPKI(WithKeyAlgorithm(ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{".": 0o700, "etcd": 0o700, "bootstrap-token": 0o600}
	files, _ := p.Files()
	for name, b := range files {
		want[name] = 0o644
		if isKeyFile(name) {
			want[name] = 0o600
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != string(b) {
			t.Errorf("%s: not the new content (err %v)", name, err)
		}
	}
	for name, mode := range want {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", name, st.Mode().Perm(), mode)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "bootstrap-token")); string(b) != "kept" {
		t.Errorf("unrelated file not kept: %q", b)
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 || ents[0].Name() != "pki" {
		t.Errorf("parent holds %v, want only pki (no temporary directory)", ents)
	}
}

func TestPKISecrets(t *testing.T) {
	p := fixturePKI(t, RSA2048)
	secrets, err := p.Secrets("demo", "default")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range secrets {
		names = append(names, s.Name)
		if s.Type != "cluster.x-k8s.io/secret" || s.Labels["cluster.x-k8s.io/cluster-name"] != "demo" || s.Namespace != "default" {
			t.Errorf("%s: type %q labels %v", s.Name, s.Type, s.Labels)
		}
		if len(s.Data[corev1.TLSCertKey]) == 0 || len(s.Data[corev1.TLSPrivateKeyKey]) == 0 {
			t.Errorf("%s: missing tls.crt/tls.key", s.Name)
		}
	}
	if diff := cmp.Diff([]string{"demo-ca", "demo-etcd", "demo-proxy", "demo-sa"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	q, err := PKIFromSecrets("demo", secrets)
	if err != nil {
		t.Fatal(err)
	}
	if q.CACertHash() != p.CACertHash() || q.EtcdCA.Cert.SerialNumber.Cmp(p.EtcdCA.Cert.SerialNumber) != 0 {
		t.Error("PKI changed through Secrets/PKIFromSecrets")
	}
	if _, err := PKIFromSecrets("demo", secrets[:3]); err == nil || !strings.Contains(err.Error(), "demo-sa") {
		t.Errorf("missing sa secret: %v", err)
	}
	bad := append([]corev1.Secret{}, secrets...)
	bad[3].Data = map[string][]byte{corev1.TLSCertKey: secrets[0].Data[corev1.TLSCertKey], corev1.TLSPrivateKeyKey: secrets[3].Data[corev1.TLSPrivateKeyKey]}
	if _, err := PKIFromSecrets("demo", bad); err == nil {
		t.Error("mismatched sa public key accepted")
	}
}

func TestBootstrapToken(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		tok, err := NewBootstrapToken()
		if err != nil {
			t.Fatal(err)
		}
		if !bootstraputil.IsValidBootstrapToken(tok.Value()) {
			t.Fatalf("%s is not a valid kubeadm token per k8s.io/cluster-bootstrap", tok)
		}
		if err := tok.Validate("Token"); err != nil {
			t.Fatal(err)
		}
		if seen[tok.ID] {
			t.Fatalf("token ID repeated")
		}
		seen[tok.ID] = true
	}
	tok, _ := NewBootstrapToken(WithTokenTTL(time.Hour), WithTokenUsages(UsageAuthentication), WithTokenGroups("system:bootstrappers:workers"))
	if tok.TTL != time.Hour || tok.Usages[0] != UsageAuthentication || tok.Validate("T") != nil {
		t.Errorf("options not applied: %+v", tok)
	}
	for _, bad := range []string{"", "abcdef.0123456789abcde", "ABCDEF.0123456789abcdef", "abcdef-0123456789abcdef"} {
		if _, err := ParseBootstrapToken(bad); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("ParseBootstrapToken(%q) = %v", bad, err)
		}
	}
	tok.Groups = []string{"system:masters"}
	if err := tok.Validate("T"); err == nil {
		t.Error("group outside system:bootstrappers accepted")
	}
}

// TestRedaction checks that no fmt verb prints key material or token secrets.
func TestRedaction(t *testing.T) {
	p := fixturePKI(t, RSA2048)
	tok := fixtureTok(t)
	files, _ := p.Files()
	secrets := []string{tok.Secret, string(files[FileCAKey][40:80]), string(files[FileSAKey][40:80])}
	init := initSpec(t, fixtureVersion, CloudInit)
	init.CertificateKey, init.UploadCertificates = fixtureCertKey, true
	data, err := Render(init)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	values := []any{p, *p, p.CA, p.ServiceAccount, tok, &tok, init, cpSpec(t, fixtureVersion, CloudInit), workerSpec(t, fixtureVersion, CloudInit), parsed, parsed.Kubeadm.Init.BootstrapTokens[0]}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, v)
			for _, s := range append(secrets, fixtureCertKey) {
				if strings.Contains(out, s) {
					t.Errorf("%T printed with %s leaks a secret", v, verb)
				}
			}
		}
	}
}

func TestAdminKubeconfig(t *testing.T) {
	p := fixturePKI(t, ECDSAP256)
	now := time.Now()
	b, err := AdminKubeconfig(p, "demo", "https://[2001:db8::1]:6443", WithAdminValidity(time.Hour), WithKubeconfigClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	cl, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	if cl.Server != "https://[2001:db8::1]:6443" || string(cl.CertificateAuthorityData) != string(p.CA.CertPEM()) {
		t.Errorf("cluster = %s", cl.Server)
	}
	cert, err := ParseCertPEM(user.ClientCertificateData)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != AdminUser || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != AdminGroup {
		t.Errorf("subject = %v", cert.Subject)
	}
	if d := cert.NotAfter.Sub(now); d > time.Hour || d < 59*time.Minute {
		t.Errorf("validity %v, want 1h", d)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate does not chain to the cluster CA: %v", err)
	}
	key, err := ParseKeyPEM(user.ClientKeyData)
	if err != nil || !publicKeysEqual(cert.PublicKey, key.Public()) {
		t.Errorf("client key does not match: %v", err)
	}
	s := KubeconfigSecret("demo", "ns", b)
	if s.Name != "demo-kubeconfig" || string(s.Data["value"]) != string(b) || s.Type != "cluster.x-k8s.io/secret" {
		t.Errorf("secret = %s %s", s.Name, s.Type)
	}
	if _, err := AdminKubeconfig(p, "demo", "not a host:port:x"); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("bad endpoint: %v", err)
	}
}
