package kubetest

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestClusterChecks runs ReadyNodes and KubeSystemRunning against a real API
// server holding Nodes and kube-system pods whose status the test sets as
// kubelet would.
func TestClusterChecks(t *testing.T) {
	ctx := t.Context()
	cs, err := kubernetes.NewForConfig(ForTest(t, Options{}).Config)
	if err != nil {
		t.Fatal(err)
	}
	setReady := func(name string, st corev1.ConditionStatus) {
		t.Helper()
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
		if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"cp-0", "worker-0", "worker-1"} {
		if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// worker-1 has no Ready condition yet.
	setReady("cp-0", corev1.ConditionTrue)
	setReady("worker-0", corev1.ConditionFalse)
	if n, state, err := ReadyNodes(ctx, cs); err != nil || n != 1 || state != "nodes [cp-0=True worker-0=False worker-1=Unknown]; " {
		t.Errorf("ReadyNodes = %d, %q, %v", n, state, err)
	}
	setReady("worker-0", corev1.ConditionTrue)
	if n, _, err := ReadyNodes(ctx, cs); err != nil || n != 2 {
		t.Errorf("ReadyNodes = %d, %v; want 2", n, err)
	}

	if _, err := cs.CoreV1().ServiceAccounts("kube-system").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setPhase := func(name string, phase corev1.PodPhase) {
		t.Helper()
		p, err := cs.CoreV1().Pods("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			p, err = cs.CoreV1().Pods("kube-system").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause"}}}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
		}
		p.Status.Phase = phase
		if _, err := cs.CoreV1().Pods("kube-system").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"kube-apiserver-cp-0", "kube-controller-manager-cp-0", "kube-scheduler-cp-0", "etcd-cp-0", "coredns-7d9c-x2x4v", "kube-proxy-a1b2c", "kube-proxy-d3e4f"} {
		setPhase(name, corev1.PodRunning)
	}
	setPhase("kube-proxy-g5h6i", corev1.PodPending)
	ok, state, err := KubeSystemRunning(ctx, cs, 3)
	if err != nil || ok || !strings.Contains(state, "kube-proxy-g5h6i=Pending") {
		t.Errorf("with 2 of 3 kube-proxies Running: %v, %q, %v", ok, state, err)
	}
	if ok, state, err := KubeSystemRunning(ctx, cs, 2); err != nil || !ok {
		t.Errorf("with 2 of 2 kube-proxies Running: %v, %q, %v", ok, state, err)
	}
	setPhase("kube-proxy-g5h6i", corev1.PodRunning)
	setPhase("etcd-cp-0", corev1.PodFailed)
	if ok, state, err := KubeSystemRunning(ctx, cs, 3); err != nil || ok || !strings.Contains(state, "etcd-cp-0=Failed") {
		t.Errorf("with etcd Failed: %v, %q, %v", ok, state, err)
	}
	setPhase("etcd-cp-0", corev1.PodRunning)
	if ok, state, err := KubeSystemRunning(ctx, cs, 3); err != nil || !ok {
		t.Errorf("all Running: %v, %q, %v", ok, state, err)
	}

	d := PauseDeployment(3)
	if _, err := cs.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, state, err := DeploymentAvailable(ctx, cs, d); err != nil || ok || !strings.Contains(state, "available 0/3") {
		t.Errorf("new Deployment: %v, %q, %v", ok, state, err)
	}
	x, err := cs.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x.Status.Replicas, x.Status.ReadyReplicas, x.Status.AvailableReplicas = 3, 3, 2
	x.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}
	if x, err = cs.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, x, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, state, err := DeploymentAvailable(ctx, cs, d); err != nil || ok || !strings.Contains(state, "available 2/3") {
		t.Errorf("Available with 2 of 3 replicas: %v, %q, %v", ok, state, err)
	}
	x.Status.AvailableReplicas = 3
	if _, err := cs.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, x, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, state, err := DeploymentAvailable(ctx, cs, d); err != nil || !ok {
		t.Errorf("Available with 3 of 3 replicas: %v, %q, %v", ok, state, err)
	}
}
