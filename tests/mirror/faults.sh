#!/usr/bin/env bash
# shellcheck disable=SC2153  # PORT... are lib.sh's
# tests/mirror/faults.sh - upstreams that misbehave (upstream.py) and the
# mirror's budgets.
#   lie: a layer whose last byte is wrong: the client gets at most every byte
#     but the last, then the connection closes (curl: partial transfer);
#     nothing is stored, no upload file is left; the config (right bytes) is
#     stored.
#   short: a layer one byte short of its Content-Length: the same.
#   hang + --mirror-max-waiting 1: a second request waiting on the upstream is
#     503 UNAVAILABLE with Retry-After; --mirror-stall-timeout 1s ends the
#     first with 504.
#   hang + --mirror-jobs 1: of two blob requests, one reaches the upstream.
#   big: a 5 MiB manifest is 502 naming the 4 MiB limit.
#   redirect: a blob HEAD the upstream answers with a redirect (to a URL that
#     takes GET only) is answered from the mirror's GET of the blob.
#   trickle + --mirror-timeout 2s: the blob's connection closes short within
#     seconds.
#   bad options: usage errors (exit 2, one line).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mt_init faults
repo=t/img

# left_over STORE : upload files the mirror left in STORE/uploads
left_over() { find "$1/uploads" -type f 2>/dev/null | wc -l; }

for mode in lie short; do
  mt_upstream "$mode" || continue
  U=127.0.0.1:$PORT
  pt_start_ph "$mode" --mirror "http://$U" || continue
  B=127.0.0.1:$PORT
  mt_get "http://$B/v2/$repo/manifests/v1"
  ph_eq "$mode: the manifest through B" 200 "$CODE"
  layer=$(jq -r '.layers[0].digest' "$WORK/body") size=$(jq -r '.layers[0].size' "$WORK/body")
  config=$(jq -r '.config.digest' "$WORK/body")
  for try in 1 2; do
    mt_get "http://$B/v2/$repo/blobs/$layer"
    got=$(stat -c %s "$WORK/body")
    # whether the head went out before the upstream's bytes were judged is a
    # race: either the answer is cut short, or it is a 502 in the spec's JSON
    # (never a whole answer with the wrong bytes)
    ph_match "$mode: GET of the layer ($try): status 200 then closed short (curl 18), or 502 UNAVAILABLE" \
      '^(200 18|502 0 .*UNAVAILABLE)' "$CODE $CURLRC $(tr -d '\n' <"$WORK/body" | head -c 300)"
    ph_lt "$mode: ... the client never got the whole blob" "$got" "$size"
  done
  ph_true "$mode: the log says why" ph_wait_file "$WORK/$mode.log" "mirror: .*$layer: .*(hash to|bytes missing|bytes? remaining)"
  ph_true "$mode: the layer is not in B's store" test ! -e "$WORK/$mode.store/blobs/sha256/${layer#sha256:}"
  ph_eq "$mode: no upload file left" 0 "$(left_over "$WORK/$mode.store")"
  mt_get "http://$B/v2/$repo/blobs/$config"
  ph_eq "$mode: the config (right bytes) through B" "200 0 $config" "$CODE $CURLRC sha256:$(ph_sha256 "$WORK/body")"
  ph_true "$mode: ... stored" test -f "$WORK/$mode.store/blobs/sha256/${config#sha256:}"
  ph_serve_stop "$mode"
done

# ---- a HEAD the upstream answers with a redirect (its CDN's URL is signed for
# GET): the mirror GETs the blob, and the HEAD is answered from that
mt_upstream redirect && U=127.0.0.1:$PORT && pt_start_ph redirect --mirror "http://$U" && {
  B=127.0.0.1:$PORT
  mt_get "http://$B/v2/$repo/manifests/v1"
  layer=$(jq -r '.layers[0].digest' "$WORK/body") size=$(jq -r '.layers[0].size' "$WORK/body")
  mt_get "http://$B/v2/$repo/blobs/$layer" -I
  ph_eq "redirect: HEAD of the layer through B: 200, its size" "200 $size" \
    "$CODE $(ph_header content-length <"$WORK/body")"
  ph_eq "redirect: ... the upstream got a HEAD, then the GET, which followed the redirect" \
    "HEAD /v2/$repo/blobs/$layer|GET /v2/$repo/blobs/$layer|GET /cdn/$layer|" \
    "$(grep -E "/(blobs|cdn)/" "$WORK/up-redirect.req" | tr '\n' '|')"
  ph_true "redirect: ... and the layer is stored" ph_wait_for 5 test -f "$WORK/redirect.store/blobs/sha256/${layer#sha256:}"
  ph_serve_stop redirect
}

