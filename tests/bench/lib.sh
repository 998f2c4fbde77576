# tests/bench/lib.sh - what the client benchmarks (push.sh, copy.sh) share on
# top of tests/lib.sh: messages, the clock, medians, and the target registry
# each run writes to, started afresh with empty storage.
#
# Source it with BENCH_NAME set ("bench-push"); it reads BENCH_TARGET
# (docker-registry, the default, or packhelper) into TARGET and TARGET_NAME.
# bench_target_start needs WORK (ph_init) and PH (the packhelper that serves,
# for BENCH_TARGET=packhelper).
# shellcheck shell=bash disable=SC2034  # variables set here are for the caller
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

TARGET=${BENCH_TARGET:-docker-registry}
[[ $TARGET == docker-registry || $TARGET == packhelper ]] || { echo "BENCH_TARGET: docker-registry or packhelper" >&2; exit 2; }
TARGET_NAME=$([[ $TARGET == packhelper ]] && echo "packhelper serve" || echo "docker-registry 2.8")

say() { printf '%s\n' "$*" >&2; }
die() { say "$BENCH_NAME: ERROR: $*"; exit 1; }
now_ns() { date +%s%N; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# median < "1.2 0.9 1.4" -> 1.2
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# bench_nginx DIR PORT ROOT: nginx with one worker at its best for static
# files (sendfile, tcp_nopush, tcp_nodelay, open_file_cache) serving ROOT on
# 127.0.0.1:PORT, its conf and logs in DIR, started in the background under the
# caller's SRV prefix (CPU pinning); sets NGINX_PID
bench_nginx() {
  local d=$1 port=$2 root=$3 user=""
  mkdir -p "$d/logs"
  [ "$(id -u)" = 0 ] && user="user $(id -un) $(id -gn);"
  cat >"$d/nginx.conf" <<EOF
$user
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000;
    open_file_cache max=64 inactive=60s;
    server_tokens off;
    types { }
    default_type application/octet-stream;
    server { listen 127.0.0.1:$port; root $root; }
}
EOF
  "${SRV[@]}" "${NGINX:-nginx}" -c "$d/nginx.conf" -p "$d" -g 'daemon off;' >"$d/logs/stderr" 2>&1 &
  NGINX_PID=$!
}

# bench_rounds REPS NAME...: REPS rounds of the caller's run_one NAME (which
# sets RUN_T), each round starting with the next name, so that no tool always
# runs first; each run's seconds are appended to the caller's TIMES[NAME]
bench_rounds() {
  local reps=$1 r k n
  shift
  for ((r = 1; r <= reps; r++)); do
    for ((k = 0; k < $#; k++)); do
      n=${*:(k + r - 1) % $# + 1:1}
      run_one "$n" || exit 1
      TIMES[$n]+="$RUN_T "
      say "  round $r: $n ${RUN_T}s [load $(loadavg)]"
    done
  done
}

# bench_target_start: a fresh target on a free port (PORT; TARGET_PID), its
# storage $WORK/store, its log $WORK/target.log; dies if it does not start
bench_target_start() {
  rm -rf "$WORK/store" "$WORK/target.log"
  if [[ $TARGET == packhelper ]]; then
    PH_SERVE_ROOT=$WORK/store ph_serve_start target --log-level warn && TARGET_PID=$PID && return 0
  else
    ph_spawn target bench__dist && TARGET_PID=$PID && return 0
  fi
  die "$TARGET did not start: $(tail -n2 "$WORK/target.log")"
}
# the quietest docker-registry: errors only, no access log, on $PORT
bench__dist() {
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n' >"$WORK/target.yml"
  printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' "$WORK/store" >>"$WORK/target.yml"
  printf 'http:\n  addr: 127.0.0.1:%s\n  secret: %s\n' "$PORT" "$RAND" >>"$WORK/target.yml"
  exec docker-registry serve "$WORK/target.yml"
}
bench_target_stop() {
  kill "$TARGET_PID" 2>/dev/null
  wait "$TARGET_PID" 2>/dev/null
  rm -rf "$WORK/store"
}
