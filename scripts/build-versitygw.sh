#!/usr/bin/env bash
# Builds Versity Gateway (versitygw, Apache-2.0), the S3-compatible server the backup tests write to, from the Go
# module proxy. It serves the S3 API over a plain directory (its POSIX backend: a bucket is a directory, an object a
# file), in one small process. It is pinned by test/go-tools/go.mod and go.sum, which it shares with promtool and helm
# so that the libraries the three have in common (the cloud SDKs, gRPC, OpenTelemetry) compile once; -mod=readonly
# makes a go.sum that does not cover the build an error, never a silent update.
#
# The result is cached outside the repository, keyed by the version (scripts/lib/cached-go-tool.sh):
#   ${DYNAMO_TOOLS_CACHE:-$HOME/.cache/dynamo-tools}/versitygw-<version>/versitygw
#
# Usage: scripts/build-versitygw.sh          build if needed, print the binary's path
#        scripts/build-versitygw.sh --print  print the path without building (exit 1 if missing)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-go-tool.sh"
VERSION="v1.8.0"
require_go_tools_module github.com/versity/versitygw "$VERSION"

build() {
  echo "building versitygw $VERSION (github.com/versity/versitygw/cmd/versitygw)" >&2
  go_tools_build "$1" github.com/versity/versitygw/cmd/versitygw -ldflags "-s -w -X=main.Version=$VERSION -X=main.Build=module-proxy"
}

cached_go_tool versitygw "$VERSION" versitygw:build 1.26 build "$@"
