// Command openstack-sim runs the openstacktest OpenStack API simulator
// standalone, so that gophercloud programs, the openstack CLI or a test
// harness in another process can be pointed at it.
//
//	openstack-sim                                  # listen on 127.0.0.1:8900, clouds.yaml to stdout
//	openstack-sim --clouds-yaml ./clouds.yaml --state-dir ./sim-state
//	OS_CLIENT_CONFIG_FILE=./clouds.yaml OS_CLOUD=openstacktest openstack server list
//
// With --machines containers, servers boot as podman containers from the
// node image (systemd, cloud-init, kubeadm and kubelet run for real; the
// image is built on first use); with --machines processes, openstrap's
// process runtime acts out the boot (the fallback where no container engine
// works); the default, none, boots nothing.
//
// It runs until SIGINT or SIGTERM, then stops and, with --state-dir, saves
// the simulated cloud so that the next start continues where it stopped.
// The clouds.yaml holds the simulator's own test passwords. Exit codes: 0
// after a clean stop, 1 when the server cannot start or the clouds.yaml
// cannot be written, 2 for invalid flags.
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
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/openstrap/openstrap/internal/atomicfile"
	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// defaultListen is a fixed address so that a clouds.yaml written once
// keeps working across restarts.
const defaultListen = "127.0.0.1:8900"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	listen, cloudsYAML, stateDir, fipPool string
	seed                                  string
	bootDelay, lbDelay, volumeDelay       time.Duration
	latency                               time.Duration
	verbose                               bool
	machines                              machines.Kind
	machinesDir                           string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("openstack-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", defaultListen, "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&c.cloudsYAML, "clouds-yaml", "-", `file to write the clouds.yaml to ("-" for stdout)`)
	fs.StringVar(&c.stateDir, "state-dir", "", "directory that keeps the simulated cloud across restarts (none: in memory)")
	fs.StringVar(&c.seed, "seed", "", "seed for deterministic IDs (empty: random)")
	fs.DurationVar(&c.bootDelay, "boot-delay", 100*time.Millisecond, "how long a server stays in BUILD")
	fs.DurationVar(&c.lbDelay, "lb-delay", 100*time.Millisecond, "how long an Octavia object stays PENDING_*")
	fs.DurationVar(&c.volumeDelay, "volume-delay", 50*time.Millisecond, "how long a volume stays creating")
	fs.DurationVar(&c.latency, "latency", 0, "delay added to every request")
	fs.StringVar(&c.fipPool, "fip-pool", "", "CIDR floating IPs come from (default 127.42.0.0/24)")
	fs.BoolVar(&c.verbose, "v", false, "log every request to stderr")
	kind := fs.String("machines", string(machines.None), "how servers boot: none, processes or containers")
	fs.StringVar(&c.machinesDir, "machines-dir", "", "directory of the machine runtime's files (default: <state-dir>/machines, or a temporary directory)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	k, err := machines.ParseKind(*kind)
	if err != nil || k == machines.Auto {
		return nil, fmt.Errorf("--machines %q: use none, processes or containers", *kind)
	}
	c.machines = k
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, nil
}

func (c *config) options(stderr io.Writer) ([]openstacktest.Option, error) {
	opts := []openstacktest.Option{
		openstacktest.WithAddr(c.listen),
		openstacktest.WithBootDelay(c.bootDelay),
		openstacktest.WithLoadBalancerDelay(c.lbDelay),
		openstacktest.WithVolumeDelay(c.volumeDelay),
		openstacktest.WithLatency(c.latency),
	}
	if c.stateDir != "" {
		opts = append(opts, openstacktest.WithStateDir(c.stateDir))
	}
	if c.seed != "" {
		n, err := strconv.ParseUint(c.seed, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seed %q: not an unsigned integer", c.seed)
		}
		opts = append(opts, openstacktest.WithSeed(n))
	}
	if c.fipPool != "" {
		opts = append(opts, openstacktest.WithFloatingIPPool(c.fipPool))
	}
	verbosity := 0
	if c.verbose {
		verbosity = 1
	}
	opts = append(opts, openstacktest.WithLogger(funcr.New(func(prefix, args string) {
		fmt.Fprintln(stderr, prefix, args)
	}, funcr.Options{Verbosity: verbosity})))
	return opts, nil
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "openstack-sim:", err)
		return exitUsage
	}
	opts, err := cfg.options(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "openstack-sim:", err)
		return exitUsage
	}
	rt, cleanup, err := startMachines(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "openstack-sim:", err)
		return exitFailure
	}
	defer cleanup()
	s, err := openstacktest.NewServer(append(opts, rt.Option())...)
	if err != nil {
		fmt.Fprintln(stderr, "openstack-sim:", err)
		return exitFailure
	}
	code := serve(ctx, s, cfg, stdout, stderr)
	s.Close()
	if err := rt.Close(context.WithoutCancel(ctx)); err != nil {
		fmt.Fprintln(stderr, "openstack-sim: stop machines:", err)
	}
	if cfg.stateDir != "" {
		fmt.Fprintf(stderr, "openstack-sim: state saved in %s\n", cfg.stateDir)
	}
	fmt.Fprintln(stderr, "openstack-sim: stopped")
	return code
}

