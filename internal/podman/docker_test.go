package podman_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/openstrap/openstrap/internal/dockertest"
	"github.com/openstrap/openstrap/internal/podman"
)

// TestDockerObjectsLifecycle runs the engine object test on a real Docker
// daemon (Debian's docker.io, started privately by dockertest).
func TestDockerObjectsLifecycle(t *testing.T) {
	e := dockertest.Start(t, context.Background())
	podman.ObjectsLifecycle(t, e)
}

func TestDockerCreateArgs(t *testing.T) {
	got := podman.DockerCreateArgs([]string{"--name", "n", "--systemd=false", "--privileged",
		"--network", "a:ip=10.0.0.5,mac=fa:16:3e:00:00:05", "--network", "b:ip=10.1.0.5,mac=fa:16:3e:00:00:06",
		"--network", "none-like", "img", "cmd"})
	want := []string{"--name", "n", "--privileged", "--network", "a", "--ip", "10.0.0.5", "--mac-address", "fa:16:3e:00:00:05",
		"--network", "none-like", "img", "cmd", "connect:b:10.1.0.5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
