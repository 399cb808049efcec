package userdata

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/userdata/kubeadm"
)

func TestParseRoundTripEveryRoleAndFormat(t *testing.T) {
	rsa := fixturePKI(t, RSA2048)
	for name, spec := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			out, err := RenderOutput(spec)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(out.Data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.Role != spec.Role() || p.Format != out.Format {
				t.Fatalf("role/format = %s/%s, want %s/%s", p.Role, p.Format, spec.Role(), out.Format)
			}
			wantAPI := kubeadm.V1Beta4
			if strings.Contains(name, "v1beta3") {
				wantAPI = kubeadm.V1Beta3
			}
			if p.Kubeadm.APIVersion != wantAPI {
				t.Errorf("kubeadm API = %s, want %s", p.Kubeadm.APIVersion, wantAPI)
			}
			// The kubeadm command runs with the configuration written, then the sentinel.
			cmdIdx := slices.IndexFunc(p.Commands, func(c string) bool { return strings.Contains(c, "kubeadm ") && strings.Contains(c, "--config") })
			if cmdIdx < 0 {
				t.Fatalf("no kubeadm command in %q", p.Commands)
			}
			if !strings.Contains(strings.Join(p.Commands[cmdIdx:], "\n"), "echo success > "+SentinelPath) {
				t.Errorf("no sentinel after the kubeadm command: %q", p.Commands[cmdIdx:])
			}
			cfg, ok := p.Files[p.KubeadmConfigPath]
			if !ok || cfg.Permissions != "0640" {
				t.Errorf("kubeadm configuration %s missing or not 0640: %v", p.KubeadmConfigPath, cfg)
			}
			// Keys are 0600; no private key on workers.
			for path, f := range p.Files {
				if bytes.Contains(f.Content, []byte("PRIVATE KEY")) {
					if spec.Role() == RoleWorker {
						t.Errorf("worker user data holds a private key in %s", path)
					}
					if f.Permissions != "0600" {
						t.Errorf("%s holds a private key with permissions %s", path, f.Permissions)
					}
				}
			}
			pki, err := p.PKI()
			if err != nil {
				t.Fatalf("PKI: %v", err)
			}
			switch s := spec.(type) {
			case Init:
				checkInit(t, p, s)
				if pki == nil || pki.CACertHash() != rsa.CACertHash() || !publicKeysEqual(pki.ServiceAccount.Key.Public(), rsa.ServiceAccount.Key.Public()) {
					t.Errorf("init PKI not carried intact")
				}
				if s.UploadCertificates != slices.Contains(p.KubeadmArgs(), "--upload-certs") {
					t.Errorf("--upload-certs = %v, want %v", p.KubeadmArgs(), s.UploadCertificates)
				}
			case JoinControlPlane:
				checkJoin(t, p, s.Endpoint, s.Token, s.CACertHashes, s.Node)
				if p.Kubeadm.Join.ControlPlane == nil || p.Kubeadm.Join.ControlPlane.CertificateKey != s.CertificateKey {
					t.Errorf("controlPlane = %+v, want certificate key set iff given", p.Kubeadm.Join.ControlPlane)
				}
				if (s.PKI != nil) != (pki != nil) {
					t.Errorf("PKI placed = %v, want %v", pki != nil, s.PKI != nil)
				}
			case JoinWorker:
				checkJoin(t, p, s.Endpoint, s.Token, s.CACertHashes, s.Node)
				if pki != nil || p.Kubeadm.Join.ControlPlane != nil {
					t.Errorf("worker has PKI or controlPlane")
				}
			}
		})
	}
}

