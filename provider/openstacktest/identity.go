package openstacktest

import (
	"net/http"
	"time"
)

// identityState: Keystone. STUB, to be replaced by the identity service.
type identityState struct{}

func (s *Server) seedIdentity()                {}
func (s *Server) routesIdentity()              {}
func (s *Server) snapshotIdentity() []Resource { return nil }

// authenticate validates the request's X-Auth-Token.
func (s *Server) authenticate(r *http.Request) (*token, *apiError) {
	return &token{ProjectID: MemberProjectID, ExpiresAt: time.Now().Add(tokenTTL)}, nil
}
