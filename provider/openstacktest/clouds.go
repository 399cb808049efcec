package openstacktest

import (
	"context"
	"fmt"

	"github.com/openstrap/openstrap/provider"
)

// Cloud names in the clouds.yaml that CloudsYAML returns.
const (
	// CloudName is the member user's cloud.
	CloudName = "openstacktest"
	// AdminCloudName is the admin user's cloud.
	AdminCloudName = "openstacktest-admin"
)

// CloudsYAML returns a clouds.yaml with two clouds, CloudName (the member
// user in the member project) and AdminCloudName (the admin user in the
// admin project), for gophercloud, the openstack CLI or provider.Connect.
// It holds the simulator's test passwords.
func (s *Server) CloudsYAML() []byte {
	entry := func(name, user, pass, project string) string {
		return fmt.Sprintf(`  %s:
    auth:
      auth_url: %s/identity/v3
      username: %s
      password: %s
      project_name: %s
      user_domain_name: %s
      project_domain_name: %s
    region_name: %s
    interface: public
    identity_api_version: 3
`, name, s.URL, user, pass, project, DomainName, DomainName, Region)
	}
	return []byte("clouds:\n" +
		entry(CloudName, MemberUser, MemberPassword, MemberProject) +
		entry(AdminCloudName, AdminUser, AdminPassword, AdminProject))
}

// Auth returns explicit credentials of the member user, for
// provider.WithAuth.
func (s *Server) Auth() provider.Auth {
	return provider.Auth{AuthURL: s.URL + "/identity/v3", Username: MemberUser, Password: MemberPassword,
		UserDomainName: DomainName, ProjectName: MemberProject, ProjectDomainName: DomainName}
}

// AdminAuth returns explicit credentials of the admin user.
func (s *Server) AdminAuth() provider.Auth {
	return provider.Auth{AuthURL: s.URL + "/identity/v3", Username: AdminUser, Password: AdminPassword,
		UserDomainName: DomainName, ProjectName: AdminProject, ProjectDomainName: DomainName}
}

// Cloud connects to the simulator as the member user.
func (s *Server) Cloud(ctx context.Context, opts ...provider.Option) (*provider.Cloud, error) {
	return s.connect(ctx, CloudName, s.Auth(), opts)
}

// AdminCloud connects to the simulator as the admin user.
func (s *Server) AdminCloud(ctx context.Context, opts ...provider.Option) (*provider.Cloud, error) {
	return s.connect(ctx, AdminCloudName, s.AdminAuth(), opts)
}

func (s *Server) connect(ctx context.Context, name string, a provider.Auth, opts []provider.Option) (*provider.Cloud, error) {
	all := append([]provider.Option{provider.WithAuth(a), provider.WithRegion(Region)}, opts...)
	c, err := provider.Connect(ctx, all...)
	if err != nil {
		return nil, err
	}
	c.Name = name
	return c, nil
}
