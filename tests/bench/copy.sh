#!/usr/bin/env bash
# tests/bench/copy.sh [BINARY] - time `packhelper copy` against crane copy,
# skopeo copy --all and regctl image copy, registry to registry.
#
# One multi-platform image of about 300 MiB (linux/amd64 and linux/arm64,
# each an OCI image of three layers of random data, BENCH_LAYERS_MIB per
# platform, default 20 50 80; crane builds it, no docker) in a packhelper
# serve on loopback: the source, the same for the whole run. The target:
# Debian's docker-registry (distribution 2.8) on loopback, started afresh
# with empty storage for every single run, so nothing is ever skipped or
# mounted. Each tool copies the index with every platform, BENCH_REPS times
# (default 5; the tools interleaved within a round, each round starting with
# the next tool), wall clock, median; after
# each run the target must hold the index under its digest, except for
# skopeo 1.9, which rewrites this index (it refuses --preserve-digests here:
# "Manifest list must be converted"), so its digest is only reported. Then a
# table, the load average, and the ratio of each tool's median to
# packhelper's (> 1: packhelper faster). Not part of the tests; exit 0
# whatever the figures, non-zero only when a copy failed or (other than
# skopeo's) changed a digest.
#
#   packhelper copy SRC DST                    (-j 4, the default)
#   crane copy --insecure SRC DST              (go-containerregistry, 4 jobs)
#   skopeo copy --all docker://SRC docker://DST
#   regctl image copy SRC DST                  (hosts with tls=disabled)
#
# Knobs: BENCH_REPS (5), BENCH_LAYERS_MIB ("20 50 80"),
# BENCH_TARGET=docker-registry|packhelper (the registry copied to),
# BENCH_BEFORE=BINARY to time another packhelper copy too (before), e.g. the
# build before a change, in the same rounds.
set -uo pipefail
BENCH_NAME=bench-copy
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BIN=$(realpath "${1:-$PH_ROOT/build/packhelper}")
REPS=${BENCH_REPS:-5}
LAYERS=${BENCH_LAYERS_MIB:-"20 50 80"}

[[ -x $BIN ]] || die "no executable $BIN (run make)"
TOOLS=$("$PH_ROOT/mk/tools.sh") || die "mk/tools.sh failed"
export PATH="$TOOLS:$PATH:/usr/sbin"
for c in docker-registry skopeo crane regctl python3 jq; do
  command -v "$c" >/dev/null || die "$c not found"
done

ph_init bench-copy
PH=$BIN
# private configs: nothing of the user's is read or written
mkdir -p "$WORK/home"
printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' >"$WORK/policy.json"
echo '{}' >"$WORK/auth.json"
# (not REGISTRY_AUTH_FILE: docker-registry reads REGISTRY_* as its configuration)
export DOCKER_CONFIG=$WORK/home REGCTL_CONFIG=$WORK/home/regctl.json

# ---- the source: packhelper serve with the index ----------------------------
ph_serve_start src --log-level warn || die "packhelper serve did not start"
SRC=localhost:$PORT/bench-$RAND/image
say "bench-copy: building the image (layers $LAYERS MiB per platform) with crane ..."
for p in amd64 arm64; do
  files=()
  i=0
  for m in $LAYERS; do
    i=$((i + 1))
    d=$WORK/layers/$p-$i
    mkdir -p "$d"
    head -c $((m << 20)) /dev/urandom >"$d/data.bin"
    tar -C "$d" -cf "$d.tar" . || die "tar"
    rm -f "$d/data.bin"
    files+=(-f "$d.tar")
  done
  crane append --insecure --oci-empty-base "${files[@]}" -t "$SRC:$p-base" >/dev/null 2>&1 &&
    crane mutate --insecure --set-platform "linux/$p" "$SRC:$p-base" -t "$SRC:$p" >/dev/null 2>&1 ||
    die "crane could not build the $p image"
done
crane index append --insecure -m "$SRC:amd64" -m "$SRC:arm64" -t "$SRC:multi" >/dev/null 2>&1 ||
  die "crane index append"
rm -rf "$WORK/layers"
IDX=$(crane digest --insecure "$SRC:multi")
SIZE_MIB=$(for p in amd64 arm64; do crane manifest --insecure "$SRC:$p" | jq '[.layers[].size, .config.size] | add'; done |
  awk '{ s += $1 } END { printf "%d", s / 1048576 }')
