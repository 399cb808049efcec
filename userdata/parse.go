package userdata

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/openstrap/openstrap/userdata/kubeadm"
)

// ErrUnknownFormat is returned by Parse for data that is neither #cloud-config nor
// Ignition JSON.
var ErrUnknownFormat = errors.New("user data is neither #cloud-config nor Ignition")

// ParsedFile is one file the user data writes. Content is decoded.
type ParsedFile struct {
	Path        string
	Owner       string
	Permissions string
	Content     []byte
	Append      bool
}

// String does not print the content.
func (f ParsedFile) String() string {
	return fmt.Sprintf("ParsedFile{%s %s %s, %d bytes}", f.Path, f.Owner, f.Permissions, len(f.Content))
}

// Parsed is user data read back: what a machine booting it would do. It holds
// secrets (keys, tokens); String and %v redact them.
type Parsed struct {
	Format Format
	// Gzipped is true when the data (cloud-init) or its files (Ignition) were compressed.
	Gzipped bool
	Role    Role
	// KubeadmConfigPath is where the kubeadm configuration is written.
	KubeadmConfigPath string
	// Kubeadm is the kubeadm configuration in the v1beta4 shape; Kubeadm.APIVersion
	// is the version it was written in.
	Kubeadm kubeadm.Documents
	// KubeadmCommand is the `kubeadm init|join ...` command line.
	KubeadmCommand string
	// Files maps path to file, in write order in FilePaths.
	Files     map[string]ParsedFile
	FilePaths []string
	// BootCommands and Commands are the commands run at boot, in order (cloud-init
	// bootcmd and runcmd; for Ignition the lines of the bootstrap script).
	BootCommands []string
	Commands     []string
	Users        []User
	NTPServers   []string
	// NodeNameTemplate is true when the node name is taken from the metadata at
	// boot (see WithNodeName).
	NodeNameTemplate bool
}

// String redacts everything secret.
func (p *Parsed) String() string {
	if p == nil {
		return "Parsed{<nil>}"
	}
	return fmt.Sprintf("Parsed{%s %s, kubeadm %s, %d files, %d commands}", p.Format, p.Role, p.Kubeadm.APIVersion, len(p.Files), len(p.Commands))
}

// GoString redacts everything secret.
func (p *Parsed) GoString() string { return p.String() }

// ParseOption changes Parse.
type ParseOption func(*parseOptions)

type parseOptions struct{ nodeName string }

// WithNodeName substitutes the node name a machine would take from its metadata
// (the cloud-init Jinja expression or the Ignition placeholder) with name, as
// cloud-init or the boot script would.
func WithNodeName(name string) ParseOption { return func(o *parseOptions) { o.nodeName = name } }

