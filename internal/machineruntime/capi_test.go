package machineruntime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/blang/semver/v4"
	"github.com/go-logr/logr"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	"k8s.io/utils/ptr"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/bootstrap/kubeadm/pkg/cloudinit"
	kubeadmtypes "sigs.k8s.io/cluster-api/bootstrap/kubeadm/pkg/types"
	"sigs.k8s.io/cluster-api/bootstrap/kubeadm/pkg/types/upstream"
	capicerts "sigs.k8s.io/cluster-api/util/certs"
	capikubeconfig "sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/cluster-api/util/secret"

	"github.com/openstrap/openstrap/internal/retry"
	"github.com/openstrap/openstrap/provider/openstacktest"
	"github.com/openstrap/openstrap/userdata"
)

// capiNodeName is the node name Cluster API's OpenStack templates give
// kubeadm: cloud-init's Jinja expression, the server's name at boot.
const capiNodeName = "{{ ds.meta_data.local_hostname }}"

// TestBootClusterAPIUserData boots servers on the simulator from user data
// rendered by Cluster API's kubeadm bootstrap provider (CABPK) v1.14.2 with
// its own packages, in the steps its KubeadmConfig reconciler takes: the
// init server's ClusterConfiguration and InitConfiguration (no bootstrap
// tokens) with certificates CABPK generated, then a worker whose token CABPK
// creates as a kube-system/bootstrap-token-<id> Secret in the workload
// cluster through the API. The worker joins only if the control plane's
// kube-controller-manager signs cluster-info for that token and approves and
// signs the node's certificate request; both Nodes carry their server's
// provider ID.
func TestBootClusterAPIUserData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const clusterName = "capi"
	version := semver.MustParse("1.37.2")
	endpoint := fmt.Sprintf("127.%d.%d.%d:6443", 100+rand.IntN(100), rand.IntN(250), 2+rand.IntN(250))

	rt := New(t.TempDir(), logr.Discard())
	rt.discovery = time.Minute
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	sim, err := openstacktest.NewServer(openstacktest.WithServerHooks(rt.Hooks()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	rt.SetConsole(sim.AppendConsole)
	cloud, err := sim.Cloud(ctx)
	if err != nil {
		t.Fatal(err)
	}
	network, err := networks.Create(ctx, cloud.Network, networks.CreateOpts{Name: "capi-net"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subnets.Create(ctx, cloud.Network, subnets.CreateOpts{NetworkID: network.ID, CIDR: "10.6.0.0/24", IPVersion: 4}).Extract(); err != nil {
		t.Fatal(err)
	}
	page, err := images.List(cloud.Image, images.ListOpts{Name: openstacktest.ImageName}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := images.ExtractImages(page)
	if err != nil || len(imgs) == 0 {
		t.Fatalf("simulator image %s: %v", openstacktest.ImageName, err)
	}
	// boot creates a server with the user data and waits until the
	// runtime has booted it.
	boot := func(name string, data []byte) string {
		t.Helper()
		srv, err := servers.Create(ctx, cloud.Compute, servers.CreateOpts{Name: name, ImageRef: imgs[0].ID, FlavorRef: "2",
			Networks: []servers.Network{{UUID: network.ID}}, UserData: data}, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		var bootErr error
		err = retry.Until(ctx, retry.Policy{Initial: 100 * time.Millisecond, Max: time.Second, MaxElapsed: 4 * time.Minute},
			func(context.Context) (bool, error) {
				done, err := rt.Result(name)
				bootErr = err
				return done, nil
			})
		if err != nil {
			t.Fatalf("server %s never finished booting: %v", name, err)
		}
		if bootErr != nil {
			t.Fatalf("server %s failed to boot: %v", name, bootErr)
		}
		return srv.ID
	}

	// The init machine, as handleClusterNotInitialized renders it.
	clusterCfg := bootstrapv1.ClusterConfiguration{ControlPlaneEndpoint: endpoint}
	initCfg := bootstrapv1.InitConfiguration{NodeRegistration: bootstrapv1.NodeRegistrationOptions{
		Name:             capiNodeName,
		KubeletExtraArgs: []bootstrapv1.Arg{{Name: "provider-id", Value: ptr.To("openstack:///'{{ instance_id }}'")}},
	}}
	clusterData, err := kubeadmtypes.MarshalClusterConfigurationForVersion(&clusterCfg, version, &upstream.AdditionalData{
		ClusterName: ptr.To(clusterName), KubernetesVersion: ptr.To("v1.37.2"),
		ServiceSubnet: ptr.To("10.96.0.0/12"), PodSubnet: ptr.To("192.168.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	initData, err := kubeadmtypes.MarshalInitConfigurationForVersion(&initCfg, version)
	if err != nil {
		t.Fatal(err)
	}
	certs := secret.NewCertificatesForInitialControlPlane(&clusterCfg)
	if err := certs.Generate(); err != nil {
		t.Fatal(err)
	}
	cpUserData, err := cloudinit.NewInitControlPlane(&cloudinit.ControlPlaneInput{
		BaseUserData:         cloudinit.BaseUserData{KubernetesVersion: version},
		Certificates:         certs,
		ClusterConfiguration: clusterData,
		InitConfiguration:    initData,
	})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := userdata.Parse(cpUserData, userdata.WithNodeName("capi-cp-0"))
	if err != nil {
		t.Fatalf("userdata.Parse of CABPK's init user data: %v", err)
	}
	if parsed.Role != userdata.RoleInit || parsed.KubeadmConfigPath != "/run/kubeadm/kubeadm.yaml" || len(parsed.Kubeadm.Init.BootstrapTokens) != 0 {
		t.Fatalf("parsed init user data: role %s, config %s, %d tokens; want init, /run/kubeadm/kubeadm.yaml, none",
			parsed.Role, parsed.KubeadmConfigPath, len(parsed.Kubeadm.Init.BootstrapTokens))
	}
	cpID := boot("capi-cp-0", cpUserData)

	// The workload cluster's admin kubeconfig, as Cluster API writes it into
	// <cluster>-kubeconfig from the cluster CA.
	ca := certs.GetByPurpose(secret.ClusterCA)
	caCert, err := capicerts.DecodeCertPEM(ca.KeyPair.Cert)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := capicerts.DecodePrivateKeyPEM(ca.KeyPair.Key)
	if err != nil {
		t.Fatal(err)
	}
	kcfg, err := capikubeconfig.New(clusterName, "https://"+endpoint, caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*kcfg, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, "kubeadm-config", metav1.GetOptions{}); err != nil {
		t.Errorf("kube-system/kubeadm-config (what KubeadmControlPlane reads as initialized): %v", err)
	}

	// The worker: CABPK creates its token in the workload cluster, then
	// renders the join with the CA's hashes and the uninitialized taint.
	token := createTokenLikeCABPK(t, cs, 15*time.Minute)
	hashes, err := ca.Hashes()
	if err != nil {
		t.Fatal(err)
	}
	joinCfg := bootstrapv1.JoinConfiguration{
		NodeRegistration: bootstrapv1.NodeRegistrationOptions{
			Name:   capiNodeName,
			Taints: ptr.To([]corev1.Taint{clusterv1.NodeUninitializedTaint}),
		},
		Discovery: bootstrapv1.Discovery{BootstrapToken: bootstrapv1.BootstrapTokenDiscovery{
			APIServerEndpoint: endpoint, Token: token, CACertHashes: hashes}},
	}
	joinData, err := kubeadmtypes.MarshalJoinConfigurationForVersion(&joinCfg, version)
	if err != nil {
		t.Fatal(err)
	}
	workerUserData, err := cloudinit.NewNode(&cloudinit.NodeInput{
		BaseUserData:      cloudinit.BaseUserData{KubernetesVersion: version},
		JoinConfiguration: joinData,
	})
	if err != nil {
		t.Fatal(err)
	}
	workerID := boot("capi-worker-0", workerUserData)

	for name, id := range map[string]string{"capi-cp-0": cpID, "capi-worker-0": workerID} {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("node %s: %v", name, err)
		}
		if want := "openstack:///" + id; node.Spec.ProviderID != want {
			t.Errorf("node %s providerID = %q, want %q", name, node.Spec.ProviderID, want)
		}
	}
	worker, err := cs.CoreV1().Nodes().Get(ctx, "capi-worker-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(worker.Spec.Taints, func(tt corev1.Taint) bool { return tt.Key == clusterv1.NodeUninitializedTaint.Key }) {
		t.Errorf("worker taints %v lack Cluster API's uninitialized taint", worker.Spec.Taints)
	}
	if got := worker.Status.Addresses; !slices.ContainsFunc(got, func(a corev1.NodeAddress) bool { return a.Type == corev1.NodeInternalIP }) {
		t.Errorf("worker addresses %v lack its fixed IP", got)
	}
	checkKubeletCertificate(t, cs, rt.KubeletDir(workerID), "capi-worker-0", caCert)

	// The bootstrap signer signed cluster-info for CABPK's token.
	info, err := cs.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := cutToken(token)
	if _, ok := info.Data[bootstrapapi.JWSSignatureKeyPrefix+id]; !ok {
		t.Errorf("cluster-info has no signature for CABPK's token %s", id)
	}
	if !slices.ContainsFunc(info.ManagedFields, func(mf metav1.ManagedFieldsEntry) bool { return mf.Manager == "kube-controller-manager" }) {
		t.Errorf("cluster-info was never written by kube-controller-manager (managers %v)", info.ManagedFields)
	}
}

// createTokenLikeCABPK creates a bootstrap token Secret the way Cluster
// API's kubeadm bootstrap provider does in a workload cluster (its
// createToken) and returns "<id>.<secret>".
func createTokenLikeCABPK(t *testing.T, cs kubernetes.Interface, ttl time.Duration) string {
	t.Helper()
	token, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	id, sec, ok := cutToken(token)
	if !ok {
		t.Fatalf("generated token is not <id>.<secret>")
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(id), Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data: map[string][]byte{
			bootstrapapi.BootstrapTokenIDKey:               []byte(id),
			bootstrapapi.BootstrapTokenSecretKey:           []byte(sec),
			bootstrapapi.BootstrapTokenExpirationKey:       []byte(time.Now().UTC().Add(ttl).Format(time.RFC3339)),
			bootstrapapi.BootstrapTokenUsageSigningKey:     []byte("true"),
			bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
			bootstrapapi.BootstrapTokenExtraGroupsKey:      []byte("system:bootstrappers:kubeadm:default-node-token"),
			bootstrapapi.BootstrapTokenDescriptionKey:      []byte("token generated by cluster-api-bootstrap-provider-kubeadm"),
		},
	}
	if _, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Create(t.Context(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return token
}

func cutToken(token string) (id, secret string, ok bool) {
	m := bootstraputil.BootstrapTokenRegexp.FindStringSubmatch(token)
	if len(m) != 3 {
		return "", "", false
	}
	return m[1], m[2], true
}

// TestResumeRestartsControllerManager boots an init server, closes the
// runtime (its control planes stop, their data stays) and resumes it from
// the directory alone: the control plane answers on the same endpoint and
// its kube-controller-manager runs again (it signs cluster-info for a token
// made after the restart).
func TestResumeRestartsControllerManager(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pki, err := userdata.NewClusterPKI()
	if err != nil {
		t.Fatal(err)
	}
	endpoint := fmt.Sprintf("127.%d.%d.%d:6443", 100+rand.IntN(100), rand.IntN(250), 2+rand.IntN(250))
	data, err := userdata.Render(userdata.Init{Cluster: "resume", KubernetesVersion: "v1.37.2", Endpoint: endpoint, PKI: pki})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rt := New(dir, logr.Discard())
	if err := rt.Boot(ctx, openstacktest.BootEvent{ServerID: "srv-resume", Name: "resume-cp-0", UserData: data}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	kc, err := userdata.AdminKubeconfig(pki, "resume", "https://"+endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Timeout = 5 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("control plane answers after Close")
	}

	again := New(dir, logr.Discard())
	t.Cleanup(func() { _ = again.Close(context.Background()) })
	if err := again.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, "resume-cp-0", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("control plane after Resume, on %s: %v", endpoint, err)
	}
	if node.Spec.ProviderID != "openstack:///srv-resume" {
		t.Errorf("providerID = %q", node.Spec.ProviderID)
	}
	token := createTokenLikeCABPK(t, cs, time.Hour)
	id, _, _ := cutToken(token)
	err = retry.Until(ctx, retry.Policy{Initial: 200 * time.Millisecond, Max: time.Second, MaxElapsed: time.Minute},
		func(ctx context.Context) (bool, error) {
			info, err := cs.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			_, ok := info.Data[bootstrapapi.JWSSignatureKeyPrefix+id]
			return ok, nil
		})
	if err != nil {
		t.Fatalf("cluster-info never signed for a token made after Resume (kube-controller-manager not running?): %v", err)
	}
}
