package v1beta2

import (
	"fmt"
	"strings"
)

// ProviderIDPrefix starts the provider ID of an OpenStack server with no
// region, as the OpenStack cloud controller manager and the kubelet write
// it: ProviderIDPrefix + "<server UUID>". With a region the ID is
// "openstack://<region>/<server UUID>" (see ProviderID).
const ProviderIDPrefix = "openstack:///"

// providerIDScheme is what every OpenStack provider ID starts with.
const providerIDScheme = "openstack://"

// CloudsYAMLKey is the key of the identityRef Secret that holds clouds.yaml.
const CloudsYAMLKey = "clouds.yaml"

// CACertKey is the optional key of the identityRef Secret that holds the
// PEM CA bundle to trust for the cloud's endpoints.
const CACertKey = "cacert"

// ProviderID returns the provider ID of a server: "openstack:///<id>", or
// "openstack://<region>/<id>" with a region.
func ProviderID(region, serverID string) string {
	return providerIDScheme + region + "/" + serverID
}

// ParseProviderID returns the region (empty when none) and the server ID of
// a provider ID as ProviderID makes them. It refuses anything else, naming
// the value.
func ParseProviderID(providerID string) (region, serverID string, err error) {
	rest, ok := strings.CutPrefix(providerID, providerIDScheme)
	if !ok {
		return "", "", fmt.Errorf("provider ID %q: does not start with %q", providerID, providerIDScheme)
	}
	region, serverID, ok = strings.Cut(rest, "/")
	if !ok || serverID == "" || strings.Contains(serverID, "/") {
		return "", "", fmt.Errorf("provider ID %q: want %s<server id> or %s<region>/<server id>", providerID, ProviderIDPrefix, providerIDScheme)
	}
	return region, serverID, nil
}
