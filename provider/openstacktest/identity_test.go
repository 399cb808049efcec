package openstacktest_test

import (
	"testing"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

func TestConnectSmoke(t *testing.T) {
	s := openstacktest.NewTestServer(t)
	c := memberCloud(t, s)
	if c.ProjectID != openstacktest.MemberProjectID || c.Compute == nil || c.Network == nil || c.LoadBalancer == nil || c.BlockStorage == nil || c.Image == nil {
		t.Fatalf("cloud = %+v", c)
	}
	t.Log(c.Compute.ResourceBaseURL(), c.Network.ResourceBaseURL(), c.LoadBalancer.ResourceBaseURL(), c.BlockStorage.ResourceBaseURL(), c.Image.ResourceBaseURL())
}
