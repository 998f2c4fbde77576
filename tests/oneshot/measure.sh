#!/usr/bin/env bash
# tests/oneshot/measure.sh - how long until a ~300 MiB image is pullable?
# Prints figures; asserts nothing (not part of all.sh).
#
#   packhelper: `docker run` of the one-shot container with the tarball mounted
#               -> the ready line in docker logs (also: piped on stdin, and
#               through the docker socket)
#   old way:    Debian's docker-registry (distribution 2.8) started on the host
#               with a temp config on a free loopback port, then
#               `crane push --insecure TARBALL localhost:PORT/agent:latest`
#               -> push finished (registry start included)
#
#   RUNS=N (default 2)  MIB=N (default 300, split over 3 layers)
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init measure
RUNS=${RUNS:-2}
MIB=${MIB:-300}
SRC=oneshot-$RAND/big:v1
C=oneshot-$RAND-m
SOCK=/var/run/docker.sock

command -v docker-registry >/dev/null || { echo "docker-registry not installed (apt-get install docker-registry)" >&2; exit 1; }
L=$((MIB * 1024 / 3))
T=$(ph_now_ms)
ph_build_image "$SRC" "$L" "$L" "$L" || { echo "docker build failed" >&2; exit 1; }
echo "# docker build of $MIB MiB FROM scratch (3 layers): $(($(ph_now_ms) - T)) ms"
T=$(ph_now_ms)
os_save "$WORK/big.tar" "$SRC"
echo "# docker save: $(($(ph_now_ms) - T)) ms, $(($(stat -c %s "$WORK/big.tar") / 1048576)) MiB"
cat "$WORK/big.tar" >/dev/null # page cache: both ways read a warm file

row() { printf '%-62s %7s ms   %s\n' "$1" "$2" "${3:-}"; }
echo
row "what" "wall" "detail"

# ---- packhelper, tarball mounted
for r in $(seq "$RUNS"); do
  T0=$(ph_now_ms)
  os_run "$C-tar$r" -p 127.0.0.1::5000 -v "$WORK/big.tar:/in/image.tar:ro" -- \
    serve --import /in/image.tar=agent:latest >/dev/null
  READY=$(os_wait_ready "$C-tar$r" 300)
  T1=$(ph_now_ms)
  row "packhelper: docker run (mounted) -> ready" $((T1 - T0)) \
    "startup_ms=$(jq -r .startup_ms <<<"$READY" 2>/dev/null) digest=$(os_ready_digest "$READY" agent:latest | cut -c1-19)"
  docker rm -f "$C-tar$r" >/dev/null
done

# ---- the same, with the store on a host directory, and on tmpfs (this
# machine's storage driver is fuse-overlayfs: the container's own
# /var/lib/packhelper is slow to write)
for r in $(seq "$RUNS"); do
  mkdir -p "$WORK/store$r" && chown 65532:65532 "$WORK/store$r"
  T0=$(ph_now_ms)
  os_run "$C-vol$r" -p 127.0.0.1::5000 -v "$WORK/big.tar:/in/image.tar:ro" -v "$WORK/store$r:/var/lib/packhelper" -- \
    serve --import /in/image.tar=agent:latest >/dev/null
  READY=$(os_wait_ready "$C-vol$r" 300)
  T1=$(ph_now_ms)
  row "packhelper: docker run (mounted, store on a host dir) -> ready" $((T1 - T0)) "startup_ms=$(jq -r .startup_ms <<<"$READY" 2>/dev/null)"
  docker rm -f "$C-vol$r" >/dev/null
  rm -rf "$WORK/store$r"
done
for r in $(seq "$RUNS"); do
  T0=$(ph_now_ms)
  os_run "$C-tmpfs$r" -p 127.0.0.1::5000 -v "$WORK/big.tar:/in/image.tar:ro" \
    --tmpfs /var/lib/packhelper:mode=1777,size=1g -- serve --import /in/image.tar=agent:latest >/dev/null
  READY=$(os_wait_ready "$C-tmpfs$r" 300)
  T1=$(ph_now_ms)
  row "packhelper: docker run (mounted, store on tmpfs) -> ready" $((T1 - T0)) "startup_ms=$(jq -r .startup_ms <<<"$READY" 2>/dev/null)"
  docker rm -f "$C-tmpfs$r" >/dev/null
done

# ---- packhelper, docker save | docker run -i
for r in $(seq "$RUNS"); do
  : >"$WORK/in$r.out"
  T0=$(ph_now_ms)
  (docker save "$SRC" | docker run -i --rm --name "$C-in$r" --label "oneshot.run=$RAND" "$IMG" \
    serve --import -=agent:latest >"$WORK/in$r.out" 2>/dev/null) &
  READY=$(ph_wait_file "$WORK/in$r.out" '"ready":true' 300)
  T1=$(ph_now_ms)
  row "packhelper: docker save | docker run -i -> ready" $((T1 - T0)) "startup_ms=$(jq -r .startup_ms <<<"$READY" 2>/dev/null)"
  docker stop "$C-in$r" >/dev/null
  wait
done

# ---- packhelper, docker:// through the socket
for r in $(seq "$RUNS"); do
  T0=$(ph_now_ms)
  os_run "$C-sock$r" -v "$SOCK:$SOCK" --group-add "$(stat -L -c %g "$SOCK")" -- \
    serve --import "docker://$SRC=agent:latest" >/dev/null
  READY=$(os_wait_ready "$C-sock$r" 300)
  T1=$(ph_now_ms)
  row "packhelper: docker run (docker://) -> ready" $((T1 - T0)) "startup_ms=$(jq -r .startup_ms <<<"$READY" 2>/dev/null)"
  docker rm -f "$C-sock$r" >/dev/null
done

# ---- old way: registry 2.8 + crane push
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for r in $(seq "$RUNS"); do
  PORT=$(free_port)
  mkdir -p "$WORK/reg$r"
  cat >"$WORK/reg$r/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/reg$r/data
http:
  addr: 127.0.0.1:$PORT
EOF
  T0=$(ph_now_ms)
  docker-registry serve "$WORK/reg$r/config.yml" >"$WORK/reg$r/log" 2>&1 &
  REGPID=$!
  ph_cleanup "kill $REGPID"
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/") == 200 ]]; do
    kill -0 "$REGPID" 2>/dev/null || { echo "docker-registry died: $(tail -n3 "$WORK/reg$r/log")" >&2; exit 1; }
    sleep 0.02
  done
  T1=$(ph_now_ms)
  crane push --insecure "$WORK/big.tar" "localhost:$PORT/agent:latest" >"$WORK/reg$r/push.out" 2>&1 ||
    { echo "crane push failed: $(tail -n3 "$WORK/reg$r/push.out")" >&2; }
  T2=$(ph_now_ms)
  CFG=sha256:$(crane config --insecure "localhost:$PORT/agent:latest" 2>/dev/null | ph_sha256)
  row "old: docker-registry start -> crane push done" $((T2 - T0)) \
    "registry up $((T1 - T0)) ms + push $((T2 - T1)) ms; config $([[ $CFG == "$PH_IMAGE_ID" ]] && echo "==" || echo "!=") image ID"
  kill "$REGPID" 2>/dev/null
  wait "$REGPID" 2>/dev/null
  rm -rf "$WORK/reg$r/data"
done
