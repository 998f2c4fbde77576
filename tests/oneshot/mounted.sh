#!/usr/bin/env bash
# tests/oneshot/mounted.sh - a docker-save tarball mounted read-only into a
# one-shot container: ready line, digest, pull back (docker, crane, skopeo).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init mounted
ph_require "docker build FROM scratch" ph_build_image "$SRC" 512 768 1280
ph_eq "docker build: FROM scratch image with 3 layers" 3 "$(wc -l <<<"$PH_DIFFIDS")"
ph_run "docker save $SRC (chmod 644)" os_save "$WORK/image.tar" "$SRC"
SIZE=$(stat -c %s "$WORK/image.tar")
LAYERS=$(tar -tf "$WORK/image.tar" | grep -c '/layer.tar$')
ph_eq "tarball is 1-5 MB ($SIZE bytes), legacy layout with 3 <id>/layer.tar" "1 3" \
  "$((SIZE > 1000000 && SIZE < 5000000)) $LAYERS"

T0=$(ph_now_ms)
os_run "$C" -p 127.0.0.1::5000 -v "$WORK/image.tar:/in/image.tar:ro" -- \
  serve --import /in/image.tar=agent:latest >/dev/null
READY=$(os_wait_ready "$C" 30)
rc=$?
T1=$(ph_now_ms)
ph_eq "ready line in docker logs (rc of wait)" 0 "$rc"
ph_log "docker run -> ready line: $((T1 - T0)) ms; $READY"
REG=$(os_port "$C")
ph_run "docker port gives a loopback port ($REG)" test -n "$REG"
ph_eq "ready line: one image, agent:latest" "agent:latest" "$(jq -r '[.images[].ref] | join(",")' <<<"$READY" 2>/dev/null)"
ph_eq "ready line: ready true, listen 0.0.0.0:5000, startup_ms a number" "true 0.0.0.0:5000 number" \
  "$(jq -r '"\(.ready) \(.listen) \(.startup_ms | type)"' <<<"$READY" 2>/dev/null)"
ph_eq "ready line is exactly one line on stdout" 1 "$(docker logs "$C" 2>/dev/null | wc -l)"
DIGEST=$(os_ready_digest "$READY" agent:latest)
os_check_served mounted "$REG" agent latest "$DIGEST"
ph_eq "/readyz is 200 once ready" 200 "$(os_http "http://$REG/readyz")"
os_check_pull mounted "$REG" agent:latest "$PH_IMAGE_ID" "$PH_DIFFIDS" "$SRC"
LOGS=$(docker logs "$C" 2>&1 >/dev/null)
ph_run "the log names the import (agent:latest, digest, source)" \
  grep -q "imported agent:latest $DIGEST from /in/image.tar" <<<"$LOGS"

# docker save -o writes mode 0600: a clear error, not a hang or a crash
chmod 600 "$WORK/image.tar"
C2=$C-0600
T0=$(ph_now_ms)
os_run "$C2" -v "$WORK/image.tar:/in/image.tar:ro" -- serve --import /in/image.tar=agent:latest >/dev/null
RC=$(timeout 30 docker wait "$C2")
T1=$(ph_now_ms)
ph_eq "0600 tarball: the container exits 1" 1 "$RC"
ERR=$(docker logs "$C2" 2>&1)
os_one_error "0600 tarball: one error line naming the file and the cause" "$ERR" \
  'import failed: /in/image.tar: Permission denied'
ph_lt "0600 tarball: fails fast ($((T1 - T0)) ms < 5000)" $((T1 - T0)) 5000
chmod 644 "$WORK/image.tar"

ph_finish
