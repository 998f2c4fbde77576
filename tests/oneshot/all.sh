#!/usr/bin/env bash
# tests/oneshot/all.sh - the one-shot container tests, against real docker.
#
#   tests/oneshot/all.sh            make image, then every script below
#   ONESHOT_NO_MAKE=1 tests/oneshot/all.sh   test the image as it is
#   PACKHELPER_IMAGE=ref ...        test another image (default bot-bottle/packhelper:latest)
#
# Each script prints ok/not ok lines and "oneshot: N passed, N failed"; this
# runner (tests/lib.sh's ph_suite_script) shows each script's count as a
# comment and prints the total last. Every docker object a script makes
# carries a random suffix and is removed by the script's EXIT trap.
# (measure.sh is not a test: run it by hand.)
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ph_init oneshot oneshot-all
IMG=${PACKHELPER_IMAGE:-bot-bottle/packhelper:latest}
SCRIPTS=(mounted inplace stdin socket layouts readiness bad stop compose two_container readme_example)

if [[ -z ${ONESHOT_NO_MAKE:-} && -z ${PACKHELPER_IMAGE:-} ]]; then
  if ! make -C "$PH_ROOT" image >/dev/null 2>"$WORK/make.log"; then
    ph_not_ok "make image"
    sed 's/^/#   /' "$WORK/make.log" | tail -n 20
    ph_finish
    exit 1
  fi
fi
ph_log "image $IMG: $(docker image inspect -f '{{.Id}} version {{index .Config.Labels "org.opencontainers.image.version"}}' "$IMG" 2>&1)"

for s in "${SCRIPTS[@]}"; do
  ph_suite_script "$s.sh" "$PH_LIB/oneshot/$s.sh"
done
ph_log "all: $SECONDS s"
ph_finish
