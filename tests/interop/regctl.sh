#!/usr/bin/env bash
# tests/interop/regctl.sh REGISTRY - regclient's regctl round trips.
# regctl needs the host configured with tls disabled (done in a private config
# file, the user's ~/.regctl is untouched). It HEADs manifests before GET,
# cross-mounts blobs on copy, uses the referrers API with a fallback to the
# sha256-<hex> tag schema, and deletes tags with DELETE /v2/<repo>/manifests/<tag>
# (falling back to pushing a dummy manifest and deleting it by digest).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iop_init regctl "$@"

mkdir -p "$WORK/home"
export REGCTL_CONFIG=$WORK/home/regctl-config.json
regctl() { HOME=$WORK/home command regctl "$@"; }

REPO_A=interop/regctl$RAND-a
REPO_B=interop/regctl$RAND-b
A=$REG/$REPO_A
B=$REG/$REPO_B
LOCAL=packhelper-interop-regctl$RAND:v1

ph_run "regctl registry set --tls disabled $REG (private config)" regctl registry set --tls disabled "$REG"
regctl config set --docker-cred=false --docker-cert=false >/dev/null 2>&1 || true
ph_true "regctl config written to the private file only" test -s "$REGCTL_CONFIG"

ph_require "docker build FROM scratch 3-layer image" ph_build_image "$LOCAL" 4 256 2048z
IMG_ID=$PH_IMAGE_ID
ph_run "docker save $LOCAL" docker save -o "$WORK/image.tar" "$LOCAL"

# --- import (push) a docker-save tarball ----------------------------------------
ph_run "regctl image import $A:src" regctl image import "$A:src" "$WORK/image.tar"
D=$(regctl image digest "$A:src" 2>/dev/null)
ph_true "regctl image digest $A:src ($D)" test -n "$D"
regctl manifest get --format raw-body "$A:src" >"$WORK/manifest.json" 2>/dev/null
ph_eq "manifest get raw-body hashes to the digest" "$D" "sha256:$(ph_sha256 "$WORK/manifest.json")"
ph_eq "config digest == docker image ID" "$IMG_ID" "$(jq -r .config.digest "$WORK/manifest.json" 2>/dev/null)"
[[ -n $D ]] && iop_check_manifest_bytes "regctl import" "$REPO_A" src "$D"

# --- copy -----------------------------------------------------------------------------
ph_run "regctl image copy $A:src -> $B:v1" regctl image copy "$A:src" "$B:v1"
ph_eq "regctl image digest $B:v1 == source" "$D" "$(regctl image digest "$B:v1" 2>/dev/null)"
ph_eq "copied manifest bytes identical" "$D" \
  "sha256:$(regctl manifest get --format raw-body "$B:v1" 2>/dev/null | ph_sha256)"
ph_run "regctl image copy $A:src -> $A:v1 (retag)" regctl image copy "$A:src" "$A:v1"

# --- blobs ---------------------------------------------------------------------------
bad=0 n=0
for d in $(jq -r '.config.digest, .layers[].digest' "$WORK/manifest.json" 2>/dev/null); do
  n=$((n + 1))
  [[ sha256:$(regctl blob get "$B" "$d" 2>/dev/null | ph_sha256) == "$d" ]] || bad=$((bad + 1))
done
ph_eq "regctl blob get: all config+layer blobs byte-exact" "4/0" "$n/$bad"
ph_true "regctl image get-file reads /l1/hello.txt" \
  bash -c "HOME='$WORK/home' regctl image get-file '$B:v1' /l1/hello.txt | grep -q 'packhelper test'"

# --- tags, repos ----------------------------------------------------------------------
TAGS=$(regctl tag ls "$A" 2>/dev/null)
ph_contains "regctl tag ls $A has src" src "$TAGS"
ph_contains "regctl tag ls $A has v1" v1 "$TAGS"
ph_contains "regctl tag ls $B has v1" v1 "$(regctl tag ls "$B" 2>/dev/null)"
REPOS=$(regctl repo ls "$REG" 2>/dev/null)
ph_contains "regctl repo ls has $REPO_A" "$REPO_A" "$REPOS"
ph_contains "regctl repo ls has $REPO_B" "$REPO_B" "$REPOS"

