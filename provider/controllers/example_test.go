package controllers_test

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/controllers"
)

// Embedding openstrap's reconcilers in a platform team's own manager,
// limited to one namespace. Cluster API's own reconcilers (or a platform's)
// can be added to the same manager.
func ExampleSetup() {
	run := func(ctx context.Context) error {
		scheme := runtime.NewScheme()
		for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, clusterv1.AddToScheme, infrav1.AddToScheme} {
			if err := add(scheme); err != nil {
				return err
			}
		}
		mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
			Scheme: scheme,
			Cache:  cache.Options{DefaultNamespaces: map[string]cache.Config{"clusters": {}}},
		})
		if err != nil {
			return err
		}
		err = controllers.Setup(ctx, mgr, controllers.Options{
			MachineConcurrency: 20,
			Timing:             controllers.Timing{PollInterval: 10 * time.Second},
		})
		if err != nil {
			return err
		}
		return mgr.Start(ctx) // until ctx is cancelled
	}
	// A real program: run(ctrl.SetupSignalHandler()). The example is
	// compiled, not run: it needs a cluster.
	_ = run
}
