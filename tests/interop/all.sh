#!/usr/bin/env bash
# tests/interop/all.sh REGISTRY: every client round trip against one registry.
# Prints "interop: N passed, N failed" (one per client script).
# fixture.sh first makes the two-platform index the scripts share (lib.sh's
# iop_mp) in IOP_SHARED, removed here at the end. Then the client scripts run
# INTEROP_JOBS at a time (default 4; 1: one after the other): they share
# nothing but the registry (every name carries its own random suffix). Each
# script's output is shown whole and in this order, as soon as it and the ones
# before it are done.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
reg=$1
clients=(docker crane skopeo regctl oras podman podman-partial ctr)
jobs=${INTEROP_JOBS:-4}
passed=0 failed=0 next=0 t0=$SECONDS
declare -A pid=() start=() shown=()
IOP_SHARED=$(mktemp -d "${TMPDIR:-/tmp}/ph-interop-shared.XXXXXX")
export IOP_SHARED
# on a signal the running scripts get SIGTERM: their own traps clean up
trap 'for c in "${!pid[@]}"; do [[ -n ${shown[$c]:-} ]] || kill -TERM "${pid[$c]}"; done 2>/dev/null; wait
  exit 130' INT TERM HUP
trap 'rm -rf "$IOP_SHARED"' EXIT

"$here/fixture.sh" "$reg" 2>&1 | sed 's/^/# /' >&2 ||
  echo "# interop: the shared two-platform index was not made" >&2

running() {
  local c n=0
  for c in "${!pid[@]}"; do [[ -z ${shown[$c]:-} ]] && kill -0 "${pid[$c]}" 2>/dev/null && n=$((n + 1)); done
  echo "$n"
}
# show the finished scripts at the front of the list, in order
flush() {
  local c rc
  while ((next < ${#clients[@]})); do
    c=${clients[next]}
    [[ -n ${pid[$c]:-} ]] && ! kill -0 "${pid[$c]}" 2>/dev/null || return 0
    wait "${pid[$c]}"
    rc=$?
    cat "$IOP_SHARED/$c.out"
    if ((rc == 0)); then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      echo "interop: $c FAILED" >&2
    fi
    echo "# $c: $(($(stat -c %Y "$IOP_SHARED/$c.out") - start[$c])) s" >&2
    shown[$c]=1
    next=$((next + 1))
  done
}

for c in "${clients[@]}"; do
  while (($(running) >= jobs)); do sleep 0.2; flush; done
  start[$c]=$(date +%s)
  "$here/$c.sh" "$reg" >"$IOP_SHARED/$c.out" 2>&1 &
  pid[$c]=$!
done
while ((next < ${#clients[@]})); do sleep 0.2; flush; done
echo "# interop: $((SECONDS - t0)) s, $jobs at a time" >&2
echo "interop: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
