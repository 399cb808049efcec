package kubeadm

import (
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The v1beta3 shapes differ from v1beta4 where arguments are maps, where timeouts
// live, and in the fields v1beta4 added. They stay unexported: Go code works with
// the v1beta4 shape and converts at the edge.

type initV1Beta3 struct {
	metav1.TypeMeta  `json:",inline"`
	BootstrapTokens  []BootstrapToken `json:"bootstrapTokens,omitempty"`
	NodeRegistration nodeRegV1Beta3   `json:"nodeRegistration,omitempty"`
	LocalAPIEndpoint APIEndpoint      `json:"localAPIEndpoint,omitempty"`
	CertificateKey   string           `json:"certificateKey,omitempty"`
	SkipPhases       []string         `json:"skipPhases,omitempty"`
	Patches          *Patches         `json:"patches,omitempty"`
}

type clusterV1Beta3 struct {
	metav1.TypeMeta      `json:",inline"`
	Etcd                 etcdV1Beta3      `json:"etcd,omitempty"`
	Networking           Networking       `json:"networking,omitempty"`
	KubernetesVersion    string           `json:"kubernetesVersion,omitempty"`
	ControlPlaneEndpoint string           `json:"controlPlaneEndpoint,omitempty"`
	APIServer            apiServerV1Beta3 `json:"apiServer,omitempty"`
	ControllerManager    componentV1Beta3 `json:"controllerManager,omitempty"`
	Scheduler            componentV1Beta3 `json:"scheduler,omitempty"`
	DNS                  ImageMeta        `json:"dns,omitempty"`
	CertificatesDir      string           `json:"certificatesDir,omitempty"`
	ImageRepository      string           `json:"imageRepository,omitempty"`
	FeatureGates         map[string]bool  `json:"featureGates,omitempty"`
	ClusterName          string           `json:"clusterName,omitempty"`
}

type componentV1Beta3 struct {
	ExtraArgs    map[string]string `json:"extraArgs,omitempty"`
	ExtraVolumes []HostPathMount   `json:"extraVolumes,omitempty"`
}

type apiServerV1Beta3 struct {
	componentV1Beta3       `json:",inline"`
	CertSANs               []string         `json:"certSANs,omitempty"`
	TimeoutForControlPlane *metav1.Duration `json:"timeoutForControlPlane,omitempty"`
}

type etcdV1Beta3 struct {
	Local    *localEtcdV1Beta3 `json:"local,omitempty"`
	External *ExternalEtcd     `json:"external,omitempty"`
}

type localEtcdV1Beta3 struct {
	ImageMeta      `json:",inline"`
	DataDir        string            `json:"dataDir"`
	ExtraArgs      map[string]string `json:"extraArgs,omitempty"`
	ServerCertSANs []string          `json:"serverCertSANs,omitempty"`
	PeerCertSANs   []string          `json:"peerCertSANs,omitempty"`
}

type nodeRegV1Beta3 struct {
	Name                  string            `json:"name,omitempty"`
	CRISocket             string            `json:"criSocket,omitempty"`
	Taints                []corev1.Taint    `json:"taints"`
	KubeletExtraArgs      map[string]string `json:"kubeletExtraArgs,omitempty"`
	IgnorePreflightErrors []string          `json:"ignorePreflightErrors,omitempty"`
	ImagePullPolicy       string            `json:"imagePullPolicy,omitempty"`
}

type joinV1Beta3 struct {
	metav1.TypeMeta  `json:",inline"`
	NodeRegistration nodeRegV1Beta3    `json:"nodeRegistration,omitempty"`
	CACertPath       string            `json:"caCertPath,omitempty"`
	Discovery        discoveryV1Beta3  `json:"discovery"`
	ControlPlane     *JoinControlPlane `json:"controlPlane,omitempty"`
	SkipPhases       []string          `json:"skipPhases,omitempty"`
	Patches          *Patches          `json:"patches,omitempty"`
}

type discoveryV1Beta3 struct {
	BootstrapToken    *BootstrapTokenDiscovery `json:"bootstrapToken,omitempty"`
	File              *FileDiscovery           `json:"file,omitempty"`
	TLSBootstrapToken string                   `json:"tlsBootstrapToken,omitempty"`
	Timeout           *metav1.Duration         `json:"timeout,omitempty"`
}

// argsToMap converts a v1beta4 argument list; v1beta3 cannot repeat a name.
func argsToMap(field string, args []Arg) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(args))
	for _, a := range args {
		if _, dup := m[a.Name]; dup {
			return nil, fmt.Errorf("%s: argument %q repeats, which %s cannot express", field, a.Name, V1Beta3)
		}
		m[a.Name] = a.Value
	}
	return m, nil
}

