package infra_test

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"testing"
	"time"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// env is a simulator with a connected cloud.
type env struct {
	srv   *openstacktest.Server
	cloud *provider.Cloud
}

func newEnv(t testing.TB, opts ...openstacktest.Option) *env {
	t.Helper()
	srv := openstacktest.NewTestServer(t, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cloud, err := srv.Cloud(ctx)
	if err != nil {
		// Until the simulator's Octavia lands: Neutron only.
		cloud, err = neutronOnly(ctx, srv)
		if err != nil {
			t.Fatal(err)
		}
	}
	return &env{srv: srv, cloud: cloud}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func baseSpec() infra.Spec {
	return infra.Spec{Cluster: "demo", NodeCIDR: "10.6.0.0/24", ExternalNetwork: openstacktest.ExternalNetwork}
}

func TestSmokeNoLB(t *testing.T) {
	e := newEnv(t)
	inf := infra.New(e.cloud, infra.WithProgress(func(ev infra.Event) { t.Log(ev) }))
	spec := baseSpec()
	spec.APIServer.DisableLoadBalancer = true
	st, err := inf.Ensure(testCtx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	e.srv.ResetCalls()
	if _, err := inf.Ensure(testCtx(t), spec, infra.WithStatus(st)); err != nil {
		t.Fatal(err)
	}
	t.Log(e.srv.Calls())
	for _, r := range e.srv.Snapshot() {
		t.Log(r)
	}
}

func neutronOnly(ctx context.Context, srv *openstacktest.Server) (*provider.Cloud, error) {
	a := srv.Auth()
	pc, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{IdentityEndpoint: a.AuthURL, Username: a.Username,
		Password: a.Password, DomainName: a.UserDomainName, TenantName: a.ProjectName})
	if err != nil {
		return nil, err
	}
	nw, err := openstack.NewNetworkV2(pc, gophercloud.EndpointOpts{Region: openstacktest.Region})
	if err != nil {
		return nil, err
	}
	return &provider.Cloud{Name: "sim", Provider: pc, Network: nw}, nil
}

func TestSmokeDeleteNoLB(t *testing.T) {
	e := newEnv(t)
	before := e.srv.Snapshot()
	inf := infra.New(e.cloud)
	spec := baseSpec()
	spec.APIServer.DisableLoadBalancer = true
	if _, err := inf.Ensure(testCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	if err := inf.Delete(testCtx(t), "demo"); err != nil {
		t.Fatal(err)
	}
	after := e.srv.Snapshot()
	if len(after) != len(before) {
		for _, r := range after {
			t.Log(r)
		}
		t.Fatalf("%d resources before, %d after", len(before), len(after))
	}
}
