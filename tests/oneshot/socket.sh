#!/usr/bin/env bash
# tests/oneshot/socket.sh - --import docker://IMG through the daemon's socket.
# The socket is root:docker 0660 on the host; the image runs as 65532, so the
# container needs --group-add <the socket's gid> (or --user 0).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init socket
SOCK=/var/run/docker.sock
C=oneshot-$RAND-sock
GID=$(stat -L -c %g "$SOCK")
ph_log "docker socket: $(stat -L -c '%U:%G (gid %g) %a' "$SOCK")"

ph_require "docker build FROM scratch" ph_build_image "$SRC" 512 1024 768

# 1. as the image's user (65532), no group: a clear refusal
os_run "$C-nogroup" -v "$SOCK:$SOCK" -- serve --import "docker://$SRC=agent:latest" >/dev/null
ph_eq "uid 65532 without the socket's group: exits 1" 1 "$(timeout 30 docker wait "$C-nogroup")"
os_one_error "uid 65532 without the socket's group: says how to fix it" "$(docker logs "$C-nogroup" 2>&1)" \
  "no permission on the docker socket $SOCK; run the container with --group-add"

# 2. --group-add <gid of the socket>: works as the unprivileged user
T0=$(ph_now_ms)
os_run "$C-group" -p 127.0.0.1::5000 -v "$SOCK:$SOCK" --group-add "$GID" -- \
  serve --import "docker://$SRC=agent:latest" >/dev/null
READY=$(os_wait_ready "$C-group" 30)
ph_eq "--group-add $GID: ready line" 0 "$?"
ph_log "docker run -> ready line (docker://, --group-add): $(($(ph_now_ms) - T0)) ms"
REG=$(os_port "$C-group")
ph_eq "--group-add: still uid 65532" 65532 "$(docker inspect -f '{{.Config.User}}' "$C-group" | cut -d: -f1)"
DIGEST=$(os_ready_digest "$READY" agent:latest)
os_check_served group-add "$REG" agent latest "$DIGEST"
os_check_pull group-add "$REG" agent:latest "$PH_IMAGE_ID" "$PH_DIFFIDS" "$SRC"
ph_run "--group-add: the log names docker://$SRC" \
  grep -q "imported agent:latest $DIGEST from docker://$SRC" <<<"$(docker logs "$C-group" 2>&1)"
docker rm -f "$C-group" >/dev/null

# 3. --user 0, and docker://IMG without =REPO:TAG: served under its own name
os_run "$C-root" -p 127.0.0.1::5000 -v "$SOCK:$SOCK" --user 0 -- serve --import "docker://$SRC" >/dev/null
READY=$(os_wait_ready "$C-root" 30)
ph_eq "--user 0, docker://$SRC (own name): ready line" 0 "$?"
ph_eq "--user 0: the ready line names $SRC" "$SRC" "$(jq -r '[.images[].ref] | join(",")' <<<"$READY" 2>/dev/null)"
REG=$(os_port "$C-root")
os_check_served user0 "$REG" "${SRC%:*}" "${SRC##*:}" "$(os_ready_digest "$READY" "$SRC")"
os_check_pull user0 "$REG" "$SRC" "$PH_IMAGE_ID" "$PH_DIFFIDS" "$SRC"
docker rm -f "$C-root" >/dev/null

# 4. an image the daemon does not have: the daemon's message
os_run "$C-missing" -v "$SOCK:$SOCK" --group-add "$GID" -- \
  serve --import "docker://oneshot-$RAND/missing:v1=agent:latest" >/dev/null
ph_eq "docker://<missing image>: exits 1" 1 "$(timeout 30 docker wait "$C-missing")"
os_one_error "docker://<missing image>: the daemon's reason" "$(docker logs "$C-missing" 2>&1)" \
  "docker://oneshot-$RAND/missing:v1: docker daemon: .*(No such image|not found|reference does not exist)"

ph_finish