// Parse reads user data rendered by this package (or by Cluster API's kubeadm
// bootstrap provider): #cloud-config YAML, possibly gzip-compressed and possibly a
// Jinja template, or Ignition v3 JSON.
func Parse(data []byte, opts ...ParseOption) (*Parsed, error) {
	var o parseOptions
	for _, opt := range opts {
		opt(&o)
	}
	p := &Parsed{Files: map[string]ParsedFile{}}
	if isGzip(data) {
		d, err := gunzip(data)
		if err != nil {
			return nil, fmt.Errorf("parse user data: gzip: %w", err)
		}
		data, p.Gzipped = d, true
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	var err error
	switch {
	case bytes.HasPrefix(trimmed, []byte("{")):
		p.Format = Ignition
		err = p.parseIgnition(trimmed)
	case bytes.HasPrefix(trimmed, []byte(jinjaHeader)) || bytes.HasPrefix(trimmed, []byte(cloudConfigHeader)):
		p.Format = CloudInit
		err = p.parseCloudInit(trimmed, o)
	default:
		return nil, fmt.Errorf("parse user data: %w", ErrUnknownFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s user data: %w", p.Format, err)
	}
	if err := p.findKubeadm(o); err != nil {
		return nil, fmt.Errorf("parse %s user data: %w", p.Format, err)
	}
	return p, nil
}

func (p *Parsed) addFile(f ParsedFile) {
	if prev, ok := p.Files[f.Path]; ok && f.Append {
		prev.Content = append(slices.Clone(prev.Content), f.Content...)
		p.Files[f.Path] = prev
		return
	}
	if _, ok := p.Files[f.Path]; !ok {
		p.FilePaths = append(p.FilePaths, f.Path)
	}
	p.Files[f.Path] = f
}

func (p *Parsed) parseCloudInit(data []byte, o parseOptions) error {
	text := string(data)
	if first, rest, _ := strings.Cut(text, "\n"); strings.TrimSpace(first) == jinjaHeader {
		text = rest
		// Undo the raw blocks that protect user content from Jinja.
		text = strings.ReplaceAll(strings.ReplaceAll(text, jinjaRawOpen, ""), jinjaRawClose, "")
	}
	if !strings.HasPrefix(strings.TrimLeft(text, " \t\r\n"), cloudConfigHeader) {
		return errors.New("missing #cloud-config header")
	}
	var cc cloudConfig
	if err := yaml.Unmarshal([]byte(text), &cc); err != nil {
		return fmt.Errorf("YAML: %w", err)
	}
	for i, f := range cc.WriteFiles {
		content, err := decodeCloudContent(f.Encoding, f.Content)
		if err != nil {
			return fmt.Errorf("write_files[%d] %s: %w", i, f.Path, err)
		}
		p.addFile(ParsedFile{Path: f.Path, Owner: f.Owner, Permissions: f.Permissions, Content: content, Append: f.Append})
	}
	for _, c := range cc.BootCmd {
		p.BootCommands = append(p.BootCommands, string(c))
	}
	for _, c := range cc.RunCmd {
		p.Commands = append(p.Commands, string(c))
	}
	for _, u := range cc.Users {
		var groups []string
		if u.Groups != "" {
			groups = strings.Split(u.Groups, ",")
		}
		p.Users = append(p.Users, User{Name: u.Name, SSHAuthorizedKeys: u.SSHAuthorizedKeys, Sudo: u.Sudo, Groups: groups, Shell: u.Shell})
	}
	if cc.NTP != nil {
		p.NTPServers = cc.NTP.Servers
	}
	return nil
}

func decodeCloudContent(enc, content string) ([]byte, error) {
	switch strings.ToLower(enc) {
	case "", "text/plain":
		return []byte(content), nil
	case "b64", "base64":
		return base64.StdEncoding.DecodeString(content)
	case "gz", "gzip":
		return gunzip([]byte(content))
	case "gz+b64", "gz+base64", "gzip+b64", "gzip+base64":
		b, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return nil, err
		}
		return gunzip(b)
	default:
		return nil, fmt.Errorf("unknown encoding %q", enc)
	}
}

func (p *Parsed) parseIgnition(data []byte) error {
	var cfg ignConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("JSON: %w", err)
	}
	if !strings.HasPrefix(cfg.Ignition.Version, "3.") {
		return fmt.Errorf("ignition.version %q is not 3.x", cfg.Ignition.Version)
	}
	for i, f := range cfg.Storage.Files {
		var contents []ignContents
		if f.Contents != nil {
			contents = append(contents, *f.Contents)
		}
		contents = append(contents, f.Append...)
		var all []byte
		for _, c := range contents {
			b, err := decodeDataURL(c.Source)
			if err != nil {
				return fmt.Errorf("storage.files[%d] %s: %w", i, f.Path, err)
			}
			switch c.Compression {
			case "":
			case "gzip":
				if b, err = gunzip(b); err != nil {
					return fmt.Errorf("storage.files[%d] %s: %w", i, f.Path, err)
				}
				p.Gzipped = true
			default:
				return fmt.Errorf("storage.files[%d] %s: unknown compression %q", i, f.Path, c.Compression)
			}
			all = append(all, b...)
		}
		pf := ParsedFile{Path: f.Path, Content: all, Append: f.Contents == nil && len(f.Append) > 0}
		if f.Mode != nil {
			pf.Permissions = fmt.Sprintf("%04o", *f.Mode)
		}
		if f.User != nil && f.User.Name != "" {
			pf.Owner = f.User.Name
			if f.Group != nil && f.Group.Name != "" {
				pf.Owner += ":" + f.Group.Name
			}
		}
		p.addFile(pf)
	}
	for _, u := range cfg.Passwd.Users {
		usr := User{Name: u.Name, SSHAuthorizedKeys: u.SSHAuthorizedKeys, Groups: u.Groups, Shell: u.Shell}
		if f, ok := p.Files["/etc/sudoers.d/"+u.Name]; ok {
			usr.Sudo = strings.TrimSpace(strings.TrimPrefix(string(f.Content), u.Name+" "))
		}
		p.Users = append(p.Users, usr)
	}
	if f, ok := p.Files["/etc/systemd/timesyncd.conf.d/openstrap.conf"]; ok {
		for _, line := range strings.Split(string(f.Content), "\n") {
			if v, ok := strings.CutPrefix(line, "NTP="); ok {
				p.NTPServers = strings.Fields(v)
			}
		}
	}
	if f, ok := p.Files[IgnitionScriptPath]; ok {
		for _, line := range strings.Split(string(f.Content), "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "set -") {
				continue
			}
			p.Commands = append(p.Commands, line)
		}
	}
	return nil
}

