package kubeadm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func sample() Documents {
	return Documents{
		Init: &InitConfiguration{
			BootstrapTokens:  []BootstrapToken{{Token: "abcdef.0123456789abcdef", TTL: Duration(time.Hour), Usages: []string{"signing"}}},
			NodeRegistration: NodeRegistrationOptions{Name: "n", KubeletExtraArgs: []Arg{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}},
			Timeouts:         &Timeouts{ControlPlaneComponentHealthCheck: Duration(5 * time.Minute)},
		},
		Cluster: &ClusterConfiguration{
			KubernetesVersion: "v1.30.1", ClusterName: "demo", ControlPlaneEndpoint: "lb:6443",
			Networking:        Networking{PodSubnet: "10.244.0.0/16"},
			APIServer:         APIServer{ControlPlaneComponent: ControlPlaneComponent{ExtraArgs: []Arg{{Name: "v", Value: "2"}}}, CertSANs: []string{"x"}},
			ControllerManager: ControlPlaneComponent{ExtraArgs: []Arg{{Name: "cloud-provider", Value: "external"}}},
			Etcd:              Etcd{Local: &LocalEtcd{DataDir: "/var/lib/etcd", ExtraArgs: []Arg{{Name: "quota-backend-bytes", Value: "8589934592"}}}},
			FeatureGates:      map[string]bool{"RootlessControlPlane": false},
		},
		Kubelet: &KubeletConfiguration{CgroupDriver: "systemd"},
	}
}

func TestV1Beta3RoundTrip(t *testing.T) {
	d := sample()
	d.APIVersion = V1Beta3
	b, err := Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"apiVersion: kubeadm.k8s.io/v1beta3", "kubeletExtraArgs:\n    a: \"1\"", "timeoutForControlPlane: 5m0s", "extraArgs:\n    v: \"2\""} {
		if !strings.Contains(s, want) {
			t.Errorf("v1beta3 output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "timeouts:") {
		t.Errorf("v1beta3 output has v1beta4 timeouts:\n%s", s)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	want.APIVersion = V1Beta3
	ignoreMeta := cmpopts.IgnoreTypes(metav1.TypeMeta{})
	if diff := cmp.Diff(want, *got, ignoreMeta); diff != "" {
		t.Errorf("v1beta3 round trip (-want +got):\n%s", diff)
	}
}

func TestV1Beta4RoundTrip(t *testing.T) {
	d := sample()
	d.APIVersion = V1Beta4
	d.Join = &JoinConfiguration{Discovery: Discovery{BootstrapToken: &BootstrapTokenDiscovery{Token: "abcdef.0123456789abcdef", CACertHashes: []string{"sha256:aa"}}},
		ControlPlane: &JoinControlPlane{CertificateKey: "k"}, NodeRegistration: NodeRegistrationOptions{Taints: []corev1.Taint{}}}
	b, err := Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, *got, cmpopts.IgnoreTypes(metav1.TypeMeta{})); diff != "" {
		t.Errorf("v1beta4 round trip (-want +got):\n%s", diff)
	}
	// An empty taint list (no taints) must stay distinct from nil (kubeadm default).
	if !strings.Contains(string(b), "taints: []") || got.Join.NodeRegistration.Taints == nil {
		t.Errorf("empty taints lost:\n%s", b)
	}
}

func TestV1Beta3Limits(t *testing.T) {
	tests := map[string]func(*Documents){
		"repeated arg": func(d *Documents) {
			d.Cluster.APIServer.ExtraArgs = []Arg{{Name: "a", Value: "1"}, {Name: "a", Value: "2"}}
		},
		"extra envs": func(d *Documents) {
			d.Cluster.Scheduler.ExtraEnvs = []EnvVar{{Name: "A", Value: "b"}}
		},
		"validity": func(d *Documents) { d.Cluster.CertificateValidityPeriod = Duration(time.Hour) },
		"rsa-4096": func(d *Documents) { d.Cluster.EncryptionAlgorithm = "RSA-4096" },
	}
	for name, mut := range tests {
		d := sample()
		d.APIVersion = V1Beta3
		mut(&d)
		if _, err := Marshal(d); err == nil {
			t.Errorf("%s: v1beta3 marshal succeeded", name)
		}
	}
	d := sample()
	d.APIVersion = V1Beta3
	d.Cluster.EncryptionAlgorithm = "ECDSA-P256"
	d.Cluster.Proxy.Disabled = true
	b, err := Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "PublicKeysECDSA: true") || !strings.Contains(string(b), "addon/kube-proxy") {
		t.Errorf("ECDSA or disabled proxy not expressed in v1beta3:\n%s", b)
	}
	if _, err := Marshal(Documents{APIVersion: "kubeadm.k8s.io/v1beta2"}); !errors.Is(err, ErrUnknownAPIVersion) {
		t.Errorf("v1beta2: %v", err)
	}
	if _, err := Unmarshal([]byte("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n---\napiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n")); err == nil {
		t.Error("mixed versions accepted")
	}
}

func TestTokenRedaction(t *testing.T) {
	bt := BootstrapToken{Token: "abcdef.0123456789abcdef"}
	if s := bt.String(); strings.Contains(s, "0123456789abcdef") || !strings.Contains(s, "abcdef") {
		t.Errorf("String() = %q", s)
	}
}
