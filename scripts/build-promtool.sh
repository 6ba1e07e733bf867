#!/usr/bin/env bash
# Builds promtool (Prometheus's rule checker and rule unit-test runner), which the chart's monitoring tests use to
# validate the alerts, from the Go module proxy, pinned by test/monitoring/promtool/go.mod and go.sum. Built without
# any service-discovery plugin (-tags remove_all_sd), which leaves most of Prometheus's dependencies out.
#
# The result is cached outside the repository, keyed by the version:
#   ${DYNAMO_TOOLS_CACHE:-$HOME/.cache/dynamo-tools}/promtool-<version>/promtool
# Re-running with the cache in place returns at once. The binary is built into a temporary file and moved into
# place only when the build succeeded, so an interrupted build never looks complete.
#
# Usage: scripts/build-promtool.sh          build if needed, print the binary's path
#        scripts/build-promtool.sh --print  print the path without building (exit 1 if missing)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module="$here/test/monitoring/promtool"
VERSION="v0.316.0"
grep -qE "^(require )?[[:space:]]*github.com/prometheus/prometheus $VERSION( |\$)" "$module/go.mod" \
  || { echo "test/monitoring/promtool/go.mod does not require github.com/prometheus/prometheus $VERSION" >&2; exit 2; }

dest="${DYNAMO_TOOLS_CACHE:-$HOME/.cache/dynamo-tools}/promtool-$VERSION"
binary="$dest/promtool"

if [[ "${1:-}" == "--print" ]]; then
  [[ -x "$binary" ]] || { echo "promtool $VERSION not built; run npm run promtool:build" >&2; exit 1; }
  echo "$binary"
  exit 0
fi
if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi

command -v go >/dev/null || { echo "go is not installed; building promtool needs Go 1.26" >&2; exit 2; }
mkdir -p "$dest"
tmp="$(mktemp "$dest/.promtool.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
started=$SECONDS
echo "building promtool $VERSION (github.com/prometheus/prometheus/cmd/promtool)" >&2
(cd "$module" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath -buildvcs=false -p=${DYNAMO_K8S_BUILD_JOBS:-2}" \
  nice -n 19 go build -tags remove_all_sd -ldflags "-s -w" -o "$tmp" github.com/prometheus/prometheus/cmd/promtool)
chmod 755 "$tmp"
mv "$tmp" "$binary"
trap - EXIT
echo "built promtool in $((SECONDS - started))s" >&2
echo "$binary"
