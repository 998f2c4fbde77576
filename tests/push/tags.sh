#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/tags.sh - several REFs and --tag; push by digest; a second push
# uploads nothing (HEAD 200 for every blob); --mount-from mounts every blob
# (POST ?mount=&from= answered 201) - against docker-registry 2.8 and
# packhelper serve, asserted from the servers' own request logs.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init tags
pt_image

NBLOBS=$(grep -c . <<<"$BLOBS")

# blob_requests LOGTEXT REPO -> "HEAD200 HEAD404 POST PATCH PUTBLOB MOUNT201"
# counted from either access log format (docker-registry's combined log,
# packhelper's "METHOD PATH" STATUS).
blob_requests() {
  local text=$1 repo=$2
  awk -v r="/v2/$repo/blobs/" '
    {
      m = ""; p = ""; s = ""
      if (match($0, /"(HEAD|GET|POST|PUT|PATCH|DELETE) [^ "]+/)) {
        split(substr($0, RSTART + 1, RLENGTH - 1), a, " "); m = a[1]; p = a[2]
        rest = substr($0, RSTART + RLENGTH); sub(/^[^"]*" /, "", rest); split(rest, b, " "); s = b[1]
      }
      if (index(p, r) != 1) next
      if (m == "HEAD" && s == "200") h200++
      if (m == "HEAD" && s == "404") h404++
      if (m == "POST" && p ~ /mount=/ && s == "201") mnt++
      else if (m == "POST") post++
      if (m == "PATCH") patch++
      if (m == "PUT") put++
    }
    END { printf "%d %d %d %d %d %d\n", h200, h404, post, patch, put, mnt }' <<<"$text"
}

for server in distribution packhelper; do
  if [[ $server == distribution ]]; then
    pt_start_dist dist || continue
    LOG=$WORK/dist.log
  else
    pt_start_ph ph || continue
    LOG=$WORK/ph.log
  fi
  reg=localhost:$PORT
  base=push-$RAND-${server:0:4}

  # ---- --mount-from a repository without the blobs (first push to this
  # server, so no repository has them): falls back to uploading
  mark=$(ph_mark "$LOG")
  pt_push_ok "$server: --mount-from an empty repo falls back to an upload" --mount-from "$base/nothing-here" \
    "$IMG_TAR" "$reg/$base/fallback:1"
  ph_wait_file "$LOG" "fallback/manifests/1" 5 >/dev/null
  read -r h200 h404 post patch put mnt <<<"$(blob_requests "$(ph_since "$LOG" "$mark")" "$base/fallback")"
  ph_eq "$server: fallback: no mount succeeded, every blob was PUT" "0 $NBLOBS" "$mnt $put"
  pt_check_pull "$server fallback:1" "$reg" "$base/fallback:1"

  # ---- several REFs and --tag
  pt_push_ok "$server: push to two REFs with --tag x1 -t x2" \
    "$IMG_TAR" "$reg/$base/multi-a:one" "$reg/$base/multi-b:two" --tag x1 -t x2 || continue
  d=$DIGEST
  for rt in multi-a:one multi-a:x1 multi-a:x2 multi-b:two multi-b:x1 multi-b:x2; do
    ph_eq "$server: $rt points at the pushed digest" "$d" "$(crane digest --insecure "$reg/$base/$rt" 2>&1)"
  done
  ph_eq "$server: multi-a has exactly the tags one, x1, x2" "one x1 x2" \
    "$(crane ls --insecure "$reg/$base/multi-a" 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')"
  ph_eq "$server: two 'pushed' lines, one per REF" 2 "$(grep -c "^pushed $reg/$base/multi-[ab]:\(one\|two\) $d " "$WORK/push.err")"
  pt_check_pull "$server multi-b:x2" "$reg" "$base/multi-b:x2"

  # ---- by digest
  pt_push_ok "$server: push to REPO@DIGEST" "$IMG_TAR" "$reg/$base/bydigest@$d"
  ph_eq "$server: REPO@DIGEST is served" "$d" "$(crane digest --insecure "$reg/$base/bydigest@$d" 2>&1)"
  tags=$(crane ls --insecure "$reg/$base/bydigest" 2>/dev/null)
  ph_eq "$server: a push by digest makes no tag" "(none)" "${tags:-(none)}"
  bad=sha256:$(printf x | ph_sha256)
  pt_push_fails "$server: push to REPO@ANOTHER-DIGEST fails" 1 "the image's manifest is $d" \
    "$IMG_TAR" "$reg/$base/bydigest2@$bad"

  # ---- the second push uploads nothing
  mark=$(ph_mark "$LOG")
  pt_push_ok "$server: second push of the same image (-v)" -v "$IMG_TAR" "$reg/$base/multi-a:again"
  ph_wait_file "$LOG" "manifests/again" 5 >/dev/null
  read -r h200 h404 post patch put mnt <<<"$(blob_requests "$(ph_since "$LOG" "$mark")" "$base/multi-a")"
  ph_eq "$server: second push: server log has HEAD 200 for all $NBLOBS blobs, no 404" "$NBLOBS 0" "$h200 $h404"
  ph_eq "$server: second push: server log has no POST/PATCH/PUT on blobs" "0 0 0" "$post $patch $put"
  ph_eq "$server: second push: -v shows no upload request" 0 \
    "$(grep -cE '^> (POST|PATCH|PUT) /v2/[^ ]+/blobs/' "$WORK/push.err")"
  ph_eq "$server: second push: -v shows $NBLOBS HEADs" "$NBLOBS" "$(grep -cE '^> HEAD /v2/[^ ]+/blobs/sha256:' "$WORK/push.err")"
  ph_eq "$server: multi-a:again is the same digest" "$d" "$(crane digest --insecure "$reg/$base/multi-a:again" 2>&1)"

  # ---- cross-repository mount
  mark=$(ph_mark "$LOG")
  pt_push_ok "$server: push to another repo with --mount-from" --mount-from "$base/multi-a" \
    "$IMG_TAR" "$reg/$base/mounted:1"
  ph_wait_file "$LOG" "mounted/manifests/1" 5 >/dev/null
  since=$(ph_since "$LOG" "$mark")
  read -r h200 h404 post patch put mnt <<<"$(blob_requests "$since" "$base/mounted")"
  ph_eq "$server: mount: $NBLOBS POST ?mount=..&from=$base/multi-a answered 201" "$NBLOBS" "$mnt"
  ph_eq "$server: mount: every mount names the source repo" "$NBLOBS" \
    "$(grep -cE "\"POST /v2/$base/mounted/blobs/uploads/\?mount=sha256:[0-9a-f]{64}&from=$base/multi-a[ \"].* 201 " <<<"$since")"
  ph_eq "$server: mount: no upload session, PATCH or PUT" "0 0 0" "$post $patch $put"
  ph_eq "$server: mounted:1 is the same digest" "$d" "$(crane digest --insecure "$reg/$base/mounted:1" 2>&1)"
  ph_eq "$server: mounted:1 config is the image ID" "$IMG_ID" \
    "sha256:$(crane config --insecure "$reg/$base/mounted:1" 2>/dev/null | ph_sha256)"

done
ph_finish
