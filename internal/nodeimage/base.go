package nodeimage

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// baseRoots are the Debian packages of the component images' shared base
// layer (with their dependencies, from the root filesystem's dpkg database):
// glibc for the dynamically linked Kubernetes binaries, and the netfilter
// userland kube-proxy runs (iptables and nft, conntrack).
var baseRoots = []string{"libc6", "base-files", "netbase", "iptables", "nftables", "conntrack"}

// baseExtra are files made by maintainer scripts (not in any package's file
// list) that programs in the base layer read.
var baseExtra = []string{
	"etc/passwd", "etc/group", "etc/shadow", "etc/nsswitch.conf", "etc/ld.so.cache", "etc/ld.so.conf",
	"etc/ld.so.conf.d", "etc/host.conf",
}

// layerTime is the modification time of every file in the layers Build
// writes, so that equal inputs give equal digests.
var layerTime = time.Unix(0, 0).UTC()

// writeBaseLayer writes the base layer (gzip tar) filtered from root to out.
func writeBaseLayer(root, out string) error {
	pkgs, err := dpkgClosure(root, baseRoots)
	if err != nil {
		return err
	}
	paths := map[string]bool{}
	for _, p := range pkgs {
		list, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/info", p+".list"))
		if os.IsNotExist(err) {
			list, err = os.ReadFile(filepath.Join(root, "var/lib/dpkg/info", p+":amd64.list"))
		}
		if err != nil {
			return fmt.Errorf("file list of %s: %w", p, err)
		}
		for _, l := range strings.Split(string(list), "\n") {
			l = strings.TrimPrefix(strings.TrimSpace(l), "/")
			if l == "" || l == "." {
				continue
			}
			if isDocPath(l) {
				continue
			}
			paths[l] = true
		}
	}
	for _, p := range baseExtra {
		paths[p] = true
	}
	// Alternatives (iptables → iptables-nft...): the links in /usr/sbin and
	// /usr/bin pointing into /etc/alternatives whose targets are included.
	for _, dir := range []string{"usr/sbin", "usr/bin"} {
		ents, _ := os.ReadDir(filepath.Join(root, dir))
		for _, e := range ents {
			p := path.Join(dir, e.Name())
			t, err := os.Readlink(filepath.Join(root, p))
			if err != nil || !strings.HasPrefix(t, "/etc/alternatives/") {
				continue
			}
			alt := strings.TrimPrefix(t, "/")
			at, err := os.Readlink(filepath.Join(root, alt))
			if err != nil {
				continue
			}
			if paths[strings.TrimPrefix(at, "/")] || paths[strings.TrimPrefix(realPath(root, at), "/")] {
				paths[p] = true
				paths[alt] = true
			}
		}
	}
	// Resolve directory symlinks (merged /usr: lib → usr/lib) so that
	// every entry is written at its real path.
	real := map[string]bool{}
	for p := range paths {
		dir, base := path.Split(p)
		rp := path.Join(strings.TrimPrefix(realPath(root, dir), "/"), base)
		if _, err := os.Lstat(filepath.Join(root, rp)); err != nil {
			continue // listed but removed (docs, diversions)
		}
		real[rp] = true
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64", "lib32", "libx32"} {
		if fi, err := os.Lstat(filepath.Join(root, l)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			real[l] = true
		}
	}
	// Parent directories first, and the directories every image has.
	for _, d := range []string{"tmp", "root", "etc", "var", "var/run", "run", "proc", "sys", "dev", "usr/local/bin", "var/lib"} {
		real[d] = true
	}
	for p := range real {
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			real[d] = true
		}
	}
	list := make([]string, 0, len(real))
	for p := range real {
		list = append(list, p)
	}
	sort.Strings(list)
	return writeLayerFile(out, func(tw *tar.Writer) error {
		for _, p := range list {
			if err := addFromRoot(tw, root, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// isDocPath reports documentation, manual pages and translations, which no
// container needs.
func isDocPath(p string) bool {
	for _, pre := range []string{"usr/share/doc/", "usr/share/man/", "usr/share/locale/", "usr/share/info/", "usr/share/lintian/"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// realPath resolves symlinks in p (absolute or relative to root) inside
// root, never leaving it; it returns a path rooted at "/".
func realPath(root, p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	cur := "/"
	for i := 0; i < len(parts); i++ {
		if parts[i] == "" || parts[i] == "." {
			continue
		}
		if parts[i] == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, parts[i])
		t, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			cur = next
			continue
		}
		if !strings.HasPrefix(t, "/") {
			t = path.Join(cur, t)
		}
		rest := append(strings.Split(strings.Trim(t, "/"), "/"), parts[i+1:]...)
		parts = rest
		cur = "/"
		i = -1
	}
	return cur
}

// addFromRoot writes root/p into tw with fixed times and numeric owners.
func addFromRoot(tw *tar.Writer, root, p string) error {
	full := filepath.Join(root, p)
	fi, err := os.Lstat(full)
	if err != nil {
		return err
	}
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if hdr.Linkname, err = os.Readlink(full); err != nil {
			return err
		}
	}
	hdr.Name = p
	if fi.IsDir() {
		hdr.Name += "/"
	}
	normalize(hdr)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		f, err := os.Open(full)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(tw, f); err != nil {
			return err
		}
	}
	return nil
}

// normalize makes a header reproducible: fixed times, no user names.
func normalize(h *tar.Header) {
	h.ModTime = layerTime
	h.AccessTime = time.Time{}
	h.ChangeTime = time.Time{}
	h.Uname, h.Gname = "", ""
	h.Format = tar.FormatPAX
	h.PAXRecords = nil
}

// writeLayerFile writes a gzip-compressed tar produced by fill to out.
func writeLayerFile(out string, fill func(*tar.Writer) error) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	if err := fill(tw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// dpkgClosure returns roots and everything they depend on (Depends and
// Pre-Depends, first installed alternative) per the dpkg status file.
func dpkgClosure(root string, roots []string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return nil, err
	}
	type pkg struct{ deps [][]string }
	pkgs := map[string]*pkg{}
	provides := map[string]string{}
	for _, para := range strings.Split(string(data), "\n\n") {
		fields := map[string]string{}
		var last string
		for _, line := range strings.Split(para, "\n") {
			if strings.HasPrefix(line, " ") && last != "" {
				fields[last] += " " + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = k
			fields[k] = strings.TrimSpace(v)
		}
		name := fields["Package"]
		if name == "" || !strings.Contains(fields["Status"], "installed") || strings.Contains(fields["Status"], "not-installed") {
			continue
		}
		p := &pkg{}
		for _, k := range []string{"Pre-Depends", "Depends"} {
			for _, alts := range splitList(fields[k]) {
				var names []string
				for _, a := range strings.Split(alts, "|") {
					names = append(names, depName(a))
				}
				p.deps = append(p.deps, names)
			}
		}
		pkgs[name] = p
		for _, pr := range splitList(fields["Provides"]) {
			provides[depName(pr)] = name
		}
	}
	seen := map[string]bool{}
	var walk func(string) error
	walk = func(n string) error {
		if _, ok := pkgs[n]; !ok {
			if real, ok := provides[n]; ok {
				n = real
			} else {
				return fmt.Errorf("package %s is not installed in the root filesystem", n)
			}
		}
		if seen[n] {
			return nil
		}
		seen[n] = true
		for _, alts := range pkgs[n].deps {
			var chosen string
			for _, a := range alts {
				if _, ok := pkgs[a]; ok {
					chosen = a
					break
				}
				if real, ok := provides[a]; ok {
					chosen = real
					break
				}
			}
			if chosen == "" {
				return fmt.Errorf("%s depends on %s, none installed", n, strings.Join(alts, " | "))
			}
			if err := walk(chosen); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := walk(r); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// depName strips versions and architecture qualifiers: "libc6:any (>= 2.34)" → "libc6".
func depName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " ("); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, ":"); i >= 0 {
		s = s[:i]
	}
	return s
}
