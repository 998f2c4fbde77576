#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, IDX, BLOBS_N... are lib.sh's (tests/copy/lib.sh)
# tests/copy/mount.sh - a copy within one registry mounts every blob from the
# source repository (POST ?mount=&from=, answered 201) and reads none: on
# registry 2.8 (counted in its access log) and on packhelper serve (counted
# by the proxy in front of it). The copy is then whole (ct_holds).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ct_init mount

repo=copy-$RAND/img
# registry 2.8: its access log
if pt_start_dist dist; then
  reg=localhost:$PORT
  ph_require "build the test index at registry 2.8" ct_index "$reg" "$repo"
  mark=$(ph_mark "$WORK/dist.log")
  if ct_copy_ok "registry 2.8, one repository to another: exit 0" "$reg/$repo:multi" "$reg/$repo-mounted:v1"; then
    log=$(ph_since "$WORK/dist.log" "$mark")
    ph_eq "registry 2.8: every blob mounted (POST ?mount=&from=$repo, 201)" "$BLOBS_N" \
      "$(grep -cE "\"POST /v2/$repo-mounted/blobs/uploads/\?mount=sha256:[0-9a-f]+&from=$repo HTTP/1.1\" 201 " <<<"$log")"
    ph_eq "registry 2.8: no blob was read" 0 "$(grep -cE '"GET /v2/[^ ]+/blobs/' <<<"$log")"
    ph_eq "registry 2.8: no blob was uploaded" 0 "$(grep -cE '"(PUT|PATCH) /v2/[^ ]+/blobs/uploads/' <<<"$log")"
    ph_match "registry 2.8: the line says so" "0 blobs sent \(0.0 MiB\), $BLOBS_N mounted" "$ERR"
    ct_holds "registry 2.8, mounted" "$reg" "$repo-mounted" v1
  fi
fi

# packhelper serve, behind the counting proxy (both ends are the proxy's host)
if pt_start_ph ph && pt_start_proxy count "$PORT"; then
  reg=localhost:$PORT
  ph_require "build the test index at packhelper serve" ct_index "$reg" "$repo"
  : >"$WORK/count.jsonl"
  if ct_copy_ok "packhelper serve, one repository to another: exit 0" "$reg/$repo:multi" "$reg/$repo-mounted:v1"; then
    ph_eq "packhelper serve: every blob mounted (201)" "$BLOBS_N" "$(ct_count "$WORK/count.jsonl" \
      "select(.method == \"POST\" and (.path | test(\"/blobs/uploads/[?]mount=.*&from=$repo\$\")) and .status == 201)")"
    ph_eq "packhelper serve: no blob was read" 0 "$(ct_count "$WORK/count.jsonl" \
      'select(.method == "GET" and (.path | test("/blobs/sha256:")))')"
    ct_holds "packhelper serve, mounted" "$reg" "$repo-mounted" v1
  fi
fi
ph_finish
