package nodeimage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Artefact file names inside a cache entry directory.
const (
	rootfsFile = "rootfs.tar"  // debootstrap's output, as tar
	baseFile   = "base.tar.gz" // the component images' shared base layer
)

// rootfs returns the cached debootstrap root filesystem tarball and the
// base layer filtered from it, creating both when the cache lacks them.
func (b *builder) rootfs(ctx context.Context, in Inputs) (rootfsTar, baseTar string, err error) {
	dir := filepath.Join(b.cacheDir, in.rootfsKey())
	rootfsTar = filepath.Join(dir, rootfsFile)
	baseTar = filepath.Join(dir, baseFile)
	if exists(rootfsTar) && exists(baseTar) {
		b.log.Info("root filesystem cached", "dir", dir)
		return rootfsTar, baseTar, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	unlock, err := lock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", "", err
	}
	defer unlock()
	if exists(rootfsTar) && exists(baseTar) {
		return rootfsTar, baseTar, nil
	}
	removeStale(dir)
	if os.Geteuid() != 0 {
		return "", "", fmt.Errorf("debootstrap needs root")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", "", fmt.Errorf("debootstrap is not installed (apt-get install debootstrap): %w", err)
	}
	tmp, err := os.MkdirTemp(dir, "tmp-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "root")
	if err := b.step("debootstrap "+in.Suite, func() error {
		args := []string{"--variant=minbase", "--include=" + strings.Join(append(in.Packages, debootstrapExtra...), ","),
			in.Suite, root, in.Mirror}
		return run(ctx, "debootstrap", args...)
	}); err != nil {
		return "", "", err
	}
	if err := b.step("clean root filesystem", func() error { return cleanRootfs(root) }); err != nil {
		return "", "", err
	}
	if err := b.step("base layer", func() error {
		return writeBaseLayer(root, baseTar+".tmp")
	}); err != nil {
		return "", "", err
	}
	if err := b.step("rootfs tarball", func() error {
		return run(ctx, "tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root, "-cf", rootfsTar+".tmp", ".")
	}); err != nil {
		return "", "", err
	}
	// base first: rootfs.tar's presence alone is never trusted.
	if err := os.Rename(baseTar+".tmp", baseTar); err != nil {
		return "", "", err
	}
	if err := os.Rename(rootfsTar+".tmp", rootfsTar); err != nil {
		return "", "", err
	}
	return rootfsTar, baseTar, nil
}

// debootstrapExtra are packages debootstrap's resolver misses (it does not
// follow virtual packages: python3-cryptography needs
// python3-cffi-backend-api-max, which python3-cffi-backend provides).
var debootstrapExtra = []string{"python3-cffi-backend"}

// cleanRootfs drops what must not be shared by every node or is not needed:
// the machine ID (systemd makes one per boot when /etc/machine-id is empty),
// apt's caches and lists, debootstrap's leftovers.
func cleanRootfs(root string) error {
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), nil, 0o444); err != nil {
		return err
	}
	for _, p := range []string{"var/lib/dbus/machine-id", "debootstrap"} {
		if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
			return err
		}
	}
	for _, glob := range []string{"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*", "var/log/*.log"} {
		m, _ := filepath.Glob(filepath.Join(root, glob))
		for _, p := range m {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeStale removes what a build that died left in dir (temporary
// directories and files); the caller holds dir's lock.
func removeStale(dir string) {
	for _, pat := range []string{"tmp-*", "*.tmp"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, p := range m {
			_ = os.RemoveAll(p)
		}
	}
}

// run runs a command, returning its output in the error when it fails.
func run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		s := out.String()
		if len(s) > 4000 {
			s = "..." + s[len(s)-4000:]
		}
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, s)
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// lock takes an exclusive flock on path, waiting until ctx ends.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, err
		}
		return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
	case <-ctx.Done():
		f.Close() // unblocks nothing, but the goroutine ends with the process
		return nil, ctx.Err()
	}
}
