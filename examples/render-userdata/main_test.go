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
		{"control plane reads the PKI", []string{"--role", "control-plane", "--endpoint", "10.6.0.10:6443", "--pki-dir", pkiDir, "--token", token}, exitOK, userdata.RoleControlPlane, ""},
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
			code := run(tt.args, &stdout, &stderr)
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
