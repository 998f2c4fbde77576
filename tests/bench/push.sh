#!/usr/bin/env bash
# tests/bench/push.sh [BINARY] - time `packhelper push` against crane and skopeo.
#
# One ~300 MiB docker-save tarball (FROM scratch, 3 layers of random data:
# 40, 100 and 160 MiB), one target: Debian's docker-registry (distribution
# 2.8) on loopback, started afresh with empty storage for every single run so
# no blob is ever skipped. Timed, wall clock, each BENCH_REPS times (default
# 3; the tools are interleaved within a round), the median reported:
#   packhelper push --compression none     (layers as they are)
#   packhelper push --compression gzip     (level 1, the default)
#   crane push --insecure TAR REF          (gzip level 1, go-containerregistry)
#   skopeo copy --dest-tls-verify=false docker-archive:TAR docker://REF
#       (skopeo always gzips for a registry; --dest-compress only concerns the
#        dir: transport - the run with --dest-decompress shows it changes
#        nothing - so a level-1 variant is timed too, for a like-for-like
#        figure with the other gzip pushes)
#   floor: what the receiver itself needs, with nothing to find out: the
#       blobs unpacked beforehand, their digests known; every blob at once,
#       each by curl (POST, then one PUT ?digest= with the file), then the
#       manifest PUT (the image is not pushed without it)
# Then a table, the load average, and the ratios crane/packhelper for none and
# gzip against the issue's goals: >= 5x faster than crane with none, ahead
# of crane with gzip; and packhelper (none) / floor, goal <= 1.1x. Not part
# of the tests; exit 0 whatever the figures, non-zero only if a push failed.
#
# Knobs: BENCH_TARGET=docker-registry|packhelper (the registry pushed to),
# BENCH_REPS (3), BENCH_LAYERS_MIB ("40 100 160"), BENCH_SKOPEO=0 to
# skip skopeo (its default gzip level makes it the slowest by far),
# BENCH_TOOLS="floor ph-none" to time only those, BENCH_BEFORE=BINARY to
# time another packhelper too (ph-before: --compression none), e.g. the
# build before a change, in the same rounds.
set -uo pipefail
BENCH_NAME=bench-push
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BIN=$(realpath "${1:-$PH_ROOT/build/packhelper}")
REPS=${BENCH_REPS:-3}
LAYERS=${BENCH_LAYERS_MIB:-"40 100 160"}
SKOPEO=${BENCH_SKOPEO:-1}

[[ -x $BIN ]] || die "no executable $BIN (run make)"
TOOLS=$("$PH_ROOT/mk/tools.sh") || die "mk/tools.sh failed"
export PATH="$TOOLS:$PATH:/usr/sbin"
for c in docker docker-registry skopeo crane python3 jq; do
  command -v "$c" >/dev/null || die "$c not found"
done

ph_init bench-push

# ---- the image (tests/lib.sh's builder; removed at exit) -----------------------
say "bench-push: building the image ($LAYERS MiB layers) ..."
kib=()
for m in $LAYERS; do kib+=($((m * 1024))); done
ph_build_image "bench-push-$RAND/image:src" "${kib[@]}" || die "docker build failed"
TAR=$WORK/image.tar
docker save -o "$TAR" "bench-push-$RAND/image:src" || die "docker save failed"
TAR_MIB=$(($(stat -c %s "$TAR") >> 20))
say "bench-push: tarball $TAR_MIB MiB"

# ---- the floor's inputs, untimed: the blobs as files, digests, the manifest ---
mkdir -p "$WORK/floor"
tar -C "$WORK/floor" -xf "$TAR" || die "cannot unpack $TAR"
python3 - "$WORK/floor" >"$WORK/floor.list" <<'PY' || die "floor: cannot read the unpacked tarball"
import hashlib, json, os, sys
d = sys.argv[1]
def blob(rel):
    h = hashlib.sha256()
    with open(os.path.join(d, rel), "rb") as f:
        for c in iter(lambda: f.read(1 << 20), b""):
            h.update(c)
    return "sha256:" + h.hexdigest(), os.path.getsize(os.path.join(d, rel))
