// Package containerruntime boots the servers of the OpenStack simulator
// (provider/openstacktest) as privileged podman containers that run systemd
// and cloud-init like a VM, so that a server's user data is executed by
// cloud-init itself (kubeadm init/join included, with the node image of
// internal/nodeimage).
//
// Compute: one container per server, created when Nova spawns the server
// (ServerHooks.OnSpawn: a container that cannot be created or started puts
// the server in ERROR with Nova's fault), named <server name>-<first 8
// characters of the server ID>, labelled with the server ID and the
// runtime's instance. cloud-init reads a NoCloud seed (user-data as given;
// meta-data with instance-id = server ID, local-hostname = Nova's host name,
// public-keys = the key pair) bind-mounted read-only at
// /var/lib/cloud/seed/nocloud; /var is a named volume of its own (removed
// with the container), so state survives stop/start like a disk. os-stop, os-start and reboot map to podman
// stop, start and restart; delete removes the container and its anonymous
// volumes by ID. The container's output (`podman logs -f`, a tty, so
// systemd's and cloud-init's console lines) is appended to the server's
// console output, which os-getConsoleOutput returns.
//
// Networks: each Neutron network a server uses becomes a podman bridge
// network with Neutron's subnet CIDR and gateway, created on first use and
// removed when its last container and load balancer go; a container gets
// exactly its port's fixed IP and MAC. Security groups are not enforced
// (everything on a network is open), and networks are not routed to each
// other (a Neutron router between two networks does not connect them here).
// Tenant ranges never leave this machine:
//
//   - The podman networks are --internal (netavark then adds no NAT), and a
//     FORWARD chain of the runtime's own rejects anything routed from a
//     tenant bridge to another interface, or to a tenant bridge from
//     elsewhere. Containers still get a default route via the subnet's
//     gateway (kubeadm and kubelet need one), which ends at the host.
//   - For each subnet an "unreachable" route at metric 4242 is added on the
//     host and kept until Close, so that once a bridge is gone (podman removes
//     it with its last running container) a dial to the range fails here
//     instead of following the default route off the machine
//     (`ip route get` shows it).
//
// Load balancers: ServerHooks.OnLoadBalancers hands over every frontend. The
// runtime listens on each floating IP (127.0.0.0/8 addresses, on the host)
// and on the VIP (added as a /32 to the host's loopback: the host answers
// for it on every tenant bridge, so containers reach it, whether or not a
// container of the VIP's network runs), and forwards each connection to the
// first member that accepts it, with the members of the latest frontend
// set. TCP, HTTP and HTTPS listeners are forwarded as TCP; UDP, SCTP and
// TERMINATED_HTTPS listeners are not served.
// Inside each container a 127.x floating IP would be the container's own
// loopback, so the runtime adds, in the container's network namespace
// (nsenter), nat OUTPUT DNAT rules floatingIP:port → VIP:port in chains of
// its own (OPENSTRAP-LB, OPENSTRAP-LB-MASQ with MASQUERADE for 127.0.0.0/8
// sources) and sets route_localnet=1; they are rewritten when frontends
// change and after each container start. Nothing listens inside containers
// (a control plane's kube-apiserver binds 0.0.0.0:6443 there).
//
// Close removes everything the runtime created, by ID: containers (with
// their volumes), networks, host routes, iptables chains and rules, VIP
// addresses, seeds. A container removal (Close, a server's delete) that
// podman fails in a way an overloaded host causes ("given PIDs did not die
// within timeout", a busy mount) is tried again for up to 30 s before it is
// reported; Close goes on with the other containers. Resume re-adopts the containers and networks of a
// runtime with the same instance (by labels) after a process restart; the
// container of a server deleted while no runtime ran is removed when the
// runtime is attached to the simulator.
//
// Limits: two runtimes (or other podman networks) cannot use overlapping
// subnets at the same time (podman refuses the second network: the server
// goes to ERROR), and the unreachable routes are per CIDR, not counted
// across runtimes.
//
// Needs root, podman (internal/podman's Setup), iptables, ip and nsenter.
package containerruntime
