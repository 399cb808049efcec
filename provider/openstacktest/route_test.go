package openstacktest_test

import (
	"testing"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

func TestRouteMatchesCalls(t *testing.T) {
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/compute/v2.1/servers/abc", "GET /compute/v2.1/servers/{id}"},
		{"PUT", "/compute/v2.1/servers/abc/tags/x", "PUT /compute/v2.1/servers/{id}/tags/{tag}"},
		{"POST", "/identity/v3/auth/tokens", "POST /identity/v3/auth/tokens"},
		{"DELETE", "/network/v2.0/ports/p1", "DELETE /network/v2.0/ports/{id}"},
		{"GET", "/load-balancer/v2/lbaas/loadbalancers/x", "GET /load-balancer/v2/lbaas/loadbalancers/{id}"},
		{"GET", "/nowhere", "GET (unrouted)"},
	} {
		if got := openstacktest.Route(tt.method, tt.path); got != tt.want {
			t.Errorf("Route(%s, %s) = %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}
