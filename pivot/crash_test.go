package pivot

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/openstrap/openstrap/internal/pivotbench/capigraph"
)

// sweepSpec is the graph of the crash sweep: 2 clusters x 3 worker machines.
func sweepSpec(ns string) capigraph.Spec {
	return capigraph.Spec{Namespace: ns, Clusters: 2, Machines: 3}
}

// TestCrashSweep interrupts a Move at every write it makes (each write either
// fails before it is sent or lands with its answer lost, and every later write
// fails too, like a killed process), checks that no object is in neither
// cluster at that point, then recovers: by running Move again (three points of
// four) or by Rollback, and checks the end state object by object.
func TestCrashSweep(t *testing.T) {
	// A clean move counts the writes to sweep.
	ns := freshNS("sweep-count")
	load(t, srcEnv.Config, capigraph.Objects(sweepSpec(ns)))
	writes := &atomic.Int64{}
	ft := &faultTransport{writes: writes}
	if _, err := Move(context.Background(), faulty(srcEnv.Config, ft), faulty(dstEnv.Config, ft), Options{Namespace: ns}); err != nil {
		t.Fatalf("clean Move: %v", err)
	}
	total := writes.Load()
	stride := int64(1)
	if testing.Short() {
		stride = 7
	}
	t.Logf("a clean move of %d clusters x %d machines makes %d writes; sweeping every %d", sweepSpec("").Clusters, sweepSpec("").Machines, total, stride)
	var swept atomic.Int64
	t.Run("points", func(t *testing.T) {
		for k := int64(1); k <= total; k += stride {
			rollback := k%4 == 3
			afterSend := k%2 == 0
			t.Run(fmt.Sprintf("write-%03d-aftersend-%v-rollback-%v", k, afterSend, rollback), func(t *testing.T) {
				t.Parallel()
				crashAndRecover(t, k, afterSend, rollback)
				swept.Add(1)
			})
		}
	})
	t.Logf("swept %d interruption points of %d writes", swept.Load(), total)
}

func crashAndRecover(t *testing.T, k int64, afterSend, rollback bool) {
	ns := freshNS(fmt.Sprintf("sweep-%d", k))
	load(t, srcEnv.Config, capigraph.Objects(sweepSpec(ns)))
	before := snapshotNS(t, srcEnv.Config, ns)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ft := &faultTransport{writes: &atomic.Int64{}, failAt: k, afterSend: afterSend, cancel: cancel}
	_, err := Move(ctx, faulty(srcEnv.Config, ft), faulty(dstEnv.Config, ft), Options{Namespace: ns})
	if err == nil {
		t.Fatalf("Move with write %d failing succeeded", k)
	}

	// No object is in neither cluster.
	src, dst := snapshotNS(t, srcEnv.Config, ns), snapshotNS(t, dstEnv.Config, ns)
	for key := range before {
		if src[key] == nil && dst[key] == nil {
			t.Errorf("after crash at write %d: %s is in neither cluster", k, key)
		}
	}

	if !rollback {
		if _, err := Move(context.Background(), srcEnv.Config, dstEnv.Config, Options{Namespace: ns}); err != nil {
			t.Fatalf("resumed Move: %v", err)
		}
		checkMoved(t, before, snapshotNS(t, dstEnv.Config, ns), snapshotNS(t, srcEnv.Config, ns))
		return
	}
	if _, err := Rollback(context.Background(), srcEnv.Config, dstEnv.Config, Options{Namespace: ns}); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	checkRolledBack(t, before, snapshotNS(t, srcEnv.Config, ns), snapshotNS(t, dstEnv.Config, ns))
}

// checkRolledBack asserts that the source holds every object of before with the
// same content (objects that had been deleted come back with new UIDs and the
// owner references follow them), unpaused, and the target none of them.
func checkRolledBack(t *testing.T, before, source, target map[string]*unstructured.Unstructured) {
	t.Helper()
	for key := range before {
		if target[key] != nil {
			t.Errorf("%s left in the target after rollback", key)
		}
	}
	if diff := cmp.Diff(keys(before), keys(source)); diff != "" {
		t.Fatalf("objects in the source after rollback (-want +got):\n%s", diff)
	}
	for key, orig := range before {
		got := source[key]
		if diff := cmp.Diff(content(orig), content(got), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s after rollback (-before +after):\n%s", key, diff)
		}
		var want, have []string
		for _, r := range orig.GetOwnerReferences() {
			want = append(want, fmt.Sprintf("%s/%s/%s", r.Kind, r.Name, source[r.Kind+"/"+r.Name].GetUID()))
		}
		for _, r := range got.GetOwnerReferences() {
			have = append(have, fmt.Sprintf("%s/%s/%s", r.Kind, r.Name, r.UID))
		}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("%s owner references after rollback (-want +got):\n%s", key, diff)
		}
	}
}

func keys(m map[string]*unstructured.Unstructured) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sortStrings(out)
}

var _ = errors.Is
