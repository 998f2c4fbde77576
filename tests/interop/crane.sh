#!/usr/bin/env bash
# tests/interop/crane.sh REGISTRY - go-containerregistry's crane round trips.
# crane speaks plain HTTP to loopback registries (and we pass --insecure). It
# pushes with POST + PATCH (streamed) + PUT, HEADs blobs first, mounts blobs
# across repos on copy (POST ?mount=&from=), pages /v2/_catalog and tags/list
# via ?n=&last= / Link, and deletes manifests by digest.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iop_init crane "$@"

crane() { command crane --insecure "$@"; }

REPO_A=interop/crane$RAND-a
REPO_B=interop/crane$RAND-b
A=$REG/$REPO_A
B=$REG/$REPO_B
LOCAL=packhelper-interop-crane$RAND:v1

ph_require "docker build FROM scratch 3-layer image" ph_build_image "$LOCAL" 4 256 2048z
IMG_ID=$PH_IMAGE_ID
DIFFIDS=$PH_DIFFIDS
ph_run "docker save $LOCAL" docker save -o "$WORK/image.tar" "$LOCAL"

# --- push a docker-save tarball ------------------------------------------------
ph_run "crane push tarball -> $A:v1" crane push "$WORK/image.tar" "$A:v1"
PUSHED=$(grep -oE 'sha256:[0-9a-f]{64}' "$WORK/last.log" | tail -n1)
ph_true "crane push printed the digest ($PUSHED)" test -n "$PUSHED"
ph_eq "crane digest $A:v1 == pushed digest" "$PUSHED" "$(crane digest "$A:v1" 2>/dev/null)"
crane manifest "$A:v1" >"$WORK/manifest.json" 2>/dev/null
ph_eq "crane manifest bytes hash to the digest" "$PUSHED" "sha256:$(ph_sha256 "$WORK/manifest.json")"
ph_eq "manifest has 3 layers" 3 "$(jq '.layers | length' "$WORK/manifest.json" 2>/dev/null)"
ph_eq "config digest == docker image ID (config pushed byte-exact)" "$IMG_ID" \
  "$(jq -r .config.digest "$WORK/manifest.json" 2>/dev/null)"
ph_eq "crane config rootfs.diff_ids == docker diff_ids" "$DIFFIDS" \
  "$(crane config "$A:v1" 2>/dev/null | jq -r '.rootfs.diff_ids[]')"
iop_check_manifest_bytes "crane push" "$REPO_A" v1 "$PUSHED"
ph_run "crane validate --remote $A:v1" crane validate --remote "$A:v1"

# --- copy between repos (cross-repo mount) -------------------------------------
ph_run "crane copy $A:v1 -> $B:v1" crane copy "$A:v1" "$B:v1"
ph_eq "crane digest $B:v1 == source digest" "$PUSHED" "$(crane digest "$B:v1" 2>/dev/null)"
ph_eq "copied manifest bytes identical" "sha256:$(ph_sha256 "$WORK/manifest.json")" \
  "sha256:$(crane manifest "$B:v1" 2>/dev/null | ph_sha256)"
iop_check_manifest_bytes "crane copy" "$REPO_B" v1 "$PUSHED"

# --- tags, catalog ---------------------------------------------------------------
ph_run "crane tag $A:v1 v2" crane tag "$A:v1" v2
TAGS=$(crane ls "$A" 2>/dev/null)
ph_contains "crane ls $A lists v1" v1 "$TAGS"
ph_contains "crane ls $A lists v2" v2 "$TAGS"
ph_eq "crane digest $A:v2 == v1 digest" "$PUSHED" "$(crane digest "$A:v2" 2>/dev/null)"
CATALOG=$(crane catalog "$REG" 2>/dev/null)
ph_contains "crane catalog lists $REPO_A" "$REPO_A" "$CATALOG"
ph_contains "crane catalog lists $REPO_B" "$REPO_B" "$CATALOG"

