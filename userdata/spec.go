package userdata

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/openstrap/openstrap/userdata/kubeadm"
)

// Format is the user data format a machine's image understands.
type Format string

const (
	// CloudInit renders "#cloud-config" YAML (Ubuntu, Debian, RHEL-family images).
	CloudInit Format = "cloud-init"
	// Ignition renders Ignition v3 JSON (Flatcar, Fedora CoreOS).
	Ignition Format = "ignition"
)

// Compression says when Render gzips the user data.
type Compression string

const (
	// GzipIfNeeded (the zero value) gzips only when the data would not fit Nova's limit.
	GzipIfNeeded Compression = ""
	// GzipAlways always gzips.
	GzipAlways Compression = "gzip"
	// GzipNever never gzips (and fails when the data does not fit).
	GzipNever Compression = "none"
)

// Role is what a machine does in the cluster.
type Role string

const (
	// RoleInit is the first control-plane machine: it runs `kubeadm init`.
	RoleInit Role = "init"
	// RoleControlPlane is a further control-plane machine: `kubeadm join --control-plane`.
	RoleControlPlane Role = "control-plane"
	// RoleWorker is a worker machine: `kubeadm join`.
	RoleWorker Role = "worker"
)

// Spec is the input of Render: an Init, a JoinControlPlane, a JoinWorker or the
// result of FromKubeadmConfigSpec.
type Spec interface {
	// Role reports what the machine will do.
	Role() Role
	plan() (*plan, error)
}

// Defaults applied when a field is empty.
const (
	DefaultPodCIDR     = "10.244.0.0/16"
	DefaultServiceCIDR = "10.96.0.0/12"
	DefaultDNSDomain   = "cluster.local"
	DefaultAPIPort     = 6443
	// NodeNameFromMetadata is the cloud-init (Jinja) expression for the instance's
	// hostname from the metadata service, used when Node.Name is empty.
	NodeNameFromMetadata = "{{ ds.meta_data.local_hostname }}"
	// NodeNamePlaceholder stands for the node name in Ignition output; the boot
	// script replaces it with the hostname before kubeadm runs.
	NodeNamePlaceholder = "__OPENSTRAP_NODE_NAME__"
	// ProviderIDFromMetadata is Node.ProviderID as the OpenStack provider's
	// templates set it: "openstack:///" and the instance ID cloud-init
	// (Jinja) reads from the metadata, which is the Nova server's ID.
	ProviderIDFromMetadata = "openstack:///{{ v1.instance_id }}"
)

// Network holds the cluster's address ranges.
type Network struct {
	// PodCIDR is the pod network (default DefaultPodCIDR); comma-separated for dual stack.
	PodCIDR string
	// ServiceCIDR is the service network (default DefaultServiceCIDR).
	ServiceCIDR string
	// DNSDomain is the service DNS domain (default "cluster.local").
	DNSDomain string
}

// Node is how the machine registers as a Kubernetes node.
type Node struct {
	// Name is the node name; empty takes the hostname from the instance metadata.
	Name string
	// Labels become the kubelet's --node-labels.
	Labels map[string]string
	// Taints registered with the node. nil: kubeadm's default (the control-plane
	// taint on control-plane nodes, none on workers); empty non-nil: no taints.
	Taints []corev1.Taint
	// KubeletExtraArgs are extra kubelet flags (name without dashes → value).
	KubeletExtraArgs map[string]string
	// ExternalCloudProvider sets cloud-provider=external on the kubelet (and
	// kube-controller-manager), for the OpenStack cloud controller manager.
	ExternalCloudProvider bool
	// ProviderID is the kubelet's --provider-id, the Node's spec.providerID
	// by which Cluster API and tools match Nodes to servers. Without it only
	// a cloud controller manager sets one. ProviderIDFromMetadata has
	// cloud-init fill in the server's ID (cloud-init only: Jinja).
	ProviderID string
	// CRISocket is the container runtime socket (kubeadm detects it when empty).
	CRISocket string
	// IgnorePreflightErrors lists kubeadm preflight checks to ignore.
	IgnorePreflightErrors []string
	// AdvertiseAddress is the API server address on a control-plane node (default:
	// the address of the default route's interface, as kubeadm picks it).
	AdvertiseAddress string
	// BindPort is the local API server port (default 6443).
	BindPort int32
}

