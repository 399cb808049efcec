package infra_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/cloudtest"
)

// crashCase is a configuration swept for crash points.
type crashCase struct {
	name  string
	spec  infra.Spec
	setup func(testing.TB) *env
}

// crashInfra returns an Infra whose requests go through a Crasher (which
// cuts a chosen call on the client's side, so the sweep runs on any cloud)
// and then e's cancelling transport.
func crashInfra(t testing.TB, e *env) (*infra.Infra, *cloudtest.Crasher) {
	t.Helper()
	cr := cloudtest.NewCrasher(e.rt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cloud, err := e.ct.Connect(ctx, false, cr)
	if err != nil {
		t.Fatalf("connect through the crasher: %v", err)
	}
	if e.cloud.LoadBalancer == nil {
		cloud.LoadBalancer = nil // a cloud without Octavia, as e's
	}
	if e.srv == nil {
		return infra.New(cloud), cr
	}
	return infra.New(cloud, infra.WithPollInterval(5*time.Millisecond, 100*time.Millisecond)), cr
}

// sweep crashes at every stride-th call of n with each mode, and logs how
// many points it swept and reached. On the simulator the modes run side by
// side; on a real cloud, where each point costs tens of seconds, each point
// gets one mode, in turn.
func sweep(t *testing.T, what string, real bool, n, stride int, modes []string, one func(t *testing.T, mode string, k int) bool) {
	check := func(t *testing.T, swept, reached map[string]int) {
		for _, mode := range modes {
			if swept[mode] == 0 {
				continue
			}
			t.Logf("%s, %s: %d calls, %d crash points swept, %d reached", what, mode, n, swept[mode], reached[mode])
			if reached[mode] < swept[mode]*9/10 {
				t.Errorf("%s: only %d of %d crash points were reached", mode, reached[mode], swept[mode])
			}
		}
	}
	if real {
		swept, reached := map[string]int{}, map[string]int{}
		for i, k := 0, 1; k <= n; i, k = i+1, k+stride {
			mode := modes[i%len(modes)]
			swept[mode]++
			if one(t, mode, k) {
				reached[mode]++
			}
		}
		check(t, swept, reached)
		return
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			swept, reached := map[string]int{}, map[string]int{}
			for k := 1; k <= n; k += stride {
				swept[mode]++
				if one(t, mode, k) {
					reached[mode]++
				}
			}
			check(t, swept, reached)
		})
	}
}

// closeSim closes e's simulator, if any, before the test ends: a sweep
// starts hundreds of them.
func closeSim(e *env) {
	if e.srv != nil {
		e.srv.Close()
	}
}

// TestCrashSweep aborts the k-th API call of a cold Ensure for every k, in
// three ways: the connection cut before the call reaches the cloud, cut
// after it is handled (the answer is lost), and the caller's context
// cancelled as the call is sent (the process "dies"). Then Ensure runs again
// to completion and must leave exactly what a clean run leaves, and Delete
// must leave what was there before. On a real cloud the points are spread
// over the run (every n/5th call) with one mode each, in turn.
func TestCrashSweep(t *testing.T) {
	for _, tc := range crashCases() {
		t.Run(tc.name, func(t *testing.T) {
			// A clean run: how many calls, and what it leaves.
			e := tc.setup(t)
			inf, cr := crashInfra(t, e)
			cr.Reset()
			if _, err := inf.Ensure(testCtx(t), tc.spec); err != nil {
				t.Fatal(err)
			}
			n := cr.Count()
			clean := shape(e.snapshot())
			stride := sweepStride()
			if e.srv == nil {
				stride = max(1, n/5)
				if err := inf.Delete(testCtx(t), tc.spec.Cluster); err != nil {
					t.Fatal(err)
				}
			}

			sweep(t, tc.name+" Ensure", e.srv == nil, n, stride, []string{"crash-before", "crash-after", "cancel"}, func(t *testing.T, mode string, k int) bool {
				return sweepOne(t, tc, mode, k, clean)
			})
		})
	}
}

