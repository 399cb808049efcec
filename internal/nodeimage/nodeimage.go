package nodeimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/openstrap/openstrap/internal/atomicfile"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/internal/tools"
)

// Recipe names the way the image is assembled; bump it whenever the code
// (not the embedded overlay files, which are hashed) changes what is built.
const Recipe = "openstrap-nodeimage-2"

// rootfsRecipe names the way the debootstrap root filesystem and the base
// layer are made; bump it when rootfs.go or base.go change their output.
const rootfsRecipe = "openstrap-nodeimage-rootfs-1"

// Repository is the local image repository Build tags its images in.
const Repository = "localhost/openstrap/node"

// Versions of the component images (kubeadm v1.37.2's `config images list`).
const (
	KubernetesVersion = tools.KubernetesVersion
	CoreDNSVersion    = tools.CoreDNSVersion
	PauseVersion      = tools.PauseVersion
	EtcdImageTag      = tools.EtcdImageTag
)

// DefaultSuite is the Debian suite of the root filesystem.
const DefaultSuite = "bookworm"

// Packages are the Debian packages installed (with their dependencies) by
// debootstrap --variant=minbase: init, container runtime, CNI plugins,
// cloud-init, and the tools kubeadm's preflight checks look for.
var Packages = []string{
	"systemd", "systemd-sysv", "dbus", "libpam-systemd",
	"containerd", "runc", "containernetworking-plugins",
	"cloud-init", "sudo",
	"iptables", "nftables", "conntrack", "ebtables", "ethtool", "socat",
	"iproute2", "iputils-ping", "kmod", "util-linux", "mount", "procps",
	"ca-certificates", "openssl", "curl", "less",
}

// Image is a node image in local podman storage.
type Image struct {
	// Name is the image reference, Repository:<content hash>.
	Name string
	// Hash is the content hash in the tag (see the package documentation).
	Hash string
	// Inputs are what the hash covers, as hashed.
	Inputs Inputs
}

// Inputs are the content the image tag is a hash of.
type Inputs struct {
	Recipe   string            `json:"recipe"` // Recipe and rootfsRecipe
	Suite    string            `json:"suite"`
	Mirror   string            `json:"mirror"`
	Packages []string          `json:"packages"`
	Overlay  map[string]string `json:"overlay"` // file → sha256 of the embedded files
	Versions map[string]string `json:"versions"`
	Binaries map[string]string `json:"binaries"` // name → sha256
}

// Engine is the container engine the image is imported into (podman or
// Docker); *podman.Engine (internal/podman) satisfies it.
type Engine interface {
	Run(ctx context.Context, args ...string) ([]byte, error)
	ImageExists(ctx context.Context, name string) (bool, error)
	Kind() podman.Kind
}

// Option changes how Build works.
type Option interface{ apply(*options) }

