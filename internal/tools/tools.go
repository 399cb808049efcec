package tools

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
)

// Names of the binaries Path can build.
const (
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
	Kubeadm               = "kubeadm"
	Kubectl               = "kubectl"
	Etcd                  = "etcd"
	Clusterctl            = "clusterctl"

	// Kubelet is the node agent of a Kubernetes node image (dynamically
	// linked against glibc when cgo is available, like the other
	// Kubernetes binaries).
	Kubelet = "kubelet"
	// KubeScheduler is the control-plane scheduler kubeadm runs as a static
	// pod from the image KubeadmImages names.
	KubeScheduler = "kube-scheduler"
	// KubeProxy is the Service proxy kubeadm deploys as a DaemonSet; its image
	// also needs iptables/nft.
	KubeProxy = "kube-proxy"
	// Crictl is the CRI client (cri-tools CrictlVersion) that kubeadm's
	// preflight and node debugging use. Built without cgo: static.
	Crictl = "crictl"
	// CoreDNS is the cluster DNS server (CoreDNSVersion) kubeadm deploys.
	// Built without cgo: static, so its image needs no libc.
	CoreDNS = "coredns"
	// Pause is the pod sandbox binary of the pause image (PauseVersion), a
	// static C program compiled with gcc from the Kubernetes module's
	// build/pause/linux/pause.c; building it needs gcc and libc6-dev.
	Pause = "pause"
)

// NodeTools are the binaries, beyond the control-plane ones, that a
// Kubernetes node image and its preloaded images need.
var NodeTools = []string{Kubelet, KubeScheduler, KubeProxy, Crictl, CoreDNS, Pause}

// Environment variables that change where binaries come from.
const (
	// EnvToolsDir overrides the base directory of the binary cache.
	EnvToolsDir = "OPENSTRAP_TOOLS_DIR"
	// EnvKubebuilderAssets names a directory holding kube-apiserver and etcd;
	// when set it wins over the built binaries in KubebuilderAssets.
	EnvKubebuilderAssets = "KUBEBUILDER_ASSETS"
)

// Versions stamped into the binaries; they match the wrapper modules' go.mod.
const (
	KubernetesVersion = "v1.37.2"
	ClusterAPIVersion = "v1.14.2"
	// CrictlVersion is the cri-tools release pinned by the crictl wrapper
	// module, the one released for Kubernetes 1.37.
	CrictlVersion = "v1.37.0"
)

// Image versions kubeadm KubernetesVersion expects (`kubeadm config images
// list`); a test checks them against the built kubeadm so that a Kubernetes
// bump that changes them fails.
const (
	// ImageRegistry is the registry prefix of every image kubeadm names.
	ImageRegistry = "registry.k8s.io"
	// PauseVersion is the pause image tag and the version the Pause binary
	// reports (`pause -v` prints "pause.c v" + PauseVersion).
	PauseVersion = "3.10.2"
	// CoreDNSVersion is the coredns/coredns image tag; the coredns wrapper
	// module pins github.com/coredns/coredns at this version.
	CoreDNSVersion = "v1.14.6"
	// EtcdImageTag is the etcd image tag kubeadm expects. The Etcd binary
	// is the etcd wrapper module's release (3.7.x), which kubeadm does not
	// check beyond the tag.
	EtcdImageTag = "3.7.0-0"
)

// KubeadmImages returns the image references kubeadm KubernetesVersion uses,
// in the order `kubeadm config images list` prints them. Nothing can pull
// them on this project's machines: node images preload images of these
// names built from the binaries of this package.
func KubeadmImages() []string {
	return []string{
		ImageRegistry + "/" + KubeAPIServer + ":" + KubernetesVersion,
		ImageRegistry + "/" + KubeControllerManager + ":" + KubernetesVersion,
		ImageRegistry + "/" + KubeScheduler + ":" + KubernetesVersion,
		ImageRegistry + "/" + KubeProxy + ":" + KubernetesVersion,
		ImageRegistry + "/coredns/coredns:" + CoreDNSVersion,
		ImageRegistry + "/pause:" + PauseVersion,
		ImageRegistry + "/etcd:" + EtcdImageTag,
	}
}