// FileEncoding says how a file's content is carried in the user data.
type FileEncoding string

const (
	// EncodingPlain carries the content as text.
	EncodingPlain FileEncoding = ""
	// EncodingBase64 carries it base64-encoded (for binary content).
	EncodingBase64 FileEncoding = "base64"
	// EncodingGzipBase64 carries it gzip-compressed and base64-encoded (for large files).
	EncodingGzipBase64 FileEncoding = "gzip+base64"
)

// File is a file written on the machine before kubeadm runs.
type File struct {
	// Path is absolute.
	Path string
	// Owner is "user:group" (default root:root).
	Owner string
	// Permissions is octal, e.g. "0644" (default "0644"; keys should use "0600").
	Permissions string
	// Content is the file's content.
	Content []byte
	// Encoding says how Content travels in the user data.
	Encoding FileEncoding
	// Append adds to an existing file instead of replacing it.
	Append bool
}

// String does not print the content, which may be a secret.
func (f File) String() string {
	return fmt.Sprintf("File{%s %s %s, %d bytes}", f.Path, f.Owner, f.Permissions, len(f.Content))
}

// User is an operating system user created at boot.
type User struct {
	Name              string
	SSHAuthorizedKeys []string
	// Sudo is a sudoers rule, e.g. "ALL=(ALL) NOPASSWD:ALL".
	Sudo   string
	Groups []string
	Shell  string
}

// NTP configures time synchronisation.
type NTP struct {
	Servers []string
	// Enabled turns NTP configuration on (default: on when Servers is set).
	Enabled *bool
}

// PartitionSpec is one partition as a percentage of the disk.
type PartitionSpec struct {
	Percentage int
	// Type is an MBR type code ("83" Linux, "82" swap); empty means Linux.
	Type string
}

// Partition lays out one disk (cloud-init only).
type Partition struct {
	Device string
	// TableType is "mbr" or "gpt".
	TableType string
	// Layout lists partitions; empty means one partition filling the disk.
	Layout    []PartitionSpec
	Overwrite bool
}

// Filesystem is a file system to create.
type Filesystem struct {
	Device     string
	Filesystem string
	Label      string
	// Partition is "auto", "any", "none" or a number (cloud-init only).
	Partition string
	Overwrite bool
	ExtraOpts []string
}

// Mount mounts a device (or label) on a directory.
type Mount struct {
	Device     string
	MountPoint string
	// FSType defaults to "auto" (cloud-init) or "ext4" (Ignition).
	FSType  string
	Options string
}

// OSFamily selects the package repositories of the install steps.
type OSFamily string

const (
	// Debian covers Debian and Ubuntu (apt, pkgs.k8s.io deb repository).
	Debian OSFamily = "debian"
	// RHEL covers RHEL, Rocky, Alma, CentOS Stream (dnf, pkgs.k8s.io rpm repository).
	RHEL OSFamily = "rhel"
)

// Install asks the user data to prepare a plain OS image for kubeadm (cloud-init
// only): swap off, the overlay and br_netfilter modules, the bridge and forwarding
// sysctls kubeadm's preflight checks require, and optionally containerd and
// kubelet/kubeadm/kubectl at the cluster's Kubernetes version.
type Install struct {
	OS OSFamily
	// Containerd installs containerd (Debian's package or Docker's containerd.io on
	// RHEL) configured for the systemd cgroup driver.
	Containerd bool
	// Kubernetes installs kubelet, kubeadm and kubectl from pkgs.k8s.io, pinned.
	Kubernetes bool
}

// Machine is the operating-system side of the user data, common to all roles.
type Machine struct {
	Files []File
	// BootCommands run early at every boot (cloud-init bootcmd).
	BootCommands []string
	// PreKubeadmCommands run once before kubeadm, after the files are written.
	PreKubeadmCommands []string
	// PostKubeadmCommands run once after kubeadm succeeded.
	PostKubeadmCommands []string
	// Users are created at boot. With cloud-init, listing users replaces the
	// image's default user (as Cluster API does).
	Users       []User
	NTP         NTP
	Partitions  []Partition
	Filesystems []Filesystem
	Mounts      []Mount
	Install     *Install
	// Format is the output format (default CloudInit).
	Format Format
	// Compression says when to gzip (default GzipIfNeeded).
	Compression Compression
}

