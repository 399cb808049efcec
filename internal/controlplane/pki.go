package controlplane

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/util/keyutil"

	"github.com/openstrap/openstrap/internal/atomicfile"
)

// pki is the key material of one control plane.
type pki struct {
	caCert    *x509.Certificate
	caCertPEM []byte
	caKey     crypto.Signer
}

// certValidity is how long the serving and client certificates live; they are
// issued again at every Start.
const certValidity = 365 * 24 * time.Hour

// loadOrCreatePKI writes the given CA and service-account key into dir/pki, or
// keeps the ones already there, or generates new ones.
func loadOrCreatePKI(dir string, caCertPEM, caKeyPEM, saKeyPEM []byte) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caCrtPath, caKeyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if (len(caCertPEM) == 0) != (len(caKeyPEM) == 0) {
		return nil, errors.New("CA certificate and key must be given together")
	}
	if len(caCertPEM) == 0 {
		crt, errC := os.ReadFile(caCrtPath)
		key, errK := os.ReadFile(caKeyPath)
		switch {
		case errC == nil && errK == nil:
			caCertPEM, caKeyPEM = crt, key
		case errors.Is(errC, os.ErrNotExist) && errors.Is(errK, os.ErrNotExist):
			var err error
			caCertPEM, caKeyPEM, err = newCA()
			if err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("read CA in %s: %w", dir, errors.Join(errC, errK))
		}
	}
	p, err := parseCA(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, err
	}
	if err := writeIfChanged(caCrtPath, caCertPEM, 0o644); err != nil {
		return nil, err
	}
	if err := writeIfChanged(caKeyPath, caKeyPEM, 0o600); err != nil {
		return nil, err
	}

	saPath := filepath.Join(dir, "sa.key")
	if len(saKeyPEM) == 0 {
		b, err := os.ReadFile(saPath)
		switch {
		case err == nil:
			saKeyPEM = b
		case errors.Is(err, os.ErrNotExist):
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, err
			}
			if saKeyPEM, err = keyutil.MarshalPrivateKeyToPEM(k); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("read service-account key: %w", err)
		}
	}
	saKey, err := keyutil.ParsePrivateKeyPEM(saKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse service-account key: %w", err)
	}
	signer, ok := saKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("service-account key is not a signing key")
	}
	pubDER, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("service-account public key: %w", err)
	}
	if err := writeIfChanged(saPath, saKeyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeIfChanged(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

func parseCA(certPEM, keyPEM []byte) (*pki, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("CA certificate is not PEM")
	}
	crt, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse CA key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("CA key is not a signing key")
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(crt.PublicKey) {
		return nil, errors.New("CA key does not match the CA certificate")
	}
	return &pki{caCert: crt, caCertPEM: certPEM, caKey: signer}, nil
}

func newCA() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// issue signs a new leaf certificate and returns it and its key as PEM.
func (p *pki) issue(subject pkix.Name, usage x509.ExtKeyUsage, dnsNames []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// writeIfChanged writes b to path atomically unless the file already holds b
// with mode; errors name the file.
func writeIfChanged(path string, b []byte, mode os.FileMode) error {
	if _, err := atomicfile.WriteFileIfChanged(path, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
