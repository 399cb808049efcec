package pivot_test

import (
	"context"
	"fmt"

	"k8s.io/client-go/rest"

	"github.com/openstrap/openstrap/pivot"
)

// Move the clusters of one namespace from the bootstrap cluster to the target
// cluster, printing progress per phase. Running the same call again after a
// failure resumes the move.
func ExampleMove() {
	var bootstrap, target *rest.Config // from bootstrap.Cluster and the target's kubeconfig
	rep, err := pivot.Move(context.Background(), bootstrap, target, pivot.Options{
		Namespace: "default",
		Progress: func(e pivot.Event) {
			if e.Kind == "" { // phase events only
				fmt.Println(e)
			}
		},
	})
	if err != nil {
		// Either run Move again, or undo it:
		_, err = pivot.Rollback(context.Background(), bootstrap, target, pivot.Options{Namespace: "default"})
	}
	fmt.Println(rep, err)
}
