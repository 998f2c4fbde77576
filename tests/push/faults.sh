#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/faults.sh - transient failures are retried, permanent ones are
# reported in one line. The helper proxy sits in front of packhelper serve:
#   (a) 503 once to the first blob PUT/PATCH           -> retried, push completes
#   (b) connection dropped mid-body, monolithic PUT      -> new session, completes
#       connection dropped mid-body, 3rd 1 MiB PATCH     -> resumes at 2 MiB
#       the same on a keep-alive connection              -> completes
#   (c) 500 to every manifest PUT                        -> exit 1, one line
#   (d) 503 + Retry-After: 1 to every blob upload        -> retried with a
#       pause, then exit 1 with one line naming the blob, status and code
#   (e) a lying tarball (a layer's last byte changed, so it is not its
#       diff_id), monolithic (~1 MiB) and chunked (~18 MiB in 4 MiB PATCHes):
#       found while the layer is sent (it is read once): exit 1, one line
#       naming the layer; no PUT carried the whole layer / no closing PUT
#       after its PATCHes; its session cancelled; the registry holds neither
#       the blob nor the tag
# Each case has its own upstream, so every blob is really uploaded; completed
# pushes are verified by pulling back from the upstream registry.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init faults
pt_image
repo=push-$RAND/faults

# fresh NAME : a new upstream packhelper serve (so no blob is already there);
# sets UP
fresh() { pt_start_ph "$1" && UP=$PORT; }

# verify DESC TAG : the upstream registry has DIGEST under TAG, config == image
# ID, and docker pull gives the original image
verify() {
  ph_eq "$1: the upstream registry has the pushed digest" "$DIGEST" \
    "$(crane digest --insecure "localhost:$UP/$repo:$2" 2>&1)"
  pt_check_pull "$1" "localhost:$UP" "$repo:$2"
}

# jl NAME JQ-FILTER -> the filter's output over the proxy's log
jl() { jq -r "$2" "$WORK/$1.jsonl" 2>/dev/null; }

# ---- (a) 503 once
if fresh up-p503 && pt_start_proxy p503 "$UP" --fault 503-once; then
  pt_push_ok "503 once: push completes" -v "$IMG_TAR" "localhost:$PORT/$repo:a503"
  ph_eq "503 once: the proxy answered one blob upload with 503" 1 "$(jl p503 'select(.fault == "503") | .path' | grep -c .)"
  ph_ge "503 once: the failed blob was uploaded again and accepted" \
    "$(jl p503 'select((.method == "PUT" or .method == "PATCH") and (.path | test("/blobs/uploads/")) and .status >= 201 and .status <= 202) | .path' | grep -c .)" 4
  verify "503 once" a503
fi

# ---- (b) drop mid-body. With --close every request is on a fresh connection,
# so libcurl does not resend it by itself and the pusher's own recovery runs:
# a new upload session for a monolithic PUT, a resume for a PATCH. On a
# keep-alive connection libcurl resends the dead request once on a fresh one.
if fresh up-pdrop && pt_start_proxy pdrop "$UP" --close --fault drop-once --drop-min $((2 << 20)) --match-method PUT; then
  pt_push_ok "drop mid-PUT: push completes" -v "$IMG_TAR" "localhost:$PORT/$repo:bdrop"
  cp "$WORK/push.err" "$WORK/bdrop.err"
  drop=$(jl pdrop 'select(.fault == "drop") | "\(.method) \(.read)/\(.length)"')
  ph_match "drop mid-PUT: the proxy dropped a blob PUT after half its body" '^PUT [0-9]+/[0-9]+$' "$drop"
  ph_eq "drop mid-PUT: one more upload session than blobs (a new one for the dropped PUT)" \
    $(($(grep -c . <<<"$BLOBS") + 1)) "$(jl pdrop 'select(.method == "POST") | .path' | grep -c .)"
  verify "drop mid-PUT" bdrop
fi

