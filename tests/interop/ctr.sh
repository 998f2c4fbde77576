#!/usr/bin/env bash
# tests/interop/ctr.sh REGISTRY - containerd's ctr (containerd 1.6) round trips.
# ctr resolves a tag with HEAD, then GETs the manifests by digest; `images pull
# --platform` fetches the index, that platform's manifest, config and layers
# only, and unpacks them into a snapshot; `images push` sends what the content
# store holds: it HEADs each blob and cross-mounts it from the repository it
# was pulled from (POST ?mount=&from=, from the content's distribution.source
# label), then HEADs and PUTs the manifest.
#
# Everything lives in a namespace of its own, ph-test-<RAND>, removed at the end
# with its containers, images, content, snapshots and leases. The daemon is the
# one at CONTAINERD_ADDRESS, else /run/containerd/containerd.sock, else the
# containerd that dockerd runs (/run/docker/containerd/containerd.sock).
# Containers get no network (ctr's default: a namespace with loopback only).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iop_init ctr "$@"

if [[ -z ${CONTAINERD_ADDRESS:-} ]]; then
  for s in /run/containerd/containerd.sock /run/docker/containerd/containerd.sock; do
    [[ -S $s ]] && { CONTAINERD_ADDRESS=$s; break; }
  done
fi
export CONTAINERD_ADDRESS=${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}
NS=ph-test-$RAND
ctr() { command ctr -n "$NS" "$@"; }
REPO=interop/ctr$RAND

# ctr_ns_rm: the namespace and all it holds (containerd refuses to remove a
# namespace that still holds anything). Removing the images with --sync lets
# the garbage collector take their content and snapshots; what is left (a view
# of a failed run, say) is removed by hand, children before parents.
ctr_ns_rm() {
  local t i
  grep -qxF "$NS" <<<"$(command ctr namespaces ls -q 2>/dev/null)" || return 0
  for t in $(ctr tasks ls -q 2>/dev/null); do
    ctr tasks kill -s SIGKILL "$t"
    ctr tasks delete -f "$t"
  done >/dev/null 2>&1
  ctr containers ls -q 2>/dev/null | xargs -r ctr -n "$NS" containers rm >/dev/null 2>&1
  ctr images ls -q 2>/dev/null | xargs -r ctr -n "$NS" images rm --sync >/dev/null 2>&1
  ctr leases ls -q 2>/dev/null | xargs -r ctr -n "$NS" leases rm --sync >/dev/null 2>&1
  for i in 1 2 3 4 5; do
    ctr snapshots ls 2>/dev/null | awk 'NR > 1 {print $1}' | xargs -r ctr -n "$NS" snapshots rm >/dev/null 2>&1
  done
  ctr content ls -q 2>/dev/null | xargs -r ctr -n "$NS" content rm >/dev/null 2>&1
  command ctr namespaces rm "$NS" >/dev/null 2>&1
}
ph_cleanup ctr_ns_rm

ctr_version() { ctr version >/dev/null; }
ph_require "containerd answers at $CONTAINERD_ADDRESS" ctr_version
ph_binfmt_up || ph_not_ok "qemu-aarch64 registered with binfmt_misc (the arm64 runs need it)"

# ctr_content_has / ctr_content_lacks DIGEST: the namespace's content store
# holds DIGEST / does not
# (the lists are read whole: grep -q would stop reading, and under pipefail
# ctr's SIGPIPE would turn a match into a failure)
ctr_content_has() { grep -qxF "$1" <<<"$(ctr content ls -q 2>/dev/null)"; }
ctr_content_lacks() { ! ctr_content_has "$1"; }
ctr_ns_gone() {
  local l
  l=$(command ctr namespaces ls -q) || return 1
  ! grep -qxF "$NS" <<<"$l"
}

# ctr_platform DESC REF ARCH [WHAT]: pull REF for linux/ARCH; check the image
# record points at the index and, for the index in REG, that the content store
# got linux/ARCH's manifest; WHAT (default "cp run"): /hello out of the pulled
# layer, a run (ctr run --rm --platform)
ctr_platform() {
  local desc=$1 ref=$2 a=$3 what=${4-cp run} l out
  ph_run "$desc: ctr images pull --plain-http --platform linux/$a" \
    ctr images pull --plain-http --platform "linux/$a" "$ref" || return 1
  if [[ $ref == "$MP_REF" || $ref == *:multi ]]; then
    ph_eq "$desc: the image is the index" "$MP_INDEX" \
      "$(ctr images ls 2>/dev/null | awk -v r="$ref" '$1 == r {print $3}')"
    ph_true "$desc: the content store holds linux/$a's manifest" ctr_content_has "${MP_MAN[$a]}"
  fi
  if [[ $what == *cp* ]]; then
    l=$(ctr content get "${MP_MAN[$a]}" 2>/dev/null | jq -r '.layers[0].digest')
    ctr content get "$l" >"$WORK/layer-$a" 2>/dev/null
    iop_mp_layer_hello "$WORK/layer-$a" "$WORK/hello-$a"
    iop_mp_check_bin "$desc: the pulled layer" "$a" "$WORK/hello-$a"
  fi
  if [[ $what == *run* ]]; then
    out=$(ctr run --rm --platform "linux/$a" "$ref" "ph-$RAND-$a" 2>&1)
    iop_mp_check_run "$desc: ctr run --platform linux/$a" "$a" "$out"
  fi
}

if iop_mp; then
  # --- the two-platform index in REG: one platform, then the other -----------------
  ctr_platform "index $MP_REPO:multi" "$MP_REF" amd64
  # what makes the choice visible: arm64's manifest was not fetched
  ph_true "a linux/amd64 pull left linux/arm64's manifest alone" ctr_content_lacks "${MP_MAN[arm64]}"
  ctr_platform "index $MP_REPO:multi" "$MP_REF" arm64

  # --- push: one platform's manifest, then the whole index -----------------------------
  # `images push` sends the content the image holds. After a pull of one
  # platform the other's manifest is missing and an index push fails with
  # "content digest ... not found" (containerd/containerd#8973: pull is for
  # running on one platform); `--platform` pushes that platform's manifest
  # alone, and the index goes once both platforms were pulled (above).
  ph_run "ctr images push --platform linux/arm64 -> $REG/$REPO:arm64" \
    ctr images push --plain-http --platform linux/arm64 "$REG/$REPO:arm64" "$MP_REF"
  iop_check_manifest_bytes "ctr push --platform linux/arm64" "$REPO" arm64 "${MP_MAN[arm64]}"
  ph_run "ctr images push (the index, both platforms held) -> $REG/$REPO:multi" \
    ctr images push --plain-http "$REG/$REPO:multi" "$MP_REF"
  iop_check_manifest_bytes "ctr push of the index" "$REPO" multi "$MP_INDEX"

  # --- images imported into a store (packhelper import, serve --import) --------------
  if iop_imported; then
    ctr_platform "imported index" "$IMP/$IMP_REPO:multi" arm64 run
    ctr_platform "imported docker-save tarball" "$IMP/$IMP_REPO:amd64" amd64 run
    iop_imported_stop
  fi
fi

ctr_ns_rm
ph_true "namespace $NS removed with all it held" ctr_ns_gone
ph_finish
