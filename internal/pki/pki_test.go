package pki

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"net"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// A CA and a leaf it issues verify as a chain at the given time, carry the
// asked names and usages, and round-trip through client-go's PEM helpers.
func TestNewCAAndIssue(t *testing.T) {
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	for _, alg := range []string{RSA2048, ECDSAP256} {
		key, err := NewKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		switch key.(type) {
		case *rsa.PrivateKey:
			if alg != RSA2048 {
				t.Errorf("%s made an RSA key", alg)
			}
		case *ecdsa.PrivateKey:
			if alg != ECDSAP256 {
				t.Errorf("%s made an ECDSA key", alg)
			}
		}
		ca, err := NewCA("kubernetes", key, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 || ca.Subject.CommonName != "kubernetes" || !ca.NotAfter.Equal(now.Add(time.Hour)) {
			t.Errorf("%s CA: IsCA %v usage %v CN %q until %s", alg, ca.IsCA, ca.KeyUsage, ca.Subject.CommonName, ca.NotAfter)
		}
		leafKey, err := NewKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := Issue(ca, key, leafKey, certutil.Config{CommonName: "kube-apiserver", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			AltNames: certutil.AltNames{DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}}}, now, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", CurrentTime: now}); err != nil {
			t.Errorf("%s: leaf does not verify: %v", alg, err)
		}
		if !leaf.NotAfter.Equal(ca.NotAfter) {
			t.Errorf("%s: leaf valid until %s, beyond its CA's %s", alg, leaf.NotAfter, ca.NotAfter)
		}
		short, err := Issue(ca, key, leafKey, certutil.Config{CommonName: "admin"}, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := short.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now.Add(2 * time.Minute)}); err == nil {
			t.Errorf("%s: leaf verifies after its lifetime", alg)
		}
		pemKey, err := keyutil.MarshalPrivateKeyToPEM(leafKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keyutil.ParsePrivateKeyPEM(pemKey); err != nil {
			t.Errorf("%s: leaf key does not round-trip: %v", alg, err)
		}
		pemCert, err := certutil.EncodeCertificates(ca)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := certutil.ParseCertsPEM(pemCert); err != nil || !back[0].Equal(ca) {
			t.Errorf("%s: CA does not round-trip: %v", alg, err)
		}
	}
	if _, err := NewKey("DSA"); err == nil {
		t.Error("an unknown algorithm was accepted")
	}
}
