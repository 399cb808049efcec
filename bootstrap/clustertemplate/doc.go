// Package clustertemplate is the cluster template of openstrap's
// create-cluster flow: the declared objects of one cluster, as a Cluster API
// user writes them, with clusterctl's variables.
//
// The template (Template, cluster-template.yaml in this package) holds the
// identity Secret (the clouds.yaml), the Cluster, its OpenStackCluster, a
// KubeadmControlPlane with its OpenStackMachineTemplate, a MachineDeployment
// with its KubeadmConfigTemplate and OpenStackMachineTemplate, and a
// MachineHealthCheck that replaces workers whose Node stays NotReady or
// unreachable, or never appears. Every object is one that Cluster API's and
// openstrap's CRDs accept as written, and that openstrap's provider
// implements: no field it refuses with an InvalidSpec condition. Since no
// admission webhook runs in openstrap's stack, the fields Cluster API's
// defaulting webhooks would set are written out.
//
// Values is the typed input: Validate checks it offline and names the
// field, its template variable, the value and what to do; Vars gives the
// variable map. A user may print Template, edit it, and render or apply the
// edited text with the same variables.
//
// # Rendering
//
// There is one substitution: bootstrap's. Render calls bootstrap.Substitute;
// bootstrap.Install with bootstrap.Variables(vals.Vars()) substitutes the
// same way while it applies. Render is for showing, checking or storing
// the objects (Decode turns them into typed objects); Install for applying
// them. Either way a variable without a value or default is an error that
// names it, and nothing is applied.
//
// # Day two
//
// Applying the template again with other Values converges the cluster:
// counts scale the control plane and the workers. The names of the
// OpenStackMachineTemplates end in a suffix Vars derives from the flavor,
// image and key of the machines, so a new flavor or image makes a new
// template and the KubeadmControlPlane or MachineDeployment replaces its
// machines one by one; templates are never changed in place. The old
// template stays until deleted.
//
// # Secrets
//
// Values.CloudsYAML and Values.CACert, and Vars' OPENSTACK_CLOUD_YAML_B64
// and OPENSTACK_CLOUD_CACERT_B64, hold credentials: nothing in this package
// puts them into an error, and Values' String and GoString leave them out,
// so a Values printed or logged by mistake shows no credential. The
// rendered manifest holds them: treat it as a Secret.
package clustertemplate