say "bench-copy: $SRC:multi $IDX, $SIZE_MIB MiB of blobs"

# ---- one run: a fresh target, the timed copy, a check ------------------------

# run_one NAME : time one copy of the index with tool NAME; sets RUN_T (s)
run_one() {
  local name=$1 dst t0 t1 rc got
  bench_target_start
  dst=localhost:$PORT/bench-$RAND/copy:$name
  sync
  t0=$(now_ns)
  case $name in
    packhelper) "$BIN" copy -q "$SRC:multi" "$dst" ;;
    before) "$BEFORE" copy -q "$SRC:multi" "$dst" ;;
    crane) crane copy --insecure "$SRC:multi" "$dst" ;;
    skopeo) skopeo --policy "$WORK/policy.json" copy -q --all --authfile "$WORK/auth.json" \
      --src-tls-verify=false --dest-tls-verify=false "docker://$SRC:multi" "docker://$dst" ;;
    regctl) HOME=$WORK/home regctl --host "reg=${SRC%%/*},tls=disabled" --host "reg=${dst%%/*},tls=disabled" \
      image copy "$SRC:multi" "$dst" ;;
  esac >"$WORK/run.out" 2>"$WORK/run.err"
  rc=$?
  t1=$(now_ns)
  got=$(crane digest --insecure "$dst" 2>&1)
  bench_target_stop
  KEPT[$name]=$([[ $got == "$IDX" ]] && echo yes || echo no)
  if [[ $rc -ne 0 || ($got != "$IDX" && $name != skopeo) || $got != sha256:* ]]; then
    say "bench-copy: $name failed (exit $rc, digest $got, want $IDX): $(tail -n3 "$WORK/run.err")"
    return 1
  fi
  RUN_T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) / 1e9 }')
}


NAMES=(packhelper crane skopeo regctl)
BEFORE=
if [[ -n ${BENCH_BEFORE:-} ]]; then
  BEFORE=$(realpath "$BENCH_BEFORE") && [[ -x $BEFORE ]] || die "BENCH_BEFORE: no executable $BENCH_BEFORE"
  NAMES+=(before)
fi
declare -A TIMES MED KEPT
LOAD_START=$(loadavg)
say "bench-copy: load average at start: $LOAD_START; $REPS rounds of: ${NAMES[*]}"
bench_rounds "$REPS" "${NAMES[@]}"
LOAD_END=$(loadavg)

printf '\ncopy of a %d MiB two-platform index (layers %s MiB per platform) from packhelper serve to %s on loopback, %d runs each, fresh target per run\n' \
  "$SIZE_MIB" "${LAYERS// /+}" "$TARGET_NAME" "$REPS"
printf '%-38s %-20s %9s %7s %13s %s\n' "tool" "runs (s)" "median s" "MiB/s" "/ packhelper" "digest kept"
for n in "${NAMES[@]}"; do
  MED[$n]=$(median <<<"${TIMES[$n]}")
done
for n in "${NAMES[@]}"; do
  case $n in
    packhelper) label="packhelper copy" ;;
    crane) label="crane copy" ;;
    skopeo) label="skopeo copy --all" ;;
    regctl) label="regctl image copy" ;;
    before) label="BENCH_BEFORE copy" ;;
  esac
  printf '%-38s %-20s %9s %7s %12sx %s\n' "$label" "${TIMES[$n]}" "${MED[$n]}" \
    "$(awk -v s="$SIZE_MIB" -v t="${MED[$n]}" 'BEGIN { printf "%.0f", s / t }')" \
    "$(awk -v a="${MED[$n]}" -v b="${MED[packhelper]}" 'BEGIN { printf "%.2f", a / b }')" "${KEPT[$n]}"
done
printf '\nload average: %s at start, %s at end (%s CPUs)\n' "$LOAD_START" "$LOAD_END" "$(nproc)"
for n in crane skopeo regctl ${BEFORE:+before}; do
  printf '%s / packhelper: %sx   goal > 1x (packhelper faster): %s\n' "$n" \
    "$(awk -v a="${MED[$n]}" -v b="${MED[packhelper]}" 'BEGIN { printf "%.2f", a / b }')" \
    "$(awk -v a="${MED[$n]}" -v b="${MED[packhelper]}" 'BEGIN { print (a > b ? "MET" : "MISSED") }')"
done
