package userdata

import (
	"fmt"
	"regexp"
	"strings"
)

// Console markers of cloud-init (22.x–24.x). The user data rendered here is
// a runcmd list: cloud-init's runcmd module writes it as a script that the
// scripts-user module runs, so a failed kubeadm shows up as scripts-user
// failing (runcmd itself fails only when its config cannot be written).
var (
	consoleANSI     = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
	consoleStart    = regexp.MustCompile(`Cloud-init v\. \S+ running 'init`)
	consoleFinished = regexp.MustCompile(`Cloud-init v\. \S+ finished at`)
	// consoleModule: "Failed to run module scripts-user (scripts in ...)".
	consoleModule = regexp.MustCompile(`Failed to run module (runcmd|scripts-user|scripts-per-(?:boot|instance|once)|scripts-vendor)\b`)
	// consoleScript: older cloud-init's "Failed running /var/lib/cloud/instance/scripts/runcmd [1]".
	consoleScript = regexp.MustCompile(`Failed running (/var/lib/cloud/\S*scripts/\S+) \[(\d+)\]`)
	// consoleLog: cloud-init's own log lines ("2026-12-03 21:09:46,898 - util.py[WARNING]: ...").
	consoleLog = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - \S+\.py\[`)
	consoleErr = regexp.MustCompile(`(?i)\berror\b|\bfatal\b|\bfailed\b|\[ERROR`)
)

// Secrets a failed kubeadm (or a user's command) may print on the console.
var consoleSecrets = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(--token|--certificate-key|--discovery-token-ca-cert-hash)([ =])\S+`), "$1$2<redacted>"},
	{regexp.MustCompile(`(?i)\b(token|password|secret|certificate-?key|certificateKey)(["']?\s*[:=]\s*["']?)[^\s"',]+`), "$1$2<redacted>"},
	{regexp.MustCompile(`\b[a-z0-9]{6}\.[a-z0-9]{16}\b`), "<redacted>"}, // bootstrap token
	{regexp.MustCompile(`\b[0-9a-fA-F]{32,}\b`), "<redacted>"},          // certificate key, hashes
}

const consoleLineMax = 240

// BootFailed tells from a server's console log whether cloud-init has
// finished the last boot with the module that runs openstrap's user data
// (runcmd, via scripts-user) failed, so a caller waiting for the machine
// can stop at once instead of at its timeout. The reason names the failed
// module and the last error lines printed before it (such as kubeadm's
// "error: ..."), on one line, ANSI escapes stripped and anything that may
// be a token, certificate key or password redacted. A boot still running,
// or one that finished without such a failure, is not failed.
func BootFailed(console string) (reason string, failed bool) {
	var lines []string
	for _, l := range strings.Split(consoleANSI.ReplaceAllString(console, ""), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	// The last boot that finished, and only if no later boot started.
	end := -1
	for i := len(lines) - 1; i >= 0; i-- {
		if consoleStart.MatchString(lines[i]) && end < 0 {
			return "", false
		}
		if consoleFinished.MatchString(lines[i]) {
			end = i
			break
		}
	}
	if end < 0 {
		return "", false
	}
	start := 0
	for i := end - 1; i >= 0; i-- {
		if consoleStart.MatchString(lines[i]) || consoleFinished.MatchString(lines[i]) {
			start = i + 1
			break
		}
	}
	failedAt, what := -1, ""
	for i := start; i < end; i++ {
		if m := consoleModule.FindStringSubmatch(lines[i]); m != nil {
			failedAt, what = i, "cloud-init module "+m[1]+" failed"
			break
		}
		if m := consoleScript.FindStringSubmatch(lines[i]); m != nil {
			failedAt, what = i, fmt.Sprintf("cloud-init script %s exited with %s", m[1], m[2])
			break
		}
	}
	if failedAt < 0 {
		return "", false
	}
	// The output of the failed commands: the lines before the failure that
	// are not cloud-init's own; the last two that read like errors, else
	// the last two.
	var out, errs []string
	for _, l := range lines[start:failedAt] {
		if consoleLog.MatchString(l) || strings.HasPrefix(l, "Cloud-init v.") || strings.HasPrefix(l, "To see the stack trace of this error") {
			continue
		}
		out = append(out, l)
		if consoleErr.MatchString(l) {
			errs = append(errs, l)
		}
	}
	if len(errs) == 0 {
		errs = out
	}
	errs = errs[max(0, len(errs)-2):]
	for i, l := range errs {
		errs[i] = RedactConsole(l)
	}
	if len(errs) == 0 {
		return what, true
	}
	return what + ": " + strings.Join(errs, " | "), true
}

// RedactConsole hides what may be a secret in one console line (kubeadm
// init prints the join command with its --token and --certificate-key) and
// shortens it, so console lines can go into errors and logs.
func RedactConsole(l string) string {
	if strings.Contains(l, "-----BEGIN") || strings.Contains(l, "PRIVATE KEY") {
		return "<redacted line>"
	}
	for _, s := range consoleSecrets {
		l = s.re.ReplaceAllString(l, s.with)
	}
	if r := []rune(l); len(r) > consoleLineMax {
		l = string(r[:consoleLineMax]) + "…"
	}
	return l
}
