#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/registries.sh - push the 3-layer test image (docker save) to three
# registries - packhelper serve, Debian's docker-registry 2.8, olareg - in four
# variants (none/gzip x oci/docker, default and 1 MiB chunks), then pull it back
# with docker and crane: the printed digest is the registry's, the config is the
# original image ID, docker pull gives the original image ID, and the PATCH
# path ran (one PATCH for the 18 MiB layer by default, many with 1M chunks).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init registries
pt_image

declare -A REGS
pt_start_ph ph && REGS[packhelper]=localhost:$PORT
pt_start_dist dist && REGS[distribution]=localhost:$PORT
pt_start_olareg ola && REGS[olareg]=localhost:$PORT

# name: compression format chunk-size
VARIANTS=(
  "none-oci none oci -"
  "gzip-docker-1m gzip docker 1M"
  "none-docker-1m none docker 1M"
  "gzip-oci gzip oci -"
)
declare -A SEEN   # variant -> digest on the first registry (gzip is deterministic)

for r in packhelper distribution olareg; do
  reg=${REGS[$r]:-}
  [[ -n $reg ]] || continue
  for v in "${VARIANTS[@]}"; do
    read -r name comp fmt chunk <<<"$v"
    ref=push-$RAND/$name:v1
    args=(--compression "$comp" --format "$fmt" -v)
    [[ $chunk == - ]] || args+=(--chunk-size "$chunk")
    pt_push_ok "$r $name: push exits 0 and prints a digest" "${args[@]}" "$IMG_TAR" "$reg/$ref" || continue
    d=$DIGEST
    ph_match "$r $name: 'pushed' summary line names the reference" "^pushed $reg/$ref $d in [0-9.]+ s$" "$ERR"
    npatch=$(grep -c '^> PATCH ' "$WORK/push.err")
    if [[ $chunk == - ]]; then
      ph_eq "$r $name: no PATCH (every blob under --chunk-size 128M goes in one PUT)" 0 "$npatch"
    else
      ph_ge "$r $name: chunked upload with 1 MiB PATCHes" "$npatch" 20
    fi
    ph_nomatch "$r $name: no request was retried" 'retrying|resuming' "$ERR"
    pt_check_registry "$r $name" "$reg" "$ref" "$d" "$fmt" "$comp"
    pt_check_pull "$r $name" "$reg" "$ref"
    if [[ -z ${SEEN[$name]:-} ]]; then
      SEEN[$name]=$d
    else
      ph_eq "$r $name: same digest as on the first registry" "${SEEN[$name]}" "$d"
    fi
  done
done
ph_finish