// ExternalEtcd points the control plane at an etcd cluster kubeadm does not manage.
// The client certificate files must be on the machine (Machine.Files).
type ExternalEtcd struct {
	Endpoints []string
	CAFile    string
	CertFile  string
	KeyFile   string
}

// Timeouts are kubeadm's timeouts (v1beta4 `timeouts`; kubeadm's default
// where zero). kubeadm v1.37 makes the first API call of `kubeadm init`
// (the admin ClusterRoleBinding) before it waits for the control plane,
// within KubernetesAPICall (default 1 minute), which a slow or busy machine
// can miss. The v1beta3 API (Kubernetes before v1.31) carries only
// ControlPlaneComponentHealthCheck (init) and Discovery (join).
type Timeouts struct {
	// ControlPlaneComponentHealthCheck bounds the wait for the static pods (4m).
	ControlPlaneComponentHealthCheck time.Duration
	// KubeletHealthCheck bounds the wait for the kubelet (4m).
	KubeletHealthCheck time.Duration
	// KubernetesAPICall bounds API calls (1m).
	KubernetesAPICall time.Duration
	// EtcdAPICall bounds etcd calls (2m).
	EtcdAPICall time.Duration
	// TLSBootstrap bounds the kubelet's TLS bootstrap on join (5m).
	TLSBootstrap time.Duration
	// Discovery bounds token discovery on join (5m).
	Discovery time.Duration
}

func (t Timeouts) validate(f string) error {
	for name, d := range map[string]time.Duration{"ControlPlaneComponentHealthCheck": t.ControlPlaneComponentHealthCheck,
		"KubeletHealthCheck": t.KubeletHealthCheck, "KubernetesAPICall": t.KubernetesAPICall, "EtcdAPICall": t.EtcdAPICall,
		"TLSBootstrap": t.TLSBootstrap, "Discovery": t.Discovery} {
		if d < 0 {
			return fieldErr(f+"."+name, "must not be negative")
		}
	}
	return nil
}

// kubeadm returns the kubeadm form, nil when every field is zero.
func (t Timeouts) kubeadm() *kubeadm.Timeouts {
	if t == (Timeouts{}) {
		return nil
	}
	d := func(x time.Duration) *metav1.Duration {
		if x == 0 {
			return nil
		}
		return kubeadm.Duration(x)
	}
	return &kubeadm.Timeouts{ControlPlaneComponentHealthCheck: d(t.ControlPlaneComponentHealthCheck),
		KubeletHealthCheck: d(t.KubeletHealthCheck), KubernetesAPICall: d(t.KubernetesAPICall),
		EtcdAPICall: d(t.EtcdAPICall), TLSBootstrap: d(t.TLSBootstrap), Discovery: d(t.Discovery)}
}

// Init is the first control-plane machine of a cluster (`kubeadm init`).
type Init struct {
	// Cluster is the cluster name (kubeadm's clusterName).
	Cluster string
	// KubernetesVersion is e.g. "v1.37.2"; it selects the kubeadm API version.
	KubernetesVersion string
	// Endpoint is the control plane endpoint (load balancer) "host:port".
	Endpoint string
	// PKI is the cluster PKI placed on the machine (required).
	PKI *ClusterPKI
	// BootstrapTokens are created by kubeadm init so other machines can join.
	BootstrapTokens []BootstrapToken
	// UploadCertificates runs `kubeadm init --upload-certs` so joining control-plane
	// machines fetch the certificates with CertificateKey instead of carrying the
	// CA keys in their own user data. The uploaded secret expires after two hours.
	UploadCertificates bool
	// CertificateKey encrypts the uploaded certificates (NewCertificateKey).
	CertificateKey string
	Network        Network
	Node           Node
	// APIServerCertSANs are extra names and addresses in the API server certificate.
	APIServerCertSANs []string
	// FeatureGates are Kubernetes feature gates for the API server, controller
	// manager, scheduler and kubelet.
	FeatureGates map[string]bool
	// KubeadmFeatureGates are kubeadm's own feature gates.
	KubeadmFeatureGates map[string]bool
	// ImageRepository replaces registry.k8s.io for control-plane images.
	ImageRepository string
	// Etcd is external etcd; nil runs stacked etcd on the control-plane machines.
	Etcd *ExternalEtcd
	// EtcdDataDir is the stacked etcd's data directory (default /var/lib/etcd), e.g.
	// on a dedicated volume mounted with Machine.Mounts.
	EtcdDataDir string
	// ProxyMode is kube-proxy's mode ("", "iptables", "ipvs", "nftables").
	ProxyMode string
	// DisableKubeProxy skips the kube-proxy add-on (for CNIs that replace it).
	DisableKubeProxy bool
	// Timeouts are kubeadm's (default: kubeadm's own).
	Timeouts Timeouts
	Machine  Machine
}

