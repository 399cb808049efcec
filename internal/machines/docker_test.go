package machines_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/openstrap/openstrap/internal/dockertest"
	"github.com/openstrap/openstrap/internal/kubetest"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/internal/tools"
	"github.com/openstrap/openstrap/provider"
)

// TestDockerEngineCluster boots a control plane and a worker from
// openstrap's user data as containers of a real Docker daemon (Debian's
// docker.io, started by the test), where Docker rather than podman is the
// engine: both Nodes Ready with kubelet and the servers' provider IDs,
// kube-system running, cloud-init's final message on each console, and
// nothing of the runtime left in Docker or on the host afterwards.
func TestDockerEngineCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	eng := dockertest.Start(t, ctx)
	if eng.Kind() != podman.Docker {
		t.Fatalf("engine %s, want docker", eng.Kind())
	}
	c := startCloudOn(t, ctx, "dkr", eng)
	cl := c.newCluster()
	cp, worker := c.name+"-control-plane-0", c.name+"-worker-0"
	t0 := time.Now()
	cl.create(c.spec(cp, provider.ControlPlane, cl.initData()))
	ready := cl.waitReady(15*time.Minute, cp)
	t.Logf("FIGURE docker: control plane server create to Node Ready %v", ready[cp].Sub(t0).Round(time.Second))
	t1 := time.Now()
	cl.create(c.spec(worker, provider.Worker, cl.workerData(nil)))
	ready = cl.waitReady(15*time.Minute, worker)
	t.Logf("FIGURE docker: worker server create to Node Ready %v", ready[worker].Sub(t1).Round(time.Second))

	for _, n := range []string{cp, worker} {
		if _, err := c.containerOf(cl.servers[n]); err != nil {
			t.Errorf("the Docker container of %s: %v", n, err)
		}
		node, err := cl.cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v := node.Status.NodeInfo.KubeletVersion; v != tools.KubernetesVersion {
			t.Errorf("Node %s: kubelet %q, want %s", n, v, tools.KubernetesVersion)
		}
		if want := "openstack:///" + cl.servers[n]; node.Spec.ProviderID != want {
			t.Errorf("Node %s: provider ID %q, want %q", n, node.Spec.ProviderID, want)
		}
		if kubetest.NodeReady(node) != corev1.ConditionTrue {
			t.Errorf("Node %s not Ready", n)
		}
		cl.assertBootConsole(t, n)
	}
	eventually(t, ctx, 5*time.Minute, "kube-system pods Running", func(ctx context.Context) (bool, string, error) {
		return kubetest.KubeSystemRunning(ctx, cl.cs, 2)
	})
}
