package machineruntime

import (
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
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/openstrap/openstrap/internal/controlplane"
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
// kube-apiserver, then checks that a wrong pin, a wrong secret and an expired
// token are refused where kubeadm refuses them.
func TestJoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ca := newTestCA(t)
	p, err := controlplane.Start(ctx, controlplane.Config{Dir: t.TempDir(), Address: "127.0.0.1",
		CACert: ca.certPEM, CAKey: ca.keyPEM, APIServerArgs: []string{"--enable-admission-plugins=NodeRestriction"}})
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
	sg := &signer{cs: cs, caCert: ca.cert, caKey: ca.key}
	pin := CAPin(ca.cert)
	host, port, _ := net.SplitHostPort(endpoint)
	if _, err := strconv.Atoi(port); err != nil || host == "" {
		t.Fatalf("endpoint %q", endpoint)
	}

	err = join(ctx, joinRequest{Endpoint: endpoint, Token: "abcdef.0123456789abcdef", CAHashes: []string{pin},
		NodeName: "worker-0", Labels: map[string]string{"openstrap.io/role": "worker"}}, sg.approveAndSign)
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

	other := newTestCA(t)
	wait := time.Until(short.Expires) + time.Second
	tests := []struct {
		name string
		req  joinRequest
		step string
		msg  string
	}{
		{"wrong pin", joinRequest{Token: "abcdef.0123456789abcdef", CAHashes: []string{CAPin(other.cert)}}, "discovery", "matches none"},
		{"wrong secret", joinRequest{Token: "abcdef.ffffffffffffffff", CAHashes: []string{pin}}, "discovery", "does not match"},
		{"unknown token", joinRequest{Token: "zzzzzz.0123456789abcdef", CAHashes: []string{pin}}, "discovery", "no signature"},
		{"expired token", joinRequest{Token: "short1.0123456789abcdef", CAHashes: []string{pin}}, "tls-bootstrap", "rejected bootstrap token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "expired token" {
				time.Sleep(wait)
			}
			tt.req.Endpoint = endpoint
			tt.req.NodeName = "bad-" + strings.ReplaceAll(tt.name, " ", "-")
			err := join(ctx, tt.req, sg.approveAndSign)
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
