package clustertemplate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// secret is the password of the test clouds.yaml; no error, string or
// log may show it.
const secret = "hunter2-never-shown"

var cloudsYAML = []byte(`clouds:
  sim:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: demo
      password: ` + secret + `
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
  other:
    auth:
      auth_url: http://127.0.0.1:5000/v3
`)

const caPEM = `-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIU
-----END CERTIFICATE-----
`

// minimal are the required values only.
func minimal() Values {
	return Values{
		ClusterName:       "demo",
		KubernetesVersion: "v1.37.2",
		CloudName:         "sim",
		CloudsYAML:        cloudsYAML,
		Image:             "ubuntu-24.04",
	}
}

// full sets every field.
func full() Values {
	return Values{
		ClusterName:          "prod-eu1",
		Namespace:            "team-a",
		KubernetesVersion:    "v1.37.2",
		ControlPlaneCount:    3,
		WorkerCount:          4,
		CloudName:            "sim",
		CloudsYAML:           cloudsYAML,
		CACert:               []byte(caPEM),
		Image:                "Ubuntu 24.04: noble (2026-11)",
		ControlPlaneFlavor:   "m1.large",
		WorkerFlavor:         "m1.xlarge",
		ExternalNetwork:      "ext-net",
		NodeCIDR:             "10.20.0.0/22",
		PodCIDR:              "172.16.0.0/16",
		ServiceCIDR:          "10.96.0.0/16",
		SSHKeyName:           "ops key",
		UnhealthyNodeTimeout: 90 * time.Second,
		NodeStartupTimeout:   15 * time.Minute,
	}
}

func TestValidateAccepts(t *testing.T) {
	for name, v := range map[string]Values{"minimal": minimal(), "full": full()} {
		if err := v.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
	}
	v := minimal()
	v.KubernetesVersion = "1.37.2"
	if err := v.Validate(); err != nil {
		t.Errorf("version without v: %v", err)
	}
	v.Default()
	if v.KubernetesVersion != "v1.37.2" || v.Namespace != DefaultNamespace || v.ControlPlaneCount != 1 || v.WorkerCount != 0 {
		t.Errorf("Default: %v", v)
	}
}

