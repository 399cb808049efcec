package openstacktest

// imageState: Glance. STUB, to be replaced by the image service.
type imageState struct{}

func (s *Server) seedImage()                {}
func (s *Server) routesImage()              {}
func (s *Server) snapshotImage() []Resource { return nil }
