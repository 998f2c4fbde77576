#!/usr/bin/env bash
# tests/bench/oneshot.sh - the one-shot registry, `docker run` -> ready line, against the floor
# `docker save IMAGE > /dev/null` measured in the same run.
#
#   1. a BENCH_MIB (300) MiB image of BENCH_LAYERS (3) layers of random bytes, built FROM scratch
#      (ph_build_image); its docker-save tarball written once (docker save -o, chmod 644, read once:
#      in the page cache, as it is right after a save);
#   2. BENCH_RUNS (5) rounds, the rows interleaved within each round, wall clock, median:
#        floor     docker save IMAGE > /dev/null: the daemon producing the bytes, read by its CLI
#        mounted   docker run -v TAR:/in/img.tar:ro ... --import /in/img.tar -> ready line: the
#                  tarball exists already (kept from `docker save -o`); its blobs are verified on
#                  every core and served from the file
#        save+mnt  docker save -o TAR && chmod 644 TAR, then the mounted row: a host that starts
#                  from the image in the daemon (reported, no goal)
#        piped     docker save IMAGE | docker run -i ... --import - -> ready line (copied)
#        socket    docker run -v /var/run/docker.sock ... --import docker://IMAGE -> ready line
#                  (the Engine API's /images/get stream, copied)
#        start     docker run ... serve, no import -> ready line: what starting a container
#                  costs, which mounted and socket pay on top of the bytes (socket - start is
#                  what the import through the socket itself took)
#        stream    (with socket) curl --unix-socket ... /images/IMAGE/get -o /dev/null: the
#                  Engine API's stream read and dropped; start + stream is a bound no import
#                  through the socket from inside a container can beat
#      each container with --tmpfs /var/lib/packhelper (the README's recipes) and -p 127.0.0.1::5000;
#      "ready" is when the first stdout line of the attached `docker run` reaches this script (a
#      reader stamps it; nothing polls docker); the container is stopped outside the time;
#      with BENCH_IMAGE_BEFORE (another packhelper image, e.g. the last release's), one more row:
#        before    the socket row with that image, in the same rounds
#      BENCH_ROWS="socket before" runs only those rows (and floor and start)
#   3. the medians and each row's ratio to the floor's (goal: <= 1.1x for mounted and socket).
# Not a timed test: figures depend on the machine, its storage driver and load (printed with them).
#
#   tests/bench/oneshot.sh            (IMAGE: bot-bottle/packhelper:latest, `make image` first)
#   PACKHELPER_IMAGE=ref BENCH_IMAGE_BEFORE=old BENCH_RUNS=5 BENCH_MIB=300 BENCH_LAYERS=3
set -uo pipefail
BENCH_NAME=bench-oneshot
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
IMG=${PACKHELPER_IMAGE:-bot-bottle/packhelper:latest}
MIB=${BENCH_MIB:-300}
LAYERS=${BENCH_LAYERS:-3}
RUNS=${BENCH_RUNS:-5}
SOCK=/var/run/docker.sock

ph_init bench-oneshot
BEFORE=${BENCH_IMAGE_BEFORE:-}
[[ -z $BEFORE ]] || docker image inspect "$BEFORE" >/dev/null 2>&1 || die "no image $BEFORE"
docker image inspect "$IMG" >/dev/null 2>&1 || die "no image $IMG (make image IMAGE_ARCHES=$(dpkg --print-architecture))"
[[ -S $SOCK ]] || die "no docker socket at $SOCK"
SRC=ph-oneshot-$RAND/big:v1
C=ph-oneshot-$RAND
ph_cleanup "docker ps -aq --filter label=ph-bench-oneshot=$RAND | xargs -r docker rm -f"

say "bench: building a $MIB MiB image FROM scratch ($LAYERS layers of random bytes)"
sizes=()
for _ in $(seq "$LAYERS"); do sizes+=($((MIB * 1024 / LAYERS))); done
ph_build_image "$SRC" "${sizes[@]}" || die "docker build failed"
TAR=$WORK/img.tar
docker save -o "$TAR" "$SRC" && chmod 644 "$TAR" || die "docker save -o"
cat "$TAR" >/dev/null

