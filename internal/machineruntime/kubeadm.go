package machineruntime

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	"k8s.io/cluster-bootstrap/token/jws"

	"github.com/openstrap/openstrap/internal/retry"
)

// nodeBootstrapGroup is the group kubeadm gives its default node tokens.
const nodeBootstrapGroup = "system:bootstrappers:kubeadm:default-node-token"

// BootstrapToken is a kubeadm bootstrap token as the API server stores it.
type BootstrapToken struct {
	ID     string
	Secret string
	// Expires is when the token stops working; zero means never.
	Expires time.Time
	// Usages defaults to authentication and signing.
	Usages []string
	// Groups defaults to kubeadm's default node-token group.
	Groups []string
}

// String redacts the secret half.
func (t BootstrapToken) String() string { return t.ID + ".<redacted>" }

// initObjects writes what kubeadm init's bootstrap-token and upload-config
// phases write through the API: the token Secrets, the signed cluster-info
// ConfigMap that token discovery reads anonymously, the RBAC that lets token
// holders ask for kubelet client certificates, and kubeadm-config.
func initObjects(ctx context.Context, cs kubernetes.Interface, server string, caPEM []byte, tokens []BootstrapToken, clusterConfig []byte) error {
	for _, t := range tokens {
		if err := apply(ctx, cs, tokenSecret(t)); err != nil {
			return fmt.Errorf("bootstrap token %s: %w", t.ID, err)
		}
	}
	info, err := clusterInfo(server, caPEM, tokens)
	if err != nil {
		return err
	}
	objects := []any{
		info,
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:bootstrap-signer-clusterinfo", Namespace: metav1.NamespacePublic},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
				ResourceNames: []string{bootstrapapi.ConfigMapClusterInfo}, Verbs: []string{"get"}}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:bootstrap-signer-clusterinfo", Namespace: metav1.NamespacePublic},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "kubeadm:bootstrap-signer-clusterinfo"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "system:anonymous"}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:kubelet-bootstrap"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-bootstrapper"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: nodeBootstrapGroup}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:node-autoapprove-bootstrap"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole",
				Name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: nodeBootstrapGroup}},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: metav1.NamespaceSystem},
			Data:       map[string]string{"ClusterConfiguration": string(clusterConfig)},
		},
	}
	for _, o := range objects {
		if err := apply(ctx, cs, o); err != nil {
			return err
		}
	}
	return nil
}

func tokenSecret(t BootstrapToken) *corev1.Secret {
	usages := t.Usages
	if len(usages) == 0 {
		usages = []string{"authentication", "signing"}
	}
	groups := t.Groups
	if len(groups) == 0 {
		groups = []string{nodeBootstrapGroup}
	}
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:          []byte(t.ID),
		bootstrapapi.BootstrapTokenSecretKey:      []byte(t.Secret),
		bootstrapapi.BootstrapTokenExtraGroupsKey: []byte(strings.Join(groups, ",")),
		bootstrapapi.BootstrapTokenDescriptionKey: []byte("openstrap machine runtime"),
	}
	for _, u := range usages {
		data[bootstrapapi.BootstrapTokenUsagePrefix+u] = []byte("true")
	}
	if !t.Expires.IsZero() {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(t.Expires.UTC().Format(time.RFC3339))
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstrapapi.BootstrapTokenSecretPrefix + t.ID, Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data:       data,
	}
}

// clusterInfo builds kube-public/cluster-info with a JWS signature per
// signing token that has not expired, as the bootstrap signer controller
// keeps it.
func clusterInfo(server string, caPEM []byte, tokens []BootstrapToken) (*corev1.ConfigMap, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[""] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	raw, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("cluster-info kubeconfig: %w", err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: bootstrapapi.ConfigMapClusterInfo, Namespace: metav1.NamespacePublic},
		Data:       map[string]string{bootstrapapi.KubeConfigKey: string(raw)},
	}
	for _, t := range tokens {
		if !t.Expires.IsZero() && time.Now().After(t.Expires) {
			continue
		}
		if len(t.Usages) > 0 && !slices.Contains(t.Usages, "signing") {
			continue
		}
		sig, err := jws.ComputeDetachedSignature(string(raw), t.ID, t.Secret)
		if err != nil {
			return nil, fmt.Errorf("sign cluster-info for token %s: %w", t.ID, err)
		}
		cm.Data[bootstrapapi.JWSSignatureKeyPrefix+t.ID] = sig
	}
	return cm, nil
}

