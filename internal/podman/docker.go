package podman

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// DockerOptions say which Docker daemon SetupDocker drives.
type DockerOptions struct {
	// Host is the daemon's address (DOCKER_HOST); the CLI's default when
	// empty.
	Host string
	// CLI is the docker command line; "docker" on PATH when empty. Its API
	// version must not be newer than the daemon's for per-network MAC
	// addresses: Docker 25+'s CLI refuses them against a 20.10 daemon.
	CLI string
}

// ErrNoDocker is returned by SetupDocker when no Docker daemon answers.
var ErrNoDocker = errors.New("docker is not installed or its daemon does not answer (on Debian: apt-get install docker.io)")

// SetupDocker returns an Engine driving a Docker daemon, where Docker
// rather than podman is the engine present. It checks that the daemon
// answers and makes the host quirks every engine shares right (an empty
// /lib/modules, inotify limits); podman's containers.conf does not apply.
func SetupDocker(ctx context.Context, o DockerOptions) (*Engine, error) {
	bin := o.CLI
	if bin == "" {
		bin = "docker"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, ErrNoDocker
	}
	if err := hostSetup("docker"); err != nil {
		return nil, err
	}
	e := &Engine{kind: Docker, bin: path, host: o.Host}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := e.Run(vctx, "version", "--format", "{{.Server.Version}}"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	return e, nil
}

// dockerCreateArgs turns podman's create flags into Docker's: podman's
// --systemd is dropped, and of the `--network NAME:ip=IP,mac=MAC`
// attachments the first becomes --network/--ip/--mac-address and the
// others are returned to be connected before the container starts.
func dockerCreateArgs(args []string) ([]string, []attachment) {
	var out []string
	var later []attachment
	first := true
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--systemd"):
			if a == "--systemd" && i+1 < len(args) {
				i++
			}
			continue
		case a == "--network" && i+1 < len(args) && strings.Contains(args[i+1], ":"):
			i++
			at := parseAttachment(args[i])
			if !first {
				later = append(later, at)
				continue
			}
			first = false
			out = append(out, "--network", at.network)
			if at.ip != "" {
				out = append(out, "--ip", at.ip)
			}
			if at.mac != "" {
				out = append(out, "--mac-address", at.mac)
			}
			continue
		}
		out = append(out, a)
	}
	return out, later
}

// attachment is one `NAME:ip=IP,mac=MAC` network of podman's --network.
type attachment struct{ network, ip, mac string }

func parseAttachment(s string) attachment {
	name, opts, _ := strings.Cut(s, ":")
	at := attachment{network: name}
	for _, kv := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "ip":
			at.ip = v
		case "mac":
			at.mac = v
		}
	}
	return at
}

// dockerBridgeName is the host interface of a Docker network: named after
// the network (15 characters at most) so that it is known before the
// network exists and stays the same across daemons.
func dockerBridgeName(network string) string {
	sum := sha256.Sum256([]byte(network))
	return "osd" + hex.EncodeToString(sum[:])[:12]
}

// dockerNetwork is the part of `docker network inspect` openstrap reads.
type dockerNetwork struct {
	Name   string `json:"Name"`
	ID     string `json:"Id"`
	Driver string `json:"Driver"`
	IPAM   struct {
		Config []struct {
			Subnet  string `json:"Subnet"`
			Gateway string `json:"Gateway"`
		} `json:"Config"`
	} `json:"IPAM"`
	Internal bool              `json:"Internal"`
	Labels   map[string]string `json:"Labels"`
	Options  map[string]string `json:"Options"`
}

func (d dockerNetwork) network() Network {
	n := Network{Name: d.Name, ID: d.ID, Driver: d.Driver, Internal: d.Internal, Labels: d.Labels,
		Interface: d.Options["com.docker.network.bridge.name"]}
	if n.Interface == "" && len(d.ID) >= 12 {
		n.Interface = "br-" + d.ID[:12]
	}
	for _, c := range d.IPAM.Config {
		n.Subnets = append(n.Subnets, Subnet{Subnet: c.Subnet, Gateway: c.Gateway})
	}
	return n
}

func (e *Engine) dockerInspectNetworks(ctx context.Context, ids ...string) ([]Network, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var ds []dockerNetwork
	if err := inspectJSON(ctx, e, &ds, append([]string{"network", "inspect"}, ids...)...); err != nil {
		return nil, err
	}
	out := make([]Network, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.network())
	}
	return out, nil
}

func (e *Engine) dockerInspectContainers(ctx context.Context, ids ...string) ([]Container, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var cs []Container
	if err := inspectJSON(ctx, e, &cs, append([]string{"container", "inspect"}, ids...)...); err != nil {
		return nil, err
	}
	for i := range cs {
		cs[i].Name = strings.TrimPrefix(cs[i].Name, "/")
	}
	return cs, nil
}

// ImageExists reports whether the engine's storage holds the image.
func (e *Engine) ImageExists(ctx context.Context, name string) (bool, error) {
	var err error
	if e.Kind() == Docker {
		_, err = e.Run(ctx, "image", "inspect", "--format", "{{.Id}}", name)
	} else {
		_, err = e.Run(ctx, "image", "exists", name)
	}
	if err == nil {
		return true, nil
	}
	var pe *Error
	var exit *exec.ExitError
	if IsNotFound(err) || (e.Kind() == Podman && errors.As(err, &pe) && errors.As(pe.Err, &exit) && exit.ExitCode() == 1) {
		return false, nil
	}
	return false, err
}
