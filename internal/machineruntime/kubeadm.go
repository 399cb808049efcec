package machineruntime

import (
	"context"
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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
	"github.com/openstrap/openstrap/userdata"
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
// phases write through the API: the token Secrets, the cluster-info
// ConfigMap that token discovery reads anonymously (unsigned: the control
// plane's kube-controller-manager, its bootstrap signer, adds a JWS
// signature per signing token, also for tokens made later, such as Cluster
// API's kubeadm bootstrap provider's), the RBAC that lets token holders ask
// for kubelet client certificates and has kube-controller-manager approve
// them, and kubeadm-config.
func initObjects(ctx context.Context, cs kubernetes.Interface, server string, caPEM []byte, tokens []BootstrapToken, clusterConfig []byte) error {
	for _, t := range tokens {
		if err := apply(ctx, cs, tokenSecret(t)); err != nil {
			return fmt.Errorf("bootstrap token %s: %w", t.ID, err)
		}
	}
	info, err := clusterInfo(server, caPEM)
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
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:node-autoapprove-certificate-rotation"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole",
				Name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "system:nodes"}},
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

// tokenSecret is the token's kube-system Secret as kubeadm writes it
// (userdata's TokenSecret; no expiration when Expires is zero).
func tokenSecret(t BootstrapToken) *corev1.Secret {
	return userdata.BootstrapToken{ID: t.ID, Secret: t.Secret, Expires: t.Expires, Usages: t.Usages, Groups: t.Groups,
		Description: "openstrap machine runtime"}.TokenSecret(time.Time{})
}

// clusterInfo builds kube-public/cluster-info as kubeadm's bootstrap-token
// phase does: a kubeconfig with the server and CA and no signatures.
func clusterInfo(server string, caPEM []byte) (*corev1.ConfigMap, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[""] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	raw, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("cluster-info kubeconfig: %w", err)
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: bootstrapapi.ConfigMapClusterInfo, Namespace: metav1.NamespacePublic},
		Data:       map[string]string{bootstrapapi.KubeConfigKey: string(raw)},
	}, nil
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
			err = retry.Do(ctx, retry.Policy{MaxElapsed: time.Minute, Retryable: conflictOrTransient}, func(ctx context.Context) error {
				cur, err := cs.CoreV1().ConfigMaps(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				// Keep keys others added (the bootstrap signer's
				// signatures on cluster-info).
				if cur.Data == nil {
					cur.Data = map[string]string{}
				}
				for k, v := range o.Data {
					cur.Data[k] = v
				}
				_, err = cs.CoreV1().ConfigMaps(o.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
				return err
			})
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
	// DiscoveryTimeout bounds the wait for cluster-info to carry the
	// token's signature, as kubeadm's discovery timeout does.
	DiscoveryTimeout time.Duration
	// CertificateTimeout bounds the wait for kube-controller-manager to
	// approve and sign the node's client certificate.
	CertificateTimeout time.Duration
	NodeName           string
	// ProviderID is the Node's spec.providerID, as the kubelet's
	// --provider-id sets it.
	ProviderID string
	Labels     map[string]string
	Taints     []corev1.Taint
	Addresses  []corev1.NodeAddress
	// KubeletDir, when set, receives kubelet.conf, the kubeconfig with the
	// client certificate the node registered with, as the kubelet keeps it.
	KubeletDir string
	// Progress, when set, gets the lines kubeadm would print while it
	// waits (to the server's console).
	Progress func(line string)
}

// join does what kubeadm join and the kubelet's TLS bootstrap do through the
// API: token discovery of the cluster CA (waiting for the bootstrap signer's
// signature, checked against the pins), a client certificate request with
// the token's identity that kube-controller-manager approves and signs, and
// the Node, registered with that certificate.
func join(ctx context.Context, req joinRequest) error {
	fail := func(step string, err error) error { return &JoinError{Node: req.NodeName, Step: step, Err: err} }
	id, secret, ok := strings.Cut(req.Token, ".")
	if !ok {
		return fail("discovery", errors.New("bootstrap token is not of the form <id>.<secret>"))
	}
	if req.DiscoveryTimeout <= 0 {
		req.DiscoveryTimeout = 5 * time.Minute
	}
	if req.CertificateTimeout <= 0 {
		req.CertificateTimeout = 2 * time.Minute
	}

	// Discovery: read cluster-info without trusting the server yet, until
	// the bootstrap signer has signed it for this token.
	anon, err := kubernetes.NewForConfig(&rest.Config{Host: "https://" + req.Endpoint,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}, Timeout: 10 * time.Second})
	if err != nil {
		return fail("discovery", err)
	}
	var content, sig string
	var lastErr error
	told := false
	err = retry.Until(ctx, retry.Policy{Initial: 200 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: req.DiscoveryTimeout},
		func(ctx context.Context) (bool, error) {
			info, err := anon.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
			if err != nil {
				lastErr = fmt.Errorf("read cluster-info from %s: %w", req.Endpoint, err)
				return false, nil
			}
			content = info.Data[bootstrapapi.KubeConfigKey]
			sig, ok = info.Data[bootstrapapi.JWSSignatureKeyPrefix+id]
			if !ok {
				lastErr = fmt.Errorf("cluster-info has no signature for token ID %q: the token is unknown or expired, or kube-controller-manager's bootstrap signer has not signed it yet", id)
				if !told && req.Progress != nil {
					told = true
					req.Progress(fmt.Sprintf("[discovery] %v; retrying for up to %v", lastErr, req.DiscoveryTimeout))
				}
			}
			return ok, nil
		})
	if err != nil {
		if lastErr == nil {
			lastErr = err
		}
		return fail("discovery", fmt.Errorf("%w (waited %v)", lastErr, req.DiscoveryTimeout))
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
	certPEM, err := waitCertificate(ctx, tc, csr.Name, req.CertificateTimeout)
	if err != nil {
		return fail("tls-bootstrap", err)
	}

	// Register the node with its own credentials, as the kubelet does.
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fail("register", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if req.KubeletDir != "" {
		if err := writeKubeletConf(req.KubeletDir, req.Endpoint, req.NodeName, cluster.CertificateAuthorityData, certPEM, keyPEM); err != nil {
			return fail("register", err)
		}
	}
	nodeCfg := &rest.Config{Host: "https://" + req.Endpoint, Timeout: 10 * time.Second, TLSClientConfig: rest.TLSClientConfig{
		CAData: cluster.CertificateAuthorityData, CertData: certPEM, KeyData: keyPEM}}
	nc, err := kubernetes.NewForConfig(nodeCfg)
	if err != nil {
		return fail("register", err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: req.NodeName, Labels: map[string]string{
			corev1.LabelHostname: req.NodeName, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64"}},
		Spec: corev1.NodeSpec{Taints: req.Taints, ProviderID: req.ProviderID},
	}
	for k, v := range req.Labels {
		node.Labels[k] = v
	}
	if _, err = nc.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fail("register", fmt.Errorf("create Node: %w", err))
	}
	if err := setNodeStatus(ctx, nc, req.NodeName, req.Addresses); err != nil {
		return fail("register", err)
	}
	return nil
}

// conflictOrTransient retries Kubernetes conflicts (an object changed
// since it was read) besides transient errors.
func conflictOrTransient(err error) bool { return apierrors.IsConflict(err) || retry.IsTransient(err) }

// setNodeStatus posts the node's addresses and a Ready condition, as the
// kubelet's first status update does, once: the runtime sends no heartbeats.
// kube-controller-manager may update the Node meanwhile (the TTL
// controller's annotation): a conflict is retried on the newest version.
func setNodeStatus(ctx context.Context, cs kubernetes.Interface, name string, addresses []corev1.NodeAddress) error {
	err := retry.Do(ctx, retry.Policy{MaxElapsed: time.Minute, Retryable: conflictOrTransient}, func(ctx context.Context) error {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		node.Status.Addresses = append([]corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}}, addresses...)
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			Reason: "KubeletReady", Message: "openstrap machine runtime registered the node", LastHeartbeatTime: now, LastTransitionTime: now}}
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("update Node %s status: %w", name, err)
	}
	return nil
}

