#!/usr/bin/env bash
# tests/conformance-inplace.sh BINARY
#
# The OCI conformance suite (tests/conformance.sh, every switch on, against
# --allow-sparse) on a registry whose blobs partly live in a tarball and a
# layout directory it serves in place (serve --import ... --import-mode
# in-place):
#   1. a docker-save tarball and an OCI layout directory are imported in
#      place: their layers are records under ROOT/inplace, not copies;
#   2. the suite runs against that server, pushing, mounting and deleting
#      its own blobs beside them;
#   3. both imported images still pull byte for byte, after the suite and
#      after a restart; then the tarball changes: its image is refused (404,
#      logged), the layout's still pulls.
# Prints the suite's own "conformance ..." lines and
# "conformance-inplace: N passed, N failed" (PH_SUITE_PREFIX before both).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PH=$1
ph_init "${PH_SUITE_PREFIX:-}conformance-inplace" conformance-inplace
STORE=$WORK/store
export PH_SERVE_ROOT=$STORE
TAR=$WORK/img.tar
LAY=$WORK/layout

# the images: three layers in the tarball, two in the layout
python3 - "$PH_LIB/e2e" "$TAR" "$LAY" <<'PY' || { ph_not_ok "make the images"; ph_finish; exit 1; }
import sys
sys.path.insert(0, sys.argv[1])
from test_inplace import docker_save_legacy, oci_layout_dir
docker_save_legacy(sys.argv[2], "inplace/tar:v1", sizes=(3 << 20, 1 << 20, 70000))
oci_layout_dir(sys.argv[3], "v1", sizes=(2 << 20, 9000))
PY

pulls() { # NAME REPO BLOBS: the manifest and every blob (BLOBS: config and layers), hashed
  local m d ok=1 n=0
  m=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/$2/manifests/v1") || ok=0
  for d in $(printf '%s' "$m" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(" ".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"]]))' 2>/dev/null); do
    [[ sha256:$(curl -sf "http://$REG/v2/$2/blobs/$d" | sha256sum | cut -c1-64) == "$d" ]] || ok=0
    n=$((n + 1))
  done
  ((n == $3)) || ok=0 # a manifest that did not parse hashed nothing
  if ((ok)); then ph_ok "$1"; else ph_not_ok "$1"; fi
}
status() { curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/$1"; }

IMPORTS=(--import-mode in-place --import "$TAR=inplace/tar:v1" --import "$LAY=inplace/lay:v1")
if ph_serve_start suite --allow-sparse "${IMPORTS[@]}"; then
  REG=127.0.0.1:$PORT
  ph_eq "five layers and two configs are served in place (records)" 7 \
    "$(find "$STORE/inplace" -type f | wc -l)"
  ph_eq "no layer was copied into blobs/ (only the two manifests)" 2 \
    "$(find "$STORE/blobs" -type f | wc -l)"
  pulls "the tarball's image pulls byte-exact" inplace/tar 4
  rc=0
  "$PH_LIB/conformance.sh" "$REG" || rc=$?
  ph_eq "the conformance suite passes beside blobs served in place" 0 "$rc"
  pulls "the tarball's image pulls byte-exact after the suite" inplace/tar 4
  pulls "the layout's image pulls byte-exact after the suite" inplace/lay 3
  ph_serve_stop suite || ph_not_ok "suite: the server stops cleanly"
else
  ph_not_ok "serve with imports in place"
fi

if ph_serve_start after --allow-sparse; then
  REG=127.0.0.1:$PORT
  pulls "the tarball's image pulls byte-exact after a restart" inplace/tar 4
  pulls "the layout's image pulls byte-exact after a restart" inplace/lay 3
  layer=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG/v2/inplace/tar/manifests/v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
  # one byte of the tarball changes: refused, never served
  python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(1000); b=f.read(1); f.seek(1000); f.write(bytes([b[0]^255]))' "$TAR"
  refused() { [[ $(status inplace/tar/manifests/v1) == 404 ]]; }
  ph_true "the changed tarball's image is refused within 3 s, with no request for its blobs" \
    ph_wait_for 3 refused
  ph_eq "and its layers" 404 "$(status "inplace/tar/blobs/$layer")"
  ph_match "the change is logged" 'source .*img.tar changed since its blobs were verified' \
    "$(cat "$WORK/after.log")"
  pulls "the layout's image still pulls" inplace/lay 3
  ph_serve_stop after || ph_not_ok "after: the server stops cleanly"
else
  ph_not_ok "serve the store again"
fi
ph_finish
