package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	lbquotas "github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/quotas"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	netquotas "github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/quotas"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/openstrap/openstrap/bootstrap"
	"github.com/openstrap/openstrap/infra"
	"github.com/openstrap/openstrap/internal/machines"
	"github.com/openstrap/openstrap/internal/simhost"
	"github.com/openstrap/openstrap/internal/tools"
	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
	"github.com/openstrap/openstrap/userdata"
)

// The checks of every flag and input, before the first write: validate looks
// at the flags alone; preflight runs it and also reads the input files, the
// bootstrap cluster's prerequisites and the cloud (read only). run calls
// preflight first, for --dry-run too, so that every problem is reported at
// once.

// inputError is preflight's error: bad flags or inputs (exit code 2).
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// simFlavor is the simulator's default flavor for the machines.
const simFlavor = "m1.medium"

// maxNameLen is infra's limit on a cluster name (infra.Spec.Validate): every
// cloud resource is named "<name>-..." within OpenStack's name limits.
const maxNameLen = 40

// reservedCIDRs are what the node subnet must not overlap.
var reservedCIDRs = []struct{ cidr, what string }{
	{userdata.DefaultPodCIDR, "the pods' network (kubeadm's podSubnet; the node image routes 10.244.N.0/24)"},
	{userdata.DefaultServiceCIDR, "the cluster's Service network"},
	{"127.0.0.0/8", "loopback (the simulator's and realstack's floating IPs live there)"},
	{"169.254.0.0/16", "link-local (cloud-init reads the metadata service at 169.254.169.254)"},
	{"224.0.0.0/3", "multicast and reserved addresses"},
	{"0.0.0.0/8", "\"this network\""},
}

// podmanDefaultNetwork is what the simulator's container machines' subnet
// must not overlap: podman refuses to create such a network, and the server
// goes to ERROR (internal/containerruntime's TestSpawnFailure).
var podmanDefaultNetwork = struct{ cidr, what string }{"10.88.0.0/16", "podman's default network (container machines get a podman network of the node CIDR)"}

// simDefaults fills in the machines' image, flavor and external network of
// the simulated cloud.
func simDefaults(c *config) {
	setDefault(&c.Image, openstacktest.ImageName)
	setDefault(&c.Flavor, simFlavor)
	setDefault(&c.ExternalNetwork, openstacktest.ExternalNetwork)
}

// bootstrapMode splits --bootstrap into local, kind or kubeconfig and its path.
func bootstrapMode(b string) (mode, path string, ok bool) {
	switch {
	case b == "local" || b == "kind":
		return b, "", true
	case strings.HasPrefix(b, "kubeconfig="):
		return "kubeconfig", strings.TrimPrefix(b, "kubeconfig="), true
	}
	return "", "", false
}

// machineNames are the names of the cluster's machines, control planes first.
func machineNames(c *config) []string {
	var out []string
	for i := 0; i < c.ControlPlanes; i++ {
		out = append(out, fmt.Sprintf("%s-control-plane-%d", c.Name, i))
	}
	for i := 0; i < c.Workers; i++ {
		out = append(out, fmt.Sprintf("%s-worker-%d", c.Name, i))
	}
	return out
}

