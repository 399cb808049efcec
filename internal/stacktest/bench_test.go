package stacktest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/quotas"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/openstrap/openstrap/provider/api/v1beta2"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// BenchmarkMachineDeployment measures how Cluster API's controllers and
// openstrap's provider scale a MachineDeployment on the simulator with 20 ms
// of latency per OpenStack request and a 10 s server boot: the time one
// worker Machine takes to be Running with its Node, the time 100 take
// (OPENSTRAP_BENCH_MACHINES overrides the number), their ratio, the
// OpenStack calls per machine, and what a resync of every object (the
// controllers restarted) costs once they all run: it must write nothing.
// The control plane is brought up first and not timed.
//
//	go test -run '^$' -bench BenchmarkMachineDeployment -benchtime 1x ./internal/stacktest
func BenchmarkMachineDeployment(b *testing.B) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("OPENSTRAP_BENCH_MACHINES")); err == nil && v > 0 {
		n = v
	}
	env := benchSetup(b, n)
	b.ResetTimer()
	var sum benchResult
	for range b.N {
		r := env.run(b, n, 30*time.Second)
		sum.one += r.one
		sum.all += r.all
		sum.createReads += r.createReads
		sum.createWrites += r.createWrites
		sum.resyncReads += r.resyncReads
		sum.resyncWrites += r.resyncWrites
		sum.cpu += r.cpu
		sum.others += r.others
	}
	b.StopTimer()
	k := float64(b.N)
	b.ReportMetric(sum.one.Seconds()/k, "one-s")
	b.ReportMetric(sum.all.Seconds()/k, "all-s")
	ratio := float64(sum.all) / float64(sum.one)
	b.ReportMetric(ratio, "ratio")
	if ratio > 1.3 {
		// Reported, not failed: on a small shared host the stack is CPU
		// bound (see the CPU lines of the log), which says nothing about
		// a regression.
		b.Logf("%d machines took %.2fx one machine's time, over the 1.3x target", n, ratio)
	}
	b.ReportMetric(float64(sum.createReads)/k/float64(n), "create-reads/machine")
	b.ReportMetric(float64(sum.createWrites)/k/float64(n), "create-writes/machine")
	b.ReportMetric(float64(sum.resyncReads)/k/float64(n), "resync-reads/machine")
	b.ReportMetric(float64(sum.resyncWrites)/k, "resync-writes")
	b.ReportMetric(sum.cpu.Seconds()/k, "cpu-s")
	b.ReportMetric(sum.others.Seconds()/k, "others-cpu-s")
	self, children := benchMemory(b)
	b.ReportMetric(float64(self)/(1<<20), "peak-rss-MB")
	b.ReportMetric(float64(children)/(1<<20), "children-rss-MB")
	if sum.resyncWrites != 0 {
		b.Errorf("a resync of %d running machines wrote %d times to OpenStack", n, sum.resyncWrites)
	}
}

// TestMachineDeploymentScaleSmall runs BenchmarkMachineDeployment's
// scenario with 3 workers, to keep it working: every worker reaches Running
// with its Node, scaling down leaves no server or port behind, and a
// resync of the running machines makes no OpenStack write.
func TestMachineDeploymentScaleSmall(t *testing.T) {
	const n = 3
	env := benchSetup(t, n)
	r := env.run(t, n, 10*time.Second)
	if r.resyncWrites != 0 {
		t.Errorf("a resync of %d running machines wrote %d times to OpenStack", n, r.resyncWrites)
	}
	if r.createWrites == 0 {
		t.Errorf("creating %d machines made no OpenStack write", n)
	}
	self, children := benchMemory(t)
	t.Logf("peak RSS: this process %d MiB, child processes %d MiB", self>>20, children>>20)
}

// benchEnv is a management cluster with the stack running and one cluster
// whose control plane is up and whose MachineDeployment has no replica.
type benchEnv struct {
	*Env
	ns, name, md string
}

