package userdata

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// Cluster API secret naming: "<cluster>-<purpose>" with keys tls.crt and tls.key.
const (
	SecretPurposeCA             = "ca"
	SecretPurposeEtcdCA         = "etcd"
	SecretPurposeFrontProxyCA   = "proxy"
	SecretPurposeServiceAccount = "sa"
	SecretPurposeKubeconfig     = "kubeconfig"
	// SecretKubeconfigKey is the data key of a Cluster API kubeconfig secret.
	SecretKubeconfigKey = "value"
)

// SecretName returns Cluster API's name for one of a cluster's secrets.
func SecretName(cluster, purpose string) string { return cluster + "-" + purpose }

// Secrets returns the PKI as the four Secrets Cluster API's kubeadm control plane
// provider looks up ("<cluster>-ca", "-etcd", "-proxy", "-sa"; type
// cluster.x-k8s.io/secret; labelled with the cluster name), so it adopts this PKI
// instead of generating its own. The service account secret holds the public key
// in tls.crt, as Cluster API does.
func (p *ClusterPKI) Secrets(cluster, namespace string) ([]corev1.Secret, error) {
	if cluster == "" {
		return nil, fieldErr("Cluster", "required")
	}
	files, err := p.Files()
	if err != nil {
		return nil, err
	}
	mk := func(purpose string, crt, key []byte) corev1.Secret {
		return corev1.Secret{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{
				Name: SecretName(cluster, purpose), Namespace: namespace,
				Labels: map[string]string{clusterv1.ClusterNameLabel: cluster},
			},
			Type: clusterv1.ClusterSecretType,
			Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
		}
	}
	return []corev1.Secret{
		mk(SecretPurposeCA, files[FileCACert], files[FileCAKey]),
		mk(SecretPurposeEtcdCA, files[FileEtcdCACert], files[FileEtcdCAKey]),
		mk(SecretPurposeFrontProxyCA, files[FileFrontProxyCACert], files[FileFrontProxyCAKey]),
		mk(SecretPurposeServiceAccount, files[FileSAPub], files[FileSAKey]),
	}, nil
}

// PKIFromSecrets rebuilds a ClusterPKI from Cluster API's secrets of the cluster
// (extra secrets are ignored). A missing secret or key is an error naming it.
func PKIFromSecrets(cluster string, secrets []corev1.Secret) (*ClusterPKI, error) {
	byName := map[string]*corev1.Secret{}
	for i := range secrets {
		byName[secrets[i].Name] = &secrets[i]
	}
	files := map[string][]byte{}
	for _, s := range []struct{ purpose, crt, key string }{
		{SecretPurposeCA, FileCACert, FileCAKey},
		{SecretPurposeEtcdCA, FileEtcdCACert, FileEtcdCAKey},
		{SecretPurposeFrontProxyCA, FileFrontProxyCACert, FileFrontProxyCAKey},
		{SecretPurposeServiceAccount, FileSAPub, FileSAKey},
	} {
		name := SecretName(cluster, s.purpose)
		sec, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("cluster PKI from secrets: secret %q missing", name)
		}
		for _, k := range []struct{ dataKey, file string }{{corev1.TLSCertKey, s.crt}, {corev1.TLSPrivateKeyKey, s.key}} {
			b := sec.Data[k.dataKey]
			if len(b) == 0 && sec.StringData[k.dataKey] != "" {
				b = []byte(sec.StringData[k.dataKey])
			}
			if len(b) == 0 {
				return nil, fmt.Errorf("cluster PKI from secrets: secret %q has no %s", name, k.dataKey)
			}
			files[k.file] = b
		}
	}
	p, err := PKIFromFiles(files)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(mustParsePub(files[FileSAPub]), p.ServiceAccount.Key.Public()) {
		return nil, fmt.Errorf("cluster PKI from secrets: secret %q: public key does not match private key", SecretName(cluster, SecretPurposeServiceAccount))
	}
	return p, nil
}
