#!/usr/bin/env bash
# tests/interop/podman.sh REGISTRY - podman (containers/image, containers/storage)
# round trips, rootful. podman resolves an index to the platform asked for
# (--platform) and records both the index and the instance digest in
# RepoDigests; it pushes a pulled image with its config byte-exact (each blob
# HEADed first; one it knows in another repository of the registry is
# cross-mounted, POST ?mount=&from=), and a manifest list with `manifest push
# --all` (each instance copied across repositories by digest, then the list).
#
# Nothing here touches the system's podman: the store is private (--root,
# --runroot, --tmpdir under WORK; the vfs driver, so a killed run leaves no
# overlay mount behind), the registries are marked plain HTTP in a private
# registries.conf (CONTAINERS_REGISTRIES_CONF; /etc/containers is not read for
# them), the auth file is empty, and containers run with --network none (no CNI
# bridge). Containers get explicit --ulimit values: by default podman asks runc
# for RLIMIT_NOFILE/RLIMIT_NPROC above the caller's hard limits, which a machine
# without CAP_SYS_RESOURCE refuses ("error setting rlimit type 7: operation not
# permitted"); 1024 is below any default hard limit, and root is exempt from
# the nproc count anyway.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iop_init podman "$@"

P=$WORK/podman
mkdir -p "$P"
podman() {
  command podman --root "$P/root" --runroot "$P/run" --tmpdir "$P/tmp" --storage-driver vfs \
    --events-backend file --cgroup-manager cgroupfs "$@"
}
printf 'unqualified-search-registries = []\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG" \
  >"$WORK/registries.conf"
export CONTAINERS_REGISTRIES_CONF=$WORK/registries.conf
echo '{}' >"$WORK/auth.json"
export REGISTRY_AUTH_FILE=$WORK/auth.json
LIMITS=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# containers first, then images (podman_clean, at the end, is a check); the
# store itself goes with WORK
ph_cleanup "podman rm -af -t 0; podman rmi -af"
REPO=interop/podman$RAND

podman_info() { [[ $(podman info --format '{{.Store.GraphRoot}}' 2>/dev/null) == "$P/root" ]]; }
ph_require "podman runs with a private store ($P/root)" podman_info
ph_binfmt_up || ph_not_ok "qemu-aarch64 registered with binfmt_misc (the arm64 runs need it)"

# podman_platform DESC REF ARCH [WHAT]: pull REF for linux/ARCH, check the image
# ID (that platform's config) and, for the index in REG, RepoDigests; WHAT
# (default "run cp"): run it and check the greeting, copy /hello out of the
# container and check it
podman_platform() {
  local desc=$1 ref=$2 a=$3 what=${4-run cp} name=ph-$RAND-$3 id digests out
  ph_run "$desc: podman pull --platform linux/$a" podman pull -q --platform "linux/$a" "$ref" || return 1
  read -r id digests <<<"$(podman image inspect -f '{{.Id}}{{range .RepoDigests}} {{.}}{{end}}' "$ref" \
    2>/dev/null)"
  ph_eq "$desc: linux/$a image ID is that platform's config" "${MP_CFG[$a]}" "sha256:$id"
  if [[ $ref == "$MP_REF" ]]; then
    ph_contains "$desc: RepoDigests name linux/$a's manifest" "$REG/$MP_REPO@${MP_MAN[$a]}" \
      "${digests// /$'\n'}"
  fi
  [[ $what == *run* ]] || return 0
  out=$(podman run --name "$name" "${LIMITS[@]}" --platform "linux/$a" "$id" 2>&1)
  iop_mp_check_run "$desc: podman run (linux/$a)" "$a" "$out"
  if [[ $what == *cp* ]]; then
    podman cp "$name:/hello" "$WORK/hello-$a" >/dev/null 2>&1
    iop_mp_check_bin "$desc: podman cp" "$a" "$WORK/hello-$a"
  fi
  podman rm -f -t 0 "$name" >/dev/null 2>&1
}

if iop_mp; then
  # --- the two-platform index in REG: each platform by choice ---------------------
  for a in "${MP_ARCHS[@]}"; do podman_platform "index $MP_REPO:multi" "$MP_REF" "$a"; done

  # --- push what was pulled (the arm64 image), pull it back by digest, run it -------
  ph_run "podman push linux/arm64's image -> $REG/$REPO:arm64" \
    podman push --digestfile "$WORK/d1" "${MP_CFG[arm64]#sha256:}" "docker://$REG/$REPO:arm64"
  D1=$(cat "$WORK/d1" 2>/dev/null)
  if [[ -n $D1 ]]; then
    iop_check_manifest_bytes "podman push" "$REPO" arm64 "$D1"
    ph_get_manifest "$REPO" arm64 "$WORK/m1.json" >/dev/null
    ph_eq "podman push kept the config (digest == linux/arm64's)" "${MP_CFG[arm64]}" \
      "$(jq -r .config.digest "$WORK/m1.json" 2>/dev/null)"
  fi
  ph_run "podman rmi -a (the pull below is a real one)" podman rmi -af
  ph_run "podman pull $REG/$REPO@$D1" podman pull -q "$REG/$REPO@$D1"
  out=$(podman run --rm "${LIMITS[@]}" --platform linux/arm64 "$REG/$REPO@$D1" 2>&1)
  iop_mp_check_run "podman run of its own push (linux/arm64)" arm64 "$out"

  # --- a manifest list made by podman from the index, pushed with every instance ----
  LIST=ph-list-$RAND
  podman_list() { podman manifest create "$LIST" && podman manifest add --all "$LIST" "docker://$MP_REF"; }
  ph_run "podman manifest create + add --all docker://$MP_REF" podman_list
  ph_run "podman manifest push --all -> $REG/$REPO:list" \
    podman manifest push --all --digestfile "$WORK/d2" "$LIST" "docker://$REG/$REPO:list"
  D2=$(cat "$WORK/d2" 2>/dev/null)
  if [[ -n $D2 ]]; then
    iop_check_manifest_bytes "podman manifest push --all" "$REPO" list "$D2"
    ph_get_manifest "$REPO" list "$WORK/list.json" >/dev/null
    ph_eq "the pushed list names both platforms' manifests, digests kept" \
      "linux/amd64 ${MP_MAN[amd64]} linux/arm64 ${MP_MAN[arm64]}" \
      "$(jq -r '[.manifests[] | "\(.platform.os)/\(.platform.architecture) \(.digest)"] | sort | join(" ")' \
        "$WORK/list.json" 2>/dev/null)"
  fi
  podman manifest rm "$LIST" >/dev/null 2>&1

  # --- images imported into a store (packhelper import, serve --import) -------------
  if iop_imported; then
    printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$IMP" >>"$WORK/registries.conf"
    podman_platform "imported index" "$IMP/$IMP_REPO:multi" arm64 run
    podman_platform "imported docker-save tarball" "$IMP/$IMP_REPO:amd64" amd64 run
    iop_imported_stop
  fi
fi

podman_clean() { podman rm -af -t 0 && podman rmi -af; }
ph_run "podman rm -a, rmi -a at the end" podman_clean
ph_finish
