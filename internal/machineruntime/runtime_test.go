package machineruntime

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/openstrap/openstrap/provider/openstacktest"
	"github.com/openstrap/openstrap/userdata"
)

// TestBootFromUserData boots an init machine and workers from user data that
// package userdata rendered, then reaches the cluster with the admin
// kubeconfig userdata makes: real Kubernetes checks every certificate,
// token and pin.
func TestBootFromUserData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pki, err := userdata.NewClusterPKI()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := userdata.NewBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	// A random loopback address, as the simulator's floating IPs are.
	endpoint := fmt.Sprintf("127.%d.%d.%d:6443", 100+rand.IntN(100), rand.IntN(250), 2+rand.IntN(250))
	initData, err := userdata.Render(userdata.Init{Cluster: "rt", KubernetesVersion: "v1.37.2", Endpoint: endpoint,
		PKI: pki, BootstrapTokens: []userdata.BootstrapToken{tok}})
	if err != nil {
		t.Fatal(err)
	}
	rt := New(t.TempDir(), logr.Discard())
	rt.discovery = 15 * time.Second // the bad token below waits this long for a signature
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	var consoleMu sync.Mutex
	console := map[string][]string{}
	rt.SetConsole(func(id string, lines ...string) {
		consoleMu.Lock()
		defer consoleMu.Unlock()
		console[id] = append(console[id], lines...)
	})
	cp := openstacktest.BootEvent{ServerID: "srv-cp", Name: "rt-cp-0", UserData: initData,
		Addresses: map[string][]string{"rt-net": {"10.6.0.10"}}}
	if err := rt.Boot(ctx, cp); err != nil {
		t.Fatalf("boot init machine: %v", err)
	}

	worker := func(name string, pins []string, token userdata.BootstrapToken) error {
		data, err := userdata.Render(userdata.JoinWorker{Cluster: "rt", KubernetesVersion: "v1.37.2", Endpoint: endpoint,
			Token: token, CACertHashes: pins, Node: userdata.Node{Labels: map[string]string{"pool": "a"}}})
		if err != nil {
			t.Fatal(err)
		}
		return rt.Boot(ctx, openstacktest.BootEvent{ServerID: "srv-" + name, Name: name, UserData: data})
	}
	if err := worker("rt-worker-0", []string{pki.CACertHash()}, tok); err != nil {
		t.Fatalf("boot worker: %v", err)
	}
	other, err := userdata.NewClusterPKI()
	if err != nil {
		t.Fatal(err)
	}
	err = worker("rt-worker-badpin", []string{other.CACertHash()}, tok)
	var je *JoinError
	if !errors.As(err, &je) || je.Step != "discovery" {
		t.Fatalf("worker with a wrong pin: %v, want a discovery JoinError", err)
	}
	if done, rerr := rt.Result("rt-worker-badpin"); !done || rerr == nil {
		t.Fatalf("Result(bad pin) = %v, %v; want done with an error", done, rerr)
	}
	unknown, _ := userdata.NewBootstrapToken()
	if err := worker("rt-worker-badtoken", []string{pki.CACertHash()}, unknown); !errors.As(err, &je) {
		t.Fatalf("worker with an unknown token: %v, want a JoinError", err)
	} else if strings.Contains(err.Error(), unknown.Secret) {
		t.Fatal("join error leaks the token secret")
	}
	// While it waits, the console says why, as kubeadm's output would.
	consoleMu.Lock()
	lines := console["srv-rt-worker-badtoken"]
	consoleMu.Unlock()
	if len(lines) < 2 || !strings.Contains(lines[0], "[discovery]") || !strings.Contains(lines[0], "no signature for token ID") {
		t.Errorf("console of the worker with an unknown token = %q, want a discovery line first, then the failure", lines)
	}

	kc, err := userdata.AdminKubeconfig(pki, "rt", "https://"+endpoint)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("admin kubeconfig from userdata does not work: %v", err)
	}
	got := map[string]string{}
	for _, n := range nodes.Items {
		got[n.Name] = n.Labels["pool"]
		want := map[string]string{"rt-cp-0": "openstack:///srv-cp", "rt-worker-0": "openstack:///srv-rt-worker-0"}[n.Name]
		if n.Spec.ProviderID != want {
			t.Errorf("node %s providerID = %q, want %q", n.Name, n.Spec.ProviderID, want)
		}
	}
	if len(got) != 2 || got["rt-worker-0"] != "a" {
		t.Fatalf("nodes = %v, want rt-cp-0 and rt-worker-0 (pool=a)", got)
	}
	if _, ok := got["rt-cp-0"]; !ok {
		t.Fatalf("nodes = %v, want the init node rt-cp-0", got)
	}

	// Deleting the init server stops its control plane.
	rt.Shutdown(ctx, cp)
	if _, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("API server still answers after its server was deleted")
	}
}