func checkNode(t *testing.T, nr kubeadm.NodeRegistrationOptions, n Node, template bool) {
	t.Helper()
	wantName := n.Name
	if n.Name == "" {
		wantName = NodeNameFromMetadata
		if template {
			wantName = nr.Name // either template form
			if nr.Name != NodeNameFromMetadata && nr.Name != NodeNamePlaceholder {
				t.Errorf("node name %q is not a metadata template", nr.Name)
			}
		}
	}
	if nr.Name != wantName {
		t.Errorf("node name = %q, want %q", nr.Name, wantName)
	}
	args := map[string]string{}
	for _, a := range nr.KubeletExtraArgs {
		args[a.Name] = a.Value
	}
	if n.ExternalCloudProvider && args["cloud-provider"] != "external" {
		t.Errorf("kubelet cloud-provider = %q", args["cloud-provider"])
	}
	for k, v := range n.KubeletExtraArgs {
		if args[k] != v {
			t.Errorf("kubelet %s = %q, want %q", k, args[k], v)
		}
	}
	for k, v := range n.Labels {
		if !strings.Contains(","+args["node-labels"]+",", ","+k+"="+v+",") {
			t.Errorf("node-labels %q lacks %s=%s", args["node-labels"], k, v)
		}
	}
	if diff := cmp.Diff(n.Taints, nr.Taints); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
}

func checkInit(t *testing.T, p *Parsed, s Init) {
	t.Helper()
	d := p.Kubeadm
	if d.Init == nil || d.Cluster == nil || d.Kubelet == nil {
		t.Fatalf("init docs missing: %+v", d)
	}
	c := d.Cluster
	net := s.Network.withDefaults()
	want := kubeadm.Networking{PodSubnet: net.PodCIDR, ServiceSubnet: net.ServiceCIDR, DNSDomain: net.DNSDomain}
	if c.Networking != want || c.ClusterName != s.Cluster || c.KubernetesVersion != s.KubernetesVersion || c.ControlPlaneEndpoint != s.Endpoint {
		t.Errorf("ClusterConfiguration = %+v", c)
	}
	if diff := cmp.Diff(s.APIServerCertSANs, c.APIServer.CertSANs); diff != "" {
		t.Errorf("certSANs (-want +got):\n%s", diff)
	}
	toks, err := p.BootstrapTokens()
	if err != nil || len(toks) != len(s.BootstrapTokens) {
		t.Fatalf("tokens = %d, %v", len(toks), err)
	}
	for i := range toks {
		if toks[i].Value() != s.BootstrapTokens[i].Value() || toks[i].TTL != s.BootstrapTokens[i].TTL {
			t.Errorf("token %d differs", i)
		}
	}
	checkNode(t, d.Init.NodeRegistration, s.Node, p.NodeNameTemplate)
	m := s.Machine
	for _, f := range m.Files {
		got, ok := p.Files[f.Path]
		if !ok || !bytes.Equal(got.Content, f.Content) {
			t.Errorf("file %s not carried intact", f.Path)
			continue
		}
		if f.Permissions != "" && got.Permissions != f.Permissions {
			t.Errorf("file %s permissions %s, want %s", f.Path, got.Permissions, f.Permissions)
		}
	}
	cmds := strings.Join(p.Commands, "\n")
	for _, c := range append(slices.Clone(m.PreKubeadmCommands), m.PostKubeadmCommands...) {
		if !strings.Contains(cmds, c) {
			t.Errorf("command %q missing", c)
		}
	}
	if len(m.Users) > 0 {
		if diff := cmp.Diff(m.Users, p.Users); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
	}
	if diff := cmp.Diff(m.NTP.Servers, p.NTPServers); diff != "" {
		t.Errorf("NTP (-want +got):\n%s", diff)
	}
	if m.Install != nil && !strings.Contains(cmds, "kubeadm=1.37.2-*") && !strings.Contains(cmds, "kubeadm=1.30.14-*") {
		t.Errorf("pinned kubeadm install missing:\n%s", cmds)
	}
}

func checkJoin(t *testing.T, p *Parsed, endpoint string, tok BootstrapToken, hashes []string, n Node) {
	t.Helper()
	if p.Kubeadm.Join == nil || p.Kubeadm.Init != nil {
		t.Fatalf("join docs wrong: %+v", p.Kubeadm)
	}
	got, pins, err := p.JoinToken()
	if err != nil || got.Value() != tok.Value() {
		t.Fatalf("join token wrong (err %v)", err)
	}
	if diff := cmp.Diff(hashes, pins); diff != "" {
		t.Errorf("CA pins (-want +got):\n%s", diff)
	}
	if ep := p.Kubeadm.Join.Discovery.BootstrapToken.APIServerEndpoint; ep != endpoint {
		t.Errorf("apiServerEndpoint = %q, want %q", ep, endpoint)
	}
	checkNode(t, p.Kubeadm.Join.NodeRegistration, n, p.NodeNameTemplate)
}

