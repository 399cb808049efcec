package controllers_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/openstrap/openstrap/internal/kubetest"
	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/controllers"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

var kenv *kubetest.Env

func TestMain(m *testing.M) {
	crds, err := infrav1.CRDs()
	if err != nil {
		fmt.Println(err)
		return
	}
	kubetest.Main(m, kubetest.Options{ClusterAPICRDs: true, CRDs: crds}, &kenv)
}

// testTiming makes the reconcilers look again quickly; a permanent failure
// is held for the whole test unless the spec or the Secret changes.
var testTiming = controllers.Timing{PollInterval: 200 * time.Millisecond, RetryAfterPermanentError: time.Hour, CloudTimeout: time.Minute}

func newScheme(t testing.TB) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, clusterv1.AddToScheme, infrav1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// env is one test's world: a namespace on the shared API server, a
// simulated cloud, and a manager running only openstrap's reconcilers.
type env struct {
	t     testing.TB
	ctx   context.Context
	c     client.Client
	ns    string
	sim   *openstacktest.Server
	base  []openstacktest.Resource
	cloud string // the identity Secret's name

	scheme  *runtime.Scheme
	copts   controllers.Options
	stopMgr func()
}

// restart stops the manager and starts a new one on the same namespace and
// cloud, as after a crash or on the target of a move.
func (e *env) restart(t *testing.T) *env {
	t.Helper()
	e.stopMgr()
	n := *e
	n.t = t
	n.stopMgr = n.startManager(t)
	return &n
}

// startManager starts a manager running only openstrap's reconcilers on
// the env's namespace; the returned function stops it (once).
func (e *env) startManager(t testing.TB) func() {
	t.Helper()
	ctx, scheme, ns, copts := e.ctx, e.scheme, e.ns, e.copts
	mgr, err := ctrl.NewManager(kenv.Config, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Tests run side by side on one API server: each manager sees
		// only its test's namespace.
		Cache:  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	copts.SkipNameValidation = true
	if err := controllers.Setup(ctx, mgr, copts); err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	var once sync.Once
	stopIt := func() {
		once.Do(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(stopIt)
	return stopIt
}

var nsCounter atomic.Int64

func newEnv(t *testing.T, opts ...openstacktest.Option) *env {
	t.Helper()
	return newEnvWith(t, controllers.Options{Timing: testTiming}, opts...)
}

// newEnvWith is newEnv with the reconcilers' options.
func newEnvWith(t testing.TB, copts controllers.Options, opts ...openstacktest.Option) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	sim := openstacktest.NewTestServer(t, opts...)
	scheme := newScheme(t)
	c, err := client.New(kenv.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("osc-%d-%d", time.Now().UnixNano()%1e6, nsCounter.Add(1))
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, c: c, ns: ns, sim: sim, base: sim.Snapshot(), cloud: "cloud", scheme: scheme, copts: copts}
	e.stopMgr = e.startManager(t)
	e.writeIdentity(string(sim.CloudsYAML()))
	return e
}

// writeIdentity creates or updates the identity Secret.
func (e *env) writeIdentity(cloudsYAML string) {
	e.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: e.cloud, Namespace: e.ns}}
	_, err := ctrl.CreateOrUpdate(e.ctx, e.c, s, func() error {
		s.Data = map[string][]byte{infrav1.CloudsYAMLKey: []byte(cloudsYAML)}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// createCluster creates a Cluster and its OpenStackCluster (owned by it and
// labelled, as Cluster API's Cluster controller would leave them).
func (e *env) createCluster(name string, paused bool, mutate func(*infrav1.OpenStackClusterSpec)) (*clusterv1.Cluster, *infrav1.OpenStackCluster) {
	e.t.Helper()
	cluster := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: clusterv1.ClusterSpec{
			Paused: ptr.To(paused),
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{
				APIGroup: infrav1.Group, Kind: infrav1.OpenStackClusterKind, Name: name},
		},
	}
	if err := e.c.Create(e.ctx, cluster); err != nil {
		e.t.Fatal(err)
	}
	osc := &infrav1.OpenStackCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns,
			Labels:          map[string]string{clusterv1.ClusterNameLabel: name},
			OwnerReferences: []metav1.OwnerReference{ownerRef(cluster, "Cluster")}},
		Spec: infrav1.OpenStackClusterSpec{
			IdentityRef:           infrav1.OpenStackIdentityReference{Name: e.cloud, CloudName: openstacktest.CloudName},
			ManagedSubnets:        []infrav1.SubnetSpec{{CIDR: "10.6.0.0/24"}},
			APIServer:             &infrav1.APIServer{ManagedLoadBalancer: &infrav1.APIServerLoadBalancer{Enabled: ptr.To(true)}},
			ManagedSecurityGroups: &infrav1.ManagedSecurityGroups{AllowAllInClusterTraffic: true},
		},
	}
	if mutate != nil {
		mutate(&osc.Spec)
	}
	if err := e.c.Create(e.ctx, osc); err != nil {
		e.t.Fatal(err)
	}
	return cluster, osc
}

