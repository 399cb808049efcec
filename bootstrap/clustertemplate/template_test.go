package clustertemplate

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	bootstrapadmission "sigs.k8s.io/cluster-api/bootstrap/kubeadm/webhooks/admission"
	kcpadmission "sigs.k8s.io/cluster-api/controlplane/kubeadm/webhooks/admission"
	coreadmission "sigs.k8s.io/cluster-api/core/webhooks/admission"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openstrap/openstrap/bootstrap"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// varRE finds the variable references of a template.
var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// templateVars lists the variables the template references, sorted.
func templateVars() []string {
	var names []string
	for _, m := range varRE.FindAllStringSubmatch(string(Template()), -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// objects is a rendered template decoded, by kind and name.
type objects struct {
	secret  *corev1.Secret
	cluster *clusterv1.Cluster
	osc     *infrav1.OpenStackCluster
	kcp     *controlplanev1.KubeadmControlPlane
	md      *clusterv1.MachineDeployment
	kct     *bootstrapv1.KubeadmConfigTemplate
	mhc     *clusterv1.MachineHealthCheck
	osmts   map[string]*infrav1.OpenStackMachineTemplate
	all     []client.Object
}

func decode(t *testing.T, manifest []byte) objects {
	t.Helper()
	objs, err := Decode(manifest)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	o := objects{osmts: map[string]*infrav1.OpenStackMachineTemplate{}, all: objs}
	var kinds []string
	for _, obj := range objs {
		switch x := obj.(type) {
		case *corev1.Secret:
			o.secret = x
		case *clusterv1.Cluster:
			o.cluster = x
		case *infrav1.OpenStackCluster:
			o.osc = x
		case *controlplanev1.KubeadmControlPlane:
			o.kcp = x
		case *clusterv1.MachineDeployment:
			o.md = x
		case *bootstrapv1.KubeadmConfigTemplate:
			o.kct = x
		case *clusterv1.MachineHealthCheck:
			o.mhc = x
		case *infrav1.OpenStackMachineTemplate:
			o.osmts[x.Name] = x
		}
		kinds = append(kinds, obj.GetObjectKind().GroupVersionKind().Kind)
	}
	want := []string{"Secret", "Cluster", "OpenStackCluster", "KubeadmControlPlane", "OpenStackMachineTemplate",
		"MachineDeployment", "OpenStackMachineTemplate", "KubeadmConfigTemplate", "MachineHealthCheck"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}
	return o
}

// TestRenderFull renders every variable from Values and checks that each
// lands where it belongs in the typed objects.
func TestRenderFull(t *testing.T) {
	v := full()
	vars := v.Vars()
	for _, name := range templateVars() {
		if _, ok := vars[name]; !ok {
			t.Errorf("the template references %s, which Vars does not give", name)
		}
	}
	out, err := v.Render()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("${")) {
		t.Errorf("rendered template still holds ${:\n%s", out)
	}
	o := decode(t, out)
	for _, obj := range o.all {
		if obj.GetNamespace() != "team-a" || !strings.HasPrefix(obj.GetName(), "prod-eu1") {
			t.Errorf("%T %s/%s: not in team-a or not named after the cluster", obj, obj.GetNamespace(), obj.GetName())
		}
	}
	if !bytes.Equal(o.secret.Data["clouds.yaml"], cloudsYAML) || string(o.secret.Data["cacert"]) != caPEM {
		t.Error("identity Secret does not hold the clouds.yaml and the CA")
	}
	if o.secret.Labels["clusterctl.cluster.x-k8s.io/move"] != "true" {
		t.Error("identity Secret is not labelled for clusterctl move")
	}
	if got := o.cluster.Spec.ClusterNetwork; got.Pods.CIDRBlocks[0] != "172.16.0.0/16" || got.Services.CIDRBlocks[0] != "10.96.0.0/16" {
		t.Errorf("cluster network = %+v", got)
	}
	osc := o.osc.Spec
	if osc.IdentityRef.Name != "prod-eu1-cloud-config" || osc.IdentityRef.CloudName != "sim" ||
		osc.ExternalNetwork.Filter.Name != "ext-net" || osc.ManagedSubnets[0].CIDR != "10.20.0.0/22" {
		t.Errorf("OpenStackCluster spec = %+v", osc)
	}
	if *o.kcp.Spec.Replicas != 3 || o.kcp.Spec.Version != "v1.37.2" {
		t.Errorf("KubeadmControlPlane replicas %d version %s", *o.kcp.Spec.Replicas, o.kcp.Spec.Version)
	}
	if *o.md.Spec.Replicas != 4 || o.md.Spec.Template.Spec.Version != "v1.37.2" || o.md.Spec.ClusterName != "prod-eu1" {
		t.Errorf("MachineDeployment replicas %d version %s", *o.md.Spec.Replicas, o.md.Spec.Template.Spec.Version)
	}
	cpT, wT := o.osmts[o.kcp.Spec.MachineTemplate.Spec.InfrastructureRef.Name], o.osmts[o.md.Spec.Template.Spec.InfrastructureRef.Name]
	if cpT == nil || wT == nil || cpT == wT {
		t.Fatalf("the KubeadmControlPlane and MachineDeployment do not each reference one of the templates %v", o.osmts)
	}
	for _, c := range []struct {
		osmt   *infrav1.OpenStackMachineTemplate
		flavor string
	}{{cpT, "m1.large"}, {wT, "m1.xlarge"}} {
		s := c.osmt.Spec.Template.Spec
		if *s.Flavor.Filter.Name != c.flavor || *s.Image.Filter.Name != "Ubuntu 24.04: noble (2026-11)" || s.SSHKeyName != "ops key" {
			t.Errorf("%s: flavor %s image %s key %q", c.osmt.Name, *s.Flavor.Filter.Name, *s.Image.Filter.Name, s.SSHKeyName)
		}
	}
	if o.md.Spec.Template.Spec.Bootstrap.ConfigRef.Name != o.kct.Name {
		t.Errorf("MachineDeployment bootstraps from %q, not the KubeadmConfigTemplate %q", o.md.Spec.Template.Spec.Bootstrap.ConfigRef.Name, o.kct.Name)
	}

	mhc := o.mhc.Spec
	if mhc.ClusterName != "prod-eu1" || *mhc.Checks.NodeStartupTimeoutSeconds != 900 || len(mhc.Checks.UnhealthyNodeConditions) != 2 {
		t.Fatalf("MachineHealthCheck spec = %+v", mhc)
	}
	for i, st := range []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionUnknown} {
		c := mhc.Checks.UnhealthyNodeConditions[i]
		if c.Type != corev1.NodeReady || c.Status != st || *c.TimeoutSeconds != 90 {
			t.Errorf("unhealthyNodeConditions[%d] = %s=%s after %ds", i, c.Type, c.Status, *c.TimeoutSeconds)
		}
	}
	// The check selects the workers and only them: the labels the
	// MachineDeployment gives its Machines, not the control plane's.
	sel := mhc.Selector.MatchLabels
	for k, val := range sel {
		if o.md.Spec.Template.Labels[k] != val {
			t.Errorf("MachineHealthCheck selects %s=%s, which the workers' Machines do not carry", k, val)
		}
	}
	if sel[clusterv1.MachineDeploymentNameLabel] != o.md.Name {
		t.Errorf("MachineHealthCheck selector %v does not name the MachineDeployment", sel)
	}
}