# ready NAME OUT DOCKER-RUN-ARGS... : stdin is the container's; the time (ns) the first line of
# its stdout arrives is written to OUT.t, the line to OUT.line; returns once it has
ready_reader() { # OUT: stamp the first line, then drain
	local line
	IFS= read -r line && { now_ns >"$1.t"; printf '%s\n' "$line" >"$1.line"; }
	cat >/dev/null
}
wait_ready() { # NAME OUT PID: wait for OUT.t (or the run's end), then stop the container
	local i
	for i in $(seq 6000); do
		[[ -s $2.t ]] && break
		kill -0 "$3" 2>/dev/null || break
		sleep 0.01
	done
	grep -q '"ready":true' "$2.line" 2>/dev/null || { say "$1: no ready line"; docker logs "$1" 2>&1 | tail -n3 >&2; }
	docker stop -t 2 "$1" >/dev/null 2>&1
	wait "$3" 2>/dev/null
	docker rm -f "$1" >/dev/null 2>&1
}
ms_since() { awk -v a="$1" -v b="$(cat "$2" 2>/dev/null || echo 0)" 'BEGIN { printf "%.0f\n", (b > 0 ? (b - a) / 1e6 : -1) }'; }
# BENCH_NET=none: --network none instead of -p 127.0.0.1::5000 (no bridge needed; a start is then
# cheaper by the veth and docker-proxy it does not make; the ready line needs no network)
NET=(-p 127.0.0.1::5000)
[[ ${BENCH_NET:-} == none ]] && NET=(--network none)
RUN=(docker run --rm --label "ph-bench-oneshot=$RAND" "${NET[@]}" --tmpfs /var/lib/packhelper)

floor() {
	local t0
	t0=$(now_ns)
	docker save "$SRC" >/dev/null || die "docker save"
	awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.0f\n", (b - a) / 1e6 }'
}
mounted() { # [save]: with save, docker save -o first, in the time
	local out=$WORK/m t0 tar=$TAR pid
	rm -f "$out".*
	t0=$(now_ns)
	if [[ ${1:-} == save ]]; then
		tar=$WORK/img2.tar
		rm -f "$tar"
		docker save -o "$tar" "$SRC" && chmod 644 "$tar" || die "docker save -o"
	fi
	"${RUN[@]}" --name "$C-m" -v "$tar:/in/img.tar:ro" "$IMG" serve --import /in/img.tar=agent:latest \
		</dev/null 2>"$out.err" | ready_reader "$out" &
	pid=$!
	wait_ready "$C-m" "$out" "$pid"
	grep -q 'verified in place' "$out.err" || say "mounted: not verified in place: $(tail -n2 "$out.err")"
	ms_since "$t0" "$out.t"
}
piped() {
	local out=$WORK/p t0 pid
	rm -f "$out".*
	t0=$(now_ns)
	docker save "$SRC" | "${RUN[@]}" -i --name "$C-p" "$IMG" serve --import -=agent:latest 2>"$out.err" |
		ready_reader "$out" &
	pid=$!
	wait_ready "$C-p" "$out" "$pid"
	ms_since "$t0" "$out.t"
}
start() {
	local out=$WORK/e t0 pid
	rm -f "$out".*
	t0=$(now_ns)
	"${RUN[@]}" --name "$C-e" "$IMG" serve </dev/null 2>"$out.err" | ready_reader "$out" &
	pid=$!
	wait_ready "$C-e" "$out" "$pid"
	ms_since "$t0" "$out.t"
}
stream() {
	local t0
	t0=$(now_ns)
	curl -sf --unix-socket "$SOCK" -o /dev/null "http://docker/images/$SRC/get" || die "curl"
	awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.0f\n", (b - a) / 1e6 }'
}
socket() { # [IMAGE]
	local out=$WORK/s t0 pid
	rm -f "$out".*
	t0=$(now_ns)
	"${RUN[@]}" --name "$C-s" -v "$SOCK:$SOCK" --group-add "$(stat -L -c %g "$SOCK")" "${1:-$IMG}" \
		serve --import "docker://$SRC=agent:latest" </dev/null 2>"$out.err" | ready_reader "$out" &
	pid=$!
	wait_ready "$C-s" "$out" "$pid"
	ms_since "$t0" "$out.t"
}

