package userdata

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"

	"github.com/openstrap/openstrap/userdata/kubeadm"
)

// capiSpec is a KubeadmConfigSpec in the style of Cluster API Provider OpenStack's
// templates.
func capiSpec() *bootstrapv1.KubeadmConfigSpec {
	kubelet := []bootstrapv1.Arg{{Name: "cloud-provider", Value: ptr.To("external")}, {Name: "provider-id", Value: ptr.To("openstack:///'{{ instance_id }}'")}}
	return &bootstrapv1.KubeadmConfigSpec{
		ClusterConfiguration: bootstrapv1.ClusterConfiguration{
			APIServer: bootstrapv1.APIServer{
				ExtraArgs:    []bootstrapv1.Arg{{Name: "audit-log-maxage", Value: ptr.To("30")}},
				ExtraVolumes: []bootstrapv1.HostPathMount{{Name: "audit", HostPath: "/var/log/audit", MountPath: "/var/log/audit", PathType: corev1.HostPathDirectoryOrCreate}},
				ExtraEnvs:    &[]bootstrapv1.EnvVar{{EnvVar: corev1.EnvVar{Name: "HTTP_PROXY", Value: "http://proxy:3128"}}},
				CertSANs:     []string{"api.example.com"},
			},
			ControllerManager:               bootstrapv1.ControllerManager{ExtraArgs: []bootstrapv1.Arg{{Name: "cloud-provider", Value: ptr.To("external")}}},
			Etcd:                            bootstrapv1.Etcd{Local: bootstrapv1.LocalEtcd{DataDir: "/var/lib/etcddisk/etcd", ExtraArgs: []bootstrapv1.Arg{{Name: "quota-backend-bytes", Value: ptr.To("8589934592")}}}},
			CertificateValidityPeriodDays:   365,
			CACertificateValidityPeriodDays: 3650,
		},
		InitConfiguration: bootstrapv1.InitConfiguration{
			NodeRegistration: bootstrapv1.NodeRegistrationOptions{Name: "{{ local_hostname }}", KubeletExtraArgs: kubelet, ImagePullPolicy: corev1.PullIfNotPresent},
			Timeouts:         bootstrapv1.Timeouts{ControlPlaneComponentHealthCheckSeconds: ptr.To[int32](300)},
		},
		JoinConfiguration: bootstrapv1.JoinConfiguration{
			NodeRegistration: bootstrapv1.NodeRegistrationOptions{Name: "{{ local_hostname }}", KubeletExtraArgs: kubelet, Taints: &[]corev1.Taint{}},
		},
		Files: []bootstrapv1.File{
			{Path: "/etc/kubernetes/cloud.conf", Owner: "root", Permissions: "0600", ContentFrom: bootstrapv1.FileSource{Secret: bootstrapv1.SecretFileSource{Name: "demo-cloud-config", Key: "cloud.conf"}}},
			{Path: "/etc/motd", Content: "aGVsbG8K", Encoding: bootstrapv1.Base64},
		},
		DiskSetup: bootstrapv1.DiskSetup{
			Partitions:  []bootstrapv1.Partition{{Device: "/dev/vdb", Layout: ptr.To(true), TableType: "gpt", DiskLayout: []bootstrapv1.PartitionSpec{{Percentage: 100, PartitionType: bootstrapv1.PartitionTypeLinux}}}},
			Filesystems: []bootstrapv1.Filesystem{{Device: "/dev/vdb1", Filesystem: "ext4", Label: "etcd_disk"}},
		},
		Mounts:              []bootstrapv1.MountPoints{{"LABEL=etcd_disk", "/var/lib/etcddisk"}},
		PreKubeadmCommands:  []string{"echo pre"},
		PostKubeadmCommands: []string{"echo post"},
		Users:               []bootstrapv1.User{{Name: "capo", Sudo: "ALL=(ALL) NOPASSWD:ALL", SSHAuthorizedKeys: []string{"ssh-ed25519 AAAAC3Nza test"}}},
		NTP:                 bootstrapv1.NTP{Servers: []string{"pool.ntp.org"}},
		Verbosity:           ptr.To[int32](5),
	}
}

func capiInput(t *testing.T, role Role) KubeadmConfigInput {
	pki := fixturePKI(t, RSA2048)
	return KubeadmConfigInput{
		Role: role, Spec: capiSpec(), Cluster: "demo", KubernetesVersion: fixtureVersion, Endpoint: fixtureEP,
		Network: Network{PodCIDR: "192.168.0.0/16"}, PKI: pki, Token: fixtureTok(t), CACertHashes: []string{pki.CACertHash()},
		SecretData: map[string][]byte{"demo-cloud-config/cloud.conf": []byte("[Global]\nauth-url=https://keystone\n")},
	}
}

