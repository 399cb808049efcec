package clustertemplate

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

// ErrInvalidValues matches, with errors.Is, every error of Values.Validate.
var ErrInvalidValues = errors.New("invalid cluster template values")

// Defaults of the optional Values; the template's ${VAR:=default} carry the
// same.
const (
	DefaultNamespace            = "default"
	DefaultControlPlaneCount    = 1
	DefaultControlPlaneFlavor   = "m1.medium"
	DefaultWorkerFlavor         = "m1.small"
	DefaultExternalNetwork      = "public"
	DefaultNodeCIDR             = "10.6.0.0/24"
	DefaultPodCIDR              = "192.168.0.0/16"
	DefaultServiceCIDR          = "10.96.0.0/12"
	DefaultUnhealthyNodeTimeout = 5 * time.Minute
	DefaultNodeStartupTimeout   = 10 * time.Minute
)

// MaxClusterNameLength is the longest cluster name: openstrap names cloud
// resources after the cluster, and its provider refuses longer names.
const MaxClusterNameLength = 40

// minNodeStartupTimeout is Cluster API's minimum (its MachineHealthCheck
// webhook refuses less).
const minNodeStartupTimeout = 30 * time.Second

// Variable names of the template.
const (
	varClusterName          = "CLUSTER_NAME"
	varNamespace            = "NAMESPACE"
	varKubernetesVersion    = "KUBERNETES_VERSION"
	varControlPlaneCount    = "CONTROL_PLANE_MACHINE_COUNT"
	varWorkerCount          = "WORKER_MACHINE_COUNT"
	varCloud                = "OPENSTACK_CLOUD"
	varCloudsYAML           = "OPENSTACK_CLOUD_YAML_B64"
	varCACert               = "OPENSTACK_CLOUD_CACERT_B64"
	varImage                = "OPENSTACK_IMAGE_NAME"
	varControlPlaneFlavor   = "OPENSTACK_CONTROL_PLANE_MACHINE_FLAVOR"
	varWorkerFlavor         = "OPENSTACK_NODE_MACHINE_FLAVOR"
	varExternalNetwork      = "OPENSTACK_EXTERNAL_NETWORK_NAME"
	varNodeCIDR             = "OPENSTACK_NODE_CIDR"
	varPodCIDR              = "POD_CIDR"
	varServiceCIDR          = "SERVICE_CIDR"
	varSSHKeyName           = "OPENSTACK_SSH_KEY_NAME"
	varUnhealthyTimeout     = "WORKER_UNHEALTHY_TIMEOUT_SECONDS"
	varNodeStartupTimeout   = "WORKER_NODE_STARTUP_TIMEOUT_SECONDS"
	varControlPlaneTemplate = "CONTROL_PLANE_MACHINE_TEMPLATE_SUFFIX"
	varWorkerTemplate       = "WORKER_MACHINE_TEMPLATE_SUFFIX"
)

