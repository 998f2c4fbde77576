#!/usr/bin/env bash
# tests/push/all.sh - every pusher test (packhelper push). Builds the test
# image once (3 FROM-scratch layers of random data, ~22 MiB, docker save) and
# hands it to each script in PT_IMAGE_*; runs them in turn and prints
# "push: N passed, N failed" (checks, summed over the scripts). Exit non-zero
# if any check failed or a script died. About 2 minutes.
#   tests/push/all.sh [SCRIPT...]     (default: all of them)
# Needs root (docker, /etc/hosts), the Docker daemon, docker-registry,
# openssl, htpasswd, jq, python3 and the Go tools from mk/tools.sh.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
pt_init all
scripts=("$@")
((${#scripts[@]})) || scripts=(registries tags tls auth origins deadline faults errors sources)

export PT_IMAGE_TAG=push-test-$RAND/image:src PT_IMAGE_TAR=$WORK/image.tar
if ! pt_build_image "$PT_IMAGE_TAG" "$PT_IMAGE_TAR" "${PT_LAYERS_KIB[@]}"; then
  echo "not ok - build the test image"
  echo "push: 0 passed, 1 failed"
  exit 1
fi
pt_cleanup "docker rmi -f $(docker image inspect -f '{{.Id}}' "$PT_IMAGE_TAG")"

passed=0 failed=0 t0=$SECONDS
for s in "${scripts[@]}"; do
  s=${s%.sh}
  st=$SECONDS
  "$here/$s.sh" >"$WORK/$s.out" 2>"$WORK/$s.err"
  rc=$?
  cat "$WORK/$s.out"
  tail -n 40 "$WORK/$s.err" >&2
  line=$(grep -E "^$s: [0-9]+ passed, [0-9]+ failed$" "$WORK/$s.out" | tail -n1)
  if [[ -z $line ]]; then
    echo "not ok - $s.sh died (exit $rc) before its summary line"
    failed=$((failed + 1))
    continue
  fi
  read -r _ p _ f _ <<<"$line"
  passed=$((passed + p)) failed=$((failed + f))
  if [[ $rc -ne 0 && $f -eq 0 ]]; then
    echo "not ok - $s.sh exited $rc with no failed check"
    failed=$((failed + 1))
  fi
  pt_log "$s.sh: $((SECONDS - st)) s"
done
pt_log "total: $((SECONDS - t0)) s"
echo "push: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
