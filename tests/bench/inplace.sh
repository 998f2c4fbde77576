#!/usr/bin/env bash
# tests/bench/inplace.sh BINARY - importing a docker-save tarball: served in place against copied,
# against one single-threaded SHA-256 pass over the same file (openssl dgst -sha256), all in one run.
#
#   1. a BENCH_MIB (300) MiB docker-save tarball of BENCH_LAYERS (3) random layers, in the page
#      cache (read once first), on /tmp; stores on /dev/shm (tmpfs, as --tmpfs gives a container);
#   2. wall time, median of BENCH_RUNS (3), fresh store each run, of:
#        openssl dgst -sha256 FILE                                  the floor: one SHA-NI pass
#        packhelper import --import-mode in-place FILE              verify on every core, copy nothing
#        packhelper import --import-mode copy FILE                  verify and copy, in parallel
#        cat FILE | packhelper import -                             the pipe: copied as it streams
#      printed with their ratio to the floor;
#   3. blob GET of the biggest layer, MiB/s (median of BENCH_RUNS + 2, interleaved): packhelper
#      serving it from the tarball in place against nginx (1 worker, sendfile) serving the same bytes
#      of the same file (a Range request), servers pinned to CPU 0 and the client to CPU 1 where
#      there are two; with benchhelper (1 MiB recv()s, dropped) and with curl, which on a busy
#      machine caps both servers alike (tests/bench/blobget.sh has the whole comparison);
#   4. RSS of `packhelper serve` after the in-place import of the tarball (ready line), and after
#      the copy import.
# Not a timed test: figures depend on the machine and its load (printed with them).
set -uo pipefail
BIN=${1:?usage: $0 BINARY}
MIB=${BENCH_MIB:-300}
LAYERS=${BENCH_LAYERS:-3}
RUNS=${BENCH_RUNS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_NAME=bench-inplace
# shellcheck source=lib.sh
. "$HERE/lib.sh"

command -v openssl >/dev/null || die "openssl is needed"
command -v nginx >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >&2 ||
	die "nginx is needed"
if [ "$(nproc)" -ge 2 ]; then SRV=(taskset -c 0); CLI=(taskset -c 1); else SRV=(); CLI=(); fi

TMP=$(mktemp -d /tmp/ph-bench-inplace.XXXXXX)
SHM=$(mktemp -d /dev/shm/ph-bench-inplace.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP" "$SHM"
}
trap cleanup EXIT
cp "$BIN" "$TMP/packhelper" && BIN=$TMP/packhelper
TAR=$TMP/img.tar

say "bench: making a $MIB MiB docker-save tarball ($LAYERS layers)"
python3 - "$HERE/../e2e" "$TAR" "$MIB" "$LAYERS" <<'PY' || die "cannot make the tarball"
import sys
sys.path.insert(0, sys.argv[1])
from test_inplace import docker_save_legacy
mib, n = int(sys.argv[3]), int(sys.argv[4])
sizes = [(mib << 20) // n] * n
docker_save_legacy(sys.argv[2], "bench/app:v1", sizes=sizes)
PY
chmod 644 "$TAR"
cat "$TAR" >/dev/null

secs() { # CMD...: wall seconds of one run
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; die "failed: $*"; }
	t1=$(now_ns)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}
fresh() { rm -rf "$SHM/store"; }
imp_inplace() { "$BIN" import "$TAR" bench/app:v1 --root "$SHM/store" --import-mode in-place; }
imp_copy() { "$BIN" import "$TAR" bench/app:v1 --root "$SHM/store" --import-mode copy; }
imp_pipe() { cat "$TAR" | "$BIN" import - bench/app:v1 --root "$SHM/store"; }

declare -A T
for what in openssl inplace copy pipe; do
	v=""
	for _ in $(seq "$RUNS"); do
		fresh # outside the time: freeing 300 MiB of tmpfs takes a while
		case $what in
		openssl) v+=" $(secs openssl dgst -sha256 "$TAR")" ;;
		inplace) v+=" $(secs imp_inplace)" ;;
		copy) v+=" $(secs imp_copy)" ;;
		pipe) v+=" $(secs imp_pipe)" ;;
		esac
	done
	T[$what]=$(echo "$v" | median)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

