// Package machineruntime makes simulated OpenStack servers boot: when a
// control-plane server of provider/openstacktest becomes ACTIVE it starts a
// real kube-apiserver and etcd from the server's kubeadm user data, and when
// a worker becomes ACTIVE it joins it the way kubeadm join and the kubelet's
// TLS bootstrap do, so that every certificate, token, endpoint and kubeconfig
// that openstrap renders is checked by real Kubernetes code.
package machineruntime
