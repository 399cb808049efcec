package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// cloud-init headers.
const (
	cloudConfigHeader = "#cloud-config"
	jinjaHeader       = "## template: jinja"
	jinjaRawOpen      = "{% raw %}"
	jinjaRawClose     = "{% endraw %}"
)

// cloudConfig is the subset of cloud-init's #cloud-config schema openstrap writes.
type cloudConfig struct {
	WriteFiles []cloudFile          `json:"write_files,omitempty"`
	BootCmd    []cloudCommand       `json:"bootcmd,omitempty"`
	RunCmd     []cloudCommand       `json:"runcmd,omitempty"`
	Users      []cloudUser          `json:"users,omitempty"`
	NTP        *cloudNTP            `json:"ntp,omitempty"`
	DiskSetup  map[string]cloudDisk `json:"disk_setup,omitempty"`
	FSSetup    []cloudFS            `json:"fs_setup,omitempty"`
	Mounts     [][]string           `json:"mounts,omitempty"`
}

type cloudFile struct {
	Path        string `json:"path"`
	Owner       string `json:"owner,omitempty"`
	Permissions string `json:"permissions,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Append      bool   `json:"append,omitempty"`
	Content     string `json:"content"`
}

// cloudCommand is a runcmd/bootcmd entry: a shell string, or (when parsing) an
// argument list joined with spaces.
type cloudCommand string

func (c *cloudCommand) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = cloudCommand(s)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("command is neither a string nor a list of strings")
	}
	*c = cloudCommand(strings.Join(l, " "))
	return nil
}

type cloudUser struct {
	Name              string   `json:"name"`
	Groups            string   `json:"groups,omitempty"`
	Shell             string   `json:"shell,omitempty"`
	Sudo              string   `json:"sudo,omitempty"`
	LockPasswd        *bool    `json:"lock_passwd,omitempty"`
	SSHAuthorizedKeys []string `json:"ssh_authorized_keys,omitempty"`
}

type cloudNTP struct {
	Enabled *bool    `json:"enabled,omitempty"`
	Servers []string `json:"servers,omitempty"`
}

type cloudDisk struct {
	TableType string      `json:"table_type,omitempty"`
	Layout    cloudLayout `json:"layout"`
	Overwrite bool        `json:"overwrite,omitempty"`
}

// cloudLayout is cloud-init's disk layout: true (one partition) or a list of
// [percentage, type] pairs.
type cloudLayout []PartitionSpec

func (l cloudLayout) MarshalJSON() ([]byte, error) {
	if len(l) == 0 {
		return []byte("true"), nil
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, p := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		t := p.Type
		if t == "" {
			t = "83"
		}
		fmt.Fprintf(&b, "[%d,%q]", p.Percentage, t)
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

func (l *cloudLayout) UnmarshalJSON(b []byte) error {
	var whole bool
	if json.Unmarshal(b, &whole) == nil {
		*l = nil
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return err
	}
	for _, it := range items {
		var pct int
		if json.Unmarshal(it, &pct) == nil {
			*l = append(*l, PartitionSpec{Percentage: pct})
			continue
		}
		var pair []json.RawMessage
		if err := json.Unmarshal(it, &pair); err != nil || len(pair) != 2 {
			return fmt.Errorf("disk layout entry is not a percentage or [percentage, type]")
		}
		var p PartitionSpec
		if err := json.Unmarshal(pair[0], &p.Percentage); err != nil {
			return err
		}
		if json.Unmarshal(pair[1], &p.Type) != nil {
			var n int
			if err := json.Unmarshal(pair[1], &n); err != nil {
				return err
			}
			p.Type = fmt.Sprint(n)
		}
		*l = append(*l, p)
	}
	return nil
}

type cloudFS struct {
	Label      string   `json:"label,omitempty"`
	Filesystem string   `json:"filesystem"`
	Device     string   `json:"device"`
	Partition  string   `json:"partition,omitempty"`
	Overwrite  bool     `json:"overwrite,omitempty"`
	ExtraOpts  []string `json:"extra_opts,omitempty"`
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	// Writes to a bytes.Buffer cannot fail.
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// maxDecompressed bounds what gunzip inflates (a guard against gzip bombs).
const maxDecompressed = 4 << 20

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	// Bound decompression: Nova's limit keeps real user data far below this.
	out, err := io.ReadAll(io.LimitReader(zr, maxDecompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecompressed {
		return nil, fmt.Errorf("decompresses to more than %d bytes", maxDecompressed)
	}
	return out, nil
}

func hasJinja(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%") || strings.Contains(s, "{#")
}

// renderCloudInit writes the plan as #cloud-config YAML.
func renderCloudInit(p *plan) ([]byte, error) {
	cc := cloudConfig{}
	jinja := p.usesJinja()
	for _, f := range p.files {
		cf := cloudFile{Path: f.Path, Owner: f.Owner, Permissions: f.Permissions, Append: f.Append}
		if cf.Owner == "" {
			cf.Owner = "root:root"
		}
		if cf.Permissions == "" {
			cf.Permissions = "0644"
		}
		enc := f.Encoding
		// Jinja would render "{{" in plain content: carry such files encoded.
		// The kubeadm configuration stays plain so Jinja expressions in it (the node
		// name, Cluster API's provider-id) render.
		isConfig := f.Path == p.configPath
		if enc == EncodingPlain && !isConfig && (jinja && hasJinja(string(f.Content)) || !isPlainText(f.Content)) {
			enc = EncodingBase64
		}
		switch enc {
		case EncodingBase64:
			cf.Encoding, cf.Content = "b64", base64.StdEncoding.EncodeToString(f.Content)
		case EncodingGzipBase64:
			cf.Encoding, cf.Content = "gzip+b64", base64.StdEncoding.EncodeToString(gzipBytes(f.Content))
		default:
			cf.Content = string(f.Content)
		}
		cc.WriteFiles = append(cc.WriteFiles, cf)
	}
	raw := func(cmd string) cloudCommand {
		if jinja && hasJinja(cmd) {
			return cloudCommand(jinjaRawOpen + cmd + jinjaRawClose)
		}
		return cloudCommand(cmd)
	}
	m := p.machine
	for _, c := range m.BootCommands {
		cc.BootCmd = append(cc.BootCmd, raw(c))
	}
	for _, c := range p.installCommands {
		cc.RunCmd = append(cc.RunCmd, cloudCommand(c))
	}
	for _, c := range m.PreKubeadmCommands {
		cc.RunCmd = append(cc.RunCmd, raw(c))
	}
	cc.RunCmd = append(cc.RunCmd, cloudCommand(p.kubeadmCommand()+" && mkdir -p /run/cluster-api && echo success > "+SentinelPath))
	for _, c := range m.PostKubeadmCommands {
		cc.RunCmd = append(cc.RunCmd, raw(c))
	}
	for _, u := range m.Users {
		cu := cloudUser{Name: u.Name, Groups: strings.Join(u.Groups, ","), Shell: u.Shell, Sudo: u.Sudo, SSHAuthorizedKeys: u.SSHAuthorizedKeys}
		t := true
		cu.LockPasswd = &t
		cc.Users = append(cc.Users, cu)
	}
	if len(m.NTP.Servers) > 0 || m.NTP.Enabled != nil {
		en := m.NTP.Enabled
		if en == nil {
			t := true
			en = &t
		}
		cc.NTP = &cloudNTP{Enabled: en, Servers: m.NTP.Servers}
	}
	for _, d := range m.Partitions {
		if cc.DiskSetup == nil {
			cc.DiskSetup = map[string]cloudDisk{}
		}
		tt := d.TableType
		if tt == "" {
			tt = "gpt"
		}
		cc.DiskSetup[d.Device] = cloudDisk{TableType: tt, Layout: cloudLayout(d.Layout), Overwrite: d.Overwrite}
	}
	for _, f := range m.Filesystems {
		cc.FSSetup = append(cc.FSSetup, cloudFS{Label: f.Label, Filesystem: f.Filesystem, Device: f.Device,
			Partition: f.Partition, Overwrite: f.Overwrite, ExtraOpts: f.ExtraOpts})
	}
	for _, mt := range m.Mounts {
		fstype, opts := mt.FSType, mt.Options
		if fstype == "" {
			fstype = "auto"
		}
		if opts == "" {
			opts = "defaults,nofail"
		}
		cc.Mounts = append(cc.Mounts, []string{mt.Device, mt.MountPoint, fstype, opts})
	}
	body, err := yaml.Marshal(cc)
	if err != nil {
		return nil, fmt.Errorf("render cloud-config: %w", err)
	}
	var out bytes.Buffer
	if jinja {
		out.WriteString(jinjaHeader + "\n")
	}
	out.WriteString(cloudConfigHeader + "\n")
	out.Write(body)
	return out.Bytes(), nil
}

// isPlainText reports whether b is valid UTF-8 text that YAML can carry verbatim.
func isPlainText(b []byte) bool {
	s := string(b)
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r == '\r' || r == 0xfeff {
			return false
		}
	}
	return true
}

// usesJinja reports whether the kubeadm configuration holds Jinja expressions (the
// node name from the metadata, or ones the input carried) that cloud-init must render.
func (p *plan) usesJinja() bool {
	if p.nodeNameTemplate {
		return true
	}
	for _, f := range p.files {
		if f.Path == p.configPath {
			return hasJinja(string(f.Content))
		}
	}
	return false
}
