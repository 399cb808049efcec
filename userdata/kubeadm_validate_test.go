package userdata

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/cluster-api/bootstrap/kubeadm/pkg/types/upstreamv1beta3"
	"sigs.k8s.io/cluster-api/bootstrap/kubeadm/pkg/types/upstreamv1beta4"
	"sigs.k8s.io/yaml"

	"github.com/openstrap/openstrap/internal/tools"
	"github.com/openstrap/openstrap/userdata/kubeadm"
)

// kubeadmBinary returns kubeadm v1.37.2 built by the tools module.
func kubeadmBinary(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	path, err := tools.Path(ctx, tools.Kubeadm)
	if err != nil {
		t.Fatalf("build kubeadm with internal/tools: %v", err)
	}
	return path
}

func kubeadmValidate(t *testing.T, kubeadmPath string, config []byte) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "kubeadm.yaml")
	if err := os.WriteFile(file, config, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kubeadmPath, "config", "validate", "--config", file).CombinedOutput()
	return string(out), err
}

// validateCases are extra inputs beyond the goldens that exercise more fields.
func validateCases(t *testing.T) map[string]Spec {
	cases := goldenCases(t)
	rich := initSpec(t, fixtureVersion, CloudInit)
	rich.PKI = fixturePKI(t, ECDSAP256)
	rich.FeatureGates = map[string]bool{"KubeletInUserNamespace": false}
	rich.KubeadmFeatureGates = map[string]bool{"RootlessControlPlane": false}
	rich.ImageRepository = "registry.example.com:5000/k8s"
	rich.ProxyMode = "nftables"
	rich.Network = Network{PodCIDR: "10.244.0.0/16,fd00:10:244::/56", ServiceCIDR: "10.96.0.0/16,fd00:10:96::/112", DNSDomain: "demo.internal"}
	rich.Node.Name = "demo-cp-0"
	rich.Node.AdvertiseAddress = "10.6.0.5"
	rich.Node.BindPort = 6443
	rich.Node.CRISocket = "unix:///run/containerd/containerd.sock"
	rich.Node.IgnorePreflightErrors = []string{"NumCPU"}
	rich.EtcdDataDir = "/var/lib/etcd-disk/data"
	rich.UploadCertificates, rich.CertificateKey = true, fixtureCertKey
	tok2, _ := NewBootstrapToken(WithTokenTTL(2*time.Hour), WithTokenUsages(UsageAuthentication))
	tok3, _ := NewBootstrapToken(WithTokenExpires(time.Date(2036, 12, 3, 20, 0, 0, 0, time.UTC)))
	rich.BootstrapTokens = append(rich.BootstrapTokens, tok2, tok3)
	cases["init-rich-ecdsa"] = rich
	ext := initSpec(t, fixtureVersion, CloudInit)
	ext.Etcd = &ExternalEtcd{Endpoints: []string{"https://10.6.0.20:2379"}, CAFile: "/etc/etcd/ca.crt", CertFile: "/etc/etcd/client.crt", KeyFile: "/etc/etcd/client.key"}
	ext.DisableKubeProxy = true
	cases["init-external-etcd-no-proxy"] = ext
	return cases
}

