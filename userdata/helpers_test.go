package userdata

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite golden files and missing test fixtures under testdata/")

// Test fixtures. The keys under testdata/pki-* are TEST-ONLY keys generated for
// this package's golden files; they protect nothing.
const (
	fixtureToken   = "abcdef.0123456789abcdef"
	fixtureCertKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	fixtureVersion = "v1.37.2"
	fixtureOld     = "v1.30.14"
	fixtureEP      = "10.6.0.10:6443"
)

// fixturePKI loads testdata/pki-<alg>, creating it with -update.
func fixturePKI(t testing.TB, alg KeyAlgorithm) *ClusterPKI {
	t.Helper()
	dir := filepath.Join("testdata", "pki-"+string(alg))
	if _, err := os.Stat(dir); os.IsNotExist(err) && *update {
		p, err := NewClusterPKI(WithKeyAlgorithm(alg), WithCAValidity(30*365*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "README"), []byte("TEST FIXTURE ONLY: keys generated for openstrap's userdata golden tests. They protect nothing; never use them for a real cluster.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := LoadClusterPKI(dir)
	if err != nil {
		t.Fatalf("load fixture PKI (run go test -update once to create it): %v", err)
	}
	return p
}

func fixtureTok(t testing.TB) BootstrapToken {
	t.Helper()
	tok, err := ParseBootstrapToken(fixtureToken)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fullMachine exercises every OS-side field.
func fullMachine(f Format) Machine {
	m := Machine{
		Format: f,
		Files: []File{
			{Path: "/etc/openstrap/plain.conf", Owner: "root:root", Permissions: "0644", Content: []byte("key = value\n")},
			{Path: "/etc/openstrap/b64.bin", Permissions: "0600", Content: []byte{0, 1, 2, 0xff}, Encoding: EncodingBase64},
			{Path: "/etc/openstrap/big.txt", Content: []byte("compress me\ncompress me\n"), Encoding: EncodingGzipBase64},
		},
		BootCommands:        []string{"echo boot"},
		PreKubeadmCommands:  []string{"echo pre", "echo '{{ not jinja }}'"},
		PostKubeadmCommands: []string{"echo post"},
		Users: []User{{Name: "capi", SSHAuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests test@example"},
			Sudo: "ALL=(ALL) NOPASSWD:ALL", Groups: []string{"wheel"}, Shell: "/bin/bash"}},
		NTP:         NTP{Servers: []string{"ntp.example.com", "10.0.0.1"}},
		Filesystems: []Filesystem{{Device: "/dev/vdb", Filesystem: "ext4", Label: "etcd_disk", Overwrite: true}},
		Mounts:      []Mount{{Device: "LABEL=etcd_disk", MountPoint: "/var/lib/etcd"}},
	}
	if f != Ignition {
		m.Partitions = []Partition{{Device: "/dev/vdb", TableType: "gpt", Layout: []PartitionSpec{{Percentage: 100}}}}
		m.Install = &Install{OS: Debian, Containerd: true, Kubernetes: true}
	}
	return m
}

func initSpec(t testing.TB, version string, f Format) Init {
	return Init{
		Cluster:           "demo",
		KubernetesVersion: version,
		Endpoint:          fixtureEP,
		PKI:               fixturePKI(t, RSA2048),
		BootstrapTokens:   []BootstrapToken{fixtureTok(t)},
		Network:           Network{PodCIDR: "192.168.0.0/16"},
		Node: Node{
			Labels:                map[string]string{"node.kubernetes.io/pool": "cp", "example.com/tier": "gold"},
			KubeletExtraArgs:      map[string]string{"max-pods": "50"},
			ExternalCloudProvider: true,
		},
		APIServerCertSANs: []string{"api.demo.example.com", "203.0.113.10"},
		Machine:           fullMachine(f),
	}
}

func cpSpec(t testing.TB, version string, f Format) JoinControlPlane {
	pki := fixturePKI(t, RSA2048)
	return JoinControlPlane{
		Cluster: "demo", KubernetesVersion: version, Endpoint: fixtureEP,
		Token: fixtureTok(t), CACertHashes: []string{pki.CACertHash()}, PKI: pki,
		Node:    Node{ExternalCloudProvider: true},
		Machine: Machine{Format: f},
	}
}

func workerSpec(t testing.TB, version string, f Format) JoinWorker {
	pki := fixturePKI(t, RSA2048)
	return JoinWorker{
		Cluster: "demo", KubernetesVersion: version, Endpoint: fixtureEP,
		Token: fixtureTok(t), CACertHashes: []string{pki.CACertHash()},
		Node: Node{ExternalCloudProvider: true, Labels: map[string]string{"node.kubernetes.io/pool": "workers"},
			Taints: []corev1.Taint{{Key: "example.com/dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}}},
		Machine: Machine{Format: f},
	}
}