ROWS=(floor mounted savemnt piped socket start)
[[ -n $BEFORE ]] && ROWS+=(before)
# BENCH_ROWS="socket before": only those, with floor and start (the ratios need them)
if [[ -n ${BENCH_ROWS:-} ]]; then
	read -ra ROWS <<<"floor $BENCH_ROWS start"
fi
has() { [[ " ${ROWS[*]} " == *" $1 "* ]]; }
has socket && ! has stream && command -v curl >/dev/null && ROWS+=(stream)
declare -A V
say "bench: $RUNS rounds of ${ROWS[*]}"
for r in $(seq "$RUNS"); do
	for row in "${ROWS[@]}"; do
		case $row in
		savemnt) v=$(mounted save) ;;
		before) v=$(socket "$BEFORE") ;;
		*) v=$($row) ;;
		esac
		[[ $v == -1 ]] && die "$row: no ready line in round $r"
		V[$row]+=" $v"
	done
	say "  round $r:$(for row in "${ROWS[@]}"; do printf ' %s %s' "$row" "${V[$row]##* }"; done)"
done

declare -A M
for row in "${ROWS[@]}"; do M[$row]=$(echo "${V[$row]}" | median); done
ratio() { awk -v a="$1" -v b="${M[floor]}" 'BEGIN { printf "%.2fx", a / b }'; }
line() { printf '%-64s %7s ms  %6s  %s\n' "$1" "${M[$2]}" "$(ratio "${M[$2]}")" "${3:-}"; }
echo "bench-oneshot: $MIB MiB image, $LAYERS layers, median of $RUNS, $(nproc) CPUs, docker $(docker version -f '{{.Server.Version}}') ($(docker info -f '{{.Driver}}' 2>/dev/null)), ${NET[*]}, load $(loadavg)"
line "docker save IMAGE > /dev/null (the floor)" floor "runs:${V[floor]}"
has mounted && line "mounted: docker run -> ready (tarball saved before)" mounted "runs:${V[mounted]}  goal <= 1.10x"
has savemnt && line "mounted with its docker save -o: save + run -> ready" savemnt "runs:${V[savemnt]}"
has piped && line "piped: docker save | docker run -i -> ready" piped "runs:${V[piped]}"
has socket && line "socket: docker run --import docker://IMAGE -> ready" socket "runs:${V[socket]}  goal <= 1.10x"
line "start: docker run serve (no import) -> ready" start "runs:${V[start]}"
minus() { # ROW: ROW minus start
	printf '%-64s %7s ms  %6s\n' "$2" \
		"$(awk -v a="${M[$1]}" -v b="${M[start]}" 'BEGIN { print a - b }')" \
		"$(awk -v a="${M[$1]}" -v b="${M[start]}" -v f="${M[floor]}" 'BEGIN { printf "%.2fx", (a - b) / f }')"
}
has socket && minus socket "socket minus start (the import through the socket)"
if has stream; then
	line "stream: curl /images/get > /dev/null (the Engine's stream alone)" stream "runs:${V[stream]}"
	printf '%-64s %7s ms  %6s\n' "bound for socket: start + stream" \
		"$(awk -v a="${M[stream]}" -v b="${M[start]}" 'BEGIN { print a + b }')" \
		"$(awk -v a="${M[stream]}" -v b="${M[start]}" -v f="${M[floor]}" 'BEGIN { printf "%.2fx", (a + b) / f }')"
fi
if has before; then
	line "before: the socket row with $BEFORE" before "runs:${V[before]}"
	minus before "before minus start"
fi
