package userdata

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestInvalidInputNamesTheField: every invalid input is a *FieldError naming the
// field, wraps ErrInvalidSpec, and never repeats a secret.
func TestInvalidInputNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		spec  func(t *testing.T) Spec
		field string
	}{
		{"no cluster", func(t *testing.T) Spec { s := initSpec(t, fixtureVersion, CloudInit); s.Cluster = ""; return s }, "Cluster"},
		{"bad cluster", func(t *testing.T) Spec { s := initSpec(t, fixtureVersion, CloudInit); s.Cluster = "Demo_1"; return s }, "Cluster"},
		{"no version", func(t *testing.T) Spec { s := initSpec(t, "", CloudInit); return s }, "KubernetesVersion"},
		{"bad version", func(t *testing.T) Spec { s := initSpec(t, "latest", CloudInit); return s }, "KubernetesVersion"},
		{"no endpoint", func(t *testing.T) Spec { s := initSpec(t, fixtureVersion, CloudInit); s.Endpoint = ""; return s }, "Endpoint"},
		{"bad endpoint port", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Endpoint = "1.2.3.4:99999"
			return s
		}, "Endpoint"},
		{"http endpoint", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Endpoint = "http://1.2.3.4:6443"
			return s
		}, "Endpoint"},
		{"no PKI", func(t *testing.T) Spec { s := initSpec(t, fixtureVersion, CloudInit); s.PKI = nil; return s }, "PKI"},
		{"bad pod CIDR", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Network.PodCIDR = "10.0.0.0/33"
			return s
		}, "Network.PodCIDR"},
		{"bad service CIDR", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Network.ServiceCIDR = "x"
			return s
		}, "Network.ServiceCIDR"},
		{"bad DNS domain", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Network.DNSDomain = "a..b"
			return s
		}, "Network.DNSDomain"},
		{"bad node name", func(t *testing.T) Spec { s := initSpec(t, fixtureVersion, CloudInit); s.Node.Name = "Node_1"; return s }, "Node.Name"},
		{"restricted label", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Node.Labels = map[string]string{"node-role.kubernetes.io/control-plane": ""}
			return s
		}, "Node.Labels"},
		{"bad label value", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Node.Labels = map[string]string{"a": "b c"}
			return s
		}, "Node.Labels[a]"},
		{"bad taint effect", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Node.Taints = []corev1.Taint{{Key: "a", Effect: "Never"}}
			return s
		}, "Node.Taints[0].Effect"},
		{"kubelet arg with dashes", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Node.KubeletExtraArgs = map[string]string{"--v": "2"}
			return s
		}, "Node.KubeletExtraArgs"},
		{"kubelet arg newline", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Node.KubeletExtraArgs = map[string]string{"v": "2\nrm -rf /"}
			return s
		}, "Node.KubeletExtraArgs[v]"},
		{"cloud-provider conflict", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Node.KubeletExtraArgs = map[string]string{"cloud-provider": "openstack"}
			return s
		}, "Node.KubeletExtraArgs"},
		{"bad SAN", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.APIServerCertSANs = []string{"not a name"}
			return s
		}, "APIServerCertSANs[0]"},
		{"bad gate", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.FeatureGates = map[string]bool{"a=b": true}
			return s
		}, "FeatureGates"},
		{"upload certs without key", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.UploadCertificates = true
			return s
		}, "CertificateKey"},
		{"bad token", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.BootstrapTokens = []BootstrapToken{{ID: "abc", Secret: "x"}}
			return s
		}, "BootstrapTokens[0]"},
		{"relative file", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Machine.Files = []File{{Path: "etc/x"}}
			return s
		}, "Machine.Files[0].Path"},
		{"file overrides kubeadm config", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Machine.Files = []File{{Path: KubeadmInitConfigPath}}
			return s
		}, "Machine.Files"},
		{"bad permissions", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Machine.Files = []File{{Path: "/x", Permissions: "rw-"}}
			return s
		}, "Machine.Files[0].Permissions"},
		{"empty command", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Machine.PreKubeadmCommands = []string{" "}
			return s
		}, "Machine.PreKubeadmCommands[0]"},
		{"bad user", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Machine.Users = []User{{Name: "Root!"}}
			return s
		}, "Machine.Users[0].Name"},
		{"bad ssh key", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Machine.Users = []User{{Name: "a", SSHAuthorizedKeys: []string{"hello"}}}
			return s
		}, "Machine.Users[0].SSHAuthorizedKeys[0]"},
		{"bad ntp", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Machine.NTP.Servers = []string{"a b"}
			return s
		}, "Machine.NTP.Servers[0]"},
		{"bad mount", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Machine.Mounts = []Mount{{Device: "/dev/vdb", MountPoint: "var/lib"}}
			return s
		}, "Machine.Mounts[0].MountPoint"},
		{"install with ignition", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, Ignition)
			s.Machine.Install = &Install{OS: Debian}
			return s
		}, "Machine.Install"},
		{"bad format", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Machine.Format = "yaml"
			return s
		}, "Machine.Format"},
		{"bad external etcd", func(t *testing.T) Spec {
			s := initSpec(t, fixtureVersion, CloudInit)
			s.Etcd = &ExternalEtcd{}
			return s
		}, "Etcd.Endpoints"},
		{"worker without pin", func(t *testing.T) Spec { s := workerSpec(t, fixtureVersion, CloudInit); s.CACertHashes = nil; return s }, "CACertHashes"},
		{"worker bad pin", func(t *testing.T) Spec {
			s := workerSpec(t, fixtureVersion, CloudInit)
			s.CACertHashes = []string{"md5:abc"}
			return s
		}, "CACertHashes[0]"},
		{"worker bad token", func(t *testing.T) Spec {
			s := workerSpec(t, fixtureVersion, CloudInit)
			s.Token.Secret = "short"
			return s
		}, "Token"},
		{"worker advertise address", func(t *testing.T) Spec {
			s := workerSpec(t, fixtureVersion, CloudInit)
			s.Node.AdvertiseAddress = "10.0.0.1"
			return s
		}, "Node.AdvertiseAddress"},
		{"control plane both", func(t *testing.T) Spec {
			s := cpSpec(t, fixtureVersion, CloudInit)
			s.CertificateKey = fixtureCertKey
			return s
		}, "CertificateKey"},
		{"control plane neither", func(t *testing.T) Spec { s := cpSpec(t, fixtureVersion, CloudInit); s.PKI = nil; return s }, "PKI"},
		{"control plane pin mismatch", func(t *testing.T) Spec {
			s := cpSpec(t, fixtureVersion, CloudInit)
			s.CACertHashes = []string{fixturePKI(t, ECDSAP256).CACertHash()}
			return s
		}, "CACertHashes"},
		{"kubelet may not set kubernetes.io/role", func(t *testing.T) Spec {
			s := initSpec(t, fixtureOld, CloudInit)
			s.Node.Name = "x"
			s.Node.Labels = map[string]string{"kubernetes.io/role": "x"}
			return s
		}, "Node.Labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec(t)
			if verr := Validate(spec); verr == nil {
				t.Errorf("Validate accepted what Render should refuse")
			}
			_, err := Render(spec)
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("err = %v, want *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if strings.Contains(err.Error(), fixtureToken) || strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestKubeadmAPIVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"v1.37.2", "kubeadm.k8s.io/v1beta4", nil},
		{"1.31.0", "kubeadm.k8s.io/v1beta4", nil},
		{"v1.38.0-alpha.1", "kubeadm.k8s.io/v1beta4", nil},
		{"v1.30.14", "kubeadm.k8s.io/v1beta3", nil},
		{"v1.22.0", "kubeadm.k8s.io/v1beta3", nil},
		{"v1.21.9", "", ErrUnsupportedVersion},
		{"v2.0.0", "", ErrUnsupportedVersion},
		{"v1.37", "", ErrInvalidSpec},
		{"", "", ErrInvalidSpec},
	}
	for _, tt := range tests {
		got, err := KubeadmAPIVersion(tt.in)
		if string(got) != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("KubeadmAPIVersion(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	_, err := Render(initSpec(t, "v1.19.0", CloudInit))
	if !errors.Is(err, ErrUnsupportedVersion) || !strings.Contains(err.Error(), "v1.22") {
		t.Errorf("old version: %v", err)
	}
}
