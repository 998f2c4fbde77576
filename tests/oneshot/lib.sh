# tests/oneshot/lib.sh - shared helpers for the one-shot container tests.
#
# Source it from a script running with `set -uo pipefail` (no -e: a failed
# check is counted, not fatal), then call `os_init NAME`. Afterwards:
#   RAND   random hex suffix; every docker object this run makes carries it
#   WORK   temp dir (removed on exit; ONESHOT_KEEP=1 keeps it)
#   IMG    the packhelper image under test (PACKHELPER_IMAGE, default
#          bot-bottle/packhelper:latest; `make image` if missing)
#   PH     the host binary (PACKHELPER, default build/packhelper; `make` if missing)
# Every container is labelled oneshot.run=$RAND and removed at exit, along
# with any cleanup registered by os_cleanup (run in reverse order).
# Checks print "ok - ..." / "not ok - ..."; os_finish prints
# "oneshot: N passed, N failed" and exits non-zero if anything failed.
# shellcheck shell=bash disable=SC2034  # variables set here are for the caller

OS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OS_ROOT=$(cd "$OS_DIR/../.." && pwd)
OS_PASS=0
OS_FAIL=0
OS_NAME=oneshot
OS_CLEANUP=()
IMG=${PACKHELPER_IMAGE:-bot-bottle/packhelper:latest}
PH=${PACKHELPER:-$OS_ROOT/build/packhelper}
HELPER=$OS_DIR/helper.py

