package openstacktest

// networkState: Neutron. STUB, to be replaced by the network service.
type networkState struct{}

func (s *Server) seedNetwork()                {}
func (s *Server) routesNetwork()              {}
func (s *Server) snapshotNetwork() []Resource { return nil }
