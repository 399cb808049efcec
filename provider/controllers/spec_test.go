package controllers

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/provider"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/userdata"
)

func lb() *infrav1.APIServer {
	return &infrav1.APIServer{ManagedLoadBalancer: &infrav1.APIServerLoadBalancer{}}
}

func TestInfraSpec(t *testing.T) {
	tests := []struct {
		name     string
		spec     infrav1.OpenStackClusterSpec
		external string
		want     func(*infra.Spec)
		bad      string // a part of the refusal's message
	}{
		{name: "defaults: found external network, load balancer, no groups",
			spec: infrav1.OpenStackClusterSpec{APIServer: lb()}, external: "ext-id",
			want: func(s *infra.Spec) {
				s.ExternalNetwork = "ext-id"
				s.SecurityGroups.Unmanaged = true
			}},
		{name: "managed subnet, MTU, DNS, groups with rules and all-in-cluster",
			spec: infrav1.OpenStackClusterSpec{
				APIServer:      &infrav1.APIServer{Port: ptr.To[int32](443), ManagedLoadBalancer: &infrav1.APIServerLoadBalancer{AllowedCIDRs: []string{"192.0.2.0/24"}, Provider: ptr.To("ovn")}},
				ManagedSubnets: []infrav1.SubnetSpec{{CIDR: "10.9.0.0/24", DNSNameservers: []string{"9.9.9.9"}}},
				ManagedNetwork: &infrav1.ManagedNetwork{MTU: ptr.To[int32](1400)},
				ManagedSecurityGroups: &infrav1.ManagedSecurityGroups{
					AllowAllInClusterTraffic: true,
					WorkerNodesSecurityGroupRules: []infrav1.SecurityGroupRuleSpec{{Name: "np", Direction: "ingress",
						Protocol: ptr.To("tcp"), PortRangeMin: ptr.To[int32](30000), PortRangeMax: ptr.To[int32](32767),
						RemoteManagedGroups: []infrav1.ManagedSecurityGroupName{"controlplane", "worker"}}},
				},
			}, external: "ext-id",
			want: func(s *infra.Spec) {
				s.ExternalNetwork = "ext-id"
				s.NodeCIDR, s.DNSNameservers, s.MTU = "10.9.0.0/24", []string{"9.9.9.9"}, 1400
				s.APIServer.Port, s.APIServer.AllowedCIDRs, s.APIServer.LoadBalancerProvider = 443, []string{"192.0.2.0/24"}, "ovn"
				rule := infra.Rule{Description: "np", Direction: "ingress", Protocol: "tcp", PortMin: 30000, PortMax: 32767}
				cp, wk := rule, rule
				cp.RemoteRole, wk.RemoteRole = infra.RoleControlPlane, infra.RoleWorker
				s.SecurityGroups.Extra = map[infra.Role][]infra.Rule{
					infra.RoleWorker: {cp, wk},
					infra.RoleNode: {
						{Description: "allow all in-cluster traffic (IPv4)", EtherType: "IPv4", RemoteRole: infra.RoleNode},
						{Description: "allow all in-cluster traffic (IPv6)", EtherType: "IPv6", RemoteRole: infra.RoleNode},
					},
				}
			}},
		{name: "bring your own network and subnet by filter, external by tags",
			spec: infrav1.OpenStackClusterSpec{APIServer: lb(),
				Network:         &infrav1.NetworkParam{Filter: &infrav1.NetworkFilter{Name: "mine"}},
				Subnets:         []infrav1.SubnetParam{{ID: ptr.To("0b9d3f4e-0000-4000-8000-000000000001")}},
				ExternalNetwork: &infrav1.NetworkParam{Filter: &infrav1.NetworkFilter{Tags: []infrav1.NeutronTag{"ext", "v4"}}}},
			want: func(s *infra.Spec) {
				s.Network = infra.Ref{Name: "mine"}
				s.Subnet = infra.Ref{ID: "0b9d3f4e-0000-4000-8000-000000000001"}
				s.ExternalNetworkTags = []string{"ext", "v4"}
				s.SecurityGroups.Unmanaged = true
			}},
		{name: "internal cluster: no external network, VIP endpoint",
			spec: infrav1.OpenStackClusterSpec{APIServer: lb(), EnableExternalNetwork: ptr.To(false)}, external: "ignored",
			want: func(s *infra.Spec) {
				s.APIServer.DisableFloatingIP = true
				s.SecurityGroups.Unmanaged = true
			}},
		{name: "no load balancer: floating IP endpoint",
			spec: infrav1.OpenStackClusterSpec{}, external: "ext-id",
			want: func(s *infra.Spec) {
				s.ExternalNetwork = "ext-id"
				s.APIServer.DisableLoadBalancer = true
				s.SecurityGroups.Unmanaged = true
			}},
		{name: "filter by name and tags", bad: "spec.network.filter: openstrap selects by name or by tags, not both",
			spec: infrav1.OpenStackClusterSpec{Network: &infrav1.NetworkParam{Filter: &infrav1.NetworkFilter{Name: "a", Tags: []infrav1.NeutronTag{"b"}}}}},
		{name: "cluster tags", bad: "spec.tags", spec: infrav1.OpenStackClusterSpec{Tags: []string{"x"}}},
		{name: "additional ports", bad: "additionalPorts",
			spec: infrav1.OpenStackClusterSpec{APIServer: &infrav1.APIServer{ManagedLoadBalancer: &infrav1.APIServerLoadBalancer{AdditionalPorts: []int32{22}}}}},
		{name: "fixed IP with a load balancer", bad: "spec.apiServer.fixedIP with a load balancer",
			spec: infrav1.OpenStackClusterSpec{APIServer: &infrav1.APIServer{FixedIP: ptr.To("10.6.0.9"), ManagedLoadBalancer: &infrav1.APIServerLoadBalancer{}}}},
		{name: "no endpoint at all", bad: "without an API endpoint",
			spec: infrav1.OpenStackClusterSpec{EnableExternalNetwork: ptr.To(false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			osc := &infrav1.OpenStackCluster{Spec: tt.spec}
			got, err := infraSpec("demo", osc, tt.external)
			if tt.bad != "" {
				if !errors.Is(err, provider.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("err = %v, want an invalid spec naming %q", err, tt.bad)
				}
				if f := classify(err); f.reason != infrav1.InvalidSpecReason || !f.permanent {
					t.Errorf("classified as %+v", f)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := infra.Spec{Cluster: "demo"}
			tt.want(&want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("infra spec (-want +got):\n%s", d)
			}
			// What infra itself accepts.
			got.Default()
			if err := got.Validate(); err != nil {
				t.Errorf("infra refuses the mapped spec: %v", err)
			}
		})
	}
}

func TestMachineSpec(t *testing.T) {
	osc := &infrav1.OpenStackCluster{Status: infrav1.OpenStackClusterStatus{
		Network:                   &infrav1.NetworkStatusWithSubnets{NetworkStatus: infrav1.NetworkStatus{ID: "net"}, Subnets: []infrav1.Subnet{{ID: "sub"}}},
		ControlPlaneSecurityGroup: &infrav1.SecurityGroupStatus{ID: "sg-cp"},
		WorkerSecurityGroup:       &infrav1.SecurityGroupStatus{ID: "sg-wk"},
		NodeSecurityGroup:         &infrav1.SecurityGroupStatus{ID: "sg-node"},
	}}
	machine := &clusterv1.Machine{Spec: clusterv1.MachineSpec{FailureDomain: "az-1"}}
	osm := &infrav1.OpenStackMachine{ObjectMeta: metav1.ObjectMeta{Name: "demo-cp-0"}, Spec: infrav1.OpenStackMachineSpec{
		Flavor:         infrav1.FlavorParam{ID: ptr.To("3")},
		Image:          infrav1.ImageParam{Filter: &infrav1.ImageFilter{Name: ptr.To("ubuntu"), Tags: []string{"k8s"}}},
		SSHKeyName:     "key",
		SecurityGroups: []infrav1.SecurityGroupParam{{Filter: &infrav1.SecurityGroupFilter{Name: "extra"}}},
		ServerMetadata: []infrav1.ServerMetadata{{Key: "k", Value: "v"}},
		RootVolume:     &infrav1.RootVolume{SizeGiB: 20, BlockDeviceVolume: infrav1.BlockDeviceVolume{AvailabilityZone: &infrav1.VolumeAvailabilityZone{From: infrav1.VolumeAZFromMachine}}},
		AdditionalBlockDevices: []infrav1.AdditionalBlockDevice{{Name: "etcd", SizeGiB: 5, Storage: infrav1.BlockDeviceStorage{Type: infrav1.VolumeBlockDevice,
			Volume: &infrav1.BlockDeviceVolume{Type: "ssd"}}}},
	}}
	got, err := machineSpec("demo", osm, machine, osc, true, []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	want := provider.MachineSpec{
		Cluster: "demo", Name: "demo-cp-0", Role: provider.ControlPlane, Flavor: "3", Image: "ubuntu", ImageTags: []string{"k8s"},
		KeyName: "key", UserData: []byte("data"), AvailabilityZone: "az-1",
		Ports:      []provider.PortSpec{{Network: "net", Subnet: "sub", SecurityGroups: []string{"sg-cp", "sg-node", "extra"}}},
		RootVolume: &provider.RootVolumeSpec{SizeGiB: 20, AvailabilityZone: "az-1"},
		Volumes:    []provider.VolumeSpec{{Name: "etcd", SizeGiB: 5, Type: "ssd"}},
		Metadata:   map[string]string{"k": "v"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("machine spec (-want +got):\n%s", d)
	}
	if err := got.Default().Validate(); err != nil {
		t.Errorf("provider refuses the mapped spec: %v", err)
	}

	// A worker with explicit ports: the first on the cluster's network,
	// the second on another network with a fixed IP.
	osm.Spec.Ports = []infrav1.PortOpts{{}, {
		Network:             &infrav1.NetworkParam{Filter: &infrav1.NetworkFilter{Name: "storage"}},
		FixedIPs:            []infrav1.FixedIP{{Subnet: &infrav1.SubnetParam{Filter: &infrav1.SubnetFilter{Name: "storage-v4"}}, IPAddress: ptr.To("192.0.2.7")}},
		AllowedAddressPairs: []infrav1.AddressPair{{IPAddress: "192.0.2.100"}},
	}}
	osm.Spec.SecurityGroups = nil
	got, err = machineSpec("demo", osm, machine, osc, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantPorts := []provider.PortSpec{
		{Network: "net", Subnet: "sub", SecurityGroups: []string{"sg-wk", "sg-node"}},
		{Network: "storage", Subnet: "storage-v4", FixedIP: "192.0.2.7", SecurityGroups: []string{"sg-wk", "sg-node"},
			AllowedAddressPairs: []provider.AddressPair{{IPAddress: "192.0.2.100"}}},
	}
	if d := cmp.Diff(wantPorts, got.Ports); d != "" || got.Role != provider.Worker {
		t.Errorf("worker ports (-want +got):\n%s (role %s)", d, got.Role)
	}
}

func TestBootstrapUserData(t *testing.T) {
	secret := func(value, format string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns"},
			Data: map[string][]byte{"value": []byte(value), "format": []byte(format)}}
	}
	small := "#cloud-config\nhostname: a\n"
	if got, err := bootstrapUserData(secret(small, "cloud-config")); err != nil || string(got) != small {
		t.Errorf("small user data = %q, %v; want it as is", got, err)
	}
	big := "#cloud-config\n" + strings.Repeat("write_files: [] # padding that compresses well\n", 3000)
	got, err := bootstrapUserData(secret(big, "cloud-config"))
	if err != nil {
		t.Fatal(err)
	}
	if userdata.CheckSize(got) != nil {
		t.Errorf("gzipped user data still over the limit: %d bytes", len(got))
	}
	zr, err := gzip.NewReader(bytes.NewReader(got))
	if err != nil {
		t.Fatalf("big user data not gzipped: %v", err)
	}
	if b, _ := io.ReadAll(zr); string(b) != big {
		t.Errorf("gunzipped user data differs")
	}
	if _, err := bootstrapUserData(secret(big, "ignition")); !errors.Is(err, provider.ErrInvalidSpec) || !strings.Contains(err.Error(), "cannot be gzip-compressed") {
		t.Errorf("big ignition = %v, want a refusal", err)
	}
	if _, err := bootstrapUserData(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns"}}); !errors.Is(err, provider.ErrInvalidSpec) {
		t.Errorf("no value = %v, want a refusal", err)
	}
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		err       error
		reason    string
		permanent bool
	}{
		{&provider.Error{Op: "find", Kind: "image", Name: "x", Err: provider.ErrNotFound}, infrav1.ImageNotFoundReason, true},
		{&provider.Error{Op: "find", Kind: "flavor", Name: "x", Err: provider.ErrAmbiguous}, infrav1.FlavorNotFoundReason, true},
		{&provider.Error{Op: "find", Kind: "external network", Err: provider.ErrNotFound}, infrav1.NetworkNotFoundReason, true},
		{&provider.QuotaError{Machines: 1}, infrav1.QuotaExceededReason, true},
		{errors.Join(provider.ErrAuthentication, errors.New("401")), infrav1.AuthenticationFailedReason, true},
		{errors.Join(provider.ErrCloudConfig, errors.New("no clouds.yaml key")), infrav1.AuthenticationFailedReason, true},
		{errors.New("connection reset"), infrav1.OpenStackErrorReason, false},
	} {
		f := classify(tt.err)
		if f.reason != tt.reason || f.permanent != tt.permanent {
			t.Errorf("classify(%v) = %+v, want %s permanent=%v", tt.err, f, tt.reason, tt.permanent)
		}
	}
}
