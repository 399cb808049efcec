package kubetest

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// TestTwoEnvsSideBySide starts two independent servers, one with Cluster API's
// CRDs, checks that they do not share state, that the kubeconfig works, and
// that Stop makes the server unreachable.
func TestTwoEnvsSideBySide(t *testing.T) {
	ctx := t.Context()
	withCAPI := ForTest(t, Options{ClusterAPICRDs: true})
	bare, err := Start(ctx, Options{CRDs: []*apiextensionsv1.CustomResourceDefinition{widgetCRD()}})
	if err != nil {
		t.Fatal(err)
	}
	if withCAPI.Config.Host == bare.Config.Host {
		t.Fatalf("both environments serve at %s", bare.Config.Host)
	}

	// Cluster API CRDs are established and labelled like clusterctl's.
	ext := apiextensionsclient.NewForConfigOrDie(withCAPI.Config)
	crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "clusters.cluster.x-k8s.io", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := crd.Labels[ClusterctlLabel]; !ok || crd.Labels[ProviderLabel] != "cluster-api" {
		t.Errorf("clusters CRD labels = %v, want %s and %s=cluster-api", crd.Labels, ClusterctlLabel, ProviderLabel)
	}
	for _, name := range []string{"kubeadmconfigs.bootstrap.cluster.x-k8s.io", "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io", "providers.clusterctl.cluster.x-k8s.io"} {
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("CRD %s: %v", name, err)
		}
	}
	// The bare server has only its own CRD.
	list, err := apiextensionsclient.NewForConfigOrDie(bare.Config).ApiextensionsV1().CustomResourceDefinitions().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list.Items {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"widgets.example.openstrap.dev"}, names); diff != "" {
		t.Errorf("CRDs of the bare env (-want +got):\n%s", diff)
	}

	// The kubeconfig reaches the same server as Config.
	kc, err := bare.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSuffix(cfg.Host, "/") != strings.TrimSuffix(bare.Config.Host, "/") {
		t.Errorf("kubeconfig server %s, want %s", cfg.Host, bare.Config.Host)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-bare"}}
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace through kubeconfig: %v", err)
	}
	if _, err := kubernetes.NewForConfigOrDie(withCAPI.Config).CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{}); err == nil {
		t.Errorf("namespace created in one env is visible in the other")
	}

	if err := bare.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := bare.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := bare.Kubeconfig(); err == nil {
		t.Errorf("Kubeconfig of a stopped env succeeded")
	}
	if reachable(ctx, cfg) {
		t.Errorf("server %s still answers after Stop", cfg.Host)
	}
}

func reachable(ctx context.Context, cfg *rest.Config) bool {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return false
	}
	return c.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error() == nil
}

func widgetCRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.openstrap.dev"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.openstrap.dev",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr(true),
				}},
			}},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// TestStartMissingCRDPathFails fails before starting any process.
func TestStartMissingCRDPathFails(t *testing.T) {
	start := time.Now()
	env, err := Start(t.Context(), Options{CRDDirectoryPaths: []string{filepath.Join(t.TempDir(), "missing")}})
	if !errors.Is(err, fs.ErrNotExist) {
		if env != nil {
			_ = env.Stop()
		}
		t.Fatalf("Start with a missing CRD path: error = %v, want not exist", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("failing took %v: a control plane was started", took)
	}
}