// Role implements Spec.
func (Init) Role() Role { return RoleInit }

// String redacts the PKI, tokens and certificate key.
func (s Init) String() string {
	return fmt.Sprintf("Init{Cluster: %q, KubernetesVersion: %q, Endpoint: %q, PKI: %s, %d tokens}", s.Cluster, s.KubernetesVersion, s.Endpoint, s.PKI, len(s.BootstrapTokens))
}

// JoinControlPlane is a further control-plane machine (`kubeadm join --control-plane`).
type JoinControlPlane struct {
	Cluster           string
	KubernetesVersion string
	// Endpoint is the control plane endpoint "host:port" used for discovery.
	Endpoint string
	// Token authenticates discovery and TLS bootstrap.
	Token BootstrapToken
	// CACertHashes pin the cluster CA (ClusterPKI.CACertHash); at least one.
	CACertHashes []string
	// PKI, when set, places the shared CA keys on the machine. Exactly one of PKI
	// and CertificateKey must be set.
	PKI *ClusterPKI
	// CertificateKey fetches the certificates uploaded by `kubeadm init
	// --upload-certs` (valid for two hours after the upload) so no CA key is in the
	// user data.
	CertificateKey string
	Node           Node
	// Timeouts are kubeadm's (default: kubeadm's own).
	Timeouts Timeouts
	Machine  Machine
}

// Role implements Spec.
func (JoinControlPlane) Role() Role { return RoleControlPlane }

// String redacts the token, PKI and certificate key.
func (s JoinControlPlane) String() string {
	return fmt.Sprintf("JoinControlPlane{Cluster: %q, KubernetesVersion: %q, Endpoint: %q, Token: %s}", s.Cluster, s.KubernetesVersion, s.Endpoint, s.Token)
}

// JoinWorker is a worker machine (`kubeadm join`). Its user data never holds a
// private key: only the bootstrap token and the CA pin.
type JoinWorker struct {
	Cluster           string
	KubernetesVersion string
	Endpoint          string
	Token             BootstrapToken
	CACertHashes      []string
	Node              Node
	// Timeouts are kubeadm's (default: kubeadm's own).
	Timeouts Timeouts
	Machine  Machine
}

// Role implements Spec.
func (JoinWorker) Role() Role { return RoleWorker }

// String redacts the token.
func (s JoinWorker) String() string {
	return fmt.Sprintf("JoinWorker{Cluster: %q, KubernetesVersion: %q, Endpoint: %q, Token: %s}", s.Cluster, s.KubernetesVersion, s.Endpoint, s.Token)
}

// NewCertificateKey returns a random kubeadm certificate key (hex of 32 bytes),
// shared by `kubeadm init --upload-certs` and the control-plane joins.
func NewCertificateKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate certificate key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

var (
	certKeyRE     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	caHashRE      = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	permRE        = regexp.MustCompile(`^0?[0-7]{3,4}$`)
	ownerRE       = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*(:[a-z_][a-z0-9_.-]*)?$`)
	userRE        = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	argNameRE     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)
	gateNameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	mbrTypeRE     = regexp.MustCompile(`^[0-9a-fA-F]{1,2}$`)
	fsTypeRE      = regexp.MustCompile(`^[a-z0-9]+$`)
	fsLabelRE     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,16}$`)
	fsPartitionRE = regexp.MustCompile(`^(auto|any|none|[0-9]{1,3})$`)
	deviceRE      = regexp.MustCompile(`^(/dev/[A-Za-z0-9/_.-]+|LABEL=[A-Za-z0-9_.-]+|ephemeral[0-9]|swap)$`)
)

func isDNSName(s string) bool { return len(validation.IsDNS1123Subdomain(strings.ToLower(s))) == 0 }

// noControl rejects characters that could break out of the YAML/JSON or the shell.
func noControl(field, s string) error {
	if !utf8.ValidString(s) {
		return fieldErr(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return fieldErr(field, "contains a control character")
		}
	}
	return nil
}