// Values are the inputs of the template. Each field names its template
// variable; a zero optional field takes its Default* value.
type Values struct {
	// ClusterName (CLUSTER_NAME, required) names the Cluster and prefixes
	// its objects and cloud resources: a lowercase RFC 1035 label of at
	// most MaxClusterNameLength characters.
	ClusterName string
	// Namespace (NAMESPACE) holds the objects; default DefaultNamespace.
	Namespace string
	// KubernetesVersion (KUBERNETES_VERSION, required) such as "v1.37.2";
	// a missing "v" is added.
	KubernetesVersion string
	// ControlPlaneCount (CONTROL_PLANE_MACHINE_COUNT) is odd (etcd runs on
	// the control plane); 0 means DefaultControlPlaneCount.
	ControlPlaneCount int
	// WorkerCount (WORKER_MACHINE_COUNT) is the number of workers; 0 is
	// none.
	WorkerCount int

	// CloudName (OPENSTACK_CLOUD, required) is the entry of CloudsYAML the
	// controllers use.
	CloudName string
	// CloudsYAML (OPENSTACK_CLOUD_YAML_B64, required) is the clouds.yaml
	// the identity Secret holds. It holds credentials.
	CloudsYAML []byte
	// CACert (OPENSTACK_CLOUD_CACERT_B64) is an optional PEM bundle the
	// controllers trust for the cloud's TLS (the Secret's "cacert" key).
	CACert []byte

	// Image (OPENSTACK_IMAGE_NAME, required) is the Glance image name of
	// every machine.
	Image string
	// ControlPlaneFlavor (OPENSTACK_CONTROL_PLANE_MACHINE_FLAVOR) is the
	// Nova flavor name of control-plane machines; default
	// DefaultControlPlaneFlavor.
	ControlPlaneFlavor string
	// WorkerFlavor (OPENSTACK_NODE_MACHINE_FLAVOR) is the Nova flavor name
	// of workers; default DefaultWorkerFlavor.
	WorkerFlavor string
	// ExternalNetwork (OPENSTACK_EXTERNAL_NETWORK_NAME) is the name of the
	// external network of the router and floating IPs; default
	// DefaultExternalNetwork.
	ExternalNetwork string
	// NodeCIDR (OPENSTACK_NODE_CIDR) is the cluster's subnet, IPv4, at
	// most /29; default DefaultNodeCIDR.
	NodeCIDR string
	// PodCIDR (POD_CIDR) is the pod network; default DefaultPodCIDR.
	PodCIDR string
	// ServiceCIDR (SERVICE_CIDR) is the service network; default
	// DefaultServiceCIDR.
	ServiceCIDR string
	// SSHKeyName (OPENSTACK_SSH_KEY_NAME) is an optional Nova key pair
	// injected into every machine.
	SSHKeyName string

	// UnhealthyNodeTimeout (WORKER_UNHEALTHY_TIMEOUT_SECONDS) is how long
	// a worker's Node may be NotReady or unreachable before the worker is
	// replaced; whole seconds; default DefaultUnhealthyNodeTimeout.
	UnhealthyNodeTimeout time.Duration
	// NodeStartupTimeout (WORKER_NODE_STARTUP_TIMEOUT_SECONDS) is how long
	// a worker may run without a Node before it is replaced; whole
	// seconds, at least 30 s; default DefaultNodeStartupTimeout.
	NodeStartupTimeout time.Duration
}

// Default sets every zero optional field to its default and adds the "v"
// of KubernetesVersion.
func (v *Values) Default() {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&v.Namespace, DefaultNamespace)
	def(&v.ControlPlaneFlavor, DefaultControlPlaneFlavor)
	def(&v.WorkerFlavor, DefaultWorkerFlavor)
	def(&v.ExternalNetwork, DefaultExternalNetwork)
	def(&v.NodeCIDR, DefaultNodeCIDR)
	def(&v.PodCIDR, DefaultPodCIDR)
	def(&v.ServiceCIDR, DefaultServiceCIDR)
	if v.ControlPlaneCount == 0 {
		v.ControlPlaneCount = DefaultControlPlaneCount
	}
	if v.UnhealthyNodeTimeout == 0 {
		v.UnhealthyNodeTimeout = DefaultUnhealthyNodeTimeout
	}
	if v.NodeStartupTimeout == 0 {
		v.NodeStartupTimeout = DefaultNodeStartupTimeout
	}
	if v.KubernetesVersion != "" && !strings.HasPrefix(v.KubernetesVersion, "v") {
		v.KubernetesVersion = "v" + v.KubernetesVersion
	}
}

