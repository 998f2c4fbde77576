#!/usr/bin/env bash
# tests/bench/socket.sh - `packhelper import docker://IMAGE` on the host, against the readers of
# the same stream that do nothing with it, measured in the same run:
#
#   1. a BENCH_MIB (300) MiB image of BENCH_LAYERS (3) layers of random bytes, built FROM scratch;
#   2. BENCH_RUNS (5) rounds, the rows interleaved within each round:
#        save      docker save IMAGE > /dev/null (the floor of tests/bench/oneshot.sh)
#        curl      curl --unix-socket ... /images/IMAGE/get -o /dev/null: the Engine API's stream
#                  read and dropped; its time to the first byte is when the daemon starts sending
#        import    packhelper import docker://IMAGE --root /dev/shm/...: read, hashed, written,
#                  verified, committed (the work `serve --import docker://` does before its ready line)
#        before    the same with BENCH_BIN_BEFORE (another packhelper binary), when given
#      wall clock (median) and packhelper's CPU (user + sys, from /proc via /usr/bin/time: robust to
#      the machine's load, unlike the wall clock);
#   3. "import - curl" is what packhelper adds to the stream's own time: the part it can win.
# Not a timed test: figures depend on the machine, docker and load (printed with them).
#
#   tests/bench/socket.sh     (BENCH_BIN: build/packhelper; BENCH_BIN_BEFORE=/tmp/old-packhelper)
set -uo pipefail
BENCH_NAME=bench-socket
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/packhelper}
BEFORE=${BENCH_BIN_BEFORE:-}
MIB=${BENCH_MIB:-300}
LAYERS=${BENCH_LAYERS:-3}
RUNS=${BENCH_RUNS:-5}
SOCK=/var/run/docker.sock
RAND=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
SRC=ph-bench-socket-$RAND/big:v1
WORK=$(mktemp -d)
STORE=/dev/shm/ph-bench-socket-$RAND
[[ -x $BIN ]] || die "no $BIN (make)"
[[ -S $SOCK ]] || die "no docker socket at $SOCK"
command -v curl >/dev/null || die "no curl"
trap 'rm -rf "$WORK" "$STORE"; docker rmi -f "$SRC" >/dev/null 2>&1' EXIT

say "bench: building a $MIB MiB image FROM scratch ($LAYERS layers of random bytes)"
printf 'FROM scratch\n' >"$WORK/Dockerfile"
for i in $(seq "$LAYERS"); do
	head -c $((MIB * 1048576 / LAYERS)) /dev/urandom >"$WORK/l$i"
	printf 'COPY l%s /l%s\n' "$i" "$i" >>"$WORK/Dockerfile"
done
docker build -q -t "$SRC" "$WORK" >/dev/null || die "docker build failed"
rm -f "$WORK"/l*

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f\n", (b - a) / 1e6 }'; }
save() {
	local t0
	t0=$(now_ns)
	docker save "$SRC" >/dev/null || die "docker save"
	ms "$t0" "$(now_ns)"
}
curl_() { # prints wall ms; first-byte ms into $WORK/fb
	local t0 w
	t0=$(now_ns)
	w=$(curl -sf --unix-socket "$SOCK" -o /dev/null -w '%{time_starttransfer}' \
		"http://docker/images/$SRC/get") || die "curl"
	ms "$t0" "$(now_ns)"
	awk -v s="$w" 'BEGIN { printf "%.0f\n", s * 1000 }' >"$WORK/fb"
}
import_() { # BIN: prints wall ms; CPU ms (user + sys) into $WORK/cpu
	local t0 w
	rm -rf "$STORE"
	t0=$(now_ns)
	/usr/bin/time -f '%U %S' -o "$WORK/time" "$1" import "docker://$SRC" --root "$STORE" \
		>/dev/null 2>"$WORK/err" || die "import: $(tail -n2 "$WORK/err")"
	w=$(ms "$t0" "$(now_ns)")
	awk '{ printf "%.0f\n", ($1 + $2) * 1000 }' "$WORK/time" >"$WORK/cpu"
	echo "$w"
}

ROWS=(save curl import)
[[ -n $BEFORE ]] && ROWS+=(before)
declare -A V
say "bench: $RUNS rounds of ${ROWS[*]}"
for r in $(seq "$RUNS"); do
	for row in "${ROWS[@]}"; do
		case $row in
		save) V[save]+=" $(save)" ;;
		curl)
			V[curl]+=" $(curl_)"
			V[fb]+=" $(cat "$WORK/fb")"
			;;
		import)
			V[import]+=" $(import_ "$BIN")"
			V[import_cpu]+=" $(cat "$WORK/cpu")"
			;;
		before)
			V[before]+=" $(import_ "$BEFORE")"
			V[before_cpu]+=" $(cat "$WORK/cpu")"
			;;
		esac
	done
	say "  round $r: save ${V[save]##* } curl ${V[curl]##* } (first byte ${V[fb]##* }) import ${V[import]##* } (cpu ${V[import_cpu]##* })${BEFORE:+ before ${V[before]##* } (cpu ${V[before_cpu]##* })}"
done

declare -A M
for k in "${!V[@]}"; do M[$k]=$(echo "${V[$k]}" | median); done
ratio() { awk -v a="$1" -v b="${M[save]}" 'BEGIN { printf "%.2fx", a / b }'; }
line() { printf '%-58s %7s ms  %6s  %s\n' "$1" "${M[$2]}" "$(ratio "${M[$2]}")" "runs:${V[$2]}"; }
echo "bench-socket: $MIB MiB image, $LAYERS layers, median of $RUNS, $(nproc) CPUs, docker $(docker version -f '{{.Server.Version}}'), load $(loadavg)"
line "docker save IMAGE > /dev/null (the floor)" save
line "curl /images/get > /dev/null (the stream, dropped)" curl
line "  its first byte" fb
line "packhelper import docker://IMAGE" import
printf '%-58s %7s ms  cpu (user+sys) runs:%s\n' "  packhelper's CPU" "${M[import_cpu]}" "${V[import_cpu]}"
printf '%-58s %7s ms\n' "  import - curl (what packhelper adds to the stream)" \
	"$(awk -v a="${M[import]}" -v b="${M[curl]}" 'BEGIN { print a - b }')"
if [[ -n $BEFORE ]]; then
	line "before: $BEFORE" before
	printf '%-58s %7s ms  cpu (user+sys) runs:%s\n' "  its CPU" "${M[before_cpu]}" "${V[before_cpu]}"
	printf '%-58s %7s ms\n' "  before - curl" "$(awk -v a="${M[before]}" -v b="${M[curl]}" 'BEGIN { print a - b }')"
fi
