package cloudtest

import "github.com/openstrap/openstrap/provider"

// Auth returns the password credentials of the member user (or the admin
// user): the simulator's, or those of the real cloud's clouds.yaml entry.
// Tests that write their own clouds.yaml or set OS_* variables build them
// from it. It fails the test when the entry cannot be read. On a real
// cloud, call it before changing OS_CLOUD or OS_CLIENT_CONFIG_FILE.
func (e *Env) Auth(admin bool) provider.Auth {
	e.t.Helper()
	switch {
	case e.sim != nil && admin:
		return e.sim.AdminAuth()
	case e.sim != nil:
		return e.sim.Auth()
	}
	name := e.cloudName
	if admin {
		name = e.adminName
	}
	a, _, err := authOf(name)
	if err != nil {
		e.t.Fatalf("credentials of the test cloud: %v", err)
	}
	return a
}
