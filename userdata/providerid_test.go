package userdata

import (
	"errors"
	"strings"
	"testing"
)

// TestProviderIDFromMetadata: Node.ProviderID becomes the kubelet's
// --provider-id; ProviderIDFromMetadata makes the cloud-init user data a
// Jinja template that fills in the instance ID; Ignition, which has no
// templating, refuses it; a different provider-id in KubeletExtraArgs is a
// conflict.
func TestProviderIDFromMetadata(t *testing.T) {
	s := workerSpec(t, fixtureVersion, CloudInit)
	s.Node.ProviderID = ProviderIDFromMetadata
	data, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "## template: jinja\n") {
		t.Errorf("user data is not a Jinja template: %.60q", data)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, a := range p.Kubeadm.Join.NodeRegistration.KubeletExtraArgs {
		if a.Name == "provider-id" {
			got = a.Value
		}
	}
	if got != ProviderIDFromMetadata {
		t.Errorf("kubelet provider-id %q, want %q", got, ProviderIDFromMetadata)
	}

	ign := workerSpec(t, fixtureVersion, Ignition)
	ign.Node.ProviderID = ProviderIDFromMetadata
	if _, err := Render(ign); err == nil {
		t.Error("Ignition rendered a Jinja provider ID")
	}
	ign.Node.ProviderID = "openstack:///2f9e0a77-6a4b-4f0e-9d55-0c1e8f1b2a3c"
	if _, err := Render(ign); err != nil {
		t.Errorf("Ignition with a literal provider ID: %v", err)
	}

	s.Node.KubeletExtraArgs = map[string]string{"provider-id": "openstack:///other"}
	var fe *FieldError
	if _, err := Render(s); !errors.As(err, &fe) || fe.Field != "Node.KubeletExtraArgs" {
		t.Errorf("conflicting provider-id: %v, want a FieldError on Node.KubeletExtraArgs", err)
	}
}