// findKubeadm locates the kubeadm command and configuration and sets the role.
func (p *Parsed) findKubeadm(o parseOptions) error {
	for _, c := range p.Commands {
		for _, part := range strings.Split(c, "&&") {
			f := strings.Fields(part)
			if len(f) >= 2 && path.Base(f[0]) == "kubeadm" && (f[1] == "init" || f[1] == "join") {
				p.KubeadmCommand = strings.TrimSpace(part)
				for i := 2; i < len(f); i++ {
					if f[i] == "--config" && i+1 < len(f) {
						p.KubeadmConfigPath = f[i+1]
					} else if v, ok := strings.CutPrefix(f[i], "--config="); ok {
						p.KubeadmConfigPath = v
					}
				}
			}
		}
		if p.KubeadmCommand != "" {
			break
		}
	}
	if p.KubeadmCommand == "" {
		return errors.New("no kubeadm init or join command")
	}
	if p.KubeadmConfigPath == "" {
		return fmt.Errorf("%q has no --config", p.KubeadmCommand)
	}
	f, ok := p.Files[p.KubeadmConfigPath]
	if !ok {
		return fmt.Errorf("kubeadm configuration %s is not among the files written", p.KubeadmConfigPath)
	}
	content := string(f.Content)
	if strings.Contains(content, NodeNameFromMetadata) || strings.Contains(content, NodeNamePlaceholder) {
		p.NodeNameTemplate = true
		if o.nodeName != "" {
			content = strings.ReplaceAll(strings.ReplaceAll(content, NodeNameFromMetadata, o.nodeName), NodeNamePlaceholder, o.nodeName)
			f.Content = []byte(content)
			p.Files[p.KubeadmConfigPath] = f
		}
	}
	docs, err := kubeadm.Unmarshal([]byte(content))
	if err != nil {
		return fmt.Errorf("%s: %w", p.KubeadmConfigPath, err)
	}
	p.Kubeadm = *docs
	isInit := strings.Fields(p.KubeadmCommand)[1] == "init"
	switch {
	case isInit && docs.Init == nil && docs.Cluster == nil:
		return fmt.Errorf("%s: kubeadm init without InitConfiguration or ClusterConfiguration", p.KubeadmConfigPath)
	case isInit:
		p.Role = RoleInit
	case docs.Join == nil:
		return fmt.Errorf("%s: kubeadm join without JoinConfiguration", p.KubeadmConfigPath)
	case docs.Join.ControlPlane != nil || slices.Contains(strings.Fields(p.KubeadmCommand), "--control-plane"):
		p.Role = RoleControlPlane
	default:
		p.Role = RoleWorker
	}
	return nil
}

// BootstrapTokens returns the tokens `kubeadm init` will create (init role).
func (p *Parsed) BootstrapTokens() ([]BootstrapToken, error) {
	if p.Kubeadm.Init == nil {
		return nil, nil
	}
	var out []BootstrapToken
	for i, bt := range p.Kubeadm.Init.BootstrapTokens {
		t, err := ParseBootstrapToken(bt.Token)
		if err != nil {
			return nil, fmt.Errorf("InitConfiguration.bootstrapTokens[%d]: %w", i, err)
		}
		t.Description, t.Usages, t.Groups = bt.Description, bt.Usages, bt.Groups
		if bt.TTL != nil {
			t.TTL = bt.TTL.Duration
		}
		if bt.Expires != nil {
			t.Expires = bt.Expires.Time
		}
		out = append(out, t)
	}
	return out, nil
}

// JoinToken returns the discovery token of a join, with the CA pins.
func (p *Parsed) JoinToken() (BootstrapToken, []string, error) {
	if p.Kubeadm.Join == nil || p.Kubeadm.Join.Discovery.BootstrapToken == nil {
		return BootstrapToken{}, nil, errors.New("user data has no bootstrap token discovery")
	}
	d := p.Kubeadm.Join.Discovery.BootstrapToken
	t, err := ParseBootstrapToken(d.Token)
	if err != nil {
		return BootstrapToken{}, nil, fmt.Errorf("JoinConfiguration.discovery.bootstrapToken: %w", err)
	}
	return t, d.CACertHashes, nil
}

// PKIFiles returns the files written under kubeadm's certificates directory,
// relative to it (e.g. "ca.crt", "etcd/ca.key").
func (p *Parsed) PKIFiles() map[string][]byte {
	dir := PKIDir
	if p.Kubeadm.Cluster != nil && p.Kubeadm.Cluster.CertificatesDir != "" {
		dir = p.Kubeadm.Cluster.CertificatesDir
	}
	out := map[string][]byte{}
	for name, f := range p.Files {
		if rel, ok := strings.CutPrefix(name, dir+"/"); ok {
			out[rel] = f.Content
		}
	}
	return out
}

// PKI returns the cluster PKI placed by the user data, or nil when none is (a
// worker, or a control plane joining with a certificate key).
func (p *Parsed) PKI() (*ClusterPKI, error) {
	files := p.PKIFiles()
	if len(files) == 0 {
		return nil, nil
	}
	return PKIFromFiles(files)
}

// KubeadmArgs returns the flags of the kubeadm command after the verb, sorted.
func (p *Parsed) KubeadmArgs() []string {
	f := strings.Fields(p.KubeadmCommand)
	if len(f) < 2 {
		return nil
	}
	args := slices.Clone(f[2:])
	sort.Strings(args)
	return args
}
