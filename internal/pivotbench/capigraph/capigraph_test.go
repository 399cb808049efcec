package capigraph

import (
	"strings"
	"testing"
)

func TestObjects(t *testing.T) {
	tests := []struct {
		spec Spec
		want int
	}{
		{Spec{Namespace: "ns", Clusters: 2, Machines: 3}, 2 * (13 + 4*(1+3))},
		{Spec{Namespace: "ns", Clusters: 1, Machines: 0, ControlPlaneMachines: 3}, 13 + 4*3},
		{Spec{Namespace: "ns"}, 0},
	}
	for _, tt := range tests {
		objs := Objects(tt.spec)
		if len(objs) != tt.want {
			t.Errorf("%+v: %d objects, want %d", tt.spec, len(objs), tt.want)
		}
		seen := map[string]bool{}
		for _, o := range objs {
			if _, ok := Resource[o.GetKind()]; !ok {
				t.Errorf("%s has no resource", o.GetKind())
			}
			for _, r := range o.GetOwnerReferences() {
				if !seen[r.Kind+"/"+r.Name] || !strings.HasPrefix(string(r.UID), pendingPrefix) {
					t.Errorf("%s %s: owner %s/%s not earlier in the list", o.GetKind(), o.GetName(), r.Kind, r.Name)
				}
			}
			key := o.GetKind() + "/" + o.GetName()
			if seen[key] {
				t.Errorf("duplicate %s", key)
			}
			seen[key] = true
		}
	}
}
