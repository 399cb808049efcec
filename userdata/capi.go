package userdata

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"

	"github.com/openstrap/openstrap/userdata/kubeadm"
)

// KubeadmConfigInput is what Render needs besides a Cluster API KubeadmConfigSpec:
// the values Cluster API's bootstrap provider takes from the Cluster and Machine
// objects, and the secrets it would generate.
type KubeadmConfigInput struct {
	// Role selects init (a KubeadmConfig with InitConfiguration/ClusterConfiguration
	// for the first machine), control-plane or worker join.
	Role Role
	// Spec is the KubeadmConfig's spec (not modified).
	Spec *bootstrapv1.KubeadmConfigSpec
	// Cluster is the Cluster's name (kubeadm's clusterName).
	Cluster string
	// KubernetesVersion is the Machine's spec.version.
	KubernetesVersion string
	// Endpoint is the Cluster's spec.controlPlaneEndpoint "host:port"; the spec's
	// ClusterConfiguration.ControlPlaneEndpoint wins when set.
	Endpoint string
	// Network is the Cluster's spec.clusterNetwork.
	Network Network
	// PKI is placed on init and control-plane machines.
	PKI *ClusterPKI
	// Token and CACertHashes are used for joins when the spec's discovery has none.
	Token        BootstrapToken
	CACertHashes []string
	// SecretData resolves files' contentFrom: "<secret name>/<key>" → content.
	SecretData map[string][]byte
}

// String redacts the PKI, token and secret data.
func (in KubeadmConfigInput) String() string {
	return fmt.Sprintf("KubeadmConfigInput{Role: %s, Cluster: %q, KubernetesVersion: %q, Endpoint: %q}", in.Role, in.Cluster, in.KubernetesVersion, in.Endpoint)
}

// GoString redacts like String.
func (in KubeadmConfigInput) GoString() string { return in.String() }

// kubeadmConfigSpec is the Spec FromKubeadmConfigSpec returns.
type kubeadmConfigSpec struct {
	in   KubeadmConfigInput
	base interface{ build() (*plan, error) }
}

func (k kubeadmConfigSpec) Role() Role { return k.in.Role }

func (k kubeadmConfigSpec) String() string { return "KubeadmConfigSpec{" + k.in.String() + "}" }