// recipe identifies the build recipe below; change it whenever the way every
// binary is built changes so that binaries built the old way are not reused.
// A change of one tool's flags needs no bump: they are part of its key.
const recipe = "openstrap-tools-2"

// ErrUnknownTool is returned by Path for a name it cannot build.
var ErrUnknownTool = errors.New("unknown tool")

// ErrSourceNotFound is returned when the wrapper modules cannot be found beside
// this package's source (for example in a binary built with -trimpath).
var ErrSourceNotFound = errors.New("tool module source not found")

// ErrNoCCompiler is returned by Path for Pause when gcc is missing.
var ErrNoCCompiler = errors.New("gcc not found (apt-get install gcc libc6-dev)")

// tool is the recipe of one binary.
type tool struct {
	module  string   // wrapper module directory name beside this package
	pkg     string   // main package to build (Go tools)
	ldflags string   // go build -ldflags
	tags    string   // go build -tags
	env     []string // extra environment of go build
	cflags  []string // gcc flags (Pause, built from C instead of Go)
}

// key returns the parts of the recipe that decide the binary, besides the
// wrapper module's files.
func (t tool) key() string {
	return fmt.Sprintf("module=%s\npkg=%s\nldflags=%s\ntags=%s\nenv=%q\ncflags=%q\n",
		t.module, t.pkg, t.ldflags, t.tags, t.env, t.cflags)
}

const kubeLDFlags = "-s -w" +
	" -X k8s.io/component-base/version.gitVersion=" + KubernetesVersion +
	" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" +
	" -X k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion +
	" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"

const clusterctlLDFlags = "-s -w" +
	" -X sigs.k8s.io/cluster-api/version.gitVersion=" + ClusterAPIVersion +
	" -X sigs.k8s.io/cluster-api/version.gitMajor=1 -X sigs.k8s.io/cluster-api/version.gitMinor=14"

// crictlLDFlags stamps the version as cri-tools' Makefile does.
const crictlLDFlags = "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=" + CrictlVersion

// coreDNSLDFlags stamps GitCommit as CoreDNS's Makefile does; a module
// download has no commit, so the release tag stands for it.
const coreDNSLDFlags = "-s -w -X github.com/coredns/coredns/coremain.GitCommit=" + CoreDNSVersion

// coreDNSPkg is the coredns wrapper module's main package.
const coreDNSPkg = "github.com/openstrap/openstrap/internal/tools/coredns/cmd/coredns"

// pauseSource is pause.c's path inside the k8s.io/kubernetes module.
const pauseSource = "build/pause/linux/pause.c"

// pauseCFlags are those of build/pause/Makefile (-Os -Wall -Werror -static
// -DVERSION=v$(TAG)-$(REV)) without the git revision, which a module
// download lacks, plus -s to strip as upstream does.
var pauseCFlags = []string{"-Os", "-Wall", "-Werror", "-static", "-s", "-DVERSION=v" + PauseVersion}

// toolNames lists every name Path accepts, in the order ErrUnknownTool
// names them.
var toolNames = []string{KubeAPIServer, KubeControllerManager, Kubeadm, Kubectl, Etcd, Clusterctl,
	Kubelet, KubeScheduler, KubeProxy, Crictl, CoreDNS, Pause}

