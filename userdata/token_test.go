package userdata

import (
	"strings"
	"testing"
	"time"

	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstrapsecretutil "k8s.io/cluster-bootstrap/util/secrets"
)

// ExpiresWithin says a token needs replacing when it has expired, expires within
// the margin, or its expiry is unknown; the clock is a parameter, no sleeping.
func TestBootstrapTokenExpiresWithin(t *testing.T) {
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	tok := fixtureTok(t)
	for _, c := range []struct {
		name    string
		expires time.Time
		margin  time.Duration
		want    bool
	}{
		{"expired a day ago", now.Add(-24 * time.Hour), time.Hour, true},
		{"expired a second ago, no margin", now.Add(-time.Second), 0, true},
		{"expires now", now, 0, true},
		{"expires within the margin", now.Add(30 * time.Minute), time.Hour, true},
		{"expires after the margin", now.Add(2 * time.Hour), time.Hour, false},
		{"unknown expiry", time.Time{}, time.Hour, true},
	} {
		tok.Expires = c.expires
		if got := tok.ExpiresWithin(now, c.margin); got != c.want {
			t.Errorf("%s: ExpiresWithin = %v, want %v", c.name, got, c.want)
		}
	}
}

// TokenSecret is the Secret kubeadm writes, as k8s.io/cluster-bootstrap reads it.
func TestBootstrapTokenSecret(t *testing.T) {
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	tok, err := NewBootstrapToken(WithTokenExpires(now.Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	s := tok.TokenSecret(now)
	if s.Namespace != "kube-system" || s.Type != bootstrapapi.SecretTypeBootstrapToken {
		t.Errorf("secret %s/%s type %s, want kube-system and %s", s.Namespace, s.Name, s.Type, bootstrapapi.SecretTypeBootstrapToken)
	}
	if id, ok := bootstrapsecretutil.ParseName(s.Name); !ok || id != tok.ID {
		t.Errorf("secret name %q does not carry the token ID", s.Name)
	}
	if bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenSecretKey) != tok.Secret {
		t.Error("token-secret does not hold the token's secret")
	}
	if !bootstrapsecretutil.HasExpired(s, now) {
		t.Error("a token that expired a minute ago is not expired per cluster-bootstrap")
	}
	groups, err := bootstrapsecretutil.GetGroups(s)
	if err != nil || !strings.Contains(strings.Join(groups, ","), DefaultTokenGroup) {
		t.Errorf("groups %v (%v), want %s", groups, err, DefaultTokenGroup)
	}
	for _, u := range []string{UsageSigning, UsageAuthentication} {
		if bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenUsagePrefix+u) != "true" {
			t.Errorf("usage %s not set", u)
		}
	}

	// TTL only: the expiration is counted from now.
	tok.Expires = time.Time{}
	s = tok.TokenSecret(now)
	if _, expired := bootstrapsecretutil.GetExpiration(s, now.Add(DefaultTokenTTL-time.Second)); expired {
		t.Error("a fresh 24h token is expired a second before its TTL")
	}
	if !bootstrapsecretutil.HasExpired(s, now.Add(DefaultTokenTTL+time.Second)) {
		t.Error("a 24h token is not expired after its TTL")
	}
}

// Expires is not rendered: kubeadm defaults the TTL and rejects a token with
// both (TestKubeadmValidatesRenderedConfig runs kubeadm on such a token).
func TestBootstrapTokenExpiresNotRendered(t *testing.T) {
	spec := initSpec(t, fixtureVersion, CloudInit)
	spec.Machine = Machine{}
	spec.BootstrapTokens[0].Expires = time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	data, err := Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	bt := p.Kubeadm.Init.BootstrapTokens[0]
	if bt.Expires != nil || bt.TTL == nil || bt.TTL.Duration != DefaultTokenTTL {
		t.Errorf("rendered token: ttl %v expires %v, want ttl %v only", bt.TTL, bt.Expires, DefaultTokenTTL)
	}
}
