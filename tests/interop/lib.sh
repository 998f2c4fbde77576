# tests/interop/lib.sh - shared helpers for the client interop scripts.
# Source it from a script that runs with `set -uo pipefail` (no -e: checks
# return non-zero on failure so a script can skip dependent steps), then call
#   ph_init NAME "$@"      (NAME = client name, "$@" = the script's args)
# Afterwards these are set: REG (host:port), RAND (random suffix), WORK (temp
# dir, removed on exit), TOOLS (pinned tool bin dir, prepended to PATH).
# Each check prints "ok - ..." or "not ok - ..."; ph_finish prints a closing
# "NAME: N passed, N failed" line and exits non-zero if any check failed.
# shellcheck shell=bash disable=SC2034  # REG RAND WORK TOOLS PH_IMAGE_ID are for the caller

PH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PH_ROOT=$(cd "$PH_LIB_DIR/../.." && pwd)
PH_PASS=0
PH_FAIL=0
PH_NAME=interop
PH_CLEANUP=()

ph_log() { printf '# %s\n' "$*" >&2; }

ph_init() {
  PH_NAME=$1
  shift
  if [[ $# -ne 1 || -z $1 ]]; then
    echo "usage: $0 REGISTRY   (host:port of a plain-HTTP registry on loopback)" >&2
    exit 2
  fi
  REG=${1#http://}
  REG=${REG%/}
  case ${REG%:*} in
    127.* | localhost | '[::1]') ;;
    *) echo "$0: refusing non-loopback registry $REG" >&2; exit 2 ;;
  esac
  TOOLS=$("$PH_ROOT/mk/tools.sh")
  export PATH="$TOOLS:$PATH"
  RAND=$(ph_rand)
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/interop-$PH_NAME.XXXXXX")
  trap ph__exit EXIT
  trap 'exit 130' INT TERM
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$REG/v2/" || true)
  if [[ $code != 200 && $code != 401 ]]; then
    ph_not_ok "registry http://$REG/v2/ answers (got HTTP ${code:-none})"
    exit 1
  fi
}

# random lowercase hex suffix (valid in repo names and tags)
ph_rand() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }

# register a cleanup command (run in reverse order at exit, errors ignored)
ph_cleanup() { PH_CLEANUP+=("$*"); }

