package userdata

import (
	"errors"
	"testing"
	"time"
)

// TestTimeouts: kubeadm's timeouts reach the InitConfiguration and
// JoinConfiguration (v1beta4) as given, zero fields keep kubeadm's
// defaults, and a negative one is a FieldError naming it.
func TestTimeouts(t *testing.T) {
	in := initSpec(t, fixtureVersion, CloudInit)
	in.Timeouts = Timeouts{KubernetesAPICall: 5 * time.Minute}
	data, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	to := p.Kubeadm.Init.Timeouts
	if to == nil || to.KubernetesAPICall == nil || to.KubernetesAPICall.Duration != 5*time.Minute || to.Discovery != nil {
		t.Errorf("init timeouts %+v, want only kubernetesAPICall 5m", to)
	}

	w := workerSpec(t, fixtureVersion, CloudInit)
	w.Timeouts = Timeouts{Discovery: time.Minute, TLSBootstrap: 2 * time.Minute}
	if data, err = Render(w); err != nil {
		t.Fatal(err)
	}
	if p, err = Parse(data); err != nil {
		t.Fatal(err)
	}
	to = p.Kubeadm.Join.Timeouts
	if to == nil || to.Discovery == nil || to.Discovery.Duration != time.Minute || to.TLSBootstrap == nil || to.TLSBootstrap.Duration != 2*time.Minute {
		t.Errorf("join timeouts %+v, want discovery 1m, tlsBootstrap 2m", to)
	}

	w.Timeouts = Timeouts{}
	if data, err = Render(w); err != nil {
		t.Fatal(err)
	}
	if p, err = Parse(data); err != nil || p.Kubeadm.Join.Timeouts != nil {
		t.Errorf("no timeouts given: got %+v (%v), want none", p.Kubeadm.Join.Timeouts, err)
	}

	w.Timeouts = Timeouts{Discovery: -time.Second}
	var fe *FieldError
	if _, err := Render(w); !errors.As(err, &fe) || fe.Field != "Timeouts.Discovery" {
		t.Errorf("negative discovery timeout: %v, want a FieldError on Timeouts.Discovery", err)
	}
}
