#!/usr/bin/env bash
# tests/interop/skopeo.sh REGISTRY - skopeo (containers/image) round trips.
# skopeo HEADs each blob, uploads with POST + PATCH (stream) + PUT ?digest=,
# tries a cross-repo mount when it knows a source repo, and PUTs manifests with
# their exact media type (docker schema2 or OCI). --format oci converts the
# manifest (new digest, same layer blobs); zstd layers use the OCI media type
# application/vnd.oci.image.layer.v1.tar+zstd.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iop_init skopeo "$@"

# self-contained: our own signature policy and auth file, TLS off for $REG
cat >"$WORK/policy.json" <<'EOF'
{"default":[{"type":"insecureAcceptAnything"}]}
EOF
echo '{}' >"$WORK/auth.json"
skopeo() { command skopeo --policy "$WORK/policy.json" "$@"; }
export REGISTRY_AUTH_FILE=$WORK/auth.json
NOTLS=(--src-tls-verify=false --dest-tls-verify=false)

REPO=interop/skopeo$RAND
R=docker://$REG/$REPO
LOCAL=packhelper-interop-skopeo$RAND:v1

ph_require "docker build FROM scratch 3-layer image" ph_build_image "$LOCAL" 4 256 2048z
IMG_ID=$PH_IMAGE_ID
DIFFIDS=$PH_DIFFIDS
ph_run "docker save $LOCAL" docker save -o "$WORK/image.tar" "$LOCAL"

# --- docker-archive -> registry (docker schema2) --------------------------------
ph_run "skopeo copy docker-archive: -> $R:v1" \
  skopeo copy "${NOTLS[@]}" --digestfile "$WORK/d1" "docker-archive:$WORK/image.tar" "$R:v1"
D1=$(cat "$WORK/d1" 2>/dev/null)
skopeo inspect --tls-verify=false "$R:v1" >"$WORK/inspect.json" 2>/dev/null
ph_eq "skopeo inspect .Digest == pushed digest" "$D1" "$(jq -r .Digest "$WORK/inspect.json" 2>/dev/null)"
ph_eq "skopeo inspect --raw hashes to the pushed digest" "$D1" \
  "sha256:$(skopeo inspect --tls-verify=false --raw "$R:v1" 2>/dev/null | ph_sha256)"
ph_eq "config blob is byte-exact (digest == docker image ID)" "$IMG_ID" \
  "sha256:$(skopeo inspect --tls-verify=false --config --raw "$R:v1" 2>/dev/null | ph_sha256)"
ph_eq "3 layers" 3 "$(jq '.Layers | length' "$WORK/inspect.json" 2>/dev/null)"
ph_get_manifest "$REPO" v1 "$WORK/m1.json" >/dev/null
ph_eq "stored as docker schema2" application/vnd.docker.distribution.manifest.v2+json "$(jq -r .mediaType "$WORK/m1.json")"
[[ -n $D1 ]] && iop_check_manifest_bytes "skopeo push" "$REPO" v1 "$D1"

