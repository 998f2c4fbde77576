#!/usr/bin/env bash
# tests/bench/ranges.sh BINARY - ranged blob GETs, packhelper against nginx, same run.
#
# One random blob of BENCH_RANGES_MIB MiB (default 128) is pushed into packhelper
# and served by nginx (1 worker, sendfile on, as tests/bench/run.sh configures it)
# from a hard link of the same bytes at the same path. Then, interleaved, BENCH_N
# (default 7) GETs per server of each of
#   single:  Range: bytes=0-          (one range: 206 with Content-Range)
#   multi16: Range: 16 ranges covering the blob (206 multipart/byteranges)
#   whole:   no Range                 (200; for reference)
# with curl (pinned to CPU 1; the servers to CPU 0), one GET per connection.
# Each answer is checked (status, length; single: sha256; multi16: the parts
# split and compared byte-exact for the first GET) and the median MiB/s and
# server CPU ms per GET are printed with the ratios packhelper/nginx.
# About a minute. Exit 0 whatever the figures; non-zero if a server failed.
set -uo pipefail
[ $# -eq 1 ] && [ -x "$1" ] || { echo "usage: $0 BINARY" >&2; exit 2; }
BIN=$(realpath "$1")
MIB=${BENCH_RANGES_MIB:-128}
N=${BENCH_N:-7}
export PATH="$PATH:/usr/sbin:/sbin"
NGINX=$(command -v nginx) || { echo "bench: nginx missing (apt-get install nginx-light)" >&2; exit 1; }
BENCH_NAME=bench-ranges
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
if [ "$(nproc)" -ge 2 ]; then SRV=(taskset -c 0) CLI=(taskset -c 1); else SRV=() CLI=(); fi

TMP=$(mktemp -d /tmp/ph-bench-ranges.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
freeport() { python3 "$(dirname "$0")/../e2e/phtest.py" port; }
cpu_ms() { # PID...: user+sys CPU of the processes, ms
	local t=0 p f
	for p in "$@"; do
		f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + ${f% *} + ${f#* }))
	done
	echo $((t * 1000 / $(getconf CLK_TCK)))
}
wait_up() { for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$1/v2/" && return 0; sleep 0.05; done; return 1; }

head -c $((MIB << 20)) /dev/urandom >"$TMP/blob"
SIZE=$(stat -c %s "$TMP/blob")
HEX=$(sha256sum "$TMP/blob" | cut -d' ' -f1)
D=sha256:$HEX
P=/v2/bench/ranges/blobs/$D

PH_PORT=$(freeport)
cp "$BIN" "$TMP/packhelper"
"${SRV[@]}" "$TMP/packhelper" serve --listen "127.0.0.1:$PH_PORT" --root "$TMP/store" --log-level warn \
	>"$TMP/ph.log" 2>&1 &
PH_PID=$!
PIDS+=("$PH_PID")
wait_up "$PH_PORT" || die "packhelper did not start: $(tail -3 "$TMP/ph.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
	--data-binary @"$TMP/blob" "http://127.0.0.1:$PH_PORT/v2/bench/ranges/blobs/uploads/?digest=$D")
[ "$code" = 201 ] || die "push to packhelper: HTTP $code"

NG_PORT=$(freeport)
mkdir -p "$TMP/www/v2/bench/ranges/blobs" "$TMP/ng/logs"
ln "$TMP/blob" "$TMP/www$P" 2>/dev/null || cp "$TMP/blob" "$TMP/www$P"
printf '{}' >"$TMP/www/v2/index.html"
chmod -R a+rX "$TMP"
bench_nginx "$TMP/ng" "$NG_PORT" "$TMP/www"
NG_PID=$NGINX_PID
PIDS+=("$NG_PID")
wait_up "$NG_PORT" || die "nginx did not start"
sleep 0.2
NG_PIDS="$NG_PID $(cat "/proc/$NG_PID/task/$NG_PID/children" 2>/dev/null)"

# 16 ranges covering the blob, in order
step=$((SIZE / 16))
MULTI=bytes=
for i in $(seq 0 15); do
	a=$((i * step))
	b=$(((i + 1) * step - 1))
	[ "$i" = 15 ] && b=$((SIZE - 1))
	MULTI+="${MULTI:+$([ "$i" = 0 ] || echo ,)}$a-$b"
done
MULTI=${MULTI/=,/=}
declare -A RANGE=([single]="bytes=0-" [multi16]="$MULTI" [whole]="")
declare -A WANT=([single]=206 [multi16]=206 [whole]=200)

# verify SERVER PORT: the answers are right before anything is timed
verify() {
	local name=$1 port=$2 hdr=$TMP/h.$1
	curl -fsS -H "Range: bytes=0-" -o "$TMP/out" "http://127.0.0.1:$port$P" || die "$name single"
	[ "$(sha256sum <"$TMP/out" | cut -d' ' -f1)" = "$HEX" ] || die "$name: single range bytes differ"
	curl -fsS -D "$hdr" -H "Range: $MULTI" -o "$TMP/out" "http://127.0.0.1:$port$P" || die "$name multi"
	python3 - "$hdr" "$TMP/out" "$TMP/blob" <<'EOF' || die "$name: multipart body differs"
import re, sys
head = open(sys.argv[1], "rb").read().decode("latin-1")
body, blob = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
b = re.search(r"boundary=([^\r\n;]+)", head).group(1).encode()
n = 0
for part in body.split(b"--" + b)[1:-1]:
    h, _, data = part.partition(b"\r\n\r\n")
    a, z = (int(x) for x in re.search(rb"bytes (\d+)-(\d+)/", h).groups())
    assert data[:-2] == blob[a:z + 1] and data[-2:] == b"\r\n", (a, z)
    n += 1
assert n == 16, n
EOF
}
verify packhelper "$PH_PORT"
verify nginx "$NG_PORT"

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
declare -A SPEED CPU
say "ranges bench: $MIB MiB blob, $N GETs per server and kind, interleaved; load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < N; r++)); do
	for k in single multi16 whole; do
		for s in ph ng; do
			if [ $s = ph ]; then port=$PH_PORT pids=$PH_PID; else port=$NG_PORT pids=$NG_PIDS; fi
			c0=$(cpu_ms $pids)
			out=$("${CLI[@]}" curl -sS -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' \
				${RANGE[$k]:+-H "Range: ${RANGE[$k]}"} "http://127.0.0.1:$port$P") || die "$s $k GET"
			c1=$(cpu_ms $pids)
			read -r code bytes speed <<<"$out"
			[ "$code" = "${WANT[$k]}" ] || die "$s $k: HTTP $code"
			[ "$bytes" -ge "$SIZE" ] || die "$s $k: $bytes bytes"
			SPEED[$k,$s]+=" $(awk -v b="$speed" 'BEGIN {printf "%.0f", b / 1048576}')"
			CPU[$k,$s]+=" $((c1 - c0))"
		done
	done
done
printf '%-34s %14s %14s %8s\n' "GET of $MIB MiB, median of $N" packhelper "nginx 1w" ratio
for k in single multi16 whole; do
	ph=$(median <<<"${SPEED[$k,ph]}") ng=$(median <<<"${SPEED[$k,ng]}")
	pc=$(median <<<"${CPU[$k,ph]}") nc=$(median <<<"${CPU[$k,ng]}")
	printf '%-34s %9s MiB/s %9s MiB/s %7sx\n' "$k (${RANGE[$k]:0:20}${RANGE[$k]:+...})" "$ph" "$ng" \
		"$(awk -v a="$ph" -v b="$ng" 'BEGIN {printf "%.2f", a / b}')"
	printf '%-34s %11s ms %11s ms\n' "  server CPU per GET" "$pc" "$nc"
	say "  $k runs MiB/s: packhelper${SPEED[$k,ph]} / nginx${SPEED[$k,ng]}"
done
echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), curl $(curl --version | head -1 | cut -d' ' -f2)"
