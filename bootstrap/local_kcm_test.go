package bootstrap

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/openstrap/openstrap/internal/retry"
)

// TestLocalControllerManager starts a Local cluster without
// kube-controller-manager and finds a deleted namespace stuck terminating,
// then reuses it with the controller manager (started on reuse) and finds the
// garbage collector and the namespace controller at work: a dependent of a
// deleted owner and an object whose owner never existed are deleted, the
// stuck namespace and a newly deleted one finish terminating.
func TestLocalControllerManager(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "gc")
	opts := []Option{Dir(dir), Address("127.0.0.23")}

	start := time.Now()
	c, err := Local(ctx, "gc", append(opts, NoControllerManager())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background()) })
	t.Logf("start without kube-controller-manager: %v", time.Since(start))
	cs := kubernetes.NewForConfigOrDie(c.RESTConfig())

	// Without the namespace controller a deleted namespace stays Terminating.
	stuck := createNamespace(t, cs, "stuck")
	if err := cs.CoreV1().Namespaces().Delete(ctx, stuck, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	ns, err := cs.CoreV1().Namespaces().Get(ctx, stuck, metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("namespace %s without a controller manager: %v, phase %q; want it stuck Terminating", stuck, err, ns.Status.Phase)
	}

	start = time.Now()
	c, err = Local(ctx, "gc", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reuse, starting kube-controller-manager: %v", time.Since(start))

	// Owner and dependent: deleting the owner deletes the dependent.
	work := createNamespace(t, cs, "gc")
	owner, err := cs.CoreV1().ConfigMaps(work).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dependent := func(name string, uid types.UID) {
		t.Helper()
		_, err := cs.CoreV1().ConfigMaps(work).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: uid}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	dependent("dependent", owner.UID)
	dependent("orphan", "00000000-0000-0000-0000-000000000001") // an owner that does not exist
	// A plain object with no owner stays.
	if _, err := cs.CoreV1().ConfigMaps(work).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps(work).Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for _, name := range []string{"dependent", "orphan"} {
		waitGone(t, func(ctx context.Context) error {
			_, err := cs.CoreV1().ConfigMaps(work).Get(ctx, name, metav1.GetOptions{})
			return err
		}, "ConfigMap "+work+"/"+name)
	}
	t.Logf("garbage collected in %v", time.Since(start))
	if _, err := cs.CoreV1().ConfigMaps(work).Get(ctx, "plain", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap without owners: %v, want it kept", err)
	}

	// Namespaces finish terminating, with their content.
	if err := cs.CoreV1().Namespaces().Delete(ctx, work, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for _, name := range []string{stuck, work} {
		waitGone(t, func(ctx context.Context) error {
			_, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			return err
		}, "namespace "+name)
	}
	t.Logf("namespaces deleted in %v", time.Since(start))
}

func createNamespace(t *testing.T, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// waitGone waits up to a minute until get returns NotFound.
func waitGone(t *testing.T, get func(context.Context) error, what string) {
	t.Helper()
	var last error
	err := retry.Until(t.Context(), retry.Policy{Initial: 200 * time.Millisecond, Max: time.Second, MaxElapsed: time.Minute},
		func(ctx context.Context) (bool, error) {
			last = get(ctx)
			return apierrors.IsNotFound(last), nil
		})
	if err != nil {
		t.Fatalf("%s not deleted: last get: %v (%v)", what, last, err)
	}
}

func TestControllerManagerOptions(t *testing.T) {
	if _, err := newOptions(fnLocal, []Option{NoControllerManager(), Controllers("*", "-nodelifecycle")}); err != nil {
		t.Errorf("controller manager options on Local: %v", err)
	}
	for name, opt := range map[string]Option{
		"no names":   Controllers(),
		"empty name": Controllers("*", ""),
		"list":       Controllers("*,tokencleaner"),
	} {
		if _, err := newOptions(fnLocal, []Option{opt}); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: error = %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := newOptions(fnExisting, []Option{NoControllerManager()}); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("NoControllerManager on Existing: error = %v, want ErrInvalidOption", err)
	}
}
