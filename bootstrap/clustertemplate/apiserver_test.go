package clustertemplate

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openstrap/openstrap/bootstrap"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// TestAPIServerAcceptsTemplate applies the rendered template to a real API
// server holding the CRDs openstrap's stack installs
// (bootstrap.InstallControllerCRDs), so their schemas (types, enums,
// limits, CEL rules, no unknown field) judge every object: first as a
// server-side apply dry run of each object, then for real with
// bootstrap.Install, again (nothing changes), and again with a new worker
// flavor (a new template, the MachineDeployment moved onto it). Values the
// schemas must refuse are refused.
func TestAPIServerAcceptsTemplate(t *testing.T) {
	ctx := t.Context()
	start := time.Now()
	mgmt, err := bootstrap.Local(ctx, "clustertemplate", bootstrap.Dir(filepath.Join(t.TempDir(), "mgmt")),
		bootstrap.Address("127.0.0.41"), bootstrap.NoControllerManager())
	if err != nil {
		t.Fatalf("management cluster: %v", err)
	}
	t.Cleanup(func() { _ = mgmt.Delete(context.Background()) })
	if err := bootstrap.InstallControllerCRDs(ctx, mgmt); err != nil {
		t.Fatalf("install CRDs: %v", err)
	}
	t.Logf("API server with the controllers' CRDs up in %v", time.Since(start).Round(100*time.Millisecond))
	scheme, err := bootstrap.NewControllersScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(mgmt.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"default", "team-a"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); client.IgnoreAlreadyExists(err) != nil {
			t.Fatal(err)
		}
	}

	t.Run("dry run of every object", func(t *testing.T) {
		for name, v := range map[string]Values{"minimal": minimal(), "full": full()} {
			out, err := v.Render()
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range decode(t, out).all {
				u := toUnstructured(t, obj)
				err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.DryRunAll, client.FieldOwner("clustertemplate-test"), client.ForceOwnership)
				if err != nil {
					t.Errorf("%s: %s %s: %v", name, u.GetKind(), u.GetName(), redact(err))
				}
			}
		}
		// Dry runs create nothing.
		var clusters clusterv1.ClusterList
		if err := c.List(ctx, &clusters); err != nil || len(clusters.Items) != 0 {
			t.Errorf("after dry runs: %d Clusters (%v)", len(clusters.Items), err)
		}
	})

	v := full()
	apply := func(t *testing.T, v Values) []client.Object {
		t.Helper()
		if err := v.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := bootstrap.Install(ctx, mgmt, [][]byte{Template()}, bootstrap.Variables(v.Vars())); err != nil {
			t.Fatalf("Install: %v", redact(err))
		}
		out, err := Render(Template(), v.Vars())
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, out).all
	}

	t.Run("applied, every field kept", func(t *testing.T) {
		rendered := apply(t, v)
		versions := map[string]string{}
		for _, want := range rendered {
			got := want.DeepCopyObject().(client.Object)
			if err := c.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
				t.Fatalf("%T %s: %v", want, want.GetName(), err)
			}
			w := toUnstructured(t, want).Object
			delete(w, "kind") // a typed Get leaves the type out
			delete(w, "apiVersion")
			if d := missing(w, toUnstructured(t, got).Object, ""); d != "" {
				t.Errorf("%T %s: the server dropped or changed what the template set:\n%s", want, want.GetName(), d)
			}
			versions[key(got)] = got.GetResourceVersion()
		}
		// Applying again changes nothing.
		apply(t, v)
		for _, obj := range rendered {
			got := obj.DeepCopyObject().(client.Object)
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
				t.Fatal(err)
			}
			if got.GetResourceVersion() != versions[key(got)] {
				t.Errorf("%s changed on a second apply", key(got))
			}
		}
	})

	t.Run("a new worker flavor makes a new template for the workers only", func(t *testing.T) {
		var md clusterv1.MachineDeployment
		var kcp controlplanev1.KubeadmControlPlane
		get := func() {
			t.Helper()
			if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "prod-eu1-md-0"}, &md); err != nil {
				t.Fatal(err)
			}
			if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "prod-eu1-control-plane"}, &kcp); err != nil {
				t.Fatal(err)
			}
		}
		get()
		oldW, oldCP := md.Spec.Template.Spec.InfrastructureRef.Name, kcp.Spec.MachineTemplate.Spec.InfrastructureRef.Name
		v2 := v
		v2.WorkerFlavor = "m1.medium"
		apply(t, v2)
		get()
		newW := md.Spec.Template.Spec.InfrastructureRef.Name
		if newW == oldW || kcp.Spec.MachineTemplate.Spec.InfrastructureRef.Name != oldCP {
			t.Fatalf("workers' template %s -> %s, control plane's %s -> %s", oldW, newW, oldCP, kcp.Spec.MachineTemplate.Spec.InfrastructureRef.Name)
		}
		var osmt infrav1.OpenStackMachineTemplate
		if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: newW}, &osmt); err != nil {
			t.Fatal(err)
		}
		if f := *osmt.Spec.Template.Spec.Flavor.Filter.Name; f != "m1.medium" {
			t.Errorf("new template %s has flavor %s", newW, f)
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: oldW}, &osmt); err != nil {
			t.Errorf("old template %s: %v (it must stay for the old MachineSet)", oldW, err)
		} else if f := *osmt.Spec.Template.Spec.Flavor.Filter.Name; f != "m1.xlarge" {
			t.Errorf("old template %s was changed in place: flavor %s", oldW, f)
		}
	})

	// Values that skip Validate reach the schemas, which refuse them.
	t.Run("the schemas refuse bad values", func(t *testing.T) {
		for _, tt := range []struct{ name, variable, value, want string }{
			{"node CIDR with host bits", "OPENSTACK_NODE_CIDR", "10.6.0.1/24", "prefix of at most /29"},
			{"negative startup timeout", "WORKER_NODE_STARTUP_TIMEOUT_SECONDS", "-1", "nodeStartupTimeoutSeconds"},
			{"empty image", "OPENSTACK_IMAGE_NAME", "", "spec.template.spec.image.filter.name"},
		} {
			vars := minimal().Vars()
			vars["NAMESPACE"] = "default"
			vars[tt.variable] = tt.value
			err := bootstrap.Install(ctx, mgmt, [][]byte{Template()}, bootstrap.Variables(vars))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Install = %v, want an error about %s", tt.name, redact(err), tt.want)
			}
		}
	})
}

func key(o client.Object) string {
	return fmt.Sprintf("%s %s/%s", reflect.TypeOf(o).Elem().Name(), o.GetNamespace(), o.GetName())
}

// toUnstructured is obj as server-side apply sends it: no status, no
// creation timestamp.
func toUnstructured(t *testing.T, obj client.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u
}

// missing lists the paths of want that got lacks or holds another value
// at (got may hold more: server defaults, metadata).
func missing(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path + ": not an object\n"
		}
		var b strings.Builder
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				b.WriteString(path + "." + k + ": missing\n")
				continue
			}
			b.WriteString(missing(wv, gv, path+"."+k))
		}
		return b.String()
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path + ": list differs\n"
		}
		var b strings.Builder
		for i := range w {
			b.WriteString(missing(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)))
		}
		return b.String()
	}
	if !reflect.DeepEqual(want, got) {
		return path + ": changed\n" // values not shown: Secret data
	}
	return ""
}

// redact keeps the clouds.yaml password out of test output, should an
// error ever carry it.
func redact(err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), secret) {
		return fmt.Errorf("error withheld: it quotes the clouds.yaml password")
	}
	return err
}