// TestRenderMinimalKeepsOptionalOut checks what the optional values leave
// when empty.
func TestRenderMinimalKeepsOptionalOut(t *testing.T) {
	out, err := minimal().Render()
	if err != nil {
		t.Fatal(err)
	}
	o := decode(t, out)
	for name, osmt := range o.osmts {
		if osmt.Spec.Template.Spec.SSHKeyName != "" {
			t.Errorf("%s has key %q", name, osmt.Spec.Template.Spec.SSHKeyName)
		}
	}
	if len(o.secret.Data["cacert"]) != 0 {
		t.Error("Secret has a cacert")
	}
	if o.secret.Namespace != DefaultNamespace || *o.kcp.Spec.Replicas != 1 || *o.md.Spec.Replicas != 0 {
		t.Errorf("namespace %s, replicas %d/%d", o.secret.Namespace, *o.kcp.Spec.Replicas, *o.md.Spec.Replicas)
	}
}

// TestTemplateDefaultsMatchValues: the template's own ${VAR:=default}
// give what Values' defaults give, so a user who renders it with only the
// required variables gets the same cluster.
func TestTemplateDefaultsMatchValues(t *testing.T) {
	v := minimal()
	v.WorkerCount = 2 // the template's default; Values' zero is none
	all := v.Vars()
	required := map[string]string{}
	for _, k := range []string{"CLUSTER_NAME", "NAMESPACE", "KUBERNETES_VERSION", "OPENSTACK_CLOUD", "OPENSTACK_CLOUD_YAML_B64",
		"OPENSTACK_IMAGE_NAME", "CONTROL_PLANE_MACHINE_TEMPLATE_SUFFIX", "WORKER_MACHINE_TEMPLATE_SUFFIX"} {
		required[k] = all[k]
	}
	a, err := Render(Template(), required)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(Template(), all)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(a), string(b)); d != "" {
		t.Errorf("template defaults differ from Values defaults (-template +values):\n%s", d)
	}
}