// sweepOne crashes a cold Ensure at call k and checks convergence. It
// reports whether the crash point was reached.
func sweepOne(t *testing.T, tc crashCase, mode string, k int, clean []string) bool {
	t.Helper()
	e := tc.setup(t)
	defer closeSim(e)
	inf, cr := crashInfra(t, e)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	switch mode {
	case "crash-before":
		defer cr.Arm(k, cloudtest.CrashBefore, nil)()
	case "crash-after":
		defer cr.Arm(k, cloudtest.CrashAfter, nil)()
	case "cancel":
		e.rt.arm(k, cancel)
	}
	_, firstErr := inf.Ensure(ctx, tc.spec)
	reached := cr.Applied() > 0 || e.rt.fired.Load()
	e.rt.arm(0, nil)
	e.rt.wait() // what the "dead" process sent has been handled

	st, err := inf.Ensure(testCtx(t), tc.spec)
	if err != nil {
		t.Fatalf("%s at call %d: first Ensure: %v; second Ensure: %v", mode, k, firstErr, err)
	}
	if diff := cmp.Diff(clean, shape(e.snapshot())); diff != "" {
		t.Fatalf("%s at call %d (first Ensure: %v): resources differ from a clean run (-clean +got):\n%s", mode, k, firstErr, diff)
	}
	if st.APIEndpoint.Host == "" {
		t.Fatalf("%s at call %d: no endpoint in %+v", mode, k, st)
	}
	if err := inf.Delete(testCtx(t), tc.spec.Cluster); err != nil {
		t.Fatalf("%s at call %d: Delete: %v", mode, k, err)
	}
	after := e.snapshot()
	if left := owned(after, tc.spec.Cluster); len(left) > 0 {
		t.Fatalf("%s at call %d: Delete left %v", mode, k, left)
	}
	if diff := cmp.Diff(shape(e.base), shape(after)); diff != "" {
		t.Fatalf("%s at call %d: Delete left (-before +after):\n%s", mode, k, diff)
	}
	return reached
}

// TestDeleteCrashSweep aborts the k-th call of a Delete for every k (the
// answer lost, or the caller's context cancelled), then Delete again must
// leave the cloud as it was before Ensure. On a real cloud, as in
// TestCrashSweep, every n/5th call with one mode each.
func TestDeleteCrashSweep(t *testing.T) {
	tc := crashCases()[1]
	e := tc.setup(t)
	inf, cr := crashInfra(t, e)
	if _, err := inf.Ensure(testCtx(t), tc.spec); err != nil {
		t.Fatal(err)
	}
	cr.Reset()
	if err := inf.Delete(testCtx(t), tc.spec.Cluster); err != nil {
		t.Fatal(err)
	}
	n := cr.Count()
	stride := sweepStride()
	if e.srv == nil {
		stride = max(1, n/5)
	}
	sweep(t, "Delete", e.srv == nil, n, stride, []string{"crash-after", "cancel"}, func(t *testing.T, mode string, k int) bool {
		e := tc.setup(t)
		defer closeSim(e)
		inf, cr := crashInfra(t, e)
		if _, err := inf.Ensure(testCtx(t), tc.spec); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		if mode == "cancel" {
			e.rt.arm(k, cancel)
		} else {
			defer cr.Arm(k, cloudtest.CrashAfter, nil)()
		}
		firstErr := inf.Delete(ctx, tc.spec.Cluster)
		reached := cr.Applied() > 0 || e.rt.fired.Load()
		e.rt.arm(0, nil)
		e.rt.wait()
		if err := inf.Delete(testCtx(t), tc.spec.Cluster); err != nil {
			t.Fatalf("%s at call %d: first Delete: %v; second: %v", mode, k, firstErr, err)
		}
		if diff := cmp.Diff(shape(e.base), shape(e.snapshot())); diff != "" {
			t.Fatalf("%s at call %d: Delete left (-before +after):\n%s", mode, k, diff)
		}
		return reached
	})
}

// sweepStride is 1 (every crash point); with -short, every 7th point, so a
// quick run still crashes Ensure and Delete at points spread over the run.
func sweepStride() int {
	if testing.Short() {
		return 7
	}
	return 1
}
