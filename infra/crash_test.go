package infra_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// crashCase is a configuration swept for crash points.
type crashCase struct {
	name  string
	spec  infra.Spec
	setup func(testing.TB) *env
}

// TestCrashSweep aborts the k-th API call of a cold Ensure for every k, in
// three ways: the connection dropped before the call is handled, dropped
// after it is handled (the answer is lost), and the caller's context
// cancelled as the call is sent (the process "dies"). Then Ensure runs again
// to completion and must leave exactly what a clean run leaves, and Delete
// must leave what was there before.
func TestCrashSweep(t *testing.T) {
	cloudtest.RequireSim(t, cloudtest.NeedsFaults)
	stride := sweepStride()
	for _, tc := range crashCases() {
		t.Run(tc.name, func(t *testing.T) {
			// A clean run: how many calls, and what it leaves.
			e := tc.setup(t)
			e.resetCalls()
			if _, err := infra.New(e.cloud).Ensure(testCtx(t), tc.spec); err != nil {
				t.Fatal(err)
			}
			n := e.calls().Total()
			clean := shape(e.snapshot())

			// The three modes run side by side; each sweeps every k.
			for _, mode := range []string{"drop-before", "drop-after", "cancel"} {
				t.Run(mode, func(t *testing.T) {
					t.Parallel()
					reached, swept := 0, 0
					for k := 1; k <= n; k += stride {
						swept++
						if sweepOne(t, tc, mode, k, clean) {
							reached++
						}
					}
					t.Logf("%s, %s: %d calls in a clean cold Ensure, %d crash points swept, %d reached", tc.name, mode, n, swept, reached)
					if reached < swept*9/10 {
						t.Errorf("only %d of %d crash points were reached", reached, swept)
					}
				})
			}
		})
	}
}

// sweepOne crashes a cold Ensure at call k and checks convergence. It
// reports whether the crash point was reached.
func sweepOne(t *testing.T, tc crashCase, mode string, k int, clean []string) bool {
	t.Helper()
	e := tc.setup(t)
	defer e.srv.Close() // not only at the end of the test: hundreds of servers
	inf := infra.New(e.cloud, infra.WithPollInterval(5*time.Millisecond, 100*time.Millisecond))
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	switch mode {
	case "drop-before":
		e.srv.InjectFault(openstacktest.Fault{Path: `^/(network|load-balancer)/`, Skip: k - 1, Times: 1, Action: openstacktest.DropBefore})
	case "drop-after":
		e.srv.InjectFault(openstacktest.Fault{Path: `^/(network|load-balancer)/`, Skip: k - 1, Times: 1, Action: openstacktest.DropAfter})
	case "cancel":
		e.rt.arm(k, cancel)
	}
	_, firstErr := inf.Ensure(ctx, tc.spec)
	reached := e.srv.FaultsApplied() > 0 || e.rt.fired.Load()
	e.srv.ClearFaults()
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
// leave the cloud as it was before Ensure.
func TestDeleteCrashSweep(t *testing.T) {
	cloudtest.RequireSim(t, cloudtest.NeedsFaults)
	stride := sweepStride()
	tc := crashCases()[1]
	e := tc.setup(t)
	inf := infra.New(e.cloud)
	if _, err := inf.Ensure(testCtx(t), tc.spec); err != nil {
		t.Fatal(err)
	}
	e.resetCalls()
	if err := inf.Delete(testCtx(t), tc.spec.Cluster); err != nil {
		t.Fatal(err)
	}
	n := e.calls().Total()
	for _, mode := range []string{"drop-after", "cancel"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			for k := 1; k <= n; k += stride {
				func() {
					e := tc.setup(t)
					defer e.srv.Close()
					inf := infra.New(e.cloud, infra.WithPollInterval(5*time.Millisecond, 100*time.Millisecond))
					if _, err := inf.Ensure(testCtx(t), tc.spec); err != nil {
						t.Fatal(err)
					}
					ctx, cancel := context.WithCancel(testCtx(t))
					defer cancel()
					if mode == "cancel" {
						e.rt.arm(k, cancel)
					} else {
						e.srv.InjectFault(openstacktest.Fault{Path: `^/(network|load-balancer)/`, Skip: k - 1, Times: 1, Action: openstacktest.DropAfter})
					}
					firstErr := inf.Delete(ctx, tc.spec.Cluster)
					e.srv.ClearFaults()
					e.rt.arm(0, nil)
					e.rt.wait()
					if err := inf.Delete(testCtx(t), tc.spec.Cluster); err != nil {
						t.Fatalf("%s at call %d: first Delete: %v; second: %v", mode, k, firstErr, err)
					}
					if diff := cmp.Diff(shape(e.base), shape(e.snapshot())); diff != "" {
						t.Fatalf("%s at call %d: Delete left (-before +after):\n%s", mode, k, diff)
					}
				}()
			}
			t.Logf("Delete, %s: %d crash points swept", mode, n)
		})
	}
}

// sweepStride is 1 (every crash point); with -short, every 7th point, so a
// quick run still crashes Ensure and Delete at points spread over the run.
func sweepStride() int {
	if testing.Short() {
		return 7
	}
	return 1
}
