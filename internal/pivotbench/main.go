// Command pivotbench compares pivot.Move with `clusterctl move` on the same
// generated Cluster API graph between the same two real API servers.
//
// It starts two API servers (kube-apiserver + etcd, via internal/kubetest) with
// Cluster API's CRDs and OpenStack stand-in CRDs, loads two identical graphs of
// N clusters x M machines into the first one (namespaces bench-clusterctl and
// bench-pivot), warms the LISTs of every type on both servers, moves the first
// namespace with clusterctl (built by internal/tools) and the second with
// pivot.Move, checks that each moved every object and which kept status, and
// prints both wall times and their ratio.
//
//	go run ./internal/pivotbench -clusters 10 -machines 20
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/openstrap/openstrap/internal/kubetest"
	"github.com/openstrap/openstrap/internal/pivotbench/capigraph"
	"github.com/openstrap/openstrap/internal/tools"
	"github.com/openstrap/openstrap/pivot"
)

func main() {
	clusters := flag.Int("clusters", 10, "clusters in the graph")
	machines := flag.Int("machines", 20, "worker machines per cluster")
	cp := flag.Int("control-plane", 1, "control plane machines per cluster")
	concurrency := flag.Int("concurrency", 16, "pivot.Move concurrency")
	skipClusterctl := flag.Bool("skip-clusterctl", false, "time pivot.Move only")
	phases := flag.Bool("phases", false, "print pivot.Move's phases with their start times")
	flag.Parse()
	// controller-runtime (inside envtest) complains with a stack trace unless a logger is set.
	ctrllog.SetLogger(logr.Discard())
	if err := run(*clusters, *machines, *cp, *concurrency, *skipClusterctl, *phases); err != nil {
		fmt.Fprintln(os.Stderr, "pivotbench:", err)
		os.Exit(1)
	}
}

const (
	nsClusterctl = "bench-clusterctl"
	nsPivot      = "bench-pivot"
)

func run(clusters, machines, cp, concurrency int, skipClusterctl, phases bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	crdDir, err := capigraph.CRDDir()
	if err != nil {
		return err
	}
	clusterctl := ""
	if !skipClusterctl {
		if clusterctl, err = tools.Path(ctx, tools.Clusterctl); err != nil {
			return fmt.Errorf("build clusterctl: %w", err)
		}
	}
	opts := kubetest.Options{ClusterAPICRDs: true, CRDDirectoryPaths: []string{crdDir}}
	var a, b *kubetest.Env
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { a, errA = kubetest.Start(ctx, opts) })
	wg.Go(func() { b, errB = kubetest.Start(ctx, opts) })
	wg.Wait()
	defer func() {
		for _, e := range []*kubetest.Env{a, b} {
			if e != nil {
				_ = e.Stop()
			}
		}
	}()
	if err := errors.Join(errA, errB); err != nil {
		return err
	}

	spec := capigraph.Spec{Clusters: clusters, Machines: machines, ControlPlaneMachines: cp}
	namespaces := []string{nsPivot}
	if !skipClusterctl {
		namespaces = append(namespaces, nsClusterctl)
	}
	var want []*unstructured.Unstructured
	for _, ns := range namespaces {
		spec.Namespace = ns
		objs := capigraph.Objects(spec)
		want = objs
		start := time.Now()
		if err := capigraph.Load(ctx, a.Config, objs, 32); err != nil {
			return fmt.Errorf("load %s: %w", ns, err)
		}
		fmt.Printf("loaded %d objects into %s in %s\n", len(objs), ns, time.Since(start).Round(time.Millisecond))
	}
	for _, e := range []*kubetest.Env{a, b} {
		if err := warm(ctx, e.Config); err != nil {
			return err
		}
	}

	var tClusterctl time.Duration
	if !skipClusterctl {
		tClusterctl, err = runClusterctl(ctx, clusterctl, a, b)
		if err != nil {
			return err
		}
		if err := check(ctx, "clusterctl move", a.Config, b.Config, nsClusterctl, want); err != nil {
			return err
		}
	}
	start := time.Now()
	progress := func(e pivot.Event) {
		if phases && e.Kind == "" {
			fmt.Printf("  %7.3fs %s\n", time.Since(start).Seconds(), e)
		}
	}
	rep, err := pivot.Move(ctx, a.Config, b.Config, pivot.Options{Namespace: nsPivot, Concurrency: concurrency, Progress: progress})
	tPivot := time.Since(start)
	if err != nil {
		return fmt.Errorf("pivot.Move: %w", err)
	}
	if err := check(ctx, "pivot.Move", a.Config, b.Config, nsPivot, want); err != nil {
		return err
	}
	fmt.Printf("graph: %d clusters x %d machines (+%d control plane), %d objects per move\n", clusters, machines, cp, len(want))
	fmt.Printf("pivot.Move:      %8.2fs (created %d, deleted %d)\n", tPivot.Seconds(), rep.Created, rep.Deleted)
	if !skipClusterctl {
		fmt.Printf("clusterctl move: %8.2fs\n", tClusterctl.Seconds())
		fmt.Printf("ratio pivot/clusterctl: %.3f (clusterctl %.1fx slower)\n", tPivot.Seconds()/tClusterctl.Seconds(), tClusterctl.Seconds()/tPivot.Seconds())
	}
	return nil
}

