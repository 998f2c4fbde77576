#!/usr/bin/env bash
# tests/oneshot/two_container.sh: the two-container flow with no daemon in the
# data path: a packhelper registry on a per-session network, and a second
# packhelper container pushing a docker-save tarball to it by container name
# (plain HTTP through --insecure).  Then the same through compose/push.yaml.
# Prints ok/not ok lines and "oneshot: N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE=${PACKHELPER_IMAGE:-bot-bottle/packhelper:latest}
id=ph2c$$$RANDOM
tmp=$(mktemp -d /tmp/$id.XXXXXX)
passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
notok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }
cleanup() {
  docker rm -f "$id-reg" "$id-push" >/dev/null 2>&1
  docker network rm "$id-net" >/dev/null 2>&1
  PACKHELPER_TARBALL=$tmp/img.tar docker-compose -p "$id" -f "$ROOT/compose/push.yaml" down -v -t 2 >/dev/null 2>&1
  docker rmi -f "$id/src:v1" >/dev/null 2>&1
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^localhost:[0-9]*/$id" | xargs -r docker rmi -f >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# a three-layer image FROM scratch
for i in 1 2 3; do head -c $((200000 * i)) /dev/urandom > "$tmp/l$i"; done
printf 'FROM scratch\nCOPY l1 /l1\nCOPY l2 /l2\nCOPY l3 /l3\n' > "$tmp/Dockerfile"
docker build -q -t "$id/src:v1" "$tmp" >/dev/null 2>&1 || { notok "docker build"; exit 1; }
want=$(docker inspect -f '{{.Id}}' "$id/src:v1")
docker save -o "$tmp/img.tar" "$id/src:v1" && chmod 644 "$tmp/img.tar"

wait_pulled() { # ref -> prints image id
  docker pull -q "$1" >/dev/null 2>&1 && docker inspect -f '{{.Id}}' "$1"
}

# --- plain docker run: network, registry by name, pusher by name
docker network create "$id-net" >/dev/null
docker run -d --name "$id-reg" --network "$id-net" -p 127.0.0.1::5000 "$IMAGE" >/dev/null
docker exec "$id-reg" /packhelper probe --wait 10s >/dev/null 2>&1
check "registry container ready" test $? -eq 0
out=$(docker run --rm --name "$id-push" --network "$id-net" -v "$tmp/img.tar:/in/img.tar:ro" \
      "$IMAGE" push --insecure /in/img.tar "$id-reg:5000/$id/app:v1" 2>"$tmp/push.err")
rc=$?
check "push by container name exits 0" test $rc -eq 0
check "push prints one sha256 manifest digest" grep -qE '^sha256:[0-9a-f]{64}$' <<<"$out"
port=$(docker port "$id-reg" 5000/tcp | head -n1 | sed 's/.*://')
served=$(curl -fsS -o /dev/null -D - -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
         "http://127.0.0.1:$port/v2/$id/app/manifests/v1" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
check "registry serves the digest push printed" test "$served" = "$out"
got=$(wait_pulled "localhost:$port/$id/app:v1")
check "docker pull gives the same image ID" test "$got" = "$want"
# without --insecure a non-loopback name is refused (no silent HTTP)
docker run --rm --network "$id-net" -v "$tmp/img.tar:/in/img.tar:ro" "$IMAGE" \
  push --quiet /in/img.tar "$id-reg:5000/$id/app:v2" >/dev/null 2>"$tmp/noinsecure.err"
rc=$?
check "without --insecure the push fails (exit $rc)" test $rc -eq 1
check "and says it is TLS that failed" grep -qiE 'tls|ssl|https' "$tmp/noinsecure.err"
check "in one line" test "$(wc -l < "$tmp/noinsecure.err")" -eq 1

# --- the same through compose/push.yaml
PACKHELPER_TARBALL=$tmp/img.tar PACKHELPER_REPO=$id/c timeout 120 \
  docker-compose -p "$id" -f "$ROOT/compose/push.yaml" up -d >/dev/null 2>&1
check "compose up" test $? -eq 0
state=""
for _ in $(seq 60); do
  state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "${id}_pusher_1" 2>/dev/null)
  [[ ${state%% *} == exited ]] && break
  sleep 0.5
done
check "compose pusher exits 0 ($state)" test "$state" = "exited 0"
cport=$(PACKHELPER_TARBALL=$tmp/img.tar docker-compose -p "$id" -f "$ROOT/compose/push.yaml" port registry 5000 | sed 's/.*://')
got=$(wait_pulled "localhost:$cport/$id/c:latest")
check "compose: docker pull gives the same image ID" test "$got" = "$want"

echo "oneshot: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
