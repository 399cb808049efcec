// Package openstrap is a Go SDK for bootstrapping and managing Kubernetes
// clusters on OpenStack the Cluster API way.
//
// It exposes each step of a cluster bootstrap as an importable, idempotent
// primitive, so platform teams can assemble their own flows, embed them in
// controllers and build test harnesses from them:
//
//  1. Infrastructure for the control plane (network, subnet, router, security
//     groups, API load balancer, floating IP): package infra.
//  2. A bootstrap (management) cluster: kind, an existing cluster, or a local
//     kube-apiserver and etcd with no Docker: package bootstrap.
//  3. Installing CRDs, provider components and the cluster's objects with
//     server-side apply: bootstrap.Install.
//  4. The first control plane machine with kubeadm user data: packages
//     userdata (PKI, tokens, kubeadm configuration, cloud-init, Ignition) and
//     provider (OpenStack access and machines).
//  5. Add-ons (CNI, cloud provider) applied to the target cluster:
//     bootstrap.Install against the target.
//  6. Pivot of the Cluster API objects to the target cluster: package pivot.
//  7. Worker machines that join with a bootstrap token: provider and userdata.
//
// Package provider/openstacktest is an in-process OpenStack API simulator for
// tests, served over real HTTP like net/http/httptest. The programs under
// examples/ are thin assemblies of these packages.
package openstrap