# ---- blob GET: packhelper in place vs nginx, same bytes of the same file (linked before the
# import: a new link moves the file's ctime, and packhelper would rightly refuse it after)
WWW=$TMP/www
mkdir -p "$WWW" "$TMP/ng/logs"
ln "$TAR" "$WWW/img.tar"
fresh
"$BIN" import "$TAR" bench/app:v1 --root "$SHM/store" --import-mode in-place >/dev/null || die "import"
read -r LAYER OFF LEN < <(python3 - "$SHM/store" <<'PY'
import glob, json, sys
recs = [json.loads(open(p).readline()) for p in glob.glob(sys.argv[1] + "/inplace/sha256/*")]
r = max(recs, key=lambda r: r["len"])
print(r["digest"], r["off"], r["len"])
PY
)
PORT=$(python3 "$HERE/../e2e/phtest.py" port)
"${SRV[@]}" "$BIN" serve --listen "127.0.0.1:$PORT" --root "$SHM/store" --log-level error >"$TMP/serve.out" 2>&1 &
PIDS+=($!)
NG_PORT=$(python3 "$HERE/../e2e/phtest.py" port)
bench_nginx "$TMP/ng" "$NG_PORT" "$WWW"
PIDS+=("$NGINX_PID")
for _ in $(seq 100); do
	curl -fs -o /dev/null "http://127.0.0.1:$PORT/v2/" && curl -fs -o /dev/null -r 0-0 "http://127.0.0.1:$NG_PORT/img.tar" && break
	sleep 0.05
done
speed() { "${CLI[@]}" curl -fs -o /dev/null -w '%{speed_download}\n' "$@" | awk '{ printf "%.0f\n", $1 / 1048576 }'; }
BH=$TMP/benchhelper
gcc -O2 -Wall -o "$BH" "$HERE/benchhelper.c" || die "cannot build benchhelper.c"
bh() { "${CLI[@]}" "$BH" blob 1 "$@" | cut -d' ' -f1; }
ph=""; ng=""; phb=""; ngb=""
for _ in $(seq $((RUNS + 2))); do
	phb+=" $(bh "$PORT" "/v2/bench/app/blobs/$LAYER")"
	ngb+=" $(bh "$NG_PORT" /img.tar "$OFF-$((OFF + LEN - 1))")"
	ph+=" $(speed "http://127.0.0.1:$PORT/v2/bench/app/blobs/$LAYER")"
	ng+=" $(speed -r "$OFF-$((OFF + LEN - 1))" "http://127.0.0.1:$NG_PORT/img.tar")"
done
PH_GET=$(echo "$ph" | median)
NG_GET=$(echo "$ng" | median)
PH_GETB=$(echo "$phb" | median)
NG_GETB=$(echo "$ngb" | median)
say "  blob GET MiB/s, benchhelper: packhelper$phb / nginx$ngb; curl: packhelper$ph / nginx$ng"

# ---- RSS after the import, in place and copied
rss_after() { # MODE: VmRSS (KiB) of serve once ready, after importing the tarball
	local port log=$TMP/rss.out pid kib=""
	rm -rf "$SHM/rss"
	port=$(python3 "$HERE/../e2e/phtest.py" port)
	"$BIN" serve --listen "127.0.0.1:$port" --root "$SHM/rss" --import-mode "$1" \
		--import "$TAR=bench/app:v1" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 400); do grep -q '"ready":true' "$log" && break; sleep 0.05; done
	kib=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
	kill -TERM "$pid"; wait "$pid" 2>/dev/null
	echo "$kib"
}
RSS_IN=$(rss_after in-place)
RSS_CP=$(rss_after copy)

echo "bench-inplace: $MIB MiB docker-save tarball, $LAYERS layers, median of $RUNS, $(nproc) CPUs, load $(loadavg)"
printf '%-46s %8s s  %s\n' "openssl dgst -sha256 (one SHA pass, the floor)" "${T[openssl]}" "1.00x"
printf '%-46s %8s s  %s\n' "import --import-mode in-place" "${T[inplace]}" "$(ratio "${T[inplace]}" "${T[openssl]}")"
printf '%-46s %8s s  %s\n' "import --import-mode copy (store on tmpfs)" "${T[copy]}" "$(ratio "${T[copy]}" "${T[openssl]}")"
printf '%-46s %8s s  %s\n' "cat | import - (piped, copied)" "${T[pipe]}" "$(ratio "${T[pipe]}" "${T[openssl]}")"
printf '%-46s %8s MiB/s  nginx %s MiB/s  %s\n' "blob GET $((LEN >> 20)) MiB from the tarball" "$PH_GETB" "$NG_GETB" \
	"$(ratio "$PH_GETB" "$NG_GETB")"
printf '%-46s %8s MiB/s  nginx %s MiB/s  %s\n' "  the same with curl" "$PH_GET" "$NG_GET" \
	"$(ratio "$PH_GET" "$NG_GET")"
printf '%-46s %8s KiB  (copy: %s KiB)\n' "RSS of serve after the import, in place" "$RSS_IN" "$RSS_CP"
