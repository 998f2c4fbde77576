#!/usr/bin/env bash
# tests/oneshot/two_container.sh: the two-container flow with no daemon in the
# data path: a packhelper registry on a per-session network, and a second
# packhelper container pushing a docker-save tarball to it by container name
# (plain HTTP through --insecure).  Then the same through compose/push.yaml.
# Prints ok/not ok lines and "oneshot: N passed, N failed".
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init two_container
IMAGE=$IMG
id=ph2c$RAND
tmp=$WORK
cleanup() {
  docker rm -f "$id-reg" "$id-push"
  docker network rm "$id-net"
  PACKHELPER_TARBALL=$tmp/img.tar docker-compose -p "$id" -f "$PH_ROOT/compose/push.yaml" down -v -t 2
}
ph_cleanup cleanup # pulled localhost:PORT/$id/... tags carry $RAND: os_init removes them

# a three-layer image FROM scratch
ph_require "docker build" ph_build_image "$id/src:v1" 195 390 586
want=$PH_IMAGE_ID
os_save "$tmp/img.tar" "$id/src:v1"

wait_pulled() { # ref -> prints image id
  docker pull -q "$1" >/dev/null 2>&1 && docker inspect -f '{{.Id}}' "$1"
}

# --- plain docker run: network, registry by name, pusher by name
docker network create "$id-net" >/dev/null
docker run -d --name "$id-reg" --network "$id-net" -p 127.0.0.1::5000 "$IMAGE" >/dev/null
docker exec "$id-reg" /packhelper probe --wait 10s >/dev/null 2>&1
ph_true "registry container ready" test $? -eq 0
out=$(docker run --rm --name "$id-push" --network "$id-net" -v "$tmp/img.tar:/in/img.tar:ro" \
      "$IMAGE" push --insecure /in/img.tar "$id-reg:5000/$id/app:v1" 2>"$tmp/push.err")
rc=$?
ph_true "push by container name exits 0" test $rc -eq 0
ph_true "push prints one sha256 manifest digest" grep -qE '^sha256:[0-9a-f]{64}$' <<<"$out"
port=$(docker port "$id-reg" 5000/tcp | head -n1 | sed 's/.*://')
served=$(curl -fsS -o /dev/null -D - -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
         "http://127.0.0.1:$port/v2/$id/app/manifests/v1" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
ph_true "registry serves the digest push printed" test "$served" = "$out"
got=$(wait_pulled "localhost:$port/$id/app:v1")
ph_true "docker pull gives the same image ID" test "$got" = "$want"
# without --insecure a non-loopback name is refused (no silent HTTP)
docker run --rm --network "$id-net" -v "$tmp/img.tar:/in/img.tar:ro" "$IMAGE" \
  push --quiet /in/img.tar "$id-reg:5000/$id/app:v2" >/dev/null 2>"$tmp/noinsecure.err"
rc=$?
ph_true "without --insecure the push fails (exit $rc)" test $rc -eq 1
ph_true "and says it is TLS that failed" grep -qiE 'tls|ssl|https' "$tmp/noinsecure.err"
ph_true "in one line" test "$(wc -l < "$tmp/noinsecure.err")" -eq 1

# --- the same through compose/push.yaml
PACKHELPER_TARBALL=$tmp/img.tar PACKHELPER_REPO=$id/c timeout 120 \
  docker-compose -p "$id" -f "$PH_ROOT/compose/push.yaml" up -d >/dev/null 2>&1
ph_true "compose up" test $? -eq 0
state=""
for _ in $(seq 60); do
  state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "${id}_pusher_1" 2>/dev/null)
  [[ ${state%% *} == exited ]] && break
  sleep 0.5
done
ph_true "compose pusher exits 0 ($state)" test "$state" = "exited 0"
cport=$(PACKHELPER_TARBALL=$tmp/img.tar docker-compose -p "$id" -f "$PH_ROOT/compose/push.yaml" port registry 5000 | sed 's/.*://')
got=$(wait_pulled "localhost:$cport/$id/c:latest")
ph_true "compose: docker pull gives the same image ID" test "$got" = "$want"

ph_finish
