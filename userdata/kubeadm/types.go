package kubeadm

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group is kubeadm's configuration API group.
const Group = "kubeadm.k8s.io"

// APIVersion names one version of kubeadm's configuration file format.
type APIVersion string

const (
	// V1Beta3 is the format for kubeadm v1.22 to v1.30 (read by kubeadm up to v1.36).
	V1Beta3 APIVersion = "kubeadm.k8s.io/v1beta3"
	// V1Beta4 is the format written by kubeadm v1.31 and newer (the only one v1.37 reads).
	V1Beta4 APIVersion = "kubeadm.k8s.io/v1beta4"
)

// Kinds of the documents in a kubeadm configuration file.
const (
	KindInitConfiguration      = "InitConfiguration"
	KindClusterConfiguration   = "ClusterConfiguration"
	KindJoinConfiguration      = "JoinConfiguration"
	KindKubeletConfiguration   = "KubeletConfiguration"
	KindKubeProxyConfiguration = "KubeProxyConfiguration"
)

// API versions of the component configuration documents.
const (
	KubeletAPIVersion   = "kubelet.config.k8s.io/v1beta1"
	KubeProxyAPIVersion = "kubeproxy.config.k8s.io/v1alpha1"
)

// InitConfiguration mirrors kubeadm's InitConfiguration: settings for the node that
// runs `kubeadm init`.
type InitConfiguration struct {
	metav1.TypeMeta  `json:",inline"`
	BootstrapTokens  []BootstrapToken        `json:"bootstrapTokens,omitempty"`
	NodeRegistration NodeRegistrationOptions `json:"nodeRegistration,omitempty"`
	LocalAPIEndpoint APIEndpoint             `json:"localAPIEndpoint,omitempty"`
	// CertificateKey encrypts the control-plane certificates uploaded with
	// `kubeadm init --upload-certs` (hex of 32 bytes). It is a secret.
	CertificateKey string    `json:"certificateKey,omitempty"`
	SkipPhases     []string  `json:"skipPhases,omitempty"`
	Patches        *Patches  `json:"patches,omitempty"`
	Timeouts       *Timeouts `json:"timeouts,omitempty"`
}

// ClusterConfiguration mirrors kubeadm's ClusterConfiguration: cluster-wide settings.
type ClusterConfiguration struct {
	metav1.TypeMeta      `json:",inline"`
	Etcd                 Etcd                  `json:"etcd,omitempty"`
	Networking           Networking            `json:"networking,omitempty"`
	KubernetesVersion    string                `json:"kubernetesVersion,omitempty"`
	ControlPlaneEndpoint string                `json:"controlPlaneEndpoint,omitempty"`
	APIServer            APIServer             `json:"apiServer,omitempty"`
	ControllerManager    ControlPlaneComponent `json:"controllerManager,omitempty"`
	Scheduler            ControlPlaneComponent `json:"scheduler,omitempty"`
	DNS                  DNS                   `json:"dns,omitempty"`
	// Proxy exists in v1beta4 only; in v1beta3 a disabled proxy becomes the
	// skipped phase addon/kube-proxy.
	Proxy           Proxy           `json:"proxy,omitempty"`
	CertificatesDir string          `json:"certificatesDir,omitempty"`
	ImageRepository string          `json:"imageRepository,omitempty"`
	FeatureGates    map[string]bool `json:"featureGates,omitempty"`
	ClusterName     string          `json:"clusterName,omitempty"`
	// EncryptionAlgorithm (v1beta4 only) is "RSA-2048", "RSA-3072", "RSA-4096" or "ECDSA-P256".
	EncryptionAlgorithm         string           `json:"encryptionAlgorithm,omitempty"`
	CertificateValidityPeriod   *metav1.Duration `json:"certificateValidityPeriod,omitempty"`
	CACertificateValidityPeriod *metav1.Duration `json:"caCertificateValidityPeriod,omitempty"`
}

// ControlPlaneComponent holds the extra settings of one static-pod component.
type ControlPlaneComponent struct {
	ExtraArgs    []Arg           `json:"extraArgs,omitempty"`
	ExtraVolumes []HostPathMount `json:"extraVolumes,omitempty"`
	ExtraEnvs    []EnvVar        `json:"extraEnvs,omitempty"`
}

