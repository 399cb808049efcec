// Package cleanup removes what a killed run of the machines e2e test left
// (its t.Cleanup never ran): it resumes the container runtime on the run's
// directory and closes it, which removes its containers, networks,
// volumes, routes, VIPs and iptables chains by ID. By hand:
//
//	DIR=/tmp/TestOpenstrapUserDataCluster123/001 go test -count=1 -v ./internal/machines/testdata/cleanup/
package cleanup

import (
	"context"
	"os"
	"testing"

	"github.com/go-logr/logr/testr"

	"github.com/openstrap/openstrap/internal/machines"
)

func TestCleanup(t *testing.T) {
	dir := os.Getenv("DIR")
	if dir == "" {
		t.Fatal("set DIR to the killed run's runtime directory (the t.TempDir holding containers/)")
	}
	ctx := context.Background()
	rt, err := machines.Start(ctx, machines.Containers, dir, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Resume(ctx); err != nil {
		t.Log(err)
	}
	if err := rt.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
