package userdata_test

import (
	"fmt"
	"log"

	"github.com/openstrap/openstrap/userdata"
)

// The first control plane gets the cluster PKI and a bootstrap token; workers get
// only the token and the CA pin. Both user data documents are checked and read back
// before any machine boots.
func Example() {
	pki, err := userdata.NewClusterPKI(userdata.WithKeyAlgorithm(userdata.ECDSAP256))
	if err != nil {
		log.Fatal(err)
	}
	token, err := userdata.NewBootstrapToken()
	if err != nil {
		log.Fatal(err)
	}
	initData, err := userdata.Render(userdata.Init{
		Cluster:           "demo",
		KubernetesVersion: "v1.37.2",
		Endpoint:          "203.0.113.10:6443",
		PKI:               pki,
		BootstrapTokens:   []userdata.BootstrapToken{token},
		Node:              userdata.Node{ExternalCloudProvider: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	workerData, err := userdata.Render(userdata.JoinWorker{
		KubernetesVersion: "v1.37.2",
		Endpoint:          "203.0.113.10:6443",
		Token:             token,
		CACertHashes:      []string{pki.CACertHash()},
		Machine:           userdata.Machine{Format: userdata.Ignition},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, data := range [][]byte{initData, workerData} {
		p, err := userdata.Parse(data, userdata.WithNodeName("demo-node"))
		if err != nil {
			log.Fatal(err)
		}
		placed, _ := p.PKI()
		fmt.Println(p.Format, p.Role, p.Kubeadm.APIVersion, "PKI placed:", placed != nil, "fits Nova:", userdata.CheckSize(data) == nil)
	}
	// Output:
	// cloud-init init kubeadm.k8s.io/v1beta4 PKI placed: true fits Nova: true
	// ignition worker kubeadm.k8s.io/v1beta4 PKI placed: false fits Nova: true
}

// Cluster API adopts a PKI created outside it when its secrets exist before the
// KubeadmControlPlane; AdminKubeconfig gives a client for the new cluster.
func ExampleClusterPKI_Secrets() {
	pki, err := userdata.NewClusterPKI()
	if err != nil {
		log.Fatal(err)
	}
	secrets, err := pki.Secrets("demo", "default")
	if err != nil {
		log.Fatal(err)
	}
	kubeconfig, err := userdata.AdminKubeconfig(pki, "demo", "203.0.113.10:6443")
	if err != nil {
		log.Fatal(err)
	}
	secrets = append(secrets, userdata.KubeconfigSecret("demo", "default", kubeconfig))
	for _, s := range secrets {
		fmt.Println(s.Name, s.Type)
	}
	// Output:
	// demo-ca cluster.x-k8s.io/secret
	// demo-etcd cluster.x-k8s.io/secret
	// demo-proxy cluster.x-k8s.io/secret
	// demo-sa cluster.x-k8s.io/secret
	// demo-kubeconfig cluster.x-k8s.io/secret
}
