package openstacktest

import (
	"net/http"
	"net/url"
	"sync"
)

// routeTable is a mux holding every route of the simulator, for Route.
var routeTable = sync.OnceValue(func() *http.ServeMux {
	s := &Server{mux: http.NewServeMux()}
	s.routes()
	return s.mux
})

// Route returns the operation key that Calls counts a request under, such
// as "GET /compute/v2.1/servers/{id}", for a request path laid out as the
// simulator serves it: the service ("compute", "network", "load-balancer",
// "image", "volume", "identity") and then the API's own path. It lets a
// counter outside the simulator (cloudtest's, on a real cloud) use the same
// keys. A path no route matches gives method + " (unrouted)", as in Calls.
func Route(method, path string) string {
	_, pattern := routeTable().Handler(&http.Request{Method: method, URL: &url.URL{Path: path}})
	if pattern == "" {
		return method + " (unrouted)"
	}
	return pattern
}