ph__exit() {
  local rc=$? i
  for ((i = ${#PH_CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${PH_CLEANUP[i]}" >/dev/null 2>&1 || true
  done
  [[ -n ${WORK:-} && -z ${INTEROP_KEEP:-} ]] && rm -rf "$WORK"
  [[ -n ${WORK:-} && -n ${INTEROP_KEEP:-} ]] && ph_log "work dir kept: $WORK"
  exit "$rc"
}

ph_ok() { PH_PASS=$((PH_PASS + 1)); printf 'ok - %s\n' "$*"; }
ph_not_ok() { PH_FAIL=$((PH_FAIL + 1)); printf 'not ok - %s\n' "$*"; }

# ph_run DESC CMD...: run CMD (output to $WORK/last.log); ok if it exits 0
ph_run() {
  local desc=$1
  shift
  if "$@" >"$WORK/last.log" 2>&1; then
    ph_ok "$desc"
  else
    ph_not_ok "$desc (exit $?: $*)"
    sed 's/^/#   /' "$WORK/last.log" | tail -n 15 >&2
    return 1
  fi
}

# ph_eq DESC EXPECTED ACTUAL
ph_eq() {
  if [[ -n $2 && $2 == "$3" ]]; then
    ph_ok "$1"
  else
    ph_not_ok "$1 (expected '$2', got '$3')"
    return 1
  fi
}

# ph_true DESC CMD... : like ph_run but quiet; for predicates
ph_true() {
  local desc=$1
  shift
  if "$@" >/dev/null 2>&1; then ph_ok "$desc"; else ph_not_ok "$desc"; return 1; fi
}

# ph_contains DESC NEEDLE HAYSTACK (line match)
ph_contains() {
  if grep -qxF -- "$2" <<<"$3"; then
    ph_ok "$1"
  else
    ph_not_ok "$1 ('$2' not in: $(tr '\n' ' ' <<<"$3" | cut -c1-300))"
    return 1
  fi
}

ph_finish() {
  printf '%s: %d passed, %d failed\n' "$PH_NAME" "$PH_PASS" "$PH_FAIL"
  [[ $PH_FAIL -eq 0 ]]
}

ph_sha256() { sha256sum "$@" | cut -d' ' -f1; }
ph_sha256_stdin() { sha256sum | cut -d' ' -f1; }

# --- raw registry access (independent of the client under test) --------------
PH_ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json'

# ph_header NAME < headers-file -> value of the last NAME header (no CR)
ph_header() {
  tr -d '\r' | awk -v n="$1" 'index(tolower($0), n ":") == 1 { v = substr($0, length(n) + 2); sub(/^[ \t]+/, "", v); val = v } END { print val }'
}

# ph_get_manifest REPO REF OUTFILE -> prints "<http code> <Docker-Content-Digest> <Content-Type>"
ph_get_manifest() {
  local hdr=$WORK/hdr.$$
  local code
  code=$(curl -s -o "$3" -D "$hdr" -w '%{http_code}' -H "Accept: $PH_ACCEPT" "http://$REG/v2/$1/manifests/$2" || true)
  local dcd ct
  dcd=$(ph_header docker-content-digest <"$hdr")
  ct=$(ph_header content-type <"$hdr")
  rm -f "$hdr"
  printf '%s %s %s\n' "$code" "${dcd:--}" "${ct:--}"
}

# ph_get_blob REPO DIGEST OUTFILE -> prints http code (follows redirects)
ph_get_blob() {
  curl -s -L -o "$3" -w '%{http_code}' "http://$REG/v2/$1/blobs/$2" || true
}

# ph_check_manifest_bytes DESC REPO REF DIGEST: GET manifest by REF, assert
# 200, Docker-Content-Digest == DIGEST and sha256(body) == DIGEST; then every
# blob it references (config + layers, or child manifests of an index) must be
# downloadable with matching sha256.
ph_check_manifest_bytes() {
  local desc=$1 repo=$2 ref=$3 want=$4 f=$WORK/m.$RANDOM
  local code dcd ct got
  read -r code dcd ct <<<"$(ph_get_manifest "$repo" "$ref" "$f")"
  got=sha256:$(ph_sha256 "$f")
  if [[ $code == 200 && $got == "$want" && ($dcd == "$want" || $dcd == -) ]]; then
    ph_ok "$desc: GET manifest $repo:$ref is byte-exact ($want)"
  else
    ph_not_ok "$desc: GET manifest $repo:$ref (http $code, header $dcd, body $got, want $want)"
    return 1
  fi
  [[ $dcd != - ]] || ph_log "registry sent no Docker-Content-Digest for $repo:$ref"
  local d bad=0 n=0 b=$WORK/b.$RANDOM
  for d in $(jq -r '[.config.digest?, (.layers[]?.digest), (.blobs[]?.digest)] | map(select(. != null)) | .[]' "$f"); do
    n=$((n + 1))
    code=$(ph_get_blob "$repo" "$d" "$b")
    [[ $code == 200 && sha256:$(ph_sha256 "$b") == "$d" ]] || { bad=$((bad + 1)); ph_log "blob $d: http $code"; }
  done
  # an index: its child manifests must be fetchable by digest, byte-exact
  for d in $(jq -r '.manifests[]?.digest' "$f"); do
    n=$((n + 1))
    read -r code _ <<<"$(ph_get_manifest "$repo" "$d" "$b")"
    [[ $code == 200 && sha256:$(ph_sha256 "$b") == "$d" ]] || { bad=$((bad + 1)); ph_log "child manifest $d: http $code"; }
  done
  rm -f "$b"
  if [[ $bad -eq 0 ]]; then
    ph_ok "$desc: all $n referenced blobs/manifests of $repo@${want:7:12} are byte-exact"
  else
    ph_not_ok "$desc: $bad of $n referenced blobs/manifests of $repo@${want:7:12} wrong or missing"
  fi
  rm -f "$f"
}

# ph_tags REPO -> tag list, one per line (follows Link pagination)
ph_tags() {
  local url="/v2/$1/tags/list" hdr=$WORK/th.$$ body=$WORK/tb.$$ i
  for ((i = 0; i < 100; i++)); do
    curl -s -D "$hdr" -o "$body" "http://$REG$url" || break
    jq -r '.tags // [] | .[]' "$body"
    url=$(ph_header link <"$hdr" | sed -n 's/^<\([^>]*\)>.*/\1/p')
    [[ -n $url ]] || break
    url=${url#http://"$REG"}
  done
  rm -f "$hdr" "$body"
}

# --- test images ---------------------------------------------------------------
# ph_build_image TAG: docker build a FROM-scratch image with 3 layers of random
# content (4 KiB, ~256 KiB, ~2 MiB) plus a label; sets PH_IMAGE_ID. The image
# is removed at exit. Call it directly, not in $(...), so the cleanup sticks.
ph_build_image() {
  local tag=$1 ctx
  ctx=$(mktemp -d "$WORK/ctx.XXXXXX")
  mkdir -p "$ctx/l1" "$ctx/l2" "$ctx/l3"
  head -c 4096 /dev/urandom >"$ctx/l1/small.bin"
  printf 'packhelper interop %s %s\n' "$tag" "$(ph_rand)" >"$ctx/l1/hello.txt"
  head -c $((256 * 1024 + RANDOM)) /dev/urandom >"$ctx/l2/medium.bin"
  # compressible + incompressible mix for the big layer
  { head -c $((1024 * 1024)) /dev/urandom; yes "packhelper $(ph_rand)" | head -c $((1024 * 1024 + RANDOM)); } >"$ctx/l3/big.bin"
  cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY l1/ /l1/
COPY l2/ /l2/
COPY l3/ /l3/
LABEL org.opencontainers.image.title="packhelper-interop" packhelper.rand="$(ph_rand)"
CMD ["/l1/hello.txt"]
EOF
  ph_cleanup "docker rmi -f '$tag'"
  DOCKER_BUILDKIT=0 docker build -q --no-cache -t "$tag" "$ctx" 2>"$WORK/build.log" >/dev/null || {
    cat "$WORK/build.log" >&2
    return 1
  }
  rm -rf "$ctx"
  PH_IMAGE_ID=$(docker image inspect -f '{{.Id}}' "$tag")
}

# ph_image_diffids REF -> the image's rootfs diff_ids, one per line
ph_image_diffids() { docker image inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' "$1" | sed '/^$/d'; }