// FromKubeadmConfigSpec turns a Cluster API KubeadmConfigSpec (bootstrap
// v1beta2) into a Spec for Render, so a controller holding Cluster API objects gets
// the same validated, kubeadm-checked output. Fields are mapped one to one onto
// the kubeadm configuration and the cloud-init/Ignition document; unsupported
// ones (file templates, passwords, file discovery with an inline kubeconfig,
// Ignition additional config) are a *FieldError naming the Spec field.
func FromKubeadmConfigSpec(in KubeadmConfigInput) (Spec, error) {
	if in.Spec == nil {
		return nil, fieldErr("Spec", "required")
	}
	s := in.Spec
	m, err := capiMachine(in)
	if err != nil {
		return nil, err
	}
	cc := s.ClusterConfiguration
	endpoint := in.Endpoint
	if cc.ControlPlaneEndpoint != "" {
		endpoint = cc.ControlPlaneEndpoint
	}
	switch in.Role {
	case RoleInit:
		node, err := capiNode("Spec.InitConfiguration.NodeRegistration", s.InitConfiguration.NodeRegistration)
		if err != nil {
			return nil, err
		}
		node.AdvertiseAddress = s.InitConfiguration.LocalAPIEndpoint.AdvertiseAddress
		node.BindPort = s.InitConfiguration.LocalAPIEndpoint.BindPort
		init := Init{
			Cluster: in.Cluster, KubernetesVersion: in.KubernetesVersion, Endpoint: endpoint, PKI: in.PKI,
			Network: in.Network, Node: node, APIServerCertSANs: cc.APIServer.CertSANs,
			KubeadmFeatureGates: cc.FeatureGates, ImageRepository: cc.ImageRepository, Machine: m,
		}
		for i, t := range s.InitConfiguration.BootstrapTokens {
			bt := BootstrapToken{ID: t.Token.ID, Secret: t.Token.Secret, Description: t.Description, Usages: t.Usages, Groups: t.Groups}
			if t.TTLSeconds != nil {
				bt.TTL = time.Duration(*t.TTLSeconds) * time.Second
			}
			if !t.Expires.IsZero() {
				return nil, fieldErr(fmt.Sprintf("Spec.InitConfiguration.BootstrapTokens[%d].Expires", i), "not supported; use TTLSeconds")
			}
			init.BootstrapTokens = append(init.BootstrapTokens, bt)
		}
		if e := cc.Etcd.External; len(e.Endpoints) > 0 {
			init.Etcd = &ExternalEtcd{Endpoints: e.Endpoints, CAFile: e.CAFile, CertFile: e.CertFile, KeyFile: e.KeyFile}
		}
		return kubeadmConfigSpec{in: in, base: init}, nil
	case RoleControlPlane, RoleWorker:
		j := s.JoinConfiguration
		node, err := capiNode("Spec.JoinConfiguration.NodeRegistration", j.NodeRegistration)
		if err != nil {
			return nil, err
		}
		if j.Discovery.File.KubeConfigPath != "" {
			return nil, fieldErr("Spec.JoinConfiguration.Discovery.File", "file discovery is not supported; use bootstrap token discovery")
		}
		tok, hashes := in.Token, in.CACertHashes
		bt := j.Discovery.BootstrapToken
		if bt.Token != "" {
			if tok, err = ParseBootstrapToken(bt.Token); err != nil {
				return nil, fieldErr("Spec.JoinConfiguration.Discovery.BootstrapToken.Token", "not a kubeadm bootstrap token")
			}
		}
		if len(bt.CACertHashes) > 0 {
			hashes = bt.CACertHashes
		}
		if bt.UnsafeSkipCAVerification != nil && *bt.UnsafeSkipCAVerification {
			return nil, fieldErr("Spec.JoinConfiguration.Discovery.BootstrapToken.UnsafeSkipCAVerification", "openstrap always pins the CA")
		}
		if bt.APIServerEndpoint != "" {
			endpoint = bt.APIServerEndpoint
		}
		if in.Role == RoleWorker {
			return kubeadmConfigSpec{in: in, base: JoinWorker{Cluster: in.Cluster, KubernetesVersion: in.KubernetesVersion,
				Endpoint: endpoint, Token: tok, CACertHashes: hashes, Node: node, Machine: m}}, nil
		}
		if j.ControlPlane != nil {
			node.AdvertiseAddress = j.ControlPlane.LocalAPIEndpoint.AdvertiseAddress
			node.BindPort = j.ControlPlane.LocalAPIEndpoint.BindPort
		}
		return kubeadmConfigSpec{in: in, base: JoinControlPlane{Cluster: in.Cluster, KubernetesVersion: in.KubernetesVersion,
			Endpoint: endpoint, Token: tok, CACertHashes: hashes, PKI: in.PKI, Node: node, Machine: m}}, nil
	default:
		return nil, fieldErr("Role", "%q is not %q, %q or %q", in.Role, RoleInit, RoleControlPlane, RoleWorker)
	}
}

func (k kubeadmConfigSpec) plan() (*plan, error) {
	p, err := k.base.build()
	if err != nil {
		return nil, err
	}
	if err := k.patch(p); err != nil {
		return nil, err
	}
	return finishPlan(p)
}