// lookup returns the recipe for name.
func lookup(name string) (tool, error) {
	switch name {
	case KubeAPIServer, KubeControllerManager, Kubeadm, Kubectl, Kubelet, KubeScheduler, KubeProxy:
		return tool{module: "kubernetes", pkg: "k8s.io/kubernetes/cmd/" + name, ldflags: kubeLDFlags}, nil
	case Etcd:
		return tool{module: "etcd", pkg: "go.etcd.io/etcd/server/v3"}, nil
	case Clusterctl:
		return tool{module: "clusterctl", pkg: "sigs.k8s.io/cluster-api/cmd/clusterctl", ldflags: clusterctlLDFlags}, nil
	case Crictl:
		// CGO off as in cri-tools' Makefile.
		return tool{module: "crictl", pkg: "sigs.k8s.io/cri-tools/cmd/crictl", ldflags: crictlLDFlags,
			env: []string{"CGO_ENABLED=0"}}, nil
	case CoreDNS:
		// Our main package with a chosen plugin set: a cold build downloads
		// 0.2 GB of modules instead of 1.6 and takes about a third less CPU
		// than CoreDNS's own with every plugin. CGO off and the grpcnotrace
		// tag as in CoreDNS's Makefile.
		return tool{module: "coredns", pkg: coreDNSPkg, ldflags: coreDNSLDFlags,
			tags: "grpcnotrace", env: []string{"CGO_ENABLED=0"}}, nil
	case Pause:
		return tool{module: "kubernetes", cflags: pauseCFlags}, nil
	}
	return tool{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownTool, name, strings.Join(toolNames, ", "))
}

// moduleNames returns the wrapper module directories.
func moduleNames() []string { return []string{"kubernetes", "etcd", "clusterctl", "crictl", "coredns"} }

// sourceDir returns the directory of this package's source, which holds the
// wrapper modules.
func sourceDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", fmt.Errorf("%w: this binary has no absolute source path (built with -trimpath?)", ErrSourceNotFound)
	}
	dir := filepath.Dir(file)
	for _, m := range moduleNames() {
		if _, err := os.Stat(filepath.Join(dir, m, "go.mod")); err != nil {
			return "", fmt.Errorf("%w: %w", ErrSourceNotFound, err)
		}
	}
	return dir, nil
}

// baseDir returns the base of the binary cache, without creating it.
func baseDir() (string, error) {
	if base := os.Getenv(EnvToolsDir); base != "" {
		return base, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("tools cache directory: %w (set %s)", err, EnvToolsDir)
	}
	return filepath.Join(c, "openstrap", "tools"), nil
}

