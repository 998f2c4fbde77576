#!/usr/bin/env bash
# tests/bench/sha.sh SHABENCH... - SHA-256 throughput of packhelper's paths against openssl.
#
# One run, no network, about a minute (most of it the arm64 binary under qemu):
#   1. a file of BENCH_SHA_MIB (256) MiB from /dev/urandom in a temp dir;
#   2. `openssl dgst -sha256 FILE`, BENCH_SHA_REPS (3) times after one warm-up
#      (the file then comes from the page cache): MiB/s by the best wall-clock
#      run, and by the least CPU time (user + sys), each less the same run on
#      an empty file (openssl 3's start-up is some 10-20 ms); and
#      `openssl speed -evp sha256` on a 1 MiB buffer (its own CPU-time rate);
#   3. each SHABENCH (tests/bench/shabench.c, built by `make bench-sha` for
#      this machine and for linux/arm64) on the same file: every path its CPU
#      has (sha-ni / armv8, avx2 on x86-64 (PACKHELPER_SHA256=avx2 where
#      SHA-NI is the default), then BearSSL), the same figures, hashing from
#      memory in 1 MiB updates.  An aarch64 binary on another machine runs
#      under qemu-aarch64-static: its figures are the emulator's, not those
#      of an arm64 CPU;
#   4. a table, with the ratios (CPU time) to openssl dgst, to openssl speed
#      and to BearSSL on the same binary.
# Every digest must equal openssl's: exit 1 otherwise, or when a binary
# fails; 0 whatever the figures.
#
# Everything runs pinned to one CPU (the last) when taskset is there, one
# process at a time.  The CPU-time figures are the ones other load moves
# least; on a busy machine compare those.
set -uo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 SHABENCH...   (tests/bench/shabench.c builds; make bench-sha)" >&2
	exit 2
fi
MIB=${BENCH_SHA_MIB:-256}
REPS=${BENCH_SHA_REPS:-3}
T_START=$(date +%s)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench-sha: ERROR: $*"; exit 1; }

command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
PIN=()
if command -v taskset >/dev/null; then
	PIN=(taskset -c "$(($(nproc) - 1))")
fi

TMP=$(mktemp -d /tmp/ph-bench-sha.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
FILE=$TMP/data
say "bench-sha: $MIB MiB of random bytes in $FILE"
head -c $((MIB * 1048576)) /dev/urandom >"$FILE" || die "cannot write $FILE"

# ---- openssl ------------------------------------------------------------------
# one timed run: "wall cpu" seconds (cpu = user + sys)
timed() {
	local t real user sys
	TIMEFORMAT='%R %U %S'
	t=$({ time "${PIN[@]}" "$@" >/dev/null; } 2>&1) || return 1
	read -r real user sys <<<"$t"
	awk -v r="$real" -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f %.3f\n", r, u + s }'
}
# the best of REPS runs of CMD... as "wall cpu" seconds
best_of() {
	local i out w=1e9 c=1e9
	for i in $(seq "$REPS"); do
		out=$(timed "$@") || return 1
		read -r w c <<<"$(awk -v o="$out" -v w="$w" -v c="$c" 'BEGIN { split(o, a, " ");
			printf "%s %s\n", (a[1] < w ? a[1] : w), (a[2] < c ? a[2] : c) }')"
	done
	echo "$w $c"
}
mibps() { awk -v m="$1" -v t="$2" -v z="$3" 'BEGIN { t -= z; printf "%.1f", m / (t > 0.0005 ? t : 0.0005) }'; }

