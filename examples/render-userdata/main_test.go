package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openstrap/openstrap/userdata"
)

func TestRun(t *testing.T) {
	pkiDir := filepath.Join(t.TempDir(), "pki")
	const token = "abcdef.0123456789abcdef"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantRole userdata.Role
		wantErr  string
	}{
		{"init creates the PKI", []string{"--role", "init", "--endpoint", "10.6.0.10:6443", "--pki-dir", pkiDir}, exitOK, userdata.RoleInit, ""},
		{"control plane reads the PKI", []string{"--role", "control-plane", "--endpoint", "10.6.0.10:6443", "--pki-dir", pkiDir, "--token", token, "--keys-in-user-data"}, exitOK, userdata.RoleControlPlane, ""},
		{"control plane without a certificate key", []string{"--role", "control-plane", "--endpoint", "10.6.0.10:6443", "--pki-dir", pkiDir, "--token", token}, exitUsage, "", "--certificate-key-file"},
		{"control plane with both", []string{"--role", "control-plane", "--endpoint", "10.6.0.10:6443", "--pki-dir", pkiDir, "--token", token, "--keys-in-user-data", "--certificate-key", strings.Repeat("ab", 32)}, exitUsage, "", "exclusive"},
		{"worker ignition", []string{"--role", "worker", "--endpoint", "10.6.0.10:6443", "--pki-dir", pkiDir, "--token", token, "--format", "ignition"}, exitOK, userdata.RoleWorker, ""},
		{"worker v1beta3", []string{"--role", "worker", "--endpoint", "lb.example.com", "--ca-hash", "sha256:" + strings.Repeat("ab", 32), "--token", token, "--kubernetes-version", "v1.30.2"}, exitOK, userdata.RoleWorker, ""},
		{"bad role", []string{"--role", "etcd", "--endpoint", "x:1"}, exitUsage, "", "--role"},
		{"unknown flag", []string{"--bogus"}, exitUsage, "", "bogus"},
		{"worker without token", []string{"--role", "worker", "--endpoint", "x:1", "--pki-dir", pkiDir}, exitUsage, "", "--token"},
		{"worker without pin", []string{"--role", "worker", "--endpoint", "x:1", "--token", token}, exitUsage, "", "CACertHashes"},
		{"bad token", []string{"--role", "worker", "--endpoint", "x:1", "--token", "nope"}, exitUsage, "", "--token"},
		{"old version", []string{"--role", "init", "--endpoint", "x:1", "--pki-dir", pkiDir, "--kubernetes-version", "v1.20.0"}, exitUsage, "", "unsupported"},
		{"missing endpoint", []string{"--role", "init", "--pki-dir", pkiDir}, exitUsage, "", "Endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantErr)
			}
			if strings.Contains(stderr.String(), "0123456789abcdef") {
				t.Errorf("stderr leaks the token secret")
			}
			if tt.wantCode != exitOK {
				if stdout.Len() != 0 {
					t.Errorf("stdout not empty on failure")
				}
				return
			}
			p, err := userdata.Parse(stdout.Bytes())
			if err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			if p.Role != tt.wantRole {
				t.Errorf("role %s, want %s", p.Role, tt.wantRole)
			}
		})
	}
	if st, err := os.Stat(filepath.Join(pkiDir, "ca.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("PKI not created with 0600 keys: %v", err)
	}
}

// Secrets come from a file or stdin without a warning; the old flags still
// work and warn that the secret is visible in the process list.
func TestSecretsFromFileOrStdin(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	const token = "abcdef.0123456789abcdef"
	certKey, err := userdata.NewCertificateKey()
	if err != nil {
		t.Fatal(err)
	}
	tokenFile, keyFile := filepath.Join(dir, "token"), filepath.Join(dir, "certkey")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(certKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cp := []string{"--role", "control-plane", "--endpoint", "10.6.0.10:6443", "--pki-dir", pkiDir, "--gzip", "never"}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		warn     bool
		wantErr  string
	}{
		{"files", []string{"--token-file", tokenFile, "--certificate-key-file", keyFile}, "", exitOK, false, ""},
		{"token on stdin", []string{"--token-file", "-", "--certificate-key-file", keyFile}, token + "\n", exitOK, false, ""},
		{"key on stdin", []string{"--token-file", tokenFile, "--certificate-key-file", "-"}, certKey, exitOK, false, ""},
		{"old flags", []string{"--token", token, "--certificate-key", certKey}, "", exitOK, true, ""},
		{"both on stdin", []string{"--token-file", "-", "--certificate-key-file", "-"}, token, exitUsage, false, "stdin"},
		{"flag and file", []string{"--token", token, "--token-file", tokenFile}, "", exitUsage, false, "exclusive"},
		{"empty stdin", []string{"--token-file", "-", "--certificate-key-file", keyFile}, "", exitUsage, false, "empty"},
		{"missing file", []string{"--token-file", filepath.Join(dir, "nope"), "--certificate-key-file", keyFile}, "", exitFailure, false, "--token-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append(append([]string{}, cp...), tt.args...), strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if strings.Contains(stderr.String(), "0123456789abcdef") || strings.Contains(stderr.String(), certKey) {
				t.Error("stderr leaks a secret")
			}
			if got := strings.Contains(stderr.String(), "visible to other users"); got != tt.warn {
				t.Errorf("warning printed %t, want %t; stderr:\n%s", got, tt.warn, stderr.String())
			}
			if tt.wantCode != exitOK {
				if !strings.Contains(stderr.String(), tt.wantErr) {
					t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantErr)
				}
				return
			}
			for what, s := range map[string]string{"token": token, "certificate key": certKey} {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("user data lacks the %s", what)
				}
			}
			p, err := userdata.Parse(stdout.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			for path := range p.Files {
				if strings.HasSuffix(path, ".key") {
					t.Errorf("a join with the certificate key writes %s", path)
				}
			}
		})
	}
}

// A damaged PKI directory is an error, never replaced by a new CA.
func TestDamagedPKIIsNotReplaced(t *testing.T) {
	pkiDir := filepath.Join(t.TempDir(), "pki")
	args := []string{"--role", "init", "--endpoint", "10.6.0.10:6443", "--pki-dir", pkiDir}
	var stdout, stderr bytes.Buffer
	if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	caCert, err := os.ReadFile(filepath.Join(pkiDir, userdata.FileCACert))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(pkiDir, userdata.FileCAKey)); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(args, strings.NewReader(""), &stdout, &stderr); code == exitOK || !strings.Contains(stderr.String(), userdata.FileCAKey) {
		t.Errorf("exit %d with ca.key missing, want a failure naming it; stderr:\n%s", code, stderr.String())
	}
	if now, _ := os.ReadFile(filepath.Join(pkiDir, userdata.FileCACert)); !bytes.Equal(now, caCert) {
		t.Error("ca.crt was replaced")
	}
}
