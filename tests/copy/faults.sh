#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, IDX, CHILD_amd64... are lib.sh's (tests/copy/lib.sh)
# tests/copy/faults.sh - what goes wrong on the way, and the budgets:
#   - a source that serves a blob with its last byte wrong (the proxy's
#     --corrupt), monolithic (3 MiB) and chunked (18 MiB in 4 MiB PATCHes):
#     exit 1, one line naming the blob; the destination never got the whole
#     blob in any request, holds neither the blob nor a manifest or tag
#   - a PATCH dropped half-way (drop-once in front of the destination): the
#     copy resumes where the destination stands, with a ranged GET from the
#     source, and completes byte for byte
#   - a tag the source does not have; a DST digest that is not the copy's
#   - --timeout against a source that stalls; a manifest over 4 MiB; more
#     than 4 indexes above an image
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ct_init faults

pt_start_ph src || { ph_finish; exit 1; }
UP=$PORT
repo=copy-$RAND/img
ph_require "build the test index at packhelper serve" ct_index "localhost:$UP" "$repo"
pt_start_ph dst || { ph_finish; exit 1; }
DUP=$PORT
pt_start_proxy dstp "$DUP" || { ph_finish; exit 1; }
DST=localhost:$PORT
layers=$(crane manifest --insecure "localhost:$UP/$repo:amd64" | jq -r '.layers[] | "\(.digest) \(.size)"')
read -r small small_size <<<"$(sed -n 2p <<<"$layers")"
read -r big big_size <<<"$(sed -n 3p <<<"$layers")"