// apply creates o, or updates it when it exists.
func apply(ctx context.Context, cs kubernetes.Interface, o any) error {
	var err error
	switch o := o.(type) {
	case *corev1.Secret:
		_, err = cs.CoreV1().Secrets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			_, err = cs.CoreV1().Secrets(o.Namespace).Update(ctx, o, metav1.UpdateOptions{})
		}
	case *corev1.ConfigMap:
		_, err = cs.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			_, err = cs.CoreV1().ConfigMaps(o.Namespace).Update(ctx, o, metav1.UpdateOptions{})
		}
	case *rbacv1.Role:
		_, err = cs.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.RoleBinding:
		_, err = cs.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRoleBinding:
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
	default:
		return fmt.Errorf("apply: unsupported %T", o)
	}
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// CAPin returns kubeadm's discovery pin of a CA certificate:
// "sha256:" and the hex SHA-256 of its SubjectPublicKeyInfo.
func CAPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// JoinError says which step of a node's join failed; the runtime reports it
// for machines that never become Nodes.
type JoinError struct {
	Node string
	Step string
	Err  error
}

func (e *JoinError) Error() string {
	return fmt.Sprintf("node %s: join failed at %s: %v", e.Node, e.Step, e.Err)
}

func (e *JoinError) Unwrap() error { return e.Err }

// joinRequest is what a kubeadm JoinConfiguration gives a joining node.
type joinRequest struct {
	// Endpoint is the API server host:port from the discovery section.
	Endpoint string
	// Token is "<id>.<secret>".
	Token    string
	CAHashes []string
	// UnsafeSkipCAVerification accepts any CA, as kubeadm's flag does.
	UnsafeSkipCAVerification bool
	NodeName                 string
	Labels                   map[string]string
	Taints                   []corev1.Taint
	Addresses                []corev1.NodeAddress
}

