package userdata

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestIgnitionDocument(t *testing.T) {
	data, err := Render(initSpec(t, fixtureVersion, Ignition))
	if err != nil {
		t.Fatal(err)
	}
	// Decode generically: the checks below use the Ignition spec's field names, not
	// this package's structs.
	var doc struct {
		Ignition struct{ Version string }
		Passwd   struct {
			Users []struct {
				Name              string
				SSHAuthorizedKeys []string `json:"sshAuthorizedKeys"`
			}
		}
		Storage struct {
			Files []struct {
				Path  string
				Mode  int
				User  struct{ Name string }
				Group struct{ Name string }
			}
			Filesystems []struct{ Device, Format, Label string }
		}
		Systemd struct {
			Units []struct {
				Name     string
				Enabled  bool
				Contents string
			}
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Ignition.Version != IgnitionVersion || !strings.HasPrefix(IgnitionVersion, "3.") {
		t.Errorf("version %q", doc.Ignition.Version)
	}
	modes := map[string]int{}
	for _, f := range doc.Storage.Files {
		modes[f.Path] = f.Mode
		if f.User.Name == "" || f.Group.Name == "" {
			t.Errorf("%s has no owner", f.Path)
		}
	}
	for path, want := range map[string]int{PKIDir + "/ca.key": 0o600, PKIDir + "/ca.crt": 0o644, IgnitionInitConfigPath: 0o640, IgnitionScriptPath: 0o700, "/etc/sudoers.d/capi": 0o440} {
		if modes[path] != want {
			t.Errorf("%s mode %o, want %o", path, modes[path], want)
		}
	}
	units := map[string]string{}
	for _, u := range doc.Systemd.Units {
		if !u.Enabled {
			t.Errorf("unit %s not enabled", u.Name)
		}
		units[u.Name] = u.Contents
	}
	if !strings.Contains(units["kubeadm.service"], "ExecStart="+IgnitionScriptPath) {
		t.Errorf("kubeadm.service = %q", units["kubeadm.service"])
	}
	if !strings.Contains(units["var-lib-etcd.mount"], "What=/dev/disk/by-label/etcd_disk") {
		t.Errorf("mount unit = %q (units %v)", units["var-lib-etcd.mount"], units)
	}
	if len(doc.Passwd.Users) != 1 || doc.Passwd.Users[0].Name != "capi" || len(doc.Passwd.Users[0].SSHAuthorizedKeys) != 1 {
		t.Errorf("users = %+v", doc.Passwd.Users)
	}
	if len(doc.Storage.Filesystems) != 1 || doc.Storage.Filesystems[0].Format != "ext4" {
		t.Errorf("filesystems = %+v", doc.Storage.Filesystems)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	script := string(p.Files[IgnitionScriptPath].Content)
	order := []string{"set -euo pipefail", "echo pre", "kubeadm init --config " + IgnitionInitConfigPath, "echo success > " + SentinelPath, "echo post"}
	last := -1
	for _, s := range order {
		i := strings.Index(script, s)
		if i <= last {
			t.Fatalf("script out of order at %q:\n%s", s, script)
		}
		last = i
	}
}

func TestMountUnitName(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/etcd":       "var-lib-etcd.mount",
		"/":                   "-.mount",
		"/mnt/data-disk":      `mnt-data\x2ddisk.mount`,
		"/srv/.hidden/a b":    `srv-.hidden-a\x20b.mount`,
		"/var/lib/kubelet_x1": "var-lib-kubelet_x1.mount",
	} {
		if got := mountUnitName(in); got != want {
			t.Errorf("mountUnitName(%q) = %q, want %q", in, got, want)
		}
	}
}
