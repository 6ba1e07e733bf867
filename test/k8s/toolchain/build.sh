#!/usr/bin/env bash
# Builds the Kubernetes control plane (kube-apiserver, kube-controller-manager, kube-scheduler), etcd
# and helm that the Kubernetes test layer runs. There is no container engine on the machines we test on
# and only package registries are reachable, so the binaries come from the Go module proxy, pinned by
# the two Go modules next to this script (their go.sum files make the build reproducible).
#
# The result goes to a cache outside the repository, keyed by the Kubernetes version:
#   ${DYNAMO_K8S_CACHE:-$HOME/.cache/dynamo-k8s}/<version>/bin/
# A cold build takes many minutes on two cores, so it runs at the lowest CPU priority, and re-running
# it with the cache in place returns at once. Binaries are built into a temporary directory and only
# moved into place, together with a completion stamp, when every one of them built: an interrupted
# build never looks complete.
#
# Usage: test/k8s/toolchain/build.sh          build if needed, print the bin directory
#        test/k8s/toolchain/build.sh --print  print the bin directory without building (exit 1 if missing)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The pinned releases. The Kubernetes version must match the requirement in kube/go.mod, and the
# helm version the one in helm/go.mod; the check below refuses to build when they drift apart.
K8S_VERSION="v1.36.3"
HELM_VERSION="v3.22.0"

cache_root="${DYNAMO_K8S_CACHE:-$HOME/.cache/dynamo-k8s}"
dest="$cache_root/$K8S_VERSION"
stamp="$dest/bin/.complete"
binaries=(kube-apiserver kube-controller-manager kube-scheduler etcd helm)

is_complete() {
  [[ -f "$stamp" ]] || return 1
  for b in "${binaries[@]}"; do [[ -x "$dest/bin/$b" ]] || return 1; done
  # The stamp records which helm was built, so bumping helm alone rebuilds.
  grep -qx "helm=$HELM_VERSION" "$stamp"
}

if [[ "${1:-}" == "--print" ]]; then
  is_complete || { echo "toolchain $K8S_VERSION not built; run npm run k8s:toolchain" >&2; exit 1; }
  echo "$dest/bin"
  exit 0
fi

if is_complete; then
  echo "$dest/bin"
  exit 0
fi

grep -qE "^(require )?[[:space:]]*k8s.io/kubernetes $K8S_VERSION( |\$)" "$here/kube/go.mod" \
  || { echo "kube/go.mod does not require k8s.io/kubernetes $K8S_VERSION" >&2; exit 2; }
grep -qE "^(require )?[[:space:]]*helm.sh/helm/v3 $HELM_VERSION( |\$)" "$here/helm/go.mod" \
  || { echo "helm/go.mod does not require helm.sh/helm/v3 $HELM_VERSION" >&2; exit 2; }
command -v go >/dev/null || { echo "go is not installed; the toolchain needs Go 1.26" >&2; exit 2; }

mkdir -p "$cache_root"
work="$(mktemp -d "$cache_root/.build-$K8S_VERSION.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# -mod=readonly makes a go.sum that does not cover the graph an error instead of a silent update;
# -p bounds parallel compile jobs so the machine stays usable; DYNAMO_K8S_BUILD_JOBS overrides it.
export CGO_ENABLED=0
export GOFLAGS="-mod=readonly -trimpath -buildvcs=false -p=${DYNAMO_K8S_BUILD_JOBS:-2}"

# Version information is normally stamped by Kubernetes' own make rules; without it /version would
# report v0.0.0, so the same variables are set here.
k8s_pkg="k8s.io/component-base/version"
major="$(echo "$K8S_VERSION" | cut -d. -f1 | tr -d v)"
minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
k8s_ldflags="-s -w -X $k8s_pkg.gitVersion=$K8S_VERSION -X $k8s_pkg.gitMajor=$major -X $k8s_pkg.gitMinor=$minor"
k8s_ldflags="$k8s_ldflags -X $k8s_pkg.gitTreeState=clean -X $k8s_pkg.buildDate=1970-01-01T00:00:00Z"
# client-go carries its own copy of the version variables, read by some components' user agents.
k8s_ldflags="$k8s_ldflags -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
k8s_ldflags="$k8s_ldflags -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"

build() {
  local dir="$1" out="$2" ldflags="$3" pkg="$4"
  local started=$SECONDS
  echo "building $out ($pkg)" >&2
  (cd "$here/$dir" && nice -n 19 go build -ldflags "$ldflags" -o "$work/$out" "$pkg")
  echo "built $out in $((SECONDS - started))s" >&2
}

build kube etcd "-s -w" ./cmd/etcd
build kube kube-apiserver "$k8s_ldflags" k8s.io/kubernetes/cmd/kube-apiserver
build kube kube-controller-manager "$k8s_ldflags" k8s.io/kubernetes/cmd/kube-controller-manager
build kube kube-scheduler "$k8s_ldflags" k8s.io/kubernetes/cmd/kube-scheduler
build helm helm "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" helm.sh/helm/v3/cmd/helm

printf 'k8s=%s\nhelm=%s\n' "$K8S_VERSION" "$HELM_VERSION" > "$work/.complete"
# Replace any earlier partial result, then move the finished set in with one rename.
rm -rf "$dest/bin"
mkdir -p "$dest"
chmod 755 "$work"
mv "$work" "$dest/bin"
trap - EXIT
echo "$dest/bin"
