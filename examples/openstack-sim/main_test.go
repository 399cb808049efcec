package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the command until the test ends and returns its outputs and
// a function that stops it and returns the exit code.
func start(t *testing.T, args ...string) (stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, stdout, stderr) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "running until interrupted") {
		select {
		case c := <-done:
			t.Fatalf("exited with %d: %s", c, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return stdout, stderr, stop
}

// gophercloudClient authenticates like any gophercloud program would, from
// the clouds.yaml the command wrote.
func gophercloudClient(t *testing.T, cloudsYAML, cloud string) (*gophercloud.ServiceClient, *gophercloud.ServiceClient) {
	t.Helper()
	ctx := context.Background()
	ao, eo, _, err := clouds.Parse(clouds.WithCloudName(cloud), clouds.WithLocations(cloudsYAML))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := openstack.AuthenticatedClient(ctx, ao)
	if err != nil {
		t.Fatal(err)
	}
	compute, err := openstack.NewComputeV2(pc, eo)
	if err != nil {
		t.Fatal(err)
	}
	network, err := openstack.NewNetworkV2(pc, eo)
	if err != nil {
		t.Fatal(err)
	}
	return compute, network
}

func TestRunWritesUsableCloudsYAML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clouds.yaml")
	_, stderr, stop := start(t, "--listen", "127.0.0.1:0", "--clouds-yaml", path, "--state-dir", filepath.Join(dir, "state"), "--seed", "1")
	if !strings.Contains(stderr.String(), "export OS_CLIENT_CONFIG_FILE="+path+" OS_CLOUD=openstacktest") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("clouds.yaml mode: %v, %v", fi, err)
	}
	compute, network := gophercloudClient(t, path, "openstacktest")
	f, err := flavors.Get(context.Background(), compute, "1").Extract()
	if err != nil || f.Name != "m1.tiny" {
		t.Fatalf("flavor: %+v, %v", f, err)
	}
	n, err := networks.Create(context.Background(), network, networks.CreateOpts{Name: "kept"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit code %d", code)
	}
	if !strings.Contains(stderr.String(), "state saved in") {
		t.Errorf("stderr after stop: %s", stderr.String())
	}

	// A restart on the same state dir still has the network.
	_, _, _ = start(t, "--listen", "127.0.0.1:0", "--clouds-yaml", path, "--state-dir", filepath.Join(dir, "state"))
	_, network = gophercloudClient(t, path, "openstacktest-admin")
	got, err := networks.Get(context.Background(), network, n.ID).Extract()
	if err != nil || got.Name != "kept" {
		t.Errorf("network after restart: %+v, %v", got, err)
	}
}

func TestRunPrintsCloudsYAML(t *testing.T) {
	stdout, stderr, stop := start(t, "--listen", "127.0.0.1:0")
	url := regexp.MustCompile(`serving (http://\S+)`).FindStringSubmatch(stderr.String())
	if url == nil || !strings.Contains(stdout.String(), "auth_url: "+url[1]+"/identity/v3") ||
		!strings.Contains(stdout.String(), "openstacktest-admin:") {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(path, []byte(stdout.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	compute, _ := gophercloudClient(t, path, "openstacktest")
	if _, err := flavors.Get(context.Background(), compute, "2").Extract(); err != nil {
		t.Error(err)
	}
	if code := stop(); code != exitOK {
		t.Errorf("exit code %d", code)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--nope"}, exitUsage, "flag provided but not defined"},
		{"bad seed", []string{"--seed", "x"}, exitUsage, `--seed "x"`},
		{"extra argument", []string{"serve"}, exitUsage, "unexpected arguments"},
		{"unknown machine runtime", []string{"--machines", "vms"}, exitUsage, `--machines "vms": use none, processes or containers`},
		{"auto is for create-cluster", []string{"--machines", "auto"}, exitUsage, `--machines "auto"`},
		{"bad listen address", []string{"--listen", "256.0.0.1:1"}, exitFailure, "listen on 256.0.0.1:1"},
		{"bad pool", []string{"--fip-pool", "nope"}, exitFailure, "WithFloatingIPPool"},
		{"unwritable clouds.yaml", []string{"--listen", "127.0.0.1:0", "--clouds-yaml", "/nonexistent/dir/clouds.yaml"}, exitFailure, "write clouds.yaml /nonexistent/dir/clouds.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
		})
	}
}
