// Package machineruntime makes simulated OpenStack servers boot: when a
// control-plane server of provider/openstacktest becomes ACTIVE it starts a
// real kube-apiserver, etcd and kube-controller-manager from the server's
// kubeadm user data, and when a worker becomes ACTIVE it joins it the way
// kubeadm join and the kubelet's TLS bootstrap do, so that every
// certificate, token, endpoint and kubeconfig that openstrap, or Cluster
// API's kubeadm bootstrap provider, renders is checked by real Kubernetes
// code.
//
// The user data may come from package userdata or from Cluster API's kubeadm
// bootstrap provider (cloud-init with /run/kubeadm/kubeadm.yaml or
// /run/kubeadm/kubeadm-join-config.yaml, kubeadm v1beta3 or v1beta4). An
// init server needs the cluster CA and service-account key among its files
// and a loopback controlPlaneEndpoint; the bootstrap tokens of its
// InitConfiguration, if any, become Secrets as kubeadm's bootstrap-token
// phase makes them (kubeadm's random default token, which nobody could use,
// is not). Tokens made later as kube-system/bootstrap-token-<id> Secrets
// through the API, as Cluster API's bootstrap provider makes them, work the
// same.
//
// Nothing here acts for a Kubernetes component. The init phase writes what
// kubeadm writes through the API: token Secrets, the unsigned
// kube-public/cluster-info, kubeadm's RBAC (kubeadm:kubelet-bootstrap,
// kubeadm:node-autoapprove-bootstrap,
// kubeadm:node-autoapprove-certificate-rotation,
// kubeadm:bootstrap-signer-clusterinfo) and kube-system/kubeadm-config. The
// control plane's kube-controller-manager signs cluster-info for each token
// (bootstrapsigner), deletes expired tokens (tokencleaner), and approves and
// signs kubelet client certificates (csrapproving, csrsigning). A joining
// server waits for the signature during discovery, submits a certificate
// signing request with its token and waits for kube-controller-manager's
// certificate, then registers its Node with that certificate (kept as
// kubelet.conf under KubeletDir) under NodeRestriction.
//
// Every Node carries spec.providerID openstack:///<server ID>, so Cluster
// API's Machine controller finds it. There is no kubelet: the runtime posts
// one status (addresses, Ready) at registration and never a heartbeat, so
// the workload control planes run kube-controller-manager without its node
// lifecycle controller (Controllers), which would otherwise mark every Node
// NotReady and taint it. The init node registers with admin credentials.
package machineruntime
