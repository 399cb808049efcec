package openstacktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// testContext returns a context that ends with the test (or after a minute).
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// memberCloud connects to s as the member user.
func memberCloud(t testing.TB, s *openstacktest.Server) *provider.Cloud {
	t.Helper()
	c, err := s.Cloud(testContext(t))
	if err != nil {
		t.Fatalf("connect as member: %v", err)
	}
	return c
}

// adminCloud connects to s as the admin user.
func adminCloud(t testing.TB, s *openstacktest.Server) *provider.Cloud {
	t.Helper()
	c, err := s.AdminCloud(testContext(t))
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	return c
}

// identityClient is a Keystone v3 client with c's credentials.
func identityClient(t testing.TB, c *provider.Cloud) *gophercloud.ServiceClient {
	t.Helper()
	idc, err := openstack.NewIdentityV3(c.Provider, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return idc
}
