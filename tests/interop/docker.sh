#!/usr/bin/env bash
# tests/interop/docker.sh REGISTRY - docker CLI/engine round trip.
# Docker 20.10 pushes Docker schema2 manifests, uploads layers with chunked
# transfer-encoding PATCH + PUT, HEADs blobs before pushing ("Layer already
# exists") and cross-mounts blobs between repos it knows (POST ?mount=&from=).
# Docker treats 127.0.0.0/8 registries as insecure (plain HTTP) by default.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iop_init docker "$@"

REPO=interop/docker$RAND
REPO_B=interop/docker$RAND-b
LOCAL=packhelper-interop-docker$RAND:v1
REMOTE=$REG/$REPO:v1
ph_cleanup "docker rmi -f '$REMOTE' '$REG/$REPO:v2' '$REG/$REPO_B:v1'"

ph_require "docker build FROM scratch 3-layer image" ph_build_image "$LOCAL" 4 256 2048z
IMG_ID=$PH_IMAGE_ID
DIFFIDS=$PH_DIFFIDS
ph_eq "docker build produced a 3-layer image $IMG_ID" 3 "$(wc -l <<<"$DIFFIDS" | tr -d ' ')"

ph_run "docker tag $LOCAL $REMOTE" docker tag "$LOCAL" "$REMOTE"
ph_run "docker push $REMOTE" docker push "$REMOTE"
PUSHED=$(grep -oE 'digest: sha256:[0-9a-f]{64}' "$WORK/last.log" | head -n1 | cut -d' ' -f2)
ph_true "docker push reported a manifest digest ($PUSHED)" test -n "$PUSHED"

if [[ -n $PUSHED ]]; then
  iop_check_manifest_bytes "docker push" "$REPO" v1 "$PUSHED"
  ph_get_manifest "$REPO" "$PUSHED" "$WORK/manifest.json" >/dev/null
  ph_eq "pushed manifest is docker schema2" application/vnd.docker.distribution.manifest.v2+json \
    "$(jq -r .mediaType "$WORK/manifest.json")"
  ph_eq "pushed manifest has 3 layers" 3 "$(jq '.layers | length' "$WORK/manifest.json")"
  ph_eq "pushed config digest == local image ID" "$IMG_ID" "$(jq -r .config.digest "$WORK/manifest.json")"
fi

# second tag of the same image: every blob must already exist (HEAD) and the
# manifest digest must be identical
ph_run "docker tag + push second tag v2" bash -c "docker tag '$LOCAL' '$REG/$REPO:v2' && docker push '$REG/$REPO:v2'"
ph_eq "push of v2 reports the same digest" "$PUSHED" \
  "$(grep -oE 'digest: sha256:[0-9a-f]{64}' "$WORK/last.log" | head -n1 | cut -d' ' -f2)"
ph_eq "push of v2 found all 3 layers already present" 3 "$(grep -c 'Layer already exists' "$WORK/last.log")"
TAGS=$(iop_tags "$REPO")
ph_contains "tags/list has v1" v1 "$TAGS"
ph_contains "tags/list has v2" v2 "$TAGS"

# push to a second repo: docker cross-mounts the layers from the first repo
ph_run "docker push to a second repo $REPO_B" bash -c "docker tag '$LOCAL' '$REG/$REPO_B:v1' && docker push '$REG/$REPO_B:v1'"
ph_eq "second repo gets the same manifest digest" "$PUSHED" \
  "$(grep -oE 'digest: sha256:[0-9a-f]{64}' "$WORK/last.log" | head -n1 | cut -d' ' -f2)"
MOUNTED=$(grep -c 'Mounted from' "$WORK/last.log")
ph_eq "second repo push cross-mounted all 3 layers" 3 "$MOUNTED"
iop_check_manifest_bytes "cross-repo push" "$REPO_B" v1 "$PUSHED"

# drop every local reference, then pull back by tag
ph_run "docker rmi local image" docker rmi "$LOCAL" "$REMOTE" "$REG/$REPO:v2" "$REG/$REPO_B:v1"
ph_true "image $IMG_ID is gone locally" bash -c "! docker image inspect '$IMG_ID'"
ph_run "docker pull $REMOTE" docker pull "$REMOTE"
ph_eq "docker pull reports the pushed digest" "$PUSHED" \
  "$(grep -oE 'Digest: sha256:[0-9a-f]{64}' "$WORK/last.log" | head -n1 | cut -d' ' -f2)"
