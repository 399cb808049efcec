package podman

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// labelArgs turns labels into sorted "--label k=v" (or another flag) pairs.
func labelArgs(flag string, labels map[string]string) []string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var args []string
	for _, k := range keys {
		args = append(args, flag, k+"="+labels[k])
	}
	return args
}

// CreateContainer runs `podman create args...` and returns the new
// container's ID. args are the create flags followed by the image and
// command.
//
// args are podman's flags; on Docker, podman's --systemd is dropped and
// a second `--network NAME:ip=IP,mac=MAC` is connected after the create
// (with its IP; Docker sets one MAC address per container).
func (e *Engine) CreateContainer(ctx context.Context, args ...string) (string, error) {
	var later []attachment
	if e.Kind() == Docker {
		args, later = dockerCreateArgs(args)
	}
	out, err := e.Run(ctx, append([]string{"create"}, args...)...)
	if err != nil {
		return "", err
	}
	id := firstLine(out)
	if id == "" {
		return "", fmt.Errorf("%s create: printed no container ID", e.Kind())
	}
	for _, at := range later {
		connect := []string{"network", "connect"}
		if at.ip != "" {
			connect = append(connect, "--ip", at.ip)
		}
		if _, err := e.Run(ctx, append(connect, at.network, id)...); err != nil {
			_ = e.RemoveContainer(context.WithoutCancel(ctx), id)
			return "", err
		}
	}
	return id, nil
}

// StartContainer starts a created or stopped container.
func (e *Engine) StartContainer(ctx context.Context, id string) error {
	_, err := e.Run(ctx, "start", id)
	return err
}

// StopContainer stops a container, killing it after timeout.
func (e *Engine) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	_, err := e.Run(ctx, "stop", "--time", strconv.Itoa(int(timeout.Seconds())), id)
	return err
}

// RestartContainer stops (killing after timeout) and starts a container.
func (e *Engine) RestartContainer(ctx context.Context, id string, timeout time.Duration) error {
	_, err := e.Run(ctx, "restart", "--time", strconv.Itoa(int(timeout.Seconds())), id)
	return err
}

// RemoveContainer force-removes a container and its anonymous volumes,
// killing it at once (as Nova's delete powers a VM off). A container that is
// already gone is not an error.
func (e *Engine) RemoveContainer(ctx context.Context, id string) error {
	args := []string{"rm", "--force", "--volumes", "--time", "0", id}
	if e.Kind() == Docker {
		args = []string{"rm", "--force", "--volumes", id} // Docker kills at once
	}
	_, err := e.Run(ctx, args...)
	if err != nil && IsNotFound(err) {
		return nil
	}
	return err
}

// Exec runs a command in a running container and returns its standard output.
func (e *Engine) Exec(ctx context.Context, id string, cmd ...string) ([]byte, error) {
	return e.Run(ctx, append([]string{"exec", id}, cmd...)...)
}

// Logs returns an unstarted `podman logs` command for a container; with
// follow it keeps streaming until the container is removed or ctx ends.
func (e *Engine) Logs(ctx context.Context, id string, follow bool) *exec.Cmd {
	args := []string{"logs"}
	if follow {
		args = append(args, "--follow")
	}
	return e.Command(ctx, append(args, id)...)
}

// Container is the part of `podman container inspect` openstrap reads.
type Container struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State struct {
		Status     string `json:"Status"`
		Running    bool   `json:"Running"`
		Pid        int    `json:"Pid"`
		ExitCode   int    `json:"ExitCode"`
		Error      string `json:"Error"`
		StartedAt  time.Time
		FinishedAt time.Time
	} `json:"State"`
	Config struct {
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
	NetworkSettings struct {
		Networks map[string]struct {
			IPAddress  string `json:"IPAddress"`
			MacAddress string `json:"MacAddress"`
			Gateway    string `json:"Gateway"`
		} `json:"Networks"`
	} `json:"NetworkSettings"`
}

// InspectContainer inspects one container by ID or name.
func (e *Engine) InspectContainer(ctx context.Context, id string) (*Container, error) {
	var cs []Container
	var err error
	if e.Kind() == Docker {
		cs, err = e.dockerInspectContainers(ctx, id)
	} else {
		err = inspectJSON(ctx, e, &cs, "container", "inspect", id)
	}
	if err != nil {
		return nil, err
	}
	if len(cs) != 1 {
		return nil, fmt.Errorf("%s container inspect: %d results for one container", e.Kind(), len(cs))
	}
	return &cs[0], nil
}

// ContainerSummary is one row of `podman ps`.
type ContainerSummary struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	State  string            `json:"State"`
	Labels map[string]string `json:"Labels"`
}

// ListContainers lists all containers (running or not) carrying every label.
func (e *Engine) ListContainers(ctx context.Context, labels map[string]string) ([]ContainerSummary, error) {
	if e.Kind() == Docker {
		// Docker's JSON rows differ (labels as one string): inspect them.
		out, err := e.Run(ctx, append([]string{"ps", "--all", "--quiet", "--no-trunc"}, filterArgs(labels)...)...)
		if err != nil {
			return nil, err
		}
		full, err := e.dockerInspectContainers(ctx, strings.Fields(string(out))...)
		if err != nil {
			return nil, err
		}
		var cs []ContainerSummary
		for _, c := range full {
			cs = append(cs, ContainerSummary{ID: c.ID, Names: []string{c.Name}, State: c.State.Status, Labels: c.Config.Labels})
		}
		return cs, nil
	}
	var cs []ContainerSummary
	args := append([]string{"ps", "--all", "--no-trunc", "--format", "json"}, filterArgs(labels)...)
	if err := inspectJSON(ctx, e, &cs, args...); err != nil {
		return nil, err
	}
	return cs, nil
}

