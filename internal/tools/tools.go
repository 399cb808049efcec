package tools

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
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
)

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
)

// recipe identifies the build recipe below; change it whenever the flags change
// so that binaries built with the old flags are not reused.
const recipe = "openstrap-tools-1"

// ErrUnknownTool is returned by Path for a name it cannot build.
var ErrUnknownTool = errors.New("unknown tool")

// ErrSourceNotFound is returned when the wrapper modules cannot be found beside
// this package's source (for example in a binary built with -trimpath).
var ErrSourceNotFound = errors.New("tool module source not found")

// tool is the recipe of one binary.
type tool struct {
	module  string // wrapper module directory name beside this package
	pkg     string // main package to build
	ldflags string
}

const kubeLDFlags = "-s -w" +
	" -X k8s.io/component-base/version.gitVersion=" + KubernetesVersion +
	" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" +
	" -X k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion +
	" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"

const clusterctlLDFlags = "-s -w" +
	" -X sigs.k8s.io/cluster-api/version.gitVersion=" + ClusterAPIVersion +
	" -X sigs.k8s.io/cluster-api/version.gitMajor=1 -X sigs.k8s.io/cluster-api/version.gitMinor=14"

// lookup returns the recipe for name.
func lookup(name string) (tool, error) {
	switch name {
	case KubeAPIServer, KubeControllerManager, Kubeadm, Kubectl:
		return tool{module: "kubernetes", pkg: "k8s.io/kubernetes/cmd/" + name, ldflags: kubeLDFlags}, nil
	case Etcd:
		return tool{module: "etcd", pkg: "go.etcd.io/etcd/server/v3"}, nil
	case Clusterctl:
		return tool{module: "clusterctl", pkg: "sigs.k8s.io/cluster-api/cmd/clusterctl", ldflags: clusterctlLDFlags}, nil
	}
	return tool{}, fmt.Errorf("%w %q (known: %s, %s, %s, %s, %s, %s)", ErrUnknownTool, name,
		KubeAPIServer, KubeControllerManager, Kubeadm, Kubectl, Etcd, Clusterctl)
}

// moduleNames returns the wrapper module directories, in hashing order.
func moduleNames() []string { return []string{"kubernetes", "etcd", "clusterctl"} }

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

// Dir returns the cache directory the binaries are installed in, creating it.
// It depends on the wrapper modules' go.mod and go.sum and the build recipe.
func Dir() (string, error) {
	src, err := sourceDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s/%s\n", recipe, runtime.GOOS, runtime.GOARCH)
	for _, m := range moduleNames() {
		for _, f := range []string{"go.mod", "go.sum"} {
			b, err := os.ReadFile(filepath.Join(src, m, f))
			if err != nil {
				return "", fmt.Errorf("hash tool module %s: %w", m, err)
			}
			fmt.Fprintf(h, "%s/%s %d\n", m, f, len(b))
			h.Write(b)
		}
	}
	base := os.Getenv(EnvToolsDir)
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("tools cache directory: %w (set %s)", err, EnvToolsDir)
		}
		base = filepath.Join(c, "openstrap", "tools")
	}
	dir := filepath.Join(base, hex.EncodeToString(h.Sum(nil))[:12])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create tools cache directory: %w", err)
	}
	return dir, nil
}

// Path returns the path of the named binary (one of KubeAPIServer,
// KubeControllerManager, Kubeadm, Kubectl, Etcd, Clusterctl), building it
// first when the cache does not hold it. A cold build of kube-apiserver takes tens of minutes; a build on a warm
// Go build cache only links. It blocks until the binary is ready or ctx ends.
func Path(ctx context.Context, name string) (string, error) {
	t, err := lookup(name)
	if err != nil {
		return "", err
	}
	src, err := sourceDir()
	if err != nil {
		return "", err
	}
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	if isExecutable(out) {
		return out, nil
	}

	log := logr.FromContextOrDiscard(ctx).WithValues("tool", name)
	unlock, err := lockFile(ctx, filepath.Join(dir, "."+name+".lock"))
	if err != nil {
		return "", fmt.Errorf("lock %s build: %w", name, err)
	}
	defer unlock()
	if isExecutable(out) { // another process built it while we waited
		return out, nil
	}

	start := time.Now()
	log.Info("building tool", "package", t.pkg, "into", out)
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.tmp-%d", name, os.Getpid()))
	defer os.Remove(tmp)
	args := []string{"build", "-o", tmp}
	if t.ldflags != "" {
		args = append(args, "-ldflags", t.ldflags)
	}
	args = append(args, t.pkg)
	if _, err := goCommand(ctx, filepath.Join(src, t.module), args...); err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	log.Info("built tool", "path", out, "duration", time.Since(start).Round(time.Millisecond))
	return out, nil
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
	out, err := goCommand(ctx, filepath.Join(src, "clusterctl"), "mod", "download", "-json", "sigs.k8s.io/cluster-api")
	if err != nil {
		return nil, fmt.Errorf("download module sigs.k8s.io/cluster-api: %w", err)
	}
	var m struct {
		Path, Version, Dir, Error string
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("download module sigs.k8s.io/cluster-api: decode go output: %w", err)
	}
	if m.Error != "" || m.Dir == "" {
		return nil, fmt.Errorf("download module sigs.k8s.io/cluster-api: %s", m.Error)
	}
	var dirs []string
	for _, rel := range []string{
		"core/config/crd/bases",
		"bootstrap/kubeadm/config/crd/bases",
		"controlplane/kubeadm/config/crd/bases",
		"cmd/clusterctl/config/crd/bases",
	} {
		d := filepath.Join(m.Dir, filepath.FromSlash(rel))
		if _, err := os.Stat(d); err != nil {
			return nil, fmt.Errorf("cluster API %s CRDs: %w", m.Version, err)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

// goCommand runs the go command in dir and returns its standard output. On
// failure the error carries the tail of the combined output.
func goCommand(ctx context.Context, dir string, args ...string) ([]byte, error) {
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
	cmd.Env = append(os.Environ(), "GOWORK=off")
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