// mapToArgs converts a v1beta3 argument map to a list sorted by name.
func mapToArgs(m map[string]string) []Arg {
	if len(m) == 0 {
		return nil
	}
	args := make([]Arg, 0, len(m))
	for k, v := range m {
		args = append(args, Arg{Name: k, Value: v})
	}
	sort.Slice(args, func(i, j int) bool { return args[i].Name < args[j].Name })
	return args
}

func nodeRegTo3(field string, n NodeRegistrationOptions) (nodeRegV1Beta3, error) {
	args, err := argsToMap(field+".kubeletExtraArgs", n.KubeletExtraArgs)
	return nodeRegV1Beta3{
		Name: n.Name, CRISocket: n.CRISocket, Taints: n.Taints, KubeletExtraArgs: args,
		IgnorePreflightErrors: n.IgnorePreflightErrors, ImagePullPolicy: n.ImagePullPolicy,
	}, err
}

func nodeRegFrom3(n nodeRegV1Beta3) NodeRegistrationOptions {
	return NodeRegistrationOptions{
		Name: n.Name, CRISocket: n.CRISocket, Taints: n.Taints, KubeletExtraArgs: mapToArgs(n.KubeletExtraArgs),
		IgnorePreflightErrors: n.IgnorePreflightErrors, ImagePullPolicy: n.ImagePullPolicy,
	}
}

func componentTo3(field string, c ControlPlaneComponent) (componentV1Beta3, error) {
	if len(c.ExtraEnvs) > 0 {
		return componentV1Beta3{}, fmt.Errorf("%s.extraEnvs: not available in %s", field, V1Beta3)
	}
	args, err := argsToMap(field+".extraArgs", c.ExtraArgs)
	return componentV1Beta3{ExtraArgs: args, ExtraVolumes: c.ExtraVolumes}, err
}

func initTo3(c *InitConfiguration, proxyDisabled bool) (*initV1Beta3, error) {
	nr, err := nodeRegTo3("InitConfiguration.nodeRegistration", c.NodeRegistration)
	if err != nil {
		return nil, err
	}
	skip := slices.Clone(c.SkipPhases)
	if proxyDisabled && !slices.Contains(skip, "addon/kube-proxy") {
		skip = append(skip, "addon/kube-proxy")
	}
	return &initV1Beta3{
		TypeMeta:        metav1.TypeMeta{APIVersion: string(V1Beta3), Kind: KindInitConfiguration},
		BootstrapTokens: c.BootstrapTokens, NodeRegistration: nr, LocalAPIEndpoint: c.LocalAPIEndpoint,
		CertificateKey: c.CertificateKey, SkipPhases: skip, Patches: c.Patches,
	}, nil
}

func clusterTo3(c *ClusterConfiguration, timeout *metav1.Duration) (*clusterV1Beta3, error) {
	const f = "ClusterConfiguration"
	if c.CertificateValidityPeriod != nil || c.CACertificateValidityPeriod != nil {
		return nil, fmt.Errorf("%s.certificateValidityPeriod: not available in %s", f, V1Beta3)
	}
	gates := c.FeatureGates
	switch c.EncryptionAlgorithm {
	case "", "RSA-2048":
	case "ECDSA-P256":
		// kubeadm before v1.31 selects ECDSA keys with this feature gate.
		gates = make(map[string]bool, len(c.FeatureGates)+1)
		for k, v := range c.FeatureGates {
			gates[k] = v
		}
		gates["PublicKeysECDSA"] = true
	default:
		return nil, fmt.Errorf("%s.encryptionAlgorithm: %q not available in %s", f, c.EncryptionAlgorithm, V1Beta3)
	}
	if c.DNS.Disabled {
		return nil, fmt.Errorf("%s.dns.disabled: not available in %s", f, V1Beta3)
	}
	api, err := componentTo3(f+".apiServer", c.APIServer.ControlPlaneComponent)
	if err != nil {
		return nil, err
	}
	cm, err := componentTo3(f+".controllerManager", c.ControllerManager)
	if err != nil {
		return nil, err
	}
	sch, err := componentTo3(f+".scheduler", c.Scheduler)
	if err != nil {
		return nil, err
	}
	out := &clusterV1Beta3{
		TypeMeta:             metav1.TypeMeta{APIVersion: string(V1Beta3), Kind: KindClusterConfiguration},
		Networking:           c.Networking,
		KubernetesVersion:    c.KubernetesVersion,
		ControlPlaneEndpoint: c.ControlPlaneEndpoint,
		APIServer:            apiServerV1Beta3{componentV1Beta3: api, CertSANs: c.APIServer.CertSANs, TimeoutForControlPlane: timeout},
		ControllerManager:    cm,
		Scheduler:            sch,
		DNS:                  c.DNS.ImageMeta,
		CertificatesDir:      c.CertificatesDir,
		ImageRepository:      c.ImageRepository,
		FeatureGates:         gates,
		ClusterName:          c.ClusterName,
		Etcd:                 etcdV1Beta3{External: c.Etcd.External},
	}
	if l := c.Etcd.Local; l != nil {
		if len(l.ExtraEnvs) > 0 {
			return nil, fmt.Errorf("%s.etcd.local.extraEnvs: not available in %s", f, V1Beta3)
		}
		args, err := argsToMap(f+".etcd.local.extraArgs", l.ExtraArgs)
		if err != nil {
			return nil, err
		}
		out.Etcd.Local = &localEtcdV1Beta3{ImageMeta: l.ImageMeta, DataDir: l.DataDir, ExtraArgs: args,
			ServerCertSANs: l.ServerCertSANs, PeerCertSANs: l.PeerCertSANs}
	}
	return out, nil
}

