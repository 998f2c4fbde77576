#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, IDX, ART... are lib.sh's (tests/copy/lib.sh)
# tests/copy/registries.sh - the test index (linux/amd64 and linux/arm64,
# three layers each, one over 16 MiB) with a referrer (oras attach), copied
# with -r from packhelper serve to registry 2.8, from there to olareg, and
# back to a second packhelper serve: at every stop the index, both children
# and the referrer have their digests and bytes, crane validate finds every
# blob, oras discover lists the referrer (on registry 2.8, which has no
# referrers API, through the sha256-<hex> tag the copy wrote). Then:
# --platform copies one platform's manifest as it is; --all-tags every tag;
# a second copy writes nothing; an OCI layout is a source, with --platform.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ct_init registries

pt_start_ph src || { ph_finish; exit 1; }
SRC=localhost:$PORT
pt_start_dist dist && DIST=localhost:$PORT
pt_start_olareg ola && OLA=localhost:$PORT
pt_start_ph back && BACK=localhost:$PORT
repo=copy-$RAND/img
ph_require "build the test index at packhelper serve (crane)" ct_index "$SRC" "$repo"
ph_require "attach a referrer to it (oras attach)" ct_attach "$SRC" "$repo:multi"
ct_holds "source" "$SRC" "$repo" multi referrer

# ---- the round trip, with referrers
prev=$SRC
for stop in "registry-2.8 ${DIST:-}" "olareg ${OLA:-}" "packhelper ${BACK:-}"; do
  read -r name reg <<<"$stop"
  [[ -n $reg ]] || continue
  ct_copy_ok "-r ${prev##*:} -> $name: exit 0 with a digest" -r "$prev/$repo:multi" "$reg/$repo:multi" ||
    continue
  ph_eq "$name: the digest printed is the index's" "$IDX" "$DIGEST"
  ph_match "$name: one line says what was sent (the referrer: 2 blobs more)" "^copied $prev/$repo:multi -> $reg/$repo:multi $IDX in [0-9.]+ s: $((BLOBS_N + 2)) blobs sent" "$ERR"
  ct_holds "$name" "$reg" "$repo" multi referrer
  prev=$reg
done
if [[ -n ${DIST:-} ]]; then
  ph_contains "registry-2.8: the referrer is indexed under the fallback tag" "sha256-${IDX#sha256:}" \
    "$(crane ls --insecure "$DIST/$repo" 2>&1)"
fi

# ---- --platform: that platform's manifest, by its digest (as crane does)
reg=${DIST:-$BACK}
if ct_copy_ok "--platform linux/arm64: exit 0" --platform linux/arm64 "$SRC/$repo:multi" "$reg/$repo-arm:v1"; then
  ph_eq "--platform: the digest printed is the arm64 manifest's" "$CHILD_arm64" "$DIGEST"
  ph_eq "--platform: the tag holds the arm64 manifest byte for byte" "200 $CHILD_arm64" \
    "$(ct_raw "$reg" "$repo-arm" v1 "$WORK/raw.json") sha256:$(ph_sha256 "$WORK/raw.json")"
  ph_eq "--platform: the amd64 manifest was not copied" 404 "$(ct_raw "$reg" "$repo-arm" "$CHILD_amd64" /dev/null)"
  ph_eq "--platform: neither was the index" 404 "$(ct_raw "$reg" "$repo-arm" "$IDX" /dev/null)"
  ph_run "--platform: crane validate" crane validate --insecure --remote "$reg/$repo-arm:v1"
fi
ct_copy_fails "--platform linux/s390x: one line naming the platforms there are" 1 \
  "^packhelper: copy: .*no manifest for linux/s390x \(it has: linux/amd64, linux/arm64\)$" \
  --platform linux/s390x "$SRC/$repo:multi" "$reg/$repo-s390x:v1"

# ---- --all-tags
reg=${OLA:-$BACK}
ct_copy --all-tags "$SRC/$repo" "$reg/$repo-all"
ph_eq "--all-tags: exit 0" 0 "$RC"
tags=$(crane ls --insecure "$SRC/$repo" | sort)
ph_eq "--all-tags: the same tags at the destination" "$tags" "$(crane ls --insecure "$reg/$repo-all" 2>&1 | sort)"
for t in $tags; do
  ph_eq "--all-tags: $t has its digest" "$(crane digest --insecure "$SRC/$repo:$t")" \
    "$(crane digest --insecure "$reg/$repo-all:$t" 2>&1)"
done
ph_match "--all-tags: the summary" "^summary: $(wc -w <<<"$tags") copied, 0 already there, 0 failed$" "$ERR"
ph_eq "--all-tags: one 'DST DIGEST' line per tag on stdout" "$(wc -w <<<"$tags")" "$(grep -cE "^$reg/$repo-all:[^ ]+ sha256:[0-9a-f]{64}$" <<<"$OUT")"

# ---- a second copy finds everything there
if [[ -n ${DIST:-} ]]; then
  mark=$(ph_mark "$WORK/dist.log")
  ct_copy_ok "a second copy -r to registry 2.8: exit 0" -r "$SRC/$repo:multi" "$DIST/$repo:multi"
  ph_match "a second copy: it says the destination holds it" "^$DIST/$repo:multi already holds $IDX" "$ERR"
  ph_eq "a second copy: no PUT, PATCH or POST reached registry 2.8" 0 \
    "$(ph_since "$WORK/dist.log" "$mark" | grep -cE '"(PUT|PATCH|POST) ')"
  ph_eq "a second copy: and no blob was looked at" 0 \
    "$(ph_since "$WORK/dist.log" "$mark" | grep -cE '"HEAD /v2/[^ ]+/blobs/')"
fi

# ---- an OCI layout as the source (crane pull --format oci: an index in an index)
if ph_run "crane pull --format oci" crane pull --insecure --format oci "$SRC/$repo:multi" "$WORK/layout"; then
  ct_copy_ok "an OCI layout: exit 0" "$WORK/layout" "$BACK/$repo-layout:v1" &&
    ph_eq "an OCI layout: the index's digest" "$IDX" "$DIGEST"
  ct_copy_ok "an OCI layout with --platform linux/amd64: exit 0" --platform linux/amd64 "$WORK/layout" \
    "$BACK/$repo-layout:amd64" && ph_eq "an OCI layout with --platform: the amd64 manifest's digest" "$CHILD_amd64" "$DIGEST"
  ct_copy_fails "an OCI layout with --referrers: refused" 1 "need a registry as the source" \
    -r "$WORK/layout" "$BACK/$repo-layout:r"
fi
ph_finish
