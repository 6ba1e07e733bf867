#!/usr/bin/env bash
# Builds the binaries of the Kubernetes test layer: the control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler), the node (kubelet, kube-proxy, containerd with its runc shim and ctr, the CNI plugins), the cluster
# add-ons (CoreDNS, metrics-server), helm for the chart tests and, on request, kubectl for people. There is no
# container engine or image registry on the machines we test on and only package registries are reachable, so every
# binary comes from the Go module proxy, pinned by the Go modules next to this script (their go.sum files make the
# build reproducible). runc comes from the distribution (see .ci/run).
#
# The result goes to a cache outside the repository, keyed by the Kubernetes version:
#   ${DYNAMO_K8S_CACHE:-$HOME/.cache/dynamo-k8s}/<version>/bin/        (CNI plugins in bin/cni/)
# Each binary is built into a temporary file and renamed into place, and bin/.complete records, per group of
# binaries, the release and module graph they were built from: an interrupted build never looks complete, bumping one
# pin rebuilds its group (and, through go.sum, any group whose libraries it moves), and adding a binary to a group
# builds only that binary. A cold build takes many minutes on two cores, so it runs at the lowest CPU priority and
# with bounded parallelism; re-running it with the cache in place returns at once. Two builds never run at once: the second waits for the first and then finds its work done.
#
# Usage: test/k8s/toolchain/build.sh [--with-kubectl]   build what is missing, print the bin directory
#        test/k8s/toolchain/build.sh --print [NAME...]  print the bin directory; exit 1 if any of the named binaries
#                                                       (default: all but kubectl) is missing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The pinned releases. Each must match the requirement in its module's go.mod; the check below refuses to build when
# they drift apart.
K8S_VERSION="v1.36.3"
ETCD_VERSION="v3.6.8"
HELM_VERSION="v3.22.0"
CONTAINERD_VERSION="v2.3.7"
CNI_PLUGINS_VERSION="v1.9.1"
COREDNS_VERSION="v1.14.7"
METRICS_SERVER_VERSION="v0.9.0"

cache_root="${DYNAMO_K8S_CACHE:-$HOME/.cache/dynamo-k8s}"
dest="$cache_root/$K8S_VERSION/bin"
stamp="$dest/.complete"

mode=build
with_kubectl=false
wanted=()
for arg in "$@"; do
  case "$arg" in
    --print) mode=print ;;
    --with-kubectl) with_kubectl=true ;;
    -*) echo "usage: $0 [--with-kubectl] | --print [NAME...]" >&2; exit 2 ;;
    *) wanted+=("$arg") ;;
  esac
