package openstacktest

import "time"

// What a fresh simulated cloud has. The passwords are the simulator's own
// test credentials; they protect nothing.
const (
	// Region is the only region.
	Region = "RegionOne"
	// DomainID and DomainName are the domain of every project and user.
	DomainID   = "default"
	DomainName = "Default"

	// AdminProject and AdminUser hold the admin role.
	AdminProject   = "admin"
	AdminProjectID = "5d4e6b1a1c2f4d8e9a0b1c2d3e4f5a60"
	AdminUser      = "admin"
	AdminUserID    = "0c7f3a2e9d8b4c1a8e6f5d4c3b2a1900"
	AdminPassword  = "sim-admin-pw-4f1c"

	// MemberProject and MemberUser hold the member and load-balancer_member
	// roles, as a tenant of a public cloud does.
	MemberProject   = "demo"
	MemberProjectID = "7a1b2c3d4e5f46a7b8c9d0e1f2a3b4c5"
	MemberUser      = "demo"
	MemberUserID    = "9f8e7d6c5b4a43219f8e7d6c5b4a4321"
	MemberPassword  = "sim-demo-pw-8a2e"

	// ExternalNetwork is the router:external network floating IPs come from.
	ExternalNetwork = "public"
	// ImageName is the image a fresh cloud has.
	ImageName = "ubuntu-24.04"

	// tokenTTL is how long a token lives.
	tokenTTL = 2 * time.Hour
)

// token is an issued Keystone token.
type token struct {
	ID              string    `json:"id"`
	UserID          string    `json:"userID"`
	UserName        string    `json:"userName"`
	ProjectID       string    `json:"projectID"`
	ProjectName     string    `json:"projectName"`
	Roles           []string  `json:"roles"`
	ExpiresAt       time.Time `json:"expiresAt"`
	AppCredentialID string    `json:"appCredentialID,omitempty"`
}

func (t *token) isAdmin() bool {
	for _, r := range t.Roles {
		if r == "admin" {
			return true
		}
	}
	return false
}

// seed fills a fresh cloud. Callers hold s.mu.
func (s *Server) seed() {
	s.seedIdentity()
	s.seedImage()
	s.seedCompute()
	s.seedNetwork()
	s.seedVolume()
	s.seedLoadBalancer()
}

// routes registers every API.
func (s *Server) routes() {
	s.routesIdentity()
	s.routesCompute()
	s.routesNetwork()
	s.routesLoadBalancer()
	s.routesImage()
	s.routesVolume()
}
