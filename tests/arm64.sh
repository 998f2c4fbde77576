#!/usr/bin/env bash
# tests/arm64.sh BINARY UNIT-TEST...   (make test-arm64)
# The linux/arm64 build on this x86-64 machine, under qemu user emulation: its
# unit tests (UNIT-TEST...), the end-to-end suite with PACKHELPER=BINARY, and
# the OCI conformance suite against BINARY serve, in the three runs of
# `make test-conformance`.  Summary lines "arm64-unit: N passed, N failed",
# "arm64-e2e: ...", "arm64-conformance: ..." (one per run) and
# "arm64-conformance-gc: ...", which .ci/run sums apart from the amd64 ones;
# "# arm64 PART: N s" on stderr.
#
# How an aarch64 binary runs here: by binfmt_misc when qemu-aarch64 is
# registered or this run can register it (ph_binfmt_up, tests/binfmt.sh; it
# unregisters at exit only what it registered); otherwise, or with
# PH_ARM64_QEMU=1, through qemu-aarch64-static explicitly, each binary by a
# wrapper script in the work dir (exec, so a wrapper's pid is the emulated
# process's: signals and /proc reach it).  On an aarch64 machine: natively.
#
# Env: PH_TIME_SCALE   how many times slower the emulated binary runs (6):
#                      tests/e2e/phtest.py multiplies the budgets for the
#                      binary's own work by it (not the server's timeouts)
#      PH_ARM64_PARTS  which parts, in order (default "unit e2e conformance")
#      PH_ARM64_JOBS   e2e modules at once (3)
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 1 ]] || { echo "usage: $0 BINARY [UNIT-TEST...]" >&2; exit 2; }
BIN=$(readlink -f "$1")
shift
UNITS=()
for u in "$@"; do UNITS+=("$(readlink -f "$u")"); done
ph_init arm64

# the summary lines' names (tests/run-unit.sh, tests/e2e/run.py, tests/conformance.sh)
export PH_SUITE_PREFIX=arm64-
export PH_TIME_SCALE=${PH_TIME_SCALE:-6}
PARTS=${PH_ARM64_PARTS:-unit e2e conformance}

# a part that cannot run at all still ends with a failed summary line of its name
fail_all() {
  ph_log "arm64: $1"
  for p in $PARTS; do echo "arm64-$p: 0 passed, 1 failed"; done
  exit 1
}

# what would test an amd64 binary by mistake must not pass as the arm64 run
for f in "$BIN" "${UNITS[@]}"; do
  [[ $(file -b "$f" 2>/dev/null) == *"ARM aarch64"* ]] || fail_all "$f is not an aarch64 executable"
done

if [[ $(uname -m) == aarch64 ]]; then
  how=native
elif [[ ${PH_ARM64_QEMU:-} == 1 ]]; then
  how="qemu-aarch64-static (PH_ARM64_QEMU=1)"
elif ph_binfmt_up; then
  how="binfmt_misc ($(grep -m1 '^interpreter' "$PH_BINFMT_DIR/qemu-aarch64"))"
else
  how="qemu-aarch64-static (binfmt_misc unavailable)"
fi
if [[ $how == qemu-aarch64-static* ]]; then
  QEMU=$(command -v qemu-aarch64-static) ||
    fail_all "qemu-aarch64-static not found (apt-get install qemu-user-static)"
  # one wrapper per binary: exec keeps the pid, "$@" the arguments
  mkdir -p "$WORK/qemu/unit"
  wrap() { printf '#!/bin/sh\nexec %s %s "$@"\n' "$QEMU" "$1" >"$2" && chmod 755 "$2"; }
  wrap "$BIN" "$WORK/qemu/packhelper"
  export PACKHELPER_ELF=$BIN # what tests that read the file open (tests/e2e/phtest.py)
  BIN=$WORK/qemu/packhelper
  for i in "${!UNITS[@]}"; do
    wrap "${UNITS[i]}" "$WORK/qemu/unit/$(basename "${UNITS[i]}")"
    UNITS[i]=$WORK/qemu/unit/$(basename "${UNITS[i]}")
  done
fi
ph_log "arm64: running $(basename "$BIN") by $how; PH_TIME_SCALE=$PH_TIME_SCALE"

rc=0
for part in $PARTS; do
  t0=$SECONDS
  case $part in
    unit)
      "$PH_LIB/run-unit.sh" "${UNITS[@]}" || rc=1 ;;
    e2e)
      PACKHELPER=$BIN python3 "$PH_LIB/e2e/run.py" -j "${PH_ARM64_JOBS:-3}" || rc=1 ;;
    conformance)
      # as test-conformance: every switch on against --allow-sparse, then the
      # default (manifests naming missing blobs refused) without the sparse data,
      PACKHELPER_SERVE_ARGS=--allow-sparse \
        "$PH_LIB/with-server.sh" "$BIN" "$PH_LIB/conformance.sh" || rc=1
      OCI_DATA_SPARSE=false "$PH_LIB/with-server.sh" "$BIN" "$PH_LIB/conformance.sh" || rc=1
      # and on a store collected first, with collection running (arm64-conformance-gc)
      "$PH_LIB/conformance-gc.sh" "$BIN" || rc=1 ;;
    *)
      echo "arm64: unknown part $part" >&2; rc=1; continue ;;
  esac
  ph_log "arm64 $part: $((SECONDS - t0)) s"
done
exit "$rc"
