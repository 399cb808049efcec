package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/openstrap/openstrap/internal/kubetest"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rssKiB reads a process's resident set size from /proc.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			var kib int
			_, err := fmt.Sscan(f[1], &kib)
			return kib, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// TestManagerBinary builds the example, runs it against a real API server
// with no CRDs, and checks that it installs them, starts the controllers,
// and exits 0 soon after SIGTERM.
func TestManagerBinary(t *testing.T) {
	env := kubetest.ForTest(t, kubetest.Options{})
	kc, err := env.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "manager")
	start := time.Now()
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("go build: %v", time.Since(start))

	var logs syncBuffer
	cmd := exec.Command(bin, "--kubeconfig", kcPath, "--concurrency", "2")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	deadline := time.After(3 * time.Minute)
	for !strings.Contains(logs.String(), "controllers started") {
		select {
		case err := <-exited:
			t.Fatalf("manager exited before starting (%v):\n%s", err, logs.String())
		case <-deadline:
			t.Fatalf("manager did not start within 3m:\n%s", logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("from exec to controllers started: %v", time.Since(start))
	if !strings.Contains(logs.String(), "CRDs installed") {
		t.Errorf("no CRD install logged:\n%s", logs.String())
	}
	crds := apiextensionsclient.NewForConfigOrDie(env.Config).ApiextensionsV1().CustomResourceDefinitions()
	for _, name := range []string{"clusters.cluster.x-k8s.io", "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io", "openstackmachines.infrastructure.cluster.x-k8s.io"} {
		if _, err := crds.Get(t.Context(), name, metav1.GetOptions{}); err != nil {
			t.Errorf("CRD %s: %v", name, err)
		}
	}

	// Idle for a while, then measure what the running manager holds.
	time.Sleep(5 * time.Second)
	if kib, err := rssKiB(cmd.Process.Pid); err != nil {
		t.Error(err)
	} else {
		t.Logf("idle manager RSS: %d MiB", kib/1024)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("manager exited with %v after SIGTERM:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("manager still running 30s after SIGTERM:\n%s", logs.String())
	}
	t.Logf("exit after SIGTERM: %v", time.Since(start))
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("no 'stopped' in the log:\n%s", logs.String())
	}
	for _, secretish := range []string{"BEGIN RSA", "BEGIN EC", "client-key-data", "token:"} {
		if strings.Contains(logs.String(), secretish) {
			t.Errorf("log holds %q", secretish)
		}
	}
}