func runClusterctl(ctx context.Context, bin string, a, b *kubetest.Env) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "pivotbench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	paths := map[*kubetest.Env]string{a: filepath.Join(dir, "a.kubeconfig"), b: filepath.Join(dir, "b.kubeconfig")}
	for e, p := range paths {
		kc, err := e.Kubeconfig()
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(p, kc, 0o600); err != nil {
			return 0, err
		}
	}
	cmd := exec.CommandContext(ctx, bin, "move", "--kubeconfig", paths[a], "--to-kubeconfig", paths[b], "--namespace", nsClusterctl,
		"--config", filepath.Join(dir, "clusterctl.yaml"))
	cmd.Env = append(os.Environ(), "CLUSTERCTL_DISABLE_VERSIONCHECK=true", "HOME="+dir, "XDG_CONFIG_HOME="+dir)
	if err := os.WriteFile(filepath.Join(dir, "clusterctl.yaml"), []byte("{}\n"), 0o600); err != nil {
		return 0, err
	}
	out := &limitedBuffer{max: 4000}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("clusterctl move: %w\n%s", err, out.b)
	}
	return d, nil
}

// limitedBuffer keeps the last max bytes of a command's output.
type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > l.max {
		l.b = l.b[len(l.b)-l.max:]
	}
	return len(p), nil
}

// warm lists every type of every CRD (and Secrets, ConfigMaps) twice: the first
// LIST of a CRD type on a fresh API server is slow, and neither tool should pay
// for it in the timing.
func warm(ctx context.Context, cfg *rest.Config) error {
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	gvrs := []schema.GroupVersionResource{{Version: "v1", Resource: "secrets"}, {Version: "v1", Resource: "configmaps"}}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	crds, err := d.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("warm: list CRDs: %w", err)
	}
	for _, crd := range crds.Items {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			if m, ok := v.(map[string]any); ok && m["served"] == true {
				gvrs = append(gvrs, schema.GroupVersionResource{Group: group, Version: m["name"].(string), Resource: plural})
			}
		}
	}
	for range 2 {
		for _, gvr := range gvrs {
			if _, err := d.Resource(gvr).List(ctx, metav1.ListOptions{}); err != nil {
				return fmt.Errorf("warm %s: %w", gvr, err)
			}
		}
	}
	return nil
}

// check verifies that every generated object moved from a to b in ns, and
// reports how many of the objects that had a status kept it.
func check(ctx context.Context, who string, a, b *rest.Config, ns string, want []*unstructured.Unstructured) error {
	da, err := dynamic.NewForConfig(a)
	if err != nil {
		return err
	}
	db, err := dynamic.NewForConfig(b)
	if err != nil {
		return err
	}
	index := func(d dynamic.Interface) (map[string]*unstructured.Unstructured, error) {
		out := map[string]*unstructured.Unstructured{}
		for kind, gvr := range capigraph.Resource {
			list, err := d.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			for i := range list.Items {
				out[kind+"/"+list.Items[i].GetName()] = &list.Items[i]
			}
		}
		return out, nil
	}
	src, err := index(da)
	if err != nil {
		return err
	}
	dst, err := index(db)
	if err != nil {
		return err
	}
	var missing, left []string
	withStatus, keptStatus := 0, 0
	for _, o := range want {
		key := o.GetKind() + "/" + o.GetName()
		if src[key] != nil {
			left = append(left, key)
		}
		got := dst[key]
		if got == nil {
			missing = append(missing, key)
			continue
		}
		if st, ok := o.Object["status"].(map[string]any); ok && len(st) > 0 {
			withStatus++
			if equality.Semantic.DeepEqual(normalize(st), normalize(got.Object["status"])) {
				keptStatus++
			}
		}
	}
	if len(missing) > 0 || len(left) > 0 {
		return fmt.Errorf("%s: %d objects missing in the target (e.g. %v), %d left in the source (e.g. %v)",
			who, len(missing), head(missing), len(left), head(left))
	}
	fmt.Printf("%s: all %d objects moved; status kept on %d of %d objects that had one\n", who, len(want), keptStatus, withStatus)
	return nil
}

// normalize round-trips v through JSON so that number types compare alike.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}
