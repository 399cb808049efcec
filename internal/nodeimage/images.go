package nodeimage

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/openstrap/openstrap/internal/atomicfile"
)

// Artefact file names of the component images cache entry.
const (
	imagesFile       = "images.tar"    // docker archive, every image, layers shared
	imagesDigestFile = "images.digest" // hash of the images' IDs (config digests)
)

// ComponentImage is one image kubeadm v1.37.2 expects, built from a binary.
type ComponentImage struct {
	// Ref is the image reference containerd knows it by.
	Ref string
	// Binary is the internal/tools name of the binary in it.
	Binary string
	// Path is where the binary is in the image; Entrypoint runs it.
	Path string
}

// ComponentImages are the images in the node image's archive: the base layer
// plus one layer holding the binary, entrypoints as the upstream images have.
var ComponentImages = []ComponentImage{
	{Ref: "registry.k8s.io/kube-apiserver:" + KubernetesVersion, Binary: binAPIServer, Path: "/usr/local/bin/kube-apiserver"},
	{Ref: "registry.k8s.io/kube-controller-manager:" + KubernetesVersion, Binary: binKCM, Path: "/usr/local/bin/kube-controller-manager"},
	{Ref: "registry.k8s.io/kube-scheduler:" + KubernetesVersion, Binary: binScheduler, Path: "/usr/local/bin/kube-scheduler"},
	{Ref: "registry.k8s.io/kube-proxy:" + KubernetesVersion, Binary: binProxy, Path: "/usr/local/bin/kube-proxy"},
	{Ref: "registry.k8s.io/etcd:" + EtcdImageTag, Binary: binEtcd, Path: "/usr/local/bin/etcd"},
	{Ref: "registry.k8s.io/coredns/coredns:" + CoreDNSVersion, Binary: binCoreDNS, Path: "/coredns"},
	{Ref: "registry.k8s.io/pause:" + PauseVersion, Binary: binPause, Path: "/pause"},
}

// imagesKey covers what the component images depend on.
func (in Inputs) imagesKey() string {
	data, _ := json.Marshal(struct {
		Rootfs   string
		Versions map[string]string
		Binaries map[string]string
		Images   []ComponentImage
	}{in.rootfsKey(), in.Versions, in.Binaries, ComponentImages})
	return "images-" + sha256Hex(data)[:16]
}

// componentImages returns the cached images archive and its digest, writing
// them when the cache lacks them.
func (b *builder) componentImages(ctx context.Context, in Inputs, baseTar string) (string, string, error) {
	dir := filepath.Join(b.cacheDir, in.imagesKey())
	archive := filepath.Join(dir, imagesFile)
	digestPath := filepath.Join(dir, imagesDigestFile)
	if d, err := os.ReadFile(digestPath); err == nil && exists(archive) {
		b.log.Info("component images cached", "dir", dir)
		return archive, strings.TrimSpace(string(d)), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	unlock, err := lock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", "", err
	}
	defer unlock()
	if d, err := os.ReadFile(digestPath); err == nil && exists(archive) {
		return archive, strings.TrimSpace(string(d)), nil
	}
	removeStale(dir)
	tmp, err := os.MkdirTemp(dir, "tmp-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)

	base, err := tarball.LayerFromFile(baseTar)
	if err != nil {
		return "", "", fmt.Errorf("base layer: %w", err)
	}
	refs := map[name.Tag]v1.Image{}
	var ids []string
	for _, ci := range ComponentImages {
		img, err := b.componentImage(ci, base, tmp)
		if err != nil {
			return "", "", fmt.Errorf("image %s: %w", ci.Ref, err)
		}
		tag, err := name.NewTag(ci.Ref, name.StrictValidation)
		if err != nil {
			return "", "", err
		}
		refs[tag] = img
		id, err := img.ConfigName()
		if err != nil {
			return "", "", err
		}
		ids = append(ids, ci.Ref+"@"+id.String())
		b.log.Info("component image", "ref", ci.Ref, "id", id.String())
	}
	sort.Strings(ids)
	digest := sha256Hex([]byte(strings.Join(ids, "\n")))[:16]
	if err := b.step("write images archive", func() error {
		return tarball.MultiWriteToFile(archive+".tmp", refs)
	}); err != nil {
		return "", "", err
	}
	if err := os.Rename(archive+".tmp", archive); err != nil {
		return "", "", err
	}
	if err := atomicfile.WriteFile(digestPath, []byte(digest+"\n"), 0o644); err != nil {
		return "", "", err
	}
	return archive, digest, nil
}

// componentImage builds one image: base layer, binary layer, config.
func (b *builder) componentImage(ci ComponentImage, base v1.Layer, tmp string) (v1.Image, error) {
	bin := b.bins[ci.Binary]
	layerPath := filepath.Join(tmp, ci.Binary+".tar.gz")
	err := writeLayerFile(layerPath, func(tw *tar.Writer) error {
		return addFile(tw, bin, strings.TrimPrefix(ci.Path, "/"), 0o755)
	})
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(layerPath)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = "amd64"
	cf.Created = v1.Time{Time: layerTime}
	cf.Config.Entrypoint = []string{ci.Path}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.WorkingDir = "/"
	cf.History = nil
	return mutate.ConfigFile(img, cf)
}

// addFile writes the file src into tw at name (parents included) with a
// fixed time, owned by root.
func addFile(tw *tar.Writer, src, name string, mode int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	var dirs []string
	for d := filepath.Dir(name); d != "." && d != "/"; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}
		normalize(h)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: st.Size()}
	normalize(h)
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