# --- convert to OCI with image mod (new config + manifest push) -----------------------
ph_run "regctl image mod --to-oci --label -> $A:oci" \
  regctl image mod "$A:src" --to-oci --label "packhelper.test=$RAND" --create oci
D_OCI=$(regctl image digest "$A:oci" 2>/dev/null)
regctl manifest get --format raw-body "$A:oci" >"$WORK/oci.json" 2>/dev/null
ph_eq "modified image is an OCI manifest" application/vnd.oci.image.manifest.v1+json "$(jq -r .mediaType "$WORK/oci.json" 2>/dev/null)"
ph_eq "modified image keeps the layer digests" "$(jq -r '.layers[].digest' "$WORK/manifest.json")" \
  "$(jq -r '.layers[].digest' "$WORK/oci.json" 2>/dev/null)"
[[ -n $D_OCI ]] && iop_check_manifest_bytes "regctl image mod" "$REPO_A" oci "$D_OCI"

# --- artifact with a subject (referrers API or tag-schema fallback) -------------------
head -c 2048 /dev/urandom >"$WORK/sbom.bin"
ph_run "regctl artifact put --subject $A:oci" \
  regctl artifact put --subject "$A:oci" --artifact-type application/vnd.packhelper.interop.regctl \
  --file "$WORK/sbom.bin" --file-media-type application/octet-stream
REFS=$(regctl artifact list "$A:oci" --format '{{range .Descriptors}}{{println .Digest .ArtifactType}}{{end}}' 2>/dev/null)
ph_true "regctl artifact list shows the referrer" grep -q ' application/vnd.packhelper.interop.regctl$' <<<"$REFS"
RD=$(awk '$2 == "application/vnd.packhelper.interop.regctl" {print $1; exit}' <<<"$REFS")
if [[ -n $RD ]]; then
  ph_eq "referrer's subject is $A:oci" "$D_OCI" \
    "$(regctl manifest get --format raw-body "$A@$RD" 2>/dev/null | jq -r .subject.digest)"
  ph_eq "artifact get returns the file byte-exact" "$(ph_sha256 "$WORK/sbom.bin")" \
    "$(regctl artifact get "$A@$RD" 2>/dev/null | ph_sha256)"
fi

# --- tag delete, manifest delete ------------------------------------------------------
ph_run "regctl tag delete $A:src" regctl tag delete "$A:src"
ph_true "src no longer listed" bash -c "! grep -qx src <<<\"\$(HOME='$WORK/home' regctl tag ls '$A')\""
ph_eq "v1 still resolves to the same digest after deleting tag src" "$D" "$(regctl image digest "$A:v1" 2>/dev/null)"
ph_run "regctl manifest delete $B@$D" regctl manifest delete "$B@$D"
ph_true "manifest gone from $REPO_B" bash -c "! HOME='$WORK/home' regctl manifest head '$B@$D'"
ph_eq "$REPO_A@digest still present" "$D" "$(regctl manifest head --format '{{.GetDescriptor.Digest}}' "$A@$D" 2>/dev/null)"

ph_true "user's ~/.regctl untouched by this script" bash -c "! grep -qs '$REG' '$HOME/.regctl/config.json'"
# --- the two-platform index: --platform picks the child --------------------------------
if iop_mp; then
  for a in "${MP_ARCHS[@]}"; do
    ph_eq "regctl image digest --platform linux/$a is that platform's manifest" "${MP_MAN[$a]}" \
      "$(regctl image digest --platform "linux/$a" "$MP_REF" 2>/dev/null)"
    rm -f "$WORK/hello-$a"
    regctl image get-file --platform "linux/$a" "$MP_REF" /hello "$WORK/hello-$a" >/dev/null 2>&1
    iop_mp_check_bin "regctl image get-file --platform linux/$a" "$a" "$WORK/hello-$a"
  done
fi

ph_finish
