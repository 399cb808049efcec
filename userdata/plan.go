package userdata

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/openstrap/openstrap/userdata/kubeadm"
)

// Paths on the machine.
const (
	// KubeadmInitConfigPath is where init user data writes the kubeadm configuration.
	KubeadmInitConfigPath = "/run/kubeadm/kubeadm.yaml"
	// KubeadmJoinConfigPath is where join user data writes the kubeadm configuration.
	KubeadmJoinConfigPath = "/run/kubeadm/kubeadm-join-config.yaml"
	// SentinelPath is written when kubeadm succeeded, as Cluster API's bootstrap
	// provider does; tooling polls for it.
	SentinelPath = "/run/cluster-api/bootstrap-success.complete"
	// PKIDir is kubeadm's certificates directory.
	PKIDir = "/etc/kubernetes/pki"
	// IgnitionScriptPath is the script the Ignition kubeadm.service runs.
	IgnitionScriptPath = "/etc/kubeadm.sh"
	// IgnitionInitConfigPath and IgnitionJoinConfigPath hold the kubeadm
	// configuration with Ignition: it writes files from the initramfs, and /run is
	// a fresh tmpfs once the real root boots, so the files live under /etc.
	IgnitionInitConfigPath = "/etc/kubeadm/kubeadm.yaml"
	IgnitionJoinConfigPath = "/etc/kubeadm/kubeadm-join-config.yaml"
)

// plan is the format-neutral content of the user data.
type plan struct {
	role       Role
	version    string
	docs       kubeadm.Documents
	configPath string
	// kubeadmArgs follow "kubeadm init|join" (after --config).
	kubeadmArgs []string
	// files in write order (PKI, kubeadm configuration, install, user files).
	files []File
	// nodeNameTemplate is set when the node name comes from the metadata.
	nodeNameTemplate bool
	machine          Machine
	installCommands  []string
}

func (p *plan) kubeadmCommand() string {
	verb := "init"
	if p.role != RoleInit {
		verb = "join"
	}
	return strings.Join(append([]string{"kubeadm", verb, "--config", p.configPath}, p.kubeadmArgs...), " ")
}

// allowedKubeletLabels are the kubernetes.io / k8s.io labels a kubelet may set on
// itself (kubelet refuses to start with others in those namespaces).
var allowedKubeletLabels = []string{
	"kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
	"beta.kubernetes.io/instance-type", "beta.kubernetes.io/arch", "beta.kubernetes.io/os",
	"failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
	"topology.kubernetes.io/region", "topology.kubernetes.io/zone", "node.kubernetes.io/instance-type",
}

func kubeletMayLabel(key string) bool {
	ns, _, ok := strings.Cut(key, "/")
	if !ok {
		return true
	}
	restricted := ns == "kubernetes.io" || ns == "k8s.io" || strings.HasSuffix(ns, ".kubernetes.io") || strings.HasSuffix(ns, ".k8s.io")
	if !restricted {
		return true
	}
	return slices.Contains(allowedKubeletLabels, key) || ns == "kubelet.kubernetes.io" || ns == "node.kubernetes.io"
}

func nodeRegistration(f string, n Node) (kubeadm.NodeRegistrationOptions, bool, error) {
	nr := kubeadm.NodeRegistrationOptions{
		Name:                  n.Name,
		CRISocket:             n.CRISocket,
		Taints:                n.Taints,
		IgnorePreflightErrors: n.IgnorePreflightErrors,
	}
	template := false
	if nr.Name == "" {
		nr.Name = NodeNameFromMetadata
		template = true
	}
	args := map[string]string{}
	for k, v := range n.KubeletExtraArgs {
		args[k] = v
	}
	if n.ExternalCloudProvider {
		if v, ok := args["cloud-provider"]; ok && v != "external" {
			return nr, false, fieldErr(f+".KubeletExtraArgs", "cloud-provider=%q conflicts with ExternalCloudProvider", v)
		}
		args["cloud-provider"] = "external"
	}
	if n.ProviderID != "" {
		args["provider-id"] = n.ProviderID
	}
	if len(n.Labels) > 0 {
		var labels []string
		for _, k := range sortedKeys(n.Labels) {
			if !kubeletMayLabel(k) {
				return nr, false, fieldErr(f+".Labels", "the kubelet may not set %q on its own node (kubernetes.io/k8s.io namespaces are restricted); label the node through the API instead", k)
			}
			labels = append(labels, k+"="+n.Labels[k])
		}
		args["node-labels"] = strings.Join(labels, ",")
	}
	for _, k := range sortedKeys(args) {
		nr.KubeletExtraArgs = append(nr.KubeletExtraArgs, kubeadm.Arg{Name: k, Value: args[k]})
	}
	return nr, template, nil
}

