// Package tools builds the Kubernetes binaries the tests, the local
// management cluster and Kubernetes node images need (kube-apiserver,
// kube-controller-manager, kube-scheduler, kube-proxy, kubelet, kubeadm,
// kubectl, etcd, clusterctl, crictl, coredns and pause) from the Go module
// proxy, and returns their paths. It also names the images kubeadm expects
// (KubeadmImages, PauseVersion, CoreDNSVersion, EtcdImageTag).
//
// The versions are pinned by small wrapper modules that live beside this
// package (kubernetes/, etcd/, clusterctl/, crictl/ and coredns/, each with
// its own go.mod and go.sum; coredns/ also holds cmd/coredns, our CoreDNS main
// package linking only the plugins a kube-system CoreDNS needs). All of a
// wrapper module's files enter its tools' hash. pause is C: it is compiled with
// gcc from build/pause/linux/pause.c of the k8s.io/kubernetes module that the
// kubernetes wrapper pins.
//
// Cache layout, under $OPENSTRAP_TOOLS_DIR when set and
// os.UserCacheDir()/openstrap/tools otherwise:
//
//	build/<name>-<hash>   one build; hash = recipe, platform, the tool's flags
//	                      and its wrapper module's go.mod and go.sum
//	<hash>/<name>         Dir(): hard links to the builds of the current pins
//
// So a change of any pinned version gives a new Dir, but only the tools whose
// own module or flags changed are rebuilt; the others are linked in again.
//
// The build flags are exactly those of the CI warm-up job (no -trimpath, the
// same -ldflags), so the Go build cache that job fills is reused and a build on
// a warm cache only links.
//
// Concurrency: Path is safe to call from many goroutines and from many processes
// at once (go test runs packages in parallel processes): each binary is built
// under an exclusive file lock and installed with an atomic rename, so a caller
// either sees no binary or a complete one, and only one process builds it.
//
// The wrapper modules are found next to this file's source through
// runtime.Caller, which works for go test and go run from any directory of a
// checkout; a binary built with -trimpath cannot find them and gets
// ErrSourceNotFound.
package tools
