// Package kubeadm holds typed Go mirrors of the kubeadm configuration file format
// (group kubeadm.k8s.io) that openstrap emits and parses, plus the small kubelet and
// kube-proxy configuration documents that travel with them.
//
// k8s.io/kubernetes cannot be imported as a library, so the types here copy the JSON
// field names of kubeadm's own v1beta4 API (the "hub" shape used in Go code) and
// convert to and from v1beta3 when marshalling for, or reading from, older
// Kubernetes versions. Only the fields openstrap renders are mirrored.
//
// Every function is pure and safe for concurrent use.
package kubeadm