// APIServer holds kube-apiserver settings.
type APIServer struct {
	ControlPlaneComponent `json:",inline"`
	CertSANs              []string `json:"certSANs,omitempty"`
}

// DNS holds the cluster DNS add-on settings.
type DNS struct {
	ImageMeta `json:",inline"`
	Disabled  bool `json:"disabled,omitempty"`
}

// Proxy holds the kube-proxy add-on settings.
type Proxy struct {
	Disabled bool `json:"disabled,omitempty"`
}

// ImageMeta overrides an image's repository and tag.
type ImageMeta struct {
	ImageRepository string `json:"imageRepository,omitempty"`
	ImageTag        string `json:"imageTag,omitempty"`
}

// APIEndpoint is the address and port one kube-apiserver listens on.
type APIEndpoint struct {
	AdvertiseAddress string `json:"advertiseAddress,omitempty"`
	BindPort         int32  `json:"bindPort,omitempty"`
}

// NodeRegistrationOptions says how the node registers itself.
type NodeRegistrationOptions struct {
	Name      string `json:"name,omitempty"`
	CRISocket string `json:"criSocket,omitempty"`
	// Taints is never omitted: kubeadm reads an absent list as "default control-plane
	// taint" and an empty one as "no taints".
	Taints                []corev1.Taint `json:"taints"`
	KubeletExtraArgs      []Arg          `json:"kubeletExtraArgs,omitempty"`
	IgnorePreflightErrors []string       `json:"ignorePreflightErrors,omitempty"`
	ImagePullPolicy       string         `json:"imagePullPolicy,omitempty"`
	ImagePullSerial       *bool          `json:"imagePullSerial,omitempty"`
}

// Networking holds the cluster's address ranges and DNS domain.
type Networking struct {
	ServiceSubnet string `json:"serviceSubnet,omitempty"`
	PodSubnet     string `json:"podSubnet,omitempty"`
	DNSDomain     string `json:"dnsDomain,omitempty"`
}

// BootstrapToken is one bootstrap token created by `kubeadm init`. Token is the full
// "id.secret" string and is a secret.
type BootstrapToken struct {
	Token       string           `json:"token"`
	Description string           `json:"description,omitempty"`
	TTL         *metav1.Duration `json:"ttl,omitempty"`
	Expires     *metav1.Time     `json:"expires,omitempty"`
	Usages      []string         `json:"usages,omitempty"`
	Groups      []string         `json:"groups,omitempty"`
}

// String redacts the token secret.
func (b BootstrapToken) String() string {
	id, _, _ := cutDot(b.Token)
	return "BootstrapToken{" + id + ".<redacted>}"
}

// GoString redacts the token secret.
func (b BootstrapToken) GoString() string { return b.String() }

