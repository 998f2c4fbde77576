#!/usr/bin/env bash
# tests/copy/all.sh - every copy test (packhelper copy): runs the scripts in
# turn and prints "copy: N passed, N failed" (checks, summed over the
# scripts). Exit non-zero if any check failed or a script died. About 4
# minutes.
#   tests/copy/all.sh [SCRIPT...]     (default: all of them)
# Needs root (like tests/push), docker-registry, jq, python3 and the Go tools
# from mk/tools.sh (crane builds the test images: no docker daemon).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
ct_init all
PH_NAME=copy
scripts=("$@")
((${#scripts[@]})) || scripts=(registries mount many faults origins)
for s in "${scripts[@]}"; do
  ph_suite_script "${s%.sh}.sh" "$here/${s%.sh}.sh"
done
ph_log "total: $SECONDS s"
ph_finish
