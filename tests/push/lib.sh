# tests/push/lib.sh - shared helpers for the pusher tests (packhelper push).
#
# Source it from a script running with `set -uo pipefail` (no -e: a failed
# check is counted, not fatal), then call `pt_init NAME`. Afterwards:
#   RAND   random hex suffix; every repository, tag, docker object and host
#          name this run makes carries it
#   WORK   temp dir (removed on exit; PUSHTEST_KEEP=1 keeps it,
#          PUSHTEST_KEEP_FAILED=1 keeps it when a check failed)
#   PH     the binary under test: a copy, taken at start, of $PACKHELPER
#          (default build/packhelper; `make` if missing)
#   HELPER tests/push/helper.py (free ports, the fault/auth proxy)
# Servers started here are killed at exit by pid, with every cleanup
# registered by pt_cleanup (run in reverse order).
# Checks print "ok - ..." / "not ok - ..."; pt_finish prints
# "NAME: N passed, N failed" and exits non-zero if anything failed.
#
# The test image: pt_image sets IMG_TAG, IMG_TAR (docker save), IMG_ID,
# DIFFIDS (newline separated) and BLOBS (diff IDs + image ID). tests/push/all.sh
# builds it once and passes it down in PT_IMAGE_*; a script run on its own
# builds its own.
# shellcheck shell=bash disable=SC2034,SC2153  # variables set here are for the caller

PT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PT_ROOT=$(cd "$PT_DIR/../.." && pwd)
PT_PASS=0
PT_FAIL=0
PT_NAME=push
PT_CLEANUP=()
PH=${PACKHELPER:-$PT_ROOT/build/packhelper}
HELPER=$PT_DIR/helper.py
PT_ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json'

pt_log() { printf '# %s\n' "$*" >&2; }
pt_rand() { od -An -N5 -tx1 /dev/urandom | tr -d ' \n'; }
pt_now_ms() { local t=$EPOCHREALTIME; echo $((${t%.*} * 1000 + 10#${t#*.} / 1000)); }

pt_init() {
  PT_NAME=$1
  RAND=$(pt_rand)
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/pushtest-$PT_NAME.XXXXXX")
  trap pt__exit EXIT
  trap 'exit 130' INT TERM HUP
  TOOLS=$("$PT_ROOT/mk/tools.sh") || { echo "not ok - mk/tools.sh"; exit 1; }
  export PATH="$TOOLS:$PATH:/usr/sbin"
  if [[ ! -x $PH ]]; then
    pt_log "building $PH"
    make -C "$PT_ROOT" >/dev/null || { echo "not ok - make"; exit 1; }
  fi
  # test a snapshot: a rebuild of build/packhelper during the run must not
  # swap the binary between two pushes
  cp "$PH" "$WORK/packhelper" || { echo "not ok - copy $PH"; exit 1; }
  PH=$WORK/packhelper
  # no credentials from the caller's environment or docker config
  unset PACKHELPER_USERNAME PACKHELPER_PASSWORD
  mkdir -p "$WORK/noauth"
  export DOCKER_CONFIG=$WORK/noauth
}

pt_cleanup() { PT_CLEANUP+=("$*"); }

pt__exit() {
  local rc=$? i ids
  for ((i = ${#PT_CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${PT_CLEANUP[i]}" >/dev/null 2>&1 || true
  done
  # pulled tags carry $RAND in their repository name
  ids=$(docker images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -F -- "$RAND" || true)
  # shellcheck disable=SC2086  # one word per tag
  [[ -z $ids ]] || docker rmi $ids >/dev/null 2>&1 || true
  if [[ -n ${WORK:-} && -z ${PUSHTEST_KEEP:-} && ! ($PT_FAIL -gt 0 && -n ${PUSHTEST_KEEP_FAILED:-}) ]]; then
    rm -rf "$WORK"
  elif [[ -n ${WORK:-} ]]; then
    pt_log "work dir kept: $WORK"
  fi
  exit "$rc"
}

pt_ok() { PT_PASS=$((PT_PASS + 1)); printf 'ok - %s\n' "$*"; }
pt_not_ok() { PT_FAIL=$((PT_FAIL + 1)); printf 'not ok - %s\n' "$*"; }

pt_finish() {
  printf '%s: %d passed, %d failed\n' "$PT_NAME" "$PT_PASS" "$PT_FAIL"
  [[ $PT_FAIL -eq 0 ]]
}

# pt_eq DESC EXPECTED ACTUAL
pt_eq() {
  if [[ -n $2 && $2 == "$3" ]]; then
    pt_ok "$1"
  else
    pt_not_ok "$1 (expected '$2', got '$(printf '%s' "$3" | tr '\n' '|' | cut -c1-400)')"
    return 1
  fi
}

# pt_ne DESC UNWANTED ACTUAL
pt_ne() {
  if [[ -n $3 && $2 != "$3" ]]; then pt_ok "$1"; else pt_not_ok "$1 (got '$3')"; return 1; fi
}

# pt_match DESC ERE TEXT (grep -E on any line)
pt_match() {
  if grep -Eq -- "$2" <<<"$3"; then
    pt_ok "$1"
  else
    pt_not_ok "$1 (/$2/ not in: $(printf '%s' "$3" | tr '\n' '|' | cut -c1-400))"
    return 1
  fi
}

# pt_nomatch DESC ERE TEXT
pt_nomatch() {
  if ! grep -Eq -- "$2" <<<"$3"; then
    pt_ok "$1"
  else
    pt_not_ok "$1 (/$2/ found: $(grep -Em2 -- "$2" <<<"$3" | tr '\n' '|' | cut -c1-300))"
    return 1
  fi
}

# pt_nofixed DESC STRING FILE: STRING does not occur in FILE
pt_nofixed() {
  if [[ -n $2 ]] && ! grep -qF -- "$2" "$3"; then
    pt_ok "$1"
  else
    pt_not_ok "$1 (found in $(basename "$3"): $(grep -m1 -F -- "$2" "$3" | cut -c1-200))"
    return 1
  fi
}

# pt_le DESC VALUE LIMIT / pt_ge DESC VALUE MIN (integers)
pt_le() { if [[ $2 =~ ^[0-9]+$ ]] && (($2 <= $3)); then pt_ok "$1"; else pt_not_ok "$1 (got '$2', limit $3)"; return 1; fi; }
pt_ge() { if [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3)); then pt_ok "$1"; else pt_not_ok "$1 (got '$2', want >= $3)"; return 1; fi; }

pt_sha256() { sha256sum "$@" | cut -d' ' -f1; }

# ---- running the pusher ------------------------------------------------------

# pt_push ARGS... : packhelper push, stdin from /dev/null (or $PT_STDIN_FILE),
# run under "${PT_WRAP[@]}" (default: env; e.g. PT_WRAP=(env -u VAR)).
# Sets RC, OUT (stdout), ERR (stderr), MS (wall time), and keeps the files
# $WORK/push.out / $WORK/push.err.
PT_WRAP=(env)
pt_push() {
  local t0
  t0=$(pt_now_ms)
  "${PT_WRAP[@]}" "$PH" push "$@" <"${PT_STDIN_FILE:-/dev/null}" >"$WORK/push.out" 2>"$WORK/push.err"
  RC=$?
  MS=$(($(pt_now_ms) - t0))
  OUT=$(cat "$WORK/push.out")
  ERR=$(cat "$WORK/push.err")
  if ((RC != 0)) && [[ -n ${PT_VERBOSE:-} ]]; then
    pt_log "push $* -> exit $RC: $(tail -n3 "$WORK/push.err")"
  fi
  return 0
}

# pt_push_ok DESC ARGS... : the push exits 0 and prints one sha256 digest
# (DIGEST); on failure the stderr tail goes to the log.
pt_push_ok() {
  local desc=$1
  shift
  pt_push "$@"
  DIGEST=$OUT
  if [[ $RC == 0 && $OUT =~ ^sha256:[0-9a-f]{64}$ ]]; then
    pt_ok "$desc"
  else
    pt_not_ok "$desc (exit $RC, stdout '$OUT')"
    grep -v '^[<>*] ' "$WORK/push.err" | tail -n 5 | sed 's/^/#   /' >&2
    return 1
  fi
}

# pt_push_fails DESC WANT_RC ERE ARGS... : the push exits WANT_RC with exactly
# one line on stderr, matching ERE; nothing on stdout. The line is in LINE.
pt_push_fails() {
  local desc=$1 want=$2 re=$3 n
  shift 3
  pt_push "$@"
  n=$(grep -c . "$WORK/push.err")
  LINE=$(head -n1 "$WORK/push.err")
  if [[ $RC == "$want" && $n == 1 && -z $OUT ]] && grep -Eq -- "$re" <<<"$LINE"; then
    pt_ok "$desc (exit $RC: $LINE)"
  else
    pt_not_ok "$desc (exit $RC, want $want; $n stderr lines, want 1 matching /$re/; stdout '$OUT'): $(tr '\n' '|' <"$WORK/push.err" | cut -c1-500)"
    return 1
  fi
}

# ---- servers ---------------------------------------------------------------

pt_port() { python3 "$HELPER" port; }
pt_wait_port() { python3 "$HELPER" wait "$1" "${2:-15}"; }

# pt_spawn NAME PORT CMD... : start CMD in the background (output to
# $WORK/NAME.log), kill it at exit, wait for PORT. 0, or 1 if it died or
# never listened.
pt_spawn() {
  local name=$1 port=$2 pid
  shift 2
  "$@" >>"$WORK/$name.log" 2>&1 &
  pid=$!
  pt_cleanup "kill $pid; wait $pid"
  eval "PID_${name//[^a-zA-Z0-9]/_}=$pid"
  if pt_wait_port "$port" 15 && kill -0 "$pid" 2>/dev/null; then
    return 0
  fi
  return 1
}

# pt_start_ph NAME : packhelper serve on 127.0.0.1 (store $WORK/NAME.store,
# log $WORK/NAME.log). Sets PORT.
pt_start_ph() {
  local name=$1 try
  for try in 1 2 3; do
    PORT=$(pt_port)
    pt_spawn "$name" "$PORT" "$PH" serve --listen "127.0.0.1:$PORT" --root "$WORK/$name.store" && return 0
  done
  pt_not_ok "start packhelper serve ($name): $(tail -n3 "$WORK/$name.log")"
  return 1
}

# pt_start_dist NAME [tls] [HTPASSWD] : Debian's docker-registry (distribution
# 2.8), storage $WORK/NAME.store, access log in $WORK/NAME.log. tls uses
# $WORK/pki (pt_pki). Sets PORT.
pt_start_dist() {
  local name=$1 tls=${2:-} htpasswd=${3:-} try cfg=$WORK/$1.yml
  for try in 1 2 3; do
    PORT=$(pt_port)
    {
      printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n'
      printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$WORK/$name.store"
      printf 'http:\n  addr: 127.0.0.1:%s\n  secret: %s\n' "$PORT" "$RAND"
      if [[ -n $tls ]]; then
        printf '  tls:\n    certificate: %s\n    key: %s\n' "$WORK/pki/server.pem" "$WORK/pki/server.key"
      fi
      if [[ -n $htpasswd ]]; then
        printf 'auth:\n  htpasswd:\n    realm: push-test\n    path: %s\n' "$htpasswd"
      fi
    } >"$cfg"
    pt_spawn "$name" "$PORT" docker-registry serve "$cfg" && return 0
  done
  pt_not_ok "start docker-registry ($name): $(tail -n3 "$WORK/$name.log")"
  return 1
}

# pt_start_olareg NAME : olareg serve, storage $WORK/NAME.store. Sets PORT.
pt_start_olareg() {
  local name=$1 try
  mkdir -p "$WORK/$name.store"
  for try in 1 2 3; do
    PORT=$(pt_port)
    pt_spawn "$name" "$PORT" olareg serve --addr 127.0.0.1 --port "$PORT" --dir "$WORK/$name.store" && return 0
  done
  pt_not_ok "start olareg ($name): $(tail -n3 "$WORK/$name.log")"
  return 1
}

# pt_start_proxy NAME UPSTREAM_PORT [helper proxy options] : the fault/auth
# proxy (log $WORK/NAME.jsonl). Sets PORT.
pt_start_proxy() {
  local name=$1 up=$2 try
  shift 2
  for try in 1 2 3; do
    PORT=$(pt_port)
    pt_spawn "$name" "$PORT" python3 "$HELPER" proxy --port "$PORT" --upstream "127.0.0.1:$up" \
      --log "$WORK/$name.jsonl" "$@" && return 0
  done
  pt_not_ok "start proxy ($name): $(tail -n3 "$WORK/$name.log")"
  return 1
}

# pt_pki : a test CA and a server certificate for DNS:localhost only, in
# $WORK/pki (ca.pem, server.pem, server.key).
pt_pki() {
  local d=$WORK/pki
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=push-test CA $RAND" \
    -keyout "$d/ca.key" -out "$d/ca.pem" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1 || return 1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/server.key" \
    -out "$d/server.csr" >/dev/null 2>&1 || return 1
  printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" >/dev/null 2>&1
}

# pt_log_mark FILE -> the current line count (for pt_log_since)
pt_log_mark() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
# pt_log_since FILE MARK -> the lines after MARK
pt_log_since() { tail -n "+$(($2 + 1))" "$1"; }
# pt_wait_log FILE ERE [SECONDS] : wait until a line of FILE matches
pt_wait_log() {
  local deadline=$(($(pt_now_ms) + ${3:-5} * 1000))
  while (($(pt_now_ms) < deadline)); do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# pt_hosts_add NAME : map NAME to 127.0.0.1 in /etc/hosts until exit. The
# file is edited in place (it may be a bind mount); only our line is removed.
pt_hosts_add() {
  local mark="# packhelper-push-test-$RAND"
  printf '127.0.0.1 %s %s\n' "$1" "$mark" >>/etc/hosts || return 1
  pt_cleanup "grep -vF -- '$mark' /etc/hosts >'$WORK/hosts.new' && cat '$WORK/hosts.new' >/etc/hosts"
}

# ---- the test image --------------------------------------------------------

# pt_build_image TAG TAR KIB... : FROM scratch, one COPY layer of KIB KiB
# (plus up to 1 KiB) of random bytes per argument, a label; docker save to TAR.
pt_build_image() {
  local tag=$1 tar=$2 ctx i=0 k
  shift 2
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/pushtest-ctx.XXXXXX")
  {
    echo "FROM scratch"
    for k in "$@"; do
      i=$((i + 1))
      mkdir -p "$ctx/l$i"
      head -c $((k * 1024 + RANDOM % 1024)) /dev/urandom >"$ctx/l$i/data.bin"
      echo "COPY l$i/ /l$i/"
    done
    echo "LABEL push.test=\"$tag\""
  } >"$ctx/Dockerfile"
  if ! DOCKER_BUILDKIT=0 docker build -q --no-cache -t "$tag" "$ctx" >"$ctx/build.log" 2>&1; then
    cat "$ctx/build.log" >&2
    rm -rf "$ctx"
    return 1
  fi
  rm -rf "$ctx"
  docker save -o "$tar" "$tag"
}

# The standard image: 3 layers of ~1, ~3 and ~18 MiB (the last is over the
# 16 MiB monolithic limit, so it always goes through the PATCH path).
PT_LAYERS_KIB=(1000 3000 18000)

pt_image() {
  if [[ -n ${PT_IMAGE_TAR:-} && -f $PT_IMAGE_TAR ]]; then
    IMG_TAG=$PT_IMAGE_TAG IMG_TAR=$PT_IMAGE_TAR
  else
    IMG_TAG=push-test-$RAND/image:src IMG_TAR=$WORK/image.tar
    pt_build_image "$IMG_TAG" "$IMG_TAR" "${PT_LAYERS_KIB[@]}" || { pt_not_ok "build the test image"; return 1; }
    pt_cleanup "docker rmi -f $(docker image inspect -f '{{.Id}}' "$IMG_TAG")"
  fi
  # a pull check removes the image by ID; bring it back from the tarball
  docker image inspect "$IMG_TAG" >/dev/null 2>&1 || docker load -q -i "$IMG_TAR" >/dev/null
  IMG_ID=$(docker image inspect -f '{{.Id}}' "$IMG_TAG")
  DIFFIDS=$(docker image inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' "$IMG_TAG" | sed '/^$/d')
  BLOBS=$(printf '%s\n%s\n' "$DIFFIDS" "$IMG_ID")
}

# ---- checking what a registry holds ------------------------------------------

# pt_check_registry DESC REG REPO:TAG DIGEST FORMAT COMPRESSION [crane flags]:
# crane sees DIGEST under the tag, the manifest bytes hash to it, the media
# types fit FORMAT (oci|docker) and COMPRESSION (none|gzip), the config is
# the original image's (digest and bytes == image ID), and the layers are the
# original ones (uncompressed: digests == diff IDs; gzip: each blob gunzips
# to its diff ID).
pt_check_registry() {
  local desc=$1 reg=$2 ref=$3 want=$4 fmt=$5 comp=$6 m=$WORK/manifest.json got mt lmt cmt
  shift 6
  local cf=(--insecure "$@")
  pt_eq "$desc: crane digest $ref is the pushed digest" "$want" "$(crane digest "${cf[@]}" "$reg/$ref" 2>&1)"
  crane manifest "${cf[@]}" "$reg/$ref" >"$m" 2>&1
  pt_eq "$desc: the manifest's bytes hash to the pushed digest" "$want" "sha256:$(pt_sha256 "$m")"
  if [[ $fmt == docker ]]; then
    mt=application/vnd.docker.distribution.manifest.v2+json
    cmt=application/vnd.docker.container.image.v1+json
    lmt=application/vnd.docker.image.rootfs.diff.tar
    [[ $comp == gzip ]] && lmt=application/vnd.docker.image.rootfs.diff.tar.gzip
  else
    mt=application/vnd.oci.image.manifest.v1+json
    cmt=application/vnd.oci.image.config.v1+json
    lmt=application/vnd.oci.image.layer.v1.tar
    [[ $comp == gzip ]] && lmt=application/vnd.oci.image.layer.v1.tar+gzip
  fi
  got=$(jq -r '[.mediaType, .config.mediaType, (.layers | map(.mediaType) | unique | join(","))] | join(" ")' "$m" 2>/dev/null)
  pt_eq "$desc: media types ($fmt, $comp)" "$mt $cmt $lmt" "$got"
  pt_eq "$desc: config digest == image ID" "$IMG_ID" "$(jq -r .config.digest "$m" 2>/dev/null)"
  pt_eq "$desc: crane config hashes to the image ID" "$IMG_ID" "sha256:$(crane config "${cf[@]}" "$reg/$ref" 2>/dev/null | pt_sha256)"
  if [[ $comp == none ]]; then
    pt_eq "$desc: layer digests == diff IDs" "$DIFFIDS" "$(jq -r '.layers[].digest' "$m" 2>/dev/null)"
  else
    local d out=""
    for d in $(jq -r '.layers[].digest' "$m" 2>/dev/null); do
      out+="sha256:$(crane blob "${cf[@]}" "$reg/${ref%%[:@]*}@$d" 2>/dev/null | gzip -dc 2>/dev/null | pt_sha256)"$'\n'
    done
    pt_eq "$desc: gzip layers decompress to the diff IDs" "$DIFFIDS" "${out%$'\n'}"
  fi
}

# pt_check_pull DESC REG REPO:TAG : docker pull (after removing every local
# copy of the image, so every layer is downloaded) gives the original image
# ID; the original tag is put back and the pulled tag removed.
pt_check_pull() {
  local desc=$1 reg=$2 ref=$3 got
  docker rmi -f "$IMG_ID" >/dev/null 2>&1
  if docker pull -q "$reg/$ref" >"$WORK/pull.log" 2>&1; then
    got=$(docker image inspect -f '{{.Id}}' "$reg/$ref" 2>/dev/null)
    pt_eq "$desc: docker pull $ref gives the original image ID" "$IMG_ID" "$got"
  else
    pt_not_ok "$desc: docker pull $reg/$ref: $(tail -n1 "$WORK/pull.log")"
  fi
  if docker image inspect "$reg/$ref" >/dev/null 2>&1; then
    docker tag "$reg/$ref" "$IMG_TAG"
    docker rmi "$reg/$ref" >/dev/null 2>&1
  else
    docker load -q -i "$IMG_TAR" >/dev/null
  fi
}