item = json.load(open(os.path.join(d, "manifest.json")))[0]
cd, cs = blob(item["Config"])
layers = [blob(l) for l in item["Layers"]]
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
     "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}
                for ld, ls in layers]}
open(os.path.join(d, "floor-manifest.json"), "w").write(json.dumps(m, separators=(",", ":")))
for (dg, _), rel in zip([(cd, cs)] + layers, [item["Config"]] + item["Layers"]):
    print(dg, rel)
PY

# floor_blob URL-BASE DIGEST FILE : POST an upload, PUT FILE to it with ?digest=
floor_blob() {
  local loc
  loc=$(curl -sf -D - -o /dev/null -X POST "$1/blobs/uploads/" | tr -d '\r' |
    awk 'tolower($1) == "location:" { print $2 }')
  [[ $loc == http* ]] || loc=${1%%/v2/*}$loc
  [[ $loc == *\?* ]] && loc+="&" || loc+="?"
  curl -sf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$WORK/floor/$3" "${loc}digest=$2"
}
# floor REF : every blob at once, then the manifest
floor() {
  local base pids=() d f rc=0 p
  base=http://${1%%/*}/v2/${1#*/}
  base=${base%:*}
  while read -r d f; do
    floor_blob "$base" "$d" "$f" &
    pids+=($!)
  done <"$WORK/floor.list"
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  ((rc == 0)) && curl -sf -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$WORK/floor/floor-manifest.json" "$base/manifests/${1##*:}"
}

# ---- one run: a fresh registry, the timed command, a check ------------------
PH=$BIN

# run_one NAME : time one push of $TAR with tool NAME to a fresh registry;
# sets RUN_T (seconds) and LAYER_INFO[NAME]
run_one() {
  local name=$1 ref t0 t1 rc
  bench_target_start
  ref=localhost:$PORT/bench-$RAND/image:$name
  sync
  t0=$(now_ns)
  case $name in
    floor) floor "$ref" ;;
    ph-none) "$BIN" push -q --compression none "$TAR" "$ref" ;;
    ph-before) "$BEFORE" push -q --compression none "$TAR" "$ref" ;;
    ph-gzip) "$BIN" push -q --compression gzip "$TAR" "$ref" ;;
    crane) crane push --insecure "$TAR" "$ref" ;;
    skopeo) skopeo copy -q --dest-tls-verify=false "docker-archive:$TAR" "docker://$ref" ;;
    skopeo-decompress) skopeo copy -q --dest-tls-verify=false --dest-decompress "docker-archive:$TAR" "docker://$ref" ;;
    skopeo-gzip1) skopeo copy -q --dest-tls-verify=false --dest-compress-level 1 "docker-archive:$TAR" "docker://$ref" ;;
  esac >"$WORK/run.out" 2>"$WORK/run.err"
  rc=$?
  t1=$(now_ns)
  if [[ $rc -ne 0 ]] || ! crane manifest --insecure "$ref" >"$WORK/manifest.json" 2>/dev/null; then
    say "bench-push: $name failed (exit $rc): $(tail -n3 "$WORK/run.err")"
    bench_target_stop
    return 1
  fi
  # what went over the wire: the layers' media types and total size
  LAYER_INFO[$name]=$(jq -r '[(.layers | map(.mediaType | sub(".*[./]"; "")) | unique | join(",")), ((.layers | map(.size) | add) / 1048576 | floor | tostring) + " MiB"] | join(" ")' "$WORK/manifest.json")
  bench_target_stop
  RUN_T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) / 1e9 }')
}


NAMES=(floor ph-none ph-gzip crane)
[[ $SKOPEO == 0 ]] || NAMES+=(skopeo skopeo-decompress skopeo-gzip1)
# shellcheck disable=SC2206  # a list of names
[[ -z ${BENCH_TOOLS:-} ]] || NAMES=($BENCH_TOOLS)
BEFORE=
if [[ -n ${BENCH_BEFORE:-} ]]; then
  BEFORE=$(realpath "$BENCH_BEFORE") && [[ -x $BEFORE ]] || die "BENCH_BEFORE: no executable $BENCH_BEFORE"
  NAMES+=(ph-before)
