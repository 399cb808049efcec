// Package controlplane runs a Kubernetes control plane as plain processes: one
// etcd and one kube-apiserver, on a loopback (or any local) address, with their
// own PKI and data in one directory, and an admin kubeconfig. It needs no
// container runtime and starts in seconds.
//
// It backs bootstrap.Local (a management cluster without Docker) and the
// simulated machines that "boot" a real control plane, so its API is small and
// knows nothing of either: Start a Config, use AdminKubeconfig or RESTConfig,
// Stop. Starting again with the same Config (the same Dir) resumes on the kept
// etcd data with the same CA, service-account key and address.
//
// Layout of Config.Dir: pki/ (ca, service-account key, serving and admin
// certificates, all 0600 keys), etcd/ (etcd data), logs/ (etcd.log and
// kube-apiserver.log, appended), state.json (ports and process IDs) and
// admin.kubeconfig (0600).
//
// The processes run in their own process group and outlive the caller until
// Stop: a later Start on the same Dir, from any process, finds them running
// and attaches to them instead of starting a second pair. Start holds a file
// lock on the directory, so concurrent Starts on one Dir are safe; different
// Dirs are independent.
package controlplane
