package containerruntime

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

var testFronts = []openstacktest.Frontend{
	{Protocol: "TCP", Port: 6443, VIPAddress: "10.6.0.7", FloatingIPs: []string{"127.42.0.3"},
		Backends: []openstacktest.Backend{{Address: "10.6.0.10", Port: 6443}, {Address: "10.6.0.11", Port: 6443}}},
	{Protocol: "UDP", Port: 53, VIPAddress: "10.6.0.7", FloatingIPs: []string{"127.42.0.3"}},
	{Protocol: "HTTP", Port: 80, VIPAddress: "10.6.0.8"},
}

func TestDesiredListeners(t *testing.T) {
	want := map[string][]string{
		"10.6.0.7:6443":   {"10.6.0.10:6443", "10.6.0.11:6443"},
		"127.42.0.3:6443": {"10.6.0.10:6443", "10.6.0.11:6443"},
		"10.6.0.8:80":     nil,
	}
	if diff := cmp.Diff(want, desiredListeners(testFronts)); diff != "" {
		t.Errorf("listeners (-want +got):\n%s", diff)
	}
}

func TestNetnsLBRules(t *testing.T) {
	got := string(netnsLBRules(testFronts))
	want := `*nat
:OPENSTRAP-LB - [0:0]
:OPENSTRAP-LB-MASQ - [0:0]
-A OPENSTRAP-LB -d 127.42.0.3/32 -p tcp -m tcp --dport 6443 -j DNAT --to-destination 10.6.0.7:6443
-A OPENSTRAP-LB-MASQ -s 127.0.0.0/8 ! -o lo -j MASQUERADE
COMMIT
`
	if got != want {
		t.Errorf("rules:\n%s\nwant:\n%s", got, want)
	}
	if empty := string(netnsLBRules(nil)); strings.Contains(empty, "DNAT") || !strings.Contains(empty, "COMMIT") {
		t.Errorf("rules without frontends: %s", empty)
	}
}

func TestContainerName(t *testing.T) {
	ev := openstacktest.BootEvent{ServerID: "6acb40b1-6fee-4610-b0f5-2018a29ec7de", Name: "My server/0"}
	if got := containerName(ev); got != "My-server-0-6acb40b1" {
		t.Errorf("containerName = %q", got)
	}
}
