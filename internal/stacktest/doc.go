// Package stacktest starts what the Cluster API tests of this module run on:
// a local management cluster (kube-apiserver, etcd and
// kube-controller-manager processes), Cluster API's own controllers with
// openstrap's provider in this process, and the OpenStack simulator whose
// servers boot through the process machine runtime. Every component is the
// real one except the machines: process machines start kube-apiserver, etcd
// and kube-controller-manager for a control plane and register the Nodes of
// joining machines, but run no kubelet (see internal/machineruntime).
package stacktest
