package bootstrap_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openstrap/openstrap/bootstrap"
)

// Run Cluster API's controllers with openstrap's OpenStack provider against a
// management cluster, in this process, until ctx ends.
func ExampleStartControllers() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mgmt, err := bootstrap.Existing(ctx, bootstrap.KubeconfigFile(""))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Idempotent: installs or upgrades Cluster API's CRDs (v1beta2 only)
	// and openstrap's.
	if err := bootstrap.InstallControllerCRDs(ctx, mgmt); err != nil {
		fmt.Println(err)
		return
	}
	rc, err := bootstrap.StartControllers(ctx, mgmt,
		bootstrap.WithNamespace("default"),
		bootstrap.WithConcurrency(5),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	// ... create defaulted objects (bootstrap.DefaultClusterAPIObjects) with
	// rc.Client(); the controllers reconcile them ...
	stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if err := rc.Stop(stopCtx); err != nil {
		fmt.Println(err)
	}
}