func gatesArg(g map[string]bool) string {
	var parts []string
	for _, k := range sortedKeys(g) {
		parts = append(parts, fmt.Sprintf("%s=%t", k, g[k]))
	}
	return strings.Join(parts, ",")
}

func pkiFiles(p *ClusterPKI) ([]File, error) {
	files, err := p.Files()
	if err != nil {
		return nil, err
	}
	var out []File
	for _, name := range []string{FileCACert, FileCAKey, FileEtcdCACert, FileEtcdCAKey, FileFrontProxyCACert, FileFrontProxyCAKey, FileSAPub, FileSAKey} {
		perm := "0644"
		if isKeyFile(name) {
			perm = "0600"
		}
		out = append(out, File{Path: path.Join(PKIDir, name), Owner: "root:root", Permissions: perm, Content: files[name]})
	}
	return out, nil
}

func (s Init) plan() (*plan, error) {
	p, err := s.build()
	if err != nil {
		return nil, err
	}
	return finishPlan(p)
}

// build validates and assembles the plan without marshalling it.
func (s Init) build() (*plan, error) {
	if err := validateCluster(s.Cluster); err != nil {
		return nil, err
	}
	apiVersion, err := KubeadmAPIVersion(s.KubernetesVersion)
	if err != nil {
		return nil, err
	}
	endpoint, err := hostPort(s.Endpoint)
	if err != nil {
		return nil, err
	}
	if err := s.PKI.Validate(time.Now()); err != nil {
		return nil, err
	}
	for i, t := range s.BootstrapTokens {
		if err := t.Validate(fmt.Sprintf("BootstrapTokens[%d]", i)); err != nil {
			return nil, err
		}
	}
	if s.UploadCertificates && !certKeyRE.MatchString(s.CertificateKey) {
		return nil, fieldErr("CertificateKey", "UploadCertificates needs a key of 64 lowercase hex digits (NewCertificateKey)")
	}
	if !s.UploadCertificates && s.CertificateKey != "" {
		return nil, fieldErr("CertificateKey", "set only with UploadCertificates")
	}
	net := s.Network.withDefaults()
	if err := net.validate("Network"); err != nil {
		return nil, err
	}
	if err := s.Node.validate("Node", true); err != nil {
		return nil, err
	}
	for i, san := range s.APIServerCertSANs {
		if !isDNSName(san) && !isIP(san) {
			return nil, fieldErr(fmt.Sprintf("APIServerCertSANs[%d]", i), "%q is not a DNS name or IP address", san)
		}
	}
	if err := validateGates("FeatureGates", s.FeatureGates); err != nil {
		return nil, err
	}
	if err := validateGates("KubeadmFeatureGates", s.KubeadmFeatureGates); err != nil {
		return nil, err
	}
	if s.ImageRepository != "" && !imageRepoRE.MatchString(s.ImageRepository) {
		return nil, fieldErr("ImageRepository", "%q is not a registry path like registry.example.com/k8s", s.ImageRepository)
	}
	switch s.ProxyMode {
	case "", "iptables", "ipvs", "nftables":
	default:
		return nil, fieldErr("ProxyMode", "%q is not iptables, ipvs or nftables", s.ProxyMode)
	}
	if s.DisableKubeProxy && s.ProxyMode != "" {
		return nil, fieldErr("ProxyMode", "set while DisableKubeProxy is true")
	}
	if err := s.Machine.validate("Machine"); err != nil {
		return nil, err
	}

	nr, tmpl, err := nodeRegistration("Node", s.Node)
	if err != nil {
		return nil, err
	}
	if err := s.Timeouts.validate("Timeouts"); err != nil {
		return nil, err
	}
	ic := &kubeadm.InitConfiguration{
		NodeRegistration: nr,
		LocalAPIEndpoint: kubeadm.APIEndpoint{AdvertiseAddress: s.Node.AdvertiseAddress, BindPort: s.Node.BindPort},
		Timeouts:         s.Timeouts.kubeadm(),
	}
	for _, t := range s.BootstrapTokens {
		bt := kubeadm.BootstrapToken{Token: t.Value(), Description: t.Description, Usages: t.Usages, Groups: t.Groups}
		// Only the TTL: kubeadm defaults a missing TTL to 24h and rejects a
		// token with both ttl and expires, so Expires is not rendered.
		if t.TTL > 0 {
			bt.TTL = kubeadm.Duration(t.TTL)
		}
		ic.BootstrapTokens = append(ic.BootstrapTokens, bt)
	}
	var kubeadmArgs []string
	if s.UploadCertificates {
		ic.CertificateKey = s.CertificateKey
		kubeadmArgs = append(kubeadmArgs, "--upload-certs")
	}
	cc := &kubeadm.ClusterConfiguration{
		ClusterName:          s.Cluster,
		KubernetesVersion:    normalizeVersion(s.KubernetesVersion),
		ControlPlaneEndpoint: endpoint,
		Networking:           kubeadm.Networking{PodSubnet: net.PodCIDR, ServiceSubnet: net.ServiceCIDR, DNSDomain: net.DNSDomain},
		APIServer:            kubeadm.APIServer{CertSANs: s.APIServerCertSANs},
		ImageRepository:      s.ImageRepository,
		FeatureGates:         s.KubeadmFeatureGates,
		Proxy:                kubeadm.Proxy{Disabled: s.DisableKubeProxy},
	}
	if alg := s.PKI.Algorithm(); alg != "" {
		cc.EncryptionAlgorithm = string(alg)
	}
	if g := gatesArg(s.FeatureGates); g != "" {
		for _, c := range []*kubeadm.ControlPlaneComponent{&cc.APIServer.ControlPlaneComponent, &cc.ControllerManager, &cc.Scheduler} {
			c.ExtraArgs = append(c.ExtraArgs, kubeadm.Arg{Name: "feature-gates", Value: g})
		}
	}
	if s.Node.ExternalCloudProvider {
		cc.ControllerManager.ExtraArgs = append([]kubeadm.Arg{{Name: "cloud-provider", Value: "external"}}, cc.ControllerManager.ExtraArgs...)
	}
	if e := s.Etcd; e != nil {
		if len(e.Endpoints) == 0 {
			return nil, fieldErr("Etcd.Endpoints", "at least one endpoint for external etcd")
		}
		for i, ep := range e.Endpoints {
			if !strings.HasPrefix(ep, "https://") && !strings.HasPrefix(ep, "http://") {
				return nil, fieldErr(fmt.Sprintf("Etcd.Endpoints[%d]", i), "%q must be an http(s):// URL", ep)
			}
		}
		for name, p := range map[string]string{"Etcd.CAFile": e.CAFile, "Etcd.CertFile": e.CertFile, "Etcd.KeyFile": e.KeyFile} {
			if p != "" && !path.IsAbs(p) {
				return nil, fieldErr(name, "%q must be an absolute path", p)
			}
		}
		cc.Etcd.External = &kubeadm.ExternalEtcd{Endpoints: e.Endpoints, CAFile: e.CAFile, CertFile: e.CertFile, KeyFile: e.KeyFile}
	}
	if s.EtcdDataDir != "" {
		if s.Etcd != nil {
			return nil, fieldErr("EtcdDataDir", "set with external etcd")
		}
		if !path.IsAbs(s.EtcdDataDir) || path.Clean(s.EtcdDataDir) != s.EtcdDataDir {
			return nil, fieldErr("EtcdDataDir", "%q must be a clean absolute path", s.EtcdDataDir)
		}
		cc.Etcd.Local = &kubeadm.LocalEtcd{DataDir: s.EtcdDataDir}
	}
	kc := &kubeadm.KubeletConfiguration{CgroupDriver: "systemd", FeatureGates: s.FeatureGates}
	var kp *kubeadm.KubeProxyConfiguration
	if !s.DisableKubeProxy {
		kp = &kubeadm.KubeProxyConfiguration{Mode: s.ProxyMode, FeatureGates: s.FeatureGates}
	}
	files, err := pkiFiles(s.PKI)
	if err != nil {
		return nil, err
	}
	return (&plan{
		role: RoleInit, version: s.KubernetesVersion, configPath: KubeadmInitConfigPath, kubeadmArgs: kubeadmArgs,
		docs:  kubeadm.Documents{APIVersion: apiVersion, Init: ic, Cluster: cc, Kubelet: kc, KubeProxy: kp},
		files: files, nodeNameTemplate: tmpl, machine: s.Machine,
	}), nil
}

