#!/usr/bin/env bash
# tests/oneshot/readme_example.sh: the README's Python host helper, run as
# written against a FROM-scratch image; it must return a port that serves the
# image and a digest that the registry agrees with.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
id=phreadme$$$RANDOM
tmp=$(mktemp -d /tmp/$id.XXXXXX)
passed=0 failed=0
check() { local what=$1; shift; if "$@"; then echo "ok - $what"; passed=$((passed + 1)); else echo "not ok - $what"; failed=$((failed + 1)); fi; }
cleanup() { docker rm -f "$id" >/dev/null 2>&1; docker rmi -f "$id/src:v1" >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT

head -c 300000 /dev/urandom > "$tmp/l1"
printf 'FROM scratch\nCOPY l1 /l1\n' > "$tmp/Dockerfile"
docker build -q -t "$id/src:v1" "$tmp" >/dev/null 2>&1 || { echo "not ok - docker build"; echo "oneshot: 0 passed, 1 failed"; exit 1; }

# the README's code block, and a call of it in place of its example call
python3 - "$ROOT/README.md" > "$tmp/example.py" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
code = re.search(r"```python\n(.*?)```", src, re.S).group(1)
code = code.split("\nport, digest, stop = ")[0]
print(code)
PY
cat >> "$tmp/example.py" <<PY
import sys, urllib.request
port, digest, stop = ephemeral_registry("$id/src:v1", "agent:latest", "$id")
req = urllib.request.Request("http://127.0.0.1:%d/v2/agent/manifests/latest" % port,
                             headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
with urllib.request.urlopen(req, timeout=10) as r:
    served = r.headers["Docker-Content-Digest"]
stop()
print("served", served, "ready", digest)
sys.exit(0 if served == digest else 1)
PY
out=$(timeout 120 python3 "$tmp/example.py" 2>"$tmp/err")
rc=$?
check "the README's Python helper runs (exit $rc)" test $rc -eq 0
check "its ready digest is what the registry serves" grep -q '^served sha256:' <<<"$out"
check "stop() removed the container" test -z "$(docker ps -aq -f name="^$id\$")"
echo "oneshot: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
