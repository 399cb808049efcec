package controlplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/openstrap/openstrap/internal/retry"
)

// waitRootCA waits until kube-controller-manager's root CA publisher has put
// the cluster CA into namespace ns, which proves it runs with the CA and
// credentials Start gave it.
func waitRootCA(t *testing.T, cs kubernetes.Interface, ns string, caPEM []byte) {
	t.Helper()
	var got string
	err := retry.Until(t.Context(), retry.Policy{Initial: 200 * time.Millisecond, Max: time.Second, MaxElapsed: time.Minute},
		func(ctx context.Context) (bool, error) {
			cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			got = cm.Data["ca.crt"]
			return true, nil
		})
	if err != nil {
		t.Fatalf("kube-root-ca.crt in %s never published: %v", ns, err)
	}
	if strings.TrimSpace(got) != strings.TrimSpace(string(caPEM)) {
		t.Fatalf("kube-root-ca.crt in %s is not the cluster CA", ns)
	}
}

// TestControllerManager starts a control plane with kube-controller-manager,
// sees it publish the root CA, attaches to it, restarts it when it died
// alone, and stops and starts it with the rest.
func TestControllerManager(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	cfg := Config{Dir: dir, Address: "127.0.0.11", Name: "kcm", ControllerManager: &ControllerManager{}}
	start := time.Now()
	p := startT(t, cfg)
	t.Logf("start with kube-controller-manager: %v", time.Since(start))
	cs := clientset(t, p.RESTConfig())
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	newNS := func() string {
		t.Helper()
		ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "kcm-"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ns.Name
	}
	waitRootCA(t, cs, newNS(), caPEM)

	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !runningCommand(st.ControllerManagerPID, dir) || st.ControllerManagerPort == 0 {
		t.Fatalf("state = %+v, want a running kube-controller-manager with a port", st)
	}
	kc, err := os.Stat(filepath.Join(dir, "controller-manager.kubeconfig"))
	if err != nil || kc.Mode().Perm() != 0o600 {
		t.Fatalf("controller-manager.kubeconfig: %v, mode %v; want 0600", err, kc.Mode().Perm())
	}

	// A second Start attaches to the same process.
	p2 := startT(t, cfg)
	st2, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Attached() || st2.ControllerManagerPID != st.ControllerManagerPID {
		t.Errorf("second Start: attached %t, kube-controller-manager %d; want attached to %d", p2.Attached(), st2.ControllerManagerPID, st.ControllerManagerPID)
	}

	// The controller manager died alone: Start attaches to the API server and
	// starts a new controller manager.
	if err := syscall.Kill(st.ControllerManagerPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && runningCommand(st.ControllerManagerPID, dir); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	p3 := startT(t, cfg)
	st3, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !p3.Attached() || st3.ControllerManagerPID == st.ControllerManagerPID || !runningCommand(st3.ControllerManagerPID, dir) {
		t.Fatalf("after kube-controller-manager died: attached %t, pid %d (was %d); want attached and a new running one",
			p3.Attached(), st3.ControllerManagerPID, st.ControllerManagerPID)
	}
	waitRootCA(t, cs, newNS(), caPEM)

	// Stop stops it with the rest; Start starts it again on the kept data.
	if err := p3.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if runningCommand(st3.ControllerManagerPID, dir) {
		t.Fatalf("kube-controller-manager %d still running after Stop", st3.ControllerManagerPID)
	}
	p4 := startT(t, cfg)
	if p4.Attached() {
		t.Errorf("Start after Stop attached")
	}
	waitRootCA(t, clientset(t, p4.RESTConfig()), newNS(), caPEM)
	st4, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resident memory: kube-controller-manager %s, kube-apiserver %s, etcd %s",
		vmRSS(st4.ControllerManagerPID), vmRSS(st4.APIServerPID), vmRSS(st4.EtcdPID))
}

// vmRSS returns the resident set size /proc reports for pid.
func vmRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// TestControllerManagerExitIsReported gives kube-controller-manager a flag it
// refuses: Start returns its ComponentError and leaves nothing running.
func TestControllerManagerExitIsReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := Start(t.Context(), Config{Dir: dir, Address: "127.0.0.12", ControllerManager: &ControllerManager{Args: []string{"--no-such-flag=1"}}})
	ce, ok := err.(*ComponentError)
	if !ok || ce.Component != kubeControllerManager || !strings.Contains(ce.LogTail, "no-such-flag") {
		t.Fatalf("Start error = %v, want a kube-controller-manager ComponentError quoting the flag", err)
	}
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{st.EtcdPID, st.APIServerPID, st.ControllerManagerPID} {
		if runningCommand(pid, dir) {
			t.Errorf("process %d left running", pid)
		}
	}
}
