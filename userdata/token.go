package userdata

import (
	"crypto/rand"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Bootstrap token usages and groups, as kubeadm and the bootstrap signer know them.
const (
	UsageSigning        = "signing"
	UsageAuthentication = "authentication"
	// DefaultTokenGroup lets kubeadm-joined nodes use the token for TLS bootstrap.
	DefaultTokenGroup = "system:bootstrappers:kubeadm:default-node-token"
	// DefaultTokenTTL is kubeadm's default token lifetime.
	DefaultTokenTTL = 24 * time.Hour
)

// tokenRE is kubeadm's bootstrap token format (k8s.io/cluster-bootstrap).
var (
	tokenRE      = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	tokenGroupRE = regexp.MustCompile(`^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`)
)

const tokenChars = "0123456789abcdefghijklmnopqrstuvwxyz"

// BootstrapToken is a kubeadm bootstrap token "<id>.<secret>". Nodes join the
// cluster with it. String, GoString and fmt verbs print only the ID.
type BootstrapToken struct {
	// ID is the public part, [a-z0-9]{6}.
	ID string
	// Secret is the private part, [a-z0-9]{16}.
	Secret string
	// TTL is the lifetime kubeadm gives the token when it creates it (0: kubeadm's 24h).
	TTL time.Duration
	// Usages are "signing" and/or "authentication" (empty: both).
	Usages []string
	// Groups are extra groups the token authenticates as (empty: DefaultTokenGroup).
	Groups []string
	// Description is free text stored with the token.
	Description string
}

// TokenOption changes how NewBootstrapToken makes a token.
type TokenOption func(*BootstrapToken, *io.Reader)

// WithTokenTTL sets the token's lifetime.
func WithTokenTTL(d time.Duration) TokenOption {
	return func(t *BootstrapToken, _ *io.Reader) { t.TTL = d }
}

// WithTokenUsages sets the token's usages.
func WithTokenUsages(u ...string) TokenOption {
	return func(t *BootstrapToken, _ *io.Reader) { t.Usages = u }
}

// WithTokenGroups sets the token's extra groups.
func WithTokenGroups(g ...string) TokenOption {
	return func(t *BootstrapToken, _ *io.Reader) { t.Groups = g }
}

// WithTokenRand draws the token from r instead of crypto/rand (for reproducible tests).
func WithTokenRand(r io.Reader) TokenOption {
	return func(_ *BootstrapToken, rr *io.Reader) { *rr = r }
}

// NewBootstrapToken makes a random token from crypto/rand with kubeadm's defaults
// (24h TTL, signing and authentication usages, the default node group).
func NewBootstrapToken(opts ...TokenOption) (BootstrapToken, error) {
	t := BootstrapToken{TTL: DefaultTokenTTL, Usages: []string{UsageSigning, UsageAuthentication}, Groups: []string{DefaultTokenGroup}}
	var r io.Reader = rand.Reader
	for _, o := range opts {
		o(&t, &r)
	}
	s, err := randomString(r, 22)
	if err != nil {
		return BootstrapToken{}, fmt.Errorf("generate bootstrap token: %w", err)
	}
	t.ID, t.Secret = s[:6], s[6:]
	return t, nil
}

// randomString draws n characters from [a-z0-9] without modulo bias.
func randomString(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// 252 = 7*36: reject the tail to keep the distribution uniform.
			if b < 252 && len(out) < n {
				out = append(out, tokenChars[int(b)%len(tokenChars)])
			}
		}
	}
	return string(out), nil
}

// ParseBootstrapToken reads "<id>.<secret>" (with kubeadm's default TTL, usages and
// groups). The error does not repeat the input.
func ParseBootstrapToken(s string) (BootstrapToken, error) {
	m := tokenRE.FindStringSubmatch(s)
	if m == nil {
		return BootstrapToken{}, fieldErr("BootstrapToken", "not a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})")
	}
	return BootstrapToken{ID: m[1], Secret: m[2], TTL: DefaultTokenTTL,
		Usages: []string{UsageSigning, UsageAuthentication}, Groups: []string{DefaultTokenGroup}}, nil
}

// Value returns the full token "<id>.<secret>", the form kubeadm and the bootstrap
// token Secret take. Treat it as a secret.
func (t BootstrapToken) Value() string { return t.ID + "." + t.Secret }

// Validate checks the token's format, usages and TTL; errors name the field.
func (t BootstrapToken) Validate(field string) error {
	if !tokenRE.MatchString(t.Value()) {
		return fieldErr(field, "not a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})")
	}
	if t.TTL < 0 {
		return fieldErr(field+".TTL", "must not be negative")
	}
	for _, u := range t.Usages {
		if u != UsageSigning && u != UsageAuthentication {
			return fieldErr(field+".Usages", "%q is not %q or %q", u, UsageSigning, UsageAuthentication)
		}
	}
	for _, g := range t.Groups {
		if !tokenGroupRE.MatchString(g) {
			return fieldErr(field+".Groups", "%q must match system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]", g)
		}
	}
	return nil
}

// String prints the token ID only.
func (t BootstrapToken) String() string { return "BootstrapToken{" + t.ID + ".<redacted>}" }

// GoString prints the token ID only, so %#v does not leak the secret.
func (t BootstrapToken) GoString() string { return t.String() }

// Format makes every fmt verb print String(), so %v, %+v and %s never leak the secret.
func (t BootstrapToken) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }
