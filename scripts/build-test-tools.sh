#!/usr/bin/env bash
# Builds everything the test suites need beyond npm's packages and says how long each part took: the Kubernetes
# toolchain, then promtool (the alert checks of the unit tests) and versitygw (the S3 backup tests), with the
# project's image built alongside them (it needs no toolchain, and its build waits on the network where the Go builds
# wait on the CPU), and last the node's system images. Every part is cached by its own script, so with the caches in
# place this takes seconds.
#
# .ci/run starts it in the background at the lowest CPU priority right after `npm ci`, and lint, the type check and
# the node suite run meanwhile: a cold run (empty caches) spends most of its build time there instead of before the
# tests. The tests that need a part wait for it (scripts/run-tests.mjs): the Kubernetes suite for the toolchain (it
# builds or waits for the images itself), and the node suite's files that run helm, promtool or versitygw, which go last,
# after the Kubernetes suite, for all three. Run by hand it simply builds everything.
#
# Usage: scripts/build-test-tools.sh     exits non-zero if any part failed; the output says which
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()

# step NAME COMMAND...: runs one part, timed; a failure is recorded and returned (a part in the background returns it
# to `wait`).
step() {
  local name="$1" started=$SECONDS
  shift
  echo "== $name: building what is not cached (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  if "$@"; then
    echo "== $name ready in $((SECONDS - started)) s"
  else
    echo "== $name FAILED after $((SECONDS - started)) s"
    failed+=("$name")
    return 1
  fi
}

started=$SECONDS
kubernetes=false
[[ -f test/k8s/toolchain/build.sh ]] && kubernetes=true
if $kubernetes; then
  # Its own output goes to a file so the parts running side by side do not interleave; it follows once done.
  image_log="$(mktemp)"
  step "the project's image" node --import tsx test/k8s/run.ts --prepare-image >"$image_log" 2>&1 &
  image_pid=$!
  step "Kubernetes toolchain" bash test/k8s/toolchain/build.sh
fi
step promtool bash scripts/build-promtool.sh
step versitygw bash scripts/build-versitygw.sh
if $kubernetes; then
  wait "$image_pid" || failed+=("the project's image")
  cat "$image_log"
  rm -f "$image_log"
  # Seconds: each is one binary of the toolchain on an empty root filesystem. The Kubernetes suite, which may have
  # started by now, makes them itself when they are missing (the image cache's locks keep the two apart).
  step "Kubernetes system images" node --import tsx test/k8s/run.ts --prepare
fi
echo "== test tools built in $((SECONDS - started)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "== failed: ${failed[*]}"
  exit 1
fi