// filterArgs turns labels into sorted "--filter label=k=v" pairs.
func filterArgs(labels map[string]string) []string {
	var args []string
	for _, kv := range labelArgs("--label", labels) {
		if kv != "--label" {
			args = append(args, "--filter", "label="+kv)
		}
	}
	return args
}

// Subnet is one subnet of a podman network.
type Subnet struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway,omitempty"`
}

// NetworkSpec is what CreateNetwork creates.
type NetworkSpec struct {
	Name    string
	Subnets []Subnet
	// Internal networks get no NAT or forwarding off the host.
	Internal bool
	Labels   map[string]string
}

// Network is the part of `podman network inspect` openstrap reads (Docker's
// is translated to it).
type Network struct {
	Name      string            `json:"name"`
	ID        string            `json:"id"`
	Driver    string            `json:"driver"`
	Interface string            `json:"network_interface"`
	Subnets   []Subnet          `json:"subnets"`
	Internal  bool              `json:"internal"`
	Labels    map[string]string `json:"labels"`
}

// CreateNetwork creates a bridge network and returns it as inspected (with
// its ID).
//
// On Docker the bridge is named after the network (dockerBridgeName) and
// Docker's embedded DNS stays (it has no switch for it).
func (e *Engine) CreateNetwork(ctx context.Context, spec NetworkSpec) (*Network, error) {
	args := []string{"network", "create", "--driver", "bridge", "--disable-dns"}
	if e.Kind() == Docker {
		args = []string{"network", "create", "--driver", "bridge",
			"--opt", "com.docker.network.bridge.name=" + dockerBridgeName(spec.Name)}
	}
	for _, s := range spec.Subnets {
		args = append(args, "--subnet", s.Subnet)
		if s.Gateway != "" {
			args = append(args, "--gateway", s.Gateway)
		}
	}
	if spec.Internal {
		args = append(args, "--internal")
	}
	args = append(args, labelArgs("--label", spec.Labels)...)
	args = append(args, spec.Name)
	if _, err := e.Run(ctx, args...); err != nil {
		return nil, err
	}
	return e.InspectNetwork(ctx, spec.Name)
}

// InspectNetwork inspects a network by ID or name.
func (e *Engine) InspectNetwork(ctx context.Context, id string) (*Network, error) {
	var ns []Network
	var err error
	if e.Kind() == Docker {
		ns, err = e.dockerInspectNetworks(ctx, id)
	} else {
		err = inspectJSON(ctx, e, &ns, "network", "inspect", id)
	}
	if err != nil {
		return nil, err
	}
	if len(ns) != 1 {
		return nil, fmt.Errorf("%s network inspect: %d results for one network", e.Kind(), len(ns))
	}
	return &ns[0], nil
}

// ListNetworks lists networks carrying every label.
func (e *Engine) ListNetworks(ctx context.Context, labels map[string]string) ([]Network, error) {
	if e.Kind() == Docker {
		out, err := e.Run(ctx, append([]string{"network", "ls", "--quiet", "--no-trunc"}, filterArgs(labels)...)...)
		if err != nil {
			return nil, err
		}
		return e.dockerInspectNetworks(ctx, strings.Fields(string(out))...)
	}
	var ns []Network
	args := append([]string{"network", "ls", "--format", "json"}, filterArgs(labels)...)
	if err := inspectJSON(ctx, e, &ns, args...); err != nil {
		return nil, err
	}
	return ns, nil
}

// RemoveNetwork removes a network by ID. A network that is already gone is
// not an error; one still used by a container is.
func (e *Engine) RemoveNetwork(ctx context.Context, id string) error {
	_, err := e.Run(ctx, "network", "rm", id)
	if err != nil && IsNotFound(err) {
		return nil
	}
	return err
}

// CreateVolume creates a named volume with labels and returns its name
// (podman's volume ID).
func (e *Engine) CreateVolume(ctx context.Context, name string, labels map[string]string) (string, error) {
	args := append([]string{"volume", "create"}, labelArgs("--label", labels)...)
	out, err := e.Run(ctx, append(args, name)...)
	if err != nil {
		return "", err
	}
	return firstLine(out), nil
}

// RemoveVolume force-removes a volume. A volume already gone is not an error.
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	_, err := e.Run(ctx, "volume", "rm", "--force", name)
	if err != nil && IsNotFound(err) {
		return nil
	}
	return err
}

// ListVolumes lists the names of volumes carrying every label.
func (e *Engine) ListVolumes(ctx context.Context, labels map[string]string) ([]string, error) {
	args := append([]string{"volume", "ls", "--format", "{{.Name}}"}, filterArgs(labels)...)
	out, err := e.Run(ctx, args...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}
