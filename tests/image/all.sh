#!/usr/bin/env bash
# tests/image/all.sh - the two-platform image `make image` builds, and what
# real clients make of it (make test-image runs it after make image):
#   1. the local images REF-amd64 and REF-arm64 (REF is the host's): their
#      platform, a static stripped /packhelper for the right machine, under
#      2 MiB, `version` runs on both (arm64 under qemu)
#   2. the OCI layout tarball: index.json -> one image index -> a manifest
#      per platform, configs == the local image IDs, gzip layers with mtime 0
#      that unpack to the right binary; mk/oci-image.py run again on fresh
#      docker saves gives the same bytes, and refuses a wrong platform
#   3. `packhelper push` of that tarball into packhelper serve and registry
#      2.8 (Debian's docker-registry), then docker pull, crane pull and ctr
#      pull (containerd, a namespace of its own) of each platform: the right
#      config, and the right binary out of what arrived
#   4. the arm64 image run with `docker run --platform linux/arm64` (qemu via
#      binfmt_misc): healthy by its HEALTHCHECK, importing a docker-save
#      tarball, served to this machine's docker, crane and skopeo
#
#   PACKHELPER_IMAGE=REF  the host platform's tag (default bot-bottle/packhelper:latest)
#   PACKHELPER_OCI=FILE   the layout tarball (default build/packhelper-oci.tar)
#   IMAGETEST_KEEP=1      keep the work dir
# Needs root (docker, containerd's socket, binfmt_misc), qemu-user-static,
# docker-registry, jq, file and crane (mk/tools.sh). Every docker object
# carries $RAND and is removed at exit, so is the ctr namespace. About a minute.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../oneshot/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../oneshot/lib.sh"
ph_init image
PH_KEEP=${IMAGETEST_KEEP:-}
ph_cleanup os__rm_docker # containers labelled oneshot.run=$RAND, tags carrying $RAND
ph_tools
export PATH="$PATH:/usr/sbin"
ph_binary
[[ ${IMG##*/} == *:* ]] || IMG=$IMG:latest
OCI=${PACKHELPER_OCI:-$PH_ROOT/build/packhelper-oci.tar}
ARCHES=(amd64 arm64)
declare -A MACHINE=([amd64]=x86-64 [arm64]="ARM aarch64") PLATFORM=([amd64]=linux/amd64 [arm64]=linux/arm64/v8)
declare -A ID
HOST=$(dpkg --print-architecture 2>/dev/null || uname -m)
CTR_SOCK=${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}
[[ -S $CTR_SOCK ]] || CTR_SOCK=/var/run/docker/containerd/containerd.sock # dockerd's own
MIB() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
T_START=$SECONDS
# the arm64 image runs from section 1 on (under qemu): register before it
ph_require "qemu-aarch64 in binfmt_misc (ph_binfmt_up)" ph_binfmt_up

# bin_of REF PLATFORM OUT: /packhelper of the image REF, copied out of a
# created (never started) container
bin_of() {
  local c=image-$RAND-cp
  docker rm -f "$c" >/dev/null 2>&1
  docker create --platform "$2" --name "$c" --label "oneshot.run=$RAND" "$1" >/dev/null &&
    docker cp "$c:/packhelper" "$3"
  local rc=$?
  docker rm -f "$c" >/dev/null 2>&1
  return "$rc"
}

# check_bin DESC ARCH FILE: a static, stripped executable for ARCH
check_bin() {
  local f
  f=$(file -b "$3" 2>&1)
  ph_match "$1: /packhelper is a static ${MACHINE[$2]} executable ($f)" \
    "^ELF 64-bit LSB executable, ${MACHINE[$2]},.* statically linked" "$f"
  ph_match "$1: /packhelper is stripped" ', stripped$' "$f"
}

# bin_of_gzip_layer LAYER OUT: /packhelper out of a gzip layer blob (1 if none)
bin_of_gzip_layer() { gzip -dc <"$1" 2>/dev/null | tar -xOf - packhelper >"$2" 2>/dev/null && [[ -s $2 ]]; }

# ---- 1. the local images ------------------------------------------------------
for a in "${ARCHES[@]}"; do
  ref=$IMG-$a
  ID[$a]=$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null)
  ph_require "$ref exists (make image)" test -n "${ID[$a]}"
  ph_eq "$ref: the image is linux/$a" "linux $a" "$(docker image inspect -f '{{.Os}} {{.Architecture}}' "$ref")"
  size=$(docker image inspect -f '{{.Size}}' "$ref")
  ph_lt "$ref: $size bytes ($(MIB "$size") MiB), under 2 MiB" "$size" 2097152
  if bin_of "$ref" "linux/$a" "$WORK/local-$a"; then
    check_bin "$ref" "$a" "$WORK/local-$a"
    ph_log "$ref: image $(MIB "$size") MiB, /packhelper $(stat -c %s "$WORK/local-$a") bytes"
  else
    ph_not_ok "$ref: docker cp /packhelper out of a container"
  fi
  ver=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$ref")
  out=$(docker run --rm --platform "linux/$a" --label "oneshot.run=$RAND" "$ref" version 2>&1 | head -n1)
  ph_eq "$ref: docker run ... version runs and prints the version label" "packhelper $ver" "$out"
done
ph_eq "$IMG (the plain tag) is the host's ($HOST) image" "${ID[$HOST]:-none}" \
  "$(docker image inspect -f '{{.Id}}' "$IMG" 2>&1)"

# ---- 2. the OCI layout tarball ------------------------------------------------
ph_require "$OCI exists (make image)" test -s "$OCI"
ph_log "$OCI: $(stat -c %s "$OCI") bytes ($(MIB "$(stat -c %s "$OCI")") MiB)"
L=$WORK/oci
mkdir -p "$L" && tar -xf "$OCI" -C "$L"
blob() { echo "$L/blobs/sha256/${1#sha256:}"; }
ph_eq "oci-layout" '{"imageLayoutVersion":"1.0.0"}' "$(cat "$L/oci-layout" 2>&1)"
ph_eq "index.json: one reference, an image index" "1 application/vnd.oci.image.index.v1+json" \
  "$(jq -r '"\(.manifests | length) \(.manifests[0].mediaType)"' "$L/index.json" 2>&1)"
TOP=$(jq -r '.manifests[0].digest' "$L/index.json")
REFNAME=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$L/index.json")
ph_eq "index.json: its ref.name is the image's name" "$IMG" "$REFNAME"
ph_eq "the index hashes to its digest" "$TOP" "sha256:$(ph_sha256 "$(blob "$TOP")" 2>&1)"
ph_eq "the index: linux/amd64 and linux/arm64/v8, image manifests" \
  "linux/amd64 linux/arm64/v8 application/vnd.oci.image.manifest.v1+json" \
  "$(jq -r '[(.manifests[].platform | [.os, .architecture, .variant // empty] | join("/")),
             (.manifests | map(.mediaType) | unique | join(","))] | join(" ")' "$(blob "$TOP")" 2>&1)"
for a in "${ARCHES[@]}"; do
  M=$(jq -r --arg a "$a" '.manifests[] | select(.platform.architecture == $a) | .digest' "$(blob "$TOP")")
  m=$(blob "$M")
  ph_eq "$a: the manifest hashes to its digest" "$M" "sha256:$(ph_sha256 "$m" 2>&1)"
  CFG=$(jq -r .config.digest "$m")
  ph_eq "$a: the config is the local image $IMG-$a (digest == image ID)" "${ID[$a]}" "$CFG"
  ph_eq "$a: the config says linux/$a" "linux $a" "$(jq -r '"\(.os) \(.architecture)"' "$(blob "$CFG")" 2>&1)"
  ph_eq "$a: one layer, gzip" "application/vnd.oci.image.layer.v1.tar+gzip" \
    "$(jq -r '.layers | map(.mediaType) | join(",")' "$m")"
  LAYER=$(blob "$(jq -r '.layers[0].digest' "$m")")
  ph_eq "$a: the layer's gzip header has mtime 0" "00000000" "$(od -An -tx1 -j4 -N4 "$LAYER" | tr -d ' \n')"
  ph_eq "$a: the layer unzips to the config's diff_id" "$(jq -r '.rootfs.diff_ids[0]' "$(blob "$CFG")")" \
    "sha256:$(gzip -dc <"$LAYER" | ph_sha256)"
  if bin_of_gzip_layer "$LAYER" "$WORK/oci-$a"; then
    check_bin "the layout's $a layer" "$a" "$WORK/oci-$a"
  else
    ph_not_ok "$a: no /packhelper in the layer"
  fi
done

# the tarball is made from the images as they are now, the same way every time
plats=()
for a in "${ARCHES[@]}"; do
  docker save -o "$WORK/save-$a.tar" "$IMG-$a"
  plats+=("${PLATFORM[$a]}=$WORK/save-$a.tar")
done
ph_run "mk/oci-image.py again, on fresh docker saves" python3 "$PH_ROOT/mk/oci-image.py" "$WORK/again.tar" \
  "$REFNAME" "${plats[@]}"
ph_eq "... gives the same bytes as $OCI" "$(ph_sha256 "$OCI")" "$(ph_sha256 "$WORK/again.tar" 2>&1)"
python3 "$PH_ROOT/mk/oci-image.py" "$WORK/wrong.tar" "$REFNAME" "linux/arm64=$WORK/save-amd64.tar" \
  >/dev/null 2>"$WORK/wrong.err"
ph_eq "mk/oci-image.py refuses an amd64 image as linux/arm64 (exit 1, no tarball)" "1 no" \
  "$? $([[ -e $WORK/wrong.tar ]] && echo yes || echo no)"
ph_match "... and says why" 'is linux/amd64, not linux/arm64' "$(cat "$WORK/wrong.err")"

# ---- 3. packhelper push, then docker, crane and ctr pull each platform ---------
img__dist() { # Debian's docker-registry (distribution 2.8) on $PORT
  printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n' >"$WORK/dist.yml"
  printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' "$WORK/dist.store" >>"$WORK/dist.yml"
  printf 'http:\n  addr: 127.0.0.1:%s\n  secret: %s\n' "$PORT" "$RAND" >>"$WORK/dist.yml"
  exec docker-registry serve "$WORK/dist.yml"
}
declare -A REGS
if ph_serve_start ph; then REGS[packhelper]=127.0.0.1:$PORT; else ph_not_ok "start packhelper serve"; fi
if ph_spawn dist img__dist; then REGS[registry-2.8]=127.0.0.1:$PORT; else ph_not_ok "start docker-registry"; fi

ctr_() { ctr -a "$CTR_SOCK" "$@"; }
# ctr_pull DESC REF ARCH: ctr images pull into a namespace of its own, then
# look at what arrived: ARCH's config and not the other's, exactly one layer
# holding /packhelper, and that binary is ARCH's
ctr_pull() {
  local desc=$1 ref=$2 a=$3 ns=image-$RAND-$3 o d n=0 have
  ph_cleanup "ctr -a '$CTR_SOCK' -n $ns images rm --sync $ref; ctr -a '$CTR_SOCK' namespaces rm $ns"
  if ! ctr_ -n "$ns" images pull --plain-http --platform "linux/$a" "$ref" >"$WORK/ctr.log" 2>&1; then
    ph_not_ok "$desc: ctr images pull --platform linux/$a: $(tail -n1 "$WORK/ctr.log")"
    return 1
  fi
  ph_match "$desc: ctr unpacked linux/$a" "^unpacking linux/$a sha256:" "$(cat "$WORK/ctr.log")"
  have=$(ctr_ -n "$ns" content ls -q 2>&1)
  for o in "${ARCHES[@]}"; do
    if [[ $o == "$a" ]]; then
      ph_contains "$desc: ctr fetched the $a config" "${ID[$o]}" "$have"
    else
      ph_nomatch "$desc: ctr did not fetch the $o config" "${ID[$o]}" "$have"
    fi
  done
  for d in $have; do
    ctr_ -n "$ns" content get "$d" >"$WORK/ctr.blob" 2>/dev/null
    bin_of_gzip_layer "$WORK/ctr.blob" "$WORK/ctr-$a" && n=$((n + 1)) && cp "$WORK/ctr-$a" "$WORK/ctr-bin"
  done
  ph_eq "$desc: one layer with /packhelper arrived through ctr" 1 "$n"
  ((n == 1)) && check_bin "$desc: ctr" "$a" "$WORK/ctr-bin"
  ctr_ -n "$ns" images rm --sync "$ref" >/dev/null 2>&1
  ctr_ namespaces rm "$ns" >/dev/null 2>&1
  ph_nomatch "$desc: the ctr namespace is gone afterwards" "^$ns " "$(ctr_ namespaces ls 2>&1)"
}

for r in packhelper registry-2.8; do
  reg=${REGS[$r]:-}
  [[ -n $reg ]] || continue
  ref=$reg/image-$RAND/packhelper:v1
  t0=$(ph_now_ms)
  out=$("$PH" push -t latest "$OCI" "$ref" 2>"$WORK/push.err")
  rc=$?
  ph_eq "$r: packhelper push exits 0 and prints the index digest ($(($(ph_now_ms) - t0)) ms)" "0 $TOP" "$rc $out" ||
    sed 's/^/#   /' "$WORK/push.err" >&2
  ph_eq "$r: crane digest :v1 and :latest are the index" "$TOP $TOP" \
    "$(crane digest --insecure "$ref" 2>&1) $(crane digest --insecure "${ref%:v1}:latest" 2>&1)"
  crane manifest --insecure "$ref" >"$WORK/index.json" 2>&1
  ph_eq "$r: the index is served byte for byte" "$TOP" "sha256:$(ph_sha256 "$WORK/index.json")"
  for a in "${ARCHES[@]}"; do
    # docker: the image ID is the local image's (the layer is already here,
    # shared with it, so the binary comes from the local store)
    if docker pull -q --platform "linux/$a" "$ref" >"$WORK/pull.log" 2>&1; then
      ph_eq "$r $a: docker pull --platform linux/$a gives $IMG-$a's image ID" "${ID[$a]}" \
        "$(docker image inspect -f '{{.Id}}' "$ref" 2>&1)"
      if bin_of "$ref" "linux/$a" "$WORK/docker-$a"; then
        check_bin "$r $a: docker" "$a" "$WORK/docker-$a"
      else
        ph_not_ok "$r $a: docker cp /packhelper out of the pulled image"
      fi
      docker rmi "$ref" >/dev/null 2>&1 # the tag only: the image is $IMG-$a's
    else
      ph_not_ok "$r $a: docker pull --platform linux/$a $ref: $(tail -n1 "$WORK/pull.log")"
    fi
    # crane: a tarball of the platform's image, its layer downloaded
    rm -f "$WORK/crane.tar"
    if crane pull --insecure --platform "linux/$a" "$ref" "$WORK/crane.tar" >"$WORK/crane.log" 2>&1; then
      ph_eq "$r $a: crane pull --platform linux/$a: config is $IMG-$a's" "${ID[$a]}" \
        "$(tar -xOf "$WORK/crane.tar" manifest.json | jq -r '.[0].Config')"
      layer=$(tar -xOf "$WORK/crane.tar" manifest.json | jq -r '.[0].Layers[0]')
      tar -xOf "$WORK/crane.tar" "$layer" >"$WORK/crane.layer"
      if bin_of_gzip_layer "$WORK/crane.layer" "$WORK/crane-$a"; then
        check_bin "$r $a: crane" "$a" "$WORK/crane-$a"
      else
        ph_not_ok "$r $a: crane pull: no /packhelper in $layer"
      fi
    else
      ph_not_ok "$r $a: crane pull --platform linux/$a: $(tail -n1 "$WORK/crane.log")"
    fi
    ctr_pull "$r $a" "$ref" "$a"
  done
done

# ---- 4. the arm64 image under qemu, serving this machine's clients -------------
SRC=image-$RAND/src:v1
ph_require "docker build FROM scratch" ph_build_image "$SRC" 256 384
ph_run "docker save $SRC (chmod 644)" os_save "$WORK/small.tar" "$SRC"
C=image-$RAND-arm64
health() { # 255 (stop waiting) once the container is not running
  [[ $(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]] || return 255
  [[ $(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null) == "$2" ]]
}
t0=$(ph_now_ms)
IMG=$IMG-arm64 os_run "$C" --platform linux/arm64 -p 127.0.0.1::5000 \
  -v "$WORK/small.tar:/in/image.tar:ro" -- serve --import /in/image.tar=agent:latest >/dev/null
ph_run "arm64: the container turns healthy (its HEALTHCHECK, probe under qemu)" ph_wait_for 120 health "$C" healthy
ph_log "arm64: docker run -> healthy in $(($(ph_now_ms) - t0)) ms"
ph_eq "arm64: the container runs $IMG-arm64" "${ID[arm64]}" "$(docker inspect -f '{{.Image}}' "$C" 2>&1)"
pid=$(docker inspect -f '{{.State.Pid}}' "$C" 2>/dev/null)
ph_match "arm64: its process is emulated (/proc/PID/exe is qemu-aarch64)" 'qemu-aarch64|aarch64-binfmt' \
  "$(readlink "/proc/${pid:-0}/exe" 2>&1)"
READY=$(os_wait_ready "$C" 10)
ph_eq "arm64: ready line names agent:latest" "agent:latest" "$(jq -r '[.images[].ref] | join(",")' <<<"$READY" 2>/dev/null)"
REG=$(os_port "$C")
ph_run "arm64: docker port gives a loopback port ($REG)" test -n "$REG"
os_check_served arm64 "$REG" agent latest "$(os_ready_digest "$READY" agent:latest)"
os_check_pull arm64 "$REG" agent:latest "$PH_IMAGE_ID" "$PH_DIFFIDS" "$SRC"
docker stop -t 10 "$C" >/dev/null 2>&1
ph_eq "arm64: docker stop ends it with status 0" 0 "$(docker inspect -f '{{.State.ExitCode}}' "$C" 2>&1)"

ph_log "image: $((SECONDS - T_START)) s"
ph_finish
