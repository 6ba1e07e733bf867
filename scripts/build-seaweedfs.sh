#!/usr/bin/env bash
# Builds SeaweedFS (Apache-2.0), the S3-compatible object store the backup tests write to, from the Go module proxy.
# SeaweedFS tags its releases without the `v` Go modules need, so it is pinned by a pseudo-version of a release
# commit; `go mod download` checks the module against the checksum database, and the build uses the module's own
# go.mod and go.sum (as the main module, so its replace directives apply), which pin every dependency.
#
# The result is cached outside the repository, keyed by the version:
#   ${DYNAMO_TOOLS_CACHE:-$HOME/.cache/dynamo-tools}/seaweedfs-<version>/weed
# Re-running with the cache in place returns at once. The binary is built into a temporary file and moved into
# place only when the build succeeded, so an interrupted build never looks complete.
#
# Usage: scripts/build-seaweedfs.sh          build if needed, print the binary's path
#        scripts/build-seaweedfs.sh --print  print the path without building (exit 1 if missing)
set -euo pipefail

VERSION="v0.0.0-20261109003541-7506e5f91cd6"
dest="${DYNAMO_TOOLS_CACHE:-$HOME/.cache/dynamo-tools}/seaweedfs-$VERSION"
binary="$dest/weed"

if [[ "${1:-}" == "--print" ]]; then
  [[ -x "$binary" ]] || { echo "SeaweedFS $VERSION not built; run npm run seaweedfs:build" >&2; exit 1; }
  echo "$binary"
  exit 0
fi
if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi

command -v go >/dev/null || { echo "go is not installed; building SeaweedFS needs Go 1.26" >&2; exit 2; }
mkdir -p "$dest"
tmp="$(mktemp "$dest/.weed.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
started=$SECONDS
echo "building SeaweedFS $VERSION (github.com/seaweedfs/seaweedfs/weed)" >&2
module="$(go mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$module" ]] || { echo "go mod download gave no directory for github.com/seaweedfs/seaweedfs@$VERSION" >&2; exit 1; }
(cd "$module" && CGO_ENABLED=0 GOFLAGS="-mod=mod -trimpath -buildvcs=false -p=${DYNAMO_K8S_BUILD_JOBS:-2}" \
  nice -n 19 go build -ldflags "-s -w" -o "$tmp" ./weed)
chmod 755 "$tmp"
mv "$tmp" "$binary"
trap - EXIT
echo "built SeaweedFS in $((SECONDS - started))s" >&2
echo "$binary"