func ownerRef(o client.Object, kind string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: clusterv1.GroupVersion.String(), Kind: kind, Name: o.GetName(), UID: o.GetUID()}
}

// createMachine creates a Machine with its bootstrap data Secret (written
// as the kubeadm bootstrap provider writes it: test input) and its
// OpenStackMachine.
func (e *env) createMachine(cluster, name string, controlPlane bool, userData []byte, mutate func(*infrav1.OpenStackMachineSpec)) *infrav1.OpenStackMachine {
	e.t.Helper()
	if userData != nil {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-bootstrap", Namespace: e.ns},
			Type: clusterv1.ClusterSecretType,
			Data: map[string][]byte{"value": userData, "format": []byte("cloud-config")}}
		if err := e.c.Create(e.ctx, s); err != nil {
			e.t.Fatal(err)
		}
	}
	labels := map[string]string{clusterv1.ClusterNameLabel: cluster}
	if controlPlane {
		labels[clusterv1.MachineControlPlaneLabel] = ""
	}
	m := &clusterv1.Machine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: labels},
		Spec: clusterv1.MachineSpec{
			ClusterName: cluster,
			Bootstrap:   clusterv1.Bootstrap{DataSecretName: ptr.To(name + "-bootstrap")},
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{
				APIGroup: infrav1.Group, Kind: infrav1.OpenStackMachineKind, Name: name},
		},
	}
	if userData == nil {
		m.Spec.Bootstrap.DataSecretName = nil
		m.Spec.Bootstrap.ConfigRef = clusterv1.ContractVersionedObjectReference{APIGroup: "bootstrap.cluster.x-k8s.io", Kind: "KubeadmConfig", Name: name}
	}
	if err := e.c.Create(e.ctx, m); err != nil {
		e.t.Fatal(err)
	}
	osm := &infrav1.OpenStackMachine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{ownerRef(m, "Machine")}},
		Spec: infrav1.OpenStackMachineSpec{
			Flavor: infrav1.FlavorParam{Filter: &infrav1.FlavorFilter{Name: ptr.To("m1.small")}},
			Image:  infrav1.ImageParam{Filter: &infrav1.ImageFilter{Name: ptr.To(openstacktest.ImageName)}},
		},
	}
	if mutate != nil {
		mutate(&osm.Spec)
	}
	if err := e.c.Create(e.ctx, osm); err != nil {
		e.t.Fatal(err)
	}
	return osm
}

// eventually polls cond until it holds or the timeout passes.
func (e *env) eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			e.t.Fatalf("%s: not after %v; last seen: %s", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) getCluster(name string) *infrav1.OpenStackCluster {
	e.t.Helper()
	osc := &infrav1.OpenStackCluster{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, osc); err != nil {
		e.t.Fatal(err)
	}
	return osc
}

func (e *env) getMachine(name string) *infrav1.OpenStackMachine {
	e.t.Helper()
	osm := &infrav1.OpenStackMachine{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, osm); err != nil {
		e.t.Fatal(err)
	}
	return osm
}

// conditionState renders an object's conditions for failure messages.
func conditionState(o conditions.Getter) string {
	var parts []string
	for _, c := range o.GetConditions() {
		parts = append(parts, fmt.Sprintf("%s=%s/%s %q", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, "; ")
}

func (e *env) waitClusterProvisioned(name string) *infrav1.OpenStackCluster {
	e.t.Helper()
	var osc *infrav1.OpenStackCluster
	e.eventually("OpenStackCluster "+name+" provisioned", time.Minute, func() (bool, string) {
		osc = e.getCluster(name)
		return osc.Status.Initialization != nil && osc.Status.Initialization.Provisioned, conditionState(osc)
	})
	return osc
}

func (e *env) waitMachineProvisioned(name string) *infrav1.OpenStackMachine {
	e.t.Helper()
	var osm *infrav1.OpenStackMachine
	e.eventually("OpenStackMachine "+name+" provisioned", time.Minute, func() (bool, string) {
		osm = e.getMachine(name)
		return osm.Status.Initialization != nil && osm.Status.Initialization.Provisioned, conditionState(osm)
	})
	return osm
}

// waitCondition waits until the condition has the reason.
func (e *env) waitCondition(get func() conditions.Getter, typ, reason string) *metav1.Condition {
	e.t.Helper()
	var c *metav1.Condition
	e.eventually(fmt.Sprintf("condition %s with reason %s", typ, reason), time.Minute, func() (bool, string) {
		o := get()
		c = conditions.Get(o, typ)
		return c != nil && c.Reason == reason, conditionState(o)
	})
	return c
}

// deleteAndWait deletes o and waits until it is gone.
func (e *env) deleteAndWait(o client.Object) {
	e.t.Helper()
	if err := e.c.Delete(e.ctx, o); err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatal(err)
	}
	e.eventually(fmt.Sprintf("%T %s gone", o, o.GetName()), time.Minute, func() (bool, string) {
		err := e.c.Get(e.ctx, client.ObjectKeyFromObject(o), o)
		return apierrors.IsNotFound(err), fmt.Sprintf("get: %v, finalizers %v", err, o.GetFinalizers())
	})
}

// added lists the simulator's resources that are not in the base snapshot.
func (e *env) added() []string {
	base := map[string]bool{}
	for _, r := range e.base {
		base[r.Service+"/"+r.Kind+"/"+r.ID] = true
	}
	var out []string
	for _, r := range e.sim.Snapshot() {
		if !base[r.Service+"/"+r.Kind+"/"+r.ID] {
			out = append(out, r.Service+"/"+r.Kind+" "+r.Name)
		}
	}
	return out
}

// hasAdded reports whether a resource "service/kind name" was added.
func (e *env) hasAdded(want string) bool {
	for _, a := range e.added() {
		if a == want {
			return true
		}
	}
	return false
}

// countKind counts added resources of a kind ("network/port").
func (e *env) countKind(kind string) int {
	n := 0
	for _, a := range e.added() {
		if strings.HasPrefix(a, kind+" ") {
			n++
		}
	}
	return n
}

// testLogger logs to the test while it runs, and drops what comes after.
func testLogger(t testing.TB) logr.Logger {
	var done atomic.Bool
	t.Cleanup(func() { done.Store(true) })
	return funcr.New(func(prefix, args string) {
		if !done.Load() {
			t.Log(prefix, args)
		}
	}, funcr.Options{Verbosity: testVerbosity()})
}

// testVerbosity is the log verbosity of the reconcilers in tests:
// $OPENSTRAP_TEST_V, 0 by default.
func testVerbosity() int {
	v, _ := strconv.Atoi(os.Getenv("OPENSTRAP_TEST_V"))
	return v
}

// setBootstrapData does what the kubeadm bootstrap provider does once a
// machine's data is ready: writes the Secret and names it in the Machine.
func (e *env) setBootstrapData(machine string, data []byte) {
	e.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: machine + "-bootstrap", Namespace: e.ns},
		Type: clusterv1.ClusterSecretType,
		Data: map[string][]byte{"value": data, "format": []byte("cloud-config")}}
	if err := e.c.Create(e.ctx, s); err != nil {
		e.t.Fatal(err)
	}
	m := &clusterv1.Machine{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: machine}, m); err != nil {
		e.t.Fatal(err)
	}
	patch := client.MergeFrom(m.DeepCopy())
	m.Spec.Bootstrap.DataSecretName = ptr.To(s.Name)
	if err := e.c.Patch(e.ctx, m, patch); err != nil {
		e.t.Fatal(err)
	}
}
