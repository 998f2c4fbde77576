#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/errors.sh - failures end in exactly one line on stderr, nothing on
# stdout, and the documented exit status: 1 for a failed push (broken source,
# unreachable registry, a blob the registry rejects), 2 for usage errors (bad
# REF syntax, bad options).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init errors
pt_image || { ph_finish; exit 1; }
pt_start_ph reg || { ph_finish; exit 1; }
REG=localhost:$PORT
repo=push-$RAND/errors

# ---- broken sources: exit 1, one line
size=$(stat -c %s "$IMG_TAR")
head -c $((size / 2)) "$IMG_TAR" >"$WORK/truncated.tar"
mark=$(ph_mark "$WORK/reg.log")
pt_push_fails "truncated tarball: exit 1, one line" 1 '^packhelper: push: .*[Tt]runcated' \
  "$WORK/truncated.tar" "$REG/$repo:trunc"
sleep 0.1
ph_nomatch "truncated tarball: nothing was sent to the registry" '"(POST|PUT|PATCH) ' "$(ph_since "$WORK/reg.log" "$mark")"
head -c 300 /dev/urandom >"$WORK/garbage.tar"
pt_push_fails "random bytes as SRC: exit 1, one line naming the file" 1 "^packhelper: push: .*garbage\.tar" \
  "$WORK/garbage.tar" "$REG/$repo:garbage"
pt_push_fails "missing SRC file: exit 1, one line naming the file" 1 "^packhelper: push: .*no-such-$RAND\.tar.*No such file" \
  "$WORK/no-such-$RAND.tar" "$REG/$repo:missing"
pt_push_fails "SRC#NAME naming no image in the tarball: exit 1, one line" 1 "^packhelper: push: .*none is nothere-$RAND" \
  "$IMG_TAR#nothere-$RAND:v1" "$REG/$repo:noname"

# ---- bad REF syntax and bad options: exit 2
for ref in "$REG/UPPER-$RAND/x:1" "$REG/$repo:bad tag" "$REG/$repo:-dash" "$REG/$repo@sha256:1234" \
  "$REG/$repo@md5:0123456789abcdef0123456789abcdef" "$REG/" "$REG/$repo:" "$REG//x:1" "$REG/$repo:$(printf 't%.0s' {1..129})" \
  "u@$REG/$repo:x" "local host:${REG#*:}/$repo:x" "$REG:99999/$repo:x" "$REG/$repo:t@sha256:$(printf '0%.0s' {1..64})"; do
  pt_push_fails "bad REF '${ref:0:60}': exit 2, one line" 2 'is not host\[:port\]/repo\[:tag\|@digest\]$' \
    "$IMG_TAR" "$ref"
done
for opt in "--jobs 0" "--jobs 65" "--jobs 4x" "--jobs 0x4" "--jobs +4" "--compression zstd" "--format v1" \
  "--gzip-level 10" "--gzip-level 5x" "--chunk-size 1K" "--chunk-size lots" "--chunk-size nan" "--chunk-size inf" \
  "--tag bad:tag" "--mount-from Bad//Repo"; do
  # shellcheck disable=SC2086  # the option and its value are two words
  pt_push_fails "bad option '$opt': exit 2, one line" 2 '^packhelper: push: ' $opt "$IMG_TAR" "$REG/$repo:opt"
done
pt_push "$IMG_TAR"
ph_eq "no REF: exit 2" 2 "$RC"
ph_match "no REF: says what is missing" '^packhelper: push: need SRC and at least one REF' "$ERR"
pt_push --no-such-option "$IMG_TAR" "$REG/$repo:x"
ph_eq "unknown option: exit 2" 2 "$RC"
pt_push_fails "--password-stdin without --username: exit 2" 2 'needs --username' --password-stdin "$IMG_TAR" "$REG/$repo:x"
pt_push_fails "--password-stdin with SRC '-': exit 2" 2 'stdin' -u someone --password-stdin - "$REG/$repo:x"
pt_push_fails "--ca-file that does not exist: exit 2" 2 "no-ca-$RAND\.pem" --ca-file "$WORK/no-ca-$RAND.pem" "$IMG_TAR" "$REG/$repo:x"

# ---- unreachable registries: exit 1, one clear line, no long hang
port=$(ph_free_port)
pt_push_fails "nothing listening on localhost:$port: exit 1, one line" 1 \
  "^packhelper: push: .*localhost.*$port.*([Cc]onnect|refused)" "$IMG_TAR" "localhost:$port/$repo:x"
ph_le "nothing listening: gives up within 10 s (${MS} ms)" "$MS" 10000
pt_push_fails "unresolvable host: exit 1, one line" 1 "^packhelper: push: .*ph-nonexistent-$RAND\.invalid.*[Rr]esolve" \
  "$IMG_TAR" "ph-nonexistent-$RAND.invalid:5000/$repo:x"
ph_le "unresolvable host: fails fast (${MS} ms)" "$MS" 5000
# a loopback HTTP server that is not a registry (the proxy with its upstream
# down answers every request 502): not taken as a registry, and the line says
# what GET /v2/ answered rather than blaming TLS
if pt_start_proxy notreg "$(ph_free_port)"; then
  pt_push_fails "a loopback HTTP server that is not a registry: exit 1, one line" 1 \
    "^packhelper: push: localhost:$PORT" "$IMG_TAR" "localhost:$PORT/$repo:x"
  ph_match "not a registry: the line says GET /v2/ was not a registry's answer" \
    'registry|/v2/.*(502|HTTP)' "$LINE"
fi

# ---- a blob the registry rejects with an error JSON: digest, status, code
if pt_start_proxy p400 "${REG#*:}" --fault blob-400; then
  pt_push_fails "blob rejected (400 DIGEST_INVALID): exit 1, one line" 1 '^packhelper: push: blob ' \
    "$IMG_TAR" "localhost:$PORT/$repo:rejected"
  d=$(grep -Eo 'blob sha256:[0-9a-f]{64}' <<<"$LINE" | cut -d' ' -f2)
  ph_match "blob rejected: the line names one of the image's blobs" "^${d:-none}$" "$BLOBS"
  ph_match "blob rejected: the line has the HTTP status and the registry's code and message" \
    'HTTP 400 DIGEST_INVALID: provided digest did not match uploaded content$' "$LINE"
  ph_match "blob rejected: the line names the registry and repository" "to localhost:$PORT/$repo" "$LINE"
  x=$(crane digest --insecure "$REG/$repo:rejected" 2>/dev/null)
  ph_eq "blob rejected: no manifest was pushed" "(none)" "${x:-(none)}"
fi
ph_finish
