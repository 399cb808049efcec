package userdata

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/openstrap/openstrap/internal/pki"
)

// Admin identity of the kubeconfig AdminKubeconfig writes.
const (
	AdminUser  = "kubernetes-admin"
	AdminGroup = "system:masters"
	// DefaultAdminValidity is the admin client certificate's lifetime (one year, as kubeadm).
	DefaultAdminValidity = 365 * 24 * time.Hour
)

// KubeconfigOption changes AdminKubeconfig.
type KubeconfigOption func(*kubeconfigOptions)

type kubeconfigOptions struct {
	validity time.Duration
	now      func() time.Time
}

// WithAdminValidity sets the client certificate lifetime (e.g. one hour for a
// short-lived credential).
func WithAdminValidity(d time.Duration) KubeconfigOption {
	return func(o *kubeconfigOptions) { o.validity = d }
}

// WithKubeconfigClock sets the issue time (for tests).
func WithKubeconfigClock(now func() time.Time) KubeconfigOption {
	return func(o *kubeconfigOptions) { o.now = now }
}

// AdminKubeconfig returns a kubeconfig for the cluster's API endpoint
// ("host:port" or "https://host:port") with a client certificate for
// kubernetes-admin in system:masters, signed by the cluster CA. The result holds a
// private key: treat it as a secret.
func AdminKubeconfig(p *ClusterPKI, cluster, endpoint string, opts ...KubeconfigOption) ([]byte, error) {
	o := kubeconfigOptions{validity: DefaultAdminValidity, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if cluster == "" {
		return nil, fieldErr("Cluster", "required")
	}
	if o.validity <= 0 {
		return nil, fieldErr("AdminValidity", "must be positive")
	}
	if p == nil || p.CA == nil || p.CA.Key == nil {
		return nil, fieldErr("PKI.CA", "certificate and key required")
	}
	server, err := serverURL(endpoint)
	if err != nil {
		return nil, err
	}
	key, err := pki.NewKey(string(p.Algorithm()))
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig for cluster %q: %w", cluster, err)
	}
	cert, err := pki.Issue(p.CA.Cert, p.CA.Key, key, certutil.Config{CommonName: AdminUser, Organization: []string{AdminGroup},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, o.now(), o.validity)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig for cluster %q: sign client certificate: %w", cluster, err)
	}
	keyPEM, err := marshalKeyPEM(key)
	if err != nil {
		return nil, err
	}
	ctxName := AdminUser + "@" + cluster
	cfg := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{cluster: {
			Server: server, CertificateAuthorityData: p.CA.CertPEM(),
		}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{AdminUser: {
			ClientCertificateData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
			ClientKeyData:         keyPEM,
		}},
		Contexts:       map[string]*clientcmdapi.Context{ctxName: {Cluster: cluster, AuthInfo: AdminUser}},
		CurrentContext: ctxName,
	}
	b, err := clientcmd.Write(cfg)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig for cluster %q: %w", cluster, err)
	}
	return b, nil
}

// KubeconfigSecret wraps a kubeconfig in Cluster API's "<cluster>-kubeconfig"
// Secret form (key "value", type cluster.x-k8s.io/secret, cluster-name label).
func KubeconfigSecret(cluster, namespace string, kubeconfig []byte) corev1.Secret {
	return corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: SecretName(cluster, SecretPurposeKubeconfig), Namespace: namespace,
			Labels: map[string]string{clusterv1.ClusterNameLabel: cluster},
		},
		Type: clusterv1.ClusterSecretType,
		Data: map[string][]byte{SecretKubeconfigKey: kubeconfig},
	}
}

// splitEndpoint parses "host:port", "host" (port 6443) or "https://host:port".
func splitEndpoint(endpoint string) (host string, port int, err error) {
	if endpoint == "" {
		return "", 0, fieldErr("Endpoint", "required (host:port of the API server load balancer)")
	}
	e := endpoint
	if u, perr := url.Parse(endpoint); perr == nil && u.Scheme != "" && u.Host != "" {
		if u.Scheme != "https" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", 0, fieldErr("Endpoint", "%q: only https://host:port is accepted", endpoint)
		}
		e = u.Host
	}
	h, p, serr := net.SplitHostPort(e)
	if serr != nil {
		h, p = e, "6443"
		if net.ParseIP(e) == nil && !isDNSName(e) {
			return "", 0, fieldErr("Endpoint", "%q is not host:port", endpoint)
		}
	}
	n, perr := strconv.Atoi(p)
	if perr != nil || n < 1 || n > 65535 {
		return "", 0, fieldErr("Endpoint", "%q: port must be 1-65535", endpoint)
	}
	if net.ParseIP(h) == nil && !isDNSName(h) {
		return "", 0, fieldErr("Endpoint", "%q: host must be an IP address or DNS name", endpoint)
	}
	return h, n, nil
}

// hostPort joins an endpoint for kubeadm's controlPlaneEndpoint (IPv6 bracketed).
func hostPort(endpoint string) (string, error) {
	h, p, err := splitEndpoint(endpoint)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(h, strconv.Itoa(p)), nil
}

func serverURL(endpoint string) (string, error) {
	hp, err := hostPort(endpoint)
	if err != nil {
		return "", err
	}
	return "https://" + hp, nil
}

func mustParsePub(b []byte) any {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil
	}
	return k
}