func joinPlan(role Role, version, endpoint string, token BootstrapToken, hashes []string, node Node, timeouts Timeouts, m Machine) (*plan, error) {
	apiVersion, err := KubeadmAPIVersion(version)
	if err != nil {
		return nil, err
	}
	if err := validateDiscovery("", endpoint, token, hashes); err != nil {
		return nil, err
	}
	if err := node.validate("Node", role == RoleControlPlane); err != nil {
		return nil, err
	}
	if err := m.validate("Machine"); err != nil {
		return nil, err
	}
	if err := timeouts.validate("Timeouts"); err != nil {
		return nil, err
	}
	hp, _ := hostPort(endpoint)
	nr, tmpl, err := nodeRegistration("Node", node)
	if err != nil {
		return nil, err
	}
	jc := &kubeadm.JoinConfiguration{
		NodeRegistration: nr,
		Discovery: kubeadm.Discovery{BootstrapToken: &kubeadm.BootstrapTokenDiscovery{
			Token: token.Value(), APIServerEndpoint: hp, CACertHashes: hashes,
		}},
		Timeouts: timeouts.kubeadm(),
	}
	return &plan{
		role: role, version: version, configPath: KubeadmJoinConfigPath,
		docs:             kubeadm.Documents{APIVersion: apiVersion, Join: jc},
		nodeNameTemplate: tmpl, machine: m,
	}, nil
}

