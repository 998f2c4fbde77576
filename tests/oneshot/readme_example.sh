#!/usr/bin/env bash
# tests/oneshot/readme_example.sh: the README's Python host helper, run as
# written against a FROM-scratch image; it must return a port that serves the
# image and a digest that the registry agrees with.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init readme_example
id=phreadme$RAND
tmp=$WORK
ph_cleanup "docker rm -f '$id'" # the README's helper names the container, unlabelled

ph_require "docker build" ph_build_image "$id/src:v1" 292

# the README's code block, and a call of it in place of its example call
python3 - "$PH_ROOT/README.md" > "$tmp/example.py" <<'PY'
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
ph_true "the README's Python helper runs (exit $rc)" test $rc -eq 0
ph_true "its ready digest is what the registry serves" grep -q '^served sha256:' <<<"$out"
ph_true "stop() removed the container" test -z "$(docker ps -aq -f name="^$id\$")"
ph_finish
