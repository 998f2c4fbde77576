#!/usr/bin/env bash
# tests/oneshot/readiness.sh - nothing is ready, or served, before the import
# is committed. The tarball is piped in at 16 MiB/s and held at 90% until the
# test opens the gate, so "before" is a state the test controls, not a race.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init readiness
SRC=oneshot-$RAND/big:v1
C=oneshot-$RAND-ready
GATE=$WORK/gate

ph_require "docker build FROM scratch" ph_build_image "$SRC" 8192 8192 8192
os_save "$WORK/big.tar" "$SRC"
ph_log "tarball: $(($(stat -c %s "$WORK/big.tar") / 1048576)) MiB, fed at 16 MiB/s, held at 90%"

T0=$(ph_now_ms)
(python3 "$HELPER" feed "$WORK/big.tar" "$GATE" 16 0.9 |
  docker run -i --rm --name "$C" --label "oneshot.run=$RAND" -p 127.0.0.1::5000 \
    "$IMG" serve --import -=agent:latest >"$WORK/run.out" 2>"$WORK/run.err"
  echo "${PIPESTATUS[1]}" >"$WORK/run.rc") &
RUNPID=$!
ph_cleanup "touch $GATE; docker rm -f $C; kill $RUNPID"
REG=$(os_port "$C")
ph_run "docker port gives a loopback port ($REG)" test -n "$REG"
ph_run "the feeder reached the hold (90%)" ph_wait_file "$GATE.held" held 30

# ---- while the import is incomplete
ph_eq "importing: GET /readyz is 503" 503 "$(os_http "http://$REG/readyz")"
ph_eq "importing: GET /healthz (liveness) is 200" 200 "$(os_http "http://$REG/healthz")"
ph_eq "importing: GET /v2/ is 200" 200 "$(os_http "http://$REG/v2/")"
ph_eq "importing: the tag is absent (GET manifest 404)" 404 "$(os_http "http://$REG/v2/agent/manifests/latest")"
ph_eq "importing: HEAD manifest 404" 404 \
  "$(curl -s -I -o /dev/null -w '%{http_code}' "http://$REG/v2/agent/manifests/latest")"
ph_eq "importing: tags/list has no agent (404 NAME_UNKNOWN)" 404 "$(os_http "http://$REG/v2/agent/tags/list")"
ph_run "importing: no ready line yet" bash -c "! grep -q ready '$WORK/run.out'"
docker exec "$C" /packhelper probe >"$WORK/probe.out" 2>"$WORK/probe.err"
ph_eq "importing: in-container probe (the HEALTHCHECK command) exits 1" 1 "$?"
ph_run "importing: probe says why ($(cat "$WORK/probe.err"))" grep -q 'not ready: .*/readyz: HTTP 503' "$WORK/probe.err"
"$PH" probe "$REG" -q
ph_eq "importing: host probe $REG exits 1" 1 "$?"
"$PH" probe "$REG" --tcp -q
ph_eq "importing: host probe --tcp $REG exits 0 (the port is open)" 0 "$?"
P0=$(ph_now_ms)
"$PH" probe "$REG" --wait 1s -q
RC=$?
P1=$(($(ph_now_ms) - P0))
ph_eq "importing: probe --wait 1s exits 1" 1 "$RC"
ph_run "importing: probe --wait 1s gives up after 1-2 s ($P1 ms)" test "$P1" -ge 1000 -a "$P1" -lt 2000
# let the HEALTHCHECK run at least once (interval 2 s) while not ready
for _ in $(seq 60); do
  [[ $(docker inspect -f '{{len .State.Health.Log}}' "$C" 2>/dev/null) -ge 1 ]] && break
  sleep 0.1
done
ph_eq "importing: a HEALTHCHECK ran and failed, status still 'starting'" "starting 1" \
  "$(docker inspect -f '{{.State.Health.Status}} {{(index .State.Health.Log 0).ExitCode}}' "$C")"
ph_eq "importing: still 503 after $(($(ph_now_ms) - T0)) ms" 503 "$(os_http "http://$REG/readyz")"

# a waiting probe started now returns when the server turns ready
("$PH" probe "$REG" --wait 60s -q; echo "$? $(ph_now_ms)" >"$WORK/waitprobe") &

# ---- open the gate
touch "$GATE"
READY=$(ph_wait_file "$WORK/run.out" '"ready":true' 60)
TR=$(ph_now_ms)
ph_run "ready line after the gate opens" test -n "$READY"
ph_log "ready line: $READY"
DIGEST=$(os_ready_digest "$READY" agent:latest)
ph_eq "ready: GET /readyz is 200" 200 "$(os_http "http://$REG/readyz")"
os_check_served ready "$REG" agent latest "$DIGEST"
"$PH" probe "$REG" -q
ph_eq "ready: host probe exits 0" 0 "$?"
docker exec "$C" /packhelper probe -q
ph_eq "ready: in-container probe exits 0" 0 "$?"
for _ in $(seq 100); do [[ -s $WORK/waitprobe ]] && break; sleep 0.05; done
read -r WRC WT <"$WORK/waitprobe" 2>/dev/null
ph_eq "probe --wait 60s started before ready exits 0" 0 "${WRC:-none}"
ph_log "probe --wait returned $((${WT:-0} - TR)) ms after the ready line was seen"
HS=
while (($(ph_now_ms) - TR < 10000)); do
  HS=$(docker inspect -f '{{.State.Health.Status}}' "$C")
  [[ $HS == healthy ]] && break
  sleep 0.05
done
TH=$(($(ph_now_ms) - TR))
ph_eq "HEALTHCHECK turns the container healthy" healthy "$HS"
ph_lt "healthy ${TH} ms after the ready line (< 3500; interval 2 s)" "$TH" 3500
os_check_pull ready "$REG" agent:latest "$PH_IMAGE_ID" "$PH_DIFFIDS" "$SRC"

MS=$(os_stop_timed "$C")
wait "$RUNPID"
ph_lt "docker stop takes $MS ms (< 1500)" "$MS" 1500
ph_eq "docker run -i exits 0 after docker stop" 0 "$(cat "$WORK/run.rc" 2>/dev/null)"

ph_finish
