// Command create-cluster bootstraps a Kubernetes cluster on OpenStack in the
// seven steps of the Cluster API way, with openstrap's primitives:
//
//  1. infrastructure (network, router, security groups, API load balancer);
//  2. a bootstrap (management) cluster;
//  3. Cluster API CRDs and the cluster's own objects in it;
//  4. the first control-plane machine with kubeadm init user data;
//  5. add-ons applied to the new cluster;
//  6. the pivot of the management objects to the new cluster;
//  7. the worker machines, which join with a bootstrap token.
//
// With no --cloud (and no OS_CLOUD) it runs on a simulated OpenStack in a
// background process, so the whole flow runs on one machine without a cloud
// account. Its servers boot as podman containers from a node image built
// here (systemd, cloud-init, containerd, kubeadm and kubelet run for real)
// when podman works on the machine; otherwise (or with --machines processes)
// openstrap's process runtime acts out the boot with real kube-apiservers
// and no kubelet, and create-cluster says why it fell back. What it starts
// outlives it; run it again to resume, and delete-cluster to tear down.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/internal/managerhost"
	"github.com/openstrap/openstrap/internal/simhost"
)

// serveSimCommand is the hidden first argument that makes this binary the
// background simulator.
const serveSimCommand = simhost.ServeCommand

func main() {
	if len(os.Args) > 2 && os.Args[1] == serveSimCommand {
		os.Exit(serveSim(os.Args[2:]))
	}
	if len(os.Args) > 2 && os.Args[1] == managerhost.ServeCommand {
		os.Exit(serveControllers(os.Args[2:]))
	}
	cfg, err := parseFlags(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "create-cluster:", err)
		os.Exit(2)
	}
	ctrllog.SetLogger(cfg.Log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "create-cluster:", err)
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "interrupted: run the same command again to resume, or `go run ./examples/delete-cluster --name %s --dir %s` to clean up\n", cfg.Name, cfg.Dir)
			os.Exit(130)
		}
		var bad *inputError
		if errors.As(err, &bad) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// serveSim runs the simulated cloud (simhost.ServeArgs) until SIGTERM or
// SIGINT.
func serveSim(args []string) int {
	dir, kind, err := simhost.ParseServeArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := funcr.New(func(prefix, args string) {
		fmt.Fprintln(os.Stderr, time.Now().UTC().Format(time.RFC3339), prefix, args)
	}, funcr.Options{Verbosity: 1})
	if err := simhost.Serve(ctx, dir, kind, log); err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		return 1
	}
	return 0
}

// serveControllers runs the background controllers host
// (managerhost.ServeArgs) until SIGTERM or SIGINT.
func serveControllers(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := managerhost.Serve(ctx, args); err != nil {
		fmt.Fprintln(os.Stderr, "controllers host:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, out io.Writer) (*config, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cfg := &config{Out: out, Log: logr.Discard()}
	fs := flag.NewFlagSet("create-cluster", flag.ContinueOnError)
	fs.StringVar(&cfg.Name, "name", "demo", "cluster name; prefixes every resource")
	fs.StringVar(&cfg.Dir, "dir", "", "directory for the cluster's local state (default <user cache>/openstrap/create-cluster/<name>)")
	fs.StringVar(&cfg.Cloud, "cloud", os.Getenv("OS_CLOUD"), "clouds.yaml entry of a real OpenStack (default $OS_CLOUD); empty: a local simulated OpenStack")
	fs.StringVar(&cfg.Image, "image", "", "image name or ID for the machines (default on the simulator: its Ubuntu image)")
	fs.StringVar(&cfg.Flavor, "flavor", "", "flavor name or ID for the machines (default on the simulator: m1.medium)")
	fs.StringVar(&cfg.ExternalNetwork, "external-network", "", "external network for the router and floating IPs (default on the simulator: public)")
	fs.StringVar(&cfg.SSHKey, "ssh-key", "", "Nova key pair name for the machines")
	fs.StringVar(&cfg.KubernetesVersion, "kubernetes-version", "v1.37.2", "Kubernetes version")
	fs.StringVar(&cfg.NodeCIDR, "node-cidr", "10.6.0.0/24", "CIDR of the cluster's subnet")
	fs.IntVar(&cfg.ControlPlanes, "control-plane-count", 1, "control-plane machines")
	fs.IntVar(&cfg.Workers, "worker-count", 2, "worker machines")
	fs.StringVar(&cfg.Bootstrap, "bootstrap", "local", "bootstrap cluster: local (kube-apiserver and etcd processes, no Docker), kind, or kubeconfig=PATH")
	kind := fs.String("machines", string(machines.Auto), "how the simulated cloud boots servers: containers (podman node containers running systemd, cloud-init, kubeadm and kubelet), processes (openstrap acts out the boot: API servers only, no kubelet), or auto (containers when podman works here, else processes); kept for the cluster's life")
	fs.StringVar(&cfg.Addons, "addons", "", "add-on manifests (a YAML file or a directory of them) to apply to the new cluster in step 5")
	fs.BoolVar(&cfg.DryRun, "dry-run", false, "print what every step would do, change nothing")
	fs.DurationVar(&cfg.JoinTimeout, "join-timeout", 5*time.Minute, "how long to wait for the control plane and for workers to join")
	verbose := fs.Bool("v", false, "log what the library decides")
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	k, err := machines.ParseKind(*kind)
	if err != nil || k == machines.None {
		k = machines.Kind(*kind) // preflight reports it with the other problems
	}
	cfg.Machines = k
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(cache, "openstrap", "create-cluster", cfg.Name)
	}
	if *verbose {
		cfg.Log = funcr.New(func(prefix, args string) { fmt.Fprintln(out, "      log:", prefix, args) }, funcr.Options{Verbosity: 1})
	}
	return cfg, nil
}
