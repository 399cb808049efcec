# The README's test command is `make test`; .ci/run runs it.
SHELL := /bin/bash
GO ?= go

# Packages cheap enough to run under the race detector (no Kubernetes
# machinery to rebuild with -race).
RACE_PKGS := ./provider/... ./infra/... ./userdata/... ./internal/retry/...
# ...except these, under ./provider but built on controller-runtime, Cluster
# API and a real kube-apiserver: they run without -race.
K8S_PKGS = /provider/(api|controllers)(/|$$)

.PHONY: test host tools vet unit fuzz realstack generate verify-generate

# The whole suite: on the in-process OpenStack simulator, then the
# OpenStack-facing tests again on real OpenStack services (realstack).
test: host tools vet unit fuzz realstack

# The host packages container machines need (podman, debootstrap, gcc, and
# docker.io for the Docker engine path's tests; its service stays stopped),
# installed when missing (root).
host:
	bash .ci/host-setup.sh

# Build kube-apiserver, kube-controller-manager, etcd, kubeadm, kubectl,
# clusterctl and the node binaries (kubelet, kube-scheduler, kube-proxy,
# crictl, coredns, pause) from the Go module proxy into the tools cache, and
# the node image container machines boot (debootstrap + those binaries, in
# podman's storage), up front (cold: ~30-40 min on 2 cores; warm: seconds),
# so no test waits on a build.
tools:
	$(GO) run ./internal/tools/cmd/build-tools -crds -node-image

# The API types' deepcopy functions and CRDs (provider/api/v1beta2), made
# by controller-gen. controller-gen is pinned by its own module
# (internal/tools/controllergen) so that importers of openstrap do not
# inherit controller-tools; it is built into a temporary directory, and Go's
# build cache makes that cheap after the first time.
generate:
	@set -e; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	  $(GO) build -C internal/tools/controllergen -o "$$bin/controller-gen" sigs.k8s.io/controller-tools/cmd/controller-gen; \
	  rm -f provider/api/v1beta2/crd/*.yaml; \
	  "$$bin/controller-gen" object paths=./provider/api/v1beta2/... \
	    crd:crdVersions=v1 output:crd:artifacts:config=provider/api/v1beta2/crd

# Regenerates into the tree and fails when that changed any generated file
# (in CI, a clean clone: when the committed files are not what the types
# generate). Edited types with their regenerated files pass uncommitted.
verify-generate:
	@set -e; before=$$(mktemp -d); trap 'rm -rf "$$before"' EXIT; \
	  cp -R provider/api/v1beta2/zz_generated.deepcopy.go provider/api/v1beta2/crd "$$before/"; \
	  $(MAKE) --no-print-directory generate; \
	  if ! diff -ru "$$before/crd" provider/api/v1beta2/crd || \
	     ! diff -u "$$before/zz_generated.deepcopy.go" provider/api/v1beta2/zz_generated.deepcopy.go; then \
	    echo "make generate changed the files above: commit what it generated"; exit 1; fi

vet: verify-generate
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v /testdata/)); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list $(RACE_PKGS) | grep -v -E '$(K8S_PKGS)')
	$(GO) test -count=1 -timeout 45m $$($(GO) list ./... | grep -v -E '/(provider|infra|userdata)(/|$$)|/internal/retry$$') \
	  $$($(GO) list $(RACE_PKGS) | grep -E '$(K8S_PKGS)')

# Each fuzz target briefly; go test allows one -fuzz target per run.
fuzz:
	for f in FuzzRenderInit FuzzRenderJoin FuzzParse; do \
	  $(GO) test ./userdata -run '^$$' -fuzz "^$$f\$$" -fuzztime 15s -fuzzminimizetime 5s || exit 1; \
	done

# The OpenStack-facing tests again, on real OpenStack services (Debian's Zed
# on 127.0.0.1, installed and started by internal/realstack; root needed;
# cold ~7 min, warm ~5 min).
realstack:
	OPENSTRAP_REALSTACK_NICE=$${OPENSTRAP_REALSTACK_NICE:-0} bash .ci/realstack-lane.sh
