// Package nodeimage builds the image of a Kubernetes node that boots in a
// container like a VM: systemd as PID 1, Debian's containerd, runc, CNI
// plugins and cloud-init (NoCloud), and Kubernetes v1.37.2 built here by
// internal/tools (kubelet, kubeadm, kubectl, crictl, and the component
// images kubeadm needs, preloaded into containerd). No registry is needed.
//
// # Build and cache
//
// Build returns localhost/openstrap/node:<hash>, building it only when local
// podman storage lacks that tag. The hash (Image.Inputs; also in the image at
// /etc/openstrap/node-image.json) covers: Recipe and the root filesystem
// recipe; the Debian suite (bookworm), mirror (the first of the host's apt
// sources, or WithMirror) and package list; the sha256 of every embedded
// overlay file (units, configuration, scripts); the Kubernetes, CoreDNS,
// pause and etcd image versions; and the sha256 of every binary (cached by
// path, size and modification time, so a warm Build reads none of them).
//
// Steps, each logged with its duration (WithLogger), with artefacts cached
// under the user cache directory's openstrap/nodeimage/<key>/, written to a
// temporary name and renamed, under a file lock:
//
//  1. rootfs-<key>/rootfs.tar: debootstrap --variant=minbase of Packages,
//     machine ID emptied, apt caches dropped; and base.tar.gz, the shared
//     base layer of the component images (below). Key: suite, mirror,
//     packages, root filesystem recipe.
//  2. images-<key>/images.tar: one docker archive holding every image
//     kubeadm v1.37.2 names (ComponentImages), layers stored once. Key: the
//     root filesystem key, versions, binary digests.
//  3. The node: rootfs.tar extracted, overlay, binaries and images.tar added,
//     units enabled and masked, then `podman import` with CMD
//     /usr/local/sbin/openstrap-init and STOPSIGNAL SIGRTMIN+3.
//
// # Component images
//
// Each image is two layers: the shared base layer, then the binary at the
// path upstream's image has it (/usr/local/bin/kube-apiserver, ...,
// /coredns, /pause), with the entrypoint set to it. The Kubernetes binaries
// are dynamically linked against glibc and kube-proxy runs iptables and nft,
// so the base layer is glibc plus Debian's iptables, nftables and conntrack
// with their dependencies, filtered from the node's own root filesystem by
// the dpkg database (about 18 MB, 7.5 MB compressed): smaller than a second
// debootstrap, the same packages as the node, and stored once in the archive
// and in each node's containerd. Layers have fixed times and owners, so the
// same inputs give the same image IDs.
//
// The images are imported into containerd (namespace k8s.io) at boot by
// openstrap-preload-images.service (after containerd, before kubelet and
// cloud-init's final stage), once per /var volume, without unpacking:
// containerd's CRI unpacks an image when a container first needs it, so a
// worker unpacks only pause, kube-proxy and what it runs. Measured: 5 s per
// boot (13.5 s when every image was unpacked at import, 55-90 s under load).
//
// # Host quirks handled inside the image
//
//   - containerd: SystemdCgroup = true, restrict_oom_score_adj = true,
//     sandbox_image registry.k8s.io/pause:3.10.2, CNI in /usr/lib/cni and
//     /etc/cni/net.d; LimitNOFILE=20000, LimitNPROC=32768.
//   - kubelet: kubeadm's 10-kubeadm.conf drop-in (as the upstream deb: the
//     bootstrap and kubelet kubeconfigs, /var/lib/kubelet/config.yaml,
//     kubeadm-flags.env, /etc/default/kubelet) plus --config-dir
//     /etc/kubernetes/kubelet.conf.d, whose KubeletConfiguration drop-in
//     wins over the config kubeadm writes: failCgroupV1: false, cgroupDriver
//     systemd, failSwapOn: false, eviction and image GC relaxed for a small
//     shared disk.
//   - kubeadm: /usr/local/bin/kubeadm adds
//     --ignore-preflight-errors=SystemVerification to init and join on a
//     cgroup v1 host, where kubeadm v1.37 otherwise refuses to continue
//     (user data calling /usr/bin/kubeadm directly must add it itself).
//   - Host kernel settings: a privileged node shares the host's global
//     sysctls. openstrap-sysctl.service covers the ones kubelet writes
//     (vm.overcommit_memory, vm.panic_on_oom, kernel.panic,
//     kernel.panic_on_oops, kernel.keys.root_max*) with bind-mounted files
//     holding the host's values, systemd-sysctl is masked and Debian's
//     /usr/lib/sysctl.d files (pid_max, protected_*) are overridden empty.
//   - cgroups: openstrap-init remounts the name=systemd hierarchy inside the
//     container's cgroup namespace (see RunArgs).
//
// # Host requirement: inotify instances
//
// Every node container runs as root in the host's user namespace, so all of
// them share root's fs.inotify.max_user_instances (128 by default). A node
// uses about 10 (worker) to 25 (control plane) of them; past the limit
// containerd's CRI plugin fails to start ("failed to create fsnotify
// watcher: too many open files") and the node never becomes Ready. Hosts
// running more than a few nodes need the limit raised (sysctl
// fs.inotify.max_user_instances=8192); the image cannot do it.
//
// # cloud-init
//
// Debian's cloud-init with datasource_list [NoCloud, None] reads its seed
// from SeedDir (/var/lib/cloud/seed/nocloud), which the runtime mounts:
// user-data (cloud-config, scripts, `## template: jinja` with
// {{ ds.meta_data.instance_id }} and {{ v1.instance_id }}), meta-data
// (instance-id, local-hostname), optionally network-config. cloud-init does
// not configure the network (network: {config: disabled}): the container
// engine has. Its stage output and final message ("Cloud-init v. ...
// finished at ...") reach /dev/console, which is `podman logs` when the
// container runs with --tty (RunArgs).
//
// # Pod network
//
// No CNI add-on is needed: openstrap-cni.service writes a bridge CNI config
// (bridge cni0 with host-local IPAM, masquerade, portmap) at boot with the
// pod subnet 10.244.<last octet of the node's IPv4 address>.0/24, and routes
// 10.244.N.0/24 via <first three octets>.N for every other N on its link.
// Nodes of one cluster whose addresses differ only in the last octet (one
// /24 of a Neutron subnet) therefore get distinct pod subnets and reach each
// other's pods without an overlay; nodes of a wider network that share a
// last octet would collide. The kubeadm podSubnet is not used for pod
// addresses (kube-proxy then masquerades Service traffic from pods, which
// works).
package nodeimage
