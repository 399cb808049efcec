// Command manager runs openstrap's whole Cluster API stack in one process
// against a cluster: Cluster API core, the kubeadm bootstrap and control-plane
// providers and openstrap's OpenStack infrastructure provider. It first
// installs or upgrades every CRD the stack needs (idempotent; Cluster API's
// served as v1beta2 only), then runs the controllers until SIGTERM or SIGINT.
//
//	go run ./examples/manager --kubeconfig PATH [--namespace NS] [--concurrency N]
//
// Everything it does is bootstrap.InstallControllerCRDs and
// bootstrap.StartControllers; this file only reads flags and sets up logging.
// No webhook runs: create Cluster API objects defaulted (see
// bootstrap.DefaultClusterAPIObjects).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/openstrap/openstrap/bootstrap"
)

type config struct {
	Kubeconfig, Context     string
	Namespace, WatchFilter  string
	Concurrency             int
	MetricsAddr, HealthAddr string
	LeaderElect             bool
	LeaderElectNamespace    string
	SkipCRDs                bool
	Verbosity               int
	Stderr                  io.Writer
}

func main() {
	cfg := &config{Stderr: os.Stderr}
	fs := flag.NewFlagSet("manager", flag.ExitOnError)
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the management cluster (default $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&cfg.Context, "context", "", "kubeconfig context (default the current one)")
	fs.StringVar(&cfg.Namespace, "namespace", "", "reconcile only this namespace (default all)")
	fs.StringVar(&cfg.WatchFilter, "watch-filter", "", "reconcile only objects labelled cluster.x-k8s.io/watch-filter=VALUE")
	fs.IntVar(&cfg.Concurrency, "concurrency", 10, "workers per controller")
	fs.StringVar(&cfg.MetricsAddr, "metrics-bind-address", "0", "serve Prometheus metrics on host:port (0: off)")
	fs.StringVar(&cfg.HealthAddr, "health-probe-bind-address", "0", "serve /healthz and /readyz on host:port (0: off)")
	fs.BoolVar(&cfg.LeaderElect, "leader-elect", false, "run the controllers only while holding a Lease (for several replicas)")
	fs.StringVar(&cfg.LeaderElectNamespace, "leader-elect-namespace", "kube-system", "namespace of the leader election Lease")
	fs.BoolVar(&cfg.SkipCRDs, "skip-crds", false, "do not install or upgrade the CRDs (they must be there)")
	fs.IntVar(&cfg.Verbosity, "v", 0, "log verbosity (0: phases, 1: decisions, 2+: details)")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config) error {
	log := zap.New(zap.WriteTo(cfg.Stderr), zap.Level(zapcore.Level(-cfg.Verbosity)))
	// Cluster API's packages also log through klog and controller-runtime's
	// global logger: send both to the same place.
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	ctx = logr.NewContext(ctx, log)

	var kopts []bootstrap.Option
	if cfg.Context != "" {
		kopts = append(kopts, bootstrap.KubeContext(cfg.Context))
	}
	c, err := bootstrap.Existing(ctx, bootstrap.KubeconfigFile(cfg.Kubeconfig), kopts...)
	if err != nil {
		return err
	}
	if !cfg.SkipCRDs {
		start := time.Now()
		if err := bootstrap.InstallControllerCRDs(ctx, c); err != nil {
			return err
		}
		log.Info("CRDs installed", "took", time.Since(start).Round(time.Millisecond))
	}
	opts := []bootstrap.ControllersOption{
		bootstrap.WithConcurrency(cfg.Concurrency),
		bootstrap.WithMetricsAddress(cfg.MetricsAddr),
		bootstrap.WithHealthProbeAddress(cfg.HealthAddr),
	}
	if cfg.Namespace != "" {
		opts = append(opts, bootstrap.WithNamespace(cfg.Namespace))
	}
	if cfg.WatchFilter != "" {
		opts = append(opts, bootstrap.WithWatchFilter(cfg.WatchFilter))
	}
	if cfg.LeaderElect {
		opts = append(opts, bootstrap.WithLeaderElection("openstrap-controllers", cfg.LeaderElectNamespace))
	}
	rc, err := bootstrap.StartControllers(ctx, c, opts...)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case <-rc.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rc.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}