type benchResult struct {
	// cpu is the CPU time this process and its children used to bring
	// the n workers up; others what the rest of the host used meanwhile.
	cpu, others               time.Duration
	one, all                  time.Duration
	createReads, createWrites int
	resyncReads, resyncWrites int
}

// benchSetup starts the environment, raises the project's quotas for n
// workers and brings up a cluster with one control-plane Machine and an
// empty MachineDeployment.
func benchSetup(t testing.TB, n int) *benchEnv {
	t.Helper()
	e := Start(t, Options{Latency: 20 * time.Millisecond, BootDelay: 10 * time.Second})
	ctx := context.Background()
	admin, err := e.Cloud.AdminCloud(ctx)
	if err != nil {
		t.Fatal(err)
	}
	member, err := e.Cloud.Cloud(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := quotasets.Update(ctx, admin.Compute, member.ProjectID, quotasets.UpdateOpts{
		Instances: ptr.To(n + 10), Cores: ptr.To(16 * (n + 10)), RAM: ptr.To(1 << 30)}).Extract(); err != nil {
		t.Fatalf("raise the compute quota: %v", err)
	}
	if _, err := quotas.Update(ctx, admin.Network, member.ProjectID, quotas.UpdateOpts{Port: ptr.To(2*n + 50)}).Extract(); err != nil {
		t.Fatalf("raise the port quota: %v", err)
	}
	be := &benchEnv{Env: e, ns: "bench", name: "bench"}
	be.md = be.name + "-md-0"
	if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: be.ns}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.Apply(ctx, ClusterTemplate(), e.Vars(be.name, be.ns, 1, 0)); err != nil {
		t.Fatalf("apply the cluster template: %v", err)
	}
	Eventually(t, 5*time.Minute, "control plane initialized", func(ctx context.Context) (bool, string, error) {
		var c clusterv1.Cluster
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: be.ns, Name: be.name}, &c); err != nil {
			return false, "", err
		}
		return ptr.Deref(c.Status.Initialization.ControlPlaneInitialized, false),
			conditions("Cluster", c.Status.Conditions) + e.machinesState(ctx, be.ns, be.name), nil
	})
	e.waitMachines(t, be.ns, be.name, 1)
	t.Logf("control plane up in %v (not timed)", time.Since(start).Round(100*time.Millisecond))
	return be
}

