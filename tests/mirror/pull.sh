#!/usr/bin/env bash
# shellcheck disable=SC2153  # PORT, DIG, LAYERS... are lib.sh's
# tests/mirror/pull.sh - pulls through the mirror with crane: B is packhelper
# serve --mirror of A (packhelper serve, then docker-registry 2.8).
#   First pull: B answers what A holds, byte for byte (manifest digest, crane
#     validate), stored under A's prefix; ?ns=A is the same repository, an ns
#     no --mirror names is 404 NAME_UNKNOWN; pushes to B are 405 UNSUPPORTED.
#   Single flight: two concurrent first pulls of an image fetch each blob from
#     A once (A's request log).
#   A stopped: B still serves every pulled image (by tag within the TTL, by
#     digest always); with --mirror-tag-ttl 0 the tag is served stale with a
#     log line; a tag never pulled is 502 UNAVAILABLE.
#   Tags: a tag moved on A is seen after the TTL (a HEAD, then one GET), a tag
#     deleted on A is 404 from B.
#   A layer B holds (pulled with one image) is linked into the repository of
#     another image using it, not fetched from A again; only into a repository
#     B holds a manifest of.
#   HEAD of a blob B lacks: one HEAD on A (no GET), size and digest, nothing
#     stored.
#   registry 2.8 as A: the same first pull and single flight.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mt_init pull
repo=m$RAND/img

pt_start_ph a || { ph_finish; exit 1; }
A=127.0.0.1:$PORT
pt_start_ph b --mirror "http://$A" --mirror-tag-ttl 1h || { ph_finish; exit 1; }
B=127.0.0.1:$PORT
ph_require "push the test image to A" mt_image "$A" "$repo:v1"
D1=$DIG L1=$LAYERS

# ---- the first pull
ph_eq "crane digest through B is A's" "$D1" "$(crane digest --insecure "$B/$repo:v1" 2>&1)"
ph_run "crane validate --remote through B" crane validate --insecure --remote "$B/$repo:v1"
mt_get "http://$B/v2/$repo/manifests/v1"
ph_eq "the manifest's bytes from B hash to A's digest" "$D1" "sha256:$(ph_sha256 "$WORK/body")"
ph_true "B's store holds it under A's prefix" test -d "$WORK/b.store/repos/127.0.0.1__${A#*:}/$repo/_layout"
mt_get "http://$B/v2/$repo/manifests/v1?ns=$A"
ph_eq "?ns=$A: the same repository" "200 $D1" "$CODE sha256:$(ph_sha256 "$WORK/body")"
mt_get "http://$B/v2/$repo/manifests/v1?ns=other-$RAND.example"
ph_match "?ns= of no --mirror: 404 NAME_UNKNOWN" '^404 .*NAME_UNKNOWN' "$CODE $BODY"
mt_get "http://$B/v2/$repo/blobs/uploads/" -X POST
ph_match "a push to B: 405 UNSUPPORTED" '^405 .*UNSUPPORTED' "$CODE $BODY"
crane pull --insecure "$B/$repo:v1" "$WORK/v1.tar" >/dev/null 2>&1
ph_true "crane pull through B" test -s "$WORK/v1.tar"

# ---- single flight: two concurrent first pulls
ph_require "push a second image to A" mt_image "$A" "$repo:v2" 2000 12000
D2=$DIG L2=$LAYERS
mark=$(ph_mark "$WORK/a.log")
crane pull --insecure "$B/$repo:v2" "$WORK/p1.tar" >/dev/null 2>&1 &
p1=$!
crane pull --insecure "$B/$repo:v2" "$WORK/p2.tar" >/dev/null 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
ph_eq "two concurrent crane pulls through B" "0 0" "$r1 $r2"
ph_eq "both got the same bytes" "$(ph_sha256 "$WORK/p1.tar")" "$(ph_sha256 "$WORK/p2.tar")"
ph_since "$WORK/a.log" "$mark" >"$WORK/a.since"
for l in $L2; do
  ph_eq "A was asked for layer ${l:7:12} once" 1 "$(mt_count "$WORK/a.since" "\"GET /v2/$repo/blobs/$l\" 200")"
done
ph_eq "A was asked for the tag once" 1 "$(mt_count "$WORK/a.since" "\"GET /v2/$repo/manifests/v2\" 200")"

