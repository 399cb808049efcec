package nodeimage

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/openstrap/openstrap/internal/podman"
)

// overlayFS holds the node's configuration files, laid out as in the image.
//
//go:embed all:overlay
var overlayFS embed.FS

// Paths in the image.
const (
	imagesInImage       = "/opt/openstrap/images.tar"
	imagesDigestInImage = "/opt/openstrap/images.digest"
	inputsInImage       = "/etc/openstrap/node-image.json"
)

// enabledUnits are enabled (target → units) besides Debian's defaults.
var enabledUnits = map[string][]string{
	"multi-user.target": {"kubelet.service", "openstrap-preload-images.service", "openstrap-cni.service"},
	"sysinit.target":    {"openstrap-sysctl.service"},
}

// disabledWants are Debian's default enablements a container node does not
// want (consoles, timers that run apt or touch disks, pstore).
var disabledWants = []string{
	"getty.target.wants/getty@tty1.service",
	"sysinit.target.wants/systemd-pstore.service",
	"timers.target.wants/apt-daily-upgrade.timer",
	"timers.target.wants/apt-daily.timer",
	"timers.target.wants/dpkg-db-backup.timer",
	"timers.target.wants/e2scrub_all.timer",
	"timers.target.wants/fstrim.timer",
	"multi-user.target.wants/e2scrub_reap.service",
}

// maskedUnits cannot work in a container.
var maskedUnits = []string{
	"systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
	"sys-kernel-debug.mount", "sys-kernel-tracing.mount", "sys-kernel-config.mount", "sys-fs-fuse-connections.mount",
	"dev-hugepages.mount", "systemd-modules-load.service", "systemd-remount-fs.service",
	"getty@.service", "serial-getty@.service", "console-getty.service",
	"cloud-init-hotplugd.socket", "cloud-init-hotplugd.service",
	// Applies /usr/lib/sysctl.d, whose keys are host-global here;
	// openstrap-sysctl.service applies the node's network settings.
	"systemd-sysctl.service",
}

// assemble lays out the node's root filesystem from the debootstrap tarball,
// the overlay files, the binaries and the images archive, and imports it
// into the engine's storage as img.Name.
func (b *builder) assemble(ctx context.Context, img Image, rootfsTar, imagesTar, imagesDigest string) error {
	// One work directory per image, under a lock: a build that died left
	// at most this directory, which the next build of the image removes.
	unlock, err := lock(ctx, filepath.Join(b.cacheDir, ".assemble-"+img.Hash+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if ok, err := b.engine.ImageExists(ctx, img.Name); err != nil {
		return err
	} else if ok {
		return nil // another process imported it while we waited
	}
	tmp := filepath.Join(b.cacheDir, "assemble-"+img.Hash)
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	if err := b.step("extract root filesystem", func() error {
		return run(ctx, "tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root, "-xpf", rootfsTar)
	}); err != nil {
		return err
	}
	if err := b.step("configure node", func() error { return b.configure(root, img, imagesTar, imagesDigest) }); err != nil {
		return err
	}
	out := filepath.Join(tmp, "node.tar")
	if err := b.step("node tarball", func() error {
		return run(ctx, "tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root, "-cf", out, ".")
	}); err != nil {
		return err
	}
	return b.step("import", func() error {
		changes := []string{`CMD ["/usr/local/sbin/openstrap-init"]`}
		if b.engine.Kind() != podman.Docker {
			// Docker's import refuses STOPSIGNAL; RunArgs sets it per container.
			changes = append(changes, "STOPSIGNAL=SIGRTMIN+3")
		}
		changes = append(changes, "ENV container=podman", "LABEL org.openstrap.node-image="+img.Hash)
		args := []string{"import"}
		for _, c := range changes {
			args = append(args, "--change", c)
		}
		_, err := b.engine.Run(ctx, append(args, "--message", "openstrap node image "+img.Hash, out, img.Name)...)
		return err
	})
}

// configure writes the node's configuration into root.
func (b *builder) configure(root string, img Image, imagesTar, imagesDigest string) error {
	err := fs.WalkDir(overlayFS, "overlay", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, "overlay"), "/")
		if rel == "" {
			return nil
		}
		dst := filepath.Join(root, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := overlayFS.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(rel, "usr/local/sbin/") || strings.HasPrefix(rel, "usr/local/bin/") {
			mode = 0o755
		}
		return writeFile(dst, data, mode)
	})
	if err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	for name, dst := range map[string]string{
		binKubelet: "usr/bin/kubelet", binKubeadm: "usr/bin/kubeadm",
		binKubectl: "usr/bin/kubectl", binCrictl: "usr/bin/crictl",
	} {
		if err := copyFile(b.bins[name], filepath.Join(root, dst), 0o755); err != nil {
			return err
		}
	}
	dst := filepath.Join(root, imagesInImage)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Link(imagesTar, dst); err != nil { // same file system: no copy
		if err := copyFile(imagesTar, dst, 0o644); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(root, imagesDigestInImage), []byte(imagesDigest+"\n"), 0o644); err != nil {
		return err
	}
	inputs, _ := json.MarshalIndent(struct {
		Image  string `json:"image"`
		Inputs Inputs `json:"inputs"`
	}{img.Name, img.Inputs}, "", "  ")
	if err := writeFile(filepath.Join(root, inputsInImage), inputs, 0o644); err != nil {
		return err
	}
	for _, d := range []string{"etc/kubernetes/manifests", "etc/cni/net.d", "var/lib/kubelet", "var/lib/cloud/seed/nocloud"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	units := filepath.Join(root, "etc/systemd/system")
	for target, us := range enabledUnits {
		for _, u := range us {
			if err := symlink("/etc/systemd/system/"+u, filepath.Join(units, target+".wants", u)); err != nil {
				return err
			}
		}
	}
	for _, w := range disabledWants {
		if err := os.Remove(filepath.Join(units, w)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	for _, u := range maskedUnits {
		if err := symlink("/dev/null", filepath.Join(units, u)); err != nil {
			return err
		}
	}
	// No fstab: podman sets up the mounts.
	return writeFile(filepath.Join(root, "etc/fstab"), nil, 0o644)
}

func writeFile(p string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// symlink (re)creates link → target.
func symlink(target, link string) error {
	if err := os.MkdirAll(path.Dir(link), 0o755); err != nil {
		return err
	}
	_ = os.Remove(link)
	return os.Symlink(target, link)
}
