package kubetest

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
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
