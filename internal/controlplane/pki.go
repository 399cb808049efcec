package controlplane

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/openstrap/openstrap/internal/atomicfile"
	certgen "github.com/openstrap/openstrap/internal/pki"
)

// pki is the key material of one control plane.
type pki struct {
	caCert    *x509.Certificate
	caCertPEM []byte
	caKey     crypto.Signer
}

// certValidity is how long the serving and client certificates live; they are
// issued again at every Start. caValidity is a new CA's (kubeadm's ten years).
const (
	certValidity = 365 * 24 * time.Hour
	caValidity   = 10 * 365 * 24 * time.Hour
)

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
			k, err := certgen.NewKey(certgen.ECDSAP256)
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
	certs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate is not PEM with a certificate: %w", err)
	}
	crt := certs[0]
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

// newCA makes a CA (ECDSA P-256, ten years) with internal/pki, openstrap's
// one certificate generator, as PEM.
func newCA() (certPEM, keyPEM []byte, err error) {
	key, err := certgen.NewKey(certgen.ECDSAP256)
	if err != nil {
		return nil, nil, err
	}
	crt, err := certgen.NewCA("kubernetes", key, time.Now(), caValidity)
	if err != nil {
		return nil, nil, err
	}
	if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, err
	}
	certPEM, err = certutil.EncodeCertificates(crt)
	return certPEM, keyPEM, err
}

// issue signs a new leaf certificate (ECDSA P-256) and returns it and its key
// as PEM.
func (p *pki) issue(subject pkix.Name, usage x509.ExtKeyUsage, dnsNames []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	key, err := certgen.NewKey(certgen.ECDSAP256)
	if err != nil {
		return nil, nil, err
	}
	crt, err := certgen.Issue(p.caCert, p.caKey, key, certutil.Config{CommonName: subject.CommonName, Organization: subject.Organization,
		Usages: []x509.ExtKeyUsage{usage}, AltNames: certutil.AltNames{DNSNames: dnsNames, IPs: ips}}, time.Now(), certValidity)
	if err != nil {
		return nil, nil, err
	}
	if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, err
	}
	certPEM, err = certutil.EncodeCertificates(crt)
	return certPEM, keyPEM, err
}

// writeIfChanged writes b to path atomically unless the file already holds b
// with mode; errors name the file.
func writeIfChanged(path string, b []byte, mode os.FileMode) error {
	if _, err := atomicfile.WriteFileIfChanged(path, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
