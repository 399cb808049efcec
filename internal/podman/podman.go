// Package podman runs the podman container engine on the machines openstrap
// is developed and tested on, handling their host quirks in one place. Where
// Docker rather than podman is the engine present, SetupDocker returns an
// Engine with the same methods driving Docker's command line (podman's
// flags are translated where Docker spells them differently).
//
// Setup makes rootful podman (Debian's 4.3.1, netavark network backend) usable
// and is idempotent. The quirks it handles, all measured on a Debian 12 host
// with a cgroup v1 hybrid hierarchy (see the project's containers notes):
//
//   - Root lacks CAP_SYS_RESOURCE (hard nofile limit 20000), so podman's
//     default ulimits fail with "setrlimit RLIMIT_NOFILE: Operation not
//     permitted". The project's containers.conf sets default_ulimits to
//     nofile=20000:20000 and nproc=32768:32768 (podman caps nproc at 32768).
//   - crun refuses the hybrid cgroup hierarchy ("cgroups in hybrid mode not
//     supported"); the containers.conf selects runc, which Debian's podman
//     package does not always pull in (apt-get install runc).
//   - The host has no /lib/modules; kind and node images mount it, so Setup
//     creates it empty when it is missing.
//   - Node containers share the host's inotify limits (root's, not
//     namespaced): systemd, containerd and kubelet in each node take
//     instances, and at the kernel default fs.inotify.max_user_instances=128
//     a few clusters on the host make kubelet exit ("Failed to start
//     cAdvisor: inotify_init: too many open files"). Setup raises
//     max_user_instances to 512 and max_user_watches to 524288 when lower,
//     as kind's known issues advise (never lowers them).
//
// The containers.conf is written under the user cache directory
// (openstrap/podman/containers.conf) and every command an Engine runs gets
// CONTAINERS_CONF pointing at it; the host's own podman configuration files
// are left untouched. Quirks that live inside node containers (containerd's
// restrict_oom_score_adj, kubelet's failCgroupV1: false, the sandbox image,
// finite LimitNOFILE/LimitNPROC, guarding host sysctls) are handled by the
// node image (internal/nodeimage), not here.
package podman

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/openstrap/openstrap/internal/atomicfile"
)

// ContainersConf is the containers.conf Setup writes. runc because crun
// refuses cgroup v1 hybrid hosts; ulimits podman can set without
// CAP_SYS_RESOURCE.
const ContainersConf = `# Written by openstrap (internal/podman); rewritten when it differs.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
`

// ModulesDir is created empty when missing: kind and node images mount it.
var ModulesDir = "/lib/modules"

// Engine runs a container engine's command line with the project's
// configuration: podman (Setup) or Docker (SetupDocker). Its methods take
// podman's spelling and translate where Docker differs.
type Engine struct {
	kind     Kind
	bin      string
	confPath string // podman's containers.conf
	host     string // Docker's daemon socket (DOCKER_HOST)
}

// Kind names a container engine.
type Kind string

// The engines an Engine drives.
const (
	Podman Kind = "podman"
	Docker Kind = "docker"
)

// Kind is the engine the Engine drives.
func (e *Engine) Kind() Kind {
	if e.kind == "" {
		return Podman
	}
	return e.kind
}

// ErrNotInstalled is returned by Setup when podman or runc is not installed.
var ErrNotInstalled = errors.New("podman is not installed (on Debian: apt-get install podman runc)")

// Setup checks that podman is installed and answers, writes the project's
// containers.conf and creates an empty /lib/modules when it is missing. It is
// idempotent and safe to call from several processes.
func Setup(ctx context.Context) (*Engine, error) {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil, ErrNotInstalled
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := os.Stat("/usr/sbin/runc"); err != nil {
			return nil, fmt.Errorf("%w: runc is missing (crun refuses cgroup v1 hybrid hosts)", ErrNotInstalled)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("podman setup: %w", err)
	}
	conf := filepath.Join(cache, "openstrap", "podman", "containers.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		return nil, fmt.Errorf("podman setup: writing containers.conf: %w", err)
	}
	if _, err := atomicfile.WriteFileIfChanged(conf, []byte(ContainersConf), 0o644); err != nil {
		return nil, fmt.Errorf("podman setup: writing containers.conf: %w", err)
	}
	if err := hostSetup("podman"); err != nil {
		return nil, err
	}
	e := &Engine{kind: Podman, bin: bin, confPath: conf}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := e.Run(vctx, "info", "--format", "{{.Host.OCIRuntime.Name}}")
	if err != nil {
		return nil, fmt.Errorf("podman is installed but does not answer (is it working? on Debian: apt-get install podman): %w", err)
	}
	if rt := strings.TrimSpace(string(out)); rt != "runc" {
		return nil, fmt.Errorf("podman setup: OCI runtime is %q with %s, want runc (is runc installed?)", rt, conf)
	}
	return e, nil
}

