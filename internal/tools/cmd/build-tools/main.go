// Command build-tools builds the pinned Kubernetes binaries into the tools
// cache (see package internal/tools) and prints their paths and build times, so
// CI can pay for the builds up front rather than inside the first test.
//
// Usage:
//
//	go run ./internal/tools/cmd/build-tools [-crds] [-node] [-node-image] [name...]
//
// With no names it builds etcd, kube-apiserver, kube-controller-manager,
// kubeadm, kubectl and clusterctl; -node adds the binaries of a Kubernetes
// node image and its preloaded images (kubelet, kube-scheduler, kube-proxy,
// crictl, coredns, pause). Each line is `name path duration`, the time that
// binary took (near zero when cached). The last line is
// `KUBEBUILDER_ASSETS=<dir>`, the directory holding the binaries; with
// -node-image the node image container machines boot (internal/nodeimage)
// is built into podman's storage last, as `node-image <name> duration`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/openstrap/openstrap/internal/nodeimage"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/internal/tools"
)

func main() {
	crds := flag.Bool("crds", false, "also download the Cluster API module and print its CRD directories")
	node := flag.Bool("node", false, "also build the node image binaries: "+strings.Join(tools.NodeTools, ", "))
	image := flag.Bool("node-image", false, "also build the node image (needs root and podman; implies -node)")
	flag.Parse()
	*node = *node || *image
	names := flag.Args()
	if len(names) == 0 {
		names = defaultTools()
	}
	if *node {
		for _, n := range tools.NodeTools {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *crds, names); err != nil {
		fmt.Fprintln(os.Stderr, "build-tools:", err)
		os.Exit(1)
	}
	if *image {
		if err := buildImage(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "build-tools: node image:", err)
			os.Exit(1)
		}
	}
}

// buildImage builds the node image, logging its steps to stderr.
func buildImage(ctx context.Context) error {
	start := time.Now()
	eng, err := podman.Setup(ctx)
	if err != nil {
		return err
	}
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{})
	img, err := nodeimage.Build(ctx, nodeimage.WithEngine(eng), nodeimage.WithLogger(log))
	if err != nil {
		return err
	}
	fmt.Printf("node-image\t%s\t%s\n", img.Name, time.Since(start).Round(time.Millisecond))
	return nil
}

// defaultTools are built when no names are given.
func defaultTools() []string {
	return []string{tools.Etcd, tools.KubeAPIServer, tools.KubeControllerManager, tools.Kubeadm, tools.Kubectl, tools.Clusterctl}
}

func run(ctx context.Context, crds bool, names []string) error {
	for _, name := range names {
		start := time.Now()
		p, err := tools.Path(ctx, name)
		if err != nil {
			return err
		}
		fmt.Printf("%s\t%s\t%s\n", name, p, time.Since(start).Round(time.Millisecond))
	}
	if crds {
		start := time.Now()
		dirs, err := tools.ClusterAPICRDPaths(ctx)
		if err != nil {
			return err
		}
		for _, d := range dirs {
			fmt.Printf("crds\t%s\t%s\n", d, time.Since(start).Round(time.Millisecond))
		}
	}
	dir, err := tools.Dir()
	if err != nil {
		return err
	}
	fmt.Printf("KUBEBUILDER_ASSETS=%s\n", dir)
	return nil
}
