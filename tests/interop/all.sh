#!/usr/bin/env bash
# tests/interop/all.sh REGISTRY: every client round trip against one registry.
# Prints "interop: N passed, N failed" (one per client script).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
reg=$1
passed=0 failed=0
for client in docker crane skopeo regctl oras; do
  if "$here/$client.sh" "$reg"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "interop: $client FAILED" >&2
  fi
done
echo "interop: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
