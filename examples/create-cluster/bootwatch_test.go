package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openstrap/openstrap/internal/retry"
)

// TestBootWatch checks the polling decision of steps 4 and 7: the console is
// read at most once per interval, a finished boot whose user data failed
// stops the wait with the console's reason, and a running or healthy boot or
// an unreadable console does not.
func TestBootWatch(t *testing.T) {
	const (
		running = "Cloud-init v. 22.4.2 running 'modules:final' at Thu, 03 Dec 2026 21:09:46 +0000. Up 45879.73 seconds.\n"
		failed  = running +
			"error: bootstrapTokens.0: Invalid value: \"\": the BootstrapToken .TTL and .Expires fields are mutually exclusive\n" +
			"2026-12-03 21:09:46,898 - cc_scripts_user.py[WARNING]: Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)\n" +
			"Cloud-init v. 22.4.2 finished at Thu, 03 Dec 2026 21:09:46 +0000. Datasource DataSourceNoCloud.  Up 45880.23 seconds\n"
	)
	var reads int
	consoles := []struct {
		out string
		err error
	}{{"", nil}, {running, nil}, {"", errors.New("409 Conflict")}, {failed, nil}}
	w := &bootWatch{server: "srv-1", every: 10 * time.Second, console: func(_ context.Context, id string) (string, error) {
		if id != "srv-1" {
			t.Errorf("console of %q, want srv-1", id)
		}
		c := consoles[min(reads, len(consoles)-1)]
		reads++
		return c.out, c.err
	}}
	t0 := time.Date(2026, 12, 3, 21, 10, 0, 0, time.UTC)
	steps := []struct {
		at        time.Duration
		wantReads int
		wantFail  bool
	}{
		{0, 1, false},                // empty console
		{2 * time.Second, 1, false},  // too soon: not read
		{10 * time.Second, 2, false}, // still running
		{15 * time.Second, 2, false},
		{20 * time.Second, 3, false}, // console not readable
		{30 * time.Second, 4, true},  // failed
	}
	for _, s := range steps {
		err := w.check(context.Background(), t0.Add(s.at))
		if reads != s.wantReads {
			t.Errorf("at %v: %d console reads, want %d", s.at, reads, s.wantReads)
		}
		if (err != nil) != s.wantFail {
			t.Fatalf("at %v: check = %v, want failure %v", s.at, err, s.wantFail)
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, errBootFailed) {
			t.Errorf("check = %v, does not wrap errBootFailed", err)
		}
		for _, want := range []string{"srv-1", "scripts-user failed", "the BootstrapToken .TTL and .Expires fields are mutually exclusive"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("check = %q, lacks %q", err, want)
			}
		}
	}
	// Until stops at the failure at once instead of waiting out MaxElapsed.
	reads = len(consoles)
	w.last = time.Time{}
	calls := 0
	err := retry.Until(context.Background(), retry.Policy{Initial: time.Millisecond, Max: time.Millisecond, MaxElapsed: time.Hour},
		func(ctx context.Context) (bool, error) {
			calls++
			return false, w.check(ctx, time.Now())
		})
	if !errors.Is(err, errBootFailed) || calls != 1 {
		t.Errorf("Until = %v after %d calls, want errBootFailed after 1", err, calls)
	}
}

// TestConsoleReasonRedacts: the end of a healthy kubeadm init's console is
// its join command, whose token and certificate key must not reach a report.
func TestConsoleReasonRedacts(t *testing.T) {
	console := "Your Kubernetes control-plane has initialized successfully!\n" +
		"  kubeadm join 10.6.0.10:6443 --token abcdef.0123456789abcdef \\\n" +
		"\t--discovery-token-ca-cert-hash sha256:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988 \\\n" +
		"\t--control-plane --certificate-key 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	got := consoleReason(console)
	if strings.Contains(got, "0123456789abcdef") || !strings.Contains(got, "--token <redacted>") || !strings.Contains(got, "--certificate-key <redacted>") {
		t.Errorf("consoleReason = %q, want the token and certificate key redacted", got)
	}
}
