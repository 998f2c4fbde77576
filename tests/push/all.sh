#!/usr/bin/env bash
# tests/push/all.sh - every pusher test (packhelper push). Builds the test
# image once (3 FROM-scratch layers of random data, ~22 MiB, docker save) and
# hands it to each script in PT_IMAGE_*; runs them in turn and prints
# "push: N passed, N failed" (checks, summed over the scripts). Exit non-zero
# if any check failed or a script died. About 3 minutes.
#   tests/push/all.sh [SCRIPT...]     (default: all of them)
# Needs root (docker, /etc/hosts), the Docker daemon, docker-registry,
# openssl, htpasswd, jq, python3 and the Go tools from mk/tools.sh.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
pt_init all
PH_NAME=push
scripts=("$@")
((${#scripts[@]})) || scripts=(registries tags tls auth credhelpers origins deadline faults errors sources)

export PT_IMAGE_TAG=push-test-$RAND/image:src PT_IMAGE_TAR=$WORK/image.tar
ph_require "build the test image" pt_build_image "$PT_IMAGE_TAG" "$PT_IMAGE_TAR"

for s in "${scripts[@]}"; do
  ph_suite_script "${s%.sh}.sh" "$here/${s%.sh}.sh"
done
ph_log "total: $SECONDS s"
ph_finish
