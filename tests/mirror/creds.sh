#!/usr/bin/env bash
# shellcheck disable=SC2153  # PORT, DIG... are lib.sh's
# tests/mirror/creds.sh - the mirror authenticates to its upstream with a
# Docker credential helper: docker-registry 2.8 with htpasswd (Basic auth);
# the only credentials are in docker-credential-test, a credential store in files
# (tests/push/lib.sh's pt_credhelper_test), named in the mirror's config.json
# credHelpers for the upstream's host:port.
#   The mirror pulls through (crane validate), the helper was asked for
#   host:port; without the helper the mirror's answer is 502 saying so;
#   the secret is nowhere in the mirror's log.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mt_init creds
USER_=ph-user-$RAND
PASS_=pw-$(ph_rand)-mirror-secret
B64=$(printf '%s:%s' "$USER_" "$PASS_" | base64 -w0)
htpasswd -Bbn "$USER_" "$PASS_" >"$WORK/htpasswd" 2>/dev/null
repo=m$RAND/auth

BIN=$WORK/bin STORE=$WORK/cstore
mkdir -p "$BIN" "$STORE"
pt_credhelper_test "$BIN" "$STORE"

pt_start_dist dist "" "$WORK/htpasswd" || { ph_finish; exit 1; }
R=127.0.0.1:$PORT
mkdir -p "$WORK/dc-push" "$WORK/dc-mirror"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R" "$B64" >"$WORK/dc-push/config.json"
printf '{"credHelpers":{"%s":"test"}}\n' "$R" >"$WORK/dc-mirror/config.json"
pt_cred_put "$STORE" "$R" "$USER_" "$PASS_"
DOCKER_CONFIG=$WORK/dc-push ph_require "push the test image to the Basic-auth registry" mt_image "$R" "$repo:v1"
mt_get "http://$R/v2/$repo/manifests/v1"
ph_eq "the registry wants credentials" 401 "$CODE"

# the mirror with the helper (its environment only)
DOCKER_CONFIG=$WORK/dc-mirror PATH=$BIN:$PATH pt_start_ph b --mirror "http://$R" || { ph_finish; exit 1; }
B=127.0.0.1:$PORT
ph_eq "through the mirror: crane digest" "$DIG" "$(crane digest --insecure "$B/$repo:v1" 2>&1)"
ph_run "through the mirror: crane validate" crane validate --insecure --remote "$B/$repo:v1"
ph_match "the helper was asked for $R" "^$R\$" "$(sort -u "$WORK/asked-test.log" 2>/dev/null)"

# the mirror without it
pt_start_ph c --mirror "http://$R" || { ph_finish; exit 1; }
C=127.0.0.1:$PORT
mt_get "http://$C/v2/$repo/manifests/v1"
ph_match "without the helper: 502 saying credentials are needed" '^502 .*(401|requires credentials)' "$CODE $BODY"
ph_serve_stop b
ph_serve_stop c
ph_nofixed "the password is not in the mirror's log" "$PASS_" "$WORK/b.log"
ph_nofixed "base64(user:password) is not in the mirror's log" "$B64" "$WORK/b.log"
ph_finish