# --- registry -> oci: layout (converted manifest, same blobs) -------------------
ph_run "skopeo copy $R:v1 -> oci:" skopeo copy "${NOTLS[@]}" "$R:v1" "oci:$WORK/oci:v1"
OCI_MAN=$(jq -r '.manifests[0].digest' "$WORK/oci/index.json" 2>/dev/null)
OCI_MAN_FILE=$WORK/oci/blobs/sha256/${OCI_MAN#sha256:}
ph_eq "oci: layer digests == registry layer digests" "$(jq -r '.layers[].digest' "$WORK/m1.json")" \
  "$(jq -r '.layers[].digest' "$OCI_MAN_FILE" 2>/dev/null)"
OCI_CFG=$(jq -r '.config.digest' "$OCI_MAN_FILE" 2>/dev/null)
ph_eq "oci: (converted) config keeps the diff_ids" "$DIFFIDS" \
  "$(jq -r '.rootfs.diff_ids[]' "$WORK/oci/blobs/sha256/${OCI_CFG#sha256:}" 2>/dev/null)"
bad=0
for f in "$WORK"/oci/blobs/sha256/*; do [[ $(ph_sha256 "$f") == "$(basename "$f")" ]] || bad=$((bad + 1)); done
ph_eq "every oci: blob hashes to its name" 0 "$bad"

# --- registry -> docker-archive --------------------------------------------------
ph_run "skopeo copy $R:v1 -> docker-archive:" \
  skopeo copy "${NOTLS[@]}" "$R:v1" "docker-archive:$WORK/back.tar:$REG/$REPO:v1"
mkdir -p "$WORK/back" && tar -C "$WORK/back" -xf "$WORK/back.tar" 2>/dev/null
CFG=$(jq -r '.[0].Config' "$WORK/back/manifest.json" 2>/dev/null)
ph_eq "docker-archive config hashes to docker image ID" "$IMG_ID" "sha256:$(ph_sha256 "$WORK/back/$CFG" 2>/dev/null)"
bad=0 i=0
for l in $(jq -r '.[0].Layers[]' "$WORK/back/manifest.json" 2>/dev/null); do
  i=$((i + 1))
  [[ sha256:$(ph_sha256 "$WORK/back/$l") == "$(sed -n "${i}p" <<<"$DIFFIDS")" ]] || bad=$((bad + 1))
done
ph_eq "docker-archive layers (uncompressed) hash to the image diff_ids" "3/0" "$i/$bad"

# --- OCI format push and digest-preserving round trip ----------------------------
ph_run "skopeo copy --format oci docker-archive: -> $R:oci" \
  skopeo copy "${NOTLS[@]}" --format oci --digestfile "$WORK/d2" "docker-archive:$WORK/image.tar" "$R:oci"
D2=$(cat "$WORK/d2" 2>/dev/null)
ph_get_manifest "$REPO" oci "$WORK/m2.json" >/dev/null
ph_eq "stored as OCI image manifest" application/vnd.oci.image.manifest.v1+json "$(jq -r .mediaType "$WORK/m2.json")"
[[ -n $D2 ]] && iop_check_manifest_bytes "skopeo --format oci" "$REPO" oci "$D2"
ph_run "skopeo copy --preserve-digests $R:oci -> oci:" \
  skopeo copy "${NOTLS[@]}" --preserve-digests "$R:oci" "oci:$WORK/oci2:oci"
ph_eq "oci: layout keeps the registry digest" "$D2" "$(jq -r '.manifests[0].digest' "$WORK/oci2/index.json" 2>/dev/null)"

# --- zstd layers ------------------------------------------------------------------
# a fresh image: skopeo 1.9 would otherwise reuse the gzip blobs it already
# pushed (its blob-info cache ignores the requested compression)
LOCAL2=packhelper-interop-skopeo$RAND:zstd
ph_build_image "$LOCAL2" 4 256 2048z || ph_not_ok "docker build second image"
DIFFIDS2=$(ph_image_diffids "$LOCAL2")
docker save -o "$WORK/image2.tar" "$LOCAL2"
ph_run "skopeo copy --format oci --dest-compress-format zstd -> $R:zstd" \
  skopeo copy "${NOTLS[@]}" --format oci --dest-compress-format zstd --digestfile "$WORK/d3" \
  "docker-archive:$WORK/image2.tar" "$R:zstd"
D3=$(cat "$WORK/d3" 2>/dev/null)
ph_get_manifest "$REPO" zstd "$WORK/m3.json" >/dev/null
ph_eq "zstd layer media types" "application/vnd.oci.image.layer.v1.tar+zstd" \
  "$(jq -r '[.layers[].mediaType] | unique | join(",")' "$WORK/m3.json" 2>/dev/null)"
[[ -n $D3 ]] && iop_check_manifest_bytes "skopeo zstd" "$REPO" zstd "$D3"
ZL=$(jq -r '.layers[0].digest' "$WORK/m3.json" 2>/dev/null)
iop_get_blob "$REPO" "$ZL" "$WORK/zl" >/dev/null
ph_eq "zstd layer blob starts with the zstd magic" 28b52ffd "$(od -An -N4 -tx1 "$WORK/zl" | tr -d ' \n')"
# docker-archive cannot hold zstd layers; dir: with --dest-decompress can
ph_run "skopeo copy $R:zstd -> dir: --dest-decompress" \
  skopeo copy "${NOTLS[@]}" --dest-decompress "$R:zstd" "dir:$WORK/zdir"
bad=0
for d in $DIFFIDS2; do [[ -f $WORK/zdir/${d#sha256:} ]] || bad=$((bad + 1)); done
ph_eq "zstd round trip decompresses to the original diff_ids" 0 "$bad"

# --- list tags, delete -------------------------------------------------------------
TAGS=$(skopeo list-tags --tls-verify=false "$R" 2>/dev/null | jq -r '.Tags[]')
for t in v1 oci zstd; do ph_contains "skopeo list-tags has $t" "$t" "$TAGS"; done
ph_run "skopeo delete $R:zstd" skopeo delete --tls-verify=false "$R:zstd"
ph_true "deleted image no longer inspectable" bash -c "! skopeo --policy '$WORK/policy.json' inspect --tls-verify=false --raw '$R@$D3'"
ph_eq "$R:v1 unaffected" "$D1" "$(skopeo inspect --tls-verify=false "$R:v1" 2>/dev/null | jq -r .Digest)"

# --- the two-platform index: --override-arch picks the child --------------------------
if iop_mp; then
  for a in "${MP_ARCHS[@]}"; do
    ph_run "skopeo --override-os linux --override-arch $a copy $MP_REF -> oci:" \
      skopeo --override-os linux --override-arch "$a" copy --src-tls-verify=false --preserve-digests \
      "docker://$MP_REF" "oci:$WORK/mp-$a:$a"
    ph_eq "skopeo copied linux/$a's manifest" "${MP_MAN[$a]}" \
      "$(iop_mp_layout_hello "$WORK/mp-$a" "$WORK/hello-$a")"
    iop_mp_check_bin "skopeo copy --override-arch $a" "$a" "$WORK/hello-$a"
  done
fi

ph_finish
