// Package kubetest runs real Kubernetes API servers for tests: kube-apiserver
// and etcd processes started by controller-runtime's envtest, with binaries
// built from the Go module proxy by package internal/tools (or taken from
// KUBEBUILDER_ASSETS when set), and optionally Cluster API's CRDs read from the
// pinned sigs.k8s.io/cluster-api module in the Go module cache.
//
// Any number of environments can run side by side, in one process or in many:
// each has its own etcd, data directories and ports. Start blocks until the API
// server is ready and the CRDs are established; Stop stops both processes and
// removes their data.
//
// The API server runs without kube-controller-manager: namespaces that are
// deleted never finish terminating, so tests should use fresh namespace names.
package kubetest