// toolHash returns the hash naming the build of name: the recipe, the
// platform, the tool's own flags and its wrapper module's files (go.mod,
// go.sum, then any others, such as coredns's own main package, by path).
// Other modules and tools do not enter it, so adding or changing them keeps
// this binary. A module of only go.mod and go.sum hashes as before files
// other than those two entered the hash, so its builds stay valid.
func toolHash(src, name string, t tool) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s/%s\n%s\n%s", recipe, runtime.GOOS, runtime.GOARCH, name, t.key())
	files := []string{"go.mod", "go.sum"}
	mdir := filepath.Join(src, t.module)
	err := filepath.WalkDir(mdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(mdir, p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); rel != "go.mod" && rel != "go.sum" {
			files = append(files, rel) // WalkDir goes in lexical order
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash tool module %s: %w", t.module, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(mdir, filepath.FromSlash(f)))
		if err != nil {
			return "", fmt.Errorf("hash tool module %s: %w", t.module, err)
		}
		fmt.Fprintf(h, "%s/%s %d\n", t.module, f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// Dir returns the directory Path installs the binaries in, creating it. It
// is named by a hash of every tool's build hash, so it changes with any pinned
// version; it holds hard links to the builds, which live in
// <base>/build/<name>-<hash> and are reused by every Dir whose tool of that
// name has the same hash (adding a tool only adds links, it rebuilds nothing).
func Dir() (string, error) {
	src, err := sourceDir()
	if err != nil {
		return "", err
	}
	return viewDir(src)
}

func viewDir(src string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", recipe)
	for _, name := range toolNames {
		t, err := lookup(name)
		if err != nil {
			return "", err
		}
		th, err := toolHash(src, name, t)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %s\n", name, th)
	}
	base, err := baseDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, hex.EncodeToString(h.Sum(nil))[:12])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create tools cache directory: %w", err)
	}
	return dir, nil
}

// Path returns the path of the named binary (one of the tool names above),
// building it first when the cache does not hold it. A cold build of
// kube-apiserver takes tens of minutes; a build on a warm Go build cache only
// links. It blocks until the binary is ready or ctx ends. The path is
// filepath.Join(Dir(), name).
func Path(ctx context.Context, name string) (string, error) {
	t, err := lookup(name)
	if err != nil {
		return "", err
	}
	src, err := sourceDir()
	if err != nil {
		return "", err
	}
	dir, err := viewDir(src)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	if isExecutable(out) {
		return out, nil
	}
	th, err := toolHash(src, name, t)
	if err != nil {
		return "", err
	}
	built, err := ensureBuilt(ctx, src, name, th, t)
	if err != nil {
		return "", err
	}
	if err := linkInto(built, out); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	return out, nil
}

// ensureBuilt returns <base>/build/<name>-<hash>, building it under a file
// lock when it does not exist yet.
func ensureBuilt(ctx context.Context, src, name, hash string, t tool) (string, error) {
	base, err := baseDir()
	if err != nil {
		return "", err
	}
	bdir := filepath.Join(base, "build")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return "", fmt.Errorf("create tools build directory: %w", err)
	}
	out := filepath.Join(bdir, name+"-"+hash)
	if isExecutable(out) {
		return out, nil
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("tool", name)
	unlock, err := lockFile(ctx, filepath.Join(bdir, "."+name+"-"+hash+".lock"))
	if err != nil {
		return "", fmt.Errorf("lock %s build: %w", name, err)
	}
	defer unlock()
	if isExecutable(out) { // another process built it while we waited
		return out, nil
	}

	start := time.Now()
	tmp := filepath.Join(bdir, fmt.Sprintf(".%s.tmp-%d", name, os.Getpid()))
	defer os.Remove(tmp)
	if t.cflags != nil {
		log.Info("building tool", "source", pauseSource, "into", out)
		err = buildPause(ctx, src, t, tmp)
	} else {
		log.Info("building tool", "package", t.pkg, "into", out)
		err = buildGo(ctx, src, t, tmp)
	}
	if err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	log.Info("built tool", "path", out, "duration", time.Since(start).Round(time.Millisecond))
	return out, nil
}

func buildGo(ctx context.Context, src string, t tool, out string) error {
	args := []string{"build", "-o", out}
	if t.tags != "" {
		args = append(args, "-tags", t.tags)
	}
	if t.ldflags != "" {
		args = append(args, "-ldflags", t.ldflags)
	}
	args = append(args, t.pkg)
	_, err := goCommandEnv(ctx, filepath.Join(src, t.module), t.env, args...)
	return err
}

// buildPause compiles pause.c from the k8s.io/kubernetes module that the
// kubernetes wrapper module pins (downloading it when needed) with gcc.
func buildPause(ctx context.Context, src string, t tool, out string) error {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return fmt.Errorf("pause is C: %w", ErrNoCCompiler)
	}
	dir, err := moduleDir(ctx, filepath.Join(src, t.module), "k8s.io/kubernetes")
	if err != nil {
		return err
	}
	args := append(slices.Clone(t.cflags), "-o", out, filepath.Join(dir, filepath.FromSlash(pauseSource)))
	cmd := exec.CommandContext(ctx, gcc, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc %s: %w: %s (static linking needs libc6-dev: apt-get install gcc libc6-dev)",
			strings.Join(args, " "), err, tail(b, 4096))
	}
	return nil
}