// run times the MachineDeployment's scale-up from 0 to 1, back to 0, from
// 0 to n, then restarts the controllers and counts the cloud calls of
// the resync over settle.
func (e *benchEnv) run(t testing.TB, n int, settle time.Duration) benchResult {
	t.Helper()
	var r benchResult
	one := e.scaleUp(t, 1)
	r.one = one.took
	e.scaleDown(t)

	all := e.scaleUp(t, n)
	r.all, r.cpu, r.others = all.took, all.cpu, all.others
	calls := all.calls
	r.createReads, r.createWrites = calls.Reads(), calls.Writes()
	t.Logf("OpenStack calls to create %d machines: %.1f reads and %.1f writes per machine\n%s",
		n, float64(r.createReads)/float64(n), float64(r.createWrites)/float64(n), benchCalls(calls, n))
	t.Logf("one machine: %v; %d machines: %v (%.2fx)", r.one.Round(100*time.Millisecond), n,
		r.all.Round(100*time.Millisecond), float64(r.all)/float64(r.one))

	// Steady state: every object reconciled again by fresh controllers
	// (cold caches, new cloud sessions), as after an upgrade or a crash.
	ctx := context.Background()
	if err := e.StopControllers(ctx); err != nil {
		t.Fatal(err)
	}
	e.Cloud.ResetCalls()
	if err := e.StartControllers(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	calls = e.Cloud.Calls()
	r.resyncReads, r.resyncWrites = calls.Reads(), calls.Writes()
	t.Logf("resync of %d running machines over %v (controllers restarted): %d writes, %d reads (%.1f per machine)\n%s",
		n, settle, r.resyncWrites, r.resyncReads, float64(r.resyncReads)/float64(n), benchCalls(calls, n))
	if got := len(e.workerMachines(t, e.ns, e.name)); got != n {
		t.Errorf("%d worker Machines after the resync, want %d", got, n)
	}
	return r
}

// benchStages are the points of a worker's way to Running, first seen by
// polling: Machine created, bootstrap data, server submitted (provider ID), server ACTIVE,
// infrastructure provisioned, Node found, Running.
var benchStages = []string{"created", "bootstrap", "submitted", "active", "provisioned", "node", "running"}

// benchPhase is what one scale-up took: wall time, OpenStack calls, CPU
// time of this process and its children, and CPU time the rest of the host
// used meanwhile.
type benchPhase struct {
	took        time.Duration
	calls       openstacktest.Calls
	cpu, others time.Duration
}

// scaleUp scales the MachineDeployment from 0 to n and waits until n
// worker Machines are Running with their Nodes; it logs when each worker
// passed each stage.
func (e *benchEnv) scaleUp(t testing.TB, n int) benchPhase {
	t.Helper()
	ctx := context.Background()
	e.Cloud.ResetCalls()
	cpu0, busy0, total0 := benchCPU()
	procs0, api0 := benchCPUByProcess(), e.benchAPIRequests(ctx)
	seen := map[string]map[string]time.Duration{} // machine -> stage -> since start
	start := time.Now()
	e.scale(t, e.ns, e.md, int32(n))
	deadline := start.Add(10 * time.Minute)
	for {
		running := 0
		ms := e.workerMachines(t, e.ns, e.name)
		var oms infrav1.OpenStackMachineList
		if err := e.Client.List(ctx, &oms, client.InNamespace(e.ns)); err != nil {
			t.Fatal(err)
		}
		osm := map[string]infrav1.OpenStackMachine{}
		for _, m := range oms.Items {
			osm[m.Name] = m
		}
		now := time.Since(start)
		for _, m := range ms {
			s := seen[m.Name]
			if s == nil {
				s = map[string]time.Duration{}
				seen[m.Name] = s
			}
			mark := func(stage string, ok bool) {
				if _, done := s[stage]; ok && !done {
					s[stage] = now
				}
			}
			o := osm[m.Spec.InfrastructureRef.Name]
			mark("created", true)
			mark("bootstrap", m.Spec.Bootstrap.DataSecretName != nil)
			mark("submitted", ptr.Deref(o.Spec.ProviderID, "") != "")
			mark("active", ptr.Deref(o.Status.InstanceState, "") == infrav1.InstanceStateActive)
			mark("provisioned", ptr.Deref(m.Status.Initialization.InfrastructureProvisioned, false))
			mark("node", m.Status.NodeRef.Name != "")
			mark("running", m.Status.Phase == string(clusterv1.MachinePhaseRunning) && m.Status.NodeRef.Name != "")
			if _, ok := s["running"]; ok {
				running++
			}
		}
		if running == n && len(ms) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d workers running after %v:\n%s", running, n, time.Since(start).Round(time.Second), e.machinesState(ctx, e.ns, e.name))
		}
		// Polling costs the API server a list of every worker's
		// objects: often for a few, less often for many.
		time.Sleep(min(time.Second, time.Duration(n)*50*time.Millisecond+200*time.Millisecond))
	}
	p := benchPhase{took: time.Since(start), calls: e.Cloud.Calls()}
	cpu1, busy1, total1 := benchCPU()
	p.cpu = cpu1 - cpu0
	p.others = max(0, (busy1-busy0)-p.cpu)
	t.Logf("%d workers running with their Nodes in %v; when the workers passed each stage (since the scale-up):\n%s"+
		"CPU: this process and its children %.1fs (%.2f cores on average), the rest of the host %.1fs; the host was %.0f%% busy",
		n, p.took.Round(100*time.Millisecond), benchStagesTable(seen), p.cpu.Seconds(), p.cpu.Seconds()/p.took.Seconds(),
		p.others.Seconds(), 100*float64(busy1-busy0)/float64(max(1, total1-total0)))
	t.Logf("CPU by process:\n%smanagement kube-apiserver requests (verb resource):\n%s",
		benchCPUDiff(procs0, benchCPUByProcess()), benchAPIDiff(api0, e.benchAPIRequests(ctx), n))
	if errs := e.Cloud.HookErrors(); len(errs) > 0 {
		t.Errorf("%d servers failed to boot in the machine runtime; first: %v", len(errs), errs[0])
	}
	e.checkCloud(t, e.ns, e.name)
	return p
}