// TestValidateRefuses checks that each bad value is refused with an error
// naming the field, its variable and the value, matching ErrInvalidValues.
func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Values)
		want   []string // substrings of the message
	}{
		{"no cluster name", func(v *Values) { v.ClusterName = "" }, []string{"ClusterName (CLUSTER_NAME)", "required"}},
		{"upper-case name", func(v *Values) { v.ClusterName = "Demo" }, []string{"ClusterName (CLUSTER_NAME) \"Demo\"", "RFC 1035"}},
		{"long name", func(v *Values) { v.ClusterName = strings.Repeat("a", 41) }, []string{"ClusterName", "at most 40"}},
		{"bad namespace", func(v *Values) { v.Namespace = "Team_A" }, []string{"Namespace (NAMESPACE) \"Team_A\""}},
		{"no version", func(v *Values) { v.KubernetesVersion = "" }, []string{"KubernetesVersion (KUBERNETES_VERSION)", "required"}},
		{"short version", func(v *Values) { v.KubernetesVersion = "1.37" }, []string{"KubernetesVersion (KUBERNETES_VERSION) \"v1.37\"", "v1.37.2"}},
		{"even control plane", func(v *Values) { v.ControlPlaneCount = 2 }, []string{"ControlPlaneCount (CONTROL_PLANE_MACHINE_COUNT) 2", "odd", "use 1 or 3"}},
		{"negative control plane", func(v *Values) { v.ControlPlaneCount = -1 }, []string{"ControlPlaneCount", "-1"}},
		{"negative workers", func(v *Values) { v.WorkerCount = -2 }, []string{"WorkerCount (WORKER_MACHINE_COUNT) -2"}},
		{"no cloud", func(v *Values) { v.CloudName = "" }, []string{"CloudName (OPENSTACK_CLOUD)", "required"}},
		{"unknown cloud", func(v *Values) { v.CloudName = "prod" }, []string{"CloudName (OPENSTACK_CLOUD) \"prod\"", "it has: other, sim"}},
		{"no clouds.yaml", func(v *Values) { v.CloudsYAML = nil }, []string{"CloudsYAML (OPENSTACK_CLOUD_YAML_B64)", "required"}},
		{"clouds.yaml not YAML", func(v *Values) {
			v.CloudsYAML = []byte("clouds:\n  sim:\n    auth: {password: " + secret + "\n   x: [")
		}, []string{"CloudsYAML (OPENSTACK_CLOUD_YAML_B64)", "not a valid clouds.yaml", "withheld"}},
		{"clouds.yaml without clouds", func(v *Values) { v.CloudsYAML = []byte("password: " + secret + "\n") }, []string{"CloudsYAML", `no "clouds" section`}},
		{"clouds.yaml of the wrong shape", func(v *Values) { v.CloudsYAML = []byte("clouds: " + secret + "\n") }, []string{"CloudsYAML", "withheld"}},
		{"CA without certificate", func(v *Values) { v.CACert = []byte(secret) }, []string{"CACert (OPENSTACK_CLOUD_CACERT_B64)", "PEM"}},
		{"no image", func(v *Values) { v.Image = "" }, []string{"Image (OPENSTACK_IMAGE_NAME)", "required"}},
		{"image with a quote", func(v *Values) { v.Image = `a"b` }, []string{`Image (OPENSTACK_IMAGE_NAME) "a\"b"`}},
		{"flavor with a newline", func(v *Values) { v.WorkerFlavor = "m1\nsmall" }, []string{"WorkerFlavor (OPENSTACK_NODE_MACHINE_FLAVOR)", "control character"}},
		{"control-plane flavor with spaces", func(v *Values) { v.ControlPlaneFlavor = " m1" }, []string{"ControlPlaneFlavor (OPENSTACK_CONTROL_PLANE_MACHINE_FLAVOR)", "white space"}},
		{"long network", func(v *Values) { v.ExternalNetwork = strings.Repeat("n", 256) }, []string{"ExternalNetwork (OPENSTACK_EXTERNAL_NETWORK_NAME)", "256 characters"}},
		{"key with a backslash", func(v *Values) { v.SSHKeyName = `k\1` }, []string{"SSHKeyName (OPENSTACK_SSH_KEY_NAME)"}},
		{"node CIDR with host bits", func(v *Values) { v.NodeCIDR = "10.6.0.1/24" }, []string{"NodeCIDR (OPENSTACK_NODE_CIDR) \"10.6.0.1/24\"", "10.6.0.0/24"}},
		{"node CIDR too small", func(v *Values) { v.NodeCIDR = "10.6.0.0/30" }, []string{"NodeCIDR", "/29"}},
		{"node CIDR IPv6", func(v *Values) { v.NodeCIDR = "fd00::/64" }, []string{"NodeCIDR", "IPv4"}},
		{"pod CIDR not a CIDR", func(v *Values) { v.PodCIDR = "192.168.0.0" }, []string{"PodCIDR (POD_CIDR) \"192.168.0.0\""}},
		{"service CIDR overlaps pods", func(v *Values) { v.ServiceCIDR = "192.168.128.0/20" }, []string{"ServiceCIDR (SERVICE_CIDR) \"192.168.128.0/20\"", "overlaps PodCIDR 192.168.0.0/16"}},
		{"pods overlap nodes", func(v *Values) { v.PodCIDR = "10.0.0.0/8" }, []string{"PodCIDR (POD_CIDR) \"10.0.0.0/8\"", "overlaps NodeCIDR"}},
		{"fractional timeout", func(v *Values) { v.UnhealthyNodeTimeout = 1500 * time.Millisecond }, []string{"UnhealthyNodeTimeout (WORKER_UNHEALTHY_TIMEOUT_SECONDS) 1.5s", "whole seconds"}},
		{"short startup timeout", func(v *Values) { v.NodeStartupTimeout = 10 * time.Second }, []string{"NodeStartupTimeout (WORKER_NODE_STARTUP_TIMEOUT_SECONDS) 10s", "at least 30s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := minimal()
			tt.change(&v)
			err := v.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if !errors.Is(err, ErrInvalidValues) {
				t.Errorf("error does not match ErrInvalidValues: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the clouds.yaml password: %q", err)
			}
			if _, rerr := v.Render(); rerr == nil || rerr.Error() != err.Error() {
				t.Errorf("Render = %v, want Validate's error", rerr)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	v := Values{ClusterName: "X", ControlPlaneCount: 4, NodeCIDR: "nope"}
	err := v.Validate()
	for _, field := range []string{"ClusterName", "KubernetesVersion", "ControlPlaneCount", "CloudName", "CloudsYAML", "Image", "NodeCIDR"} {
		if err == nil || !strings.Contains(err.Error(), field+" (") {
			t.Errorf("error %v does not name %s", err, field)
		}
	}
}

// TestValuesHideCredentials prints Values every way fmt can.
func TestValuesHideCredentials(t *testing.T) {
	v := full()
	v.CACert = []byte(secret)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, v)
		if strings.Contains(s, secret) || strings.Contains(s, "password") {
			t.Errorf("%s shows credentials: %s", verb, s)
		}
		if !strings.Contains(s, "prod-eu1") || !strings.Contains(s, "withheld") {
			t.Errorf("%s: %s", verb, s)
		}
	}
}
