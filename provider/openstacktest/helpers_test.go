package openstacktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/openstrap/openstrap/internal/cloudtest"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// testContext returns a context that ends with the test (or after a minute
// on the simulator, ten on a real cloud, where servers take seconds to boot).
func testContext(t testing.TB) context.Context {
	t.Helper()
	d := time.Minute
	if cloudtest.Real() {
		d = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// pollEvery is how often the wait helpers ask again: often on the
// simulator, gently on a real cloud.
func pollEvery() time.Duration {
	if cloudtest.Real() {
		return 500 * time.Millisecond
	}
	return 10 * time.Millisecond
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

// onRealCleanup runs fn when the test ends, on a real cloud only: the
// simulator is thrown away with the test, a shared real cloud is not.
func onRealCleanup(t testing.TB, fn func(ctx context.Context)) {
	t.Helper()
	if !cloudtest.Real() {
		return
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		fn(ctx)
	})
}

// deleteServerLater deletes the server when the test ends on a real cloud
// and waits until it is gone, so that its network can go too.
func deleteServerLater(t testing.TB, c *gophercloud.ServiceClient, id string) {
	t.Helper()
	onRealCleanup(t, func(ctx context.Context) {
		if err := servers.Delete(ctx, c, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, 404) {
			t.Logf("clean up server %s: %v", id, err)
			return
		}
		for ctx.Err() == nil {
			if _, err := servers.Get(ctx, c, id).Extract(); gophercloud.ResponseCodeIs(err, 404) {
				return
			}
			time.Sleep(pollEvery())
		}
		t.Logf("clean up server %s: still there", id)
	})
}

// deleteKeypairLater deletes the user's keypair when the test ends on a
// real cloud.
func deleteKeypairLater(t testing.TB, c *gophercloud.ServiceClient, name string) {
	t.Helper()
	onRealCleanup(t, func(ctx context.Context) { _ = keypairs.Delete(ctx, c, name, nil).ExtractErr() })
}

// flavorByName returns the ID of the flavor called name, as the seeds of the
// simulator and of realstack both have them (m1.tiny … m1.large).
func flavorByName(t testing.TB, c *gophercloud.ServiceClient, name string) string {
	t.Helper()
	var id string
	err := flavors.ListDetail(c, flavors.ListOpts{}).EachPage(testContext(t), func(_ context.Context, p pagination.Page) (bool, error) {
		list, err := flavors.ExtractFlavors(p)
		for _, f := range list {
			if f.Name == name {
				id = f.ID
				return false, nil
			}
		}
		return true, err
	})
	if err != nil || id == "" {
		t.Fatalf("flavor %s: not found (%v)", name, err)
	}
	return id
}

// rawGet GETs url at microversion mv (for Nova) and decodes the JSON
// answer as a map, for fields gophercloud's types hide.
func rawGet(t testing.TB, sc *gophercloud.ServiceClient, mv, url string) map[string]any {
	t.Helper()
	saved := sc.Microversion
	sc.Microversion = mv
	defer func() { sc.Microversion = saved }()
	var out map[string]any
	if _, err := sc.Get(testContext(t), url, &out, nil); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return out
}

// jsonText is v as JSON text: "0" for the number 0, `""` for the string.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unmarshalable %T", v)
	}
	return string(b)
}
