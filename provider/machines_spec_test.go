package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/userdata"
)

func validSpec() MachineSpec {
	return MachineSpec{
		Cluster: "demo",
		Name:    "demo-w-0",
		Flavor:  "m1.small",
		Image:   "ubuntu-24.04",
		Ports:   []PortSpec{{Network: "demo-net"}},
	}
}

func TestMachineSpecDefault(t *testing.T) {
	tests := []struct {
		name string
		in   MachineSpec
		want MachineSpec
	}{
		{
			name: "worker by default, no group",
			in:   MachineSpec{Cluster: "demo", Name: "w"},
			want: MachineSpec{Cluster: "demo", Name: "w", Role: Worker},
		},
		{
			name: "control plane gets a soft anti-affinity group",
			in:   MachineSpec{Cluster: "demo", Name: "cp", Role: ControlPlane},
			want: MachineSpec{Cluster: "demo", Name: "cp", Role: ControlPlane,
				ServerGroup: &ServerGroupSpec{Name: "demo-control-plane", Policy: PolicySoftAntiAffinity}},
		},
		{
			name: "an explicit group keeps its policy",
			in: MachineSpec{Cluster: "demo", Name: "cp", Role: ControlPlane,
				ServerGroup: &ServerGroupSpec{Name: "demo-cp", Policy: PolicyAntiAffinity}},
			want: MachineSpec{Cluster: "demo", Name: "cp", Role: ControlPlane,
				ServerGroup: &ServerGroupSpec{Name: "demo-cp", Policy: PolicyAntiAffinity}},
		},
		{
			name: "opting out",
			in:   MachineSpec{Cluster: "demo", Name: "cp", Role: ControlPlane, ServerGroup: NoServerGroup()},
			want: MachineSpec{Cluster: "demo", Name: "cp", Role: ControlPlane, ServerGroup: &ServerGroupSpec{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			got := tt.in.Default()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Default() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(in, tt.in); diff != "" {
				t.Errorf("Default() changed its receiver:\n%s", diff)
			}
		})
	}
}

func TestMachineSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*MachineSpec)
		want   []string // substrings of the error; none: valid
	}{
		{name: "valid", mutate: func(*MachineSpec) {}},
		{name: "everything set", mutate: func(s *MachineSpec) {
			s.Role = ControlPlane
			s.ImageTags = []string{"k8s"}
			s.Ports = []PortSpec{{Network: "n", Subnet: "s", FixedIP: "10.0.0.5", SecurityGroups: []string{"default"},
				AllowedAddressPairs: []AddressPair{{IPAddress: "10.0.0.0/24"}, {IPAddress: "10.0.0.9"}}}}
			s.ServerGroup = &ServerGroupSpec{Name: "demo-cp", Policy: PolicyAntiAffinity}
			s.RootVolume = &RootVolumeSpec{SizeGiB: 20}
			s.Volumes = []VolumeSpec{{Name: "etcd", SizeGiB: 5}}
			s.Metadata = map[string]string{"k": "v"}
			s.Tags = []string{"team-a"}
			s.FloatingIP = &FloatingIPSpec{}
			s.UserData = make([]byte, 49149) // 65532 bytes once encoded
		}},
		{name: "missing basics", mutate: func(s *MachineSpec) { *s = MachineSpec{} }, want: []string{
			"Cluster: required", "Name: required", "Flavor: required", "Image: required", "Ports: at least one"}},
		{name: "bad names", mutate: func(s *MachineSpec) { s.Cluster = "Demo_1"; s.Name = "w.0" }, want: []string{
			`Cluster "Demo_1"`, `Name "w.0"`}},
		{name: "cluster too long for a tag", mutate: func(s *MachineSpec) { s.Cluster = strings.Repeat("a", 43) }, want: []string{
			"at most 42 characters"}},
		{name: "image by tags only", mutate: func(s *MachineSpec) { s.Image = ""; s.ImageTags = []string{"k8s"} }},
		{name: "user data over Nova's limit", mutate: func(s *MachineSpec) { s.UserData = make([]byte, 49150) }, want: []string{
			"UserData: 49150 bytes, 65536 once base64 encoded, over Nova's limit of 65535 bytes"}},
		{name: "ports", mutate: func(s *MachineSpec) {
			s.Ports = []PortSpec{{}, {Network: "n", FixedIP: "10.0.0.300", SecurityGroups: []string{""},
				AllowedAddressPairs: []AddressPair{{IPAddress: "nope"}}}}
		}, want: []string{"Ports[0]: Network or Subnet is required", `Ports[1].FixedIP "10.0.0.300"`,
			`Ports[1].SecurityGroups[0] ""`, `Ports[1].AllowedAddressPairs[0].IPAddress "nope"`}},
		{name: "subnet only", mutate: func(s *MachineSpec) { s.Ports = []PortSpec{{Subnet: "demo-subnet"}} }},
		{name: "server group", mutate: func(s *MachineSpec) {
			s.ServerGroup = &ServerGroupSpec{Name: "other-cp", Policy: "spread"}
		}, want: []string{`ServerGroup.Name "other-cp"`, `ServerGroup.Policy "spread"`}},
		{name: "server group id and name", mutate: func(s *MachineSpec) {
			s.ServerGroup = &ServerGroupSpec{ID: "x", Name: "demo-cp"}
		}, want: []string{"set either ID or Name"}},
		{name: "volumes", mutate: func(s *MachineSpec) {
			s.RootVolume = &RootVolumeSpec{SizeGiB: -1}
			s.Volumes = []VolumeSpec{{Name: "root", SizeGiB: 1}, {Name: "data"}, {Name: "data", SizeGiB: 1}, {SizeGiB: 1}}
		}, want: []string{`RootVolume.SizeGiB "-1"`, `Volumes[0].Name "root"`, `Volumes[1].SizeGiB "0"`,
			`Volumes[2].Name "data": duplicate`, "Volumes[3].Name: required"}},
		{name: "reserved metadata and tags", mutate: func(s *MachineSpec) {
			s.Metadata = map[string]string{MetadataRole: "x"}
			s.Tags = []string{OwnershipTag("other"), "a,b", ""}
		}, want: []string{`Metadata "openstrap-role"`, `Tags[0] "openstrap-cluster=other"`, `Tags[1] "a,b"`, `Tags[2] ""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(&s)
			err := s.Default().Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.want)
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("errors.Is(%v, ErrInvalidSpec) = false", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestMachineSpecStringHidesUserData(t *testing.T) {
	s := validSpec()
	s.UserData = []byte("token: abcdef.0123456789abcdef")
	for _, got := range []string{s.String(), fmt.Sprintf("%v", s), fmt.Sprint(&s)} {
		if strings.Contains(got, "abcdef") {
			t.Errorf("spec rendered with its user data: %s", got)
		}
	}
}

func TestPortIndex(t *testing.T) {
	tests := []struct {
		port string
		want int
		ok   bool
	}{
		{"m-0", 0, true},
		{"m-12", 12, true},
		{"m-01", 0, false},
		{"m-x", 0, false},
		{"m-1-0", 0, false},
		{"mm-0", 0, false},
		{"m--1", 0, false},
	}
	for _, tt := range tests {
		got, ok := portIndex("m", tt.port)
		if got != tt.want || ok != tt.ok {
			t.Errorf("portIndex(m, %q) = %d, %v; want %d, %v", tt.port, got, ok, tt.want, tt.ok)
		}
	}
}

func TestQuotaError(t *testing.T) {
	err := error(&QuotaError{Cloud: "sim", Machines: 3, Shortages: []QuotaShortage{
		{Resource: "cores", Need: 12, InUse: 10, Limit: 16},
		{Resource: "ports", Need: 3, InUse: 50, Limit: 50},
	}})
	if !errors.Is(err, ErrQuotaExceeded) {
		t.Error("QuotaError does not match ErrQuotaExceeded")
	}
	want := `quota exceeded for 3 machines on cloud "sim": cores: need 12, 10 of 16 in use (6 free); ports: need 3, 50 of 50 in use (0 free) (free resources or ask for a higher quota)`
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q\nwant %q", got, want)
	}
}

func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	ctx := context.Background()
	unlock, err := k.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// Another key is free.
	unlockB, err := k.lock(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	unlockB()
	// The same key waits, and gives up with the context.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := k.lock(short, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock of a held key = %v, want deadline exceeded", err)
	}
	got := make(chan struct{})
	go func() {
		u, err := k.lock(ctx, "a")
		if err == nil {
			u()
		}
		close(got)
	}()
	unlock()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not get the lock after unlock")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) != 0 {
		t.Errorf("keyedMutex keeps %d entries after every unlock", len(k.m))
	}
}

// The user-data limit agrees with the one userdata renders against.
func TestMaxUserDataMatchesUserdata(t *testing.T) {
	if MaxUserDataBase64 != userdata.NovaUserDataLimit {
		t.Errorf("provider.MaxUserDataBase64 = %d, userdata.NovaUserDataLimit = %d", MaxUserDataBase64, userdata.NovaUserDataLimit)
	}
}