# ---- a lying source
for c in "monolithic $small $small_size" "chunked $big $big_size"; do
  read -r how d size <<<"$c"
  pt_start_proxy "liar-$how" "$UP" --corrupt "$d" || continue
  liar=localhost:$PORT
  : >"$WORK/dstp.jsonl"
  ct_copy_fails "a $how blob whose last byte is wrong: exit 1, one line naming it" 1 \
    "^packhelper: copy: blob $d from $liar/$repo: its bytes are sha256:[0-9a-f]{64}; nothing of it was committed$" \
    --chunk-size 4M "$liar/$repo:amd64" "$DST/$repo-$how:v1"
  ph_ge "$how: the source did serve the wrong bytes" \
    "$(ct_count "$WORK/liar-$how.jsonl" "select(.corrupted and (.path | endswith(\"$d\")))")" 1
  # what reached the destination: never the whole blob
  if [[ $how == monolithic ]]; then
    ph_eq "$how: its PUT reached the destination without its last byte" "0 1" \
      "$(ct_count "$WORK/dstp.jsonl" "select(.method == \"PUT\" and (.path | test(\"digest=$d\")) and .length >= $size)") $(ct_count "$WORK/dstp.jsonl" "select(.method == \"PUT\" and (.path | test(\"digest=$d\")))")"
  else
    ph_lt "$how: its PATCHes carried less than the blob" \
      "$(jq -s '[.[] | select(.method == "PATCH" and .status == 202) | .length] | add // 0' "$WORK/dstp.jsonl")" "$size"
    ph_eq "$how: no closing PUT ?digest= was sent" 0 \
      "$(ct_count "$WORK/dstp.jsonl" "select(.method == \"PUT\" and (.path | test(\"digest=$d\")))")"
  fi
  ph_eq "$how: the destination does not hold the blob" 404 \
    "$(curl -s -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$DUP/v2/$repo-$how/blobs/$d")"
  ph_eq "$how: nor the manifest" 404 "$(ct_raw "127.0.0.1:$DUP" "$repo-$how" "$CHILD_amd64" /dev/null)"
  ph_eq "$how: nor the tag" 404 "$(ct_raw "127.0.0.1:$DUP" "$repo-$how" v1 /dev/null)"
done

# ---- a PATCH dropped half-way: resumed from where the destination stands
if pt_start_proxy srcp "$UP" && SRCP=localhost:$PORT &&
  pt_start_proxy drop "$DUP" --fault drop-once --match-method PATCH --match-range 4194304- --drop-min 1000000; then
  ct_copy_ok "a dropped PATCH: the copy completes" --chunk-size 4M "$SRCP/$repo:amd64" "localhost:$PORT/$repo-resumed:v1"
  ph_eq "a dropped PATCH: the fault fired" 1 "$(ct_count "$WORK/drop.jsonl" 'select(.fault == "drop")')"
  ph_ge "a dropped PATCH: the source was asked again from the middle (Range)" \
    "$(ct_count "$WORK/srcp.jsonl" "select((.path | endswith(\"$big\")) and (.range | test(\"^bytes=[1-9][0-9]*-$\")))")" 1
  ph_eq "a dropped PATCH: the manifest is there byte for byte" "200 $CHILD_amd64" \
    "$(ct_raw "127.0.0.1:$DUP" "$repo-resumed" v1 "$WORK/raw.json") sha256:$(ph_sha256 "$WORK/raw.json")"
  ph_run "a dropped PATCH: crane validate" crane validate --insecure --remote "127.0.0.1:$DUP/$repo-resumed:v1"
fi

# ---- what is not there
ct_copy_fails "a tag the source does not have: one line" 1 \
  "^packhelper: copy: manifest nope of localhost:$UP/$repo: HTTP 404 MANIFEST_UNKNOWN" \
  "localhost:$UP/$repo:nope" "$DST/$repo-nope:v1"
ct_copy_fails "DST by a digest that is not the copy's: one line, nothing written" 1 \
  "^packhelper: copy: $repo-d@$CHILD_arm64: the manifest copied is $CHILD_amd64$" \
  "localhost:$UP/$repo:amd64" "$DST/$repo-d@$CHILD_arm64"
ph_eq "DST by a wrong digest: no manifest there" 404 "$(ct_raw "127.0.0.1:$DUP" "$repo-d" "$CHILD_amd64" /dev/null)"

# ---- budgets
if pt_fake stall; then
  ct_copy_fails "--timeout 3s, a source that stalls: exit 1, one timeout line" 1 \
    "^packhelper: copy: timed out: the copy took longer than --timeout 3s" \
    --timeout 3s "localhost:$PORT/$repo:x" "$DST/$repo-t:v1"
  ph_le "--timeout 3s: stopped in time (${MS} ms)" "$MS" 6000
fi
if pt_fake huge; then
  ct_copy_fails "a manifest over 4 MiB: exit 1, one line naming the cap" 1 \
    "^packhelper: copy: GET http://localhost:$PORT/v2/$repo/manifests/x: the answer is over 4096 KiB" \
    "localhost:$PORT/$repo:x" "$DST/$repo-h:v1"
fi
# indexes nested 5 deep above the amd64 manifest
put_index() {
  local body
  body=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"%s","size":%s}]}' "$1" "$2" "$3")
  printf '%s' "$body" >"$WORK/idx.json"
  curl -s -o /dev/null -X PUT -H "Content-Type: application/vnd.oci.image.index.v1+json" \
    --data-binary "@$WORK/idx.json" "http://127.0.0.1:$UP/v2/$repo/manifests/$4"
  NEXT="sha256:$(ph_sha256 "$WORK/idx.json") $(stat -c %s "$WORK/idx.json")"
}
ct_raw "127.0.0.1:$UP" "$repo" amd64 "$WORK/child.json" >/dev/null
read -r d s <<<"$CHILD_amd64 $(stat -c %s "$WORK/child.json")"
mt=application/vnd.oci.image.manifest.v1+json
for i in 1 2 3 4 5; do
  put_index "$mt" "$d" "$s" "nest$i"
  read -r d s <<<"$NEXT"
  mt=application/vnd.oci.image.index.v1+json
done
ct_copy_fails "5 indexes above an image: exit 1, one line naming the limit" 1 \
  "^packhelper: copy: .*indexes nested more than 4 deep" "localhost:$UP/$repo:nest5" "$DST/$repo-n:v1"
ct_copy_ok "4 indexes above an image: copied" "localhost:$UP/$repo:nest4" "$DST/$repo-n:v4"
ph_finish