// validate checks the flags alone, with no I/O, and reports every problem.
func (c *config) validate() error {
	var errs []error
	bad := func(flag string, value any, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %q: %s", flag, fmt.Sprint(value), fmt.Sprintf(format, args...)))
	}

	if msgs := validation.IsDNS1123Label(c.Name); len(msgs) > 0 {
		bad("--name", c.Name, "not a DNS-1123 label (%s): use lower-case letters, digits and '-', such as demo", strings.Join(msgs, "; "))
	} else if err := (infra.Spec{Cluster: c.Name, NodeCIDR: "10.6.0.0/24", ExternalNetwork: "x", APIServer: infra.APIServer{Port: infra.DefaultAPIServerPort}}).Validate(); err != nil {
		bad("--name", c.Name, "%d characters: the cloud resources are named after it; use at most %d", len(c.Name), maxNameLen)
	} else if c.ControlPlanes > 0 && c.Workers >= 0 {
		// The longest machine names (the last of each role).
		all := machineNames(c)
		for _, n := range []string{all[c.ControlPlanes-1], all[len(all)-1]} {
			if msgs := validation.IsDNS1123Label(n); len(msgs) > 0 {
				bad("--name", c.Name, "machine name %q is not a DNS-1123 label (%s): use a shorter name or fewer machines", n, strings.Join(msgs, "; "))
			}
		}
	}

	if c.Dir == "" {
		bad("--dir", c.Dir, "required: a directory for the cluster's local state")
	}

	if c.NodeCIDR == "" {
		bad("--node-cidr", c.NodeCIDR, "required: an IPv4 network such as 10.6.0.0/24")
	} else {
		spec := infra.Spec{Cluster: "x", NodeCIDR: c.NodeCIDR, ExternalNetwork: "x"}
		spec.Default()
		if err := spec.Validate(); err != nil {
			bad("--node-cidr", c.NodeCIDR, "want an IPv4 network address with a prefix of at most /29, such as 10.6.0.0/24")
		} else {
			p := netip.MustParsePrefix(c.NodeCIDR)
			reserved := reservedCIDRs
			if c.Cloud == "" && c.Machines != machines.Processes {
				reserved = append(reserved[:len(reserved):len(reserved)], podmanDefaultNetwork)
			}
			for _, r := range reserved {
				if q := netip.MustParsePrefix(r.cidr); q.Overlaps(p) {
					bad("--node-cidr", c.NodeCIDR, "overlaps %s, %s: pick another range, such as 10.6.0.0/24", r.cidr, r.what)
				}
			}
		}
	}

	if c.ControlPlanes < 1 {
		bad("--control-plane-count", c.ControlPlanes, "at least 1 is needed")
	}
	if c.Workers < 0 {
		bad("--worker-count", c.Workers, "must not be negative")
	}
	if c.JoinTimeout <= 0 {
		bad("--join-timeout", c.JoinTimeout, "must be positive, such as 5m")
	}

	c.validateVersion(bad)

	switch mode, path, ok := bootstrapMode(c.Bootstrap); {
	case !ok:
		bad("--bootstrap", c.Bootstrap, "want local (kube-apiserver and etcd processes, no container engine), kind, or kubeconfig=PATH of an existing cluster")
	case mode == "kubeconfig" && path == "":
		bad("--bootstrap", c.Bootstrap, "kubeconfig= needs the path of the kubeconfig, such as kubeconfig=$HOME/.kube/config")
	}

	switch c.Machines {
	case machines.Auto, machines.Containers, machines.Processes:
	default:
		bad("--machines", c.Machines, "want auto, containers or processes")
	}

	if c.Cloud != "" {
		for _, f := range []struct{ flag, v string }{{"--image", c.Image}, {"--flavor", c.Flavor}, {"--external-network", c.ExternalNetwork}} {
			if f.v == "" {
				errs = append(errs, fmt.Errorf("%s is required with --cloud %q: give its name or ID on that cloud", f.flag, c.Cloud))
			}
		}
	}
	return errors.Join(errs...)
}

// validateVersion checks --kubernetes-version: a full vX.Y.Z that openstrap
// writes kubeadm configuration for and, on the simulator, the one version
// its node image and tools are built for (tools.KubernetesVersion). On a real
// cloud the image's kubeadm decides; that cannot be read before a server
// boots.
func (c *config) validateVersion(bad func(flag string, value any, format string, args ...any)) {
	const flag = "--kubernetes-version"
	v := c.KubernetesVersion
	sv, err := version.ParseSemantic(v)
	if err != nil || !strings.HasPrefix(v, "v") {
		bad(flag, v, "want a full version vX.Y.Z, such as %s", tools.KubernetesVersion)
		return
	}
	if _, err := userdata.KubeadmAPIVersion(v); err != nil {
		bad(flag, v, "openstrap writes kubeadm configuration for Kubernetes v1.22 and newer 1.x releases; use one of them, such as %s", tools.KubernetesVersion)
		return
	}
	if c.Cloud == "" && sv.String() != strings.TrimPrefix(tools.KubernetesVersion, "v") {
		bad(flag, v, "the simulated OpenStack's machines run Kubernetes %s only (its node image and tools are built for it): use --kubernetes-version %s, or --cloud with an image that has kubeadm %s",
			tools.KubernetesVersion, tools.KubernetesVersion, v)
	}
}

