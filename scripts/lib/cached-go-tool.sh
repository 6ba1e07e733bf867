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