// join does what kubeadm join and the kubelet's TLS bootstrap do through the
// API: token discovery of the cluster CA (checked against the pins), a
// client certificate request with the token's identity, and the Node. The
// approve function plays kube-controller-manager's CSR approver and signer.
func join(ctx context.Context, req joinRequest, approve func(ctx context.Context, csr string) error) error {
	fail := func(step string, err error) error { return &JoinError{Node: req.NodeName, Step: step, Err: err} }
	id, secret, ok := strings.Cut(req.Token, ".")
	if !ok {
		return fail("discovery", errors.New("bootstrap token is not of the form <id>.<secret>"))
	}

	// Discovery: read cluster-info without trusting the server yet.
	anon, err := kubernetes.NewForConfig(&rest.Config{Host: "https://" + req.Endpoint,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}, Timeout: 10 * time.Second})
	if err != nil {
		return fail("discovery", err)
	}
	var info *corev1.ConfigMap
	err = retry.Do(ctx, retry.Policy{MaxElapsed: time.Minute}, func(ctx context.Context) error {
		var err error
		info, err = anon.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
		return err
	})
	if err != nil {
		return fail("discovery", fmt.Errorf("read cluster-info from %s: %w", req.Endpoint, err))
	}
	content := info.Data[bootstrapapi.KubeConfigKey]
	sig, ok := info.Data[bootstrapapi.JWSSignatureKeyPrefix+id]
	if !ok {
		return fail("discovery", fmt.Errorf("cluster-info has no signature for token ID %q: the token is unknown or expired", id))
	}
	if !jws.DetachedTokenIsValid(sig, content, id, secret) {
		return fail("discovery", fmt.Errorf("cluster-info's signature for token ID %q does not match the token's secret", id))
	}
	kc, err := clientcmd.Load([]byte(content))
	if err != nil {
		return fail("discovery", fmt.Errorf("parse cluster-info kubeconfig: %w", err))
	}
	var cluster *clientcmdapi.Cluster
	for _, c := range kc.Clusters {
		cluster = c
	}
	if cluster == nil {
		return fail("discovery", errors.New("cluster-info kubeconfig has no cluster"))
	}
	block, _ := pem.Decode(cluster.CertificateAuthorityData)
	if block == nil {
		return fail("discovery", errors.New("cluster-info has no CA certificate"))
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fail("discovery", fmt.Errorf("parse cluster CA: %w", err))
	}
	if !req.UnsafeSkipCAVerification {
		pin := CAPin(ca)
		if !slices.Contains(req.CAHashes, pin) {
			return fail("discovery", fmt.Errorf("cluster CA public key %s matches none of the %d pinned hashes", pin, len(req.CAHashes)))
		}
	}

	// TLS bootstrap with the token's identity.
	tokenCfg := &rest.Config{Host: "https://" + req.Endpoint, BearerToken: req.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: cluster.CertificateAuthorityData}, Timeout: 10 * time.Second}
	tc, err := kubernetes.NewForConfig(tokenCfg)
	if err != nil {
		return fail("tls-bootstrap", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fail("tls-bootstrap", err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + req.NodeName, Organization: []string{"system:nodes"}},
	}, key)
	if err != nil {
		return fail("tls-bootstrap", err)
	}
	csr, err := tc.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "node-csr-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}),
			SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsUnauthorized(err) {
			return fail("tls-bootstrap", fmt.Errorf("the API server rejected bootstrap token %q (expired or deleted?): %w", id, err))
		}
		return fail("tls-bootstrap", fmt.Errorf("create certificate signing request: %w", err))
	}
	if err := approve(ctx, csr.Name); err != nil {
		return fail("tls-bootstrap", fmt.Errorf("certificate signing request %s not approved: %w", csr.Name, err))
	}
	var certPEM []byte
	err = retry.Until(ctx, retry.Policy{Initial: 100 * time.Millisecond, Max: time.Second, MaxElapsed: time.Minute},
		func(ctx context.Context) (bool, error) {
			got, err := tc.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			certPEM = got.Status.Certificate
			return len(certPEM) > 0, nil
		})
	if err != nil {
		return fail("tls-bootstrap", fmt.Errorf("wait for certificate of %s: %w", csr.Name, err))
	}

	// Register the node with its own credentials, as the kubelet does.
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fail("register", err)
	}
	nodeCfg := &rest.Config{Host: "https://" + req.Endpoint, Timeout: 10 * time.Second, TLSClientConfig: rest.TLSClientConfig{
		CAData: cluster.CertificateAuthorityData, CertData: certPEM,
		KeyData: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}}
	nc, err := kubernetes.NewForConfig(nodeCfg)
	if err != nil {
		return fail("register", err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: req.NodeName, Labels: map[string]string{
			corev1.LabelHostname: req.NodeName, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64"}},
		Spec: corev1.NodeSpec{Taints: req.Taints},
	}
	for k, v := range req.Labels {
		node.Labels[k] = v
	}
	node, err = nc.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		node, err = nc.CoreV1().Nodes().Get(ctx, req.NodeName, metav1.GetOptions{})
	}
	if err != nil {
		return fail("register", fmt.Errorf("create Node: %w", err))
	}
	now := metav1.Now()
	node.Status.Addresses = append([]corev1.NodeAddress{{Type: corev1.NodeHostName, Address: req.NodeName}}, req.Addresses...)
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		Reason: "KubeletReady", Message: "openstrap machine runtime registered the node", LastHeartbeatTime: now, LastTransitionTime: now}}
	if _, err := nc.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fail("register", fmt.Errorf("update Node status: %w", err))
	}
	return nil
}

// signer approves and signs kubelet client certificate requests, as
// kube-controller-manager's csrapproving and csrsigning controllers do.
type signer struct {
	cs     kubernetes.Interface
	caCert *x509.Certificate
	caKey  crypto.Signer
}

// approveAndSign approves csr when its requester may ask for a node client
// certificate (checked with a SubjectAccessReview, like the approver) and
// the request is for a node identity, then issues the certificate.
func (s *signer) approveAndSign(ctx context.Context, name string) error {
	csr, err := s.cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		return errors.New("request is not PEM")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return fmt.Errorf("parse request: %w", err)
	}
	if err := req.CheckSignature(); err != nil {
		return fmt.Errorf("request signature: %w", err)
	}
	if !strings.HasPrefix(req.Subject.CommonName, "system:node:") || !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		return fmt.Errorf("subject %q is not a node identity", req.Subject.String())
	}
	sar, err := s.cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: csr.Spec.Username, Groups: csr.Spec.Groups, UID: csr.Spec.UID,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: "certificates.k8s.io",
				Resource: "certificatesigningrequests", Subresource: "nodeclient", Verb: "create"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("subject access review: %w", err)
	}
	if !sar.Status.Allowed {
		return fmt.Errorf("%s may not request node client certificates", csr.Spec.Username)
	}
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved",
		Message: "Auto approving kubelet client certificate after SubjectAccessReview.", LastUpdateTime: metav1.Now(),
	})
	csr, err = s.cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, csr, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return err
	}
	now := time.Now()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial, Subject: req.Subject,
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, s.caCert, req.PublicKey, s.caKey)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	csr.Status.Certificate = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if _, err := s.cs.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("issue certificate: %w", err)
	}
	return nil
}
