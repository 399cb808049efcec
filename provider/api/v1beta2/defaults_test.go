package v1beta2_test

import (
	"testing"

	v1beta2 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

func TestSpecDefaults(t *testing.T) {
	for _, tc := range []struct {
		name          string
		spec          v1beta2.OpenStackClusterSpec
		external, fip bool
		lb            bool
		port          int32
	}{
		{name: "empty", external: true, fip: true, port: 6443},
		{name: "no external network", spec: v1beta2.OpenStackClusterSpec{EnableExternalNetwork: ptr(false)}, port: 6443},
		{name: "floating IP off", spec: v1beta2.OpenStackClusterSpec{APIServer: &v1beta2.APIServer{EnableFloatingIP: ptr(false), Port: ptr[int32](443)}}, external: true, port: 443},
		{name: "load balancer", spec: v1beta2.OpenStackClusterSpec{APIServer: &v1beta2.APIServer{ManagedLoadBalancer: &v1beta2.APIServerLoadBalancer{}}}, external: true, fip: true, lb: true, port: 6443},
		{name: "load balancer disabled", spec: v1beta2.OpenStackClusterSpec{APIServer: &v1beta2.APIServer{ManagedLoadBalancer: &v1beta2.APIServerLoadBalancer{Enabled: ptr(false)}}}, external: true, fip: true, port: 6443},
	} {
		s := tc.spec
		if got := s.ExternalNetworkEnabled(); got != tc.external {
			t.Errorf("%s: ExternalNetworkEnabled() = %v", tc.name, got)
		}
		if got := s.APIServerFloatingIPEnabled(); got != tc.fip {
			t.Errorf("%s: APIServerFloatingIPEnabled() = %v", tc.name, got)
		}
		if got := s.APIServerLoadBalancerEnabled(); got != tc.lb {
			t.Errorf("%s: APIServerLoadBalancerEnabled() = %v", tc.name, got)
		}
		if got := s.APIServerPort(); got != tc.port {
			t.Errorf("%s: APIServerPort() = %v", tc.name, got)
		}
	}
}

func TestMachineServerID(t *testing.T) {
	m := &v1beta2.OpenStackMachine{}
	if got := m.ServerID(); got != "" || m.IsProvisioned() {
		t.Errorf("empty machine: ServerID() = %q, IsProvisioned() = %v", got, m.IsProvisioned())
	}
	m.Spec.ProviderID = ptr("openstack:///abc")
	if got := m.ServerID(); got != "abc" {
		t.Errorf("from providerID: ServerID() = %q", got)
	}
	m.Status.InstanceID = ptr("def")
	m.Status.Initialization = &v1beta2.MachineInitialization{Provisioned: true}
	if got := m.ServerID(); got != "def" || !m.IsProvisioned() {
		t.Errorf("from instanceID: ServerID() = %q, IsProvisioned() = %v", got, m.IsProvisioned())
	}
}