// TestKubeadmValidatesRenderedConfig runs `kubeadm config validate` (kubeadm
// v1.37.2 from the tools module) on the kubeadm configuration of every rendered
// role and format. kubeadm v1.37 no longer reads v1beta3; v1beta3 output is checked
// by strict decoding into Cluster API's mirror of kubeadm's v1beta3 types and by
// validating its conversion to v1beta4 with kubeadm.
func TestKubeadmValidatesRenderedConfig(t *testing.T) {
	kubeadmPath := kubeadmBinary(t)
	for name, spec := range validateCases(t) {
		t.Run(name, func(t *testing.T) {
			data, err := Render(spec)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			p, err := Parse(data, WithNodeName("demo-node-0"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			config := p.Files[p.KubeadmConfigPath].Content
			if strings.Contains(string(config), "{{") || strings.Contains(string(config), NodeNamePlaceholder) {
				t.Fatalf("node name template left in the configuration after WithNodeName:\n%s", config)
			}
			switch p.Kubeadm.APIVersion {
			case kubeadm.V1Beta4:
				if out, err := kubeadmValidate(t, kubeadmPath, config); err != nil {
					t.Fatalf("kubeadm config validate: %v\n%s", err, out)
				}
			case kubeadm.V1Beta3:
				strictV1Beta3(t, config)
				out, err := kubeadmValidate(t, kubeadmPath, config)
				if err == nil || !strings.Contains(out, "v1.36") {
					t.Errorf("kubeadm v1.37 should refuse v1beta3 and point at v1.36; got err=%v\n%s", err, out)
				}
				docs := p.Kubeadm
				docs.APIVersion = kubeadm.V1Beta4
				if docs.Cluster != nil {
					// kubeadm v1.37 deploys only v1.36 and newer.
					c := *docs.Cluster
					c.KubernetesVersion = tools.KubernetesVersion
					docs.Cluster = &c
				}
				converted, err := kubeadm.Marshal(docs)
				if err != nil {
					t.Fatal(err)
				}
				if out, err := kubeadmValidate(t, kubeadmPath, converted); err != nil {
					t.Fatalf("kubeadm config validate of the v1beta4 conversion: %v\n%s", err, out)
				}
			default:
				t.Fatalf("unexpected API version %q", p.Kubeadm.APIVersion)
			}
			strictV1Beta4Mirror(t, p.Kubeadm)
		})
	}
}

// TestKubeadmRejectsBrokenConfig proves the validation above can fail: kubeadm
// refuses an unknown field and an invalid node name.
func TestKubeadmRejectsBrokenConfig(t *testing.T) {
	kubeadmPath := kubeadmBinary(t)
	data, err := Render(workerSpec(t, fixtureVersion, CloudInit))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data) // node name template left in: not a valid node name
	if err != nil {
		t.Fatal(err)
	}
	config := p.Files[p.KubeadmConfigPath].Content
	if out, err := kubeadmValidate(t, kubeadmPath, config); err == nil || !strings.Contains(out, "nodeRegistration.name") {
		t.Errorf("template node name: want a nodeRegistration.name error, got err=%v\n%s", err, out)
	}
	broken := strings.Replace(string(config), "caCertHashes:", "caCertHashez:", 1)
	if out, err := kubeadmValidate(t, kubeadmPath, []byte(broken)); err == nil || !strings.Contains(out, "unknown field") {
		t.Errorf("unknown field: want an error, got err=%v\n%s", err, out)
	}
}

func splitDocs(b []byte) map[string][]byte {
	out := map[string][]byte{}
	for _, part := range strings.Split(string(b), "\n---\n") {
		var tm struct {
			Kind string `json:"kind"`
		}
		_ = yaml.Unmarshal([]byte(part), &tm)
		out[tm.Kind] = []byte(part)
	}
	return out
}

// strictV1Beta3 decodes each v1beta3 document strictly into Cluster API's copy of
// kubeadm's v1beta3 types: every field name must exist there.
func strictV1Beta3(t *testing.T, config []byte) {
	t.Helper()
	for kind, doc := range splitDocs(config) {
		var target any
		switch kind {
		case kubeadm.KindInitConfiguration:
			target = &upstreamv1beta3.InitConfiguration{}
		case kubeadm.KindClusterConfiguration:
			target = &upstreamv1beta3.ClusterConfiguration{}
		case kubeadm.KindJoinConfiguration:
			target = &upstreamv1beta3.JoinConfiguration{}
		default:
			continue
		}
		if err := yaml.UnmarshalStrict(doc, target); err != nil {
			t.Errorf("%s is not valid kubeadm v1beta3: %v\n%s", kind, err, doc)
		}
	}
}

// strictV1Beta4Mirror checks this package's v1beta4 output against Cluster API's
// independent mirror of kubeadm's v1beta4 types.
func strictV1Beta4Mirror(t *testing.T, d kubeadm.Documents) {
	t.Helper()
	d.APIVersion = kubeadm.V1Beta4
	b, err := kubeadm.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for kind, doc := range splitDocs(b) {
		var target any
		switch kind {
		case kubeadm.KindInitConfiguration:
			target = &upstreamv1beta4.InitConfiguration{}
		case kubeadm.KindClusterConfiguration:
			target = &upstreamv1beta4.ClusterConfiguration{}
			// Cluster API's mirror omits fields kubeadm has; drop the ones we set.
			doc = []byte(dropTopLevel(string(doc), "proxy", "encryptionAlgorithm"))
		case kubeadm.KindJoinConfiguration:
			target = &upstreamv1beta4.JoinConfiguration{}
		default:
			continue
		}
		if err := yaml.UnmarshalStrict(doc, target); err != nil {
			t.Errorf("%s does not match Cluster API's v1beta4 mirror: %v\n%s", kind, err, doc)
		}
	}
}

func dropTopLevel(doc string, keys ...string) string {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		return doc
	}
	for _, k := range keys {
		delete(m, k)
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}
