#!/usr/bin/env bash
# tests/conformance-gc.sh BINARY
#
# The OCI conformance suite (tests/conformance.sh, every switch on, against
# --allow-sparse) on a store that was collected first:
#   1. a server fills a store: two images sharing a layer, one deleted again
#      (its own layer is left unreferenced), a loose blob, an upload left open;
#   2. `packhelper gc --grace 0` on the stopped store must remove exactly the
#      unreferenced layer, the loose blob and the upload, and say so;
#   3. the suite runs against a server on the collected store that collects
#      every second meanwhile (--gc-interval 1s, the default grace period,
#      which keeps every push of the suite);
#   4. the kept image still pulls byte for byte, and again after a restart
#      that follows a second offline collection.
# Prints the suite's own "conformance ..." lines and
# "conformance-gc: N passed, N failed" for the checks around it (PH_SUITE_PREFIX
# before both names: "arm64-conformance-gc", tests/arm64.sh).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PH=$1
ph_init "${PH_SUITE_PREFIX:-}conformance-gc" conformance-gc
STORE=$WORK/store
export PH_SERVE_ROOT=$STORE
REPO=gc-$RAND/app

blob() { # NAME BYTES: a file of random bytes; its digest into D_NAME
  head -c "$2" /dev/urandom >"$WORK/$1"
  printf -v "D_$1" 'sha256:%s' "$(ph_sha256 "$WORK/$1")"
}
push_blob() { # FILE
  curl -sf -o /dev/null -X POST --data-binary @"$WORK/$1" -H 'Content-Type: application/octet-stream' \
    "http://$REG/v2/$REPO/blobs/uploads/?digest=sha256:$(ph_sha256 "$WORK/$1")"
}
manifest() { # OUT LAYER...: an OCI image manifest of cfg and the layers
  local out=$1 l sep='' layers=''
  shift
  for l in "$@"; do
    layers+="$sep{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$(ph_sha256 "$WORK/$l")\",\"size\":$(stat -c %s "$WORK/$l")}"
    sep=,
  done
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$(ph_sha256 "$WORK/cfg")" "$(stat -c %s "$WORK/cfg")" "$layers" >"$WORK/$out"
}
put_manifest() { # FILE TAG -> http code
  curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$WORK/$1" \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/$REPO/manifests/$2"
}
get() { # PATH OUT -> http code
  curl -s -o "$2" -w '%{http_code}' "http://$REG/v2/$REPO/$1"
}
kept_image_pulls() { # DESC
  local f ok=1
  [[ $(get manifests/v1 "$WORK/got") == 200 ]] && cmp -s "$WORK/got" "$WORK/m1" || ok=0
  for f in cfg l1 l2; do
    [[ $(get "blobs/sha256:$(ph_sha256 "$WORK/$f")" "$WORK/got") == 200 ]] && cmp -s "$WORK/got" "$WORK/$f" || ok=0
  done
  [[ $(get "blobs/sha256:$(ph_sha256 "$WORK/l3")" "$WORK/got") == 404 ]] || ok=0
  if ((ok)); then ph_ok "$1"; else ph_not_ok "$1"; fi
}

# ---- 1. fill
ph_serve_start fill || { ph_not_ok "serve on a fresh store"; ph_finish; exit 1; }
REG=127.0.0.1:$PORT
printf '{"architecture":"amd64","os":"linux","rand":"%s"}' "$RAND" >"$WORK/cfg"
blob l1 30000
blob l2 20000
blob l3 40000
blob loose 5000
for f in cfg l1 l2 l3 loose; do push_blob "$f" || ph_not_ok "push $f"; done
manifest m1 l1 l2
manifest m2 l1 l3
ph_eq "fill: v1 pushed" 201 "$(put_manifest m1 v1)"
ph_eq "fill: v2 pushed" 201 "$(put_manifest m2 v2)"
ph_eq "fill: v2 deleted by digest" 202 \
  "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://$REG/v2/$REPO/manifests/sha256:$(ph_sha256 "$WORK/m2")")"
loc=$(curl -s -D - -o /dev/null -X POST "http://$REG/v2/$REPO/blobs/uploads/" | ph_header location)
ph_eq "fill: an upload left open" 202 \
  "$(curl -s -o /dev/null -w '%{http_code}' -X PATCH --data-binary 'half' \
    -H 'Content-Type: application/octet-stream' "http://$REG$loc")"
ph_serve_stop fill || ph_not_ok "fill: the server stops cleanly"

# ---- 2. collect the stopped store
out=$("$PH" gc --root "$STORE" --grace 0 2>&1)
ph_eq "gc: exit 0" 0 $?
ph_contains "gc: the summary names exactly what went" \
  "gc: removed 2 blobs ($((40000 + 5000)) bytes) from 1 repository (2 links), 0 untagged manifests, 1 upload leftover (4 bytes)" "$out"
ph_true "gc: the unreferenced layer's file is gone" test ! -e "$STORE/blobs/sha256/$(ph_sha256 "$WORK/l3")"
ph_true "gc: the kept layers' files stay" test -e "$STORE/blobs/sha256/$(ph_sha256 "$WORK/l2")"

# ---- 3. the suite, on the collected store, with collection running
if ph_serve_start suite --allow-sparse --gc-interval 1s; then
  REG=127.0.0.1:$PORT
  kept_image_pulls "the kept image pulls byte-exact from the collected store"
  rc=0
  "$PH_LIB/conformance.sh" "$REG" || rc=$?
  ph_eq "the conformance suite passes on the collected store" 0 "$rc"
  ph_match "collections ran during the suite" '^.* info  gc: removed [0-9]+ blobs?' "$(cat "$WORK/suite.log")"
  kept_image_pulls "the kept image pulls byte-exact after the suite"
  ph_serve_stop suite || ph_not_ok "suite: the server stops cleanly"
else
  ph_not_ok "serve the collected store"
fi

# ---- 4. collect again (the suite's leftovers), restart, pull
out=$("$PH" gc --root "$STORE" --grace 0 -q 2>&1)
ph_match "gc after the suite" '^gc: removed [0-9]+ blobs?' "$out"
if ph_serve_start after; then
  REG=127.0.0.1:$PORT
  kept_image_pulls "the kept image pulls byte-exact after a restart"
  ph_nomatch "the restart logs no warning" ' (warn|error) ' "$(cat "$WORK/after.log")"
  ph_serve_stop after || ph_not_ok "after: the server stops cleanly"
else
  ph_not_ok "serve the store collected twice"
fi
ph_finish
