package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/openstrap/openstrap/internal/capicrds"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// ControllerCRDs returns every CRD the controller stack needs: Cluster API
// v1.14's core, kubeadm bootstrap, kubeadm control-plane and clusterctl
// inventory CRDs (embedded, serving v1beta2 only, labelled as `clusterctl
// init` labels them) and openstrap's infrastructure CRDs. Each call returns
// fresh objects.
func ControllerCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	capi, err := capicrds.All()
	if err != nil {
		return nil, err
	}
	infra, err := infrav1.CRDs()
	if err != nil {
		return nil, fmt.Errorf("openstrap CRDs: %w", err)
	}
	return append(capi, infra...), nil
}

// InstallControllerCRDs installs or upgrades every CRD of ControllerCRDs in c
// with server-side apply, taking over the fields other managers own (an
// older `clusterctl init`, say: v1beta1 stops being served), and waits until
// each is Established. Repeating it changes nothing. Options are Install's:
// FieldManager, NoForceConflicts, WithLogger, WithProgress.
func InstallControllerCRDs(ctx context.Context, c Cluster, opts ...Option) error {
	crds, err := ControllerCRDs()
	if err != nil {
		return fmt.Errorf("install controller CRDs: %w", err)
	}
	manifests := make([][]byte, 0, len(crds))
	for _, crd := range crds {
		b, err := crdManifest(crd)
		if err != nil {
			return fmt.Errorf("install controller CRDs: %s: %w", crd.Name, err)
		}
		manifests = append(manifests, b)
	}
	return Install(ctx, c, manifests, opts...)
}

// crdManifest encodes a CRD for server-side apply: without status and the
// empty creationTimestamp a typed object marshals.
func crdManifest(crd *apiextensionsv1.CustomResourceDefinition) ([]byte, error) {
	c := crd.DeepCopy()
	c.APIVersion, c.Kind = apiextensionsv1.SchemeGroupVersion.String(), "CustomResourceDefinition"
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c)
	if err != nil {
		return nil, err
	}
	delete(u, "status")
	if md, ok := u["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return yaml.Marshal(u)
}

// checkControllerCRDs reports, by name, the CRDs of the stack that the
// cluster lacks or has not Established, and the Cluster API CRDs that still
// serve another version than the one they store.
func checkControllerCRDs(ctx context.Context, rc *rest.Config) error {
	want, err := ControllerCRDs()
	if err != nil {
		return err
	}
	cs, err := apiextensionsclient.NewForConfig(rc)
	if err != nil {
		return err
	}
	var missing, notReady, extraServed []string
	for _, w := range want {
		got, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, w.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			missing = append(missing, w.Name)
			continue
		}
		if err != nil {
			return fmt.Errorf("CRD %s: %w", w.Name, err)
		}
		established := false
		for _, cond := range got.Status.Conditions {
			established = established || cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue
		}
		if !established {
			notReady = append(notReady, w.Name)
		}
		for _, v := range got.Spec.Versions {
			if v.Served && !v.Storage {
				extraServed = append(extraServed, w.Name+" "+v.Name)
			}
		}
	}
	slices.Sort(missing)
	switch {
	case len(missing) > 0:
		return fmt.Errorf("CRDs missing: %s (run InstallControllerCRDs first)", strings.Join(missing, ", "))
	case len(notReady) > 0:
		return fmt.Errorf("CRDs not established: %s", strings.Join(notReady, ", "))
	case len(extraServed) > 0:
		return fmt.Errorf("CRDs serve versions they do not store, with no conversion: %s (run InstallControllerCRDs to serve v1beta2 only)", strings.Join(extraServed, ", "))
	}
	return nil
}