// Validate checks v, with defaults applied, offline: every problem is
// reported (joined), each naming the field, its template variable, the
// value (never of CloudsYAML or CACert) and what to do, and matching
// ErrInvalidValues. It checks names and lengths against what the CRDs,
// Cluster API and openstrap's provider accept, that CloudName is an entry
// of CloudsYAML, and that the networks do not overlap. Whether the image,
// flavors and network exist is for the cloud to say.
func (v Values) Validate() error {
	v.Default()
	var errs []error
	bad := func(field, variable string, value any, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s (%s) %s: %s", ErrInvalidValues, field, variable, quote(value), fmt.Sprintf(format, args...)))
	}

	if v.ClusterName == "" {
		bad("ClusterName", varClusterName, v.ClusterName, "required; give a name such as \"demo\"")
	} else if msgs := validation.IsDNS1035Label(v.ClusterName); len(msgs) > 0 || len(v.ClusterName) > MaxClusterNameLength {
		bad("ClusterName", varClusterName, v.ClusterName, "must be a lowercase RFC 1035 label (letters, digits and '-', starting with a letter) of at most %d characters, since openstrap names cloud resources after it; give a name such as \"demo\"", MaxClusterNameLength)
	}
	if msgs := validation.IsDNS1123Label(v.Namespace); len(msgs) > 0 {
		bad("Namespace", varNamespace, v.Namespace, "%s; give a namespace name such as %q", strings.Join(msgs, "; "), DefaultNamespace)
	}
	if v.KubernetesVersion == "" {
		bad("KubernetesVersion", varKubernetesVersion, v.KubernetesVersion, "required; give a version such as \"v1.37.2\"")
	} else if _, err := version.ParseSemantic(v.KubernetesVersion); err != nil {
		bad("KubernetesVersion", varKubernetesVersion, v.KubernetesVersion, "not a semantic version; give major, minor and patch, such as \"v1.37.2\"")
	}
	switch {
	case v.ControlPlaneCount < 1 || v.ControlPlaneCount > math.MaxInt32:
		bad("ControlPlaneCount", varControlPlaneCount, v.ControlPlaneCount, "must be 1 or more; use 1, 3 or 5")
	case v.ControlPlaneCount%2 == 0:
		bad("ControlPlaneCount", varControlPlaneCount, v.ControlPlaneCount, "must be odd, since etcd runs on the control plane machines (Cluster API refuses an even count); use %d or %d", v.ControlPlaneCount-1, v.ControlPlaneCount+1)
	}
	if v.WorkerCount < 0 || v.WorkerCount > math.MaxInt32 {
		bad("WorkerCount", varWorkerCount, v.WorkerCount, "must be 0 or more")
	}

	if v.CloudName == "" {
		bad("CloudName", varCloud, v.CloudName, "required; name the entry of clouds.yaml to use")
	} else if msg := nameProblem(v.CloudName); msg != "" {
		bad("CloudName", varCloud, v.CloudName, "%s; give the name of an entry of clouds.yaml", msg)
	}
	if len(v.CloudsYAML) == 0 {
		errs = append(errs, fmt.Errorf("%w: CloudsYAML (%s): required; give the contents of a clouds.yaml holding cloud %q", ErrInvalidValues, varCloudsYAML, v.CloudName))
	} else if names, err := cloudNames(v.CloudsYAML); err != nil {
		errs = append(errs, fmt.Errorf("%w: CloudsYAML (%s): %v", ErrInvalidValues, varCloudsYAML, err))
	} else if v.CloudName != "" && !slices.Contains(names, v.CloudName) {
		bad("CloudName", varCloud, v.CloudName, "not an entry of CloudsYAML (it has: %s); name one of those", strings.Join(names, ", "))
	}
	if len(v.CACert) > 0 && !hasCertificate(v.CACert) {
		errs = append(errs, fmt.Errorf("%w: CACert (%s): holds no PEM CERTIFICATE block; give PEM certificates or nothing", ErrInvalidValues, varCACert))
	}

	if v.Image == "" {
		bad("Image", varImage, v.Image, "required; give the name of a Glance image the machines boot from")
	}
	for _, f := range []struct {
		field, variable, value, what string
	}{
		{"Image", varImage, v.Image, "a Glance image name"},
		{"ControlPlaneFlavor", varControlPlaneFlavor, v.ControlPlaneFlavor, "a Nova flavor name"},
		{"WorkerFlavor", varWorkerFlavor, v.WorkerFlavor, "a Nova flavor name"},
		{"ExternalNetwork", varExternalNetwork, v.ExternalNetwork, "the name of an external Neutron network"},
		{"SSHKeyName", varSSHKeyName, v.SSHKeyName, "the name of a Nova key pair, or nothing"},
	} {
		if f.value == "" {
			continue
		}
		if msg := nameProblem(f.value); msg != "" {
			bad(f.field, f.variable, f.value, "%s; give %s", msg, f.what)
		}
	}

	nets := map[string]netip.Prefix{}
	if p, err := netip.ParsePrefix(v.NodeCIDR); err != nil || !p.Addr().Is4() || p.Bits() > 29 || p != p.Masked() {
		bad("NodeCIDR", varNodeCIDR, v.NodeCIDR, "must be an IPv4 network address with a prefix of at most /29, such as %q", DefaultNodeCIDR)
	} else {
		nets["NodeCIDR"] = p
	}
	for _, f := range []struct{ field, variable, value, example string }{
		{"PodCIDR", varPodCIDR, v.PodCIDR, DefaultPodCIDR},
		{"ServiceCIDR", varServiceCIDR, v.ServiceCIDR, DefaultServiceCIDR},
	} {
		p, err := netip.ParsePrefix(f.value)
		if err != nil || p != p.Masked() {
			bad(f.field, f.variable, f.value, "must be a network address with its prefix length, such as %q", f.example)
			continue
		}
		nets[f.field] = p
	}
	order := []struct{ field, variable, value string }{
		{"NodeCIDR", varNodeCIDR, v.NodeCIDR}, {"PodCIDR", varPodCIDR, v.PodCIDR}, {"ServiceCIDR", varServiceCIDR, v.ServiceCIDR},
	}
	for i, a := range order {
		for _, b := range order[i+1:] {
			pa, oka := nets[a.field]
			pb, okb := nets[b.field]
			if oka && okb && pa.Overlaps(pb) {
				bad(b.field, b.variable, b.value, "overlaps %s %s; give networks that do not overlap", a.field, a.value)
			}
		}
	}

	for _, f := range []struct {
		field, variable string
		value, min      time.Duration
	}{
		{"UnhealthyNodeTimeout", varUnhealthyTimeout, v.UnhealthyNodeTimeout, time.Second},
		{"NodeStartupTimeout", varNodeStartupTimeout, v.NodeStartupTimeout, minNodeStartupTimeout},
	} {
		if f.value < f.min || f.value%time.Second != 0 || f.value/time.Second > math.MaxInt32 {
			bad(f.field, f.variable, f.value, "must be whole seconds, at least %v", f.min)
		}
	}
	return errors.Join(errs...)
}

