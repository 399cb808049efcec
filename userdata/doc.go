// Package userdata renders the bootstrap data of kubeadm machines on OpenStack:
// the cluster PKI, bootstrap tokens, kubeadm Init/Join configuration and the
// cloud-init or Ignition document that writes it all and runs kubeadm.
//
// A machine's user data is where a cluster bootstrap most often fails, silently,
// minutes later, on a VM nobody can log in to. This package makes the data right by
// construction and checkable before any machine boots:
//
//   - inputs are validated up front; a bad field is a *FieldError naming it;
//   - the kubeadm configuration is emitted from typed structs (package
//     userdata/kubeadm) in the API version the Kubernetes version reads
//     (v1beta4 from v1.31, v1beta3 for v1.22-v1.30) and is validated by kubeadm
//     itself in this package's tests;
//   - Parse reads user data back (role, kubeadm configuration, files, tokens, PKI),
//     for tests and for tools that simulate a machine booting it;
//   - the result is checked against Nova's 65535-byte limit and gzipped when needed.
//
// Secrets: worker user data never holds a private key, only a bootstrap token and
// the CA pin. A joining control plane either carries the CA keys (JoinControlPlane.PKI)
// or fetches them from the cluster with a certificate key (init with
// UploadCertificates, join with CertificateKey). The certificate-key path keeps
// keys out of the user data of every machine but the first, at a price: kubeadm
// deletes the uploaded certificates two hours after `kubeadm init --upload-certs`,
// so a control plane joining later needs `kubeadm init phase upload-certs
// --upload-certs` to be run again on a running control plane (with the same key).
//
// Nothing here logs. String, GoString and fmt verbs of every type that holds a key
// or a token (ClusterPKI, CertKey, ServiceAccountKey, BootstrapToken, Init,
// JoinControlPlane, JoinWorker, Parsed) print no secret.
//
// All functions are safe for concurrent use; rendering is deterministic for a given
// input (the same spec renders the same bytes), so user data can be compared
// and golden-tested.
package userdata