// hostSetup makes the host quirks every engine shares right: an empty
// /lib/modules and the inotify limits.
func hostSetup(engine string) error {
	if _, err := os.Stat(ModulesDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(ModulesDir, 0o755); err != nil {
			return fmt.Errorf("%s setup: creating empty %s (kind and node images mount it): %w", engine, ModulesDir, err)
		}
	}
	for path, min := range InotifyMinimums {
		if err := raiseSysctl(path, min); err != nil {
			return fmt.Errorf("%s setup: node containers need %s >= %d: %w", engine, path, min, err)
		}
	}
	return nil
}

// InotifyMinimums are the host inotify limits Setup raises (never lowers).
var InotifyMinimums = map[string]int{
	// Every node container shares root's instances (10-25 each, more while
	// systemd boots); 512 ran out with a few clusters' nodes on one host
	// ("Failed to create inotify object: Too many open files" from a node's
	// systemd, which then never finished booting). 8192 as nodeimage says.
	"/proc/sys/fs/inotify/max_user_instances": 8192,
	"/proc/sys/fs/inotify/max_user_watches":   524288,
}

func raiseSysctl(path string, min int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if cur >= min {
		return nil
	}
	return os.WriteFile(path, []byte(strconv.Itoa(min)), 0o644)
}

// ConfPath is the containers.conf every command of the Engine uses.
func (e *Engine) ConfPath() string { return e.confPath }

// Env is the environment the engine's commands run with (the process
// environment plus CONTAINERS_CONF for podman, DOCKER_HOST for Docker), for
// callers that start the engine's command line themselves.
func (e *Engine) Env() []string {
	key, val := "CONTAINERS_CONF=", e.confPath
	if e.Kind() == Docker {
		key, val = "DOCKER_HOST=", e.host
	}
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key) {
			out = append(out, kv)
		}
	}
	if val == "" {
		return out
	}
	return append(out, key+val)
}

// Command returns an unstarted podman command using the project's
// configuration, for long-running commands such as `logs -f`.
func (e *Engine) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = e.Env()
	return cmd
}

// Run runs podman with args and returns its standard output. A failure's
// error names the subcommand (not its arguments, which may hold secrets) and
// carries podman's standard error.
func (e *Engine) Run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := e.Command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return stdout.Bytes(), &Error{Engine: e.Kind(), Subcommand: subcommand(args), Stderr: msg, Err: err}
	}
	return stdout.Bytes(), nil
}

// RunInput is Run with data on standard input.
func (e *Engine) RunInput(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := e.Command(ctx, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &Error{Engine: e.Kind(), Subcommand: subcommand(args), Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return stdout.Bytes(), nil
}

// subcommand is the leading non-flag words of args ("network create").
func subcommand(args []string) string {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") || len(words) == 2 {
			break
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// Error is a failed engine command.
type Error struct {
	Engine     Kind   // podman when empty
	Subcommand string // e.g. "network create"; arguments are left out
	Stderr     string
	Err        error
}

func (e *Error) Error() string {
	engine := e.Engine
	if engine == "" {
		engine = Podman
	}
	if e.Stderr == "" {
		return fmt.Sprintf("%s %s: %v", engine, e.Subcommand, e.Err)
	}
	return fmt.Sprintf("%s %s: %v: %s", engine, e.Subcommand, e.Err, e.Stderr)
}

func (e *Error) Unwrap() error { return e.Err }

// IsNotFound reports whether err is the engine saying an object does not
// exist.
func IsNotFound(err error) bool {
	var pe *Error
	if !errors.As(err, &pe) {
		return false
	}
	s := strings.ToLower(pe.Stderr)
	return strings.Contains(s, "no such") || strings.Contains(s, "not found") ||
		strings.Contains(s, "unable to find")
}

func firstLine(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		// podman prints pull progress before the ID on some commands.
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

func inspectJSON(ctx context.Context, e *Engine, v any, args ...string) error {
	out, err := e.Run(ctx, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("%s %s: decoding output: %w", e.Kind(), subcommand(args), err)
	}
	return nil
}