type options struct {
	repo     string
	log      logr.Logger
	engine   Engine
	cacheDir string
	mirror   string
	suite    string
	binaries map[string]string
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger logs each build step and its duration.
func WithLogger(l logr.Logger) Option { return optionFunc(func(o *options) { o.log = l }) }

// WithEngine imports the image with e (podman or Docker) instead of the
// podman on PATH.
func WithEngine(e Engine) Option { return optionFunc(func(o *options) { o.engine = e }) }

// WithCacheDir keeps intermediate artefacts under dir instead of the user
// cache directory's openstrap/nodeimage.
func WithCacheDir(dir string) Option { return optionFunc(func(o *options) { o.cacheDir = dir }) }

// WithRepository tags the image in repo instead of Repository (for example
// a variant's own repository, or to measure a build without touching the
// image others use).
func WithRepository(repo string) Option { return optionFunc(func(o *options) { o.repo = repo }) }

// WithMirror sets the Debian mirror instead of the one in the host's apt
// sources.
func WithMirror(url string) Option { return optionFunc(func(o *options) { o.mirror = url }) }

// WithBinary uses the file at path for the named binary instead of building
// it with internal/tools (for example a kubelet built elsewhere).
func WithBinary(name, path string) Option {
	return optionFunc(func(o *options) { o.binaries[name] = path })
}

// Binary names Build needs (internal/tools names).
const (
	binKubelet   = tools.Kubelet
	binKubeadm   = tools.Kubeadm
	binKubectl   = tools.Kubectl
	binCrictl    = tools.Crictl
	binAPIServer = tools.KubeAPIServer
	binKCM       = tools.KubeControllerManager
	binScheduler = tools.KubeScheduler
	binProxy     = tools.KubeProxy
	binEtcd      = tools.Etcd
	binCoreDNS   = tools.CoreDNS
	binPause     = tools.Pause
)

// neededBinaries lists every binary Build puts into the image.
var neededBinaries = []string{
	binKubelet, binKubeadm, binKubectl, binCrictl,
	binAPIServer, binKCM, binScheduler, binProxy, binEtcd, binCoreDNS, binPause,
}

// Build returns the node image for the current inputs, building it when local
// podman storage does not have it. It needs root (debootstrap, chroot) and
// podman. Intermediate artefacts are cached by content under the cache
// directory, written atomically.
func Build(ctx context.Context, opts ...Option) (Image, error) {
	o := options{repo: Repository, log: logr.Discard(), binaries: map[string]string{}, suite: DefaultSuite}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.engine == nil {
		e, err := podman.Setup(ctx)
		if err != nil {
			return Image{}, fmt.Errorf("nodeimage: %w", err)
		}
		o.engine = e
	}
	if o.cacheDir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return Image{}, fmt.Errorf("nodeimage: cache directory: %w", err)
		}
		o.cacheDir = filepath.Join(c, "openstrap", "nodeimage")
	}
	if o.mirror == "" {
		m, err := hostMirror()
		if err != nil {
			return Image{}, err
		}
		o.mirror = m
	}
	b := &builder{options: o}
	return b.build(ctx)
}

type builder struct {
	options
	bins map[string]string // name → path
}

