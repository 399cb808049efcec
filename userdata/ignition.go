package userdata

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// IgnitionVersion is the Ignition config spec version openstrap writes (read by
// Flatcar 3510+ and Fedora CoreOS).
const IgnitionVersion = "3.3.0"

// The subset of the Ignition v3 config spec openstrap writes and reads.
type ignConfig struct {
	Ignition ignMeta    `json:"ignition"`
	Passwd   ignPasswd  `json:"passwd,omitempty"`
	Storage  ignStorage `json:"storage,omitempty"`
	Systemd  ignSystemd `json:"systemd,omitempty"`
}

type ignMeta struct {
	Version string `json:"version"`
}

type ignPasswd struct {
	Users []ignUser `json:"users,omitempty"`
}

type ignUser struct {
	Name              string   `json:"name"`
	SSHAuthorizedKeys []string `json:"sshAuthorizedKeys,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	Shell             string   `json:"shell,omitempty"`
}

type ignStorage struct {
	Files       []ignFile       `json:"files,omitempty"`
	Filesystems []ignFilesystem `json:"filesystems,omitempty"`
}

type ignFile struct {
	Path      string        `json:"path"`
	Overwrite *bool         `json:"overwrite,omitempty"`
	Mode      *int          `json:"mode,omitempty"`
	User      *ignNodeUser  `json:"user,omitempty"`
	Group     *ignNodeUser  `json:"group,omitempty"`
	Contents  *ignContents  `json:"contents,omitempty"`
	Append    []ignContents `json:"append,omitempty"`
}

type ignNodeUser struct {
	Name string `json:"name,omitempty"`
}

type ignContents struct {
	Source      string `json:"source,omitempty"`
	Compression string `json:"compression,omitempty"`
}

type ignFilesystem struct {
	Device         string   `json:"device"`
	Format         string   `json:"format,omitempty"`
	Label          string   `json:"label,omitempty"`
	WipeFilesystem bool     `json:"wipeFilesystem,omitempty"`
	Options        []string `json:"options,omitempty"`
}

type ignSystemd struct {
	Units []ignUnit `json:"units,omitempty"`
}

type ignUnit struct {
	Name     string `json:"name"`
	Enabled  *bool  `json:"enabled,omitempty"`
	Contents string `json:"contents,omitempty"`
}

// kubeadmUnit runs the bootstrap script after the network and containerd, until
// kubeadm has written the kubelet's kubeconfig (so not again after a reboot).
const kubeadmUnit = `[Unit]
Description=kubeadm bootstrap (openstrap)
Wants=network-online.target
After=network-online.target containerd.service
ConditionPathExists=!/etc/kubernetes/kubelet.conf

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=` + IgnitionScriptPath + `

[Install]
WantedBy=multi-user.target
`

// dataURL carries file contents as an RFC 2397 data URL: percent-encoded text
// (readable in reviews and golden files), base64 for binary, gzip when asked.
func dataURL(b []byte, gz bool) ignContents {
	if gz {
		return ignContents{Source: "data:;base64," + base64.StdEncoding.EncodeToString(gzipBytes(b)), Compression: "gzip"}
	}
	if !isPlainText(b) {
		return ignContents{Source: "data:;base64," + base64.StdEncoding.EncodeToString(b)}
	}
	return ignContents{Source: "data:," + percentEncode(b)}
}

// percentEncode keeps RFC 3986 unreserved characters and sub-delimiters (and ':',
// '@', '/') and percent-encodes everything else.
func percentEncode(b []byte) string {
	const keep = "-._~!$&'()*+,;=:@/"
	var sb strings.Builder
	for _, c := range b {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "%%%02X", c)
		}
	}
	return sb.String()
}

// bootScript is the shell script the Ignition unit runs: the same commands the
// cloud-init runcmd holds.
func bootScript(p *plan) string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n# Written by openstrap: kubeadm bootstrap.\nset -euo pipefail\n")
	for _, c := range p.machine.BootCommands {
		b.WriteString(c + "\n")
	}
	if p.nodeNameTemplate {
		// Node names must be lowercase DNS names; hostnames may not be.
		fmt.Fprintf(&b, "sed -i \"s/%s/$(hostname | tr '[:upper:]' '[:lower:]')/g\" %s\n", NodeNamePlaceholder, p.configPath)
	}
	for _, c := range p.machine.PreKubeadmCommands {
		b.WriteString(c + "\n")
	}
	b.WriteString(p.kubeadmCommand() + "\n")
	b.WriteString("mkdir -p /run/cluster-api && echo success > " + SentinelPath + "\n")
	for _, c := range p.machine.PostKubeadmCommands {
		b.WriteString(c + "\n")
	}
	return b.String()
}

func parseOwner(owner string) (*ignNodeUser, *ignNodeUser) {
	if owner == "" {
		owner = "root:root"
	}
	u, g, ok := strings.Cut(owner, ":")
	if !ok {
		g = u
	}
	return &ignNodeUser{Name: u}, &ignNodeUser{Name: g}
}

// renderIgnition writes the plan as Ignition JSON. gz compresses file contents
// (Ignition reads gzip-compressed data URLs; the config itself cannot be gzipped).
func renderIgnition(p *plan, gz bool) ([]byte, error) {
	for _, f := range p.files {
		if f.Path == p.configPath && hasJinja(string(f.Content)) {
			return nil, fieldErr("Node", "the kubeadm configuration holds Jinja expressions ({{ ... }}), which only cloud-init renders; Ignition has no templating")
		}
	}
	t := true
	cfg := ignConfig{Ignition: ignMeta{Version: IgnitionVersion}}
	files := append([]File{}, p.files...)
	files = append(files, File{Path: IgnitionScriptPath, Owner: "root:root", Permissions: "0700", Content: []byte(bootScript(p))})
	for _, f := range files {
		perm := f.Permissions
		if perm == "" {
			perm = "0644"
		}
		mode64, err := strconv.ParseInt(perm, 8, 32)
		if err != nil {
			return nil, fieldErr("Files", "permissions %q of %s are not octal", perm, f.Path)
		}
		mode := int(mode64)
		u, g := parseOwner(f.Owner)
		igf := ignFile{Path: f.Path, Mode: &mode, User: u, Group: g}
		c := dataURL(f.Content, gz || f.Encoding == EncodingGzipBase64)
		if f.Append {
			igf.Append = []ignContents{c}
		} else {
			igf.Overwrite = &t
			igf.Contents = &c
		}
		cfg.Storage.Files = append(cfg.Storage.Files, igf)
	}
	m := p.machine
	for _, u := range m.Users {
		cfg.Passwd.Users = append(cfg.Passwd.Users, ignUser{Name: u.Name, SSHAuthorizedKeys: u.SSHAuthorizedKeys, Groups: u.Groups, Shell: u.Shell})
		if u.Sudo != "" {
			mode := 0o440
			c := dataURL([]byte(u.Name+" "+u.Sudo+"\n"), false)
			ru, rg := parseOwner("")
			cfg.Storage.Files = append(cfg.Storage.Files, ignFile{Path: "/etc/sudoers.d/" + u.Name, Mode: &mode, Overwrite: &t, Contents: &c, User: ru, Group: rg})
		}
	}
	if len(m.NTP.Servers) > 0 && (m.NTP.Enabled == nil || *m.NTP.Enabled) {
		mode := 0o644
		c := dataURL([]byte("[Time]\nNTP="+strings.Join(m.NTP.Servers, " ")+"\n"), false)
		ru, rg := parseOwner("")
		cfg.Storage.Files = append(cfg.Storage.Files, ignFile{Path: "/etc/systemd/timesyncd.conf.d/openstrap.conf", Mode: &mode, Overwrite: &t, Contents: &c, User: ru, Group: rg})
	}
	for _, f := range m.Filesystems {
		cfg.Storage.Filesystems = append(cfg.Storage.Filesystems, ignFilesystem{Device: f.Device, Format: f.Filesystem,
			Label: f.Label, WipeFilesystem: f.Overwrite, Options: f.ExtraOpts})
	}
	for _, mt := range m.Mounts {
		fstype := mt.FSType
		if fstype == "" {
			fstype = "ext4"
		}
		what := mt.Device
		if l, ok := strings.CutPrefix(what, "LABEL="); ok {
			what = "/dev/disk/by-label/" + l
		}
		unit := "[Unit]\nBefore=local-fs.target\n\n[Mount]\nWhat=" + what + "\nWhere=" + mt.MountPoint + "\nType=" + fstype + "\n"
		if mt.Options != "" {
			unit += "Options=" + mt.Options + "\n"
		}
		unit += "\n[Install]\nRequiredBy=local-fs.target\n"
		cfg.Systemd.Units = append(cfg.Systemd.Units, ignUnit{Name: mountUnitName(mt.MountPoint), Enabled: &t, Contents: unit})
	}
	cfg.Systemd.Units = append(cfg.Systemd.Units, ignUnit{Name: "kubeadm.service", Enabled: &t, Contents: kubeadmUnit})
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render ignition: %w", err)
	}
	return append(b, '\n'), nil
}

// mountUnitName is systemd's unit name for a mount point (systemd-escape --path).
func mountUnitName(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return "-.mount"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || (c == '.' && i > 0):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String() + ".mount"
}

// decodeDataURL reads an RFC 2397 data URL as Ignition writes it.
func decodeDataURL(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "data:")
	if !ok {
		return nil, fmt.Errorf("source is not a data URL (remote sources are not read)")
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, fmt.Errorf("data URL without a comma")
	}
	if strings.HasSuffix(meta, ";base64") {
		return base64.StdEncoding.DecodeString(data)
	}
	u, err := url.PathUnescape(data)
	if err != nil {
		return nil, err
	}
	return []byte(u), nil
}