// preflight runs every check before the flow makes anything: the flags
// (validate), --dir, the recorded machine runtime, the bootstrap cluster's
// prerequisites, the add-on manifests and the cloud (read-only calls). It
// reports every problem at once. On the simulator it fills in the default
// image, flavor and external network first.
func preflight(ctx context.Context, c *config) error {
	if c.Cloud == "" {
		simDefaults(c)
	}
	errs := []error{c.validate()}
	flagsOK := errs[0] == nil
	errs = append(errs, checkDir(c.Dir))
	if c.Cloud == "" && c.Dir != "" {
		if err := simhost.CheckKind(filepath.Join(c.Dir, "cloud"), c.Machines); err != nil {
			errs = append(errs, fmt.Errorf("--machines %s: %w", c.Machines, err))
		}
	}
	errs = append(errs, checkBootstrap(ctx, c.Bootstrap), checkAddons(c))
	if flagsOK {
		// The cloud checks need a valid name, CIDR and counts.
		errs = append(errs, checkCloud(ctx, c))
	}
	if err := errors.Join(errs...); err != nil {
		return &inputError{err}
	}
	return nil
}

// checkDir checks that --dir is, or can be made, a writable directory,
// without making it.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	p := dir
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("--dir %q: %s is not a directory: give a directory for the cluster's state", dir, p)
			}
			const wx = 2 | 1 // W_OK | X_OK
			if err := syscall.Access(p, wx); err != nil {
				return fmt.Errorf("--dir %q: %s is not writable (%v): give a directory you may write to", dir, p, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("--dir %q: %w", dir, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// checkBootstrap checks what the bootstrap cluster needs: for kind a
// container engine that answers (as bootstrap.Kind picks it), for
// kubeconfig=PATH a kubeconfig whose current context reaches a cluster.
func checkBootstrap(ctx context.Context, b string) error {
	mode, path, ok := bootstrapMode(b)
	if !ok {
		return nil // validate reported it
	}
	switch mode {
	case "kind":
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := bootstrap.KindAvailable(ctx); err != nil {
			return fmt.Errorf("--bootstrap %q: kind cannot run here: %w; start docker or podman, or use --bootstrap local (no container engine needed)", b, err)
		}
	case "kubeconfig":
		if path == "" {
			return nil
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("--bootstrap %q: %w: give the path of an existing kubeconfig", b, err)
		}
		kc, err := clientcmd.LoadFromFile(path)
		if err != nil {
			return fmt.Errorf("--bootstrap %q: %s is not a kubeconfig (%v): give the kubeconfig of a running cluster", b, path, err)
		}
		if _, err := clientcmd.NewDefaultClientConfig(*kc, nil).ClientConfig(); err != nil {
			return fmt.Errorf("--bootstrap %q: %s does not give a usable cluster (%v): fix its current-context", b, path, err)
		}
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := bootstrap.Existing(ctx, bootstrap.KubeconfigFile(path)); err != nil {
			return fmt.Errorf("--bootstrap %q: %w: start that cluster or give another kubeconfig", b, err)
		}
	}
	return nil
}

// addonFiles lists the manifests of --addons: the file, or the directory's
// *.yaml and *.yml files in name order.
func addonFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--addons %q: %w: give a YAML file or a directory of them", path, err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(path, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("--addons %q: the directory holds no .yaml or .yml files: give a YAML file or a directory of them", path)
	}
	return files, nil
}

// addonVars are the variables step 5 substitutes in the add-on manifests.
func addonVars(c *config, endpoint string) map[string]string {
	return map[string]string{"CLUSTER_NAME": c.Name, "API_ENDPOINT": endpoint,
		"NODE_CIDR": c.NodeCIDR, "KUBERNETES_VERSION": c.KubernetesVersion}
}

// checkAddons reads every --addons manifest and decodes it as step 5's
// bootstrap.Install will (apimachinery's YAML decoder, variables substituted;
// the endpoint, not known yet, by a placeholder): each document must be a
// Kubernetes object with apiVersion, kind and metadata.name.
func checkAddons(c *config) error {
	if c.Addons == "" {
		return nil
	}
	files, err := addonFiles(c.Addons)
	if err != nil {
		return err
	}
	vars := addonVars(c, "https://192.0.2.1:6443")
	var errs []error
	objects := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("--addons %q: %w", c.Addons, err))
			continue
		}
		objs, err := bootstrap.Decode([][]byte{b}, bootstrap.Variables(vars), bootstrap.VariablesFromEnv())
		switch {
		case errors.Is(err, bootstrap.ErrMissingVariables):
			errs = append(errs, fmt.Errorf("--addons %q: %s: %w", c.Addons, f, err))
		case err != nil:
			errs = append(errs, fmt.Errorf("--addons %q: %s: %w: fix the manifest (each document a Kubernetes object with apiVersion, kind and metadata.name)", c.Addons, f, err))
		}
		objects += len(objs)
	}
	if len(errs) == 0 && objects == 0 {
		errs = append(errs, fmt.Errorf("--addons %q: no Kubernetes objects in %s: give manifests with at least one object", c.Addons, strings.Join(files, ", ")))
	}
	return errors.Join(errs...)
}

