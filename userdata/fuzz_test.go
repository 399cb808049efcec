package userdata

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/openstrap/openstrap/userdata/kubeadm"
)

// checkRenderResult is the fuzz oracle: Render never panics; a failure is a
// *FieldError naming a field, ErrUnsupportedVersion, or a *TooLargeError; a success
// parses back to the same role with the kubeadm configuration intact.
func checkRenderResult(t *testing.T, spec Spec, data []byte, err error) {
	t.Helper()
	if err != nil {
		var fe *FieldError
		var tl *TooLargeError
		switch {
		case errors.As(err, &fe):
			if fe.Field == "" {
				t.Fatalf("FieldError without a field: %v", err)
			}
		case errors.Is(err, ErrUnsupportedVersion), errors.As(err, &tl):
		default:
			t.Fatalf("error is neither a *FieldError nor a known error: %v", err)
		}
		return
	}
	p, perr := Parse(data)
	if perr != nil {
		t.Fatalf("rendered user data does not parse: %v", perr)
	}
	if p.Role != spec.Role() {
		t.Fatalf("role %s, want %s", p.Role, spec.Role())
	}
	if p.Kubeadm.APIVersion != kubeadm.V1Beta3 && p.Kubeadm.APIVersion != kubeadm.V1Beta4 {
		t.Fatalf("kubeadm API %q", p.Kubeadm.APIVersion)
	}
}

func FuzzRenderInit(f *testing.F) {
	f.Add("demo", "v1.37.2", "10.6.0.10:6443", "10.244.0.0/16", "10.96.0.0/12", "cluster.local", "", "node.kubernetes.io/pool", "cp", "max-pods", "50", "/etc/x", "hello", "echo hi", "api.example.com", false)
	f.Add("x", "1.30.0", "https://[2001:db8::1]:443", "fd00::/56", "", "", "cp-0", "a/b", "", "v", "2", "/opt/{{x}}", "{% raw %}", "echo '{{ a }}'", "1.2.3.4", true)
	f.Add("", "v1.21.0", "host", "bad", "bad", "..", "Node", "kubernetes.io/role", "x y", "--v", "\n", "rel", "", "", "not a name", false)
	pki := fixturePKI(f, RSA2048)
	tok := fixtureTok(f)
	f.Fuzz(func(t *testing.T, cluster, version, endpoint, pod, svc, domain, node, labelK, labelV, argK, argV, filePath, fileContent, cmd, san string, ignition bool) {
		format := CloudInit
		if ignition {
			format = Ignition
		}
		s := Init{
			Cluster: cluster, KubernetesVersion: version, Endpoint: endpoint, PKI: pki,
			BootstrapTokens: []BootstrapToken{tok},
			Network:         Network{PodCIDR: pod, ServiceCIDR: svc, DNSDomain: domain},
			Node: Node{Name: node, Labels: map[string]string{labelK: labelV},
				KubeletExtraArgs: map[string]string{argK: argV}},
			APIServerCertSANs: []string{san},
			Machine: Machine{Format: format, Files: []File{{Path: filePath, Content: []byte(fileContent)}},
				PreKubeadmCommands: []string{cmd}},
		}
		data, err := Render(s)
		checkRenderResult(t, s, data, err)
		if err == nil {
			p, _ := Parse(data)
			if got := string(p.Files[filePath].Content); got != fileContent {
				t.Fatalf("file content changed: %q -> %q", fileContent, got)
			}
			if !strings.Contains(strings.Join(p.Commands, "\n"), cmd) {
				t.Fatalf("command %q lost", cmd)
			}
		}
	})
}

func FuzzRenderJoin(f *testing.F) {
	pki := fixturePKI(f, RSA2048)
	f.Add("v1.37.2", "10.6.0.10:6443", "abcdef.0123456789abcdef", pki.CACertHash(), "", "example.com/taint", "NoSchedule", true, false)
	f.Add("v1.30.1", "lb.example.com", "abcdef.0123456789abcdeF", "sha256:00", "w-1", "a", "Never", false, true)
	f.Fuzz(func(t *testing.T, version, endpoint, token, pin, node, taintKey, effect string, controlPlane, ignition bool) {
		format := CloudInit
		if ignition {
			format = Ignition
		}
		tok, _ := ParseBootstrapToken(token)
		tok.ID, tok.Secret, _ = strings.Cut(token, ".")
		n := Node{Name: node}
		if taintKey != "" {
			n.Taints = append(n.Taints, taintFor(taintKey, effect))
		}
		var s Spec = JoinWorker{KubernetesVersion: version, Endpoint: endpoint, Token: tok, CACertHashes: []string{pin}, Node: n, Machine: Machine{Format: format}}
		if controlPlane {
			s = JoinControlPlane{KubernetesVersion: version, Endpoint: endpoint, Token: tok, CACertHashes: []string{pin}, Node: n,
				CertificateKey: fixtureCertKey, Machine: Machine{Format: format}}
		}
		data, err := Render(s)
		checkRenderResult(t, s, data, err)
		if err != nil && len(tok.Secret) > 3 {
			// The error may quote the other inputs, which may hold the
			// secret's text by chance: only the rest must not.
			msg := err.Error()
			for _, v := range []string{version, endpoint, pin, node, taintKey, effect} {
				if v != "" {
					msg = strings.ReplaceAll(msg, strconv.Quote(v), "<input>")
					msg = strings.ReplaceAll(msg, v, "<input>")
				}
			}
			if strings.Contains(msg, tok.Secret) {
				t.Fatalf("error repeats the token secret: %v", err)
			}
		}
	})
}

// FuzzParse: Parse never panics on arbitrary input.
func FuzzParse(f *testing.F) {
	for _, spec := range goldenCases(f) {
		data, err := Render(spec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("#cloud-config\nruncmd: [[1,2]]\n"))
	f.Add([]byte(`{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","contents":{"source":"data:,x","compression":"gzip"}}]}}`))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err == nil && p.KubeadmCommand == "" {
			t.Fatal("parsed without a kubeadm command")
		}
	})
}

func taintFor(key, effect string) corev1.Taint {
	return corev1.Taint{Key: key, Effect: corev1.TaintEffect(effect)}
}
