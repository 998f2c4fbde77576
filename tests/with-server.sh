#!/usr/bin/env bash
# tests/with-server.sh BINARY SCRIPT [ARGS...]   (env PACKHELPER_SERVE_ARGS: serve options)
# Start BINARY serve on a free loopback port with a fresh store (tests/lib.sh's
# ph_serve_start), run SCRIPT HOST:PORT ARGS..., stop the server, and fail if
# either failed, the server did not stop cleanly on SIGTERM, or its log holds
# a sanitizer report.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PH=$1
export PACKHELPER=$PH # SCRIPT's own servers and imports (tests/lib.sh's PH) use the same binary
script=$2
shift 2
ph_init with-server
# PACKHELPER_SERVE_ARGS: more serve options (word-split), e.g. --allow-sparse
# shellcheck disable=SC2086
ph_serve_start server ${PACKHELPER_SERVE_ARGS:-} || exit 1
rc=0
"$script" "127.0.0.1:$PORT" "$@" || rc=$?
ph_serve_stop server || rc=1
exit $rc
