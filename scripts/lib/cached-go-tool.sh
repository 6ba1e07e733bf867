# Sourced by the scripts that build one test tool from the Go module proxy (scripts/build-promtool.sh,
# scripts/build-versitygw.sh). They differ only in the module they build and how; what they share is here: the cache
# outside the repository keyed by name and version, `--print`, and a build into a temporary file that is moved into
# place only when it succeeded, so an interrupted build never looks complete.
#
#   cached_go_tool NAME VERSION NPM_SCRIPT GO_NEEDED BUILD_FUNCTION [ARGS...]
#
# prints the binary's path, ${DYNAMO_TOOLS_CACHE:-$HOME/.cache/dynamo-tools}/NAME-VERSION/NAME, after building it with
# `BUILD_FUNCTION OUTPUT` when it is missing. With the script's first argument `--print` (pass "$@" as ARGS), it only
# prints the path, and fails when the binary is not built yet.
cached_go_tool() {
  local name="$1" version="$2" npm_script="$3" go_needed="$4" build="$5"
  shift 5
  local dest="${DYNAMO_TOOLS_CACHE:-$HOME/.cache/dynamo-tools}/$name-$version"
  local binary="$dest/$name"
  if [[ "${1:-}" == "--print" ]]; then
    [[ -x "$binary" ]] || { echo "$name $version not built; run npm run $npm_script" >&2; return 1; }
    echo "$binary"
    return 0
  fi
  if [[ -x "$binary" ]]; then
    echo "$binary"
    return 0
  fi
  command -v go >/dev/null || { echo "go is not installed; building $name needs Go $go_needed" >&2; return 2; }
  mkdir -p "$dest"
  local tmp
  tmp="$(mktemp "$dest/.$name.XXXXXX")"
  # The trap outlives this function on purpose: it removes the temporary file if the build is interrupted.
  trap "rm -f '$tmp'" EXIT
  local started=$SECONDS
  "$build" "$tmp"
  chmod 755 "$tmp"
  mv "$tmp" "$binary"
  trap - EXIT
  echo "built $name in $((SECONDS - started))s" >&2
  echo "$binary"
}

# The tools built here share one module, test/go-tools (helm is built from it too, by test/k8s/toolchain/build.sh).
GO_TOOLS_MODULE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/go-tools"

#   require_go_tools_module MODULE VERSION
# fails unless test/go-tools/go.mod requires MODULE at VERSION, so a script's pin and the module cannot drift apart.
require_go_tools_module() {
  grep -qE "^(require )?[[:space:]]*${1//./\\.} $2( |\$)" "$GO_TOOLS_MODULE/go.mod" \
    || { echo "test/go-tools/go.mod does not require $1 $2" >&2; exit 2; }
}

#   go_tools_build OUTPUT PACKAGE [GO BUILD FLAGS...]
# builds PACKAGE of test/go-tools into OUTPUT at the lowest CPU priority: no cgo, no paths or VCS data in the binary,
# a go.sum that does not cover the build an error (never a silent update), DYNAMO_K8S_BUILD_JOBS compile jobs (2).
go_tools_build() {
  local output="$1" package="$2"
  shift 2
  (cd "$GO_TOOLS_MODULE" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath -buildvcs=false -p=${DYNAMO_K8S_BUILD_JOBS:-2}" \
    nice -n 19 go build "$@" -o "$output" "$package")
}
