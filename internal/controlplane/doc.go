// Package controlplane runs a Kubernetes control plane as plain processes: one
// etcd, one kube-apiserver and, when Config.ControllerManager asks for it, one
// kube-controller-manager, on a loopback (or any local) address, with their
// own PKI and data in one directory, and an admin kubeconfig. It needs no
// container runtime and starts in seconds.
//
// It backs bootstrap.Local (a management cluster without Docker) and the
// simulated machines that "boot" a real control plane, so its API is small and
// knows nothing of either: Start a Config, use AdminKubeconfig or RESTConfig,
// Stop. Starting again with the same Config (the same Dir) resumes on the kept
// etcd data with the same CA, service-account key and address; a Config that
// names only the Dir reuses the name, address, SANs and service range of the
// previous start.
//
// kube-controller-manager authenticates with a client certificate for
// system:kube-controller-manager issued by the cluster CA, signs
// service-account tokens with the control plane's key, signs certificate
// requests with the cluster CA, gives each controller its own service
// account and runs without leader election; its health endpoint is on a free
// 127.0.0.1 port. It runs the garbage collector and the namespace controller,
// so owner-reference cascades and namespace deletion complete.
//
// Layout of Config.Dir: pki/ (ca, service-account key, serving and admin
// certificates, all 0600 keys), etcd/ (etcd data), logs/ (etcd.log,
// kube-apiserver.log and kube-controller-manager.log, appended),
// kube-controller-manager/ (its self-signed serving certificate), state.json
// (ports, process IDs and the settings of the last start), admin.kubeconfig
// and controller-manager.kubeconfig (0600).
//
// The processes run in their own process group and outlive the caller until
// Stop: a later Start on the same Dir, from any process, finds them running
// and attaches to them instead of starting a second set (a wanted
// kube-controller-manager that is not running is started then). Start holds
// a file lock on the directory, so concurrent Starts on one Dir are safe;
// different Dirs are independent.
package controlplane