// step runs f and logs how long it took.
func (b *builder) step(name string, f func() error) error {
	start := time.Now()
	err := f()
	if err != nil {
		b.log.Info("step failed", "step", name, "duration", time.Since(start).Round(time.Millisecond), "error", err.Error())
		return fmt.Errorf("nodeimage: %s: %w", name, err)
	}
	b.log.Info("step done", "step", name, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func (b *builder) build(ctx context.Context) (Image, error) {
	start := time.Now()
	var in Inputs
	if err := b.step("resolve binaries", func() error {
		var err error
		b.bins, err = b.resolveBinaries(ctx)
		return err
	}); err != nil {
		return Image{}, err
	}
	if err := b.step("hash inputs", func() error {
		var err error
		in, err = b.inputs()
		return err
	}); err != nil {
		return Image{}, err
	}
	hash := in.hash()
	img := Image{Name: b.repo + ":" + hash, Hash: hash, Inputs: in}
	if ok, err := b.engine.ImageExists(ctx, img.Name); err != nil {
		return Image{}, fmt.Errorf("nodeimage: looking for %s: %w", img.Name, err)
	} else if ok {
		b.log.Info("node image present", "image", img.Name, "duration", time.Since(start).Round(time.Millisecond))
		return img, nil
	}

	var rootfsTar, imagesTar, baseTar string
	if err := b.step("root filesystem", func() error {
		var err error
		rootfsTar, baseTar, err = b.rootfs(ctx, in)
		return err
	}); err != nil {
		return Image{}, err
	}
	var imagesDigest string
	if err := b.step("component images", func() error {
		var err error
		imagesTar, imagesDigest, err = b.componentImages(ctx, in, baseTar)
		return err
	}); err != nil {
		return Image{}, err
	}
	if err := b.step("assemble and import", func() error {
		return b.assemble(ctx, img, rootfsTar, imagesTar, imagesDigest)
	}); err != nil {
		return Image{}, err
	}
	b.log.Info("node image built", "image", img.Name, "duration", time.Since(start).Round(time.Millisecond))
	return img, nil
}

// resolveBinaries finds (building when needed) every binary the image holds.
func (b *builder) resolveBinaries(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range neededBinaries {
		if p, ok := b.binaries[name]; ok {
			out[name] = p
			continue
		}
		p, err := tools.Path(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("binary %s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

// inputs computes what the image hash covers.
func (b *builder) inputs() (Inputs, error) {
	in := Inputs{
		Recipe:   Recipe + "+" + rootfsRecipe,
		Suite:    b.suite,
		Mirror:   b.mirror,
		Packages: append([]string(nil), Packages...),
		Overlay:  map[string]string{},
		Versions: map[string]string{
			"kubernetes": KubernetesVersion, "coredns": CoreDNSVersion,
			"pause": PauseVersion, "etcd-image": EtcdImageTag,
		},
		Binaries: map[string]string{},
	}
	err := fs.WalkDir(overlayFS, "overlay", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := overlayFS.ReadFile(p)
		if err != nil {
			return err
		}
		in.Overlay[strings.TrimPrefix(p, "overlay/")] = sha256Hex(data)
		return nil
	})
	if err != nil {
		return Inputs{}, err
	}
	dc := digestCache{path: filepath.Join(b.cacheDir, "binary-digests.json")}
	dc.load()
	for name, p := range b.bins {
		d, err := dc.digest(p)
		if err != nil {
			return Inputs{}, fmt.Errorf("digest %s: %w", name, err)
		}
		in.Binaries[name] = d
	}
	dc.save()
	return in, nil
}

// hash is the image tag: sha256 of the inputs' canonical JSON, 16 hex digits.
func (in Inputs) hash() string {
	data, _ := json.Marshal(in) // maps marshal with sorted keys
	return sha256Hex(data)[:16]
}

// rootfsKey covers what debootstrap's output depends on.
func (in Inputs) rootfsKey() string {
	data, _ := json.Marshal(struct {
		Recipe, Suite, Mirror string
		Packages              []string
	}{rootfsRecipe, in.Suite, in.Mirror, in.Packages})
	return "rootfs-" + sha256Hex(data)[:16]
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// digestCache remembers file digests by path, size and modification time, so
// a warm Build does not read a gigabyte of binaries.
type digestCache struct {
	path    string
	entries map[string]string
	changed bool
}

func (c *digestCache) load() {
	c.entries = map[string]string{}
	if data, err := os.ReadFile(c.path); err == nil {
		_ = json.Unmarshal(data, &c.entries)
	}
}

func (c *digestCache) digest(p string) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("%s|%d|%d", p, st.Size(), st.ModTime().UnixNano())
	if d, ok := c.entries[key]; ok {
		return d, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	d := hex.EncodeToString(h.Sum(nil))
	c.entries[key] = d
	c.changed = true
	return d, nil
}

func (c *digestCache) save() {
	if !c.changed {
		return
	}
	data, _ := json.MarshalIndent(c.entries, "", " ")
	if os.MkdirAll(filepath.Dir(c.path), 0o755) == nil {
		_ = atomicfile.WriteFile(c.path, data, 0o644)
	}
}

// hostMirror returns the first Debian mirror in the host's apt sources
// (/etc/apt/sources.list, then /etc/apt/sources.list.d/*.list and *.sources).
func hostMirror() (string, error) {
	files := []string{"/etc/apt/sources.list"}
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	files = append(files, more...)
	more, _ = filepath.Glob("/etc/apt/sources.list.d/*.sources")
	sort.Strings(more)
	files = append(files, more...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := mirrorIn(string(data)); m != "" {
			return m, nil
		}
	}
	return "", errors.New("nodeimage: no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d (use WithMirror)")
}

// mirrorIn finds a mirror serving the main archive (not debian-security) in
// one-line ("deb URL suite ...") or deb822 ("URIs: URL") sources.
func mirrorIn(text string) string {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(strings.TrimSpace(line))
		var u string
		switch {
		case len(f) >= 3 && f[0] == "deb":
			i := 1
			if strings.HasPrefix(f[1], "[") { // "deb [options] URL suite"
				for i < len(f) && !strings.HasSuffix(f[i], "]") {
					i++
				}
				i++
			}
			if i >= len(f) {
				continue
			}
			u = f[i]
		case len(f) >= 2 && f[0] == "URIs:":
			u = f[1]
		default:
			continue
		}
		if strings.Contains(u, "security") || !strings.Contains(u, "://") {
			continue
		}
		return strings.TrimRight(u, "/")
	}
	return ""
}