# ---- a hanging upstream: waiting connections, the stall timeout, jobs
mt_upstream hang && U=127.0.0.1:$PORT &&
  pt_start_ph hang --mirror "http://$U" --mirror-max-waiting 1 --mirror-stall-timeout 1s && {
  B=127.0.0.1:$PORT
  t0=$(ph_now_ms)
  curl -s -o "$WORK/first" -w '%{http_code}' --max-time 30 "http://$B/v2/$repo/manifests/v1" >"$WORK/first.code" &
  first=$!
  ph_wait_for 5 grep -q "manifests/v1" "$WORK/up-hang.req"
  mt_get "http://$B/v2/$repo/manifests/v2" -D "$WORK/hdr"
  ph_match "max-waiting 1: a second request is 503 UNAVAILABLE" '^503 .*UNAVAILABLE.*mirror-max-waiting' "$CODE $BODY"
  ph_eq "... with Retry-After" 1 "$(ph_header retry-after <"$WORK/hdr")"
  wait "$first"
  ph_eq "stall timeout 1s: the first is 504" 504 "$(cat "$WORK/first.code")"
  ph_le "... within 8 s (a stall is retried once)" "$(($(ph_now_ms) - t0))" 8000
  ph_match "... naming the stall" 'stalled' "$(cat "$WORK/first")"
  ph_serve_stop hang
}
: >"$WORK/up-hang.req"
pt_start_ph jobs --mirror "http://$U" --mirror-jobs 1 && {
  B=127.0.0.1:$PORT
  curl -s -o /dev/null --max-time 3 "http://$B/v2/$repo/blobs/sha256:$(printf a%.0s {1..64})" &
  c1=$!
  curl -s -o /dev/null --max-time 3 "http://$B/v2/$repo/blobs/sha256:$(printf b%.0s {1..64})" &
  c2=$!
  sleep 2
  ph_eq "jobs 1: one fetch reaches the upstream at a time" 1 "$(mt_count "$WORK/up-hang.req" /blobs/)"
  wait "$c1" "$c2"
  t0=$(ph_now_ms)
  ph_serve_stop jobs
  ph_le "a fetch under way does not hold the server's exit past 2 s" "$SERVE_MS" 4000
}

# ---- a manifest over 4 MiB
mt_upstream big && U=127.0.0.1:$PORT && pt_start_ph big --mirror "http://$U" && {
  B=127.0.0.1:$PORT
  mt_get "http://$B/v2/$repo/manifests/v1"
  ph_match "a 5 MiB manifest upstream: 502 naming the limit" '^502 .*over 4 MiB' "$CODE $BODY"
  ph_serve_stop big
}

# ---- the fetch's deadline
mt_upstream trickle && U=127.0.0.1:$PORT &&
  pt_start_ph trickle --mirror "http://$U" --mirror-timeout 2s --mirror-stall-timeout 1h && {
  B=127.0.0.1:$PORT
  mt_get "http://$B/v2/$repo/manifests/v1"
  layer=$(jq -r '.layers[0].digest' "$WORK/body")
  t0=$(ph_now_ms)
  mt_get "http://$B/v2/$repo/blobs/$layer"
  ph_eq "timeout 2s: a trickling blob's answer ends short" "200 18" "$CODE $CURLRC"
  ph_le "... within 12 s" "$(($(ph_now_ms) - t0))" 12000
  ph_true "... the log names the deadline" ph_wait_file "$WORK/trickle.log" "mirror: .*took longer than --timeout 2s|deadline passed"
  ph_serve_stop trickle
}

# ---- usage errors
for bad in "--mirror ftp://x" "--mirror http://example.com" "--mirror https://h/path" \
  "--mirror http://[::1]:5000" "--mirror-tag-ttl 5m" "--mirror http://127.0.0.1:1 --read-only" \
  "--mirror http://127.0.0.1:1 --mirror-jobs 0" "--mirror http://127.0.0.1:1 --mirror-timeout 0"; do
  # shellcheck disable=SC2086  # the options are words
  "$PH" serve --listen 127.0.0.1:0 --root "$WORK/usage.store" $bad >"$WORK/usage.out" 2>&1 </dev/null
  rc=$?
  ph_eq "serve $bad: exit 2, one line" "2 1" "$rc $(grep -c . "$WORK/usage.out" | head -1)"
done
ph_finish
