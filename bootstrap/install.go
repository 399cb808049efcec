package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/openstrap/openstrap/internal/retry"
)

// DefaultFieldManager is the server-side apply field manager of Install.
const DefaultFieldManager = "openstrap"

// applyRetryLimit bounds the retries of one apply on transient errors (such as
// a webhook whose server is still starting).
const applyRetryLimit = 2 * time.Minute

// Install applies manifests (multi-document YAML or JSON, `kind: List`
// expanded) to the cluster with server-side apply. Order: Namespaces, then
// CRDs, then (once every CRD is Established and discovery serves it) all other
// objects, webhook configurations last. Variables (${VAR}, ${VAR:=default})
// are substituted first; if any has no value, Install applies nothing and
// returns a *MissingVariablesError naming all of them.
//
// It is idempotent: applying the same manifests again changes nothing.
// Options: FieldManager, Variables, VariablesFromEnv, WaitForDeployments,
// DefaultNamespace, NoForceConflicts, WithLogger, WithProgress.
func Install(ctx context.Context, c Cluster, manifests [][]byte, opts ...Option) error {
	o, err := newOptions(fnInstall, opts)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if c == nil {
		return fmt.Errorf("install: %w: nil cluster", ErrInvalidOption)
	}
	if o.fieldManager == "" {
		o.fieldManager = DefaultFieldManager
	}
	if o.defaultNamespace == "" {
		o.defaultNamespace = metav1.NamespaceDefault
	}
	name := c.Name()
	log := o.logger(logr.FromContextOrDiscard(ctx)).WithValues("cluster", name)

	subst, err := substituteAll(manifests, o.lookup)
	if err != nil {
		return fmt.Errorf("install into %q: %w", name, err)
	}
	objs, err := decodeAll(subst)
	if err != nil {
		return fmt.Errorf("install into %q: %w", name, err)
	}
	namespaces, crds, rest := partition(objs)

	rc := c.RESTConfig()
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 50, 100
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("install into %q: client: %w", name, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return fmt.Errorf("install into %q: client: %w", name, err)
	}
	in := &installer{
		o: o, log: log, cluster: name, dyn: dyn,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
	}
	for _, u := range slices.Concat(namespaces, crds) {
		if err := in.apply(ctx, u); err != nil {
			return err
		}
	}
	if len(crds) > 0 {
		if err := in.waitCRDs(ctx, crds); err != nil {
			return err
		}
	}
	crdGroups := map[string]bool{}
	for _, u := range crds {
		g, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		crdGroups[g] = true
	}
	in.crdGroups = crdGroups
	var deployments []*unstructured.Unstructured
	for _, u := range rest {
		if err := in.apply(ctx, u); err != nil {
			return err
		}
		if u.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: "apps", Kind: "Deployment"}) {
			deployments = append(deployments, u)
		}
	}
	log.Info("installed manifests", "objects", len(objs), "crds", len(crds))
	if o.waitDeployments {
		for _, u := range deployments {
			if err := in.waitDeployment(ctx, u); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *options) lookup(name string) (string, bool) {
	if v, ok := o.vars[name]; ok {
		return v, true
	}
	if o.varsFromEnv {
		return os.LookupEnv(name)
	}
	return "", false
}

type installer struct {
	o         *options
	log       logr.Logger
	cluster   string
	dyn       dynamic.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	crdGroups map[string]bool
}

func objectName(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", u.GetKind(), ns, u.GetName())
	}
	return fmt.Sprintf("%s %s", u.GetKind(), u.GetName())
}

// mapping resolves the object's resource, refreshing discovery while a CRD of
// the same bundle is not served yet.
func (in *installer) mapping(ctx context.Context, u *unstructured.Unstructured) (*meta.RESTMapping, error) {
	gvk := u.GroupVersionKind()
	var m *meta.RESTMapping
	err := retry.Until(ctx, retry.Policy{Initial: 100 * time.Millisecond, Max: time.Second, MaxElapsed: time.Minute}, func(context.Context) (bool, error) {
		var err error
		m, err = in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err == nil {
			return true, nil
		}
		if !meta.IsNoMatchError(err) {
			return false, err
		}
		in.mapper.Reset()
		if m, err = in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			return true, nil
		}
		if !in.crdGroups[gvk.Group] {
			return false, retry.Permanent(fmt.Errorf("the server has no resource type %s (install its CRD first)", gvk))
		}
		return false, nil
	})
	return m, err
}

func (in *installer) apply(ctx context.Context, u *unstructured.Unstructured) (err error) {
	obj := objectName(u)
	done := in.o.step(PhaseApply, in.cluster, obj)
	defer func() {
		if err != nil {
			err = fmt.Errorf("install into %q: apply %s: %w", in.cluster, obj, err)
		}
		done(err)
	}()
	m, err := in.mapping(ctx, u)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if u.GetNamespace() == "" {
			u.SetNamespace(in.o.defaultNamespace)
		}
		ri = in.dyn.Resource(m.Resource).Namespace(u.GetNamespace())
	} else {
		u.SetNamespace("")
		ri = in.dyn.Resource(m.Resource)
	}
	if identityOnly(u) {
		// Server-side apply keeps no managed fields for an object that sets
		// nothing but its name, and a later apply writes them: look instead.
		_, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		if err == nil {
			in.log.V(1).Info("exists, nothing to apply", "object", obj)
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
	}
	var res *unstructured.Unstructured
	err = retry.Do(ctx, retry.Policy{MaxElapsed: applyRetryLimit, Retryable: transientKube}, func(ctx context.Context) error {
		var err error
		res, err = ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: in.o.fieldManager, Force: !in.o.noForce})
		return err
	})
	if err != nil {
		return err
	}
	in.log.V(1).Info("applied", "object", obj, "resourceVersion", res.GetResourceVersion())
	return nil
}

