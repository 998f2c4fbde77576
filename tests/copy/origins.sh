#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, IDX, CHILD_amd64... are lib.sh's (tests/copy/lib.sh)
# tests/copy/origins.sh - a copy talks to two registries, and each one's
# credentials go to it alone. Both come from $DOCKER_CONFIG/config.json
# (different users); PACKHELPER_USERNAME/PASSWORD are set too and must go
# nowhere (copy reads the docker config only). The proxies in front of the
# two packhelper servers record every Authorization header.
#   (a) Basic source, Basic destination
#   (b) Bearer source, Bearer destination (distinct tokens): each token and
#       each user's Basic credentials stay with their registry and its realm
#   (c) a source whose blobs redirect to another origin (a CDN): followed,
#       without credentials
#   (d) no credentials for a registry that asks: one line saying where
#       copy reads them
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ct_init origins

pt_start_ph src || { ph_finish; exit 1; }
UP=$PORT
pt_start_ph dst || { ph_finish; exit 1; }
DUP=$PORT
repo=copy-$RAND/img
ph_require "build the test index at packhelper serve" ct_index "localhost:$UP" "$repo"

UA=src-user-$RAND PA=src-pw-$(ph_rand)-secret
UB=dst-user-$RAND PB=dst-pw-$(ph_rand)-secret
B64A=$(printf '%s:%s' "$UA" "$PA" | base64 -w0)
B64B=$(printf '%s:%s' "$UB" "$PB" | base64 -w0)
ENVPW=env-pw-$(ph_rand)-secret
export PACKHELPER_USERNAME=env-user PACKHELPER_PASSWORD=$ENVPW

# config HOST-A HOST-B: a docker config with A's user for HOST-A, B's for HOST-B
config() {
  mkdir -p "$WORK/dc"
  printf '{"auths":{"%s":{"auth":"%s"},"%s":{"auth":"%s"}}}\n' "$1" "$B64A" "$2" "$B64B" >"$WORK/dc/config.json"
  export DOCKER_CONFIG=$WORK/dc
}
# only LOG WHO DESC: proxy log LOG never saw the other user's secrets nor the
# environment's, and saw WHO's Basic credentials or token at least once
only() {
  local log=$WORK/$1.jsonl who=$2 desc=$3 mine other
  if [[ $who == A ]]; then mine=$B64A other=("$B64B" "$PB"); else mine=$B64B other=("$B64A" "$PA"); fi
  ph_nofixed "$desc: the other registry's base64(user:password) never reached it" "${other[0]}" "$log"
  ph_nofixed "$desc: nor its password" "${other[1]}" "$log"
  ph_nofixed "$desc: PACKHELPER_PASSWORD never reached it" "$ENVPW" "$log"
  ph_nofixed "$desc: nor base64 of the environment's credentials" \
    "$(printf 'env-user:%s' "$ENVPW" | base64 -w0)" "$log"
  ph_ge "$desc: its own credentials did" "$(grep -cF -- "$mine" "$log")" 1
}

# ---- (a) Basic on both sides
if pt_start_proxy sa "$UP" --basic "$UA:$PA" && SA=localhost:$PORT &&
  pt_start_proxy da "$DUP" --basic "$UB:$PB" && DA=localhost:$PORT; then
  config "$SA" "$DA"
  ct_copy_ok "(a) Basic source and destination: the copy completes" "$SA/$repo:multi" "$DA/$repo-a:v1"
  ph_eq "(a) the index's digest" "$IDX" "$DIGEST"
  only sa A "(a) source"
  only da B "(a) destination"
fi

# ---- (b) Bearer on both sides, distinct tokens
TA=tok-a-$(ph_rand)$(ph_rand) TB=tok-b-$(ph_rand)$(ph_rand)
if pt_start_proxy sb "$UP" --bearer "$UA:$PA" --token "$TA" && SB=localhost:$PORT &&
  pt_start_proxy db "$DUP" --bearer "$UB:$PB" --token "$TB" && DB=localhost:$PORT; then
  config "$SB" "$DB"
  ct_copy_ok "(b) Bearer source and destination: the copy completes" "$SB/$repo:multi" "$DB/$repo-b:v1"
  only sb A "(b) source and its realm"
  only db B "(b) destination and its realm"
  ph_nofixed "(b) the source's token never reached the destination" "$TA" "$WORK/db.jsonl"
  ph_nofixed "(b) the destination's token never reached the source" "$TB" "$WORK/sb.jsonl"
  ph_ge "(b) the source got its token on blob reads" \
    "$(ct_count "$WORK/sb.jsonl" "select(.method == \"GET\" and (.path | test(\"/blobs/\")) and .authz == \"Bearer $TA\")")" "$BLOBS_N"
fi

# ---- (c) blobs on another origin: followed, without credentials
if pt_start_proxy cdn "$UP" && CDN=$PORT &&
  pt_start_proxy sc "$UP" --basic "$UA:$PA" --redirect-blobs "http://127.0.0.1:$CDN" && SC=localhost:$PORT; then
  config "$SC" "localhost:$DUP"
  ct_copy_ok "(c) blobs redirected to another origin: the copy completes" "$SC/$repo:multi" "localhost:$DUP/$repo-c:v1"
  ph_eq "(c) every blob was read from the other origin" "$BLOBS_N" \
    "$(ct_count "$WORK/cdn.jsonl" 'select(.method == "GET" and (.path | test("/blobs/")) and .status == 200)')"
  ph_eq "(c) none of those reads carried credentials" 0 \
    "$(ct_count "$WORK/cdn.jsonl" 'select(.authz != "")')"
  ph_ge "(c) the registry itself got them" "$(grep -cF -- "$B64A" "$WORK/sc.jsonl")" 1
  ph_run "(c) crane validate" crane validate --insecure --remote "localhost:$DUP/$repo-c:v1"
fi

# ---- (d) no credentials for a registry that asks
if [[ -n ${SA:-} ]]; then
  mkdir -p "$WORK/none"
  PT_WRAP=(env DOCKER_CONFIG="$WORK/none")
  ct_copy_fails "(d) no credentials: one line saying where they are read" 1 \
    "^packhelper: copy: $SA requires credentials: docker login $SA \(they are read from \\\$DOCKER_CONFIG/config.json\)$" \
    "$SA/$repo:multi" "localhost:$DUP/$repo-d:v1"
  PT_WRAP=(env)
fi
ph_finish
