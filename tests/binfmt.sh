#!/usr/bin/env bash
# tests/binfmt.sh - linux/arm64 binaries and containers on this x86-64 machine,
# through Debian's qemu-user-static and binfmt_misc.
#
#   tests/binfmt.sh up      register qemu-aarch64 (F flag: containers need no
#                           qemu inside) unless it is registered; prints
#                           "registered" (we did: call down later) or "present"
#   tests/binfmt.sh down    unregister qemu-aarch64
#   tests/binfmt.sh status  "registered" / "absent"; exit 0 only if registered
#
# Sourced (tests/lib.sh does), it gives ph_binfmt_up: register if needed, and
# unregister when the last suite using it exits, if a suite registered it (so
# a suite never removes a registration made by hand, nor one another suite
# running beside it still needs).  Needs root and a kernel that lets
# binfmt_misc be mounted; otherwise `up` fails with one line saying why, and
# callers that only run binaries (not containers) can fall back to
# `qemu-aarch64-static BINARY` (tests/arm64.sh does).
# shellcheck shell=bash

PH_BINFMT_DIR=/proc/sys/fs/binfmt_misc
PH_BINFMT_CONF=/usr/lib/binfmt.d/qemu-aarch64.conf

ph_binfmt_status() { [[ -f $PH_BINFMT_DIR/qemu-aarch64 ]] && grep -qx enabled "$PH_BINFMT_DIR/qemu-aarch64"; }

# prints registered|present; 1 with a reason on stderr
ph_binfmt_register() {
  if ph_binfmt_status; then echo present; return 0; fi
  if [[ ! -f $PH_BINFMT_CONF ]]; then
    echo "binfmt: $PH_BINFMT_CONF missing (apt-get install qemu-user-static)" >&2
    return 1
  fi
  if [[ ! -w $PH_BINFMT_DIR/register ]]; then
    mount -t binfmt_misc binfmt_misc "$PH_BINFMT_DIR" 2>/dev/null || {
      echo "binfmt: cannot mount binfmt_misc on $PH_BINFMT_DIR (not root, or not allowed here)" >&2
      return 1
    }
  fi
  # a disabled leftover entry cannot be re-registered under its name
  [[ -f $PH_BINFMT_DIR/qemu-aarch64 ]] && echo -1 >"$PH_BINFMT_DIR/qemu-aarch64"
  if ! cat "$PH_BINFMT_CONF" >"$PH_BINFMT_DIR/register" 2>/dev/null; then
    echo "binfmt: the kernel refused $PH_BINFMT_CONF" >&2
    return 1
  fi
  ph_binfmt_status || { echo "binfmt: qemu-aarch64 did not appear" >&2; return 1; }
  echo registered
}

ph_binfmt_unregister() {
  [[ -f $PH_BINFMT_DIR/qemu-aarch64 ]] && echo -1 >"$PH_BINFMT_DIR/qemu-aarch64"
  return 0
}

# For suites that source tests/lib.sh.  Suites run side by side (make
# test-interop runs four at once), so "unregister what we registered" is not
# enough: the suite that registered may finish while another still runs arm64
# containers.  Each suite holds a shared flock on PH_BINFMT_LOCK for its life;
# registration happens under the exclusive lock and leaves PH_BINFMT_MARK;
# the last suite out (the one that gets the exclusive lock without waiting)
# unregisters, and only if a suite registered it (a registration made by hand
# with `tests/binfmt.sh up` has no mark and stays).
PH_BINFMT_LOCK=${PH_BINFMT_LOCK:-/run/lock/packhelper-binfmt.lock}
PH_BINFMT_MARK=$PH_BINFMT_LOCK.registered

ph_binfmt_up() {
  local how
  [[ -n ${PH_BINFMT_FD:-} ]] && { ph_binfmt_status; return; }
  exec {PH_BINFMT_FD}>>"$PH_BINFMT_LOCK" || return 1
  flock -x "$PH_BINFMT_FD"
  if ! how=$(ph_binfmt_register); then
    exec {PH_BINFMT_FD}>&-
    PH_BINFMT_FD=
    return 1
  fi
  [[ $how == registered ]] && : >"$PH_BINFMT_MARK"
  flock -s "$PH_BINFMT_FD"
  declare -F ph_cleanup >/dev/null && ph_cleanup ph_binfmt_leave
  return 0
}

ph_binfmt_leave() {
  local x
  [[ -n ${PH_BINFMT_FD:-} ]] || return 0
  exec {PH_BINFMT_FD}>&-
  PH_BINFMT_FD=
  exec {x}>>"$PH_BINFMT_LOCK" || return 0
  if flock -xn "$x" && [[ -f $PH_BINFMT_MARK ]]; then
    ph_binfmt_unregister
    rm -f "$PH_BINFMT_MARK"
  fi
  exec {x}>&-
  return 0
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -uo pipefail
  case ${1:-} in
    up) ph_binfmt_register ;;
    down) ph_binfmt_unregister ;;
    status) if ph_binfmt_status; then echo registered; else echo absent; exit 1; fi ;;
    *) echo "usage: tests/binfmt.sh up|down|status" >&2; exit 2 ;;
  esac
fi