func (s JoinControlPlane) plan() (*plan, error) {
	p, err := s.build()
	if err != nil {
		return nil, err
	}
	return finishPlan(p)
}

func (s JoinControlPlane) build() (*plan, error) {
	if s.Cluster != "" {
		if err := validateCluster(s.Cluster); err != nil {
			return nil, err
		}
	}
	p, err := joinPlan(RoleControlPlane, s.KubernetesVersion, s.Endpoint, s.Token, s.CACertHashes, s.Node, s.Timeouts, s.Machine)
	if err != nil {
		return nil, err
	}
	switch {
	case s.PKI != nil && s.CertificateKey != "":
		return nil, fieldErr("CertificateKey", "set either PKI (certificates in the user data) or CertificateKey (fetched from the cluster), not both")
	case s.PKI == nil && s.CertificateKey == "":
		return nil, fieldErr("PKI", "a joining control plane needs PKI or CertificateKey")
	case s.CertificateKey != "" && !certKeyRE.MatchString(s.CertificateKey):
		return nil, fieldErr("CertificateKey", "must be 64 lowercase hex digits")
	}
	p.docs.Join.ControlPlane = &kubeadm.JoinControlPlane{
		LocalAPIEndpoint: kubeadm.APIEndpoint{AdvertiseAddress: s.Node.AdvertiseAddress, BindPort: s.Node.BindPort},
		CertificateKey:   s.CertificateKey,
	}
	if s.PKI != nil {
		if err := s.PKI.Validate(time.Now()); err != nil {
			return nil, err
		}
		pin := s.PKI.CACertHash()
		if !slices.Contains(s.CACertHashes, pin) {
			return nil, fieldErr("CACertHashes", "none matches PKI.CA (%s)", pin)
		}
		if p.files, err = pkiFiles(s.PKI); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (s JoinWorker) plan() (*plan, error) {
	p, err := s.build()
	if err != nil {
		return nil, err
	}
	return finishPlan(p)
}

func (s JoinWorker) build() (*plan, error) {
	if s.Cluster != "" {
		if err := validateCluster(s.Cluster); err != nil {
			return nil, err
		}
	}
	return joinPlan(RoleWorker, s.KubernetesVersion, s.Endpoint, s.Token, s.CACertHashes, s.Node, s.Timeouts, s.Machine)
}

// finishPlan adds the kubeadm configuration, the install steps and the user's files.
func finishPlan(p *plan) (*plan, error) {
	if p.machine.Format == Ignition {
		if p.nodeNameTemplate {
			setNodeName(&p.docs, NodeNamePlaceholder)
		}
		p.configPath = IgnitionJoinConfigPath
		if p.role == RoleInit {
			p.configPath = IgnitionInitConfigPath
		}
	}
	cfg, err := kubeadm.Marshal(p.docs)
	if err != nil {
		return nil, fieldErr("KubernetesVersion", "%v", err)
	}
	p.files = append(p.files, File{Path: p.configPath, Owner: "root:root", Permissions: "0640", Content: cfg})
	if in := p.machine.Install; in != nil {
		files, cmds := installSteps(*in, p.version)
		p.files = append(p.files, files...)
		p.installCommands = cmds
	}
	for _, f := range p.machine.Files {
		for _, own := range p.files {
			if own.Path == f.Path {
				return nil, fieldErr("Machine.Files", "%q is written by openstrap itself", f.Path)
			}
		}
	}
	p.files = append(p.files, p.machine.Files...)
	return p, nil
}

func setNodeName(d *kubeadm.Documents, name string) {
	if d.Init != nil {
		d.Init.NodeRegistration.Name = name
	}
	if d.Join != nil {
		d.Join.NodeRegistration.Name = name
	}
}