# ---- a layer the store holds is not fetched again for another repository
# (share1 and share2 on A have layer S in common; B links S into share2)
mt_tar() { mkdir -p "$WORK/t/$1" && head -c "$2" /dev/urandom >"$WORK/t/$1/$1.bin" && tar -C "$WORK/t/$1" -cf "$WORK/t/$1.tar" .; }
share_push() {
  mt_tar s 3000000 && mt_tar x1 100000 && mt_tar x2 100000 &&
    crane append --insecure --oci-empty-base -f "$WORK/t/s.tar" -f "$WORK/t/x1.tar" -t "$A/$repo-share1:v1" &&
    crane append --insecure --oci-empty-base -f "$WORK/t/s.tar" -f "$WORK/t/x2.tar" -t "$A/$repo-share2:v1"
} >/dev/null 2>&1
ph_require "push two images sharing a layer to A" share_push
S=$(crane manifest --insecure "$A/$repo-share1:v1" | jq -r '.layers[0].digest')
mark=$(ph_mark "$WORK/a.log")
ph_run "crane pull of share1 through B" crane pull --insecure "$B/$repo-share1:v1" "$WORK/s1.tar"
ph_run "crane pull of share2 through B" crane pull --insecure "$B/$repo-share2:v1" "$WORK/s2.tar"
ph_run "crane validate of share2 through B" crane validate --insecure --remote "$B/$repo-share2:v1"
ph_since "$WORK/a.log" "$mark" >"$WORK/a.since"
ph_eq "A was asked for the shared layer once (share1), not again for share2" 1 \
  "$(mt_count "$WORK/a.since" "\"GET /v2/$repo-share[12]/blobs/$S\" 200")"
ph_true "B's share2 holds the shared layer" test -f "$WORK/b.store/repos/127.0.0.1__${A#*:}/$repo-share2/_layout/blobs/sha256/${S#sha256:}"
mt_get "http://$B/v2/$repo-none/blobs/$S"
ph_match "a repository B holds no manifest of gets no link: A is asked (404 there)" '^404 .*BLOB_UNKNOWN' "$CODE $BODY"
ph_true "... and B's store has no such repository" test ! -e "$WORK/b.store/repos/127.0.0.1__${A#*:}/$repo-none"

# ---- HEAD of a blob B lacks: an upstream HEAD, nothing downloaded or stored
head_push() { mt_tar h 2000000 && crane append --insecure --oci-empty-base -f "$WORK/t/h.tar" -t "$A/$repo-head:v1"; } >/dev/null 2>&1
ph_require "push an image to A" head_push
H=$(crane manifest --insecure "$A/$repo-head:v1" | jq -r '.layers[0].digest')
HS=$(crane manifest --insecure "$A/$repo-head:v1" | jq -r '.layers[0].size')
crane manifest --insecure "$B/$repo-head:v1" >/dev/null 2>&1
mark=$(ph_mark "$WORK/a.log")
mt_get "http://$B/v2/$repo-head/blobs/$H" -I
ph_eq "HEAD of a blob B lacks: 200, its size and digest" "200 $HS $H" \
  "$CODE $(ph_header content-length <"$WORK/body") $(ph_header docker-content-digest <"$WORK/body")"
ph_since "$WORK/a.log" "$mark" >"$WORK/a.since"
ph_eq "... A was asked with one HEAD" 1 "$(mt_count "$WORK/a.since" "\"HEAD /v2/$repo-head/blobs/$H\" 200")"
ph_eq "... and no GET" 0 "$(mt_count "$WORK/a.since" "\"GET /v2/$repo-head/blobs/$H\"")"
ph_true "... B stored nothing" test ! -e "$WORK/b.store/blobs/sha256/${H#sha256:}"
mt_get "http://$B/v2/$repo-head/blobs/sha256:$(printf x | ph_sha256)" -I
ph_eq "HEAD of a blob A lacks too: 404" 404 "$CODE"
mt_get "http://$B/v2/$repo-head/blobs/$H"
ph_eq "a GET of it afterwards: the bytes" "200 $H" "$CODE sha256:$(ph_sha256 "$WORK/body")"

# ---- A stopped
ph_serve_stop a
ph_eq "A stopped: crane digest through B" "$D1" "$(crane digest --insecure "$B/$repo:v1" 2>&1)"
rm -f "$WORK/v1b.tar"
crane pull --insecure "$B/$repo:v1" "$WORK/v1b.tar" >/dev/null 2>&1
ph_eq "A stopped: crane pull through B gives the same image" "$(ph_sha256 "$WORK/v1.tar")" \
  "$(ph_sha256 "$WORK/v1b.tar" 2>/dev/null)"
