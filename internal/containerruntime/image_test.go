package containerruntime_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openstrap/openstrap/internal/podman"
)

// testImagePackages make a Debian systemd machine with cloud-init, plus
// socat for the load balancer check. python3-cffi-backend is listed because
// debootstrap's resolver misses the virtual package cryptography needs.
var testImagePackages = []string{"systemd", "systemd-sysv", "dbus", "iproute2", "procps", "cloud-init",
	"python3-cffi-backend", "iptables", "socat", "iputils-ping"}

// testImageCloudCfg is what the node image configures: NoCloud only, no
// network configuration (podman's), output to the console; no locale (the
// minbase image has no locales).
const testImageCloudCfg = `datasource_list: [NoCloud, None]
network:
  config: disabled
locale: false
output:
  all: "| tee -a /var/log/cloud-init-output.log /dev/console"
`

// testImage returns a plain Debian bookworm systemd + cloud-init image,
// built with debootstrap and podman import when local storage lacks it
// (about 5 minutes; cached by its recipe's hash). OPENSTRAP_TEST_NODE_IMAGE
// names another image to use instead (for example internal/nodeimage's).
func testImage(t *testing.T, e *podman.Engine) string {
	t.Helper()
	if img := os.Getenv("OPENSTRAP_TEST_NODE_IMAGE"); img != "" {
		return img
	}
	mirror := os.Getenv("OPENSTRAP_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	sum := sha256.Sum256([]byte("containerruntime-test-1\n" + strings.Join(testImagePackages, ",") + "\n" + testImageCloudCfg + mirror))
	name := "localhost/openstrap/containerruntime-test:" + hex.EncodeToString(sum[:])[:16]
	ctx := context.Background()
	if ok, err := e.ImageExists(ctx, name); err != nil {
		t.Fatal(err)
	} else if ok {
		return name
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Fatalf("building the test image needs debootstrap (apt-get install debootstrap): %v", err)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include="+strings.Join(testImagePackages, ","), "bookworm", root, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, tail(out, 3000))
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/cloud/cloud.cfg.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/cloud/cloud.cfg.d/05-openstrap.cfg"), []byte(testImageCloudCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"debootstrap", "var/cache/apt/archives", "var/lib/apt/lists"} {
		os.RemoveAll(filepath.Join(root, p))
	}
	tar := exec.Command("tar", "-C", root, "-c", ".")
	imp := e.Command(ctx, "import", "-", name)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	if err := tar.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("podman import: %v\n%s", err, out)
	}
	if err := tar.Wait(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	return name
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
