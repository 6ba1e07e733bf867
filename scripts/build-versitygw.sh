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

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/lib/cached-go-tool.sh"
module="$here/test/go-tools"
VERSION="v1.8.0"
grep -qE "^(require )?[[:space:]]*github.com/versity/versitygw $VERSION( |\$)" "$module/go.mod" \
  || { echo "test/go-tools/go.mod does not require github.com/versity/versitygw $VERSION" >&2; exit 2; }

build() {
  echo "building versitygw $VERSION (github.com/versity/versitygw/cmd/versitygw)" >&2
  (cd "$module" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath -buildvcs=false -p=${DYNAMO_K8S_BUILD_JOBS:-2}" \
    nice -n 19 go build -ldflags "-s -w -X=main.Version=$VERSION -X=main.Build=module-proxy" -o "$1" \
    github.com/versity/versitygw/cmd/versitygw)
}

cached_go_tool versitygw "$VERSION" versitygw:build "1.26" build "$@"
