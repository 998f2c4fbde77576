#!/usr/bin/env bash
# tests/oneshot/stdin.sh - `docker save IMG | docker run -i --rm ... serve
# --import -=agent:latest &`: the ready line on docker run's stdout, pull
# back, then docker stop ends docker run with status 0.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init stdin
ph_require "docker build FROM scratch" ph_build_image "$SRC" 640 1024 896
ph_eq "docker build: FROM scratch image with 3 layers" 3 "$(wc -l <<<"$PH_DIFFIDS")"

T0=$(ph_now_ms)
(docker save "$SRC" | docker run -i --rm --name "$C" --label "oneshot.run=$RAND" -p 127.0.0.1::5000 \
  "$IMG" serve --import -=agent:latest >"$WORK/run.out" 2>"$WORK/run.err"
  echo "${PIPESTATUS[1]}" >"$WORK/run.rc") &
RUNPID=$!
ph_cleanup "docker rm -f $C; kill $RUNPID"
READY=$(ph_wait_file "$WORK/run.out" '"ready":true' 30)
T1=$(ph_now_ms)
ph_run "ready line on docker run's stdout" test -n "$READY"
ph_log "docker save | docker run -> ready line: $((T1 - T0)) ms; $READY"
ph_eq "ready line: agent:latest only" "agent:latest" "$(jq -r '[.images[].ref] | join(",")' <<<"$READY" 2>/dev/null)"
ph_run "the import log names stdin" grep -q 'imported agent:latest sha256:[0-9a-f]* from -' "$WORK/run.err"
REG=$(os_port "$C")
ph_run "docker port gives a loopback port ($REG)" test -n "$REG"
DIGEST=$(os_ready_digest "$READY" agent:latest)
os_check_served stdin "$REG" agent latest "$DIGEST"
os_check_pull stdin "$REG" agent:latest "$PH_IMAGE_ID" "$PH_DIFFIDS" "$SRC"

MS=$(os_stop_timed "$C")
wait "$RUNPID"
ph_lt "docker stop of the -i --rm container takes $MS ms (< 1500)" "$MS" 1500
ph_eq "docker run -i exits 0 after docker stop" 0 "$(cat "$WORK/run.rc" 2>/dev/null)"
ph_run "--rm removed the container" bash -c "! docker inspect '$C' >/dev/null 2>&1"

# an empty stdin (nothing piped, or -i forgotten) fails with a clear message
C2=$C-empty
docker run -i --rm --name "$C2" --label "oneshot.run=$RAND" "$IMG" serve --import -=agent:latest \
  </dev/null >"$WORK/empty.out" 2>"$WORK/empty.err"
RC=$?
ph_eq "empty stdin: docker run exits 1" 1 "$RC"
os_one_error "empty stdin: one error line naming stdin" "$(cat "$WORK/empty.err")" \
  'import failed: stdin.*([Ee]mpty|tar|archive).*-i'

ph_finish
