#!/usr/bin/env bash
# tests/oneshot/layouts.sh - every archive shape `serve --import` takes:
#   - the Docker >= 25 docker-save layout (crafted from 20.10's legacy one)
#   - an OCI layout directory (mounted as a directory), and as a tarball
#   - a multi-image docker save: one image by #NAME, and all without =
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init layouts
SRC2=oneshot-$RAND/img2:v2
SRC3=oneshot-$RAND/img3:v3
C=oneshot-$RAND-lay

ph_require "docker build FROM scratch" ph_build_image "$SRC" 512 768 1024
ID1=$PH_IMAGE_ID
DIFF1=$PH_DIFFIDS
os_save "$WORK/legacy.tar" "$SRC"

# run_one NAME DESC MOUNT-SRC MOUNT-DST SPEC: start, wait for the ready line;
# sets READY and REG
run_one() {
  local name=$1 desc=$2
  os_run "$name" -p 127.0.0.1::5000 -v "$3:$4:ro" -- serve --import "$5" >/dev/null
  READY=$(os_wait_ready "$name" 30)
  local rc=$?
  REG=$(os_port "$name")
  ph_eq "$desc: ready line" 0 "$rc" || { docker logs "$name" 2>&1 | grep error | sed 's/^/#   /' >&2; return 1; }
}

# ---- Docker >= 25 layout
python3 "$HELPER" v25 "$WORK/legacy.tar" "$WORK/v25.tar"
MEMBERS=$(tar -tf "$WORK/v25.tar")
# shellcheck disable=SC2016  # $1 is bash -c's argument
ph_run "crafted >= 25 layout: oci-layout, index.json, manifest.json, blobs/sha256, no layer.tar" \
  bash -c 'grep -qx oci-layout <<<"$1" && grep -qx index.json <<<"$1" && grep -qx manifest.json <<<"$1" &&
    [[ $(grep -c "^blobs/sha256/[0-9a-f]\{64\}$" <<<"$1") -ge 5 ]] && ! grep -q layer.tar <<<"$1"' _ "$MEMBERS"
ph_eq "crafted >= 25 layout: manifest.json points into blobs/sha256" \
  "blobs/sha256/${ID1#sha256:}" "$(tar -xOf "$WORK/v25.tar" manifest.json | jq -r '.[0].Config')"
if run_one "$C-v25" ">= 25 layout" "$WORK/v25.tar" /in/image.tar /in/image.tar=agent:latest; then
  os_check_served v25 "$REG" agent latest "$(os_ready_digest "$READY" agent:latest)"
  os_check_pull v25 "$REG" agent:latest "$ID1" "$DIFF1" "$SRC"
fi
# the legacy tarball of the same image gives the very same manifest
run_one "$C-legacy" "legacy layout" "$WORK/legacy.tar" /in/image.tar /in/image.tar=agent:latest &&
  ph_eq "legacy and >= 25 layouts of one image give the same manifest digest" \
    "$(os_ready_digest "$(docker logs "$C-v25" 2>/dev/null)" agent:latest)" "$(os_ready_digest "$READY" agent:latest)"
docker rm -f "$C-v25" "$C-legacy" >/dev/null

# ---- OCI layout: a directory, then the same as a tarball
python3 "$HELPER" ocidir "$WORK/legacy.tar" "$WORK/oci"
ph_run "OCI layout directory has no manifest.json" test ! -e "$WORK/oci/manifest.json" -a -f "$WORK/oci/index.json"
OCIMAN=$(jq -r '.manifests[0].digest' "$WORK/oci/index.json")
if run_one "$C-ocidir" "OCI layout directory" "$WORK/oci" /in/layout /in/layout=agent:latest; then
  ph_eq "OCI layout directory: served manifest is the layout's own (byte for byte)" \
    "$OCIMAN" "$(os_ready_digest "$READY" agent:latest)"
  os_check_served ocidir "$REG" agent latest "$OCIMAN"
  os_check_pull ocidir "$REG" agent:latest "$ID1" "$DIFF1" "$SRC"
fi
docker rm -f "$C-ocidir" >/dev/null
(cd "$WORK/oci" && tar -cf "$WORK/oci.tar" oci-layout index.json blobs) && chmod 644 "$WORK/oci.tar"
if run_one "$C-ocitar" "OCI layout tarball" "$WORK/oci.tar" /in/oci.tar /in/oci.tar=agent:latest; then
  ph_eq "OCI layout tarball: the layout's own manifest" "$OCIMAN" "$(os_ready_digest "$READY" agent:latest)"
  os_check_pull ocitar "$REG" agent:latest "$ID1" "$DIFF1" "$SRC"
fi
docker rm -f "$C-ocitar" >/dev/null

