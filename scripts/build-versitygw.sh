#!/usr/bin/env bash
# Builds Versity Gateway (versitygw, Apache-2.0), the S3-compatible server the backup tests write to, from the Go
# module proxy. It serves the S3 API over a plain directory (its POSIX backend: a bucket is a directory, an object a
# file), in one small process. `go mod download` checks the module against the checksum database, and the build uses
# the module's own go.mod and go.sum (-mod=readonly: a go.sum that does not cover the build is an error, never a
# silent update), which pin every dependency.
#
# The result is cached outside the repository, keyed by the version (scripts/lib/cached-go-tool.sh):
#   ${DYNAMO_TOOLS_CACHE:-$HOME/.cache/dynamo-tools}/versitygw-<version>/versitygw
#
# Usage: scripts/build-versitygw.sh          build if needed, print the binary's path
#        scripts/build-versitygw.sh --print  print the path without building (exit 1 if missing)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-go-tool.sh"
VERSION="v1.8.0"

build() {
  echo "building versitygw $VERSION (github.com/versity/versitygw/cmd/versitygw)" >&2
  local module
  module="$(go mod download -json "github.com/versity/versitygw@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$module" ]] || { echo "go mod download gave no directory for github.com/versity/versitygw@$VERSION" >&2; exit 1; }
  (cd "$module" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath -buildvcs=false -p=${DYNAMO_K8S_BUILD_JOBS:-2}" \
    nice -n 19 go build -ldflags "-s -w -X=main.Version=$VERSION -X=main.Build=module-proxy" -o "$1" ./cmd/versitygw)
}

cached_go_tool versitygw "$VERSION" versitygw:build "1.25 or later" build "$@"
