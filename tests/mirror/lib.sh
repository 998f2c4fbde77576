# tests/mirror/lib.sh - what the mirror tests (packhelper serve --mirror) add
# to tests/push/lib.sh, whose registry stand-ins (packhelper serve, Debian's
# docker-registry 2.8) and helpers they use: test images built with crane
# (no docker daemon), the misbehaving upstream (upstream.py), and counts of
# what an upstream was asked.
#
# Source it from a script running with `set -uo pipefail`, then call
# `mt_init NAME` (work dir mirror-NAME; MIRRORTEST_KEEP=1 keeps it,
# MIRRORTEST_KEEP_FAILED=1 when a check failed).
# shellcheck shell=bash disable=SC2034  # variables set here are for the caller
# shellcheck source-path=SCRIPTDIR source=../push/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../push/lib.sh"

PH_KEEP=${MIRRORTEST_KEEP:-}
PH_KEEP_FAILED=${MIRRORTEST_KEEP_FAILED:-}
MT_UPSTREAM=$(dirname "${BASH_SOURCE[0]}")/upstream.py

mt_init() { pt_init "$1" "mirror-$1"; }

# mt_image REG REPO:TAG [KIB...]: an OCI image of random layers (default 1000
# and 6000 KiB) pushed to REG with crane. Sets DIG (its digest) and LAYERS
# (its layer digests, newline separated).
mt_image() {
  local reg=$1 ref=$2 k i=0 d files=()
  shift 2
  (($#)) || set -- 1000 6000
  for k in "$@"; do
    i=$((i + 1))
    d=$WORK/layers/$(ph_rand)
    mkdir -p "$d"
    head -c $((k * 1024 + RANDOM)) /dev/urandom >"$d/data-$i.bin"
    tar -C "$d" -cf "$d.tar" . || return 1
    files+=(-f "$d.tar")
  done
  crane append --insecure --oci-empty-base "${files[@]}" -t "$reg/$ref" >/dev/null 2>&1 || return 1
  DIG=$(crane digest --insecure "$reg/$ref") || return 1
  LAYERS=$(crane manifest --insecure "$reg/$ref" | jq -r '.layers[].digest')
  [[ $DIG == sha256:* && -n $LAYERS ]]
}

# mt_upstream MODE : upstream.py in MODE (requests logged to $WORK/up-MODE.req);
# sets PORT, or fails a check
mt_upstream() {
  ph_spawn "up-$1" python3 "$MT_UPSTREAM" --port {PORT} --mode "$1" --log "$WORK/up-$1.req" && return 0
  ph_not_ok "start the test upstream ($1)"
  return 1
}

# mt_get URL [curl args...] : GET URL into $WORK/body; sets CODE (HTTP status,
# 000 when none), CURLRC and BODY (the first 400 bytes)
mt_get() {
  local url=$1
  shift
  CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 30 -H "Accept: $PH_ACCEPT" "$@" "$url")
  CURLRC=$?
  BODY=$(head -c 400 "$WORK/body" | tr -d '\0')
}

# mt_count FILE ERE : lines of FILE matching ERE
mt_count() { grep -cE -- "$2" "$1" 2>/dev/null || true; }