// waitCertificate waits until certificate signing request name is issued
// (approved by kube-controller-manager's csrapproving controller and signed
// by its csrsigning controller) and returns the certificate. A denied or
// failed request ends the wait at once.
func waitCertificate(ctx context.Context, cs kubernetes.Interface, name string, timeout time.Duration) ([]byte, error) {
	var certPEM []byte
	var refused error
	err := retry.Until(ctx, retry.Policy{Initial: 100 * time.Millisecond, Max: time.Second, MaxElapsed: timeout},
		func(ctx context.Context) (bool, error) {
			got, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range got.Status.Conditions {
				if (c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed) && c.Status == corev1.ConditionTrue {
					refused = fmt.Errorf("certificate signing request %s %s: %s: %s", name, strings.ToLower(string(c.Type)), c.Reason, c.Message)
					return true, nil
				}
			}
			certPEM = got.Status.Certificate
			return len(certPEM) > 0, nil
		})
	if refused != nil {
		return nil, refused
	}
	if err != nil {
		return nil, fmt.Errorf("certificate signing request %s not approved and signed within %v (is kube-controller-manager running with csrapproving and csrsigning, and the kubeadm:node-autoapprove-bootstrap binding in place?): %w", name, timeout, err)
	}
	return certPEM, nil
}

// writeKubeletConf writes dir/kubelet.conf (0600): the kubeconfig the node's
// kubelet uses after its TLS bootstrap.
func writeKubeletConf(dir, endpoint, nodeName string, caPEM, certPEM, keyPEM []byte) error {
	kc := clientcmdapi.NewConfig()
	user := "system:node:" + nodeName
	kc.Clusters["default-cluster"] = &clientcmdapi.Cluster{Server: "https://" + endpoint, CertificateAuthorityData: caPEM}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	kc.Contexts["default"] = &clientcmdapi.Context{Cluster: "default-cluster", AuthInfo: user}
	kc.CurrentContext = "default"
	b, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("kubelet.conf: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("kubelet.conf: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KubeletConf), b, 0o600); err != nil {
		return fmt.Errorf("kubelet.conf: %w", err)
	}
	return nil
}

// KubeletConf is the file, in a joined server's kubelet directory (see
// Runtime.KubeletDir), holding the kubeconfig with the client certificate
// the node registered with.
const KubeletConf = "kubelet.conf"
