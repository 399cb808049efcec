package v1beta2_test

import (
	"bytes"
	"os"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1beta2 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// sampleObjects decodes testdata/capo-subset.yaml into typed objects,
// refusing any field the Go types do not declare (so a JSON name that
// differs from the sample, written from CAPO's API, fails here).
func sampleObjects(t *testing.T) []client.Object {
	t.Helper()
	data, err := os.ReadFile("testdata/capo-subset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := v1beta2.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var objs []client.Object
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		o, err := scheme.New(meta.GroupVersionKind())
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if err := yaml.UnmarshalStrict(doc, o); err != nil {
			t.Fatalf("document %d (%s): %v", i, meta.Kind, err)
		}
		objs = append(objs, o.(client.Object))
	}
	if len(objs) != 5 {
		t.Fatalf("sample has %d objects, want 5", len(objs))
	}
	return objs
}

func TestSampleDecodes(t *testing.T) {
	objs := sampleObjects(t)
	osc := objs[0].(*v1beta2.OpenStackCluster)
	if got := osc.Spec.ManagedSubnets[0].CIDR; got != "10.6.0.0/24" {
		t.Errorf("managedSubnets[0].cidr = %q", got)
	}
	if !osc.Spec.APIServer.ManagedLoadBalancer.IsEnabled() {
		t.Error("apiServer.managedLoadBalancer: IsEnabled() = false, want true")
	}
	if got := osc.Spec.ManagedSecurityGroups.ClusterNodesSecurityGroupRules[0].RemoteManagedGroups; !reflect.DeepEqual(got, []v1beta2.ManagedSecurityGroupName{v1beta2.ControlPlaneSecurityGroupName, v1beta2.WorkerSecurityGroupName}) {
		t.Errorf("clusterNodesSecurityGroupRules[0].remoteManagedGroups = %v", got)
	}
	md := objs[2].(*v1beta2.OpenStackMachineTemplate)
	if got := *md.Spec.Template.Spec.Ports[0].FixedIPs[0].IPAddress; got != "10.7.0.20" {
		t.Errorf("ports[0].fixedIPs[0].ipAddress = %q", got)
	}
	cp := objs[1].(*v1beta2.OpenStackMachineTemplate)
	if got := cp.Spec.Template.Spec.RootVolume.AvailabilityZone.From; got != v1beta2.VolumeAZFromMachine {
		t.Errorf("rootVolume.availabilityZone.from = %q", got)
	}
}

// TestSampleRoundTrip encodes the decoded objects and decodes them again:
// nothing is lost or renamed between Go and JSON.
func TestSampleRoundTrip(t *testing.T) {
	for _, o := range sampleObjects(t) {
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		back := reflect.New(reflect.TypeOf(o).Elem()).Interface()
		if err := yaml.UnmarshalStrict(data, back); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(o, back); d != "" {
			t.Errorf("%T changed by a JSON round trip (-before +after):\n%s", o, d)
		}
	}
}

// TestDeepCopy checks that the generated DeepCopy copies every nested
// slice, map and pointer: changing the copy leaves the original alone.
func TestDeepCopy(t *testing.T) {
	objs := sampleObjects(t)

	osc := objs[0].(*v1beta2.OpenStackCluster)
	osc.Status.FailureDomains = []clusterv1.FailureDomain{{Name: "az1", ControlPlane: ptr(true), Attributes: map[string]string{"k": "v"}}}
	osc.Status.Network = &v1beta2.NetworkStatusWithSubnets{NetworkStatus: v1beta2.NetworkStatus{Name: "n", ID: "1"}, Subnets: []v1beta2.Subnet{{Name: "s", ID: "2", CIDR: "10.6.0.0/24"}}}
	before := osc.DeepCopy()
	c := osc.DeepCopy()
	if !reflect.DeepEqual(c, osc) {
		t.Fatal("DeepCopy differs from the original")
	}
	c.Spec.ManagedSubnets[0].DNSNameservers[0] = "changed"
	c.Spec.ExternalNetwork.Filter.Name = "changed"
	*c.Spec.APIServer.Port = 1
	c.Spec.APIServer.ManagedLoadBalancer.AllowedCIDRs[0] = "changed"
	c.Spec.ManagedSecurityGroups.ClusterNodesSecurityGroupRules[0].RemoteManagedGroups[0] = "changed"
	*c.Status.FailureDomains[0].ControlPlane = false
	c.Status.FailureDomains[0].Attributes["k"] = "changed"
	c.Status.Network.Subnets[0].ID = "changed"
	if d := cmp.Diff(before, osc); d != "" {
		t.Errorf("changing the copy changed the OpenStackCluster (-before +after):\n%s", d)
	}

	m := objs[2].(*v1beta2.OpenStackMachineTemplate)
	beforeM := m.DeepCopy()
	cm := m.DeepCopyObject().(*v1beta2.OpenStackMachineTemplate)
	cm.Spec.Template.Spec.Ports[0].FixedIPs[0].Subnet.Filter.Name = "changed"
	*cm.Spec.Template.Spec.Ports[0].AllowedAddressPairs[0].MACAddress = "changed"
	*cm.Spec.Template.Spec.Image.ID = "changed"
	cm.Spec.Template.Spec.SecurityGroups[0] = v1beta2.SecurityGroupParam{}
	if d := cmp.Diff(beforeM, m); d != "" {
		t.Errorf("changing the copy changed the OpenStackMachineTemplate (-before +after):\n%s", d)
	}
}

// TestConditionsSetter checks the types work with Cluster API's
// util/conditions (v1beta2 conditions).
func TestConditionsSetter(t *testing.T) {
	var _ conditions.Setter = &v1beta2.OpenStackCluster{}
	var _ conditions.Setter = &v1beta2.OpenStackMachine{}
	m := &v1beta2.OpenStackMachine{}
	conditions.Set(m, metav1.Condition{Type: v1beta2.InstanceReadyCondition, Status: metav1.ConditionFalse, Reason: v1beta2.ImageNotFoundReason, Message: "no image named x"})
	got := conditions.Get(m, v1beta2.InstanceReadyCondition)
	if got == nil || got.Reason != v1beta2.ImageNotFoundReason || len(m.Status.Conditions) != 1 {
		t.Fatalf("conditions.Set/Get on OpenStackMachine: got %+v, status %+v", got, m.Status.Conditions)
	}
}

func TestProviderID(t *testing.T) {
	if got := v1beta2.ProviderID("", "abc"); got != "openstack:///abc" {
		t.Errorf(`ProviderID("", "abc") = %q`, got)
	}
	for _, tc := range []struct {
		in, region, id string
		bad            bool
	}{
		{in: "openstack:///abc", id: "abc"},
		{in: v1beta2.ProviderIDPrefix + "abc", id: "abc"},
		{in: "openstack://RegionOne/abc", region: "RegionOne", id: "abc"},
		{in: v1beta2.ProviderID("r", "x"), region: "r", id: "x"},
		{in: "openstack:///", bad: true},
		{in: "openstack://abc", bad: true},
		{in: "openstack:///a/b", bad: true},
		{in: "aws:///abc", bad: true},
		{in: "", bad: true},
	} {
		region, id, err := v1beta2.ParseProviderID(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseProviderID(%q) = %q, %q, want an error", tc.in, region, id)
			}
			continue
		}
		if err != nil || region != tc.region || id != tc.id {
			t.Errorf("ParseProviderID(%q) = %q, %q, %v; want %q, %q", tc.in, region, id, err, tc.region, tc.id)
		}
	}
}

func ptr[T any](v T) *T { return &v }