// Vars returns the template's variables for v, with defaults applied:
//
//	CLUSTER_NAME, NAMESPACE, KUBERNETES_VERSION,
//	CONTROL_PLANE_MACHINE_COUNT, WORKER_MACHINE_COUNT,
//	OPENSTACK_CLOUD, OPENSTACK_CLOUD_YAML_B64, OPENSTACK_CLOUD_CACERT_B64,
//	OPENSTACK_IMAGE_NAME, OPENSTACK_CONTROL_PLANE_MACHINE_FLAVOR,
//	OPENSTACK_NODE_MACHINE_FLAVOR, OPENSTACK_SSH_KEY_NAME,
//	OPENSTACK_EXTERNAL_NETWORK_NAME, OPENSTACK_NODE_CIDR, POD_CIDR,
//	SERVICE_CIDR, WORKER_UNHEALTHY_TIMEOUT_SECONDS,
//	WORKER_NODE_STARTUP_TIMEOUT_SECONDS,
//	CONTROL_PLANE_MACHINE_TEMPLATE_SUFFIX, WORKER_MACHINE_TEMPLATE_SUFFIX
//
// The names are those of clusterctl's OpenStack templates where they have
// one. The two suffixes ("-" and 8 hex digits) name the
// OpenStackMachineTemplates after the flavor, image and key of their
// machines (see the package documentation). It does not validate: call
// Validate first. The map holds the credentials of CloudsYAML: never log
// it.
func (v Values) Vars() map[string]string {
	v.Default()
	return map[string]string{
		varClusterName:          v.ClusterName,
		varNamespace:            v.Namespace,
		varKubernetesVersion:    v.KubernetesVersion,
		varControlPlaneCount:    strconv.Itoa(v.ControlPlaneCount),
		varWorkerCount:          strconv.Itoa(v.WorkerCount),
		varCloud:                v.CloudName,
		varCloudsYAML:           base64.StdEncoding.EncodeToString(v.CloudsYAML),
		varCACert:               base64.StdEncoding.EncodeToString(v.CACert),
		varImage:                v.Image,
		varControlPlaneFlavor:   v.ControlPlaneFlavor,
		varWorkerFlavor:         v.WorkerFlavor,
		varExternalNetwork:      v.ExternalNetwork,
		varNodeCIDR:             v.NodeCIDR,
		varPodCIDR:              v.PodCIDR,
		varServiceCIDR:          v.ServiceCIDR,
		varSSHKeyName:           v.SSHKeyName,
		varUnhealthyTimeout:     seconds(v.UnhealthyNodeTimeout),
		varNodeStartupTimeout:   seconds(v.NodeStartupTimeout),
		varControlPlaneTemplate: templateSuffix(v.ControlPlaneFlavor, v.Image, v.SSHKeyName),
		varWorkerTemplate:       templateSuffix(v.WorkerFlavor, v.Image, v.SSHKeyName),
	}
}

