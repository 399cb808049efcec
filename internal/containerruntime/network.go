package containerruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/openstrap/openstrap/internal/podman"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// unreachableMetric is the metric of the host routes that keep tenant
// ranges on this machine: above the bridge's connected route (0), so they
// only apply when the bridge is gone.
const unreachableMetric = 4242

// Chain names inside containers' network namespaces.
const (
	chainLB     = "OPENSTRAP-LB"
	chainLBMasq = "OPENSTRAP-LB-MASQ"
)

// netwrk is one Neutron network as a podman network.
type netwrk struct {
	neutronID     string
	name          string // podman network name
	podmanID      string
	bridge        string
	cidr, gateway string
	users         int // containers using it
}

// forwardChain is the host FORWARD chain of this runtime.
func (r *Runtime) forwardChain() string { return "OSCRT-" + r.opts.Instance }

// run runs a host command; errors carry its output (never secrets: these
// are ip, iptables and nsenter commands).
func run(ctx context.Context, stdin []byte, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureForwardChain creates the runtime's FORWARD chain and its jump.
func (r *Runtime) ensureForwardChain(ctx context.Context) error {
	c := r.forwardChain()
	if run(ctx, nil, "iptables", "-w", "-S", c) != nil {
		if err := run(ctx, nil, "iptables", "-w", "-N", c); err != nil {
			return err
		}
	}
	if run(ctx, nil, "iptables", "-w", "-C", "FORWARD", "-j", c) != nil {
		if err := run(ctx, nil, "iptables", "-w", "-I", "FORWARD", "1", "-j", c); err != nil {
			return err
		}
	}
	r.chain = true
	return nil
}

// forwardRules are the rules that keep a tenant bridge's traffic on it.
func forwardRules(bridge string) [][]string {
	reject := []string{"-j", "REJECT", "--reject-with", "icmp-net-unreachable"}
	return [][]string{
		append([]string{"-i", bridge, "!", "-o", bridge}, reject...),
		append([]string{"!", "-i", bridge, "-o", bridge}, reject...),
	}
}

func (r *Runtime) addForwardRules(ctx context.Context, bridge string) error {
	for _, rule := range forwardRules(bridge) {
		if run(ctx, nil, "iptables", append([]string{"-w", "-C", r.forwardChain()}, rule...)...) == nil {
			continue
		}
		if err := run(ctx, nil, "iptables", append([]string{"-w", "-A", r.forwardChain()}, rule...)...); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runtime) removeForwardRules(ctx context.Context, bridge string) error {
	var errs []error
	for _, rule := range forwardRules(bridge) {
		for run(ctx, nil, "iptables", append([]string{"-w", "-C", r.forwardChain()}, rule...)...) == nil {
			if err := run(ctx, nil, "iptables", append([]string{"-w", "-D", r.forwardChain()}, rule...)...); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return errors.Join(errs...)
}

func (r *Runtime) addUnreachableRoute(ctx context.Context, cidr string) error {
	return run(ctx, nil, "ip", "route", "replace", "unreachable", cidr, "metric", strconv.Itoa(unreachableMetric))
}

// networkName is the podman network of a Neutron network.
func (r *Runtime) networkName(neutronID, neutronName string) string {
	n := strings.Trim(invalidName.ReplaceAllString(neutronName, "-"), "-._")
	if len(n) > 30 {
		n = n[:30]
	}
	id := neutronID
	if len(id) > 8 {
		id = id[:8]
	}
	return "openstrap-" + r.opts.Instance + "-" + n + "-" + id
}

// acquireNetwork returns the podman network of a Neutron network, creating
// it (and its unreachable route and FORWARD rules) on first use, and counts
// one more user.
func (r *Runtime) acquireNetwork(ctx context.Context, neutronID, neutronName, cidr, gateway string) (*netwrk, error) {
	r.netMu.Lock()
	defer r.netMu.Unlock()
	if n := r.networks[neutronID]; n != nil {
		n.users++
		return n, nil
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return nil, fmt.Errorf("network %s: subnet %q is not an IPv4 CIDR", neutronID, cidr)
	}
	// The route first: from now on the range must never leave the host.
	if err := r.addUnreachableRoute(ctx, p.Masked().String()); err != nil {
		return nil, err
	}
	r.routes[p.Masked().String()] = true
	if err := r.persistLocked(); err != nil {
		return nil, err
	}
	spec := podman.NetworkSpec{
		Name:     r.networkName(neutronID, neutronName),
		Subnets:  []podman.Subnet{{Subnet: p.Masked().String(), Gateway: gateway}},
		Internal: true,
		Labels:   map[string]string{LabelInstance: r.opts.Instance, LabelNetwork: neutronID},
	}
	// podman refuses a subnet holding an address of the host ("is already
	// used on the host"), and a load balancer made before the network's
	// first server has put its VIP on lo: take such VIPs off meanwhile.
	var lifted []string
	for vip := range r.vips {
		if a, err := netip.ParseAddr(vip); err == nil && p.Contains(a) {
			if err := delVIP(ctx, vip); err != nil {
				return nil, err
			}
			lifted = append(lifted, vip)
		}
	}
	pn, err := r.opts.Engine.CreateNetwork(ctx, spec)
	for _, vip := range lifted {
		if aerr := run(ctx, nil, "ip", "addr", "replace", vip+"/32", "dev", "lo"); aerr != nil {
			err = errors.Join(err, aerr)
		}
	}
	if err != nil {
		if pn != nil && pn.ID != "" {
			_ = r.opts.Engine.RemoveNetwork(context.WithoutCancel(ctx), pn.ID)
		}
		return nil, fmt.Errorf("creating the container network of Neutron network %s (%s): %w", neutronID, cidr, err)
	}
	n := &netwrk{neutronID: neutronID, name: pn.Name, podmanID: pn.ID, bridge: pn.Interface, cidr: spec.Subnets[0].Subnet, users: 1}
	if len(pn.Subnets) > 0 {
		n.gateway = pn.Subnets[0].Gateway
	}
	if err := r.addForwardRules(ctx, n.bridge); err != nil {
		_ = r.opts.Engine.RemoveNetwork(context.WithoutCancel(ctx), n.podmanID)
		return nil, err
	}
	r.networks[neutronID] = n
	r.log.V(1).Info("network created", "neutron", neutronID, "podman", n.podmanID, "bridge", n.bridge, "cidr", n.cidr)
	return n, nil
}

// releaseNetwork drops one user of a network and removes the podman
// network (by ID) with its last one. The unreachable route stays until
// Close.
func (r *Runtime) releaseNetwork(ctx context.Context, neutronID string) {
	r.netMu.Lock()
	defer r.netMu.Unlock()
	n := r.networks[neutronID]
	if n == nil {
		return
	}
	if n.users--; n.users > 0 {
		return
	}
	if err := r.removeNetwork(ctx, n); err != nil {
		r.log.Error(err, "removing a container network", "neutron", neutronID)
	}
}

// removeNetwork removes a podman network and its FORWARD rules. Callers
// hold netMu.
func (r *Runtime) removeNetwork(ctx context.Context, n *netwrk) error {
	err := r.opts.Engine.RemoveNetwork(ctx, n.podmanID)
	if err != nil {
		return err
	}
	delete(r.networks, n.neutronID)
	r.log.V(1).Info("network removed", "neutron", n.neutronID, "podman", n.podmanID)
	return r.removeForwardRules(ctx, n.bridge)
}

// removeNetworks removes every network, route, VIP address and the FORWARD
// chain (Close).
func (r *Runtime) removeNetworks(ctx context.Context) []error {
	r.netMu.Lock()
	defer r.netMu.Unlock()
	var errs []error
	for _, n := range r.networks {
		if err := r.removeNetwork(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	for cidr := range r.routes {
		if err := run(ctx, nil, "ip", "route", "del", "unreachable", cidr, "metric", strconv.Itoa(unreachableMetric)); err != nil &&
			!strings.Contains(err.Error(), "No such process") {
			errs = append(errs, err)
			continue
		}
		delete(r.routes, cidr)
	}
	for vip := range r.vips {
		if err := delVIP(ctx, vip); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(r.vips, vip)
	}
	if err := r.persistLocked(); err != nil {
		errs = append(errs, err)
	}
	if r.chain {
		c := r.forwardChain()
		for run(ctx, nil, "iptables", "-w", "-C", "FORWARD", "-j", c) == nil {
			if err := run(ctx, nil, "iptables", "-w", "-D", "FORWARD", "-j", c); err != nil {
				errs = append(errs, err)
				break
			}
		}
		if err := run(ctx, nil, "iptables", "-w", "-F", c); err != nil {
			errs = append(errs, err)
		} else if err := run(ctx, nil, "iptables", "-w", "-X", c); err != nil {
			errs = append(errs, err)
		} else {
			r.chain = false
		}
	}
	return errs
}

// setupNetns gives a container's network namespace a default route via its
// subnet's gateway (the host: kubeadm and kubelet need a default route;
// the FORWARD chain keeps it from leading off the machine) and
// route_localnet, which the load balancer's 127.x DNAT needs.
func (r *Runtime) setupNetns(ctx context.Context, pid int, gateway string) error {
	p := strconv.Itoa(pid)
	if gateway != "" {
		if err := run(ctx, nil, "nsenter", "-t", p, "-n", "ip", "route", "replace", "default", "via", gateway); err != nil {
			return err
		}
	}
	return run(ctx, nil, "nsenter", "-t", p, "-n", "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1")
}

// netnsLBRules is the iptables-restore input for a container: each
// floating IP:port of a frontend DNATed to its VIP:port, and 127.x sources
// masqueraded on the way out.
func netnsLBRules(fronts []openstacktest.Frontend) []byte {
	var b strings.Builder
	b.WriteString("*nat\n:" + chainLB + " - [0:0]\n:" + chainLBMasq + " - [0:0]\n")
	seen := map[string]bool{}
	for _, f := range fronts {
		if f.VIPAddress == "" || strings.Contains(f.VIPAddress, ":") || !forwarded(f) {
			continue
		}
		for _, fip := range f.FloatingIPs {
			key := fip + ":" + strconv.Itoa(f.Port)
			if seen[key] {
				continue
			}
			seen[key] = true
			fmt.Fprintf(&b, "-A %s -d %s/32 -p tcp -m tcp --dport %d -j DNAT --to-destination %s:%d\n", chainLB, fip, f.Port, f.VIPAddress, f.Port)
		}
	}
	b.WriteString("-A " + chainLBMasq + " -s 127.0.0.0/8 ! -o lo -j MASQUERADE\nCOMMIT\n")
	return []byte(b.String())
}

// applyNetnsLB writes the load balancer chains into the network namespace
// of the process pid (a container's init) and hooks them into nat OUTPUT
// and POSTROUTING.
func (r *Runtime) applyNetnsLB(ctx context.Context, pid int, fronts []openstacktest.Frontend) error {
	p := strconv.Itoa(pid)
	if err := run(ctx, netnsLBRules(fronts), "nsenter", "-t", p, "-n", "iptables-restore", "-w", "--noflush"); err != nil {
		return err
	}
	for _, j := range [][2]string{{"OUTPUT", chainLB}, {"POSTROUTING", chainLBMasq}} {
		if run(ctx, nil, "nsenter", "-t", p, "-n", "iptables", "-w", "-t", "nat", "-C", j[0], "-j", j[1]) == nil {
			continue
		}
		if err := run(ctx, nil, "nsenter", "-t", p, "-n", "iptables", "-w", "-t", "nat", "-I", j[0], "1", "-j", j[1]); err != nil {
			return err
		}
	}
	return nil
}

// applyVIPs puts every frontend's VIP on the host's loopback as a /32 (so
// the host answers for it on the tenant bridges, and the forwarder can
// listen on it) and removes VIPs no frontend has any more.
func (r *Runtime) applyVIPs(ctx context.Context, fronts []openstacktest.Frontend) error {
	want := map[string]bool{}
	for _, f := range fronts {
		if a, err := netip.ParseAddr(f.VIPAddress); err == nil && a.Is4() {
			want[f.VIPAddress] = true
		}
	}
	r.netMu.Lock()
	defer r.netMu.Unlock()
	var add, del []string
	for v := range want {
		if !r.vips[v] {
			add = append(add, v)
		}
	}
	for v := range r.vips {
		if !want[v] {
			del = append(del, v)
		}
	}
	sort.Strings(add)
	var errs []error
	for _, v := range add {
		if err := run(ctx, nil, "ip", "addr", "replace", v+"/32", "dev", "lo"); err != nil {
			errs = append(errs, err)
			continue
		}
		r.vips[v] = true
	}
	for _, v := range del {
		if err := delVIP(ctx, v); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(r.vips, v)
	}
	if err := r.persistLocked(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// hostState is what the runtime added to the host outside podman, kept in
// Dir so that a runtime restarted on it (Resume, Close) removes it too.
type hostState struct {
	Routes []string `json:"routes"`
	VIPs   []string `json:"vips"`
}

func (r *Runtime) hostStateFile() string { return filepath.Join(r.opts.Dir, "host-state.json") }

// loadHostState reads the routes and VIPs a previous runtime on Dir added.
func (r *Runtime) loadHostState() error {
	b, err := os.ReadFile(r.hostStateFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var st hostState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("containerruntime: %s: %w", r.hostStateFile(), err)
	}
	for _, c := range st.Routes {
		r.routes[c] = true
	}
	for _, v := range st.VIPs {
		r.vips[v] = true
	}
	return nil
}

// persistLocked writes the routes and VIPs. Callers hold netMu.
func (r *Runtime) persistLocked() error {
	st := hostState{Routes: []string{}, VIPs: []string{}}
	for c := range r.routes {
		st.Routes = append(st.Routes, c)
	}
	for v := range r.vips {
		st.VIPs = append(st.VIPs, v)
	}
	sort.Strings(st.Routes)
	sort.Strings(st.VIPs)
	b, _ := json.Marshal(st)
	tmp := r.hostStateFile() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, r.hostStateFile())
}

// delVIP removes a VIP from lo; one already gone is not an error.
func delVIP(ctx context.Context, vip string) error {
	err := run(ctx, nil, "ip", "addr", "del", vip+"/32", "dev", "lo")
	if err != nil && (strings.Contains(err.Error(), "Address not found") || strings.Contains(err.Error(), "Cannot assign requested address")) {
		return nil
	}
	return err
}