say "  [load average: $(cut -d' ' -f1-3 /proc/loadavg)] openssl dgst -sha256, $REPS runs after a warm-up"
WANT=sha256:$("${PIN[@]}" openssl dgst -sha256 -r "$FILE" | cut -d' ' -f1) || die "openssl failed"
: >"$TMP/empty"
read -r Z_WALL Z_CPU <<<"$(best_of openssl dgst -sha256 -r "$TMP/empty")" || die "openssl failed"
read -r O_WALL O_CPU <<<"$(best_of openssl dgst -sha256 -r "$FILE")" || die "openssl failed"
# openssl's start-up (about as long as 20 MiB of hashing) is not hashing: an empty file's run is
# taken off; what stays is the hash and the file's 8 KiB reads
OS_WALL=$(mibps "$MIB" "$O_WALL" "$Z_WALL") OS_CPU=$(mibps "$MIB" "$O_CPU" "$Z_CPU")
say "  openssl dgst: best ${O_WALL} s wall, ${O_CPU} s CPU; empty file ${Z_WALL} s, ${Z_CPU} s"
# openssl speed: the same hash on one 1 MiB buffer in memory, divided by user CPU time
SPEED=$("${PIN[@]}" openssl speed -evp sha256 -bytes 1048576 -seconds 2 2>/dev/null |
	awk '$1 == "sha256" { sub(/k$/, "", $2); printf "%.1f", $2 * 1000 / 1048576 }')
say "  openssl speed -evp sha256 -bytes 1048576: ${SPEED:-?} MiB/s CPU"

# ---- packhelper's paths ---------------------------------------------------------
ROWS=()
for b in "$@"; do
	[ -x "$b" ] || die "$b is not an executable"
	arch=$(file -b "$b" | grep -o 'x86-64\|aarch64' | head -1)
	run=("${PIN[@]}" "$b")
	label=$arch
	if [ "$arch" = aarch64 ] && [ "$(uname -m)" != aarch64 ]; then
		command -v qemu-aarch64-static >/dev/null || die "qemu-aarch64-static is missing for $b"
		run=("${PIN[@]}" qemu-aarch64-static "$b")
		label="aarch64 qemu $(qemu-aarch64-static --version | head -1 | awk '{print $3}')"
	fi
	say "  [load average: $(cut -d' ' -f1-3 /proc/loadavg)] $label: $b, $REPS runs per path"
	out=$(PACKHELPER_SHA256= "${run[@]}" "$FILE" "$REPS") || die "$b failed"
	if [ "$arch" = x86-64 ] && ! grep -q '^avx2 ' <<<"$out"; then
		# the AVX2 path, where SHA-NI is the default and the CPU has AVX2
		avx=$(PACKHELPER_SHA256=avx2 "${run[@]}" "$FILE" "$REPS" | grep '^avx2 ') || true
		[ -z "$avx" ] || out=$(printf '%s\n%s\n' "$avx" "$out")
	fi
	br_cpu=$(awk '$1 == "bearssl" { print $4 }' <<<"$out")
	while read -r path best med cpu digest; do
		[ "$digest" = "$WANT" ] || die "$b $path: $digest, openssl says $WANT"
		say "  $label $path: best $best, median $med MiB/s wall; $cpu MiB/s CPU"
		ROWS+=("$label|$path|$best|$med|$cpu|$br_cpu")
	done <<<"$out"
done

# ---- report ---------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'; }
row() { printf '%-24s %-7s %9s %9s %9s %10s %10s %10s\n' "$@"; }
echo
echo "== SHA-256 throughput ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)) =="
echo "$MIB MiB random, $REPS runs per figure${PIN:+, pinned to CPU ${PIN[2]}}; $(openssl version | cut -d' ' -f1-2)"
echo "openssl dgst reads the file from the page cache (8 KiB reads), its start-up taken off (an empty"
echo "file's run); openssl speed and shabench hash memory.  MiB/s: best wall-clock run, median run,"
echo "least CPU time; the ratios are on the CPU figure"
echo
row "binary" path "best" "median" "CPU" "vs dgst" "vs speed" "vs bearssl"
row "openssl (native)" dgst "$OS_WALL" - "$OS_CPU" 1.00x "$(ratio "$OS_CPU" "${SPEED:-0}")" -
row "openssl (native)" speed - - "${SPEED:-?}" "$(ratio "${SPEED:-0}" "$OS_CPU")" 1.00x -
for r in "${ROWS[@]}"; do
	IFS='|' read -r label path best med cpu br <<<"$r"
	row "$label" "$path" "$best" "$med" "$cpu" "$(ratio "$cpu" "$OS_CPU")" "$(ratio "$cpu" "${SPEED:-0}")" \
		"$(ratio "$cpu" "$br")"
done
echo
echo "bench-sha: done in $(($(date +%s) - T_START)) s"
exit 0
