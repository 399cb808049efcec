package machineruntime

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/openstrap/openstrap/internal/controlplane"
	"github.com/openstrap/openstrap/internal/retry"
)

type testCA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return testCA{cert: cert, key: key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}
}

// TestJoin runs kubeadm's init API phases and a node join against a real
// kube-apiserver with kube-controller-manager, then checks that a wrong pin,
// a wrong secret, an unknown token and an expired token (deleted by the
// token cleaner) are refused where kubeadm refuses them.
func TestJoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ca := newTestCA(t)
	p, err := controlplane.Start(ctx, controlPlaneConfig(controlplane.Config{Dir: t.TempDir(), Address: "127.0.0.1",
		CACert: ca.certPEM, CAKey: ca.keyPEM}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	cs, err := kubernetes.NewForConfig(p.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	good := BootstrapToken{ID: "abcdef", Secret: "0123456789abcdef", Expires: time.Now().Add(time.Hour)}
	short := BootstrapToken{ID: "short1", Secret: "0123456789abcdef", Expires: time.Now().Add(3 * time.Second)}
	endpoint := strings.TrimPrefix(p.Endpoint(), "https://")
	if err := initObjects(ctx, cs, "https://"+endpoint, ca.certPEM, []BootstrapToken{good, short}, []byte("kind: ClusterConfiguration\n")); err != nil {
		t.Fatal(err)
	}
	// A second init changes nothing and does not fail.
	if err := initObjects(ctx, cs, "https://"+endpoint, ca.certPEM, []BootstrapToken{good, short}, []byte("kind: ClusterConfiguration\n")); err != nil {
		t.Fatalf("second initObjects: %v", err)
	}
	pin := CAPin(ca.cert)
	host, port, _ := net.SplitHostPort(endpoint)
	if _, err := strconv.Atoi(port); err != nil || host == "" {
		t.Fatalf("endpoint %q", endpoint)
	}

	kubeletDir := t.TempDir()
	err = join(ctx, joinRequest{Endpoint: endpoint, Token: "abcdef.0123456789abcdef", CAHashes: []string{pin}, DiscoveryTimeout: time.Minute,
		NodeName: "worker-0", ProviderID: ProviderID("srv-0"), Labels: map[string]string{"openstrap.io/role": "worker"}, KubeletDir: kubeletDir})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, "worker-0", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node not registered: %v", err)
	}
	if node.Labels["openstrap.io/role"] != "worker" || len(node.Status.Conditions) == 0 || node.Status.Conditions[0].Status != "True" {
		t.Fatalf("node = labels %v conditions %v, want the role label and Ready", node.Labels, node.Status.Conditions)
	}
	if node.Spec.ProviderID != "openstack:///srv-0" {
		t.Errorf("providerID = %q, want openstack:///srv-0", node.Spec.ProviderID)
	}
	checkKubeletCertificate(t, cs, kubeletDir, "worker-0", ca.cert)

	// The token cleaner deletes the expired token, and the bootstrap signer
	// then drops its signature.
	waitSecretGone(t, cs, "bootstrap-token-short1")
	other := newTestCA(t)
	tests := []struct {
		name string
		req  joinRequest
		step string
		msg  string
	}{
		{"wrong pin", joinRequest{Token: "abcdef.0123456789abcdef", CAHashes: []string{CAPin(other.cert)}}, "discovery", "matches none"},
		{"wrong secret", joinRequest{Token: "abcdef.ffffffffffffffff", CAHashes: []string{pin}}, "discovery", "does not match"},
		{"unknown token", joinRequest{Token: "zzzzzz.0123456789abcdef", CAHashes: []string{pin}}, "discovery", "no signature"},
		{"expired token", joinRequest{Token: "short1.0123456789abcdef", CAHashes: []string{pin}}, "discovery", "no signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Endpoint = endpoint
			tt.req.DiscoveryTimeout = 3 * time.Second
			tt.req.NodeName = "bad-" + strings.ReplaceAll(tt.name, " ", "-")
			err := join(ctx, tt.req)
			var je *JoinError
			if !errors.As(err, &je) || je.Step != tt.step || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("join = %v, want a JoinError at %s saying %q", err, tt.step, tt.msg)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") {
				t.Fatalf("error leaks the token secret: %v", err)
			}
			if _, err := cs.CoreV1().Nodes().Get(ctx, tt.req.NodeName, metav1.GetOptions{}); err == nil {
				t.Fatalf("node %s registered despite the failed join", tt.req.NodeName)
			}
		})
	}
}

func waitSecretGone(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	err := retry.Until(t.Context(), retry.Policy{Initial: 200 * time.Millisecond, Max: time.Second, MaxElapsed: time.Minute},
		func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
	if err != nil {
		t.Fatalf("kube-system/%s not deleted by the token cleaner: %v", name, err)
	}
}

// checkKubeletCertificate checks that node's kubelet.conf in dir holds a
// client certificate issued by ca for system:node:<node> that
// kube-controller-manager approved (reason AutoApproved, written by it) and
// signed (status written by it) for the kubelet client signer, and that it
// authenticates as the node.
func checkKubeletCertificate(t *testing.T, cs kubernetes.Interface, dir, node string, ca *x509.Certificate) {
	t.Helper()
	ctx := t.Context()
	kc, err := clientcmd.LoadFromFile(filepath.Join(dir, KubeletConf))
	if err != nil {
		t.Fatalf("kubelet.conf: %v", err)
	}
	var certPEM []byte
	for _, a := range kc.AuthInfos {
		certPEM = a.ClientCertificateData
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("kubelet.conf has no client certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		t.Errorf("kubelet certificate not signed by the cluster CA: %v", err)
	}
	if cert.Subject.CommonName != "system:node:"+node {
		t.Errorf("kubelet certificate subject %s, want CN system:node:%s", cert.Subject, node)
	}
	csrs, err := cs.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, csr := range csrs.Items {
		if !bytes.Equal(csr.Status.Certificate, certPEM) {
			continue
		}
		found = true
		if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
			t.Errorf("CSR %s signer %q, want %s", csr.Name, csr.Spec.SignerName, certificatesv1.KubeAPIServerClientKubeletSignerName)
		}
		var approved bool
		for _, c := range csr.Status.Conditions {
			if c.Type == certificatesv1.CertificateApproved && c.Status == corev1.ConditionTrue && c.Reason == "AutoApproved" {
				approved = true
			}
		}
		if !approved {
			t.Errorf("CSR %s conditions %+v, want Approved with reason AutoApproved", csr.Name, csr.Status.Conditions)
		}
		// The approval and the certificate were written by
		// kube-controller-manager (its field manager), not by this process.
		managers := map[string]string{}
		for _, mf := range csr.ManagedFields {
			if mf.Subresource != "" {
				managers[mf.Subresource] = mf.Manager
			}
		}
		for _, sub := range []string{"approval", "status"} {
			if managers[sub] != "kube-controller-manager" {
				t.Errorf("CSR %s %s written by %q, want kube-controller-manager (managers %v)", csr.Name, sub, managers[sub], managers)
			}
		}
	}
	if !found {
		t.Fatalf("no CSR holds the kubelet's certificate")
	}
	rc, err := clientcmd.NewDefaultClientConfig(*kc, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	kcs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	review, err := kcs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubelet credentials: %v", err)
	}
	if review.Status.UserInfo.Username != "system:node:"+node {
		t.Errorf("kubelet credentials authenticate as %q, want system:node:%s", review.Status.UserInfo.Username, node)
	}
}