// checkCloud checks, with read-only calls, that --image, --flavor,
// --external-network and --ssh-key exist on the cloud and that its quota
// leaves room for the machines and the infrastructure not made yet. On the
// simulator (no --cloud) it asks the cluster's simulator when it runs (a
// resumed run), else an in-memory simulator with the same catalogue and
// default quota as the background one would start with: starting that is
// the first write.
func checkCloud(ctx context.Context, c *config) error {
	var cloud *provider.Cloud
	var err error
	simDir := filepath.Join(c.Dir, "cloud")
	switch {
	case c.Cloud == "" && simhost.Running(ctx, simDir):
		// A resumed run: ask the cluster's own simulator, which holds what
		// the user added and what the cluster has.
		if cloud, err = provider.Connect(ctx, provider.WithCloudsYAML(simhost.Paths{Dir: simDir}.CloudsYAML()), provider.WithCloud(simhost.CloudName)); err != nil {
			return fmt.Errorf("check the flags against the running simulated OpenStack: %w", err)
		}
	case c.Cloud == "":
		srv, err := openstacktest.NewServer()
		if err != nil {
			return fmt.Errorf("check the flags against the simulated OpenStack's catalogue: %w", err)
		}
		defer srv.Close()
		if cloud, err = srv.Cloud(ctx); err != nil {
			return fmt.Errorf("check the flags against the simulated OpenStack's catalogue: %w", err)
		}
	default:
		if cloud, err = provider.Connect(ctx, provider.WithCloud(c.Cloud)); err != nil {
			return fmt.Errorf("--cloud %q: %w: name an entry of clouds.yaml (OS_CLIENT_CONFIG_FILE names another file) whose credentials work", c.Cloud, err)
		}
	}
	where := "the simulated OpenStack"
	if c.Cloud != "" {
		where = fmt.Sprintf("cloud %q", c.Cloud)
	}
	var errs []error
	flavor, err := findFlavor(ctx, cloud, c.Flavor, where)
	errs = append(errs, err)
	errs = append(errs, findImage(ctx, cloud, c.Image, where))
	extOK := true
	if err := findExternalNetwork(ctx, cloud, c.ExternalNetwork, where); err != nil {
		extOK = false
		errs = append(errs, err)
	}
	if c.SSHKey != "" {
		if _, err := keypairs.Get(ctx, cloud.Compute, c.SSHKey, nil).Extract(); err != nil {
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				errs = append(errs, fmt.Errorf("--ssh-key %q: no such key pair on %s: create it (openstack keypair create) or give another", c.SSHKey, where))
			} else {
				errs = append(errs, fmt.Errorf("--ssh-key %q: %s", c.SSHKey, provider.Describe(err)))
			}
		}
	}
	if flavor != nil && extOK {
		errs = append(errs, checkQuota(ctx, c, cloud, flavor))
	}
	return errors.Join(errs...)
}

// names lists up to 10 names for an error's hint.
func names(all []string) string {
	sort.Strings(all)
	if len(all) > 10 {
		return strings.Join(all[:10], ", ") + fmt.Sprintf(" and %d more", len(all)-10)
	}
	if len(all) == 0 {
		return "none"
	}
	return strings.Join(all, ", ")
}

