#!/usr/bin/env bash
# tests/oneshot/all.sh - the one-shot container tests, against real docker.
#
#   tests/oneshot/all.sh            make image, then every script below
#   ONESHOT_NO_MAKE=1 tests/oneshot/all.sh   test the image as it is
#   PACKHELPER_IMAGE=ref ...        test another image (default bot-bottle/packhelper:latest)
#
# Each script prints ok/not ok lines and "oneshot: N passed, N failed"; this
# runner prints each script's count as a comment and the total last. Every
# docker object a script makes carries a random suffix and is removed by the
# script's EXIT trap. (measure.sh is not a test: run it by hand.)
set -uo pipefail
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$DIR/../.." && pwd)
IMG=${PACKHELPER_IMAGE:-bot-bottle/packhelper:latest}
SCRIPTS=(mounted stdin socket layouts readiness bad stop compose two_container readme_example)

if [[ -z ${ONESHOT_NO_MAKE:-} && -z ${PACKHELPER_IMAGE:-} ]]; then
  if ! make -C "$ROOT" image >/dev/null 2>"${TMPDIR:-/tmp}/oneshot-make.$$"; then
    echo "not ok - make image"
    sed 's/^/#   /' "${TMPDIR:-/tmp}/oneshot-make.$$" | tail -n 20
    rm -f "${TMPDIR:-/tmp}/oneshot-make.$$"
    echo "oneshot: 0 passed, 1 failed"
    exit 1
  fi
  rm -f "${TMPDIR:-/tmp}/oneshot-make.$$"
fi
echo "# image $IMG: $(docker image inspect -f '{{.Id}} version {{index .Config.Labels "org.opencontainers.image.version"}}' "$IMG" 2>&1)"

PASS=0
FAIL=0
T0=$SECONDS
for s in "${SCRIPTS[@]}"; do
  t=$SECONDS
  summary=
  while IFS= read -r line; do
    if [[ $line =~ ^oneshot:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
      summary=$line
      PASS=$((PASS + BASH_REMATCH[1]))
      FAIL=$((FAIL + BASH_REMATCH[2]))
    else
      printf '%s\n' "$line"
    fi
  done < <("$DIR/$s.sh" 2>&1)
  if [[ -z $summary ]]; then
    echo "not ok - $s.sh ended without a summary line"
    FAIL=$((FAIL + 1))
  fi
  echo "# $s.sh: ${summary#oneshot: } ($((SECONDS - t)) s)"
done
echo "# all: $((SECONDS - T0)) s"
echo "oneshot: $PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