func joinTo3(c *JoinConfiguration) (*joinV1Beta3, error) {
	nr, err := nodeRegTo3("JoinConfiguration.nodeRegistration", c.NodeRegistration)
	if err != nil {
		return nil, err
	}
	out := &joinV1Beta3{
		TypeMeta:         metav1.TypeMeta{APIVersion: string(V1Beta3), Kind: KindJoinConfiguration},
		NodeRegistration: nr, CACertPath: c.CACertPath, ControlPlane: c.ControlPlane,
		SkipPhases: c.SkipPhases, Patches: c.Patches,
		Discovery: discoveryV1Beta3{BootstrapToken: c.Discovery.BootstrapToken, File: c.Discovery.File,
			TLSBootstrapToken: c.Discovery.TLSBootstrapToken},
	}
	if c.Timeouts != nil {
		out.Discovery.Timeout = c.Timeouts.Discovery
	}
	return out, nil
}

func initFrom3(c *initV1Beta3) *InitConfiguration {
	return &InitConfiguration{
		TypeMeta:        metav1.TypeMeta{APIVersion: string(V1Beta4), Kind: KindInitConfiguration},
		BootstrapTokens: c.BootstrapTokens, NodeRegistration: nodeRegFrom3(c.NodeRegistration),
		LocalAPIEndpoint: c.LocalAPIEndpoint, CertificateKey: c.CertificateKey, SkipPhases: c.SkipPhases, Patches: c.Patches,
	}
}

func clusterFrom3(c *clusterV1Beta3) *ClusterConfiguration {
	out := &ClusterConfiguration{
		TypeMeta:             metav1.TypeMeta{APIVersion: string(V1Beta4), Kind: KindClusterConfiguration},
		Networking:           c.Networking,
		KubernetesVersion:    c.KubernetesVersion,
		ControlPlaneEndpoint: c.ControlPlaneEndpoint,
		APIServer: APIServer{ControlPlaneComponent: ControlPlaneComponent{ExtraArgs: mapToArgs(c.APIServer.ExtraArgs),
			ExtraVolumes: c.APIServer.ExtraVolumes}, CertSANs: c.APIServer.CertSANs},
		ControllerManager: ControlPlaneComponent{ExtraArgs: mapToArgs(c.ControllerManager.ExtraArgs), ExtraVolumes: c.ControllerManager.ExtraVolumes},
		Scheduler:         ControlPlaneComponent{ExtraArgs: mapToArgs(c.Scheduler.ExtraArgs), ExtraVolumes: c.Scheduler.ExtraVolumes},
		DNS:               DNS{ImageMeta: c.DNS},
		CertificatesDir:   c.CertificatesDir,
		ImageRepository:   c.ImageRepository,
		FeatureGates:      c.FeatureGates,
		ClusterName:       c.ClusterName,
		Etcd:              Etcd{External: c.Etcd.External},
	}
	if c.FeatureGates["PublicKeysECDSA"] {
		out.EncryptionAlgorithm = "ECDSA-P256"
	}
	if l := c.Etcd.Local; l != nil {
		out.Etcd.Local = &LocalEtcd{ImageMeta: l.ImageMeta, DataDir: l.DataDir, ExtraArgs: mapToArgs(l.ExtraArgs),
			ServerCertSANs: l.ServerCertSANs, PeerCertSANs: l.PeerCertSANs}
	}
	return out
}

func joinFrom3(c *joinV1Beta3) *JoinConfiguration {
	out := &JoinConfiguration{
		TypeMeta:         metav1.TypeMeta{APIVersion: string(V1Beta4), Kind: KindJoinConfiguration},
		NodeRegistration: nodeRegFrom3(c.NodeRegistration), CACertPath: c.CACertPath, ControlPlane: c.ControlPlane,
		SkipPhases: c.SkipPhases, Patches: c.Patches,
		Discovery: Discovery{BootstrapToken: c.Discovery.BootstrapToken, File: c.Discovery.File,
			TLSBootstrapToken: c.Discovery.TLSBootstrapToken},
	}
	if c.Discovery.Timeout != nil {
		out.Timeouts = &Timeouts{Discovery: c.Discovery.Timeout}
	}
	return out
}
