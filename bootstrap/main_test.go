package bootstrap

import (
	"testing"

	"github.com/openstrap/openstrap/internal/kubetest"
)

// env is a real API server shared by the Install and Existing tests; tests use
// their own namespaces.
var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, kubetest.Options{}, &env) }