// patch applies the KubeadmConfigSpec fields the concise input has no room for.
func (k kubeadmConfigSpec) patch(p *plan) error {
	s := k.in.Spec
	if v := s.Verbosity; v != nil {
		p.kubeadmArgs = append(p.kubeadmArgs, fmt.Sprintf("--v=%d", *v))
	}
	var err error
	if c := p.docs.Cluster; c != nil {
		cc := s.ClusterConfiguration
		if err = patchComponent("Spec.ClusterConfiguration.APIServer", &c.APIServer.ControlPlaneComponent, cc.APIServer.ExtraArgs, cc.APIServer.ExtraVolumes, cc.APIServer.ExtraEnvs); err != nil {
			return err
		}
		if err = patchComponent("Spec.ClusterConfiguration.ControllerManager", &c.ControllerManager, cc.ControllerManager.ExtraArgs, cc.ControllerManager.ExtraVolumes, cc.ControllerManager.ExtraEnvs); err != nil {
			return err
		}
		if err = patchComponent("Spec.ClusterConfiguration.Scheduler", &c.Scheduler, cc.Scheduler.ExtraArgs, cc.Scheduler.ExtraVolumes, cc.Scheduler.ExtraEnvs); err != nil {
			return err
		}
		if l := cc.Etcd.Local; c.Etcd.External == nil && (l.DataDir != "" || l.ImageRepository != "" || l.ImageTag != "" || len(l.ExtraArgs) > 0 || l.ExtraEnvs != nil || len(l.ServerCertSANs) > 0 || len(l.PeerCertSANs) > 0) {
			le := &kubeadm.LocalEtcd{ImageMeta: kubeadm.ImageMeta{ImageRepository: l.ImageRepository, ImageTag: l.ImageTag},
				DataDir: l.DataDir, ServerCertSANs: l.ServerCertSANs, PeerCertSANs: l.PeerCertSANs}
			if le.DataDir == "" {
				le.DataDir = "/var/lib/etcd"
			}
			var comp kubeadm.ControlPlaneComponent
			if err = patchComponent("Spec.ClusterConfiguration.Etcd.Local", &comp, l.ExtraArgs, nil, l.ExtraEnvs); err != nil {
				return err
			}
			le.ExtraArgs, le.ExtraEnvs = comp.ExtraArgs, comp.ExtraEnvs
			c.Etcd.Local = le
		}
		c.DNS.ImageMeta = kubeadm.ImageMeta{ImageRepository: cc.DNS.ImageRepository, ImageTag: cc.DNS.ImageTag}
		c.CertificatesDir = cc.CertificatesDir
		if d := cc.CertificateValidityPeriodDays; d > 0 {
			c.CertificateValidityPeriod = kubeadm.Duration(time.Duration(d) * 24 * time.Hour)
		}
		if d := cc.CACertificateValidityPeriodDays; d > 0 {
			c.CACertificateValidityPeriod = kubeadm.Duration(time.Duration(d) * 24 * time.Hour)
		}
		if a := cc.EncryptionAlgorithm; a != "" {
			if pa := k.in.PKI.Algorithm(); pa != "" && string(pa) != string(a) {
				return fieldErr("Spec.ClusterConfiguration.EncryptionAlgorithm", "%q differs from the PKI's %q", a, pa)
			}
			c.EncryptionAlgorithm = string(a)
		}
	}
	if i := p.docs.Init; i != nil {
		ic := s.InitConfiguration
		i.SkipPhases = ic.SkipPhases
		if ic.Patches.Directory != "" {
			i.Patches = &kubeadm.Patches{Directory: ic.Patches.Directory}
		}
		i.Timeouts = capiTimeouts(ic.Timeouts)
		patchNodeReg(&i.NodeRegistration, ic.NodeRegistration)
	}
	if j := p.docs.Join; j != nil {
		jc := s.JoinConfiguration
		j.SkipPhases = jc.SkipPhases
		j.CACertPath = jc.CACertPath
		j.Discovery.TLSBootstrapToken = jc.Discovery.TLSBootstrapToken
		if jc.Patches.Directory != "" {
			j.Patches = &kubeadm.Patches{Directory: jc.Patches.Directory}
		}
		j.Timeouts = capiTimeouts(jc.Timeouts)
		patchNodeReg(&j.NodeRegistration, jc.NodeRegistration)
	}
	return nil
}

func patchNodeReg(nr *kubeadm.NodeRegistrationOptions, c bootstrapv1.NodeRegistrationOptions) {
	nr.ImagePullPolicy = string(c.ImagePullPolicy)
	nr.ImagePullSerial = c.ImagePullSerial
}

func capiTimeouts(t bootstrapv1.Timeouts) *kubeadm.Timeouts {
	d := func(s *int32) *metav1.Duration {
		if s == nil {
			return nil
		}
		return kubeadm.Duration(time.Duration(*s) * time.Second)
	}
	out := &kubeadm.Timeouts{
		ControlPlaneComponentHealthCheck: d(t.ControlPlaneComponentHealthCheckSeconds),
		KubeletHealthCheck:               d(t.KubeletHealthCheckSeconds),
		KubernetesAPICall:                d(t.KubernetesAPICallSeconds),
		EtcdAPICall:                      d(t.EtcdAPICallSeconds),
		TLSBootstrap:                     d(t.TLSBootstrapSeconds),
		Discovery:                        d(t.DiscoverySeconds),
	}
	if *out == (kubeadm.Timeouts{}) {
		return nil
	}
	return out
}

