package stacktest

import (
	"context"
	"fmt"
	"hash/fnv"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/openstrap/openstrap/internal/containerruntime"
	"github.com/openstrap/openstrap/internal/kubetest"
	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/internal/tools"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// TestContainerCluster is the cluster of TestClusterLifecycle with servers
// that boot as node containers: Cluster API's kubeadm bootstrap provider
// renders the user data, cloud-init runs it, kubeadm init and join run for
// real, and kubelet registers each Node. It checks the workload cluster as
// a user would with kubectl: Nodes Ready with the servers' provider IDs,
// kube-system running, a Deployment Available, cloud-init's final message
// on each console; then a worker's server deleted behind the controllers'
// back makes its Node NotReady, and the Machine's deletion removes it.
func TestContainerCluster(t *testing.T) {
	e := Start(t, Options{Machines: machines.Containers})
	if e.Runtime.Kind != machines.Containers {
		t.Fatalf("runtime %s, want containers", e.Runtime.Kind)
	}
	ctx := context.Background()
	const ns, name = "containers", "boxes"
	if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	before := e.Cloud.Snapshot()
	vars := e.Vars(name, ns, 1, 2)
	vars["OPENSTACK_NODE_CIDR"] = nodeCIDR(t.Name())
	start := time.Now()
	if err := e.Apply(ctx, ClusterTemplate(), vars); err != nil {
		t.Fatalf("apply the cluster template: %v", err)
	}
	Eventually(t, 10*time.Minute, "control plane initialized", func(ctx context.Context) (bool, string, error) {
		var c clusterv1.Cluster
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &c); err != nil {
			return false, "", err
		}
		if errs := e.Cloud.HookErrors(); len(errs) > 0 {
			t.Fatalf("a server failed to boot: %v", errs)
		}
		return ptr.Deref(c.Status.Initialization.ControlPlaneInitialized, false), conditions("Cluster", c.Status.Conditions) + e.machinesState(ctx, ns, name), nil
	})
	wl, err := e.Workload(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, 10*time.Minute, "3 Nodes Ready", func(ctx context.Context) (bool, string, error) {
		ready, state, err := kubetest.ReadyNodes(ctx, wl)
		return ready == 3, state + e.machinesState(ctx, ns, name), err
	})
	t.Logf("apply to 3 Nodes Ready: %s", time.Since(start).Round(time.Second))

	t.Run("Nodes carry kubelet's version and the servers' provider IDs", func(t *testing.T) {
		nodes, err := wl.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, s := range e.serverList(t) {
			ids[infrav1.ProviderID("", s.ID)] = true
		}
		for _, n := range nodes.Items {
			if v := n.Status.NodeInfo.KubeletVersion; v != tools.KubernetesVersion {
				t.Errorf("Node %s: kubelet %q, want %s", n.Name, v, tools.KubernetesVersion)
			}
			if !ids[n.Spec.ProviderID] {
				t.Errorf("Node %s: provider ID %q is no server's (servers: %v)", n.Name, n.Spec.ProviderID, ids)
			}
		}
	})

	t.Run("kube-system runs", func(t *testing.T) {
		Eventually(t, 5*time.Minute, "kube-system pods Running", func(ctx context.Context) (bool, string, error) {
			nodes, err := wl.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, "", err
			}
			return kubetest.KubeSystemRunning(ctx, wl, len(nodes.Items))
		})
	})

	t.Run("a Deployment becomes Available", func(t *testing.T) {
		d := kubetest.PauseDeployment(3)
		if _, err := wl.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		Eventually(t, 5*time.Minute, "Deployment Available", func(ctx context.Context) (bool, string, error) {
			return kubetest.DeploymentAvailable(ctx, wl, d)
		})
	})

	t.Run("each console holds cloud-init's final message", func(t *testing.T) {
		cc := e.compute(t)
		for _, s := range e.serverList(t) {
			out, err := servers.ShowConsoleOutput(ctx, cc, s.ID, servers.ShowConsoleOutputOpts{}).Extract()
			if err != nil {
				t.Fatalf("console of %s: %v", s.Name, err)
			}
			if !strings.Contains(out, "Cloud-init v.") || !strings.Contains(out, "finished at") {
				t.Errorf("server %s: console has no cloud-init final message; its end:\n%s", s.Name, tail(out, 15))
			}
		}
	})

	t.Run("a worker whose server is deleted goes NotReady, then away with its Machine", func(t *testing.T) {
		workers := e.workerMachines(t, ns, name)
		if len(workers) == 0 {
			t.Fatal("no worker Machines")
		}
		m := workers[0]
		node := m.Status.NodeRef.Name
		_, id, err := infrav1.ParseProviderID(m.Spec.ProviderID)
		if err != nil {
			t.Fatal(err)
		}
		cc := e.compute(t)
		if err := servers.Delete(ctx, cc, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		Eventually(t, 4*time.Minute, "Node "+node+" NotReady", func(ctx context.Context) (bool, string, error) {
			n, err := wl.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			st := kubetest.NodeReady(n)
			return st != corev1.ConditionTrue, "Ready=" + string(st), nil
		})
		if err := e.Client.Delete(ctx, &m); err != nil {
			t.Fatal(err)
		}
		Eventually(t, 5*time.Minute, "Node "+node+" gone", func(ctx context.Context) (bool, string, error) {
			_, err := wl.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			return err != nil && client.IgnoreNotFound(err) == nil, e.machinesState(ctx, ns, name), nil
		})
	})

	t.Run("deleting the Cluster removes every cloud resource and container", func(t *testing.T) {
		e.deleteCluster(t, ns, name, before)
		if err := e.Runtime.Close(ctx); err != nil {
			t.Errorf("close the runtime: %v", err)
		}
		eng, err := podman.Setup(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mine := map[string]string{containerruntime.LabelInstance: e.Runtime.Instance}
		if cs, err := eng.ListContainers(ctx, mine); err != nil || len(cs) != 0 {
			t.Errorf("containers left: %v (%v)", cs, err)
		}
		if ns, err := eng.ListNetworks(ctx, mine); err != nil || len(ns) != 0 {
			t.Errorf("networks left: %v (%v)", ns, err)
		}
		if out, err := exec.Command("ip", "route", "show", vars["OPENSTACK_NODE_CIDR"]).Output(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
			t.Errorf("routes left for %s: %q (%v)", vars["OPENSTACK_NODE_CIDR"], out, err)
		}
	})
}

// nodeCIDR gives a test a tenant /24 of its own, so that parallel tests'
// container networks never overlap.
func nodeCIDR(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	h.Write([]byte(time.Now().String()))
	n := h.Sum32()
	return fmt.Sprintf("10.%d.%d.0/24", 160+n%60, (n/60)%250)
}

func (e *Env) compute(t testing.TB) *gophercloud.ServiceClient {
	t.Helper()
	c, err := e.Cloud.Cloud(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.Compute
}

// serverList lists the project's servers through Nova.
func (e *Env) serverList(t testing.TB) []servers.Server {
	t.Helper()
	pages, err := servers.List(e.compute(t), nil).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := servers.ExtractServers(pages)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
