#!/usr/bin/env bash
# Builds promtool (Prometheus's rule checker and rule unit-test runner), which the chart's monitoring tests use to
# validate the alerts, from the Go module proxy, pinned by test/go-tools/go.mod and go.sum (shared with versitygw and
# helm, so the libraries they have in common compile once). Built without any service-discovery plugin
# (-tags remove_all_sd), which leaves most of Prometheus's dependencies out.
#
# The result is cached outside the repository, keyed by the version (scripts/lib/cached-go-tool.sh):
#   ${DYNAMO_TOOLS_CACHE:-$HOME/.cache/dynamo-tools}/promtool-<version>/promtool
#
# Usage: scripts/build-promtool.sh          build if needed, print the binary's path
#        scripts/build-promtool.sh --print  print the path without building (exit 1 if missing)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-go-tool.sh"
VERSION="v0.316.0"
require_go_tools_module github.com/prometheus/prometheus "$VERSION"

build() {
  echo "building promtool $VERSION (github.com/prometheus/prometheus/cmd/promtool)" >&2
  go_tools_build "$1" github.com/prometheus/prometheus/cmd/promtool -tags remove_all_sd -ldflags "-s -w"
}

cached_go_tool promtool "$VERSION" promtool:build 1.26 build "$@"