# ---- multi-image docker save
# independent images: img1 and img3 (no layer in common)
ph_build_image "$SRC3" 256 384 || ph_not_ok "docker build $SRC3"
ID3=$PH_IMAGE_ID
DIFF3=$PH_DIFFIDS
os_save "$WORK/multi.tar" "$SRC" "$SRC3"
ph_eq "docker save img1 img3: manifest.json lists 2 images" 2 "$(tar -xOf "$WORK/multi.tar" manifest.json | jq length)"

if run_one "$C-pick" "multi-image #NAME" "$WORK/multi.tar" /in/multi.tar "/in/multi.tar#$SRC3=agent:latest"; then
  ph_eq "multi-image #$SRC3=agent:latest: only agent:latest in the ready line" agent:latest \
    "$(jq -r '[.images[].ref] | join(",")' <<<"$READY" 2>/dev/null)"
  os_check_pull pick "$REG" agent:latest "$ID3" "$DIFF3" "$SRC3"
  ph_eq "multi-image #NAME: the other image is not served" 404 \
    "$(os_http "http://$REG/v2/${SRC%:*}/manifests/${SRC##*:}")"
fi
docker rm -f "$C-pick" >/dev/null

if run_one "$C-all" "multi-image without =" "$WORK/multi.tar" /in/multi.tar /in/multi.tar; then
  ph_eq "multi-image without =: both images under their own names" "$(printf '%s\n' "$SRC" "$SRC3" | jq -Rrs 'split("\n")[:2] | sort | join(",")')" \
    "$(jq -r '[.images[].ref] | sort | join(",")' <<<"$READY" 2>/dev/null)"
  os_check_served all1 "$REG" "${SRC%:*}" "${SRC##*:}" "$(os_ready_digest "$READY" "$SRC")"
  os_check_served all3 "$REG" "${SRC3%:*}" "${SRC3##*:}" "$(os_ready_digest "$READY" "$SRC3")"
  os_check_pull all3 "$REG" "$SRC3" "$ID3" "$DIFF3" "$SRC3"
  os_check_pull all1 "$REG" "$SRC" "$ID1" "$DIFF1" "$SRC"
fi
docker rm -f "$C-all" >/dev/null

# a base and an image built FROM it: docker save (<= 24) stores the base's top
# layer once and links the other copy: <id>/layer.tar -> ../<id2>/layer.tar
CTX=$WORK/ctx2
mkdir -p "$CTX" && head -c 300000 /dev/urandom >"$CTX/extra.bin"
printf 'FROM %s\nCOPY extra.bin /extra.bin\nLABEL oneshot.run=%s\n' "$SRC" "$RAND" >"$CTX/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$SRC2" "$CTX" >/dev/null 2>&1
ID2=$(docker image inspect -f '{{.Id}}' "$SRC2")
ph_cleanup "docker rmi -f $ID2"
DIFF2=$(ph_image_diffids "$SRC2")
ph_eq "derived image: 4 layers, the first 3 the base's" "$DIFF1" "$(head -n3 <<<"$DIFF2")"
os_save "$WORK/shared.tar" "$SRC" "$SRC2"
LINK=$(tar -tvf "$WORK/shared.tar" | grep -m1 -o 'layer.tar -> \.\./.*')
ph_run "docker save base derived: a layer.tar is a symlink ($LINK)" test -n "$LINK"
if run_one "$C-shared" "base + derived, without =" "$WORK/shared.tar" /in/shared.tar /in/shared.tar; then
  ph_eq "base + derived: both images under their own names" "$(printf '%s\n' "$SRC" "$SRC2" | jq -Rrs 'split("\n")[:2] | sort | join(",")')" \
    "$(jq -r '[.images[].ref] | sort | join(",")' <<<"$READY" 2>/dev/null)"
  os_check_pull shared2 "$REG" "$SRC2" "$ID2" "$DIFF2" "$SRC2"
  os_check_pull shared1 "$REG" "$SRC" "$ID1" "$DIFF1" "$SRC"
fi
docker rm -f "$C-shared" >/dev/null
if run_one "$C-shared2" "base + derived, #NAME of the derived one" "$WORK/shared.tar" /in/shared.tar \
  "/in/shared.tar#$SRC2=agent:latest"; then
  os_check_pull shared-pick "$REG" agent:latest "$ID2" "$DIFF2" "$SRC2"
fi
docker rm -f "$C-shared2" >/dev/null

# multi-image with =REPO:TAG but no #NAME: which one? an error listing them
os_run "$C-ambig" -v "$WORK/multi.tar:/in/multi.tar:ro" -- serve --import /in/multi.tar=agent:latest >/dev/null
ph_eq "multi-image =agent:latest without #NAME: exits 1" 1 "$(timeout 30 docker wait "$C-ambig")"
os_one_error "multi-image without #NAME: the error lists the images" "$(docker logs "$C-ambig" 2>&1)" \
  "holds 2 images \(($SRC, $SRC3|$SRC3, $SRC)\); name one with SRC#NAME=REPO:TAG"

ph_finish
