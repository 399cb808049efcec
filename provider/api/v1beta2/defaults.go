package v1beta2

// DefaultAPIServerPort is the API server port when spec.apiServer.port is
// not set.
const DefaultAPIServerPort int32 = 6443

// The methods below read the spec's optional fields with the defaults their
// documentation states, so that every reader applies the same defaults:
// objects arrive without a defaulting webhook, and only the defaults
// written in the CRD schema are filled in by the API server.

// ExternalNetworkEnabled reports whether the cluster is connected to an
// external network: enableExternalNetwork is not false.
func (s *OpenStackClusterSpec) ExternalNetworkEnabled() bool {
	return s.EnableExternalNetwork == nil || *s.EnableExternalNetwork
}

// APIServerPort returns spec.apiServer.port, or DefaultAPIServerPort.
func (s *OpenStackClusterSpec) APIServerPort() int32 {
	if s.APIServer != nil && s.APIServer.Port != nil {
		return *s.APIServer.Port
	}
	return DefaultAPIServerPort
}

// APIServerFloatingIPEnabled reports whether the API endpoint gets a
// floating IP: the external network is enabled and
// spec.apiServer.enableFloatingIP is not false.
func (s *OpenStackClusterSpec) APIServerFloatingIPEnabled() bool {
	if !s.ExternalNetworkEnabled() {
		return false
	}
	return s.APIServer == nil || s.APIServer.EnableFloatingIP == nil || *s.APIServer.EnableFloatingIP
}

// APIServerLoadBalancerEnabled reports whether the API server gets an
// Octavia load balancer: spec.apiServer.managedLoadBalancer is set and not
// disabled.
func (s *OpenStackClusterSpec) APIServerLoadBalancerEnabled() bool {
	return s.APIServer != nil && s.APIServer.ManagedLoadBalancer.IsEnabled()
}

// IsProvisioned reports status.initialization.provisioned.
func (c *OpenStackCluster) IsProvisioned() bool {
	return c.Status.Initialization != nil && c.Status.Initialization.Provisioned
}

// IsProvisioned reports status.initialization.provisioned.
func (m *OpenStackMachine) IsProvisioned() bool {
	return m.Status.Initialization != nil && m.Status.Initialization.Provisioned
}

// ServerID returns the UUID of the machine's server, from status.instanceID
// or else from spec.providerID; "" when neither is set.
func (m *OpenStackMachine) ServerID() string {
	if m.Status.InstanceID != nil && *m.Status.InstanceID != "" {
		return *m.Status.InstanceID
	}
	if m.Spec.ProviderID != nil {
		if _, id, err := ParseProviderID(*m.Spec.ProviderID); err == nil {
			return id
		}
	}
	return ""
}
