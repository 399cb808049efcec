// Package capicrds embeds the CustomResourceDefinitions of Cluster API that
// openstrap's in-process controller stack needs: Cluster API core, the
// kubeadm bootstrap provider (CABPK), the kubeadm control-plane provider
// (KCP) and clusterctl's provider inventory.
//
// The YAML under crds/ is generated, never edited: `go generate
// ./internal/capicrds` (or `go run ./internal/capicrds/gen`) copies the bases
// from the sigs.k8s.io/cluster-api module pinned in go.mod and patches them:
//
//   - only the storage version (v1beta2; v1alpha3 for the inventory) is
//     served. The bases carry no conversion section (the conversion webhooks
//     are wired by kustomize patches upstream), so serving v1beta1 beside
//     v1beta2 would hand out v1beta2 data labelled v1beta1. The old versions
//     stay in the CRD with served: false, so that an upgrade over a CRD whose
//     status.storedVersions still lists them is accepted by the API server.
//   - the labels `clusterctl init` puts on them: clusterctl.cluster.x-k8s.io
//     and cluster.x-k8s.io/provider (cluster-api, bootstrap-kubeadm,
//     control-plane-kubeadm) on provider CRDs; clusterctl move discovers the
//     kinds it moves by the first one. The inventory CRD gets
//     clusterctl.cluster.x-k8s.io/core=inventory, as clusterctl gives it.
//   - the contract label cluster.x-k8s.io/v1beta2=v1beta2 on the kubeadm
//     bootstrap and control-plane CRDs (upstream's kustomization adds it):
//     Cluster API resolves the version of a reference (apiGroup + kind) from
//     that label.
//
// A test regenerates from the module cache and fails when the embedded copy
// differs, so a change of the pin without regenerating is caught.
//
// Everything here is read-only data: the accessors decode a fresh copy on
// every call and are safe for concurrent use.
package capicrds

//go:generate go run ./gen