func TestFromKubeadmConfigSpec(t *testing.T) {
	kubeadmPath := kubeadmBinary(t)
	for _, role := range []Role{RoleInit, RoleControlPlane, RoleWorker} {
		for _, format := range []bootstrapv1.Format{bootstrapv1.CloudConfig, bootstrapv1.Ignition} {
			t.Run(string(role)+"-"+string(format), func(t *testing.T) {
				in := capiInput(t, role)
				in.Spec.Format = format
				if format == bootstrapv1.Ignition {
					// No partitioning and no Jinja (provider-id) in Ignition.
					in.Spec.DiskSetup.Partitions = nil
					for _, nr := range []*bootstrapv1.NodeRegistrationOptions{&in.Spec.InitConfiguration.NodeRegistration, &in.Spec.JoinConfiguration.NodeRegistration} {
						nr.KubeletExtraArgs = nr.KubeletExtraArgs[:1]
					}
				}
				spec, err := FromKubeadmConfigSpec(in)
				if err != nil {
					t.Fatal(err)
				}
				data, err := Render(spec)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				p, err := Parse(data, WithNodeName("demo-node-1"))
				if err != nil {
					t.Fatal(err)
				}
				if p.Role != role {
					t.Errorf("role %s", p.Role)
				}
				if !slices.Contains(p.KubeadmArgs(), "--v=5") {
					t.Errorf("verbosity not passed: %q", p.KubeadmCommand)
				}
				if got := string(p.Files["/etc/kubernetes/cloud.conf"].Content); !strings.Contains(got, "auth-url") {
					t.Errorf("contentFrom not resolved: %q", got)
				}
				if got := string(p.Files["/etc/motd"].Content); got != "hello\n" {
					t.Errorf("base64 file = %q", got)
				}
				if out, err := kubeadmValidate(t, kubeadmPath, p.Files[p.KubeadmConfigPath].Content); err != nil {
					t.Fatalf("kubeadm config validate: %v\n%s", err, out)
				}
				switch role {
				case RoleInit:
					c := p.Kubeadm.Cluster
					want := []kubeadm.Arg{{Name: "audit-log-maxage", Value: "30"}}
					if diff := cmp.Diff(want, c.APIServer.ExtraArgs); diff != "" {
						t.Errorf("apiserver args (-want +got):\n%s", diff)
					}
					if c.Etcd.Local == nil || c.Etcd.Local.DataDir != "/var/lib/etcddisk/etcd" || len(c.APIServer.ExtraEnvs) != 1 {
						t.Errorf("etcd/envs not mapped: %+v", c.Etcd)
					}
					if c.CertificateValidityPeriod.Duration != 365*24*time.Hour {
						t.Errorf("validity %v", c.CertificateValidityPeriod)
					}
					if p.Kubeadm.Init.Timeouts == nil || p.Kubeadm.Init.Timeouts.ControlPlaneComponentHealthCheck.Duration != 5*time.Minute {
						t.Errorf("timeouts not mapped")
					}
				case RoleWorker:
					if p.Kubeadm.Join.NodeRegistration.Taints == nil || len(p.Kubeadm.Join.NodeRegistration.Taints) != 0 {
						t.Errorf("empty taint list not kept: %v", p.Kubeadm.Join.NodeRegistration.Taints)
					}
					if pki, _ := p.PKI(); pki != nil {
						t.Error("worker got PKI")
					}
				}
			})
		}
	}
}

func TestFromKubeadmConfigSpecRejects(t *testing.T) {
	tests := map[string]struct {
		mut   func(*KubeadmConfigInput)
		field string
	}{
		"no spec":         {func(in *KubeadmConfigInput) { in.Spec = nil }, "Spec"},
		"bad role":        {func(in *KubeadmConfigInput) { in.Role = "etcd" }, "Role"},
		"template file":   {func(in *KubeadmConfigInput) { in.Spec.Files[1].ContentFormat = bootstrapv1.FileContentFormatTemplate }, "Spec.Files[1].ContentFormat"},
		"missing secret":  {func(in *KubeadmConfigInput) { in.SecretData = nil }, "Spec.Files[0].ContentFrom"},
		"bad base64":      {func(in *KubeadmConfigInput) { in.Spec.Files[1].Content = "%%%" }, "Spec.Files[1].Content"},
		"password":        {func(in *KubeadmConfigInput) { in.Spec.Users[0].Passwd = "x" }, "Spec.Users[0].Passwd"},
		"bad mount":       {func(in *KubeadmConfigInput) { in.Spec.Mounts = []bootstrapv1.MountPoints{{"x"}} }, "Spec.Mounts[0]"},
		"bad api arg":     {func(in *KubeadmConfigInput) { in.Spec.ClusterConfiguration.APIServer.ExtraArgs[0].Name = "--x" }, "Spec.ClusterConfiguration.APIServer.ExtraArgs[0].Name"},
		"algorithm clash": {func(in *KubeadmConfigInput) { in.Spec.ClusterConfiguration.EncryptionAlgorithm = "ECDSA-P256" }, "Spec.ClusterConfiguration.EncryptionAlgorithm"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			in := capiInput(t, RoleInit)
			tt.mut(&in)
			spec, err := FromKubeadmConfigSpec(in)
			if err == nil {
				_, err = Render(spec)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("err = %v, want field %s", err, tt.field)
			}
		})
	}
	in := capiInput(t, RoleWorker)
	in.Spec.Format = bootstrapv1.Ignition
	in.Spec.DiskSetup.Partitions = nil
	if _, err := Render(mustSpec(t, in)); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "Jinja") {
		t.Errorf("Jinja in Ignition: %v", err)
	}
	in = capiInput(t, RoleWorker)
	in.Spec.JoinConfiguration.Discovery.BootstrapToken.UnsafeSkipCAVerification = ptr.To(true)
	if _, err := FromKubeadmConfigSpec(in); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("unsafe skip CA verification: %v", err)
	}
}

func mustSpec(t *testing.T, in KubeadmConfigInput) Spec {
	t.Helper()
	s, err := FromKubeadmConfigSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
