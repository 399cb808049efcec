// Package tools builds the Kubernetes binaries the tests and the local
// management cluster need (kube-apiserver, kube-controller-manager, kubeadm,
// kubectl, etcd and clusterctl) from the Go module proxy, and returns their
// paths.
//
// The versions are pinned by three small wrapper modules that live beside this
// package (kubernetes/, etcd/ and clusterctl/, each with its own go.mod and
// go.sum and no Go code). A binary is built once with `go build` in its wrapper
// module and installed into a cache directory keyed by a hash of the wrapper
// modules and of the build recipe, so a change of any pinned version builds
// fresh binaries beside the old ones. The cache directory is
// $OPENSTRAP_TOOLS_DIR/<hash> when that variable is set and
// os.UserCacheDir()/openstrap/tools/<hash> otherwise.
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