func cutDot(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Etcd selects local (stacked) or external etcd.
type Etcd struct {
	Local    *LocalEtcd    `json:"local,omitempty"`
	External *ExternalEtcd `json:"external,omitempty"`
}

// LocalEtcd configures the etcd static pod kubeadm runs on control-plane nodes.
type LocalEtcd struct {
	ImageMeta      `json:",inline"`
	DataDir        string   `json:"dataDir"`
	ExtraArgs      []Arg    `json:"extraArgs,omitempty"`
	ExtraEnvs      []EnvVar `json:"extraEnvs,omitempty"`
	ServerCertSANs []string `json:"serverCertSANs,omitempty"`
	PeerCertSANs   []string `json:"peerCertSANs,omitempty"`
}

// ExternalEtcd points kube-apiserver at an etcd cluster kubeadm does not manage.
type ExternalEtcd struct {
	Endpoints []string `json:"endpoints"`
	CAFile    string   `json:"caFile"`
	CertFile  string   `json:"certFile"`
	KeyFile   string   `json:"keyFile"`
}

// JoinConfiguration mirrors kubeadm's JoinConfiguration: settings for `kubeadm join`.
type JoinConfiguration struct {
	metav1.TypeMeta  `json:",inline"`
	NodeRegistration NodeRegistrationOptions `json:"nodeRegistration,omitempty"`
	CACertPath       string                  `json:"caCertPath,omitempty"`
	Discovery        Discovery               `json:"discovery"`
	ControlPlane     *JoinControlPlane       `json:"controlPlane,omitempty"`
	SkipPhases       []string                `json:"skipPhases,omitempty"`
	Patches          *Patches                `json:"patches,omitempty"`
	// Timeouts exists in v1beta4; v1beta3 carries only Discovery as discovery.timeout.
	Timeouts *Timeouts `json:"timeouts,omitempty"`
}

// JoinControlPlane makes a joining node a control-plane node.
type JoinControlPlane struct {
	LocalAPIEndpoint APIEndpoint `json:"localAPIEndpoint,omitempty"`
	// CertificateKey decrypts the certificates uploaded by `kubeadm init
	// --upload-certs`. It is a secret.
	CertificateKey string `json:"certificateKey,omitempty"`
}

// Discovery says how a joining node finds and trusts the cluster.
type Discovery struct {
	BootstrapToken    *BootstrapTokenDiscovery `json:"bootstrapToken,omitempty"`
	File              *FileDiscovery           `json:"file,omitempty"`
	TLSBootstrapToken string                   `json:"tlsBootstrapToken,omitempty"`
}

// BootstrapTokenDiscovery discovers the cluster with a token and pins its CA.
type BootstrapTokenDiscovery struct {
	Token                    string   `json:"token"`
	APIServerEndpoint        string   `json:"apiServerEndpoint,omitempty"`
	CACertHashes             []string `json:"caCertHashes,omitempty"`
	UnsafeSkipCAVerification bool     `json:"unsafeSkipCAVerification,omitempty"`
}

// FileDiscovery discovers the cluster from a kubeconfig file on the node.
type FileDiscovery struct {
	KubeConfigPath string `json:"kubeConfigPath"`
}

// HostPathMount is an extra host path mounted into a static pod.
type HostPathMount struct {
	Name      string `json:"name"`
	HostPath  string `json:"hostPath"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	PathType  string `json:"pathType,omitempty"`
}

// Patches points kubeadm at a directory of patches for its static pods.
type Patches struct {
	Directory string `json:"directory,omitempty"`
}

// Arg is one command-line argument of a component (name without leading dashes).
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// EnvVar is one extra environment variable of a static pod.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Timeouts holds kubeadm's v1beta4 timeouts.
type Timeouts struct {
	ControlPlaneComponentHealthCheck *metav1.Duration `json:"controlPlaneComponentHealthCheck,omitempty"`
	KubeletHealthCheck               *metav1.Duration `json:"kubeletHealthCheck,omitempty"`
	KubernetesAPICall                *metav1.Duration `json:"kubernetesAPICall,omitempty"`
	EtcdAPICall                      *metav1.Duration `json:"etcdAPICall,omitempty"`
	TLSBootstrap                     *metav1.Duration `json:"tlsBootstrap,omitempty"`
	Discovery                        *metav1.Duration `json:"discovery,omitempty"`
}

// KubeletConfiguration is the part of kubelet.config.k8s.io/v1beta1 that openstrap
// sets; kubeadm fills in everything else.
type KubeletConfiguration struct {
	metav1.TypeMeta `json:",inline"`
	CgroupDriver    string          `json:"cgroupDriver,omitempty"`
	FeatureGates    map[string]bool `json:"featureGates,omitempty"`
	// ServerTLSBootstrap asks the kubelet to request its serving certificate from the
	// cluster instead of self-signing it.
	ServerTLSBootstrap bool `json:"serverTLSBootstrap,omitempty"`
}

// KubeProxyConfiguration is the part of kubeproxy.config.k8s.io/v1alpha1 that
// openstrap sets.
type KubeProxyConfiguration struct {
	metav1.TypeMeta `json:",inline"`
	// Mode is "", "iptables", "ipvs" or "nftables".
	Mode         string          `json:"mode,omitempty"`
	FeatureGates map[string]bool `json:"featureGates,omitempty"`
}

// Duration is a shorthand for a *metav1.Duration.
func Duration(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
