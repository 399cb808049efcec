package infra_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/quotas"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// cleanShape is what a fault-free cold Ensure of spec leaves.
func cleanShape(t *testing.T, setup func(testing.TB) *env, spec infra.Spec) []string {
	t.Helper()
	e := setup(t)
	if _, err := infra.New(e.cloud).Ensure(testCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	return shape(e.snapshot())
}

func TestTransientFaultsAreRetried(t *testing.T) {
	cloudtest.RequireSim(t, cloudtest.NeedsFaults)
	setup := func(t testing.TB) *env { return newNetEnv(t, openstacktest.WithSeed(7)) }
	spec := netOnlySpec()
	clean := cleanShape(t, setup, spec)
	tests := []struct {
		name   string
		faults []openstacktest.Fault
		// minWait is the least time Ensure must take (Retry-After).
		minWait time.Duration
	}{
		{"5xx storm", []openstacktest.Fault{
			{Path: `^/network/`, Action: openstacktest.Respond, Status: 500, Times: 5},
			{Path: `^/network/`, Action: openstacktest.Respond, Status: 503, Probability: 0.3, Times: 30},
		}, 0},
		{"502 on every create once", []openstacktest.Fault{
			{Method: "POST", Path: `^/network/`, Action: openstacktest.Respond, Status: 502, Times: 10},
		}, 0},
		{"429 with Retry-After", []openstacktest.Fault{
			{Method: "POST", Path: `^/network/v2\.0/networks$`, Action: openstacktest.Respond, Status: 429,
				Header: http.Header{"Retry-After": {"1"}}, Times: 1},
		}, time.Second},
		{"connection resets", []openstacktest.Fault{
			{Path: `^/network/`, Action: openstacktest.DropBefore, Probability: 0.2, Times: 10},
			{Path: `^/network/`, Action: openstacktest.DropAfter, Probability: 0.2, Times: 10},
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			for _, f := range tt.faults {
				e.srv.InjectFault(f)
			}
			start := time.Now()
			if _, err := infra.New(e.cloud).Ensure(testCtx(t), spec); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if e.srv.FaultsApplied() == 0 {
				t.Fatal("no fault was applied")
			}
			if took < tt.minWait {
				t.Errorf("Ensure took %v, want at least %v (Retry-After)", took, tt.minWait)
			}
			if diff := cmp.Diff(clean, shape(e.snapshot())); diff != "" {
				t.Errorf("resources differ from a clean run (-clean +got):\n%s", diff)
			}
		})
	}
}

func TestPermanentErrorsFailAtOnce(t *testing.T) {
	cloudtest.RequireSim(t, cloudtest.NeedsFaults)
	tests := []struct {
		name    string
		prepare func(t *testing.T, e *env, spec *infra.Spec)
		is      error
		says    []string
	}{
		{"external network not found", func(t *testing.T, e *env, spec *infra.Spec) {
			spec.ExternalNetwork = "no-such-network"
		}, provider.ErrNotFound, []string{"external network", "no-such-network", "Spec.ExternalNetwork"}},
		{"not an external network", func(t *testing.T, e *env, spec *infra.Spec) {
			spec.ExternalNetwork = "internal"
			createNetwork(t, e.cloud.Network, "internal")
		}, provider.ErrInvalidSpec, []string{"router:external"}},
		{"network quota", func(t *testing.T, e *env, spec *infra.Spec) {
			admin, err := e.srv.AdminCloud(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			zero := 0
			if _, err := quotas.Update(testCtx(t), admin.Network, openstacktest.MemberProjectID, quotas.UpdateOpts{Network: &zero}).Extract(); err != nil {
				t.Fatal(err)
			}
		}, provider.ErrQuotaExceeded, []string{"create network", "demo-network", "quota"}},
		{"400 from the cloud", func(t *testing.T, e *env, spec *infra.Spec) {
			e.srv.InjectFault(openstacktest.Fault{Method: "POST", Path: `/subnets$`, Action: openstacktest.Respond, Status: 400})
		}, provider.ErrInvalidSpec, []string{"create subnet", "demo-subnet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newNetEnv(t)
			spec := netOnlySpec()
			tt.prepare(t, e, &spec)
			e.resetCalls()
			start := time.Now()
			_, err := infra.New(e.cloud).Ensure(testCtx(t), spec)
			if err == nil {
				t.Fatal("Ensure succeeded")
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Ensure took %v to fail on a permanent error", took)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q does not match %v", err, tt.is)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Errorf("error %q is not a *provider.Error", err)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), openstacktest.MemberPassword) {
				t.Error("error carries the password")
			}
		})
	}
}