// moduleDir returns the directory of module path (at the version the wrapper
// module in dir requires) in the Go module cache, downloading it when needed.
func moduleDir(ctx context.Context, dir, path string) (string, error) {
	out, err := goCommand(ctx, dir, "mod", "download", "-json", path)
	if err != nil {
		return "", fmt.Errorf("download module %s: %w", path, err)
	}
	var m struct {
		Path, Version, Dir, Error string
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("download module %s: decode go output: %w", path, err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("download module %s: %s", path, m.Error)
	}
	return m.Dir, nil
}

// linkInto hard-links the built binary to out (atomically replacing whatever
// is there), copying it where hard links are not supported.
func linkInto(built, out string) error {
	tmp := fmt.Sprintf("%s.tmp-%d-%d", filepath.Join(filepath.Dir(out), "."+filepath.Base(out)), os.Getpid(), linkSeq.Add(1))
	if err := os.Link(built, tmp); err != nil {
		if err := copyFile(built, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	err := os.Rename(tmp, out)
	// When out already is a link to the same file, rename does nothing and
	// leaves tmp (POSIX); remove it in every case.
	os.Remove(tmp)
	return err
}

var linkSeq atomic.Int64

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// KubebuilderAssets returns a directory holding kube-apiserver and etcd (and
// kubectl when it has been built), as controller-runtime's envtest expects.
// KUBEBUILDER_ASSETS set by the user wins and nothing is built then.
func KubebuilderAssets(ctx context.Context) (string, error) {
	if dir := os.Getenv(EnvKubebuilderAssets); dir != "" {
		return dir, nil
	}
	var dir string
	for _, name := range []string{Etcd, KubeAPIServer} {
		p, err := Path(ctx, name)
		if err != nil {
			return "", err
		}
		dir = filepath.Dir(p)
	}
	return dir, nil
}

// ClusterAPICRDPaths returns the directories of Cluster API's CRDs (core,
// kubeadm bootstrap, kubeadm control plane and clusterctl's inventory) in the
// Go module cache, downloading the module at the version pinned by the
// clusterctl wrapper module when needed. Nothing is copied into this
// repository.
func ClusterAPICRDPaths(ctx context.Context) ([]string, error) {
	src, err := sourceDir()
	if err != nil {
		return nil, err
	}
	modDir, err := moduleDir(ctx, filepath.Join(src, "clusterctl"), "sigs.k8s.io/cluster-api")
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, rel := range []string{
		"core/config/crd/bases",
		"bootstrap/kubeadm/config/crd/bases",
		"controlplane/kubeadm/config/crd/bases",
		"cmd/clusterctl/config/crd/bases",
	} {
		d := filepath.Join(modDir, filepath.FromSlash(rel))
		if _, err := os.Stat(d); err != nil {
			return nil, fmt.Errorf("cluster API %s CRDs: %w", ClusterAPIVersion, err)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

// goCommand runs the go command in dir and returns its standard output. On
// failure the error carries the tail of the combined output.
func goCommand(ctx context.Context, dir string, args ...string) ([]byte, error) {
	return goCommandEnv(ctx, dir, nil, args...)
}

// goCommandEnv is goCommand with env added to the environment.
func goCommandEnv(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	goBin := "go"
	if _, err := exec.LookPath(goBin); err != nil {
		// Not on PATH (a test run from an IDE, say): use the toolchain
		// this binary was built with.
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	// The wrapper modules live inside the main module's tree; never let a
	// go.work pull them into a workspace.
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), env...)
	// Interrupt first so the go command can stop its compilers, also when
	// this process dies (a test binary killed by its timeout) rather than
	// leaving a long build running.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &commandError{args: args, output: tail(stderr.Bytes(), 4096), err: err}
	}
	return stdout.Bytes(), nil
}

type commandError struct {
	args   []string
	output string
	err    error
}

func (e *commandError) Error() string {
	return fmt.Sprintf("go %s: %v: %s", e.args[0], e.err, e.output)
}

func (e *commandError) Unwrap() error { return e.err }

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// lockFile takes an exclusive flock on path, polling so that ctx can end the
// wait, and returns the function that releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			_ = f.Truncate(0)
			_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