// startMachines starts the machine runtime cfg names; cleanup removes a
// temporary directory it made.
func startMachines(ctx context.Context, cfg *config, stderr io.Writer) (*machines.Runtime, func(), error) {
	cleanup := func() {}
	dir := cfg.machinesDir
	switch {
	case cfg.machines == machines.None:
	case dir == "" && cfg.stateDir != "":
		dir = filepath.Join(cfg.stateDir, "machines")
	case dir == "":
		tmp, err := os.MkdirTemp("", "openstack-sim-machines-")
		if err != nil {
			return nil, cleanup, err
		}
		dir, cleanup = tmp, func() { os.RemoveAll(tmp) }
	}
	if cfg.machines == machines.Containers {
		fmt.Fprintln(stderr, "openstack-sim: preparing container machines (the first run builds the node image: minutes)")
	}
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(stderr, prefix, args) }, funcr.Options{})
	rt, err := machines.Start(ctx, cfg.machines, dir, log)
	if err != nil {
		cleanup()
		return nil, func() {}, fmt.Errorf("--machines %s: %w", cfg.machines, err)
	}
	if err := rt.Resume(ctx); err != nil {
		fmt.Fprintln(stderr, "openstack-sim: resume machines:", err)
	}
	if cfg.machines != machines.None {
		fmt.Fprintf(stderr, "openstack-sim: servers boot as %s\n", rt.Kind)
	}
	return rt, cleanup, nil
}

// serve announces the server and waits for ctx to end.
func serve(ctx context.Context, s *openstacktest.Server, cfg *config, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "openstack-sim: serving %s (Keystone at %s/identity/v3)\n", s.URL, s.URL)
	if cfg.cloudsYAML == "-" {
		if _, err := stdout.Write(s.CloudsYAML()); err != nil {
			fmt.Fprintln(stderr, "openstack-sim: write clouds.yaml:", err)
			return exitFailure
		}
	} else {
		if err := writeCloudsYAML(cfg.cloudsYAML, s.CloudsYAML()); err != nil {
			fmt.Fprintln(stderr, "openstack-sim:", err)
			return exitFailure
		}
		abs, _ := filepath.Abs(cfg.cloudsYAML)
		fmt.Fprintf(stderr, "openstack-sim: clouds.yaml written to %s (clouds %s and %s)\n", abs,
			openstacktest.CloudName, openstacktest.AdminCloudName)
		fmt.Fprintf(stderr, "openstack-sim: export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=%s\n", abs, openstacktest.CloudName)
	}
	if cfg.stateDir != "" {
		fmt.Fprintf(stderr, "openstack-sim: state kept in %s\n", cfg.stateDir)
	}
	fmt.Fprintln(stderr, "openstack-sim: running until interrupted")

	<-ctx.Done()
	return exitOK
}

// writeCloudsYAML writes the file atomically, readable by the owner only
// since it holds passwords.
func writeCloudsYAML(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write clouds.yaml %s: %w", path, err)
	}
	return nil
}