func validateCIDRs(field, s string) error {
	parts := strings.Split(s, ",")
	if len(parts) > 2 {
		return fieldErr(field, "at most two CIDRs (dual stack)")
	}
	for _, p := range parts {
		if _, _, err := net.ParseCIDR(strings.TrimSpace(p)); err != nil {
			return fieldErr(field, "%q is not a CIDR", p)
		}
	}
	return nil
}

func (n Network) withDefaults() Network {
	if n.PodCIDR == "" {
		n.PodCIDR = DefaultPodCIDR
	}
	if n.ServiceCIDR == "" {
		n.ServiceCIDR = DefaultServiceCIDR
	}
	if n.DNSDomain == "" {
		n.DNSDomain = DefaultDNSDomain
	}
	return n
}

func (n Network) validate(f string) error {
	if err := validateCIDRs(f+".PodCIDR", n.PodCIDR); err != nil {
		return err
	}
	if err := validateCIDRs(f+".ServiceCIDR", n.ServiceCIDR); err != nil {
		return err
	}
	if !isDNSName(n.DNSDomain) {
		return fieldErr(f+".DNSDomain", "%q is not a DNS domain", n.DNSDomain)
	}
	return nil
}

func validateCluster(name string) error {
	if name == "" {
		return fieldErr("Cluster", "required")
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fieldErr("Cluster", "%q: %s", name, errs[0])
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func validateArgs(f string, m map[string]string) error {
	for _, k := range sortedKeys(m) {
		if !argNameRE.MatchString(k) {
			return fieldErr(f, "argument name %q must match %s (no leading dashes)", k, argNameRE)
		}
		if err := noControl(f+"["+k+"]", m[k]); err != nil {
			return err
		}
	}
	return nil
}

func validateGates(f string, m map[string]bool) error {
	for _, k := range sortedKeys(m) {
		if !gateNameRE.MatchString(k) {
			return fieldErr(f, "feature gate name %q must match %s", k, gateNameRE)
		}
	}
	return nil
}

func (n Node) validate(f string, controlPlane bool) error {
	if n.Name != "" {
		if errs := validation.IsDNS1123Subdomain(n.Name); len(errs) > 0 {
			return fieldErr(f+".Name", "%q: %s", n.Name, errs[0])
		}
	}
	for _, k := range sortedKeys(n.Labels) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fieldErr(f+".Labels", "key %q: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(n.Labels[k]); len(errs) > 0 {
			return fieldErr(f+".Labels["+k+"]", "%q: %s", n.Labels[k], errs[0])
		}
	}
	for i, t := range n.Taints {
		tf := fmt.Sprintf("%s.Taints[%d]", f, i)
		if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
			return fieldErr(tf+".Key", "%q: %s", t.Key, errs[0])
		}
		if t.Value != "" {
			if errs := validation.IsValidLabelValue(t.Value); len(errs) > 0 {
				return fieldErr(tf+".Value", "%q: %s", t.Value, errs[0])
			}
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return fieldErr(tf+".Effect", "%q is not NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
		}
	}
	if err := validateArgs(f+".KubeletExtraArgs", n.KubeletExtraArgs); err != nil {
		return err
	}
	if err := noControl(f+".ProviderID", n.ProviderID); err != nil {
		return err
	}
	if v, ok := n.KubeletExtraArgs["provider-id"]; ok && n.ProviderID != "" && v != n.ProviderID {
		return fieldErr(f+".KubeletExtraArgs", "provider-id conflicts with ProviderID: use one")
	}
	if _, ok := n.KubeletExtraArgs["node-labels"]; ok && len(n.Labels) > 0 {
		return fieldErr(f+".KubeletExtraArgs", "node-labels conflicts with Labels: use one")
	}
	if n.CRISocket != "" && !strings.HasPrefix(n.CRISocket, "unix:///") {
		return fieldErr(f+".CRISocket", "%q must be a unix:/// URL", n.CRISocket)
	}
	for _, p := range n.IgnorePreflightErrors {
		if !argNameRE.MatchString(p) {
			return fieldErr(f+".IgnorePreflightErrors", "%q is not a preflight check name", p)
		}
	}
	if n.AdvertiseAddress != "" {
		if !controlPlane {
			return fieldErr(f+".AdvertiseAddress", "only for control-plane machines")
		}
		if net.ParseIP(n.AdvertiseAddress) == nil {
			return fieldErr(f+".AdvertiseAddress", "%q is not an IP address", n.AdvertiseAddress)
		}
	}
	if n.BindPort < 0 || n.BindPort > 65535 || (n.BindPort != 0 && !controlPlane) {
		return fieldErr(f+".BindPort", "must be 1-65535 on control-plane machines, unset on workers")
	}
	return nil
}

func (m Machine) validate(f string) error {
	switch m.Format {
	case "", CloudInit, Ignition:
	default:
		return fieldErr(f+".Format", "%q is not %q or %q", m.Format, CloudInit, Ignition)
	}
	switch m.Compression {
	case GzipIfNeeded, GzipAlways, GzipNever:
	default:
		return fieldErr(f+".Compression", "%q is not \"\", %q or %q", m.Compression, GzipAlways, GzipNever)
	}
	seen := map[string]bool{}
	for i, file := range m.Files {
		ff := fmt.Sprintf("%s.Files[%d]", f, i)
		if err := validateFile(ff, file); err != nil {
			return err
		}
		if seen[file.Path] && !file.Append {
			return fieldErr(ff+".Path", "%q is written twice", file.Path)
		}
		seen[file.Path] = true
	}
	for name, cmds := range map[string][]string{"BootCommands": m.BootCommands, "PreKubeadmCommands": m.PreKubeadmCommands, "PostKubeadmCommands": m.PostKubeadmCommands} {
		for i, c := range cmds {
			cf := fmt.Sprintf("%s.%s[%d]", f, name, i)
			if strings.TrimSpace(c) == "" {
				return fieldErr(cf, "empty command")
			}
			if err := noControl(cf, c); err != nil {
				return err
			}
		}
	}
	for i, u := range m.Users {
		uf := fmt.Sprintf("%s.Users[%d]", f, i)
		if !userRE.MatchString(u.Name) {
			return fieldErr(uf+".Name", "%q must match %s", u.Name, userRE)
		}
		for j, k := range u.SSHAuthorizedKeys {
			if err := noControl(fmt.Sprintf("%s.SSHAuthorizedKeys[%d]", uf, j), k); err != nil {
				return err
			}
			if !strings.HasPrefix(k, "ssh-") && !strings.HasPrefix(k, "ecdsa-") && !strings.HasPrefix(k, "sk-") {
				return fieldErr(fmt.Sprintf("%s.SSHAuthorizedKeys[%d]", uf, j), "not an OpenSSH public key")
			}
		}
		if err := noControl(uf+".Sudo", u.Sudo); err != nil {
			return err
		}
		for _, g := range u.Groups {
			if !userRE.MatchString(g) {
				return fieldErr(uf+".Groups", "%q must match %s", g, userRE)
			}
		}
		if u.Shell != "" && !path.IsAbs(u.Shell) {
			return fieldErr(uf+".Shell", "%q must be an absolute path", u.Shell)
		}
	}
	for i, s := range m.NTP.Servers {
		if net.ParseIP(s) == nil && !isDNSName(s) {
			return fieldErr(fmt.Sprintf("%s.NTP.Servers[%d]", f, i), "%q is not a host name or address", s)
		}
	}
	for i, p := range m.Partitions {
		pf := fmt.Sprintf("%s.Partitions[%d]", f, i)
		if !deviceRE.MatchString(p.Device) {
			return fieldErr(pf+".Device", "%q is not a device", p.Device)
		}
		if p.TableType != "" && p.TableType != "mbr" && p.TableType != "gpt" {
			return fieldErr(pf+".TableType", "%q is not mbr or gpt", p.TableType)
		}
		total := 0
		for j, l := range p.Layout {
			if l.Percentage < 1 || l.Percentage > 100 {
				return fieldErr(fmt.Sprintf("%s.Layout[%d].Percentage", pf, j), "must be 1-100")
			}
			if l.Type != "" && !mbrTypeRE.MatchString(l.Type) {
				return fieldErr(fmt.Sprintf("%s.Layout[%d].Type", pf, j), "%q is not an MBR type code", l.Type)
			}
			total += l.Percentage
		}
		if total > 100 {
			return fieldErr(pf+".Layout", "percentages add up to %d", total)
		}
	}
	for i, fs := range m.Filesystems {
		ff := fmt.Sprintf("%s.Filesystems[%d]", f, i)
		if !deviceRE.MatchString(fs.Device) {
			return fieldErr(ff+".Device", "%q is not a device", fs.Device)
		}
		if !fsTypeRE.MatchString(fs.Filesystem) {
			return fieldErr(ff+".Filesystem", "%q is not a file system type", fs.Filesystem)
		}
		if fs.Label != "" && !fsLabelRE.MatchString(fs.Label) {
			return fieldErr(ff+".Label", "%q must be 1-16 of [A-Za-z0-9_.-]", fs.Label)
		}
		if fs.Partition != "" && !fsPartitionRE.MatchString(fs.Partition) {
			return fieldErr(ff+".Partition", "%q is not auto, any, none or a number", fs.Partition)
		}
		for _, o := range fs.ExtraOpts {
			if err := noControl(ff+".ExtraOpts", o); err != nil {
				return err
			}
		}
	}
	for i, mt := range m.Mounts {
		mf := fmt.Sprintf("%s.Mounts[%d]", f, i)
		if !deviceRE.MatchString(mt.Device) {
			return fieldErr(mf+".Device", "%q is not a device or LABEL=", mt.Device)
		}
		if !path.IsAbs(mt.MountPoint) || path.Clean(mt.MountPoint) != mt.MountPoint || strings.ContainsAny(mt.MountPoint, " \t\n") {
			return fieldErr(mf+".MountPoint", "%q must be a clean absolute path without spaces", mt.MountPoint)
		}
		if mt.FSType != "" && !fsTypeRE.MatchString(mt.FSType) {
			return fieldErr(mf+".FSType", "%q is not a file system type", mt.FSType)
		}
		if strings.ContainsAny(mt.Options, " \t\n") {
			return fieldErr(mf+".Options", "must not contain spaces")
		}
	}
	if in := m.Install; in != nil {
		if in.OS != Debian && in.OS != RHEL {
			return fieldErr(f+".Install.OS", "%q is not %q or %q", in.OS, Debian, RHEL)
		}
		if m.Format == Ignition {
			return fieldErr(f+".Install", "not available with Ignition (Flatcar and Fedora CoreOS images ship containerd; add Kubernetes with a system extension)")
		}
	}
	if m.Format == Ignition && len(m.Partitions) > 0 {
		return fieldErr(f+".Partitions", "not available with Ignition; use Filesystems on whole devices")
	}
	return nil
}

func validateFile(f string, file File) error {
	if !path.IsAbs(file.Path) || path.Clean(file.Path) != file.Path || file.Path == "/" {
		return fieldErr(f+".Path", "%q must be a clean absolute file path", file.Path)
	}
	if err := noControl(f+".Path", file.Path); err != nil {
		return err
	}
	if file.Owner != "" && !ownerRE.MatchString(file.Owner) {
		return fieldErr(f+".Owner", "%q must be user or user:group", file.Owner)
	}
	if file.Permissions != "" && !permRE.MatchString(file.Permissions) {
		return fieldErr(f+".Permissions", "%q must be octal like 0644", file.Permissions)
	}
	switch file.Encoding {
	case EncodingPlain, EncodingBase64, EncodingGzipBase64:
	default:
		return fieldErr(f+".Encoding", "%q is not \"\", %q or %q", file.Encoding, EncodingBase64, EncodingGzipBase64)
	}
	return nil
}

func validateDiscovery(f string, endpoint string, token BootstrapToken, hashes []string) error {
	if _, err := hostPort(endpoint); err != nil {
		return err
	}
	if err := token.Validate(f + "Token"); err != nil {
		return err
	}
	if len(hashes) == 0 {
		return fieldErr(f+"CACertHashes", "at least one CA pin (ClusterPKI.CACertHash) is required; openstrap never joins without verifying the CA")
	}
	for i, h := range hashes {
		if !caHashRE.MatchString(h) {
			return fieldErr(fmt.Sprintf("%sCACertHashes[%d]", f, i), "must be sha256:<64 hex digits>")
		}
	}
	return nil
}

var imageRepoRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$`)

func isIP(s string) bool { return net.ParseIP(s) != nil }

// GoString redacts like String.
func (s Init) GoString() string { return s.String() }

// GoString redacts like String.
func (s JoinControlPlane) GoString() string { return s.String() }

// GoString redacts like String.
func (s JoinWorker) GoString() string { return s.String() }
