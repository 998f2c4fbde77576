#!/usr/bin/env bash
# tests/bench/blobget.sh BINARY - blob GET throughput, packhelper against nginx, same run.
#
#   1. a docker-save tarball with two random layers of 64 MiB and BENCH_BIG_MIB (300) MiB on /tmp,
#      in the page cache; imported into two stores on /dev/shm: in place (served from the tarball,
#      at the members' 512-byte aligned offsets) and copied (a file per blob);
#   2. three servers pinned to CPU 0: packhelper on each store, and nginx (1 worker, sendfile on,
#      tcp_nopush on, tcp_nodelay on, open_file_cache, keep-alive) serving the tarball itself (a
#      Range request for the member), the copied store's blob files, and page-aligned copies of
#      the layers on the tarball's file system (to tell the alignment from the file system);
#   3. BENCH_N (9) rounds, interleaved, the order reversed every other round, each of
#        packhelper in place  / nginx tarball + Range    (the same bytes of the same file)
#        packhelper store     / nginx store file          (the same file)
#        nginx aligned copy                               (reference: page-aligned offsets)
#      for both layers, with 1 and BENCH_CLIENTS (2) concurrent clients: benchhelper (tests/bench/
#      benchhelper.c: 1 MiB recv()s into a buffer, dropped) pinned to CPU 1, one GET per connection;
#      and curl (-o /dev/null) for the big layer in place, as the other benches measure;
#   4. medians of MiB/s, server CPU ms per GET (/proc/PID/schedstat: loopback's receive work runs
#      on the sender's CPU and counts here), client CPU ms per GET, TCP data segments per GET,
#      and the ratios packhelper / nginx.
# Not a timed test: MiB/s move with the machine's load (printed); the CPU and segment figures hold
# better on a busy machine. About two minutes.
set -uo pipefail
[ $# -eq 1 ] && [ -x "$1" ] || { echo "usage: $0 BINARY" >&2; exit 2; }
BIN=$(realpath "$1")
BIG=${BENCH_BIG_MIB:-300}
N=${BENCH_N:-9}
CONC=${BENCH_CLIENTS:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_NAME=bench-blobget
# BENCH_SERVE_ARGS: more serve options for both packhelper servers (e.g. --max-sndbuf 0)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
export PATH="$PATH:/usr/sbin:/sbin"
command -v nginx >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >&2 ||
	die "nginx is needed"
if [ "$(nproc)" -ge 2 ]; then SRV=(taskset -c 0); CLI=(taskset -c 1); else SRV=(); CLI=(); fi

TMP=$(mktemp -d /tmp/ph-bench-blobget.XXXXXX)
SHM=$(mktemp -d /dev/shm/ph-bench-blobget.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP" "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
BH=$TMP/benchhelper
gcc -O2 -Wall -o "$BH" "$HERE/benchhelper.c" || die "cannot build benchhelper.c"
cp "$BIN" "$TMP/packhelper" && BIN=$TMP/packhelper
TAR=$TMP/img.tar
WWW=$TMP/www
mkdir -p "$WWW" "$TMP/ng/logs"

say "bench: a docker-save tarball with layers of 64 and $BIG MiB"
python3 - "$HERE/../e2e" "$TAR" "$BIG" <<'PY' || die "cannot make the tarball"
import sys
sys.path.insert(0, sys.argv[1])
from test_inplace import docker_save_legacy
docker_save_legacy(sys.argv[2], "bench/app:v1", sizes=[64 << 20, int(sys.argv[3]) << 20])
PY
chmod -R a+rX "$TMP"
# linked (and every chmod done) before the import: a new link moves the file's ctime, which the in-place check refuses
ln "$TAR" "$WWW/img.tar"
cat "$TAR" >/dev/null
"$BIN" import "$TAR" bench/app:v1 --root "$SHM/inplace" --import-mode in-place >/dev/null || die "import in place"
"$BIN" import "$TAR" bench/app:v1 --root "$SHM/copy" --import-mode copy >/dev/null || die "import copy"
# the layers (over 1 MiB), smallest first: digest, offset in the tarball, length
mapfile -t LAYERS < <(python3 - "$SHM/inplace" <<'PY'
import glob, json, sys
recs = [json.loads(open(p).readline()) for p in glob.glob(sys.argv[1] + "/inplace/sha256/*")]
for r in sorted(recs, key=lambda r: r["len"]):
    if r["len"] > 1 << 20:
        print(r["digest"], r["off"], r["len"])
PY
)
[ "${#LAYERS[@]}" = 2 ] || die "expected two layers in place, got ${#LAYERS[@]}"
for i in 0 1; do
	read -r d _ _ <<<"${LAYERS[$i]}"
	f=$(find "$SHM/copy" -type f -name "${d#sha256:}" | head -1)
	[ -n "$f" ] || die "no copied blob $d"
	ln -s "$f" "$WWW/store$i"
	cp "$f" "$WWW/aligned$i" && chmod 644 "$WWW/aligned$i" && cat "$WWW/aligned$i" >/dev/null
done
chmod -R a+rX "$SHM"

port() { "$BH" freeport; }
PH_IN=$(port) PH_ST=$(port) NG=$(port)
"${SRV[@]}" "$BIN" serve --listen "127.0.0.1:$PH_IN" --root "$SHM/inplace" --log-level error ${BENCH_SERVE_ARGS:-} >"$TMP/in.log" 2>&1 &
PID_IN=$!
"${SRV[@]}" "$BIN" serve --listen "127.0.0.1:$PH_ST" --root "$SHM/copy" --log-level error ${BENCH_SERVE_ARGS:-} >"$TMP/st.log" 2>&1 &
PID_ST=$!
bench_nginx "$TMP/ng" "$NG" "$WWW"
PID_NG=$NGINX_PID
PIDS+=("$PID_IN" "$PID_ST" "$PID_NG")
for _ in $(seq 100); do
	curl -fs -o /dev/null "http://127.0.0.1:$PH_IN/v2/" && curl -fs -o /dev/null "http://127.0.0.1:$PH_ST/v2/" &&
		curl -fs -o /dev/null -r 0-0 "http://127.0.0.1:$NG/img.tar" && break
	sleep 0.05
done
sleep 0.2
NG_W=""; read -r NG_W _ <"/proc/$PID_NG/task/$PID_NG/children"
[ -n "$NG_W" ] || die "nginx did not start: $(cat "$TMP/ng/logs/stderr")"

# the bytes are right before anything is timed
for i in 0 1; do
	read -r d off len <<<"${LAYERS[$i]}"
	for u in "$PH_IN/v2/bench/app/blobs/$d" "$PH_ST/v2/bench/app/blobs/$d" "$NG/store$i" "$NG/aligned$i"; do
		[ "$(curl -fsS "http://127.0.0.1:$u" | sha256sum | cut -d' ' -f1)" = "${d#sha256:}" ] ||
			die "wrong bytes from $u"
	done
	[ "$(curl -fsS -r "$off-$((off + len - 1))" "http://127.0.0.1:$NG/img.tar" | sha256sum | cut -d' ' -f1)" = \
		"${d#sha256:}" ] || die "wrong bytes from nginx's range of the tarball"
done

schedns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
declare -A MIBS SCPU CCPU SEGS
# one KIND LAYER CLIENTS: one measured GET (per client), its figures appended
one() {
	local kind=$1 i=$2 cl=$3 d off len pid url range=- c0 c1 out
	read -r d off len <<<"${LAYERS[$i]}"
	case $kind in
	ph_in) pid=$PID_IN url="$PH_IN /v2/bench/app/blobs/$d" ;;
	ng_tar) pid=$NG_W url="$NG /img.tar" range="$off-$((off + len - 1))" ;;
	ph_st) pid=$PID_ST url="$PH_ST /v2/bench/app/blobs/$d" ;;
	ng_st) pid=$NG_W url="$NG /store$i" ;;
	ng_al) pid=$NG_W url="$NG /aligned$i" ;;
	esac
	c0=$(schedns "$pid")
	# shellcheck disable=SC2086 # url is PORT PATH
	out=$("${CLI[@]}" "$BH" blob 1 $url "$range" "$cl") || die "$kind GET failed"
	c1=$(schedns "$pid")
	read -r mibs _ _ ccpu segs <<<"$out"
	local k=$kind,$i,$cl
	MIBS[$k]+=" $mibs" CCPU[$k]+=" $ccpu" SEGS[$k]+=" $segs"
	SCPU[$k]+=" $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')"
}
curl_one() { # KIND: the big layer with curl
	local d off len v
	read -r d off len <<<"${LAYERS[1]}"
	if [ "$1" = ph_in ]; then
		v=$("${CLI[@]}" curl -fsS -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$PH_IN/v2/bench/app/blobs/$d")
	else
		v=$("${CLI[@]}" curl -fsS -o /dev/null -w '%{speed_download}' -r "$off-$((off + len - 1))" \
			"http://127.0.0.1:$NG/img.tar")
	fi || die "curl $1 failed"
	MIBS[curl,$1]+=" $(awk -v b="$v" 'BEGIN { printf "%.0f", b / 1048576 }')"
}

KINDS=(ph_in ng_tar ph_st ng_st ng_al)
say "bench: $N rounds, interleaved; load $(loadavg)"
for ((r = 0; r < N; r++)); do
	order=("${KINDS[@]}")
	((r % 2)) && order=(ng_al ng_st ph_st ng_tar ph_in)
	for i in 0 1; do
		for cl in 1 "$CONC"; do
			for k in "${order[@]}"; do one "$k" "$i" "$cl"; done
		done
	done
	if ((r % 2)); then curl_one ng_tar; curl_one ph_in; else curl_one ph_in; curl_one ng_tar; fi
done

med() { median <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo "bench-blobget: median of $N interleaved GETs each, one GET per connection; $(nproc) CPUs," \
	"servers on CPU 0, clients on CPU 1; load $(loadavg)"
echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (1 worker, sendfile, tcp_nopush), benchhelper client" \
	"(1 MiB recv into a buffer) unless marked curl"
printf '%-34s %9s %9s %7s   %-15s %-15s %-13s\n' "" packhelper nginx ratio "server CPU ms" "client CPU ms" "data segs"
row() { # LABEL PH NG LAYER CLIENTS
	local a=$2,$4,$5 b=$3,$4,$5 pm nm
	pm=$(med "${MIBS[$a]}") nm=$(med "${MIBS[$b]}")
	printf '%-34s %9s %9s %7s   %6s / %-6s %6s / %-6s %6s / %s\n' "$1" "$pm" "$nm" "$(ratio "$pm" "$nm")" \
		"$(med "${SCPU[$a]}")" "$(med "${SCPU[$b]}")" "$(med "${CCPU[$a]}")" "$(med "${CCPU[$b]}")" \
		"$(med "${SEGS[$a]}")" "$(med "${SEGS[$b]}")"
	say "  $1: packhelper${MIBS[$a]} / nginx${MIBS[$b]}"
}
for i in 0 1; do
	mib=$(($(cut -d' ' -f3 <<<"${LAYERS[$i]}") >> 20))
	for cl in 1 "$CONC"; do
		row "$mib MiB in place / tarball, ${cl}c" ph_in ng_tar "$i" "$cl"
		row "$mib MiB store / store file, ${cl}c" ph_st ng_st "$i" "$cl"
		row "$mib MiB nginx: tarball / aligned, ${cl}c" ng_tar ng_al "$i" "$cl"
	done
done
pm=$(med "${MIBS[curl,ph_in]}") nm=$(med "${MIBS[curl,ng_tar]}")
printf '%-34s %9s %9s %7s\n' "$BIG MiB in place / tarball, curl" "$pm" "$nm" "$(ratio "$pm" "$nm")"
say "  curl: packhelper${MIBS[curl,ph_in]} / nginx${MIBS[curl,ng_tar]}"