done
if [[ "$mode" == build && ${#wanted[@]} -gt 0 ]]; then echo "usage: $0 [--with-kubectl] | --print [NAME...]" >&2; exit 2; fi

# group|pinned version|module directory|required module@version (checked against go.mod)
groups=(
  "etcd|$ETCD_VERSION|kube|go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  "k8s|$K8S_VERSION|kube|k8s.io/kubernetes $K8S_VERSION"
  "helm|$HELM_VERSION|../../go-tools|helm.sh/helm/v3 $HELM_VERSION"
  "containerd|$CONTAINERD_VERSION|kube|github.com/containerd/containerd/v2 $CONTAINERD_VERSION"
  "cni|$CNI_PLUGINS_VERSION|kube|github.com/containernetworking/plugins $CNI_PLUGINS_VERSION"
  "coredns|$COREDNS_VERSION|kube|github.com/coredns/coredns $COREDNS_VERSION"
  "metrics-server|$METRICS_SERVER_VERSION|kube|sigs.k8s.io/metrics-server $METRICS_SERVER_VERSION"
)

# Version information is normally stamped by each project's own make rules; without it /version and the user agents
# would report v0.0.0, so the same variables are set here.
k8s_pkg="k8s.io/component-base/version"
major="$(echo "$K8S_VERSION" | cut -d. -f1 | tr -d v)"
minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
k8s_ldflags="-s -w -X $k8s_pkg.gitVersion=$K8S_VERSION -X $k8s_pkg.gitMajor=$major -X $k8s_pkg.gitMinor=$minor"
k8s_ldflags="$k8s_ldflags -X $k8s_pkg.gitTreeState=clean -X $k8s_pkg.buildDate=1970-01-01T00:00:00Z"
# client-go carries its own copy of the version variables, read by some components' user agents.
k8s_ldflags="$k8s_ldflags -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
k8s_ldflags="$k8s_ldflags -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
containerd_ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
cni_ldflags="-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION"
metrics_server_ldflags="-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION"

# binary (path under bin/)|group|module directory|package|ldflags
# The order is the build order: what the tests need first, and binaries that share most compiled packages together so
# the Go build cache serves the later ones.
binaries=(
  "etcd|etcd|kube|./cmd/etcd|-s -w"
  "kube-apiserver|k8s|kube|k8s.io/kubernetes/cmd/kube-apiserver|$k8s_ldflags"
  "kube-controller-manager|k8s|kube|k8s.io/kubernetes/cmd/kube-controller-manager|$k8s_ldflags"
  "kube-scheduler|k8s|kube|k8s.io/kubernetes/cmd/kube-scheduler|$k8s_ldflags"
  "kubelet|k8s|kube|k8s.io/kubernetes/cmd/kubelet|$k8s_ldflags"
  "kube-proxy|k8s|kube|k8s.io/kubernetes/cmd/kube-proxy|$k8s_ldflags"
  "containerd|containerd|kube|github.com/containerd/containerd/v2/cmd/containerd|$containerd_ldflags"
  "containerd-shim-runc-v2|containerd|kube|github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2|$containerd_ldflags"
  "ctr|containerd|kube|github.com/containerd/containerd/v2/cmd/ctr|$containerd_ldflags"
  "cni/bridge|cni|kube|github.com/containernetworking/plugins/plugins/main/bridge|$cni_ldflags"
  "cni/host-local|cni|kube|github.com/containernetworking/plugins/plugins/ipam/host-local|$cni_ldflags"
  "cni/loopback|cni|kube|github.com/containernetworking/plugins/plugins/main/loopback|$cni_ldflags"
  "cni/portmap|cni|kube|github.com/containernetworking/plugins/plugins/meta/portmap|$cni_ldflags"
  "coredns|coredns|kube|./cmd/coredns|-s -w"
  "metrics-server|metrics-server|kube|sigs.k8s.io/metrics-server/cmd/metrics-server|$metrics_server_ldflags"
  "helm|helm|../../go-tools|helm.sh/helm/v3/cmd/helm|-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
)
if $with_kubectl || [[ " ${wanted[*]} " == *" kubectl "* ]]; then
  binaries+=("kubectl|k8s|kube|k8s.io/kubernetes/cmd/kubectl|$k8s_ldflags")
fi

field() { echo "$1" | cut -d'|' -f"$2"; }

# What the stamp records for a group: its pinned release and a hash of its module's go.sum, so that a change of the
# module graph (another version of a library the group shares with the others) rebuilds the group too, not only a
# bumped pin; Go's build cache keeps that rebuild to what actually changed.
group_version() {
  local g
  for g in "${groups[@]}"; do
    if [[ "$(field "$g" 1)" == "$1" ]]; then
      echo "$(field "$g" 2)@$(sha256sum "$here/$(field "$g" 3)/go.sum" | cut -c1-12)"
      return
    fi
  done
  echo "unknown group $1" >&2
  exit 2
}

# A binary is built when its file is there and the stamp records its group at the pinned release.
is_built() {
  local name="$1" group="$2"
  [[ -x "$dest/$name" && -f "$stamp" ]] && grep -qx "$group=$(group_version "$group")" "$stamp"
}

# The binaries not built yet, among those named on the command line (all when none are named).
missing() {
  local b name
  for b in "${binaries[@]}"; do
    name="$(field "$b" 1)"
    if [[ ${#wanted[@]} -gt 0 && " ${wanted[*]} " != *" $name "* ]]; then continue; fi
    is_built "$name" "$(field "$b" 2)" || echo "$name"
  done
}

if [[ "$mode" == print ]]; then
  todo="$(missing)"
  if [[ -n "$todo" ]]; then
    echo "the Kubernetes toolchain lacks $(echo $todo); run npm run k8s:toolchain" >&2
    exit 1
  fi
  echo "$dest"
  exit 0
fi

if [[ -z "$(missing)" ]]; then
  echo "$dest"
  exit 0
fi

command -v go >/dev/null || { echo "go is not installed; the toolchain needs Go 1.26" >&2; exit 2; }
for g in "${groups[@]}"; do
  dir="$(field "$g" 3)" requirement="$(field "$g" 4)"
  grep -qE "^(require )?[[:space:]]*${requirement//./\\.}( |\$)" "$here/$dir/go.mod" \
    || { echo "$dir/go.mod does not require $requirement" >&2; exit 2; }
done

mkdir -p "$dest/cni"
exec 9>"$cache_root/.build.lock"
if ! flock -n 9; then
  echo "another toolchain build is running; waiting for it" >&2
  flock 9
fi

# -mod=readonly makes a go.sum that does not cover the graph an error instead of a silent update;
# -p bounds parallel compile jobs so the machine stays usable; DYNAMO_K8S_BUILD_JOBS overrides it.
export CGO_ENABLED=0
export GOFLAGS="-mod=readonly -trimpath -buildvcs=false -p=${DYNAMO_K8S_BUILD_JOBS:-2}"

# Records group=version in the stamp, replacing an older line of the group, through a rename.
record() {
  local group="$1" version="$2"
  { [[ -f "$stamp" ]] && grep -v "^$group=" "$stamp" || true; echo "$group=$version"; } > "$stamp.tmp"
  mv "$stamp.tmp" "$stamp"
}

total_started=$SECONDS
for g in "${groups[@]}"; do
  group="$(field "$g" 1)" version="$(group_version "$(field "$g" 1)")"
  built_any=false
  for b in "${binaries[@]}"; do
    [[ "$(field "$b" 2)" == "$group" ]] || continue
    name="$(field "$b" 1)" dir="$(field "$b" 3)" pkg="$(field "$b" 4)" ldflags="$(field "$b" 5)"
    # Another build may have finished this binary while this one waited for the lock.
    if is_built "$name" "$group"; then continue; fi
    # A stale group (a bumped pin) must rebuild every binary of it, so its line goes before the first one is built.
    if [[ -f "$stamp" ]] && grep -q "^$group=" "$stamp" && ! grep -qx "$group=$version" "$stamp"; then
      grep -v "^$group=" "$stamp" > "$stamp.tmp" || true
      mv "$stamp.tmp" "$stamp"
    fi
    started=$SECONDS
    echo "building $name ($pkg $version)" >&2
    tmp="$(mktemp "$dest/.building.XXXXXX")"
    if ! (cd "$here/$dir" && nice -n 19 go build -ldflags "$ldflags" -o "$tmp" "$pkg"); then
      rm -f "$tmp"
      exit 1
    fi
    chmod 755 "$tmp"
    mv "$tmp" "$dest/$name"
    built_any=true
    echo "built $name in $((SECONDS - started))s" >&2
  done
  # The line is written when every binary of the group is in place; a group already recorded keeps its line.
  if $built_any || ! grep -qx "$group=$version" "$stamp" 2>/dev/null; then
    all=true
    for b in "${binaries[@]}"; do
      [[ "$(field "$b" 2)" == "$group" && ! -x "$dest/$(field "$b" 1)" ]] && all=false
    done
    if $all; then record "$group" "$version"; fi
  fi
done
echo "toolchain built in $((SECONDS - total_started))s" >&2
echo "$dest"