// scaleDown scales the MachineDeployment to 0 and waits until only the
// control plane is left, in the objects, the cloud and the workload
// cluster.
func (e *benchEnv) scaleDown(t testing.TB) {
	t.Helper()
	e.scale(t, e.ns, e.md, 0)
	e.waitMachines(t, e.ns, e.name, 1)
	Eventually(t, 5*time.Minute, "only the control plane's server left", func(ctx context.Context) (bool, string, error) {
		s := e.Servers()
		return len(s) == 1, fmt.Sprint(s), nil
	})
	e.checkCloud(t, e.ns, e.name)
}

// benchStagesTable lists, per stage, when the first, the median and the
// last worker passed it.
func benchStagesTable(seen map[string]map[string]time.Duration) string {
	var b strings.Builder
	for _, st := range benchStages {
		var ds []time.Duration
		for _, s := range seen {
			if d, ok := s[st]; ok {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			fmt.Fprintf(&b, "  %-12s never seen\n", st)
			continue
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		r := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
		fmt.Fprintf(&b, "  %-12s first %-7v median %-7v last %v\n", st, r(ds[0]), r(ds[len(ds)/2]), r(ds[len(ds)-1]))
	}
	return b.String()
}

// benchCalls lists the calls by operation, with their count per machine.
func benchCalls(c openstacktest.Calls, n int) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %5d (%5.2f/machine) %s\n", c[k], float64(c[k])/float64(n), k)
	}
	return b.String()
}

// benchDescendants lists the processes descended from this one: the
// management cluster's and the workload control planes' kube-apiserver,
// etcd and kube-controller-manager.
func benchDescendants() []int {
	parent := map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if f := benchStat(strconv.Itoa(pid)); len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				parent[pid] = ppid
			}
		}
	}
	me := os.Getpid()
	var out []int
	for pid := range parent {
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == me {
				out = append(out, pid)
				break
			}
		}
	}
	sort.Ints(out)
	return out
}

// benchStat returns the fields of /proc/<pid>/stat after the command name
// (state, ppid, ...); nil when the process is gone.
func benchStat(pid string) []string {
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return nil
	}
	// pid (comm) state ppid ...; comm may hold spaces.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

// benchClockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const benchClockTick = 10 * time.Millisecond

// benchCPU returns the CPU time used so far by this process and its live
// descendants, and the host's busy and total CPU time (all cores) from
// /proc/stat, so that a phase's share of the host can be told from what
// other programs on the host took.
func benchCPU() (ours, hostBusy, hostTotal time.Duration) {
	byProc := benchCPUByProcess()
	for _, d := range byProc {
		ours += d
	}
	hostBusy, hostTotal = benchHostCPU()
	return ours, hostBusy, hostTotal
}

