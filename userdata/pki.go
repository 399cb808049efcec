package userdata

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/openstrap/openstrap/internal/atomicfile"
	"github.com/openstrap/openstrap/internal/pki"
)

// KeyAlgorithm selects the key type of the cluster PKI. Its values are kubeadm's
// ClusterConfiguration.encryptionAlgorithm names, so kubeadm issues matching leaf keys.
type KeyAlgorithm string

const (
	// RSA2048 is kubeadm's default.
	RSA2048 KeyAlgorithm = "RSA-2048"
	// ECDSAP256 gives smaller keys and certificates (and smaller user data).
	ECDSAP256 KeyAlgorithm = "ECDSA-P256"
)

// Common names kubeadm gives its certificate authorities.
const (
	CACommonName           = "kubernetes"
	EtcdCACommonName       = "etcd-ca"
	FrontProxyCACommonName = "front-proxy-ca"
	// DefaultCAValidity is kubeadm's CA lifetime (ten years).
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
)

// CertKey is a certificate and its private key. String, GoString and fmt verbs
// print the subject only.
type CertKey struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertPEM returns the certificate as PEM.
func (c *CertKey) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM returns the private key as PEM in the encoding kubeadm writes (PKCS#1 for
// RSA, SEC 1 for ECDSA). Treat it as a secret.
func (c *CertKey) KeyPEM() ([]byte, error) { return marshalKeyPEM(c.Key) }

// String prints the subject, never the key.
func (c *CertKey) String() string {
	if c == nil || c.Cert == nil {
		return "CertKey{<nil>}"
	}
	return fmt.Sprintf("CertKey{subject=%q, key=<redacted>}", c.Cert.Subject.CommonName)
}

// GoString prints the subject, never the key.
func (c *CertKey) GoString() string { return c.String() }

// Format makes every fmt verb print String().
func (c *CertKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// ServiceAccountKey is the key pair kube-apiserver signs service account tokens with.
type ServiceAccountKey struct {
	Key crypto.Signer
}

// PublicPEM returns the public key as a PKIX "PUBLIC KEY" PEM block (sa.pub).
func (s *ServiceAccountKey) PublicPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(s.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("marshal service account public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// KeyPEM returns the private key as PEM (sa.key). Treat it as a secret.
func (s *ServiceAccountKey) KeyPEM() ([]byte, error) { return marshalKeyPEM(s.Key) }

// String never prints the key.
func (s *ServiceAccountKey) String() string { return "ServiceAccountKey{<redacted>}" }

// GoString never prints the key.
func (s *ServiceAccountKey) GoString() string { return s.String() }

// Format makes every fmt verb print String().
func (s *ServiceAccountKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// ClusterPKI is the shared key material of a kubeadm cluster: the three
// certificate authorities and the service account key pair. kubeadm derives every
// other certificate from these on each control-plane node. String, GoString and fmt
// verbs redact the keys.
type ClusterPKI struct {
	CA             *CertKey
	EtcdCA         *CertKey
	FrontProxyCA   *CertKey
	ServiceAccount *ServiceAccountKey
}

// String prints the CA subjects only.
func (p *ClusterPKI) String() string {
	if p == nil {
		return "ClusterPKI{<nil>}"
	}
	return fmt.Sprintf("ClusterPKI{CA: %s, EtcdCA: %s, FrontProxyCA: %s, ServiceAccount: %s}", p.CA, p.EtcdCA, p.FrontProxyCA, p.ServiceAccount)
}

// GoString prints the CA subjects only.
func (p *ClusterPKI) GoString() string { return p.String() }

// Format makes every fmt verb print String().
func (p *ClusterPKI) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// Algorithm reports the key algorithm of the cluster CA ("" if unknown).
func (p *ClusterPKI) Algorithm() KeyAlgorithm {
	if p == nil || p.CA == nil {
		return ""
	}
	switch k := p.CA.Key.Public().(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() == 2048 {
			return RSA2048
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return ECDSAP256
		}
	}
	return ""
}

// CACertHash returns the discovery pin of the cluster CA: "sha256:" and the hex
// SHA-256 of its DER SubjectPublicKeyInfo, as `kubeadm join
// --discovery-token-ca-cert-hash` takes it.
func (p *ClusterPKI) CACertHash() string { return CACertHash(p.CA.Cert) }

// CACertHash returns the kubeadm discovery pin of a CA certificate.
func CACertHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// PKIOption changes how NewClusterPKI generates the PKI.
type PKIOption interface{ apply(*pkiOptions) error }

type pkiOptions struct {
	alg      KeyAlgorithm
	validity time.Duration
	now      func() time.Time
}

type pkiOptionFunc func(*pkiOptions) error

func (f pkiOptionFunc) apply(o *pkiOptions) error { return f(o) }

// WithKeyAlgorithm selects RSA2048 (the default) or ECDSAP256.
func WithKeyAlgorithm(a KeyAlgorithm) PKIOption {
	return pkiOptionFunc(func(o *pkiOptions) error {
		if a != RSA2048 && a != ECDSAP256 {
			return fieldErr("KeyAlgorithm", "%q is not %q or %q", a, RSA2048, ECDSAP256)
		}
		o.alg = a
		return nil
	})
}

// WithCAValidity sets the CA lifetime (default ten years, as kubeadm).
func WithCAValidity(d time.Duration) PKIOption {
	return pkiOptionFunc(func(o *pkiOptions) error {
		if d < time.Hour {
			return fieldErr("CAValidity", "must be at least one hour")
		}
		o.validity = d
		return nil
	})
}

// WithClock sets the time certificates are issued at (for tests).
func WithClock(now func() time.Time) PKIOption {
	return pkiOptionFunc(func(o *pkiOptions) error { o.now = now; return nil })
}

// NewClusterPKI generates a new cluster CA, etcd CA, front-proxy CA and service
// account key pair shaped as kubeadm's certificate phases make them: self-signed CA
// certificates with the kubeadm common names, key usages digitalSignature,
// keyEncipherment and certSign, a random 63-bit serial, ten years validity.
func NewClusterPKI(opts ...PKIOption) (*ClusterPKI, error) {
	o := pkiOptions{alg: RSA2048, validity: DefaultCAValidity, now: time.Now}
	for _, opt := range opts {
		if err := opt.apply(&o); err != nil {
			return nil, err
		}
	}
	p := &ClusterPKI{}
	for _, ca := range []struct {
		cn  string
		dst **CertKey
	}{{CACommonName, &p.CA}, {EtcdCACommonName, &p.EtcdCA}, {FrontProxyCACommonName, &p.FrontProxyCA}} {
		ck, err := newCA(ca.cn, o)
		if err != nil {
			return nil, fmt.Errorf("generate %s CA: %w", ca.cn, err)
		}
		*ca.dst = ck
	}
	key, err := pki.NewKey(string(o.alg))
	if err != nil {
		return nil, fmt.Errorf("generate service account key: %w", err)
	}
	p.ServiceAccount = &ServiceAccountKey{Key: key}
	return p, nil
}

// newCA makes one of the cluster's CAs with internal/pki, openstrap's one
// certificate generator.
func newCA(cn string, o pkiOptions) (*CertKey, error) {
	key, err := pki.NewKey(string(o.alg))
	if err != nil {
		return nil, err
	}
	cert, err := pki.NewCA(cn, key, o.now(), o.validity)
	if err != nil {
		return nil, err
	}
	return &CertKey{Cert: cert, Key: key}, nil
}

// Validate checks that every part is present, each certificate is a CA valid now
// whose key matches, and the service account key exists.
func (p *ClusterPKI) Validate(now time.Time) error {
	if p == nil {
		return fieldErr("PKI", "required")
	}
	for _, c := range []struct {
		name string
		ck   *CertKey
	}{{"PKI.CA", p.CA}, {"PKI.EtcdCA", p.EtcdCA}, {"PKI.FrontProxyCA", p.FrontProxyCA}} {
		if err := validateCA(c.name, c.ck, now); err != nil {
			return err
		}
	}
	if p.ServiceAccount == nil || p.ServiceAccount.Key == nil {
		return fieldErr("PKI.ServiceAccount", "required")
	}
	return nil
}

func validateCA(name string, ck *CertKey, now time.Time) error {
	if ck == nil || ck.Cert == nil {
		return fieldErr(name, "certificate required")
	}
	if !ck.Cert.IsCA || ck.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fieldErr(name, "certificate %q is not a CA with the certSign key usage", ck.Cert.Subject.CommonName)
	}
	if now.Before(ck.Cert.NotBefore) || now.After(ck.Cert.NotAfter) {
		return fieldErr(name, "certificate %q is not valid at %s (valid %s to %s)", ck.Cert.Subject.CommonName,
			now.UTC().Format(time.RFC3339), ck.Cert.NotBefore.Format(time.RFC3339), ck.Cert.NotAfter.Format(time.RFC3339))
	}
	if ck.Key != nil && !publicKeysEqual(ck.Cert.PublicKey, ck.Key.Public()) {
		return fieldErr(name, "private key does not match certificate %q", ck.Cert.Subject.CommonName)
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// marshalKeyPEM encodes a key as kubeadm writes it (client-go's keyutil:
// PKCS#1 for RSA, SEC 1 for ECDSA).
func marshalKeyPEM(k crypto.Signer) ([]byte, error) {
	if k == nil {
		return nil, errors.New("no private key")
	}
	return keyutil.MarshalPrivateKeyToPEM(k)
}

// ParseCertPEM reads the first CERTIFICATE block.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	certs, err := certutil.ParseCertsPEM(b)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ParseKeyPEM reads an RSA or ECDSA private key in PKCS#1, SEC 1 or PKCS#8 PEM
// (client-go's keyutil). Errors never include key material.
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	k, err := keyutil.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

// Paths of the shared PKI files relative to kubeadm's certificates directory.
const (
	FileCACert           = "ca.crt"
	FileCAKey            = "ca.key"
	FileEtcdCACert       = "etcd/ca.crt"
	FileEtcdCAKey        = "etcd/ca.key"
	FileFrontProxyCACert = "front-proxy-ca.crt"
	FileFrontProxyCAKey  = "front-proxy-ca.key"
	FileSAKey            = "sa.key"
	FileSAPub            = "sa.pub"
)

// Files returns the PKI as kubeadm lays it out under /etc/kubernetes/pki: relative
// path → content. Keys are secrets.
func (p *ClusterPKI) Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, c := range []struct {
		ck        *CertKey
		crt, key  string
		fieldName string
	}{{p.CA, FileCACert, FileCAKey, "CA"}, {p.EtcdCA, FileEtcdCACert, FileEtcdCAKey, "EtcdCA"}, {p.FrontProxyCA, FileFrontProxyCACert, FileFrontProxyCAKey, "FrontProxyCA"}} {
		if c.ck == nil || c.ck.Cert == nil {
			return nil, fieldErr("PKI."+c.fieldName, "required")
		}
		out[c.crt] = c.ck.CertPEM()
		k, err := c.ck.KeyPEM()
		if err != nil {
			return nil, fmt.Errorf("PKI.%s key: %w", c.fieldName, err)
		}
		out[c.key] = k
	}
	if p.ServiceAccount == nil || p.ServiceAccount.Key == nil {
		return nil, fieldErr("PKI.ServiceAccount", "required")
	}
	k, err := p.ServiceAccount.KeyPEM()
	if err != nil {
		return nil, fmt.Errorf("PKI.ServiceAccount key: %w", err)
	}
	pub, err := p.ServiceAccount.PublicPEM()
	if err != nil {
		return nil, err
	}
	out[FileSAKey], out[FileSAPub] = k, pub
	return out, nil
}

// PKIFromFiles rebuilds a ClusterPKI from the layout Files returns. Missing files
// are an error naming the file.
func PKIFromFiles(files map[string][]byte) (*ClusterPKI, error) {
	p := &ClusterPKI{}
	for _, c := range []struct {
		dst      **CertKey
		crt, key string
	}{{&p.CA, FileCACert, FileCAKey}, {&p.EtcdCA, FileEtcdCACert, FileEtcdCAKey}, {&p.FrontProxyCA, FileFrontProxyCACert, FileFrontProxyCAKey}} {
		ck, err := certKeyFrom(files, c.crt, c.key)
		if err != nil {
			return nil, err
		}
		*c.dst = ck
	}
	kb, ok := files[FileSAKey]
	if !ok {
		return nil, fmt.Errorf("load cluster PKI: %s missing", FileSAKey)
	}
	k, err := ParseKeyPEM(kb)
	if err != nil {
		return nil, fmt.Errorf("load cluster PKI: %s: %w", FileSAKey, err)
	}
	p.ServiceAccount = &ServiceAccountKey{Key: k}
	return p, nil
}

func certKeyFrom(files map[string][]byte, crt, key string) (*CertKey, error) {
	cb, ok := files[crt]
	if !ok {
		return nil, fmt.Errorf("load cluster PKI: %s missing", crt)
	}
	cert, err := ParseCertPEM(cb)
	if err != nil {
		return nil, fmt.Errorf("load cluster PKI: %s: %w", crt, err)
	}
	kb, ok := files[key]
	if !ok {
		return nil, fmt.Errorf("load cluster PKI: %s missing", key)
	}
	k, err := ParseKeyPEM(kb)
	if err != nil {
		return nil, fmt.Errorf("load cluster PKI: %s: %w", key, err)
	}
	if !publicKeysEqual(cert.PublicKey, k.Public()) {
		return nil, fmt.Errorf("load cluster PKI: %s does not match %s", key, crt)
	}
	return &CertKey{Cert: cert, Key: k}, nil
}

// LoadClusterPKI reads a PKI from a directory in kubeadm's layout (ca.crt, ca.key,
// etcd/ca.crt, etcd/ca.key, front-proxy-ca.crt, front-proxy-ca.key, sa.key).
// Only when none of these files exists does the error match fs.ErrNotExist, the
// one case where making a new PKI is safe; a partial set is an error naming the
// missing files.
func LoadClusterPKI(dir string) (*ClusterPKI, error) {
	names := []string{FileCACert, FileCAKey, FileEtcdCACert, FileEtcdCAKey, FileFrontProxyCACert, FileFrontProxyCAKey, FileSAKey}
	files := map[string][]byte{}
	var missing []string
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, name)
		case err != nil:
			return nil, fmt.Errorf("load cluster PKI from %s: %w", dir, err)
		}
		files[name] = b
	}
	switch {
	case len(missing) == len(names):
		return nil, fmt.Errorf("load cluster PKI: no PKI in %s: %w", dir, fs.ErrNotExist)
	case len(missing) > 0:
		return nil, fmt.Errorf("load cluster PKI from %s: incomplete, missing %s", dir, strings.Join(missing, ", "))
	}
	return PKIFromFiles(files)
}

// WriteDir writes the PKI to dir in kubeadm's layout: keys 0600, certificates and
// sa.pub 0644, directories 0700, set explicitly so a replaced file never keeps a
// wider mode. The whole set is written to a temporary sibling directory and
// renamed into place, so a crash leaves the old set or the new one, never a mix.
// Other entries already in dir are kept.
func (p *ClusterPKI) WriteDir(dir string) error {
	files, err := p.Files()
	if err != nil {
		return err
	}
	err = atomicfile.ReplaceDir(dir, func(tmp string) error {
		for name, b := range files {
			path := filepath.Join(tmp, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			if err := os.Chmod(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if isKeyFile(name) {
				mode = 0o600
			}
			if err := os.WriteFile(path, b, mode); err != nil {
				return err
			}
			if err := os.Chmod(path, mode); err != nil { // the umask may have narrowed 0644
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write cluster PKI: %w", err)
	}
	return nil
}

func isKeyFile(name string) bool { return filepath.Ext(name) == ".key" }
