// Package bootstrap provides the management (bootstrap) cluster of the flow and
// installs components into it.
//
// A Cluster is anything with a name, an admin *rest.Config, kubeconfig bytes
// and a Delete. Three constructors make one:
//
//   - Local runs kube-apiserver, etcd and kube-controller-manager as
//     processes on a loopback address with their own PKI and data directory:
//     no Docker, ready in seconds. The controller manager's garbage collector
//     and namespace controller make owner-reference cascades and namespace
//     deletion complete, as Cluster API's deletion expects. The binaries are
//     built from the Go module proxy (see internal/tools) on first use.
//     Calling Local again with the same name reuses the running cluster, or
//     restarts it on its kept data.
//   - Kind creates (or reuses) a kind cluster through kind's Go API; it needs
//     a usable container runtime (docker, podman or nerdctl) and returns
//     ErrNoContainerRuntime otherwise.
//   - Existing wraps a cluster someone else runs, from a kubeconfig file or
//     bytes and an optional context; Delete leaves it alone.
//
// Install applies multi-document YAML with server-side apply under one field
// manager: Namespaces and CRDs first, then, once the CRDs are Established and
// discovery serves them, everything else, so a bundle may hold a CRD and its
// custom resources together. It substitutes clusterctl-style variables
// (${VAR}, ${VAR:=default}) and reports every missing variable at once.
//
// Idempotency: every call converges when repeated. A second Install of the
// same manifests writes nothing (server-side apply of an unchanged object is a
// no-op); Local and Kind reuse what is already there. Calls may run
// concurrently on different clusters; Local serialises starts on one data
// directory with a file lock.
//
// Logging goes to the logr.Logger in the context (or WithLogger) and progress
// to an optional WithProgress callback of typed Events; correctness never
// depends on either. Kubeconfigs and keys never appear in logs, events or
// errors.
package bootstrap
