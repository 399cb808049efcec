package controllers

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"k8s.io/apimachinery/pkg/types"

	"github.com/openstrap/openstrap/provider"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
)

// failure is how a reconciler reports an error in a condition.
type failure struct {
	// reason is the condition's reason.
	reason string
	// message says what is wrong and what to do.
	message string
	// permanent: a person must act; do not call the cloud again for the
	// object until its spec or identity changes (or the hold expires).
	permanent bool
}

// specError is a spec the reconciler itself cannot map to the cloud
// layer; its message names the field. It matches provider.ErrInvalidSpec.
type specError struct{ msg string }

func (e *specError) Error() string        { return e.msg }
func (e *specError) Is(target error) bool { return target == provider.ErrInvalidSpec }

// invalidf returns a *specError.
func invalidf(format string, args ...any) error {
	return &specError{msg: fmt.Sprintf(format, args...)}
}

// classify maps an error of the cloud layer to a condition reason and
// tells whether retrying can help without a person.
func classify(err error) failure {
	msg := err.Error()
	var pe *provider.Error
	kind := ""
	if errors.As(err, &pe) {
		kind = pe.Kind
	}
	switch {
	case errors.As(err, new(*specError)):
		return failure{infrav1.InvalidSpecReason, msg + "; fix the spec", true}
	case errors.Is(err, provider.ErrAuthentication):
		return failure{infrav1.AuthenticationFailedReason, msg + "; fix the credentials in the identity Secret", true}
	case errors.Is(err, provider.ErrCloudConfig):
		return failure{infrav1.AuthenticationFailedReason, msg + "; fix the identity Secret or spec.identityRef", true}
	case errors.Is(err, provider.ErrQuotaExceeded):
		return failure{infrav1.QuotaExceededReason, msg + "; free resources in the project or raise its quota", true}
	case errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrAmbiguous):
		switch kind {
		case "image":
			return failure{infrav1.ImageNotFoundReason, msg + "; fix spec.image", true}
		case "flavor":
			return failure{infrav1.FlavorNotFoundReason, msg + "; fix spec.flavor", true}
		case "network", "external network", "subnet", "router":
			return failure{infrav1.NetworkNotFoundReason, msg + "; fix the network references of the spec", true}
		}
		return failure{infrav1.InvalidSpecReason, msg + "; fix the spec", true}
	case errors.Is(err, provider.ErrInvalidSpec):
		return failure{infrav1.InvalidSpecReason, msg + "; fix the spec", true}
	case gophercloud.ResponseCodeIs(err, http.StatusForbidden) || gophercloud.ResponseCodeIs(err, http.StatusUnauthorized):
		return failure{infrav1.AuthenticationFailedReason, msg + "; the cloud's policy refuses it to these credentials: use an account with the member role", true}
	}
	return failure{infrav1.OpenStackErrorReason, msg, false}
}

// holds remembers objects whose last reconcile hit a permanent failure, so
// that the next reconciles of the same spec and identity do not call the
// cloud again (no retry storm) until the hold expires.
type holds struct {
	mu sync.Mutex
	m  map[types.UID]hold
}

type hold struct {
	generation int64
	identity   string // resourceVersion of the identity Secret
	until      time.Time
}

// active returns how long the object stays held, or 0.
func (h *holds) active(uid types.UID, generation int64, identity string, now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	x, ok := h.m[uid]
	if !ok {
		return 0
	}
	if x.generation != generation || x.identity != identity || !now.Before(x.until) {
		delete(h.m, uid)
		return 0
	}
	return x.until.Sub(now)
}

func (h *holds) set(uid types.UID, generation int64, identity string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[types.UID]hold{}
	}
	h.m[uid] = hold{generation: generation, identity: identity, until: until}
}

func (h *holds) clear(uid types.UID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, uid)
}