ph_eq "pulled image ID == built image ID" "$IMG_ID" "$(docker image inspect -f '{{.Id}}' "$REMOTE" 2>/dev/null)"
ph_eq "pulled diff_ids == built diff_ids" "$DIFFIDS" "$(ph_image_diffids "$REMOTE" 2>/dev/null)"
ph_contains "RepoDigests has $REG/$REPO@digest" "$REG/$REPO@$PUSHED" \
  "$(docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$REMOTE" 2>/dev/null)"

# and by digest
ph_run "docker rmi pulled image" docker rmi "$REMOTE"
ph_run "docker pull by digest" docker pull "$REG/$REPO@$PUSHED"
ph_cleanup "docker rmi -f '$REG/$REPO@$PUSHED'"
ph_eq "image pulled by digest has the built image ID" "$IMG_ID" \
  "$(docker image inspect -f '{{.Id}}' "$REG/$REPO@$PUSHED" 2>/dev/null)"

# a container from the pulled image can be created (not started: no binary)
CID=$(docker create --name "packhelper-interop-$RAND" "$REG/$REPO@$PUSHED" 2>/dev/null)
[[ -n $CID ]] && ph_cleanup "docker rm -f '$CID'"
ph_true "docker create from pulled image" test -n "$CID"
if [[ -n $CID ]]; then
  docker cp "$CID:/l1/hello.txt" "$WORK/hello.txt" 2>/dev/null
  ph_true "file copied out of the pulled image's first layer" grep -q 'packhelper test' "$WORK/hello.txt"
fi

# --- the two-platform index: pull each platform by choice, run it -----------------
# docker keeps one image per tag, so each platform is pulled, checked (image ID
# = that platform's config digest; a run's greeting; /hello copied out) and
# removed before the next. arm64 runs through qemu (binfmt_misc).
ph_binfmt_up || ph_not_ok "qemu-aarch64 registered with binfmt_misc (the arm64 runs need it)"
# docker_platform DESC REF ARCH [WHAT]: pull REF for linux/ARCH and check its
# image ID; WHAT (default "run cp"): run it and check the greeting, copy /hello
# out of the container and check it
docker_platform() {
  local desc=$1 ref=$2 a=$3 what=${4-run cp} name=packhelper-interop-$RAND-$3 out
  ph_run "$desc: docker pull --platform linux/$a" docker pull --platform "linux/$a" "$ref" || return 1
  ph_eq "$desc: linux/$a image ID is that platform's config" "${MP_CFG[$a]}" \
    "$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null)"
  if [[ $what == *run* ]]; then
    ph_cleanup "docker rm -f '$name'"
    out=$(docker run --name "$name" --network none --platform "linux/$a" "$ref" 2>&1)
    iop_mp_check_run "$desc: docker run (linux/$a)" "$a" "$out"
    if [[ $what == *cp* ]]; then
      docker cp "$name:/hello" "$WORK/hello-$a" >/dev/null 2>&1
      iop_mp_check_bin "$desc: docker cp" "$a" "$WORK/hello-$a"
    fi
    docker rm -f "$name" >/dev/null 2>&1
  fi
  docker rmi -f "$ref" "${MP_CFG[$a]}" >/dev/null 2>&1
}
if iop_mp; then
  ph_cleanup "docker rmi -f '$MP_REF' ${MP_CFG[*]}"
  for a in "${MP_ARCHS[@]}"; do docker_platform "index $MP_REPO:multi" "$MP_REF" "$a"; done
  # the same from a store filled by `packhelper import` (the index's OCI layout)
  # and `serve --import` (the amd64 docker-save tarball); a run of each
  if iop_imported; then
    ph_cleanup "docker rmi -f '$IMP/$IMP_REPO:multi' '$IMP/$IMP_REPO:amd64'"
    docker_platform "imported index" "$IMP/$IMP_REPO:multi" arm64 run
    docker_platform "imported docker-save tarball" "$IMP/$IMP_REPO:amd64" amd64 run
    iop_imported_stop
  fi
fi

ph_finish
