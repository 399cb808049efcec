package kubetest

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/openstrap/openstrap/internal/tools"
)

// Checks of a booted workload cluster, shared by the tests that boot one
// (internal/machines, internal/stacktest). Each returns, besides its verdict,
// a line of state to print while a test waits.

// NodeReady is the status of a Node's Ready condition, Unknown without one.
func NodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// ReadyNodes counts the cluster's Nodes whose Ready condition is True; the
// state lists each Node's Ready status.
func ReadyNodes(ctx context.Context, cs kubernetes.Interface) (int, string, error) {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, "", err
	}
	ready := 0
	var s []string
	for i := range nodes.Items {
		st := NodeReady(&nodes.Items[i])
		if st == corev1.ConditionTrue {
			ready++
		}
		s = append(s, nodes.Items[i].Name+"="+string(st))
	}
	return ready, fmt.Sprintf("nodes %v; ", s), nil
}

// kubeSystemPods are the kube-system pods a kubeadm cluster runs, by name
// prefix.
var kubeSystemPods = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd", "coredns"}

// KubeSystemRunning reports whether kube-system has a kubeadm control
// plane's static pods (kube-apiserver, kube-controller-manager,
// kube-scheduler, etcd), CoreDNS and one kube-proxy for each of nodes
// Nodes, all Running. When it does not, the state lists every kube-system
// pod's phase.
func KubeSystemRunning(ctx context.Context, cs kubernetes.Interface, nodes int) (bool, string, error) {
	pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, "", err
	}
	running := map[string]int{}
	var all []string
	for _, p := range pods.Items {
		c := p.Name
		for _, pre := range kubeSystemPods {
			if strings.HasPrefix(p.Name, pre+"-") {
				c = pre
			}
		}
		if p.Status.Phase == corev1.PodRunning {
			running[c]++
		}
		all = append(all, p.Name+"="+string(p.Status.Phase))
	}
	sort.Strings(all)
	want := map[string]int{"kube-apiserver": 1, "kube-controller-manager": 1, "kube-scheduler": 1, "etcd": 1, "coredns": 1, "kube-proxy": nodes}
	for k, n := range want {
		if running[k] < n {
			return false, fmt.Sprintf("pods %v", all), nil
		}
	}
	return true, "", nil
}

// PauseDeployment is a Deployment of replicas pause pods in namespace
// default, from the pause image the node image preloads (never pulled:
// there is no registry), for checking that a cluster schedules and runs
// pods.
func PauseDeployment(replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "pause"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "pause", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "pause", Image: tools.ImageRegistry + "/pause:" + tools.PauseVersion,
					ImagePullPolicy: corev1.PullNever,
				}}},
			},
		},
	}
}

// DeploymentAvailable reports whether d's Deployment is Available with all
// its replicas; when it is not, the state gives the available count, its
// conditions and each of its pods' Node and phase.
func DeploymentAvailable(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment) (bool, string, error) {
	x, err := cs.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return false, "", err
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	for _, c := range x.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && x.Status.AvailableReplicas == want {
			return true, "", nil
		}
	}
	var ps []string
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		pods, _ := cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if pods != nil {
			for _, p := range pods.Items {
				ps = append(ps, p.Name+"@"+p.Spec.NodeName+"="+string(p.Status.Phase))
			}
		}
	}
	return false, fmt.Sprintf("available %d/%d %v; pods %v", x.Status.AvailableReplicas, want, x.Status.Conditions, ps), nil
}
