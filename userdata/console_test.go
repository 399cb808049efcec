package userdata

import (
	"strings"
	"testing"
)

// consoleTTLExpires is a node image's console after kubeadm init rejected its
// config (seen on 2026-12-03, fixed by c21c7a6).
const consoleTTLExpires = `[  OK  ] Started Apply the settings specified in cloud-config.
Cloud-init v. 22.4.2 running 'init' at Thu, 03 Dec 2026 21:09:40 +0000. Up 45873.10 seconds.
Cloud-init v. 22.4.2 running 'modules:config' at Thu, 03 Dec 2026 21:09:45 +0000. Up 45879.01 seconds.
Cloud-init v. 22.4.2 running 'modules:final' at Thu, 03 Dec 2026 21:09:46 +0000. Up 45879.73 seconds.
openstrap node image: cgroup v1 host: adding --ignore-preflight-errors=SystemVerification to kubeadm init
error: bootstrapTokens.0: Invalid value: "": the BootstrapToken .TTL and .Expires fields are mutually exclusive
To see the stack trace of this error execute with --v=5 or higher
2026-12-03 21:09:46,898 - cc_scripts_user.py[WARNING]: Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)
2026-12-03 21:09:46,898 - util.py[WARNING]: Running module scripts-user (<module 'cloudinit.config.cc_scripts_user' from '/usr/lib/python3/dist-packages/cloudinit/config/cc_scripts_user.py'>) failed
Cloud-init v. 22.4.2 finished at Thu, 03 Dec 2026 21:09:46 +0000. Datasource DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud][dsmode=net].  Up 45880.23 seconds
`

const consoleHealthy = `Cloud-init v. 22.4.2 running 'init' at Thu, 03 Dec 2026 21:09:40 +0000. Up 10.10 seconds.
Cloud-init v. 22.4.2 running 'modules:final' at Thu, 03 Dec 2026 21:09:46 +0000. Up 16.73 seconds.
[init] Using Kubernetes version: v1.37.2
[preflight] Running pre-flight checks
Your Kubernetes control-plane has initialized successfully!
  kubeadm join 10.6.0.10:6443 --token abcdef.0123456789abcdef \
	--discovery-token-ca-cert-hash sha256:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988 \
	--control-plane --certificate-key 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
Cloud-init v. 22.4.2 finished at Thu, 03 Dec 2026 21:10:46 +0000. Datasource DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud][dsmode=net].  Up 76.23 seconds
`

// consoleJoinFailed: a join whose error line carries the join command's secrets.
const consoleJoinFailed = "Cloud-init v. 23.1 running 'init' at Thu, 03 Dec 2026 21:09:40 +0000. Up 10.10 seconds.\n" +
	"Cloud-init v. 23.1 running 'modules:final' at Thu, 03 Dec 2026 21:09:46 +0000. Up 16.73 seconds.\n" +
	"[preflight] Running pre-flight checks\n" +
	"\x1b[0;31merror execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID \"abcdef\"\x1b[0m\n" +
	"failed: kubeadm join 10.6.0.10:6443 --token abcdef.0123456789abcdef --certificate-key 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n" +
	"2026-12-03 21:10:46,898 - cc_scripts_user.py[WARNING]: Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)\n" +
	"Cloud-init v. 23.1 finished at Thu, 03 Dec 2026 21:10:46 +0000. Datasource DataSourceNoCloud.  Up 76.23 seconds\n"

// consoleRuncmdFailed: older cloud-init, which names the runcmd script and its exit status.
const consoleRuncmdFailed = `Cloud-init v. 20.4.1 running 'init' at Thu, 03 Dec 2026 21:09:40 +0000. Up 10.10 seconds.
Cloud-init v. 20.4.1 running 'modules:final' at Thu, 03 Dec 2026 21:09:46 +0000. Up 16.73 seconds.
/var/lib/cloud/instance/scripts/runcmd: line 4: kubeadm: command not found
2026-12-03 21:09:47,001 - util.py[WARNING]: Failed running /var/lib/cloud/instance/scripts/runcmd [127]
2026-12-03 21:09:47,002 - cc_scripts_user.py[WARNING]: Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)
Cloud-init v. 20.4.1 finished at Thu, 03 Dec 2026 21:09:47 +0000. Datasource DataSourceNoCloud.  Up 17.23 seconds
`

func TestBootFailed(t *testing.T) {
	running := strings.SplitAfter(consoleTTLExpires, "openstrap node image")[0]
	tests := []struct {
		name, console string
		failed        bool
		want          []string // substrings of the reason
	}{
		{"kubeadm init config rejected", consoleTTLExpires, true, []string{
			"cloud-init module scripts-user failed",
			`error: bootstrapTokens.0: Invalid value: "": the BootstrapToken .TTL and .Expires fields are mutually exclusive`}},
		{"healthy boot", consoleHealthy, false, nil},
		{"boot still running", running, false, nil},
		{"nothing yet", "", false, nil},
		{"join failed, secrets on the console", consoleJoinFailed, true, []string{
			"cloud-init module scripts-user failed",
			"error execution phase preflight",
			"--token <redacted>", "--certificate-key <redacted>"}},
		{"runcmd script failed", consoleRuncmdFailed, true, []string{
			"cloud-init script /var/lib/cloud/instance/scripts/runcmd exited with 127",
			"kubeadm: command not found"}},
		{"failed boot, then a new boot running", consoleTTLExpires + "Cloud-init v. 22.4.2 running 'init-local' at Thu, 03 Dec 2026 21:12:00 +0000. Up 3.0 seconds.\n", false, nil},
		{"failed boot, then a healthy one", consoleTTLExpires + consoleHealthy, false, nil},
		{"healthy boot, then a failed one", consoleHealthy + consoleTTLExpires, true, []string{"BootstrapToken .TTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, failed := BootFailed(tt.console)
			if failed != tt.failed {
				t.Fatalf("BootFailed = %q, %v; want failed %v", reason, failed, tt.failed)
			}
			if !failed && reason != "" {
				t.Errorf("reason %q without a failure", reason)
			}
			for _, w := range tt.want {
				if !strings.Contains(reason, w) {
					t.Errorf("reason %q lacks %q", reason, w)
				}
			}
			for _, secret := range []string{"0123456789abcdef", "\x1b", "\n", "To see the stack trace", "util.py"} {
				if strings.Contains(reason, secret) {
					t.Errorf("reason %q holds %q", reason, secret)
				}
			}
		})
	}
}

func TestRedactConsole(t *testing.T) {
	for in, want := range map[string]string{
		"kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:abc": "kubeadm join 10.0.0.1:6443 --token <redacted> --discovery-token-ca-cert-hash <redacted>",
		"using token abcdef.0123456789abcdef":     "using token <redacted>",
		`certificateKey: "0a1b2c"`:                `certificateKey: "<redacted>"`,
		"-----BEGIN RSA PRIVATE KEY-----":         "<redacted line>",
		"error: bootstrapTokens.0: Invalid value": "error: bootstrapTokens.0: Invalid value",
		strings.Repeat("é", 300):                  strings.Repeat("é", consoleLineMax) + "…",
	} {
		if got := RedactConsole(in); got != want {
			t.Errorf("RedactConsole(%q) = %q, want %q", in, got, want)
		}
	}
}