if fresh up-ppatch && pt_start_proxy ppatch "$UP" --close --fault drop-once --drop-min $((1 << 20)) --match-range 2097152-; then
  pt_push_ok "drop mid-PATCH: push with --chunk-size 1M completes" -v --chunk-size 1M \
    "$IMG_TAR" "localhost:$PORT/$repo:bpatch"
  cp "$WORK/push.err" "$WORK/bpatch.err"
  drop=$(jl ppatch 'select(.fault == "drop") | "\(.method) \(.content_range)"')
  ph_match "drop mid-PATCH: the proxy dropped the PATCH for bytes 2097152-" '^PATCH 2097152-3145727$' "$drop"
  ph_match "drop mid-PATCH: the pusher resumed at byte 2097152" 'resuming at byte 2097152$' "$ERR"
  ph_ge "drop mid-PATCH: it asked the server where the upload stood (GET ... 204)" \
    "$(jl ppatch 'select(.method == "GET" and (.path | test("/blobs/uploads/")) and .status == 204) | .path' | grep -c .)" 1
  ph_eq "drop mid-PATCH: the PATCH for 2097152- was sent again and accepted" 202 \
    "$(jl ppatch 'select(.method == "PATCH" and (.content_range // "" | startswith("2097152-")) and .fault == null) | .status' | head -n1)"
  ph_eq "drop mid-PATCH: no new upload session (blobs == POSTs)" "$(grep -c . <<<"$BLOBS")" \
    "$(jl ppatch 'select(.method == "POST") | .path' | grep -c .)"
  verify "drop mid-PATCH" bpatch
fi

if fresh up-pkeep && pt_start_proxy pkeep "$UP" --fault drop-once --drop-min $((1 << 20)) --match-range 2097152-; then
  pt_push_ok "drop mid-PATCH on a keep-alive connection: push completes" -v --chunk-size 1M \
    "$IMG_TAR" "localhost:$PORT/$repo:bkeep"
  ph_eq "drop mid-PATCH on a keep-alive connection: the proxy dropped one PATCH" 1 \
    "$(jl pkeep 'select(.fault == "drop") | .path' | grep -c .)"
  verify "drop mid-PATCH on a keep-alive connection" bkeep
fi

# ---- (c) the manifest PUT always fails
if fresh up-p500 && pt_start_proxy p500 "$UP" --fault manifest-500; then
  # the manifest's digest, from a push that does not go through the proxy
  top=$("$PH" push -q "$IMG_TAR" "localhost:$UP/$repo:probe" 2>"$WORK/probe.err")
  [[ -n $top ]] || ph_log "probe push failed: $(cat "$WORK/probe.err")"
  pt_push_fails "manifest 500: exit 1 with one line" 1 "^packhelper: push: manifest " \
    "$IMG_TAR" "localhost:$PORT/$repo:c500"
  ph_match "manifest 500: the line names the manifest digest and the tag" \
    "manifest $top to localhost:$PORT/$repo:c500" "$LINE"
  ph_match "manifest 500: the line has the status and the error code" 'HTTP 500 UNKNOWN: injected manifest failure$' "$LINE"
  n=$(jl p500 'select(.fault == "500") | .path' | grep -c .)
  ph_ge "manifest 500: the manifest PUT was retried ($n attempts)" "$n" 2
  ph_le "manifest 500: ... and given up within 15 s (${MS} ms)" "$MS" 15000
  x=$(crane digest --insecure "localhost:$UP/$repo:c500" 2>/dev/null)
  ph_eq "manifest 500: no tag was created" "(none)" "${x:-(none)}"
fi
# ---- (d) blob uploads always 503 (Retry-After: 1)
if fresh up-p503all && pt_start_proxy p503all "$UP" --fault blob-503; then
  pt_push_fails "blob 503 always: exit 1 with one line" 1 '^packhelper: push: blob sha256:[0-9a-f]{64} ' \
    -j 1 "$IMG_TAR" "localhost:$PORT/$repo:d503"
  ph_match "blob 503 always: the line has the last status and the registry's code" \
    'HTTP 503 UNAVAILABLE: injected: come back later' "$LINE"
  n=$(jl p503all 'select(.fault == "503") | .path' | grep -c .)
  span=$(jl p503all 'select(.fault == "503") | .t' | sed -n '1p;$p' | tr '\n' ' ' | awk '{ printf "%d", ($2 - $1) * 1000 }')
  ph_ge "blob 503 always: the upload was retried ($n attempts)" "$n" 2
  ph_ge "blob 503 always: the retries waited for Retry-After: 1 ($n attempts in $span ms)" "$span" $(((n - 1) * 900))