// benchCPUByProcess returns the CPU time used so far by this process
// ("self") and each live descendant ("<comm> <pid>").
func benchCPUByProcess() map[string]time.Duration {
	ticks := func(pid string) int64 {
		f := benchStat(pid)
		if len(f) < 13 {
			return 0
		}
		u, _ := strconv.ParseInt(f[11], 10, 64) // utime (field 14)
		s, _ := strconv.ParseInt(f[12], 10, 64) // stime (field 15)
		return u + s
	}
	out := map[string]time.Duration{"self": time.Duration(ticks("self")) * benchClockTick}
	for _, pid := range benchDescendants() {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		out[fmt.Sprintf("%s %d", strings.TrimSpace(string(comm)), pid)] = time.Duration(ticks(strconv.Itoa(pid))) * benchClockTick
	}
	return out
}

// benchHostCPU returns the host's busy and total CPU time, all cores.
func benchHostCPU() (hostBusy, hostTotal time.Duration) {
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		var busy, total int64
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			if i >= 8 { // guest times are already in user and nice
				break
			}
			total += n
			if i != 3 && i != 4 {
				busy += n
			}
		}
		hostBusy, hostTotal = time.Duration(busy)*benchClockTick, time.Duration(total)*benchClockTick
	}
	return hostBusy, hostTotal
}

// benchCPUDiff lists the CPU time each process used between two
// benchCPUByProcess readings, most first.
func benchCPUDiff(before, after map[string]time.Duration) string {
	type row struct {
		name string
		d    time.Duration
	}
	var rows []row
	for k, v := range after {
		rows = append(rows, row{k, v - before[k]})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].d > rows[j].d })
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  %6.1fs %s\n", r.d.Seconds(), r.name)
	}
	return b.String()
}

// benchAPIRequests reads the management kube-apiserver's request counters
// (apiserver_request_total) summed by verb and resource.
func (e *benchEnv) benchAPIRequests(ctx context.Context) map[string]float64 {
	cs, err := kubernetes.NewForConfig(e.Mgmt.RESTConfig())
	if err != nil {
		return nil
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, val, ok := strings.Cut(line[len("apiserver_request_total{"):], "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		var verb, res, sub string
		for _, kv := range strings.Split(labels, ",") {
			k, x, _ := strings.Cut(kv, "=")
			x = strings.Trim(x, `"`)
			switch k {
			case "verb":
				verb = x
			case "resource":
				res = x
			case "subresource":
				sub = x
			}
		}
		if sub != "" {
			res += "/" + sub
		}
		out[verb+" "+res] += v
	}
	return out
}

// benchAPIDiff lists the busiest request kinds between two readings.
func benchAPIDiff(before, after map[string]float64, n int) string {
	type row struct {
		k string
		v float64
	}
	var rows []row
	total := 0.0
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			rows = append(rows, row{k, d})
			total += d
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].v > rows[j].v })
	var b strings.Builder
	fmt.Fprintf(&b, "  %6.0f requests in all (%.1f per machine)\n", total, total/float64(n))
	for i, r := range rows {
		if i == 20 {
			break
		}
		fmt.Fprintf(&b, "  %6.0f (%5.1f/machine) %s\n", r.v, r.v/float64(n), r.k)
	}
	return b.String()
}

// benchMemory returns this process's peak resident set (VmHWM) and the sum
// of the peak resident sets of its descendant processes, logging each
// descendant's.
func benchMemory(t testing.TB) (self, children int64) {
	t.Helper()
	self = benchProcKB("self", "VmHWM") << 10
	var lines []string
	for _, pid := range benchDescendants() {
		kb := benchProcKB(strconv.Itoa(pid), "VmHWM")
		children += kb << 10
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		lines = append(lines, fmt.Sprintf("  %-24s pid %-7d peak %d MiB", strings.TrimSpace(string(comm)), pid, kb>>10))
	}
	sort.Strings(lines)
	t.Logf("peak RSS: this process %d MiB; descendants %d MiB:\n%s", self>>20, children>>20, strings.Join(lines, "\n"))
	return self, children
}

// benchProcKB reads a "Name: N kB" field of /proc/<pid>/status; 0 when
// absent.
func benchProcKB(pid, field string) int64 {
	f, err := os.Open(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return v
	}
	return 0
}