func TestParseNodeNameSubstitution(t *testing.T) {
	for _, f := range []Format{CloudInit, Ignition} {
		data, err := Render(workerSpec(t, fixtureVersion, f))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(data, WithNodeName("worker-7"))
		if err != nil {
			t.Fatal(err)
		}
		if !p.NodeNameTemplate || p.Kubeadm.Join.NodeRegistration.Name != "worker-7" {
			t.Errorf("%s: template=%v name=%q", f, p.NodeNameTemplate, p.Kubeadm.Join.NodeRegistration.Name)
		}
	}
	// Ignition's boot script substitutes the placeholder before kubeadm runs.
	data, _ := Render(workerSpec(t, fixtureVersion, Ignition))
	p, _ := Parse(data)
	script := string(p.Files[IgnitionScriptPath].Content)
	sed := strings.Index(script, NodeNamePlaceholder)
	kadm := strings.Index(script, "kubeadm join")
	if sed < 0 || kadm < 0 || sed > kadm {
		t.Errorf("boot script does not replace the node name before kubeadm:\n%s", script)
	}
}

func TestCompression(t *testing.T) {
	big := make([]byte, 0, 120000)
	for i := 0; len(big) < 120000; i++ {
		big = fmt.Appendf(big, "line %d of a compressible file\n", i%50)
	}
	incompressible := make([]byte, 60000)
	for i := range incompressible {
		incompressible[i] = byte((i*7919 + i*i*31) >> 3 % 251)
	}
	tests := []struct {
		name        string
		format      Format
		compression Compression
		content     []byte
		wantGzip    bool
		wantTooBig  bool
	}{
		{"small stays plain", CloudInit, GzipIfNeeded, []byte("x"), false, false},
		{"always gzips", CloudInit, GzipAlways, []byte("x"), true, false},
		{"large gzips when needed", CloudInit, GzipIfNeeded, big, true, false},
		{"large without gzip fails", CloudInit, GzipNever, big, false, true},
		{"ignition large gzips files", Ignition, GzipIfNeeded, big, true, false},
		{"ignition always", Ignition, GzipAlways, []byte("x"), true, false},
		{"random data cannot fit", CloudInit, GzipIfNeeded, randomBytes(t, 60000), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := workerSpec(t, fixtureVersion, tt.format)
			s.Machine.Compression = tt.compression
			s.Machine.Files = []File{{Path: "/opt/payload", Content: tt.content, Encoding: EncodingBase64}}
			out, err := RenderOutput(s)
			if tt.wantTooBig {
				var tl *TooLargeError
				if !errors.As(err, &tl) || tl.Limit != NovaUserDataLimit || tl.Size <= NovaUserDataLimit {
					t.Fatalf("err = %v, want *TooLargeError over %d", err, NovaUserDataLimit)
				}
				if !strings.Contains(err.Error(), "65535") {
					t.Errorf("error %q does not name the limit", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Gzipped != tt.wantGzip || (tt.format == CloudInit && isGzip(out.Data) != tt.wantGzip) {
				t.Errorf("gzipped = %v (magic %v), want %v", out.Gzipped, isGzip(out.Data), tt.wantGzip)
			}
			if out.Base64Size != Base64Size(out.Data) || out.Base64Size > NovaUserDataLimit {
				t.Errorf("Base64Size = %d for %d bytes", out.Base64Size, len(out.Data))
			}
			p, err := Parse(out.Data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.Files["/opt/payload"].Content, tt.content) || p.Gzipped != tt.wantGzip {
				t.Errorf("payload not carried intact through compression (gzipped %v)", p.Gzipped)
			}
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	// Not crypto: a fixed xorshift sequence, incompressible enough for gzip.
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func TestCheckSize(t *testing.T) {
	if err := CheckSize(make([]byte, 49149)); err != nil { // 65532 base64
		t.Errorf("49149 bytes: %v", err)
	}
	var tl *TooLargeError
	if err := CheckSize(make([]byte, 49152)); !errors.As(err, &tl) || tl.Size != 65536 {
		t.Errorf("49152 bytes: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	tests := map[string]string{
		"not user data":       "hello",
		"no kubeadm":          "#cloud-config\nruncmd:\n- echo hi\n",
		"config not written":  "#cloud-config\nruncmd:\n- kubeadm join --config /run/kubeadm/x.yaml\n",
		"ignition v2":         `{"ignition":{"version":"2.3.0"}}`,
		"bad yaml":            "#cloud-config\nwrite_files: [\n",
		"bad encoding":        "#cloud-config\nwrite_files:\n- path: /a\n  encoding: rot13\n  content: x\n",
		"unknown api version": "#cloud-config\nwrite_files:\n- path: /k.yaml\n  content: |\n    apiVersion: kubeadm.k8s.io/v1beta2\n    kind: JoinConfiguration\nruncmd:\n- kubeadm join --config /k.yaml\n",
	}
	for name, in := range tests {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: Parse succeeded", name)
		}
	}
	// A gzip bomb is refused instead of inflated.
	bomb := gzipBytes(append([]byte("#cloud-config\n"), make([]byte, 64<<20)...))
	if _, err := Parse(bomb); err == nil || !strings.Contains(err.Error(), "decompresses to more than") {
		t.Errorf("gzip bomb: %v", err)
	}
}

func TestParseClusterAPIStyleCloudInit(t *testing.T) {
	// The shape Cluster API's kubeadm bootstrap provider writes (list commands,
	// gzip+b64 files, v1beta3).
	in := `## template: jinja
#cloud-config

write_files:
-   path: /run/kubeadm/kubeadm-join-config.yaml
    owner: root:root
    permissions: '0640'
    content: |
      ---
      apiVersion: kubeadm.k8s.io/v1beta3
      discovery:
        bootstrapToken:
          apiServerEndpoint: 10.0.0.1:6443
          caCertHashes:
          - sha256:` + strings.Repeat("ab", 32) + `
          token: abcdef.0123456789abcdef
        timeout: 5m0s
      kind: JoinConfiguration
      nodeRegistration:
        kubeletExtraArgs:
          cloud-provider: external
        name: '{{ ds.meta_data.local_hostname }}'
-   path: /run/cluster-api/placeholder
    owner: root:root
    permissions: '0640'
    encoding: gzip+b64
    content: H4sIAAAAAAAAAyvISUxOzcjPSUkt4gIAIIEs3AwAAAA=
runcmd:
  - [ "sh", "-c", "echo pre" ]
  - kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml  && echo success > /run/cluster-api/bootstrap-success.complete
`
	p, err := Parse([]byte(in), WithNodeName("n1"))
	if err != nil {
		t.Fatal(err)
	}
	j := p.Kubeadm.Join
	if p.Role != RoleWorker || p.Kubeadm.APIVersion != kubeadm.V1Beta3 || j.NodeRegistration.Name != "n1" {
		t.Fatalf("parsed %s %s %q", p.Role, p.Kubeadm.APIVersion, j.NodeRegistration.Name)
	}
	if j.Timeouts == nil || j.Timeouts.Discovery.Duration != 5*time.Minute {
		t.Errorf("discovery timeout not converted: %+v", j.Timeouts)
	}
	want := []kubeadm.Arg{{Name: "cloud-provider", Value: "external"}}
	if diff := cmp.Diff(want, j.NodeRegistration.KubeletExtraArgs); diff != "" {
		t.Errorf("kubelet args (-want +got):\n%s", diff)
	}
	if p.Commands[0] != "sh -c echo pre" {
		t.Errorf("list command = %q", p.Commands[0])
	}
	if f, ok := p.Files["/run/cluster-api/placeholder"]; !ok || string(f.Content) != "placeholder\n" {
		t.Errorf("gzip+b64 file = %q", f.Content)
	}
}
