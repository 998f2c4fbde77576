#!/usr/bin/env bash
# tests/with-server.sh BINARY SCRIPT [ARGS...]   (env PACKHELPER_SERVE_ARGS: serve options)
# Start BINARY serve on a free loopback port with a fresh store, run
# SCRIPT HOST:PORT ARGS..., stop the server, and fail if either failed or the
# server did not stop cleanly on SIGTERM.
set -euo pipefail
bin=$1; shift
script=$1; shift
root=$(mktemp -d /tmp/ph-store.XXXXXX)
log=$(mktemp /tmp/ph-log.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# PACKHELPER_SERVE_ARGS: more serve options (word-split), e.g. --allow-sparse
# shellcheck disable=SC2086
"$bin" serve --listen "127.0.0.1:$port" --root "$root" ${PACKHELPER_SERVE_ARGS:-} >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break
  sleep 0.05
done
rc=0
"$script" "127.0.0.1:$port" "$@" || rc=$?
kill -TERM "$pid"
if ! wait "$pid"; then
  echo "with-server: $bin exited non-zero after SIGTERM; last log lines:" >&2
  tail -20 "$log" >&2
  rc=1
fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
  echo "with-server: sanitizer report in the server log:" >&2
  grep -A30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" | head -60 >&2
  rc=1
fi
rm -f "$log"
exit $rc