func patchComponent(f string, c *kubeadm.ControlPlaneComponent, args []bootstrapv1.Arg, vols []bootstrapv1.HostPathMount, envs *[]bootstrapv1.EnvVar) error {
	for i, a := range args {
		if !argNameRE.MatchString(a.Name) {
			return fieldErr(fmt.Sprintf("%s.ExtraArgs[%d].Name", f, i), "%q is not an argument name", a.Name)
		}
		v := ""
		if a.Value != nil {
			v = *a.Value
		}
		if err := noControl(fmt.Sprintf("%s.ExtraArgs[%d].Value", f, i), v); err != nil {
			return err
		}
		c.ExtraArgs = append(c.ExtraArgs, kubeadm.Arg{Name: a.Name, Value: v})
	}
	for _, v := range vols {
		ro := v.ReadOnly != nil && *v.ReadOnly
		c.ExtraVolumes = append(c.ExtraVolumes, kubeadm.HostPathMount{Name: v.Name, HostPath: v.HostPath, MountPath: v.MountPath, ReadOnly: ro, PathType: string(v.PathType)})
	}
	if envs != nil {
		for i, e := range *envs {
			if e.ValueFrom != nil {
				return fieldErr(fmt.Sprintf("%s.ExtraEnvs[%d].ValueFrom", f, i), "not supported in static pods; set Value")
			}
			c.ExtraEnvs = append(c.ExtraEnvs, kubeadm.EnvVar{Name: e.Name, Value: e.Value})
		}
	}
	return nil
}

// capiTemplateNames are the node name expressions Cluster API templates use for
// the instance hostname.
var capiTemplateNames = []string{NodeNameFromMetadata, "{{ local_hostname }}", "{{ v1.local_hostname }}", "{{ ds.meta_data.hostname }}"}

func capiNode(f string, nr bootstrapv1.NodeRegistrationOptions) (Node, error) {
	n := Node{Name: nr.Name, CRISocket: nr.CRISocket, IgnorePreflightErrors: nr.IgnorePreflightErrors}
	if slices.Contains(capiTemplateNames, strings.TrimSpace(nr.Name)) {
		n.Name = ""
	}
	if nr.Taints != nil {
		n.Taints = append([]corev1.Taint{}, *nr.Taints...)
	}
	if len(nr.KubeletExtraArgs) > 0 {
		n.KubeletExtraArgs = map[string]string{}
		for i, a := range nr.KubeletExtraArgs {
			if _, dup := n.KubeletExtraArgs[a.Name]; dup {
				return n, fieldErr(fmt.Sprintf("%s.KubeletExtraArgs[%d]", f, i), "argument %q repeats", a.Name)
			}
			v := ""
			if a.Value != nil {
				v = *a.Value
			}
			n.KubeletExtraArgs[a.Name] = v
		}
	}
	return n, nil
}