os_log() { printf '# %s\n' "$*" >&2; }
os_rand() { od -An -N5 -tx1 /dev/urandom | tr -d ' \n'; }
os_now_ms() { local t=$EPOCHREALTIME; echo $((${t%.*} * 1000 + 10#${t#*.} / 1000)); }

os_init() {
  OS_NAME=$1
  RAND=$(os_rand)
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/oneshot-$OS_NAME.XXXXXX")
  chmod 755 "$WORK"
  trap os__exit EXIT
  trap 'exit 130' INT TERM HUP
  TOOLS=$("$OS_ROOT/mk/tools.sh") || { echo "not ok - mk/tools.sh"; exit 1; }
  export PATH="$TOOLS:$PATH"
  if [[ ! -x $PH ]]; then
    os_log "building $PH"
    make -C "$OS_ROOT" >/dev/null || { echo "not ok - make"; exit 1; }
  fi
  if ! docker image inspect "$IMG" >/dev/null 2>&1; then
    os_log "building $IMG"
    make -C "$OS_ROOT" image >/dev/null || { echo "not ok - make image"; exit 1; }
  fi
}

os_cleanup() { OS_CLEANUP+=("$*"); }

os__exit() {
  local rc=$? i
  local -a ids
  for ((i = ${#OS_CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${OS_CLEANUP[i]}" >/dev/null 2>&1 || true
  done
  mapfile -t ids < <(docker ps -aq --filter "label=oneshot.run=$RAND" 2>/dev/null)
  ((${#ids[@]} == 0)) || docker rm -f "${ids[@]}" >/dev/null 2>&1 || true
  # images: tags carrying $RAND (the built images go by ID, registered above)
  mapfile -t ids < <(docker images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -F -- "$RAND")
  ((${#ids[@]} == 0)) || docker rmi -f "${ids[@]}" >/dev/null 2>&1 || true
  if [[ -n ${WORK:-} && -z ${ONESHOT_KEEP:-} ]]; then
    rm -rf "$WORK"
  elif [[ -n ${WORK:-} ]]; then
    os_log "work dir kept: $WORK"
  fi
  exit "$rc"
}

os_ok() { OS_PASS=$((OS_PASS + 1)); printf 'ok - %s\n' "$*"; }
os_not_ok() { OS_FAIL=$((OS_FAIL + 1)); printf 'not ok - %s\n' "$*"; }

# os_eq DESC EXPECTED ACTUAL
os_eq() {
  if [[ -n $2 && $2 == "$3" ]]; then
    os_ok "$1"
  else
    os_not_ok "$1 (expected '$2', got '$3')"
    return 1
  fi
}

# os_true DESC CMD... : ok if CMD exits 0 (output to $WORK/last.log)
os_true() {
  local desc=$1
  shift
  if "$@" >"$WORK/last.log" 2>&1; then
    os_ok "$desc"
  else
    os_not_ok "$desc (exit $?: $*)"
    sed 's/^/#   /' "$WORK/last.log" | tail -n 10 >&2
    return 1
  fi
}

# os_lt DESC VALUE LIMIT : ok if VALUE < LIMIT (integers)
os_lt() {
  if [[ $2 =~ ^[0-9]+$ ]] && (($2 < $3)); then os_ok "$1"; else os_not_ok "$1 (got '$2', limit $3)"; return 1; fi
}

os_finish() {
  printf 'oneshot: %d passed, %d failed\n' "$OS_PASS" "$OS_FAIL"
  [[ $OS_FAIL -eq 0 ]]
}

os_sha256() { sha256sum "$@" | cut -d' ' -f1; }

# ---- test images ------------------------------------------------------------

# os_build_image TAG KIB...: FROM scratch, one COPY layer of KIB KiB of random
# bytes per argument (default 3 layers, ~2.5 MiB), and a label. Sets IMAGE_ID
# and DIFFIDS (newline separated). Removed at exit (the tag carries $RAND).
os_build_image() {
  local tag=$1 ctx i=0 k
  shift
  (($#)) || set -- 512 768 1280
  ctx=$(mktemp -d "$WORK/ctx.XXXXXX")
  {
    echo "FROM scratch"
    for k in "$@"; do
      i=$((i + 1))
      mkdir -p "$ctx/l$i"
      head -c $((k * 1024 + RANDOM % 1024)) /dev/urandom >"$ctx/l$i/data.bin"
      echo "COPY l$i/ /l$i/"
    done
    echo "LABEL oneshot.run=\"$RAND\" oneshot.tag=\"$tag\""
    echo 'CMD ["/l1/data.bin"]'
  } >"$ctx/Dockerfile"
  if ! DOCKER_BUILDKIT=0 docker build -q --no-cache -t "$tag" "$ctx" >"$WORK/build.log" 2>&1; then
    cat "$WORK/build.log" >&2
    return 1
  fi
  rm -rf "$ctx"
  IMAGE_ID=$(docker image inspect -f '{{.Id}}' "$tag")
  os_cleanup "docker rmi -f $IMAGE_ID"   # every tag, pulled ones included
  DIFFIDS=$(os_diffids "$tag")
}

os_diffids() { docker image inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' "$1" | sed '/^$/d'; }

# os_save OUT IMAGE... : docker save, then chmod 644 (the container is uid 65532)
os_save() {
  local out=$1
  shift
  docker save -o "$out" "$@" && chmod 644 "$out"
}

# ---- containers -------------------------------------------------------------

# os_run NAME DOCKER-RUN-ARGS... -- PACKHELPER-ARGS... : docker run -d, labelled
os_run() {
  local name=$1 a
  shift
  local dargs=()
  while (($#)); do
    a=$1
    shift
    [[ $a == -- ]] && break
    dargs+=("$a")
  done
  docker run -d --name "$name" --label "oneshot.run=$RAND" "${dargs[@]}" "$IMG" "$@"
}

# os_port NAME -> 127.0.0.1:PORT published for 5000 (waits up to 5 s)
os_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$(docker port "$1" 5000/tcp 2>/dev/null | grep -m1 '^127\.0\.0\.1:')
    [[ -n $p ]] && { echo "$p"; return 0; }
    sleep 0.05
  done
  return 1
}

# os_wait_ready NAME TIMEOUT_S -> prints the ready line from `docker logs`
# (stdout only); 1 on timeout, 2 if the container stopped first.
os_wait_ready() {
  local name=$1 deadline line
  deadline=$(($(os_now_ms) + $2 * 1000))
  while (($(os_now_ms) < deadline)); do
    line=$(docker logs "$name" 2>/dev/null | grep -m1 '"ready":true')
    [[ -n $line ]] && { echo "$line"; return 0; }
    [[ $(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || return 2
    sleep 0.05
  done
  return 1
}

# os_wait_file_line FILE PATTERN TIMEOUT_S -> the first line of FILE matching
os_wait_file_line() {
  local deadline line
  deadline=$(($(os_now_ms) + $3 * 1000))
  while (($(os_now_ms) < deadline)); do
    line=$(grep -m1 -- "$2" "$1" 2>/dev/null)
    [[ -n $line ]] && { echo "$line"; return 0; }
    sleep 0.02
  done
  return 1
}

# os_ready_digest LINE REF -> the digest the ready line gives for REF
os_ready_digest() { jq -r --arg r "$2" '.images[] | select(.ref == $r) | .digest' <<<"$1" 2>/dev/null; }

# os_manifest REG REPO TAG OUT -> "<http code> <Docker-Content-Digest> <sha256 of body>"
os_manifest() {
  local hdr=$WORK/hdr.$RANDOM code dcd
  code=$(curl -s -o "$4" -D "$hdr" -w '%{http_code}' --max-time 10 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json' \
    "http://$1/v2/$2/manifests/$3")
  dcd=$(tr -d '\r' <"$hdr" | awk 'tolower($1) == "docker-content-digest:" { print $2 }')
  rm -f "$hdr"
  echo "$code ${dcd:--} sha256:$(os_sha256 "$4")"
}

# os_http URL -> http status code
os_http() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$1"; }

# os_check_served DESC REG REPO TAG DIGEST: the manifest served for REPO:TAG is
# DIGEST (header and body hash), and crane digest agrees.
os_check_served() {
  local desc=$1 reg=$2 repo=$3 tag=$4 want=$5 got
  got=$(os_manifest "$reg" "$repo" "$tag" "$WORK/manifest.json")
  os_eq "$desc: GET /v2/$repo/manifests/$tag is the ready line's digest" "200 $want $want" "$got"
  os_eq "$desc: crane digest $repo:$tag" "$want" "$(crane digest --insecure "$reg/$repo:$tag" 2>&1)"
}

# os_check_pull DESC REG REPO:TAG WANT_ID WANT_DIFFIDS [ORIG_TAG]:
# remove every local copy of the image (so the pull downloads every layer),
# docker pull, compare the image ID; crane manifest/config/pull and skopeo
# inspect must give the same layers (uncompressed: digests == diff IDs) and
# config. ORIG_TAG is put back on the pulled image afterwards.
os_check_pull() {
  local desc=$1 reg=$2 ref=$3 want=$4 diffids=$5 orig=${6:-} got
  docker rmi -f "$want" >/dev/null 2>&1
  if docker image inspect "$want" >/dev/null 2>&1; then
    os_not_ok "$desc: could not remove $want before pulling"
  fi
  if docker pull -q "$reg/$ref" >"$WORK/pull.log" 2>&1; then
    got=$(docker image inspect -f '{{.Id}}' "$reg/$ref" 2>/dev/null)
    os_eq "$desc: docker pull $reg/$ref gives image ID ${want:7:12}" "$want" "$got"
    [[ -z $orig ]] || docker tag "$reg/$ref" "$orig"
  else
    os_not_ok "$desc: docker pull $reg/$ref: $(tail -n1 "$WORK/pull.log")"
  fi
  got=$(crane manifest --insecure "$reg/$ref" 2>/dev/null | jq -r '.layers[].digest' 2>/dev/null)
  os_eq "$desc: crane manifest layer digests == original RootFS diff IDs" "$diffids" "$got"
  got=sha256:$(crane config --insecure "$reg/$ref" 2>/dev/null | os_sha256)
  os_eq "$desc: crane config hashes to the image ID" "$want" "$got"
  rm -f "$WORK/crane.tar"
  if crane pull --insecure "$reg/$ref" "$WORK/crane.tar" >"$WORK/crane.log" 2>&1; then
    got=$(tar -xOf "$WORK/crane.tar" manifest.json | jq -r '.[0].Config')
    os_eq "$desc: crane pull tarball's config is the image ID" "$want" "$got"
  else
    os_not_ok "$desc: crane pull $reg/$ref: $(tail -n1 "$WORK/crane.log")"
  fi
  rm -f "$WORK/crane.tar"
  got=$(skopeo inspect --tls-verify=false "docker://$reg/$ref" 2>"$WORK/skopeo.log" | jq -r '.Layers[]')
  os_eq "$desc: skopeo inspect layers == original RootFS diff IDs" "$diffids" "$got"
}

# os_stop_timed NAME -> prints the milliseconds docker stop took
os_stop_timed() {
  local t0
  t0=$(os_now_ms)
  docker stop "$1" >/dev/null 2>&1
  echo $(($(os_now_ms) - t0))
}

# os_one_error DESC LOGTEXT ERE: LOGTEXT holds exactly one error-level line,
# and it matches ERE
os_one_error() {
  local n line
  n=$(grep -cE '^[0-9T:.-]+Z error ' <<<"$2")
  line=$(grep -m1 -E '^[0-9T:.-]+Z error ' <<<"$2")
  if [[ $n == 1 ]] && grep -Eq -- "$3" <<<"$line"; then
    os_ok "$1 (${line#* error })"
  else
    os_not_ok "$1 ($n error lines; want /$3/: $(tr '\n' '|' <<<"$2" | cut -c1-400))"
    return 1
  fi
}
