// Command delete-cluster tears down a cluster made by create-cluster, in
// dependency order: its machines, then its network infrastructure, then the
// local bootstrap cluster and, on the embedded defaults, the simulated cloud
// (restarted if it was stopped, so that it finds its machines; stopped for
// good, its machine runtime removing every container, podman network and
// volume it made) and the state directory. It is idempotent and lists what it could not
// delete.
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

	"github.com/openstrap/openstrap/bootstrap"
	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/simhost"
	"github.com/openstrap/openstrap/provider"
)

type config struct {
	Name, Dir, Cloud string
	Force            bool
	Out              io.Writer
	// simCommand restarts a stopped simulator (tests); default: the binary
	// create-cluster left in the state directory.
	simCommand []string
}

func main() {
	cfg := &config{Out: os.Stdout}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	fs := flag.NewFlagSet("delete-cluster", flag.ExitOnError)
	fs.StringVar(&cfg.Name, "name", "demo", "cluster name")
	fs.StringVar(&cfg.Dir, "dir", "", "the cluster's local state directory (default <user cache>/openstrap/create-cluster/<name>)")
	fs.StringVar(&cfg.Cloud, "cloud", os.Getenv("OS_CLOUD"), "clouds.yaml entry of a real OpenStack (default $OS_CLOUD); empty: the local simulated OpenStack")
	fs.BoolVar(&cfg.Force, "force", false, "delete the network even if servers that are not the cluster's machines still use it")
	_ = fs.Parse(os.Args[1:])
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(cache, "openstrap", "create-cluster", cfg.Name)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "delete-cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config) error {
	fmt.Fprintf(cfg.Out, "openstrap delete-cluster %q (state in %s)\n", cfg.Name, cfg.Dir)
	var failed []error
	simDir := filepath.Join(cfg.Dir, "cloud")
	cloud, err := connect(ctx, cfg, simDir)
	if err != nil {
		failed = append(failed, fmt.Errorf("connect: %w", err))
	}
	if cloud != nil {
		// Machines first: they hold ports on the network and members in the
		// load balancer.
		machines := provider.NewMachines(cloud)
		list, err := machines.List(ctx, cfg.Name)
		if err != nil {
			failed = append(failed, fmt.Errorf("list machines: %w", err))
		}
		for _, m := range list {
			if err := machines.Delete(ctx, cfg.Name, m.Name); err != nil {
				failed = append(failed, fmt.Errorf("machine %s: %w", m.Name, err))
				continue
			}
			fmt.Fprintf(cfg.Out, "  deleted machine %s (%s)\n", m.Name, m.ServerID)
		}
		var opts []infra.DeleteOption
		if cfg.Force {
			opts = append(opts, infra.Force())
		}
		inf := infra.New(cloud, infra.WithProgress(func(e infra.Event) { fmt.Fprintf(cfg.Out, "  %s\n", e) }))
		if err := inf.Delete(ctx, cfg.Name, opts...); err != nil {
			failed = append(failed, fmt.Errorf("infrastructure: %w", err))
		}
	}
	if bdir := filepath.Join(cfg.Dir, "bootstrap"); exists(bdir) {
		if err := deleteLocal(ctx, cfg.Name, bdir); err != nil {
			failed = append(failed, fmt.Errorf("bootstrap cluster: %w", err))
		} else {
			fmt.Fprintf(cfg.Out, "  deleted local bootstrap cluster %s-bootstrap\n", cfg.Name)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintln(cfg.Out, "could not delete:")
		for _, e := range failed {
			fmt.Fprintf(cfg.Out, "  - %v\n", e)
		}
		return fmt.Errorf("%d thing(s) left; fix them and run delete-cluster again", len(failed))
	}
	if cfg.Cloud == "" && exists(simDir) {
		// For good: its machine runtime removes what it made (containers
		// and their volumes, podman networks, routes, iptables chains).
		if err := simhost.StopAndRemove(ctx, simDir); err != nil {
			return fmt.Errorf("stop the simulated OpenStack: %w", err)
		}
		fmt.Fprintln(cfg.Out, "  stopped the simulated OpenStack and removed what its machine runtime made")
	}
	if err := os.RemoveAll(cfg.Dir); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "removed %s\n", cfg.Dir)
	return nil
}

// connect reaches the named cloud or the local simulator, starting the
// simulator again if it stopped.
func connect(ctx context.Context, cfg *config, simDir string) (*provider.Cloud, error) {
	if cfg.Cloud != "" {
		return provider.Connect(ctx, provider.WithCloud(cfg.Cloud))
	}
	if !exists(simDir) {
		return nil, nil
	}
	cmd := cfg.simCommand
	if cmd == nil {
		cmd = []string{simhost.Binary(cfg.Dir), simhost.ServeCommand}
	}
	// Restarted with the machine runtime it recorded, it adopts the
	// machines its last run left (containers keep running while it is down).
	clouds, err := simhost.Start(ctx, simDir, cmd[0], append(cmd[1:], simhost.ServeArgs(simDir, "")...)...)
	if err != nil {
		return nil, err
	}
	return provider.Connect(ctx, provider.WithCloudsYAML(clouds), provider.WithCloud(simhost.CloudName))
}

// deleteLocal stops the local bootstrap cluster and removes its data.
func deleteLocal(ctx context.Context, name, dir string) error {
	c, err := bootstrap.Local(ctx, name+"-bootstrap", bootstrap.Dir(dir))
	if err != nil {
		// It cannot start: its data is all there is to remove.
		return errors.Join(err, os.RemoveAll(dir))
	}
	return c.Delete(ctx)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
