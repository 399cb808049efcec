package bootstrap_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openstrap/openstrap/bootstrap"
)

// A management cluster without Docker: start it, install a CRD and an object
// of it (with a variable) in one go, and delete it.
func Example() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "openstrap-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)

	mgmt, err := bootstrap.Local(ctx, "example", bootstrap.Dir(filepath.Join(tmp, "example")), bootstrap.Address("127.0.0.31"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mgmt.Delete(ctx)
	fmt.Println("cluster", mgmt.Name(), "is up")

	manifest := []byte(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: notes.example.openstrap.dev}
spec:
  group: example.openstrap.dev
  scope: Namespaced
  names: {plural: notes, singular: note, kind: Note}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: example.openstrap.dev/v1
kind: Note
metadata: {name: hello, namespace: ${NAMESPACE:=default}}
text: ${GREETING}
`)
	err = bootstrap.Install(ctx, mgmt, [][]byte{manifest},
		bootstrap.Variables(map[string]string{"GREETING": "hi"}),
		bootstrap.WithProgress(func(e bootstrap.Event) {
			if e.Phase == bootstrap.PhaseApply && e.Done && e.Err == nil {
				fmt.Println("applied", e.Object)
			}
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Output:
	// cluster example is up
	// applied CustomResourceDefinition notes.example.openstrap.dev
	// applied Note default/hello
}
