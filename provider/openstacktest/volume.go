package openstacktest

import "time"

// volumeState: Cinder. STUB, to be replaced by the volume service.
type volumeState struct{}

func (s *Server) seedVolume()                  {}
func (s *Server) routesVolume()                {}
func (s *Server) snapshotVolume() []Resource   { return nil }
func (s *Server) advanceVolume(time.Time) bool { return false }