func findFlavor(ctx context.Context, cloud *provider.Cloud, ref, where string) (*flavors.Flavor, error) {
	if ref == "" {
		return nil, nil
	}
	pages, err := flavors.ListDetail(cloud.Compute, nil).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("--flavor %q: list the flavors of %s: %s", ref, where, provider.Describe(err))
	}
	all, err := flavors.ExtractFlavors(pages)
	if err != nil {
		return nil, fmt.Errorf("--flavor %q: %w", ref, err)
	}
	var byName []flavors.Flavor
	var known []string
	for _, f := range all {
		if f.ID == ref {
			return &f, nil
		}
		if f.Name == ref {
			byName = append(byName, f)
		}
		known = append(known, f.Name)
	}
	switch len(byName) {
	case 1:
		return &byName[0], nil
	case 0:
		return nil, fmt.Errorf("--flavor %q: no such flavor on %s: use one of %s", ref, where, names(known))
	}
	var ids []string
	for _, f := range byName {
		ids = append(ids, f.ID)
	}
	return nil, fmt.Errorf("--flavor %q: %d flavors have that name on %s: give one of the IDs %s", ref, len(byName), where, names(ids))
}

func findImage(ctx context.Context, cloud *provider.Cloud, ref, where string) error {
	if ref == "" {
		return nil
	}
	im, err := images.Get(ctx, cloud.Image, ref).Extract()
	switch {
	case err == nil && im.Status == images.ImageStatusActive:
		return nil
	case err == nil:
		return fmt.Errorf("--image %q: the image is %s on %s, not active: give an active image", ref, im.Status, where)
	case !gophercloud.ResponseCodeIs(err, http.StatusNotFound) && !gophercloud.ResponseCodeIs(err, http.StatusBadRequest):
		return fmt.Errorf("--image %q: get the image on %s: %s", ref, where, provider.Describe(err))
	}
	pages, err := images.List(cloud.Image, images.ListOpts{Status: images.ImageStatusActive}).AllPages(ctx)
	if err != nil {
		return fmt.Errorf("--image %q: list the images of %s: %s", ref, where, provider.Describe(err))
	}
	all, err := images.ExtractImages(pages)
	if err != nil {
		return fmt.Errorf("--image %q: %w", ref, err)
	}
	var known, ids []string
	for _, im := range all {
		if im.Name == ref && im.Status == images.ImageStatusActive {
			ids = append(ids, im.ID)
		}
		known = append(known, im.Name)
	}
	switch len(ids) {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("--image %q: no active image of that name or ID on %s: use one of %s", ref, where, names(known))
	}
	return fmt.Errorf("--image %q: %d active images have that name on %s: give one of the IDs %s", ref, len(ids), where, names(ids))
}

func findExternalNetwork(ctx context.Context, cloud *provider.Cloud, ref, where string) error {
	if ref == "" {
		return nil
	}
	ext := true
	pages, err := networks.List(cloud.Network, external.ListOptsExt{ListOptsBuilder: networks.ListOpts{}, External: &ext}).AllPages(ctx)
	if err != nil {
		return fmt.Errorf("--external-network %q: list the external networks of %s: %s", ref, where, provider.Describe(err))
	}
	all, err := networks.ExtractNetworks(pages)
	if err != nil {
		return fmt.Errorf("--external-network %q: %w", ref, err)
	}
	var known, ids []string
	for _, n := range all {
		if n.ID == ref {
			return nil
		}
		if n.Name == ref {
			ids = append(ids, n.ID)
		}
		known = append(known, n.Name)
	}
	switch len(ids) {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("--external-network %q: no such external network on %s: use one of %s", ref, where, names(known))
	}
	return fmt.Errorf("--external-network %q: %d external networks have that name on %s: give one of the IDs %s", ref, len(ids), where, names(ids))
}

