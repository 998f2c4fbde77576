#!/usr/bin/env bash
# tests/oneshot/compose.sh - compose/compose.yaml with docker-compose 1.29:
# config validates; up -d returns once the registry is healthy; the consumer
# (a probe of the manifest by service name) exits 0; the port is loopback;
# the image pulls back with the same ID; stop is clean; down -v leaves nothing.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init compose
FILE=$PH_ROOT/compose/compose.yaml
export COMPOSE_PROJECT_NAME=oneshot$RAND
export PACKHELPER_IMAGE=$IMG
DC=(docker-compose -f "$FILE" --no-ansi)
ph_cleanup "${DC[*]} down -v --remove-orphans"

ph_require "docker build FROM scratch" ph_build_image "$SRC" 512 768 1024
os_save "$WORK/image.tar" "$SRC"
export PACKHELPER_TARBALL=$WORK/image.tar

ph_run "docker-compose config validates (-q)" "${DC[@]}" config -q
CFG=$("${DC[@]}" config 2>/dev/null)
ph_run "config: the tarball is mounted read-only at /images/image.tar" \
  grep -q "$WORK/image.tar:/images/image.tar:ro" <<<"$CFG"

T0=$(ph_now_ms)
"${DC[@]}" up -d >"$WORK/up.log" 2>&1
RC=$?
UP=$(($(ph_now_ms) - T0))
ph_eq "docker-compose up -d exits 0 ($UP ms)" 0 "$RC" || sed 's/^/#   /' "$WORK/up.log" >&2
REGC=$("${DC[@]}" ps -q registry 2>/dev/null)
CONS=$("${DC[@]}" ps -q consumer 2>/dev/null)
ph_eq "registry is healthy when up -d returns" healthy \
  "$(docker inspect -f '{{.State.Health.Status}}' "$REGC" 2>/dev/null)"
ph_eq "consumer exits 0" 0 "$(timeout 60 docker wait "$CONS" 2>/dev/null)"
READY_AT=$(docker logs -t "$REGC" 2>/dev/null | grep '"ready":true' | cut -d' ' -f1)
CONS_AT=$(docker inspect -f '{{.State.StartedAt}}' "$CONS" 2>/dev/null)
if [[ -n $READY_AT && -n $CONS_AT ]] && (($(date -d "$CONS_AT" +%s%N) > $(date -d "$READY_AT" +%s%N))); then
  ph_ok "consumer started after the registry's ready line ($READY_AT < $CONS_AT)"
else
  ph_not_ok "consumer started after the registry's ready line ('$READY_AT' vs '$CONS_AT')"
fi
ph_run "consumer printed 'ready: <manifest URL>'" \
  grep -q "ready: http://registry:5000/v2/agent/manifests/latest" <<<"$(docker logs "$CONS" 2>&1)"
PORT=$("${DC[@]}" port registry 5000 2>/dev/null)
ph_run "docker-compose port registry 5000 is on loopback ($PORT)" grep -Eqx '127\.0\.0\.1:[0-9]+' <<<"$PORT"
READY=$(docker logs "$REGC" 2>/dev/null | grep -m1 '"ready":true')
os_check_served compose "$PORT" agent latest "$(os_ready_digest "$READY" agent:latest)"
os_check_pull compose "$PORT" agent:latest "$PH_IMAGE_ID" "$PH_DIFFIDS" "$SRC"

T0=$(ph_now_ms)
"${DC[@]}" stop >"$WORK/stop.log" 2>&1
RC=$?
ph_eq "docker-compose stop exits 0 ($(($(ph_now_ms) - T0)) ms)" 0 "$RC"
ph_eq "the registry stopped with status 0" 0 "$(docker inspect -f '{{.State.ExitCode}}' "$REGC")"
T0=$(ph_now_ms)
"${DC[@]}" down -v >"$WORK/down.log" 2>&1
RC=$?
ph_eq "docker-compose down -v exits 0 ($(($(ph_now_ms) - T0)) ms)" 0 "$RC"
P="label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"
ph_eq "nothing of the project is left (containers, networks, volumes)" "0 0 0" \
  "$(docker ps -aq --filter "$P" | wc -l) $(docker network ls -q --filter "$P" | wc -l) $(docker volume ls -q --filter "$P" | wc -l)"

ph_finish