fi
declare -A TIMES LAYER_INFO
LOAD_START=$(loadavg)
say "bench-push: load average at start: $LOAD_START; $REPS rounds of: ${NAMES[*]}"
bench_rounds "$REPS" "${NAMES[@]}"
LOAD_END=$(loadavg)

declare -A MED
printf '\npush of a %d MiB docker-save tarball (layers %s MiB) to %s on loopback, %d runs each, fresh storage per run\n' \
  "$TAR_MIB" "${LAYERS// /+}" "$TARGET_NAME" "$REPS"
printf '%-38s %-24s %9s %9s  %s\n' "tool" "runs (s)" "median s" "MiB/s" "layers sent"
for n in "${NAMES[@]}"; do
  MED[$n]=$(median <<<"${TIMES[$n]}")
  case $n in
    floor) label="floor: curl, every blob at once" ;;
    ph-none) label="packhelper push --compression none" ;;
    ph-before) label="BENCH_BEFORE push --compression none" ;;
    ph-gzip) label="packhelper push --compression gzip" ;;
    crane) label="crane push --insecure" ;;
    skopeo) label="skopeo copy" ;;
    skopeo-decompress) label="skopeo copy --dest-decompress" ;;
    skopeo-gzip1) label="skopeo copy --dest-compress-level 1" ;;
  esac
  printf '%-38s %-24s %9s %9s  %s\n' "$label" "${TIMES[$n]}" "${MED[$n]}" \
    "$(awk -v s="$TAR_MIB" -v t="${MED[$n]}" 'BEGIN { printf "%.0f", s / t }')" "${LAYER_INFO[$n]}"
done
printf '\nload average: %s at start, %s at end (%s CPUs)\n' "$LOAD_START" "$LOAD_END" "$(nproc)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
has() { [[ -n ${MED[$1]:-} ]]; }
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { print (r >= g ? "MET" : "MISSED") }'; }
if has floor && has ph-none; then
  r_floor=$(ratio "${MED[ph-none]}" "${MED[floor]}")
  # per round too: the two ran back to back, so a busy moment hits both
  per=$(paste -d' ' <(tr ' ' '\n' <<<"${TIMES[ph-none]}" | sed '/^$/d') <(tr ' ' '\n' <<<"${TIMES[floor]}" | sed '/^$/d') |
    awk '{ printf "%.2f ", $1 / $2 }')
  printf 'packhelper (none) / floor: %sx (per round: %s)  goal <= 1.1x: %s\n' "$r_floor" "$per" \
    "$(awk -v r="$r_floor" 'BEGIN { print (r <= 1.1 ? "MET" : "MISSED") }')"
fi
if has floor && has ph-before; then
  printf 'BENCH_BEFORE (none) / floor: %sx\n' "$(ratio "${MED[ph-before]}" "${MED[floor]}")"
fi
if has crane && has ph-none; then
  r_none=$(ratio "${MED[crane]}" "${MED[ph-none]}")
  printf 'crane / packhelper (none): %sx   goal >= 5x: %s\n' "$r_none" "$(verdict "$r_none" 5)"
fi
if has crane && has ph-gzip; then
  r_gzip=$(ratio "${MED[crane]}" "${MED[ph-gzip]}")
  printf 'crane / packhelper (gzip): %sx   goal > 1x (ahead of crane): %s\n' "$r_gzip" \
    "$(awk -v r="$r_gzip" 'BEGIN { print (r > 1 ? "MET" : "MISSED") }')"
fi
if has skopeo && has ph-gzip; then
  printf 'skopeo / packhelper (gzip): %sx\n' "$(ratio "${MED[skopeo]}" "${MED[ph-gzip]}")"
fi
