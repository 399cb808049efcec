package provider_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

type roundTripCounter struct{ n atomic.Int64 }

func (c *roundTripCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// A caller's RoundTripper works with a clouds.yaml that sets no TLS options:
// gophercloud's parser returns a TLS config anyway, which must not count as
// settings that need an *http.Transport.
func TestConnectCloudsYAMLWithCustomRoundTripper(t *testing.T) {
	cc := newConnectCloud(t)
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(path, []byte(cc.cloudsYAML(false)), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := &roundTripCounter{}
	cloud, err := provider.Connect(context.Background(), provider.WithCloudsYAML(path),
		provider.WithCloud(openstacktest.CloudName), provider.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		cc.checkErrNoSecret(t, err)
		t.Fatalf("Connect: %v", err)
	}
	if cloud.Compute == nil || cloud.ProjectID != cc.memberProject || tr.n.Load() == 0 {
		t.Fatalf("project %q; the caller's transport carried %d requests, want the token request at least", cloud.ProjectID, tr.n.Load())
	}
}
