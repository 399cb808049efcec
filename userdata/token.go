package userdata

import (
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
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

// BootstrapToken is a kubeadm bootstrap token "<id>.<secret>". Nodes join the
// cluster with it. String, GoString and fmt verbs print only the ID. Its format
// and validation are k8s.io/cluster-bootstrap's.
type BootstrapToken struct {
	// ID is the public part, [a-z0-9]{6}.
	ID string
	// Secret is the private part, [a-z0-9]{16}.
	Secret string
	// TTL is the lifetime kubeadm gives the token when it creates it (0: kubeadm's
	// 24h).
	TTL time.Duration
	// Expires, when set, is when the token stops working, for whoever saves the
	// token to know when it needs a new one (ExpiresWithin), and for TokenSecret.
	// kubeadm's configuration takes only the TTL (kubeadm defaults a missing TTL
	// and rejects both), so Expires is not rendered: set it to no later than the
	// creation time plus TTL.
	Expires time.Time
	// Usages are "signing" and/or "authentication" (empty: both).
	Usages []string
	// Groups are extra groups the token authenticates as (empty: DefaultTokenGroup).
	Groups []string
	// Description is free text stored with the token.
	Description string
}

// TokenOption changes how NewBootstrapToken makes a token.
type TokenOption func(*BootstrapToken)

// WithTokenTTL sets the token's lifetime.
func WithTokenTTL(d time.Duration) TokenOption {
	return func(t *BootstrapToken) { t.TTL = d }
}

// WithTokenUsages sets the token's usages.
func WithTokenUsages(u ...string) TokenOption {
	return func(t *BootstrapToken) { t.Usages = u }
}

// WithTokenGroups sets the token's extra groups.
func WithTokenGroups(g ...string) TokenOption {
	return func(t *BootstrapToken) { t.Groups = g }
}

// WithTokenExpires sets when the token stops working (see BootstrapToken.Expires).
func WithTokenExpires(at time.Time) TokenOption {
	return func(t *BootstrapToken) { t.Expires = at }
}

// NewBootstrapToken makes a random token (k8s.io/cluster-bootstrap's generator,
// crypto/rand) with kubeadm's defaults (24h TTL, signing and authentication
// usages, the default node group).
func NewBootstrapToken(opts ...TokenOption) (BootstrapToken, error) {
	t := BootstrapToken{TTL: DefaultTokenTTL, Usages: []string{UsageSigning, UsageAuthentication}, Groups: []string{DefaultTokenGroup}}
	for _, o := range opts {
		o(&t)
	}
	s, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return BootstrapToken{}, fmt.Errorf("generate bootstrap token: %w", err)
	}
	m := bootstraputil.BootstrapTokenRegexp.FindStringSubmatch(s)
	if m == nil {
		return BootstrapToken{}, fmt.Errorf("generate bootstrap token: the generator made a malformed token")
	}
	t.ID, t.Secret = m[1], m[2]
	return t, nil
}

const tokenFormat = "not a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})"

// ParseBootstrapToken reads "<id>.<secret>" (with kubeadm's default TTL, usages and
// groups). The error does not repeat the input.
func ParseBootstrapToken(s string) (BootstrapToken, error) {
	if !bootstraputil.IsValidBootstrapToken(s) {
		return BootstrapToken{}, fieldErr("BootstrapToken", tokenFormat)
	}
	m := bootstraputil.BootstrapTokenRegexp.FindStringSubmatch(s)
	return BootstrapToken{ID: m[1], Secret: m[2], TTL: DefaultTokenTTL,
		Usages: []string{UsageSigning, UsageAuthentication}, Groups: []string{DefaultTokenGroup}}, nil
}

// Value returns the full token "<id>.<secret>", the form kubeadm and the bootstrap
// token Secret take. Treat it as a secret.
func (t BootstrapToken) Value() string { return bootstraputil.TokenFromIDAndSecret(t.ID, t.Secret) }

// Validate checks the token's format, usages and TTL; errors name the field.
func (t BootstrapToken) Validate(field string) error {
	if !bootstraputil.IsValidBootstrapToken(t.Value()) {
		return fieldErr(field, tokenFormat)
	}
	if t.TTL < 0 {
		return fieldErr(field+".TTL", "must not be negative")
	}
	if err := bootstraputil.ValidateUsages(t.Usages); err != nil {
		return fieldErr(field+".Usages", "%v", err)
	}
	for _, g := range t.Groups {
		if err := bootstraputil.ValidateBootstrapGroupName(g); err != nil {
			return fieldErr(field+".Groups", "%v", err)
		}
	}
	return nil
}

// ExpiresWithin reports whether the token has stopped working at now or stops
// within margin, i.e. whether a flow that still needs it for margin must make a
// new one. A token with no Expires counts as expiring: when kubeadm started its
// TTL is not known.
func (t BootstrapToken) ExpiresWithin(now time.Time, margin time.Duration) bool {
	return t.Expires.IsZero() || !now.Add(margin).Before(t.Expires)
}

// TokenSecret returns the token as the kube-system Secret kubeadm init and
// `kubeadm token create` write ("bootstrap-token-<id>", type
// bootstrap.kubernetes.io/token), for adding a token to a running cluster. The
// expiration is Expires, or now plus the TTL (none when TTL is 0 and Expires is
// unset). Treat the result as a secret.
func (t BootstrapToken) TokenSecret(now time.Time) *corev1.Secret {
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:     []byte(t.ID),
		bootstrapapi.BootstrapTokenSecretKey: []byte(t.Secret),
	}
	if t.Description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(t.Description)
	}
	switch {
	case !t.Expires.IsZero():
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(t.Expires.UTC().Format(time.RFC3339))
	case t.TTL > 0:
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(now.Add(t.TTL).UTC().Format(time.RFC3339))
	}
	usages := t.Usages
	if len(usages) == 0 {
		usages = []string{UsageSigning, UsageAuthentication}
	}
	for _, u := range usages {
		data[bootstrapapi.BootstrapTokenUsagePrefix+u] = []byte("true")
	}
	groups := t.Groups
	if len(groups) == 0 {
		groups = []string{DefaultTokenGroup}
	}
	data[bootstrapapi.BootstrapTokenExtraGroupsKey] = []byte(strings.Join(groups, ","))
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(t.ID), Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data:       data,
	}
}

// String prints the token ID only.
func (t BootstrapToken) String() string { return "BootstrapToken{" + t.ID + ".<redacted>}" }

// GoString prints the token ID only, so %#v does not leak the secret.
func (t BootstrapToken) GoString() string { return t.String() }

// Format makes every fmt verb print String(), so %v, %+v and %s never leak the secret.
func (t BootstrapToken) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }
