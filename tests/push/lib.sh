# tests/push/lib.sh - what the pusher tests (packhelper push) add to tests/lib.sh:
# running the pusher, registry stand-ins, the shared test image, and checks of
# what a registry holds.
#
# Source it from a script running with `set -uo pipefail`, then call
# `pt_init NAME`. Besides tests/lib.sh's RAND, WORK (PUSHTEST_KEEP=1 keeps it,
# PUSHTEST_KEEP_FAILED=1 keeps it when a check failed) and checks:
#   PH     the binary under test: a copy, taken at start, of $PACKHELPER
#          (default build/packhelper; `make` if missing)
#   HELPER tests/push/helper.py (the fault/auth proxy, fake servers)
# Servers started here are killed at exit. Each script's summary line is
# "NAME: N passed, N failed"; tests/push/all.sh sums them.
#
# The test image: pt_image sets IMG_TAG, IMG_TAR (docker save), IMG_ID,
# DIFFIDS (newline separated) and BLOBS (diff IDs + image ID), or ends the
# script with a failed check. tests/push/all.sh
# builds it once and passes it down in PT_IMAGE_*; a script run on its own
# builds its own.
# shellcheck shell=bash disable=SC2034,SC2153  # variables set here are for the caller
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PT_DIR=$PH_LIB/push
HELPER=$PT_DIR/helper.py
PH_KEEP=${PUSHTEST_KEEP:-}
PH_KEEP_FAILED=${PUSHTEST_KEEP_FAILED:-}

# pt_init NAME [LABEL]: LABEL names the work dir (default push-NAME)
pt_init() {
  ph_init "$1" "${2:-push-$1}"
  ph_tools
  export PATH="$PATH:/usr/sbin"
  ph_binary
  # test a snapshot: a rebuild of build/packhelper during the run must not
  # swap the binary between two pushes
  cp "$PH" "$WORK/packhelper" || { ph_not_ok "copy $PH"; ph_finish; exit 1; }
  PH=$WORK/packhelper
  # no credentials from the caller's environment or docker config
  unset PACKHELPER_USERNAME PACKHELPER_PASSWORD
  mkdir -p "$WORK/noauth"
  export DOCKER_CONFIG=$WORK/noauth
  # pulled tags carry $RAND in their repository name (runs last)
  ph_cleanup pt__rmi_pulled
}

pt__rmi_pulled() {
  local ids
  ids=$(docker images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -F -- "$RAND")
  # shellcheck disable=SC2086  # one word per tag
  [[ -z $ids ]] || docker rmi $ids
}

# pt_start_ph NAME : packhelper serve (tests/lib.sh's ph_serve_start: store
# $WORK/NAME.store, log $WORK/NAME.log); a failure to start is a failed check
pt_start_ph() { ph_serve_start "$@" || { ph_not_ok "start packhelper serve ($1)"; return 1; }; }

# ---- running the pusher ------------------------------------------------------

# pt_run VERB ARGS... : packhelper VERB (push, copy), stdin from /dev/null (or
# $PT_STDIN_FILE), run under "${PT_WRAP[@]}" (default: env; e.g.
# PT_WRAP=(env -u VAR)). Sets RC, OUT (stdout), ERR (stderr), MS (wall time),
# and keeps the files $WORK/VERB.out / $WORK/VERB.err.
PT_WRAP=(env)
pt_run() {
  local verb=$1 t0
  shift
  t0=$(ph_now_ms)
  "${PT_WRAP[@]}" "$PH" "$verb" "$@" <"${PT_STDIN_FILE:-/dev/null}" >"$WORK/$verb.out" 2>"$WORK/$verb.err"
  RC=$?
  MS=$(($(ph_now_ms) - t0))
  OUT=$(cat "$WORK/$verb.out")
  ERR=$(cat "$WORK/$verb.err")
  if ((RC != 0)) && [[ -n ${PT_VERBOSE:-} ]]; then
    ph_log "$verb $* -> exit $RC: $(tail -n3 "$WORK/$verb.err")"
  fi
  return 0
}
pt_push() { pt_run push "$@"; }

# pt_run_ok VERB DESC ARGS... : the command exits 0 and prints one sha256
# digest (DIGEST); on failure the stderr tail goes to the log.
pt_run_ok() {
  local verb=$1 desc=$2
  shift 2
  pt_run "$verb" "$@"
  DIGEST=$OUT
  if [[ $RC == 0 && $OUT =~ ^sha256:[0-9a-f]{64}$ ]]; then
    ph_ok "$desc"
  else
    ph_not_ok "$desc (exit $RC, stdout '$OUT')"
    grep -v '^[<>*] ' "$WORK/$verb.err" | tail -n 5 | sed 's/^/#   /' >&2
    return 1
  fi
}
pt_push_ok() { pt_run_ok push "$@"; }

# pt_run_fails VERB DESC WANT_RC ERE ARGS... : the command exits WANT_RC with
# exactly one line on stderr, matching ERE; nothing on stdout. The line is in
# LINE.
pt_run_fails() {
  local verb=$1 desc=$2 want=$3 re=$4 n
  shift 4
  pt_run "$verb" "$@"
  n=$(grep -c . "$WORK/$verb.err")
  LINE=$(head -n1 "$WORK/$verb.err")
  if [[ $RC == "$want" && $n == 1 && -z $OUT ]] && grep -Eq -- "$re" <<<"$LINE"; then
    ph_ok "$desc (exit $RC: $LINE)"
  else
    ph_not_ok "$desc (exit $RC, want $want; $n stderr lines, want 1 matching /$re/; stdout '$OUT'): $(tr '\n' '|' <"$WORK/$verb.err" | cut -c1-500)"
    return 1
  fi
}
pt_push_fails() { pt_run_fails push "$@"; }

# ---- registry stand-ins -------------------------------------------------------

# pt_start_dist NAME [tls] [HTPASSWD] : Debian's docker-registry (distribution
# 2.8), storage $WORK/NAME.store, access log in $WORK/NAME.log. tls uses
# $WORK/pki (pt_pki). Sets PORT.
pt_start_dist() {
  ph_spawn "$1" pt__dist "$@" && return 0
  ph_not_ok "start docker-registry ($1): $(tail -n3 "$WORK/$1.log")"
  return 1
}
pt__dist() {
  local name=$1 tls=${2:-} htpasswd=${3:-} cfg=$WORK/$1.yml
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
  exec docker-registry serve "$cfg"
}

# pt_start_olareg NAME : olareg serve, storage $WORK/NAME.store. Sets PORT.
pt_start_olareg() {
  mkdir -p "$WORK/$1.store"
  ph_spawn "$1" olareg serve --addr 127.0.0.1 --port {PORT} --dir "$WORK/$1.store" && return 0
  ph_not_ok "start olareg ($1): $(tail -n3 "$WORK/$1.log")"
  return 1
}

# pt_start_proxy NAME UPSTREAM_PORT [helper proxy options] : the fault/auth
# proxy (log $WORK/NAME.jsonl). Sets PORT.
pt_start_proxy() {
  local name=$1 up=$2
  shift 2
  ph_spawn "$name" python3 "$HELPER" proxy --port {PORT} --upstream "127.0.0.1:$up" \
    --log "$WORK/$name.jsonl" "$@" && return 0
  ph_not_ok "start proxy ($name): $(tail -n3 "$WORK/$name.log")"
  return 1
}

# pt_fake MODE : helper.py fake in MODE (log $WORK/fake-MODE.jsonl); sets
# PORT, or fails a check
pt_fake() {
  ph_spawn "fake-$1" python3 "$HELPER" fake --port {PORT} --mode "$1" --log "$WORK/fake-$1.jsonl" && return 0
  ph_not_ok "start the fake server ($1)"
  return 1
}