// checkQuota compares what the flow would still create with the project's
// quota and usage: instances, cores and RAM of the machines not made yet
// (Nova), the networks, subnets, routers, security group rules, ports and
// floating IPs infra's plan would create plus the machines' ports (Neutron),
// and the load balancer (Octavia). A quota API the cloud does not offer or
// the user may not read is skipped, as provider's own pre-flight does.
func checkQuota(ctx context.Context, c *config, cloud *provider.Cloud, flavor *flavors.Flavor) error {
	skippable := func(err error) bool {
		return gophercloud.ResponseCodeIs(err, http.StatusNotFound) || gophercloud.ResponseCodeIs(err, http.StatusForbidden)
	}
	// Machines that exist already (a resumed run) need nothing.
	compute := *cloud.Compute
	compute.Microversion = "2.26" // server tags
	tag := provider.OwnershipTag(c.Name)
	pages, err := servers.List(&compute, servers.ListOpts{Tags: tag}).AllPages(ctx)
	if err != nil {
		return fmt.Errorf("list the servers of cluster %q: %s", c.Name, provider.Describe(err))
	}
	srvs, err := servers.ExtractServers(pages)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, s := range srvs {
		if s.Tags != nil && slices.Contains(*s.Tags, tag) {
			have[s.Name] = true
		}
	}
	newMachines := 0
	for _, n := range machineNames(c) {
		if !have[n] {
			newMachines++
		}
	}
	plan, err := infra.New(cloud).Plan(ctx, infra.Spec{Cluster: c.Name, NodeCIDR: c.NodeCIDR, ExternalNetwork: c.ExternalNetwork})
	if err != nil {
		return fmt.Errorf("plan the infrastructure: %w", err)
	}
	creates := map[string]int{}
	for _, ch := range plan.Changes {
		if ch.Action == infra.ActionCreate {
			creates[ch.Resource]++
		}
	}
	qe := &provider.QuotaError{Cloud: cloud.Name, Machines: newMachines}
	check := func(resource string, need, inUse, limit int) {
		if need > 0 && limit >= 0 && inUse+need > limit {
			qe.Shortages = append(qe.Shortages, provider.QuotaShortage{Resource: resource, Need: need, InUse: inUse, Limit: limit})
		}
	}
	var errs []error
	if newMachines > 0 {
		lim, err := limits.Get(ctx, cloud.Compute, nil).Extract()
		switch {
		case err == nil:
			a := lim.Absolute
			check("instances", newMachines, a.TotalInstancesUsed, a.MaxTotalInstances)
			check("cores", newMachines*flavor.VCPUs, a.TotalCoresUsed, a.MaxTotalCores)
			check("ram", newMachines*flavor.RAM, a.TotalRAMUsed, a.MaxTotalRAMSize)
		case !skippable(err):
			errs = append(errs, fmt.Errorf("read the compute quota: %s", provider.Describe(err)))
		}
	}
	if cloud.ProjectID != "" {
		q, err := netquotas.GetDetail(ctx, cloud.Network, cloud.ProjectID).Extract()
		switch {
		case err == nil:
			used := func(d netquotas.QuotaDetail) int { return d.Used + d.Reserved }
			check("networks", creates["network"], used(q.Network), q.Network.Limit)
			check("subnets", creates["subnet"], used(q.Subnet), q.Subnet.Limit)
			check("routers", creates["router"], used(q.Router), q.Router.Limit)
			check("security groups", creates["security group"], used(q.SecurityGroup), q.SecurityGroup.Limit)
			check("security group rules", creates["security group rule"], used(q.SecurityGroupRule), q.SecurityGroupRule.Limit)
			check("floating IPs", creates["floating IP"], used(q.FloatingIP), q.FloatingIP.Limit)
			// A port per new machine, the router interface and the load
			// balancer's VIP.
			check("ports", newMachines+creates["router interface"]+creates["load balancer"], used(q.Port), q.Port.Limit)
		case !skippable(err):
			errs = append(errs, fmt.Errorf("read the network quota: %s", provider.Describe(err)))
		}
	}
	if n := creates["load balancer"]; n > 0 && cloud.LoadBalancer != nil && cloud.ProjectID != "" {
		err := lbQuota(ctx, cloud, n, check)
		if err != nil && !skippable(err) {
			errs = append(errs, fmt.Errorf("read the load balancer quota: %s", provider.Describe(err)))
		}
	}
	if len(qe.Shortages) > 0 {
		errs = append(errs, fmt.Errorf("--control-plane-count %d, --worker-count %d, --flavor %q: %w", c.ControlPlanes, c.Workers, c.Flavor, qe))
	}
	return errors.Join(errs...)
}

// lbQuota checks the Octavia load balancer quota (-1: unlimited) against the
// project's load balancers.
func lbQuota(ctx context.Context, cloud *provider.Cloud, need int, check func(string, int, int, int)) error {
	q, err := lbquotas.Get(ctx, cloud.LoadBalancer, cloud.ProjectID).Extract()
	if err != nil || q.Loadbalancer < 0 {
		return err
	}
	pages, err := loadbalancers.List(cloud.LoadBalancer, loadbalancers.ListOpts{ProjectID: cloud.ProjectID}).AllPages(ctx)
	if err != nil {
		return err
	}
	lbs, err := loadbalancers.ExtractLoadBalancers(pages)
	if err != nil {
		return err
	}
	check("load balancers", need, len(lbs), q.Loadbalancer)
	return nil
}
