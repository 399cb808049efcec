package containerruntime_test

import (
	"context"
	"os"
	"testing"

	"github.com/openstrap/openstrap/internal/nodeimage"
	"github.com/openstrap/openstrap/internal/podman"
)

// testImage returns the node image container machines boot (Debian with
// systemd, cloud-init on NoCloud, socat and ping, which the tests use),
// built by internal/nodeimage when e's storage lacks it (make tools builds
// it up front). OPENSTRAP_TEST_NODE_IMAGE names another image to use.
func testImage(t *testing.T, e *podman.Engine) string {
	t.Helper()
	if img := os.Getenv("OPENSTRAP_TEST_NODE_IMAGE"); img != "" {
		return img
	}
	img, err := nodeimage.Build(context.Background(), nodeimage.WithEngine(e))
	if err != nil {
		t.Fatalf("node image: %v", err)
	}
	return img.Name
}
