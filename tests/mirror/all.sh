#!/usr/bin/env bash
# tests/mirror/all.sh - every test of the pull-through mirror (packhelper serve
# --mirror): runs the scripts in turn and prints "mirror: N passed, N failed"
# (checks, summed over the scripts). Exit non-zero if any check failed or a
# script died. About 2 minutes.
#   tests/mirror/all.sh [SCRIPT...]     (default: all of them)
# Needs root (docker, containerd's socket, /etc/hosts, a test dockerd: Docker
# 20.10's /usr/sbin/dockerd), docker-registry, jq, musl-gcc,
# python3 and the Go tools from mk/tools.sh.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
mt_init all
PH_NAME=mirror
scripts=("$@")
((${#scripts[@]})) || scripts=(pull faults creds clients dockerd)
for s in "${scripts[@]}"; do
  ph_suite_script "${s%.sh}.sh" "$here/${s%.sh}.sh"
done
ph_log "total: $SECONDS s"
ph_finish
