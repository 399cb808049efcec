package openstacktest

import "time"

// lbState: Octavia. STUB, to be replaced by the load-balancer service.
type lbState struct{}

func (s *Server) seedLoadBalancer()                  {}
func (s *Server) routesLoadBalancer()                {}
func (s *Server) snapshotLoadBalancer() []Resource   { return nil }
func (s *Server) advanceLoadBalancer(time.Time) bool { return false }