# --- pull back -----------------------------------------------------------------
ph_run "crane pull --format oci $B:v1" crane pull --format oci "$B:v1" "$WORK/oci"
ph_eq "OCI layout index.json points at the pushed digest" "$PUSHED" \
  "$(jq -r '.manifests[0].digest' "$WORK/oci/index.json" 2>/dev/null)"
bad=0
for f in "$WORK"/oci/blobs/sha256/*; do
  [[ $(ph_sha256 "$f") == "$(basename "$f")" ]] || bad=$((bad + 1))
done
ph_eq "every pulled blob hashes to its name" 0 "$bad"
PULLED_LAYERS=$(jq -r '.layers[].digest' "$WORK/oci/blobs/sha256/${PUSHED#sha256:}" 2>/dev/null)
ph_eq "pulled layer digests == pushed layer digests" "$(jq -r '.layers[].digest' "$WORK/manifest.json")" "$PULLED_LAYERS"
ph_run "crane pull (tarball) $A:v1" crane pull "$A:v1" "$WORK/pulled.tar"
ph_run "docker load the crane-pulled tarball" docker load -i "$WORK/pulled.tar"
ph_cleanup "docker rmi -f '$A:v1'"
ph_eq "docker load'ed image ID == built image ID" "$IMG_ID" "$(docker image inspect -f '{{.Id}}' "$A:v1" 2>/dev/null)"
L1=$(jq -r '.layers[0].digest' "$WORK/manifest.json")
ph_eq "crane blob $L1 is byte-exact" "$L1" "sha256:$(crane blob "$A@$L1" 2>/dev/null | ph_sha256)"

# --- append a layer (streamed upload, new manifest) and build an index -----------
head -c 300000 /dev/urandom >"$WORK/extra.bin"
tar -C "$WORK" -cf "$WORK/extra.tar" extra.bin
ph_run "crane append a 4th layer -> $A:appended" crane append -b "$A:v1" -f "$WORK/extra.tar" -t "$A:appended"
APPENDED=$(crane digest "$A:appended" 2>/dev/null)
ph_eq "appended image has 4 layers" 4 "$(crane manifest "$A:appended" 2>/dev/null | jq '.layers | length')"
[[ -n $APPENDED ]] && iop_check_manifest_bytes "crane append" "$REPO_A" appended "$APPENDED"
ph_run "crane index append -> $A:index" crane index append -m "$A:v1" -m "$A:appended" -t "$A:index"
INDEX=$(crane digest "$A:index" 2>/dev/null)
ph_eq "index lists 2 manifests" 2 "$(crane manifest "$A:index" 2>/dev/null | jq '.manifests | length')"
[[ -n $INDEX ]] && iop_check_manifest_bytes "crane index" "$REPO_A" index "$INDEX"
ph_run "crane validate --remote $A:index" crane validate --remote "$A:index"

# --- delete by digest ------------------------------------------------------------
ph_run "crane delete $B@$PUSHED" crane delete "$B@$PUSHED"
ph_true "manifest gone from $REPO_B after delete" bash -c "! crane --insecure manifest '$B@$PUSHED'"
ph_true "tag v1 in $REPO_B no longer resolves" bash -c "! crane --insecure digest '$B:v1'"
ph_eq "$REPO_A:v1 unaffected by delete in $REPO_B" "$PUSHED" "$(crane digest "$A:v1" 2>/dev/null)"

# --- the two-platform index: --platform picks the child ------------------------------
if iop_mp; then
  ph_eq "crane digest $MP_REPO:multi (no platform) is the index" "$MP_INDEX" \
    "$(crane digest "$MP_REF" 2>/dev/null)"
  for a in "${MP_ARCHS[@]}"; do
    ph_eq "crane digest --platform linux/$a is that platform's manifest" "${MP_MAN[$a]}" \
      "$(crane digest --platform "linux/$a" "$MP_REF" 2>/dev/null)"
    crane export --platform "linux/$a" "$MP_REF" - 2>/dev/null | tar -xO hello >"$WORK/hello-$a" 2>/dev/null
    iop_mp_check_bin "crane export --platform linux/$a" "$a" "$WORK/hello-$a"
  done
fi

ph_finish
