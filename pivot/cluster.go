package pivot

import (
	"context"
	"fmt"
	"slices"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/go-logr/logr"

	"github.com/openstrap/openstrap/internal/retry"
)

var (
	crdGVR       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	namespaceGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	coreTypes    = []Type{
		{GVK: schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, Resource: "secrets", Namespaced: true},
		{GVK: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, Resource: "configmaps", Namespaced: true},
	}
	hierarchyKinds = []schema.GroupKind{clusterGK, clusterClassGK, crsGK}
)

// readPolicy retries transient API errors of reads and idempotent writes.
var readPolicy = retry.Policy{Retryable: isTransient}

func isTransient(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) ||
		retry.IsTransient(err)
}

// kube is one API server.
type kube struct {
	dyn dynamic.Interface
}

func newKube(cfg *rest.Config) (*kube, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		// A move is a bounded burst of writes; client-go's default of 5 QPS would
		// make it crawl.
		cfg.QPS, cfg.Burst = 1000, 2000
	}
	if cfg.WarningHandler == nil && cfg.WarningHandlerWithContext == nil {
		cfg.WarningHandlerWithContext = logWarnings{}
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	return &kube{dyn: dyn}, nil
}

// logWarnings sends the API server's warnings to the context's logger at V(1)
// instead of client-go's default of printing them.
type logWarnings struct{}

func (logWarnings) HandleWarningHeaderWithContext(ctx context.Context, _ int, _ string, message string) {
	logr.FromContextOrDiscard(ctx).V(1).Info("API server warning", "warning", message)
}

func (k *kube) res(t *Type, ns string) dynamic.ResourceInterface {
	if !t.Namespaced {
		return k.dyn.Resource(t.GVR())
	}
	return k.dyn.Resource(t.GVR()).Namespace(ns)
}

// crds lists the cluster's CRDs.
func (k *kube) crds(ctx context.Context) ([]apiextensionsv1.CustomResourceDefinition, error) {
	var list *unstructured.UnstructuredList
	err := retry.Do(ctx, readPolicy, func(ctx context.Context) error {
		var err error
		list, err = k.dyn.Resource(crdGVR).List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list CRDs: %w", err)
	}
	out := make([]apiextensionsv1.CustomResourceDefinition, len(list.Items))
	for i := range list.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &out[i]); err != nil {
			return nil, fmt.Errorf("decode CRD %s: %w", list.Items[i].GetName(), err)
		}
	}
	return out, nil
}

// list returns the objects of type t in the namespaces (all when namespaces is nil).
func (k *kube) list(ctx context.Context, t *Type, namespaces []string) ([]*unstructured.Unstructured, error) {
	if !t.Namespaced || namespaces == nil {
		namespaces = []string{metav1.NamespaceAll}
	}
	var out []*unstructured.Unstructured
	for _, ns := range namespaces {
		cont := ""
		for {
			var list *unstructured.UnstructuredList
			err := retry.Do(ctx, readPolicy, func(ctx context.Context) error {
				var err error
				list, err = k.res(t, ns).List(ctx, metav1.ListOptions{Limit: 1000, Continue: cont})
				return err
			})
			if apierrors.IsNotFound(err) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("list %s in namespace %q: %w", t.GVR(), ns, err)
			}
			for i := range list.Items {
				obj := &list.Items[i]
				obj.SetGroupVersionKind(t.GVK)
				out = append(out, obj)
			}
			if cont = list.GetContinue(); cont == "" {
				break
			}
		}
	}
	return out, nil
}

// typesFromCRDs returns the types to move among crds: those labelled by Cluster
// API's provider label, clusterctl's label or one of extraLabels, plus extraTypes,
// in their storage version; and Secrets and ConfigMaps.
func typesFromCRDs(crds []apiextensionsv1.CustomResourceDefinition, extraLabels []string, extraTypes []schema.GroupKind) []Type {
	labels := append([]string{providerLabel, clusterctlLabel}, extraLabels...)
	out := slices.Clone(coreTypes)
	for _, crd := range crds {
		gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
		wanted := slices.Contains(extraTypes, gk)
		for _, l := range labels {
			if _, ok := crd.Labels[l]; ok {
				wanted = true
			}
		}
		// clusterctl's own inventory is per management cluster and never moves.
		if !wanted || crd.Spec.Group == clusterctlLabel {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if !v.Storage {
				continue
			}
			_, moveH := crd.Labels[moveHierarchyLabel]
			_, move := crd.Labels[moveLabel]
			out = append(out, Type{
				GVK:               gk.WithVersion(v.Name),
				Resource:          crd.Spec.Names.Plural,
				Namespaced:        crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
				StatusSubresource: v.Subresources != nil && v.Subresources.Status != nil,
				MoveHierarchy:     moveH || slices.Contains(hierarchyKinds, gk),
				Move:              move,
			})
		}
	}
	return out
}

// targetType resolves the source type t in the target's CRDs: the same version
// must be served by an established CRD. It returns the type to write with.
func targetType(t Type, crds []apiextensionsv1.CustomResourceDefinition) (Type, error) {
	gk := t.GVK.GroupKind()
	if gk.Group == "" {
		return t, nil
	}
	for _, crd := range crds {
		if crd.Spec.Group != gk.Group || crd.Spec.Names.Kind != gk.Kind {
			continue
		}
		established := false
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				established = true
			}
		}
		if !established {
			return t, fmt.Errorf("%w: CRD %s is not established", ErrTypeMissing, crd.Name)
		}
		for _, v := range crd.Spec.Versions {
			if v.Name == t.GVK.Version && v.Served {
				out := t
				out.Resource = crd.Spec.Names.Plural
				out.Namespaced = crd.Spec.Scope == apiextensionsv1.NamespaceScoped
				out.StatusSubresource = v.Subresources != nil && v.Subresources.Status != nil
				return out, nil
			}
		}
		return t, fmt.Errorf("%w: CRD %s does not serve version %s", ErrTypeMissing, crd.Name, t.GVK.Version)
	}
	return t, fmt.Errorf("%w: no CRD for %s", ErrTypeMissing, gk)
}
