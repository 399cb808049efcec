package nodeimage

import (
	"os"
	"sort"
)

// SeedDir is where the node's cloud-init reads its NoCloud seed (user-data,
// meta-data with instance-id and local-hostname, optional network-config).
const SeedDir = "/var/lib/cloud/seed/nocloud"

// RunSpec describes one node container for RunArgs.
type RunSpec struct {
	// Name is the container's name.
	Name string
	// Hostname is the container's host name; Name when empty.
	Hostname string
	// VarVolume is the named volume (or host directory) mounted at /var:
	// containerd's and kubelet's state must not be on the container's overlay
	// root (overlay on overlay fails), and it survives stop/start.
	VarVolume string
	// Seed is the host directory holding the NoCloud seed, mounted read-only
	// at SeedDir.
	Seed string
	// Network and IP, when set, attach the container to a podman network with
	// a fixed address.
	Network, IP string
	// Labels are set on the container.
	Labels map[string]string
}

// RunArgs returns the `podman run` (or `podman create`) flags that boot the
// node image like a VM; the image name follows them. They are the flags the
// package's boot test uses:
//
//   - --privileged: systemd, containerd and runc inside manage cgroups,
//     mounts and network namespaces.
//   - --systemd=false, --tmpfs /run, --tmpfs /tmp, --stop-signal
//     SIGRTMIN+3: systemd as PID 1 (the image's command,
//     /usr/local/sbin/openstrap-init, execs it) without podman's systemd
//     mode: on a cgroup v1 host that mode mounts the whole name=systemd
//     hierarchy, the node's systemd escapes to its root, and a graceful
//     stop of one node then removes its siblings' cgroups.
//   - --cgroupns=private: the node sees its own cgroups as the root, so
//     kubelet finds the kubepods.slice systemd makes for it (with the host's
//     cgroup namespace kubelet fails: "cgroup [kubepods] has some missing
//     paths").
//   - --tty: systemd and cloud-init write to /dev/console, which podman
//     creates only for a terminal; `podman logs` then shows the console
//     (boot messages, cloud-init's output and its final message).
//   - -v VarVolume:/var, -v Seed:SeedDir:ro.
//   - -v /lib/modules:/lib/modules:ro when the host has it (kubeadm's
//     preflight reads the kernel configuration there).
//
// The host's kernel settings are guarded inside the image (openstrap-sysctl
// bind-mounts files over /proc/sys/vm/overcommit_memory, kernel/panic,
// kernel/panic_on_oops, ...): runc refuses bind mounts under /proc from the
// outside ("cannot be mounted because it is inside /proc").
func RunArgs(s RunSpec) []string {
	host := s.Hostname
	if host == "" {
		host = s.Name
	}
	args := []string{
		"--name", s.Name,
		"--hostname", host,
		"--privileged",
		"--systemd=false",
		"--cgroupns=private",
		"--tty",
		"--stop-signal", "SIGRTMIN+3",
		"--tmpfs", "/run",
		"--tmpfs", "/tmp",
		"--volume", s.VarVolume + ":/var",
	}
	if s.Seed != "" {
		args = append(args, "--volume", s.Seed+":"+SeedDir+":ro")
	}
	if fi, err := os.Stat("/lib/modules"); err == nil && fi.IsDir() {
		args = append(args, "--volume", "/lib/modules:/lib/modules:ro")
	}
	if s.Network != "" {
		args = append(args, "--network", s.Network)
	}
	if s.IP != "" {
		args = append(args, "--ip", s.IP)
	}
	args = append(args, labelFlags(s.Labels)...)
	return args
}

func labelFlags(labels map[string]string) []string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, "--label", k+"="+labels[k])
	}
	return out
}