// TestRenderMissingVariables: without variables, the error names exactly
// the required ones (those of internal/stacktest's Env.Vars are a superset).
func TestRenderMissingVariables(t *testing.T) {
	_, err := Render(Template(), nil)
	var missing *bootstrap.MissingVariablesError
	if !errors.As(err, &missing) {
		t.Fatalf("Render = %v, want a *bootstrap.MissingVariablesError", err)
	}
	want := []string{"CLUSTER_NAME", "KUBERNETES_VERSION", "NAMESPACE", "OPENSTACK_CLOUD", "OPENSTACK_CLOUD_YAML_B64", "OPENSTACK_IMAGE_NAME"}
	if !slices.Equal(missing.Names, want) {
		t.Errorf("missing %v, want %v", missing.Names, want)
	}
}

// TestRollingNames: the machine templates' names follow what their
// machines are made of, so a new flavor or image rolls the machines
// onto a new template, and the same values keep the same names.
func TestRollingNames(t *testing.T) {
	names := func(v Values) (cp, w string) {
		out, err := v.Render()
		if err != nil {
			t.Fatal(err)
		}
		o := decode(t, out)
		return o.kcp.Spec.MachineTemplate.Spec.InfrastructureRef.Name, o.md.Spec.Template.Spec.InfrastructureRef.Name
	}
	base := minimal()
	cp0, w0 := names(base)
	if cp1, w1 := names(base); cp1 != cp0 || w1 != w0 {
		t.Errorf("same values, other names: %s %s, then %s %s", cp0, w0, cp1, w1)
	}
	if !regexp.MustCompile(`^demo-control-plane-[0-9a-f]{8}$`).MatchString(cp0) || !regexp.MustCompile(`^demo-md-0-[0-9a-f]{8}$`).MatchString(w0) {
		t.Errorf("names %s, %s", cp0, w0)
	}
	v := base
	v.WorkerFlavor = "m1.large"
	if cp, w := names(v); cp != cp0 || w == w0 {
		t.Errorf("new worker flavor: control plane %s (was %s), workers %s (was %s); want only the workers' name changed", cp, cp0, w, w0)
	}
	v = base
	v.ControlPlaneFlavor = "m1.large"
	if cp, w := names(v); cp == cp0 || w != w0 {
		t.Errorf("new control-plane flavor: control plane %s (was %s), workers %s (was %s)", cp, cp0, w, w0)
	}
	v = base
	v.Image = "ubuntu-26.04"
	if cp, w := names(v); cp == cp0 || w == w0 {
		t.Errorf("new image: names %s %s unchanged", cp, w)
	}
	v = base
	v.WorkerCount, v.ControlPlaneCount, v.KubernetesVersion = 5, 3, "v1.37.3"
	if cp, w := names(v); cp != cp0 || w != w0 {
		t.Errorf("counts and version changed the template names: %s %s", cp, w)
	}
}

