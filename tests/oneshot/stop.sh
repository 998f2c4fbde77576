#!/usr/bin/env bash
# tests/oneshot/stop.sh - docker stop ends a serving container in well under a
# second with status 0: idle, with open client connections, and mid-import.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init stop
ph_require "docker build FROM scratch" ph_build_image "$SRC" 512 768 16384
os_save "$WORK/image.tar" "$SRC"
BIGLAYER=$(tail -n1 <<<"$PH_DIFFIDS")

start() {
  os_run "$1" -p 127.0.0.1::5000 -v "$WORK/image.tar:/in/image.tar:ro" -- \
    serve --import /in/image.tar=agent:latest >/dev/null
  os_wait_ready "$1" 30 >/dev/null || { ph_not_ok "$1: ready"; return 1; }
  REG=$(os_port "$1")
}

# 1. idle
if start "$C-idle"; then
  MS=$(os_stop_timed "$C-idle")
  ph_lt "idle: docker stop takes $MS ms (< 1500)" "$MS" 1500
  ph_eq "idle: exit status 0" 0 "$(docker inspect -f '{{.State.ExitCode}}' "$C-idle")"
  ph_run "idle: the log says it stopped on SIGTERM" \
    grep -q 'signal 15: shutting down' <<<"$(docker logs "$C-idle" 2>&1)"
fi

# 2. with an idle keep-alive connection and a slow blob download in flight
if start "$C-busy"; then
  exec {IDLE}<>"/dev/tcp/${REG%:*}/${REG#*:}"
  printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n' >&"$IDLE"
  curl -s --limit-rate 20k -o /dev/null "http://$REG/v2/agent/blobs/$BIGLAYER" &
  CURL=$!
  sleep 0.5
  ph_run "busy: the slow download (16 MiB at 20 KiB/s) is still running" kill -0 "$CURL"
  MS=$(os_stop_timed "$C-busy")
  ph_lt "busy: docker stop takes $MS ms (< 1500)" "$MS" 1500
  ph_eq "busy: exit status 0" 0 "$(docker inspect -f '{{.State.ExitCode}}' "$C-busy")"
  # (curl may still be draining what docker-proxy buffered: not a server matter)
  kill "$CURL" 2>/dev/null
  wait "$CURL" 2>/dev/null
  exec {IDLE}>&-
fi

# 3. SIGINT (docker kill -s INT, or Ctrl-C on docker run -it)
if start "$C-int"; then
  docker kill -s INT "$C-int" >/dev/null
  ph_eq "SIGINT: exits 0" 0 "$(timeout 10 docker wait "$C-int")"
fi

# 4. mid-import: the stream is held at 50%
(python3 "$HELPER" feed "$WORK/image.tar" "$WORK/gate" 64 0.5 |
  docker run -i --rm --name "$C-mid" --label "oneshot.run=$RAND" "$IMG" serve --import -=agent:latest \
    >"$WORK/mid.out" 2>"$WORK/mid.err"
  echo "${PIPESTATUS[1]}" >"$WORK/mid.rc") &
RUNPID=$!
ph_cleanup "touch $WORK/gate; kill $RUNPID"
ph_wait_file "$WORK/gate.held" held 30 >/dev/null
sleep 0.3
MS=$(os_stop_timed "$C-mid")
touch "$WORK/gate"
wait "$RUNPID"
ph_lt "mid-import: docker stop takes $MS ms (< 1500)" "$MS" 1500
ph_eq "mid-import: docker run exits 0 (stopped, not failed)" 0 "$(cat "$WORK/mid.rc")"
ph_run "mid-import: the log says it stopped on SIGTERM" grep -q 'signal 15: shutting down' "$WORK/mid.err"
ph_eq "mid-import: no ready line" 0 "$(wc -c <"$WORK/mid.out")"

ph_finish
