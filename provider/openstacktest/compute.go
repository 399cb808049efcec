package openstacktest

import "time"

// computeState: Nova. STUB, to be replaced by the compute service.
type computeState struct{}

func (s *Server) seedCompute()                  {}
func (s *Server) routesCompute()                {}
func (s *Server) snapshotCompute() []Resource   { return nil }
func (s *Server) advanceCompute(time.Time) bool { return false }