// identityOnly reports whether u sets nothing but apiVersion, kind, name and
// namespace (a bare Namespace, typically).
func identityOnly(u *unstructured.Unstructured) bool {
	for k := range u.Object {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			return false
		}
	}
	md, _ := u.Object["metadata"].(map[string]any)
	for k := range md {
		if k != "name" && k != "namespace" {
			return false
		}
	}
	return true
}

// transientKube reports whether a Kubernetes API error is worth retrying:
// server-side failures (including webhooks that do not answer yet), throttling
// and dropped connections.
func transientKube(err error) bool {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
			apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err)
	}
	return retry.IsTransient(err)
}

// waitCRDs waits until every CRD is Established with its names accepted.
func (in *installer) waitCRDs(ctx context.Context, crds []*unstructured.Unstructured) (err error) {
	done := in.o.step(PhaseWaitCRDs, in.cluster, "")
	defer func() {
		if err != nil {
			err = fmt.Errorf("install into %q: %w", in.cluster, err)
		}
		done(err)
	}()
	crdRes := apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")
	for _, u := range crds {
		var last string
		err := retry.Until(ctx, retry.Policy{Initial: 50 * time.Millisecond, Max: time.Second, Retryable: transientKube}, func(ctx context.Context) (bool, error) {
			got, err := in.dyn.Resource(crdRes).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, &crd); err != nil {
				return false, retry.Permanent(err)
			}
			est, names := false, false
			for _, c := range crd.Status.Conditions {
				switch c.Type {
				case apiextensionsv1.Established:
					est = c.Status == apiextensionsv1.ConditionTrue
				case apiextensionsv1.NamesAccepted:
					names = c.Status == apiextensionsv1.ConditionTrue
					if !names {
						last = c.Message
					}
				}
			}
			return est && names, nil
		})
		if err != nil {
			if last != "" {
				return fmt.Errorf("CRD %s not established (%s): %w", u.GetName(), last, err)
			}
			return fmt.Errorf("CRD %s not established: %w", u.GetName(), err)
		}
	}
	// Discovery must see the new types before their objects are applied.
	in.mapper.Reset()
	return nil
}

// waitDeployment waits until a Deployment's current generation is Available.
func (in *installer) waitDeployment(ctx context.Context, u *unstructured.Unstructured) (err error) {
	obj := objectName(u)
	done := in.o.step(PhaseWaitDeployment, in.cluster, obj)
	defer func() {
		if err != nil {
			err = fmt.Errorf("install into %q: wait for %s: %w", in.cluster, obj, err)
		}
		done(err)
	}()
	res := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	return retry.Until(ctx, retry.Policy{Initial: 200 * time.Millisecond, Max: 2 * time.Second, Retryable: transientKube}, func(ctx context.Context) (bool, error) {
		got, err := in.dyn.Resource(res).Namespace(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		observed, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
		if observed < got.GetGeneration() {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Available" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}

// Decode substitutes variables in manifests and decodes them into objects
// exactly as Install does, without a cluster: a *MissingVariablesError names
// every variable without a value, and a document that does not parse, or an
// object without apiVersion, kind or metadata.name, is an error. Callers check
// manifests with it before they make anything. Options: Variables,
// VariablesFromEnv (the other Install options are accepted and ignored).
func Decode(manifests [][]byte, opts ...Option) ([]*unstructured.Unstructured, error) {
	o, err := newOptions(fnInstall, opts)
	if err != nil {
		return nil, err
	}
	subst, err := substituteAll(manifests, o.lookup)
	if err != nil {
		return nil, err
	}
	return decodeAll(subst)
}

// decodeAll splits and decodes every manifest into objects, in order.
func decodeAll(manifests [][]byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for i, m := range manifests {
		d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(m), 4096)
		for doc := 1; ; doc++ {
			var raw map[string]any
			if err := d.Decode(&raw); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("manifest %d, document %d: %w", i+1, doc, err)
			}
			if len(raw) == 0 {
				continue
			}
			u := &unstructured.Unstructured{Object: raw}
			if u.IsList() {
				list, err := u.ToList()
				if err != nil {
					return nil, fmt.Errorf("manifest %d, document %d: %w", i+1, doc, err)
				}
				for j := range list.Items {
					objs = append(objs, &list.Items[j])
				}
				continue
			}
			objs = append(objs, u)
		}
	}
	for _, u := range objs {
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("object %q of kind %q (%s) lacks apiVersion, kind or metadata.name", u.GetName(), u.GetKind(), u.GetAPIVersion())
		}
	}
	return objs, nil
}

// partition splits objects into Namespaces, CRDs and the rest; the rest keep
// their order except that webhook configurations go last, so that they do not
// intercept objects of the same bundle before their servers run.
func partition(objs []*unstructured.Unstructured) (namespaces, crds, rest []*unstructured.Unstructured) {
	var webhooks []*unstructured.Unstructured
	for _, u := range objs {
		gk := u.GroupVersionKind().GroupKind()
		switch gk {
		case schema.GroupKind{Kind: "Namespace"}:
			namespaces = append(namespaces, u)
		case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
			crds = append(crds, u)
		case schema.GroupKind{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"},
			schema.GroupKind{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:
			webhooks = append(webhooks, u)
		default:
			rest = append(rest, u)
		}
	}
	return namespaces, crds, append(rest, webhooks...)
}