func capiMachine(in KubeadmConfigInput) (Machine, error) {
	s := in.Spec
	m := Machine{
		BootCommands: s.BootCommands, PreKubeadmCommands: s.PreKubeadmCommands, PostKubeadmCommands: s.PostKubeadmCommands,
		NTP: NTP{Servers: s.NTP.Servers, Enabled: s.NTP.Enabled},
	}
	switch s.Format {
	case "", bootstrapv1.CloudConfig:
		m.Format = CloudInit
	case bootstrapv1.Ignition:
		m.Format = Ignition
		if s.Ignition.ContainerLinuxConfig.AdditionalConfig != "" {
			return m, fieldErr("Spec.Ignition.ContainerLinuxConfig.AdditionalConfig", "not supported")
		}
	default:
		return m, fieldErr("Spec.Format", "%q is not cloud-config or ignition", s.Format)
	}
	for i, f := range s.Files {
		ff := fmt.Sprintf("Spec.Files[%d]", i)
		if f.ContentFormat == bootstrapv1.FileContentFormatTemplate {
			return m, fieldErr(ff+".ContentFormat", "Template is not supported; render the content first")
		}
		content := []byte(f.Content)
		if ref := f.ContentFrom.Secret; ref.Name != "" {
			b, ok := in.SecretData[ref.Name+"/"+ref.Key]
			if !ok {
				return m, fieldErr(ff+".ContentFrom", "secret %s key %s not in SecretData", ref.Name, ref.Key)
			}
			content = b
		}
		file := File{Path: f.Path, Owner: f.Owner, Permissions: f.Permissions, Append: f.Append != nil && *f.Append}
		var err error
		switch f.Encoding {
		case "":
			file.Content = content
		case bootstrapv1.Base64:
			file.Encoding = EncodingBase64
			file.Content, err = base64.StdEncoding.DecodeString(string(content))
		case bootstrapv1.Gzip:
			file.Encoding = EncodingGzipBase64
			file.Content, err = gunzip(content)
		case bootstrapv1.GzipBase64:
			file.Encoding = EncodingGzipBase64
			var raw []byte
			if raw, err = base64.StdEncoding.DecodeString(string(content)); err == nil {
				file.Content, err = gunzip(raw)
			}
		default:
			return m, fieldErr(ff+".Encoding", "%q is not base64, gzip or gzip+base64", f.Encoding)
		}
		if err != nil {
			return m, fieldErr(ff+".Content", "not %s encoded", f.Encoding)
		}
		m.Files = append(m.Files, file)
	}
	for i, u := range s.Users {
		uf := fmt.Sprintf("Spec.Users[%d]", i)
		if u.Passwd != "" || u.PasswdFrom.Secret.Name != "" {
			return m, fieldErr(uf+".Passwd", "passwords in user data are not supported; use SSH keys")
		}
		usr := User{Name: u.Name, SSHAuthorizedKeys: u.SSHAuthorizedKeys, Sudo: u.Sudo, Shell: u.Shell}
		if u.Groups != "" {
			for _, g := range strings.Split(u.Groups, ",") {
				usr.Groups = append(usr.Groups, strings.TrimSpace(g))
			}
		}
		m.Users = append(m.Users, usr)
	}
	for _, p := range s.DiskSetup.Partitions {
		part := Partition{Device: p.Device, TableType: p.TableType, Overwrite: p.Overwrite != nil && *p.Overwrite}
		for _, l := range p.DiskLayout {
			part.Layout = append(part.Layout, PartitionSpec{Percentage: int(l.Percentage), Type: mbrType(l.PartitionType)})
		}
		m.Partitions = append(m.Partitions, part)
	}
	for _, f := range s.DiskSetup.Filesystems {
		m.Filesystems = append(m.Filesystems, Filesystem{Device: f.Device, Filesystem: f.Filesystem, Label: f.Label,
			Partition: f.Partition, Overwrite: f.Overwrite != nil && *f.Overwrite, ExtraOpts: f.ExtraOpts})
	}
	for i, mp := range s.Mounts {
		if len(mp) < 2 {
			return m, fieldErr(fmt.Sprintf("Spec.Mounts[%d]", i), "needs at least a device and a mount point")
		}
		mt := Mount{Device: mp[0], MountPoint: mp[1]}
		if len(mp) > 2 {
			mt.FSType = mp[2]
		}
		if len(mp) > 3 {
			mt.Options = mp[3]
		}
		m.Mounts = append(m.Mounts, mt)
	}
	return m, nil
}

// mbrType maps Cluster API's partition type names to MBR type codes.
func mbrType(t string) string {
	switch t {
	case "", bootstrapv1.PartitionTypeLinux:
		return "83"
	case bootstrapv1.PartitionTypeLinuxSwap:
		return "82"
	case bootstrapv1.PartitionTypeLinuxRAID:
		return "fd"
	case bootstrapv1.PartitionTypeLVM:
		return "8e"
	case bootstrapv1.PartitionTypeFat32:
		return "0c"
	case bootstrapv1.PartitionTypeNTFS:
		return "07"
	case bootstrapv1.PartitionTypeLinuxExtended:
		return "85"
	default:
		return t
	}
}