// TestDecodeIsStrict: an unknown field, an unknown kind and a duplicate
// field are errors naming the document, never quoting the Secret.
func TestDecodeIsStrict(t *testing.T) {
	out, err := full().Render()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{"unknown field", "      sshKeyName:", "      trunk: true\n      sshKeyName:", []string{"OpenStackMachineTemplate", `unknown field "spec.template.spec.trunk"`}},
		{"unknown kind", "kind: MachineHealthCheck", "kind: MachineHealthProbe", []string{"MachineHealthProbe", "document 9"}},
		{"duplicate field", "type: Opaque", "type: Opaque\ntype: Opaque", []string{"document 1 (Secret)", `key "type" already set`}},
		{"Secret data not base64", "  clouds.yaml: ", "  clouds.yaml: " + secret + "!", []string{"document 1 (Secret)", "withheld"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(string(out), tt.old, tt.new, 1)
			if bad == string(out) {
				t.Fatalf("%q not in the rendered template", tt.old)
			}
			_, err := Decode([]byte(bad))
			if err == nil {
				t.Fatal("Decode accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "Y2xvdWRz") {
				t.Errorf("error quotes the Secret: %q", err)
			}
		})
	}
}

// TestClusterAPIWebhooksAgree runs Cluster API's own defaulting and
// validating webhooks (which openstrap's stack does not serve) over the
// rendered objects: defaulting must change nothing, since the template
// writes every default out, and validation must pass.
func TestClusterAPIWebhooksAgree(t *testing.T) {
	for name, v := range map[string]Values{"minimal": minimal(), "full": full()} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			out, err := v.Render()
			if err != nil {
				t.Fatal(err)
			}
			o := decode(t, out)
			for _, obj := range o.all {
				defaulted := obj.DeepCopyObject().(client.Object)
				if err := bootstrap.DefaultClusterAPIObjects(ctx, defaulted); err != nil {
					t.Fatal(err)
				}
				if !equality.Semantic.DeepEqual(obj, defaulted) {
					t.Errorf("Cluster API's defaulting changes %T %s:\n%s", obj, obj.GetName(), cmp.Diff(obj, defaulted))
				}
			}
			check := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Errorf("Cluster API's %s webhook refuses it: %v", what, err)
				}
			}
			_, err = (&coreadmission.MachineDeployment{}).ValidateCreate(ctx, o.md)
			check("MachineDeployment", err)
			_, err = (&coreadmission.MachineHealthCheck{}).ValidateCreate(ctx, o.mhc)
			check("MachineHealthCheck", err)
			_, err = (&kcpadmission.KubeadmControlPlane{}).ValidateCreate(ctx, o.kcp)
			check("KubeadmControlPlane", err)
			_, err = (&bootstrapadmission.KubeadmConfigTemplate{}).ValidateCreate(ctx, o.kct)
			check("KubeadmConfigTemplate", err)
			_, err = (&coreadmission.Cluster{}).ValidateCreate(ctx, o.cluster)
			check("Cluster", err)
		})
	}
}

// TestRenderKeepsNamesStrings: names YAML 1.1 reads as a boolean or a
// number stay strings (the template quotes them).
func TestRenderKeepsNamesStrings(t *testing.T) {
	for _, names := range [][2]string{{"yes", "no"}, {"on", "123"}, {"n", "y"}, {"null", "true"}} {
		v := minimal()
		v.ClusterName, v.Namespace = names[0], names[1]
		out, err := v.Render()
		if err != nil {
			t.Fatalf("%v: %v", names, err)
		}
		o := decode(t, out)
		if o.cluster.Name != names[0] || o.cluster.Namespace != names[1] || o.md.Spec.ClusterName != names[0] ||
			o.mhc.Spec.ClusterName != names[0] || o.mhc.Labels[clusterv1.ClusterNameLabel] != names[0] {
			t.Errorf("%v: cluster %s/%s", names, o.cluster.Namespace, o.cluster.Name)
		}
	}
}