// String shows v without CloudsYAML and CACert.
func (v Values) String() string {
	type plain Values // no String method
	p := plain(v)
	p.CloudsYAML, p.CACert = nil, nil
	return fmt.Sprintf("%+v (CloudsYAML: %d bytes, CACert: %d bytes, withheld)", p, len(v.CloudsYAML), len(v.CACert))
}

// GoString shows v as String does, for %#v.
func (v Values) GoString() string { return "clustertemplate.Values" + v.String() }

// templateSuffix names a machine template after what its machines are
// made of, so that other machines get another template.
func templateSuffix(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "-" + hex.EncodeToString(h[:4])
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// quote formats a value for an error message.
func quote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// nameProblem says why s cannot be an OpenStack resource name in the
// template ("" when it can): the template quotes names in YAML, and the
// CRDs allow 255 characters.
func nameProblem(s string) string {
	switch {
	case len(s) > 255:
		return fmt.Sprintf("has %d characters, more than 255", len(s))
	case strings.TrimSpace(s) != s:
		return "starts or ends with white space"
	case strings.ContainsAny(s, `"\`):
		return `holds a '"' or '\'`
	case strings.ContainsFunc(s, unicode.IsControl):
		return "holds a control character"
	}
	return ""
}

// lineRE finds the line number in a YAML error.
var lineRE = regexp.MustCompile(`line \d+`)

// cloudNames returns the sorted cloud names of a clouds.yaml. Its errors
// never quote the file, which holds credentials.
func cloudNames(data []byte) ([]string, error) {
	var f struct {
		Clouds map[string]json.RawMessage `json:"clouds"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		where := lineRE.FindString(err.Error())
		if where != "" {
			where = " at " + where
		}
		return nil, fmt.Errorf("not a valid clouds.yaml%s (details withheld: it holds credentials); check the file", where)
	}
	if len(f.Clouds) == 0 {
		return nil, errors.New(`has no "clouds" section with an entry; give a clouds.yaml as OpenStack's client reads it`)
	}
	names := make([]string, 0, len(f.Clouds))
	for n := range f.Clouds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// hasCertificate reports whether data holds a PEM CERTIFICATE block.
func hasCertificate(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" {
			return true
		}
	}
}
