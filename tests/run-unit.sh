#!/usr/bin/env bash
# tests/run-unit.sh BIN... : run each unit test binary, sum their "N passed, N failed" lines
# into "unit: N passed, N failed" (PH_SUITE_PREFIX before the name: "arm64-unit", tests/arm64.sh).
set -uo pipefail
passed=0 failed=0 rc=0
for b in "$@"; do
  out=$("$b") || rc=1
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
  if [[ -z $line ]]; then echo "$b: no summary line" >&2; rc=1; continue; fi
  p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f))
done
echo "${PH_SUITE_PREFIX:-}unit: $passed passed, $failed failed"
[[ $# -gt 0 && $failed -eq 0 && $rc -eq 0 ]]
