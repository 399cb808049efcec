package cloudtest

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Reason says why a test cannot run on a real cloud (here: Debian's Zed
// services on 127.0.0.1, see internal/realstack). Each is a known gap, not a
// silent skip.
type Reason string

// The reasons a test needs the simulator.
const (
	// NeedsFaults: the test injects faults (errors, dropped connections,
	// hangs) into API calls, or crashes a client between calls at a chosen
	// request; a real cloud has no such knob.
	NeedsFaults Reason = "injects API faults or crash points (simulator knob InjectFault)"
	// NeedsCallCounts: the test asserts how many API calls were made; a
	// real cloud does not count a client's requests.
	NeedsCallCounts Reason = "asserts API call counts (simulator counters Calls/ResetCalls)"
	// NeedsFailBoot: the test makes Nova fail to spawn a server.
	NeedsFailBoot Reason = "makes a server go to ERROR on boot (simulator knob FailBoot)"
	// NeedsLatency: the test sets request latency or boot/load balancer
	// delays and asserts timing.
	NeedsLatency Reason = "sets request latency or boot delays and asserts timing (simulator knobs)"
	// NeedsBootHook: the test reads what a server booted with from a hook;
	// the fake virt driver runs nothing.
	NeedsBootHook Reason = "reads user data at boot through a server hook; Nova's fake driver boots nothing"
	// NeedsCinder: the test creates volumes and the real cloud has no
	// Cinder. realstack has one (fake volume driver), so no gap uses it
	// there; it stays for clouds without block storage.
	NeedsCinder Reason = "creates volumes; the real cloud has no Cinder"
	// NeedsGraphCreateChildren: the test expects the children of a fully
	// populated load balancer create to become ACTIVE. Debian 12's Octavia
	// (Zed, SQLAlchemy 1.4) commits the load balancer before its children
	// and casts to the worker in between; the worker builds its flow without
	// them, marks the load balancer ACTIVE and leaves them PENDING_CREATE.
	NeedsGraphCreateChildren Reason = "children of a fully populated create stay PENDING_CREATE on Debian 12's Octavia (Zed race between API commit and worker)"
	// NeedsSimFeature: the test checks a feature of the simulator itself
	// (state dir, deterministic IDs, token expiry, exact fixtures).
	NeedsSimFeature Reason = "tests a feature of the simulator itself, not OpenStack behaviour"
	// NeedsQuotaChange: the test changes project quotas as admin and
	// asserts exact counts, which tests sharing the real project disturb.
	NeedsQuotaChange Reason = "sets project quotas and asserts exact usage; tests sharing the real project disturb it"
)

// Gap is one test that cannot run on a real cloud, with why.
type Gap struct {
	// Package is the directory of the test, relative to the module root.
	Package string
	// Test is the top-level test name, or a subtest's full name to mark
	// only that subtest.
	Test string
	// Reason is why it needs the simulator.
	Reason Reason
}

// Gaps lists every test that needs the simulator: the only tests RequireSim
// lets skip on a real cloud.
func Gaps() []Gap {
	return []Gap{
		// provider: the machines service.
		{"provider", "BenchmarkMachinesCreateBatch", NeedsLatency},
		{"provider", "TestMachinesStartDoesNotWait", NeedsLatency},

		// provider: Connect.
		{"provider", "TestConnectHTTPClientLoggerAndReauth/token_expiry", NeedsSimFeature},

		// infra: Ensure/Delete.
		{"infra", "TestTransientFaultsAreRetried", NeedsFaults},
		{"infra", "TestPermanentErrorsFailAtOnce", NeedsFaults},
		{"infra", "TestOctaviaConflictWhilePendingIsRetried", NeedsFaults},
		{"infra", "BenchmarkEnsure", NeedsLatency},

		// provider/openstacktest: contract tests.
		{"provider/openstacktest", "TestNetworkStateSurvivesRestart", NeedsSimFeature},
		{"provider/openstacktest", "TestKeystoneTokenExpiry", NeedsSimFeature},
		{"provider/openstacktest", "TestNetworkFloatingIPPool", NeedsSimFeature},
		{"provider/openstacktest", "TestLoadBalancerFullyPopulated/children_become_ACTIVE", NeedsGraphCreateChildren},
		{"provider/openstacktest", "TestFailBoot", NeedsFailBoot},
		{"provider/openstacktest", "TestComputeQuotas/full_quota", NeedsQuotaChange},
		{"provider/openstacktest", "TestServerMinMaxCount/instances_quota", NeedsQuotaChange},
		// Needs a project without networks, then with exactly one.
		{"provider/openstacktest", "TestServerNetworkSelection/empty_then_one_network", NeedsSimFeature},
	}
}

// RequireSim marks the test as needing the simulator for reason. On the
// simulator it does nothing. On a real cloud it skips the test, logging the
// reason, when Gaps registers this test with this reason, and fails the
// test otherwise, so that no test is skipped silently.
func RequireSim(t testing.TB, reason Reason) {
	t.Helper()
	_, file, _, _ := runtime.Caller(1)
	requireSim(t, reason, filepath.Dir(file), Gaps())
}

func requireSim(t testing.TB, reason Reason, dir string, gaps []Gap) {
	t.Helper()
	if !Real() {
		return
	}
	test, _, _ := strings.Cut(t.Name(), "/")
	dir = filepath.ToSlash(dir)
	for _, g := range gaps {
		if (g.Test == test || g.Test == t.Name()) && g.Reason == reason && strings.HasSuffix(dir, "/"+g.Package) {
			t.Skipf("known gap (needs the simulator): %s: %s", g.Package+"."+g.Test, reason)
			return
		}
	}
	t.Fatalf("RequireSim(%q) on a real cloud, but %s is not registered with that reason in internal/cloudtest/gaps.go", reason, test)
}
