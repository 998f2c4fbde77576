#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/deadline.sh - a registry that never finishes, or is not one,
# cannot keep the pusher (issue 7, finding 10). Fake servers (helper.py fake)
# and the fault proxy in front of packhelper serve:
#   garbage (not HTTP), on 127.0.0.1 and on localhost -> "does not speak HTTP",
#     not the TLS/IP-address line it used to give
#   junk (an HTTP status line, a broken header)        -> "not valid HTTP"
#   an endless chunked body                            -> "over 1024 KiB", fast
#   a 2 KiB/s trickle, --timeout 3s                    -> the timeout line in ~3 s
#   headers, then nothing, --stall-timeout 1s          -> "stalled", in seconds
#   the same two during blob uploads (proxy faults)    -> the same lines
#   bad --timeout / --stall-timeout values             -> exit 2
# Every push runs under timeout(1) so a pusher that hangs fails, not the suite.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init deadline
pt_image
repo=push-$RAND/deadline
PT_WRAP=(timeout 40)

if pt_fake garbage; then
  pt_push_fails "garbage on 127.0.0.1: exit 1, one line saying it is not HTTP" 1 \
    "^packhelper: push: 127\.0\.0\.1:$PORT does not speak HTTP: GET http://127\.0\.0\.1:$PORT/v2/ was answered with \"SSH-2\.0" \
    "$IMG_TAR" "127.0.0.1:$PORT/$repo:x"
  ph_nomatch "garbage on 127.0.0.1: the line does not blame TLS or certificates" 'certificate|TLS|IP address' "$LINE"
  pt_push_fails "garbage on localhost: exit 1, one line saying it is not HTTP" 1 \
    "^packhelper: push: localhost:$PORT does not speak HTTP" "$IMG_TAR" "localhost:$PORT/$repo:x"
fi
if pt_fake junk; then
  pt_push_fails "HTTP with a broken header: exit 1, one line saying the answer is not valid HTTP" 1 \
    "^packhelper: push: GET http://127\.0\.0\.1:$PORT/v2/: the answer is not valid HTTP" \
    "$IMG_TAR" "127.0.0.1:$PORT/$repo:x"
fi
if pt_fake endless; then
  pt_push_fails "an endless chunked body: exit 1, one line naming the size cap" 1 \
    "^packhelper: push: GET http://localhost:$PORT/v2/: the answer is over 1024 KiB" \
    "$IMG_TAR" "localhost:$PORT/$repo:x"
  ph_le "an endless chunked body: gives up within 5 s (${MS} ms)" "$MS" 5000
fi
if pt_fake trickle; then
  pt_push_fails "a 2 KiB/s trickle with --timeout 3s: exit 1, one timeout line" 1 \
    "^packhelper: push: timed out: the push took longer than --timeout 3s \(during GET http://localhost:$PORT/v2/\)" \
    --timeout 3s "$IMG_TAR" "localhost:$PORT/$repo:x"
  ph_ge "a 2 KiB/s trickle: ran until the timeout (${MS} ms)" "$MS" 2900
  ph_le "a 2 KiB/s trickle: and stopped there (${MS} ms)" "$MS" 6000
fi
if pt_fake stall; then
  pt_push_fails "headers then nothing, --stall-timeout 1s: exit 1, one stall line" 1 \
    "^packhelper: push: GET http://localhost:$PORT/v2/: stalled: under 1024 bytes/s for 1 s" \
    --stall-timeout 1s "$IMG_TAR" "localhost:$PORT/$repo:x"
  ph_le "headers then nothing: gives up within 6 s (${MS} ms)" "$MS" 6000
fi

# ---- the same during blob uploads
if pt_start_ph up && UP=$PORT; then
  if pt_start_proxy trickle "$UP" --fault trickle-upload; then
    pt_push_fails "uploads answered at 2 KiB/s, --timeout 4s: exit 1, one timeout line" 1 \
      "^packhelper: push: timed out: the push took longer than --timeout 4s \(during (PUT|PATCH) http://localhost:$PORT/v2/" \
      --timeout 4s "$IMG_TAR" "localhost:$PORT/$repo-t:x"
    ph_le "uploads answered at 2 KiB/s: stopped at the timeout (${MS} ms)" "$MS" 7000
  fi
  if pt_start_proxy stall "$UP" --fault stall-upload; then
    pt_push_fails "uploads never answered, --stall-timeout 1s: exit 1, one stall line" 1 \
      "^packhelper: push: blob sha256:.*stalled: under 1024 bytes/s for 1 s" \
      --stall-timeout 1s "$IMG_TAR" "localhost:$PORT/$repo-s:x"
    ph_le "uploads never answered: gives up within 20 s (${MS} ms)" "$MS" 20000
  fi
  pt_push_ok "--timeout 0 (no limit) pushes to a working registry" --timeout 0 "$IMG_TAR" "localhost:$UP/$repo:ok"
  pt_push_ok "--timeout 1m --stall-timeout 5s pushes to a working registry" --timeout 1m --stall-timeout 5s \
    "$IMG_TAR" "localhost:$UP/$repo:ok2"
fi

for v in "--timeout abc" "--timeout -1s" "--timeout 25h" "--stall-timeout 0" "--stall-timeout 1.5s"; do
  # shellcheck disable=SC2086  # the option and its value are two words
  pt_push_fails "bad value '$v': exit 2, one line" 2 '^packhelper: push: --(stall-)?timeout ' $v "$IMG_TAR" "localhost:1/$repo:x"
done
ph_finish