fi
# ---- (e) a lying tarball: found while the layer is sent
# liar N OUT : IMG_TAR with the last byte of layer N (1-based, the diff_ids'
# order) changed (xor 0xff), in place: same length, same members
liar() {
  python3 - "$IMG_TAR" "$2" "$(sed -n "${1}p" <<<"$DIFFIDS")" <<'PY'
import hashlib, shutil, sys, tarfile
src, out, want = sys.argv[1], sys.argv[2], sys.argv[3].split(":", 1)[1]
shutil.copyfile(src, out)
with tarfile.open(src) as t:
    for m in t.getmembers():
        if m.isfile() and m.name.endswith("layer.tar") and m.size > 0:
            h = hashlib.sha256()
            f = t.extractfile(m)
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
            if h.hexdigest() == want:
                with open(out, "r+b") as o:
                    o.seek(m.offset_data + m.size - 1)
                    b = o.read(1)
                    o.seek(m.offset_data + m.size - 1)
                    o.write(bytes([b[0] ^ 0xFF]))
                sys.exit(0)
sys.exit("no layer.tar member is " + want)
PY
}
for c in "monolithic 1" "chunked 3"; do
  read -r how n <<<"$c"
  d=$(sed -n "${n}p" <<<"$DIFFIDS")
  size=$((PT_LAYERS_KIB[n - 1] * 1024)) # the layer.tar is a little bigger
  liar "$n" "$WORK/liar-$how.tar" || { ph_not_ok "(e) $how: build the lying tarball"; continue; }
  fresh "up-liar-$how" && pt_start_proxy "pliar-$how" "$UP" || continue
  pt_push_fails "(e) lying tarball, $how layer: exit 1, one line naming the layer" 1 \
    "^packhelper: push: .*liar-$how\.tar: a layer the archive calls $d is sha256:[0-9a-f]{64}; nothing of it was committed$" \
    --chunk-size 4M "$WORK/liar-$how.tar" "localhost:$PORT/$repo:liar-$how"
  if [[ $how == monolithic ]]; then
    ph_eq "(e) $how: no PUT ?digest= carried all of the layer" 0 \
      "$(jl "pliar-$how" "select(.method == \"PUT\" and (.path | test(\"digest=$d\")) and .length >= $size)" | jq -s length)"
  else
    ph_ge "(e) $how: the layer went in PATCHes" \
      "$(jl "pliar-$how" 'select(.method == "PATCH" and .status == 202)' | jq -s length)" 2
    ph_eq "(e) $how: no closing PUT ?digest= of the layer was sent" 0 \
      "$(jl "pliar-$how" "select(.method == \"PUT\" and (.path | test(\"digest=$d\")))" | jq -s length)"
  fi
  ph_ge "(e) $how: its upload session was cancelled (DELETE)" \
    "$(jl "pliar-$how" 'select(.method == "DELETE" and (.path | test("/blobs/uploads/")))' | jq -s length)" 1
  ph_eq "(e) $how: the registry does not hold the layer" 404 \
    "$(curl -s -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$UP/v2/$repo/blobs/$d")"
  x=$(crane digest --insecure "localhost:$UP/$repo:liar-$how" 2>/dev/null)
  ph_eq "(e) $how: nor the tag" "(none)" "${x:-(none)}"
done

# ---- (f) an empty layer.tar where the config names a real layer: an empty
# blob has no last byte to withhold, so it is checked before its PUT
empty_liar() {
  python3 - "$IMG_TAR" "$2" "$(sed -n "${1}p" <<<"$DIFFIDS")" <<'PY'
import hashlib, io, sys, tarfile
src, out, want = sys.argv[1], sys.argv[2], sys.argv[3].split(":", 1)[1]
done = False
with tarfile.open(src) as t, tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as o:
    for m in t.getmembers():
        data = t.extractfile(m).read() if m.isfile() else None
        if m.isfile() and m.name.endswith("layer.tar") and hashlib.sha256(data).hexdigest() == want:
            data, done = b"", True
        if data is not None:
            m.size = len(data)
            o.addfile(m, io.BytesIO(data))
        else:
            o.addfile(m)
sys.exit(0 if done else "no layer.tar member is " + want)
PY
}
d=$(sed -n 1p <<<"$DIFFIDS")
if empty_liar 1 "$WORK/liar-empty.tar" && fresh up-liar-empty && pt_start_proxy pliar-empty "$UP"; then
  pt_push_fails "(f) an empty layer.tar the config calls $d: exit 1, one line naming the layer" 1 \
    "^packhelper: push: .*$d: it is empty" "$WORK/liar-empty.tar" "localhost:$PORT/$repo:liar-empty"
  # the proxy saw the push (so the count below is of a log that was written)
  ph_ge "(f) the push reached the registry (its log has the blob's HEAD or POST)" \
    "$(jl pliar-empty "select(.method == \"HEAD\" or .method == \"POST\")" | jq -s length)" 1
  ph_eq "(f) no PUT ?digest= of it was sent" 0 \
    "$(jl pliar-empty "select(.method == \"PUT\" and (.path | test(\"digest=$d\")))" | jq -s length)"
  x=$(crane digest --insecure "localhost:$UP/$repo:liar-empty" 2>/dev/null)
  ph_eq "(f) the registry has no tag" "(none)" "${x:-(none)}"
else
  ph_not_ok "(f) build the tarball with an empty layer and start its registry"
fi
ph_finish
