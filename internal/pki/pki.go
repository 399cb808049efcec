// Package pki is openstrap's one generator of keys and certificates: the
// cluster CAs and service account key that userdata hands to kubeadm, and the
// CA and leaf certificates of the local control plane (internal/controlplane).
// PEM encoding and parsing are client-go's util/cert and util/keyutil; the
// certificate templates are kubeadm's (client-go's certutil.NewSelfSignedCACert
// shape) with the clock and lifetime as parameters, which certutil's fixed
// time.Now and ten years do not allow.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// Key algorithms, named as kubeadm's ClusterConfiguration.encryptionAlgorithm.
const (
	RSA2048   = "RSA-2048"
	ECDSAP256 = "ECDSA-P256"
)

// backdate is how far before now a certificate becomes valid, for clocks a
// little behind.
const backdate = 5 * time.Minute

// NewKey generates a private key of the algorithm (RSA2048 or ECDSAP256).
func NewKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("key algorithm %q is not %q or %q", alg, RSA2048, ECDSAP256)
}

// serial is a uniform random serial in [1, MaxInt64), as client-go's certutil
// and kubeadm make them.
func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).SetInt64(math.MaxInt64-1))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

// NewCA makes a self-signed CA certificate for key as kubeadm's certificate
// phases do (common name also as DNS name; key usages digitalSignature,
// keyEncipherment and certSign), valid from shortly before now for validity.
func NewCA(commonName string, key crypto.Signer, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: commonName},
		DNSNames:              []string{commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Issue signs a leaf certificate for key with the CA: the subject, extended
// key usages and alternative names come from cfg (client-go's
// certutil.Config); valid from shortly before now for validity, and never
// beyond the CA.
func Issue(ca *x509.Certificate, caKey, key crypto.Signer, cfg certutil.Config, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	if ca == nil || caKey == nil {
		return nil, errors.New("issue certificate: no CA")
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cfg.CommonName, Organization: cfg.Organization},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           cfg.Usages,
		DNSNames:              cfg.AltNames.DNSNames,
		IPAddresses:           cfg.AltNames.IPs,
		BasicConstraintsValid: true,
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