# pt_pki : a test CA and a server certificate for DNS:localhost only, in
# $WORK/pki (ca.pem, server.pem, server.key); sets CA (ca.pem), or ends the
# script with a failed check.
pt_pki() {
  ph_require "make the test CA and certificate" pt__pki
  CA=$WORK/pki/ca.pem
}
pt__pki() {
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

# pt_hosts_add NAME : map NAME to 127.0.0.1 in /etc/hosts until exit. The
# file is edited in place (it may be a bind mount); only our line is removed.
pt_hosts_add() {
  local mark="# packhelper-push-test-$RAND"
  printf '127.0.0.1 %s %s\n' "$1" "$mark" >>/etc/hosts || return 1
  ph_cleanup "grep -vF -- '$mark' /etc/hosts >'$WORK/hosts.new' && cat '$WORK/hosts.new' >/etc/hosts"
}

# pt_credhelper_test BIN STORE : BIN/docker-credential-test, a credential
# store in files: STORE/<key, [A-Za-z0-9._-] kept> (pt_cred_put writes them);
# every key it is asked for is appended to $WORK/asked-test.log
pt_credhelper_test() {
  cat >"$1/docker-credential-test" <<EOF || return 1
#!/bin/sh
[ "\$#" = 1 ] && [ "\$1" = get ] || { echo "docker-credential-test: want get, not \$*"; exit 2; }
key=\$(cat)
printf '%s\n' "\$key" >>"$WORK/asked-test.log"
f="$2/\$(printf %s "\$key" | tr -c 'A-Za-z0-9._-' _)"
if [ -f "\$f" ]; then cat "\$f"; else echo "credentials not found in native keychain"; exit 1; fi
EOF
  chmod 755 "$1/docker-credential-test"
}
# pt_cred_put STORE KEY USERNAME SECRET : what docker-credential-test answers for KEY
pt_cred_put() {
  jq -cn --arg k "$2" --arg u "$3" --arg s "$4" '{ServerURL: $k, Username: $u, Secret: $s}' \
    >"$1/$(printf %s "$2" | tr -c 'A-Za-z0-9._-' _)"
}

# ---- the test image --------------------------------------------------------

# The standard image: 3 layers of ~1, ~3 and ~18 MiB (the last takes many
# PATCHes with --chunk-size 1M or 4M; with the default 128M every blob goes
# in one PUT).
PT_LAYERS_KIB=(1000 3000 18000)

# pt_build_image TAG TAR : the standard image (removed at exit), docker save to TAR
pt_build_image() {
  ph_build_image "$1" "${PT_LAYERS_KIB[@]}" && docker save -o "$2" "$1"
}

pt_image() {
  if [[ -n ${PT_IMAGE_TAR:-} && -f $PT_IMAGE_TAR ]]; then
    IMG_TAG=$PT_IMAGE_TAG IMG_TAR=$PT_IMAGE_TAR
  else
    IMG_TAG=push-test-$RAND/image:src IMG_TAR=$WORK/image.tar
    ph_require "build the test image" pt_build_image "$IMG_TAG" "$IMG_TAR"
  fi
  # a pull check removes the image by ID; bring it back from the tarball
  docker image inspect "$IMG_TAG" >/dev/null 2>&1 || docker load -q -i "$IMG_TAR" >/dev/null
  IMG_ID=$(docker image inspect -f '{{.Id}}' "$IMG_TAG")
  DIFFIDS=$(ph_image_diffids "$IMG_TAG")
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
  ph_eq "$desc: crane digest $ref is the pushed digest" "$want" "$(crane digest "${cf[@]}" "$reg/$ref" 2>&1)"
  crane manifest "${cf[@]}" "$reg/$ref" >"$m" 2>&1
  ph_eq "$desc: the manifest's bytes hash to the pushed digest" "$want" "sha256:$(ph_sha256 "$m")"
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
  ph_eq "$desc: media types ($fmt, $comp)" "$mt $cmt $lmt" "$got"
  ph_eq "$desc: config digest == image ID" "$IMG_ID" "$(jq -r .config.digest "$m" 2>/dev/null)"
  ph_eq "$desc: crane config hashes to the image ID" "$IMG_ID" "sha256:$(crane config "${cf[@]}" "$reg/$ref" 2>/dev/null | ph_sha256)"
  if [[ $comp == none ]]; then
    ph_eq "$desc: layer digests == diff IDs" "$DIFFIDS" "$(jq -r '.layers[].digest' "$m" 2>/dev/null)"
  else
    local d out=""
    for d in $(jq -r '.layers[].digest' "$m" 2>/dev/null); do
      out+="sha256:$(crane blob "${cf[@]}" "$reg/${ref%%[:@]*}@$d" 2>/dev/null | gzip -dc 2>/dev/null | ph_sha256)"$'\n'
    done
    ph_eq "$desc: gzip layers decompress to the diff IDs" "$DIFFIDS" "${out%$'\n'}"
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
    ph_eq "$desc: docker pull $ref gives the original image ID" "$IMG_ID" "$got"
  else
    ph_not_ok "$desc: docker pull $reg/$ref: $(tail -n1 "$WORK/pull.log")"
  fi
  if docker image inspect "$reg/$ref" >/dev/null 2>&1; then
    docker tag "$reg/$ref" "$IMG_TAG"
    docker rmi "$reg/$ref" >/dev/null 2>&1
  else
    docker load -q -i "$IMG_TAR" >/dev/null
  fi
}
