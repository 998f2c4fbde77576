# tests/oneshot/lib.sh - what the one-shot container tests add to tests/lib.sh:
# the image under test, containers, and checks of what a container serves.
#
# Source it from a script running with `set -uo pipefail`, then call
# `os_init NAME`. Besides tests/lib.sh's RAND, WORK (ONESHOT_KEEP=1 keeps it),
# PH (the host binary) and checks:
#   IMG    the packhelper image under test (PACKHELPER_IMAGE, default
#          bot-bottle/packhelper:latest; `make image` if missing)
#   HELPER tests/oneshot/helper.py (tarball layouts, the throttled feeder)
#   SRC    oneshot-$RAND/img:v1, a name for the script's test image
#   C      oneshot-$RAND-NAME, a name for its container
# Every container is labelled oneshot.run=$RAND and removed at exit, and so is
# every image whose tag carries $RAND. Each script's summary line is
# "oneshot: N passed, N failed"; tests/oneshot/all.sh sums them.
# shellcheck shell=bash disable=SC2034  # variables set here are for the caller
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

IMG=${PACKHELPER_IMAGE:-bot-bottle/packhelper:latest}
HELPER=$PH_LIB/oneshot/helper.py
PH_KEEP=${ONESHOT_KEEP:-}

os_init() {
  ph_init oneshot "oneshot-$1"
  SRC=oneshot-$RAND/img:v1
  C=oneshot-$RAND-$1
  ph_cleanup os__rm_docker # registered first: runs last
  ph_tools
  ph_binary
  if ! docker image inspect "$IMG" >/dev/null 2>&1; then
    ph_log "building $IMG"
    make -C "$PH_ROOT" image >/dev/null || { ph_not_ok "make image"; ph_finish; exit 1; }
  fi
}

os__rm_docker() {
  local -a ids
  mapfile -t ids < <(docker ps -aq --filter "label=oneshot.run=$RAND" 2>/dev/null)
  ((${#ids[@]} == 0)) || docker rm -f "${ids[@]}"
  # images: tags carrying $RAND (the built images go by ID, registered at build)
  mapfile -t ids < <(docker images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -F -- "$RAND")
  ((${#ids[@]} == 0)) || docker rmi -f "${ids[@]}"
}

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
os_port() { ph_wait_for 5 os__published "$1"; }
os__published() { docker port "$1" 5000/tcp 2>/dev/null | grep -m1 '^127\.0\.0\.1:'; }

# os_wait_ready NAME TIMEOUT_S -> prints the ready line from `docker logs`
# (stdout only); 1 on timeout, 2 if the container stopped first.
os_wait_ready() {
  local name=$1 deadline line
  deadline=$(($(ph_now_ms) + $2 * 1000))
  while (($(ph_now_ms) < deadline)); do
    line=$(docker logs "$name" 2>/dev/null | grep -m1 '"ready":true')
    [[ -n $line ]] && { echo "$line"; return 0; }
    [[ $(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || return 2
    sleep 0.05
  done
  return 1
}

# os_ready_digest LINE REF -> the digest the ready line gives for REF
os_ready_digest() { jq -r --arg r "$2" '.images[] | select(.ref == $r) | .digest' <<<"$1" 2>/dev/null; }

# os_manifest REG REPO TAG OUT -> "<http code> <Docker-Content-Digest> <sha256 of body>"
os_manifest() {
  local code dcd
  read -r code dcd _ <<<"$(REG=$1 ph_get_manifest "$2" "$3" "$4")"
  echo "$code $dcd sha256:$(ph_sha256 "$4")"
}

# os_http URL -> http status code
os_http() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$1"; }

# os_check_served DESC REG REPO TAG DIGEST: the manifest served for REPO:TAG is
# DIGEST (header and body hash), and crane digest agrees.
os_check_served() {
  local desc=$1 reg=$2 repo=$3 tag=$4 want=$5 got
  got=$(os_manifest "$reg" "$repo" "$tag" "$WORK/manifest.json")
  ph_eq "$desc: GET /v2/$repo/manifests/$tag is the ready line's digest" "200 $want $want" "$got"
  ph_eq "$desc: crane digest $repo:$tag" "$want" "$(crane digest --insecure "$reg/$repo:$tag" 2>&1)"
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
    ph_not_ok "$desc: could not remove $want before pulling"
  fi
  if docker pull -q "$reg/$ref" >"$WORK/pull.log" 2>&1; then
    got=$(docker image inspect -f '{{.Id}}' "$reg/$ref" 2>/dev/null)
    ph_eq "$desc: docker pull $reg/$ref gives image ID ${want:7:12}" "$want" "$got"
    [[ -z $orig ]] || docker tag "$reg/$ref" "$orig"
  else
    ph_not_ok "$desc: docker pull $reg/$ref: $(tail -n1 "$WORK/pull.log")"
  fi
  got=$(crane manifest --insecure "$reg/$ref" 2>/dev/null | jq -r '.layers[].digest' 2>/dev/null)
  ph_eq "$desc: crane manifest layer digests == original RootFS diff IDs" "$diffids" "$got"
  got=sha256:$(crane config --insecure "$reg/$ref" 2>/dev/null | ph_sha256)
  ph_eq "$desc: crane config hashes to the image ID" "$want" "$got"
  rm -f "$WORK/crane.tar"
  if crane pull --insecure "$reg/$ref" "$WORK/crane.tar" >"$WORK/crane.log" 2>&1; then
    got=$(tar -xOf "$WORK/crane.tar" manifest.json | jq -r '.[0].Config')
    ph_eq "$desc: crane pull tarball's config is the image ID" "$want" "$got"
  else
    ph_not_ok "$desc: crane pull $reg/$ref: $(tail -n1 "$WORK/crane.log")"
  fi
  rm -f "$WORK/crane.tar"
  got=$(skopeo inspect --tls-verify=false "docker://$reg/$ref" 2>"$WORK/skopeo.log" | jq -r '.Layers[]')
  ph_eq "$desc: skopeo inspect layers == original RootFS diff IDs" "$diffids" "$got"
}

# os_stop_timed NAME -> prints the milliseconds docker stop took
os_stop_timed() {
  local t0
  t0=$(ph_now_ms)
  docker stop "$1" >/dev/null 2>&1
  echo $(($(ph_now_ms) - t0))
}

# os_one_error DESC LOGTEXT ERE: LOGTEXT holds exactly one error-level line,
# and it matches ERE
os_one_error() {
  local n line
  n=$(grep -cE '^[0-9T:.-]+Z error ' <<<"$2")
  line=$(grep -m1 -E '^[0-9T:.-]+Z error ' <<<"$2")
  if [[ $n == 1 ]] && grep -Eq -- "$3" <<<"$line"; then
    ph_ok "$1 (${line#* error })"
  else
    ph_not_ok "$1 ($n error lines; want /$3/: $(tr '\n' '|' <<<"$2" | cut -c1-400))"
    return 1
  fi
}