ph_run "A stopped: crane validate by digest through B" crane validate --insecure --remote "$B/$repo@$D2"
mt_get "http://$B/v2/$repo/manifests/never"
ph_match "A stopped: a tag never pulled is 502 UNAVAILABLE" '^502 .*UNAVAILABLE' "$CODE $BODY"
ph_serve_stop b
pt_start_ph b --mirror "http://$A" --mirror-tag-ttl 0 || { ph_finish; exit 1; }
mark=$(ph_mark "$WORK/b.log")
ph_eq "A stopped, TTL 0: the tag is served stale" "$D1" "$(crane digest --insecure "$B/$repo:v1" 2>&1)"
ph_true "... with a log line saying so" ph_wait_file "$WORK/b.log" "v1: cannot check the upstream .*serving the stored $D1"

# ---- tags move on A
pt_start_ph a || { ph_finish; exit 1; }
ph_require "move v1 on A" mt_image "$A" "$repo:v1" 500
D3=$DIG
mark=$(ph_mark "$WORK/a.log")
ph_eq "TTL 0: a tag moved on A is seen through B" "$D3" "$(crane digest --insecure "$B/$repo:v1" 2>&1)"
ph_run "crane validate of the moved tag" crane validate --insecure --remote "$B/$repo:v1"
ph_since "$WORK/a.log" "$mark" >"$WORK/a.since"
ph_ge "the moved tag: HEADs on A (one per request at TTL 0)" "$(mt_count "$WORK/a.since" '"HEAD /v2/'"$repo"'/manifests/v1" 200')" 1
ph_eq "... and one GET of its manifest" 1 "$(mt_count "$WORK/a.since" '"GET /v2/'"$repo"'/manifests/v1" 200')"
mark=$(ph_mark "$WORK/a.log")
ph_eq "TTL 0: an unchanged tag is checked with HEAD only" "$D2" "$(crane digest --insecure "$B/$repo:v2" 2>&1)"
ph_since "$WORK/a.log" "$mark" >"$WORK/a.since"
ph_eq "... no GET of its manifest" 0 "$(mt_count "$WORK/a.since" "\"GET /v2/$repo/manifests/v2\"")"
curl -s -o /dev/null -X DELETE "http://$A/v2/$repo/manifests/v1"
mt_get "http://$B/v2/$repo/manifests/v1"
ph_match "a tag deleted on A is 404 MANIFEST_UNKNOWN from B" '^404 .*MANIFEST_UNKNOWN' "$CODE $BODY"
ph_serve_stop a
mt_get "http://$B/v2/$repo/manifests/v1"
ph_match "... and is not served stale once A is stopped (502)" '^502 .*UNAVAILABLE' "$CODE $BODY"

# ---- registry 2.8 as A
pt_start_dist dist || { ph_finish; exit 1; }
R=127.0.0.1:$PORT
pt_start_ph c --mirror "http://$R" || { ph_finish; exit 1; }
C=127.0.0.1:$PORT
ph_require "push the test image to registry 2.8" mt_image "$R" "$repo:v1" 3000 9000
mark=$(ph_mark "$WORK/dist.log")
crane pull --insecure "$C/$repo:v1" "$WORK/d1.tar" >/dev/null 2>&1 &
p1=$!
crane pull --insecure "$C/$repo:v1" "$WORK/d2.tar" >/dev/null 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
ph_eq "registry 2.8 as A: two concurrent crane pulls through the mirror" "0 0" "$r1 $r2"
ph_eq "registry 2.8 as A: crane digest" "$DIG" "$(crane digest --insecure "$C/$repo:v1" 2>&1)"
ph_run "registry 2.8 as A: crane validate" crane validate --insecure --remote "$C/$repo:v1"
ph_since "$WORK/dist.log" "$mark" >"$WORK/dist.since"
for l in $LAYERS; do
  ph_eq "registry 2.8 was asked for layer ${l:7:12} once" 1 \
    "$(mt_count "$WORK/dist.since" "\"GET /v2/$repo/blobs/$l HTTP/1.1\" 200")"
done
ph_serve_stop b
ph_serve_stop c
ph_finish
