package openstacktest

import (
	"net/http"
	"time"
)

// lbState: Octavia.
type lbState struct{}

func (s *Server) seedLoadBalancer()                  {}
func (s *Server) snapshotLoadBalancer() []Resource   { return nil }
func (s *Server) advanceLoadBalancer(time.Time) bool { return false }

func (s *Server) routesLoadBalancer() {
	s.handle(svcLoadBalancer, "GET /load-balancer/{$}", s.octaviaVersions, routeOpts{public: true})
}

// octaviaVersions answers GET /load-balancer/ with Octavia's versions.
func (s *Server) octaviaVersions(w http.ResponseWriter, r *http.Request, _ *token) {
	link := func() []any {
		return []any{map[string]any{"rel": "self", "href": netBaseURL(r) + "/load-balancer/v2/"}}
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{
		map[string]any{"id": "v2.0", "status": "SUPPORTED", "updated": "2016-12-11T00:00:00Z", "links": link()},
		map[string]any{"id": "v2.26", "status": "CURRENT", "updated": "2022-08-29T00:00:00Z", "links": link()},
	}})
}
