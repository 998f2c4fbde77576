#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/auth.sh - credentials.
#   Basic: docker-registry 2.8 with htpasswd (bcrypt) over TLS: --username +
#     --password-stdin, a wrong password, PACKHELPER_USERNAME/PASSWORD, a
#     DOCKER_CONFIG config.json "auths" entry, $HOME/.docker/config.json, none.
#   Bearer: the helper proxy in front of packhelper serve answers 401 with a
#     Bearer challenge and runs the /token endpoint (Basic credentials in,
#     {"token": ...} out): the push gets a token for the right scope and
#     succeeds; a wrong password fails with one line.
#   -v never shows the password, the base64 user:password or the token.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init auth
pt_image
pt_pki
USER_=ph-user-$RAND
PASS_=pw-$(ph_rand)-secret
B64=$(printf '%s:%s' "$USER_" "$PASS_" | base64 -w0)
printf '%s\n' "$PASS_" >"$WORK/pass"
printf 'wrong-%s\n' "$PASS_" >"$WORK/badpass"
htpasswd -Bbn "$USER_" "$PASS_" >"$WORK/htpasswd" 2>/dev/null
repo=push-$RAND/auth

# digest_of REG REPO:TAG -> Docker-Content-Digest, fetched with curl and the
# credentials (independent of the pusher)
digest_of() {
  curl -s --cacert "$CA" -u "$USER_:$PASS_" -o /dev/null -D - -H "Accept: $PH_ACCEPT" \
    "https://$1/v2/${2%%:*}/manifests/${2#*:}" | tr -d '\r' |
    awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}

# no_secrets DESC FILE [TOKEN]
no_secrets() {
  ph_nofixed "$1: -v output does not contain the password" "$PASS_" "$2"
  ph_nofixed "$1: -v output does not contain base64(user:password)" "$B64" "$2"
  [[ -z ${3:-} ]] || ph_nofixed "$1: -v output does not contain the token" "$3" "$2"
}

# ---- Basic over TLS
if pt_start_dist dist tls "$WORK/htpasswd"; then
  reg=localhost:$PORT
  PT_STDIN_FILE=$WORK/pass pt_push_ok "basic: --username + --password-stdin" \
    --ca-file "$CA" -u "$USER_" --password-stdin "$IMG_TAR" "$reg/$repo:stdin"
  d=$DIGEST
  ph_eq "basic: the registry has the pushed digest" "$d" "$(digest_of "$reg" "$repo:stdin")"

  PT_STDIN_FILE=$WORK/pass pt_push_ok "basic: -v push with --password-stdin" \
    -v --ca-file "$CA" --username "$USER_" --password-stdin "$IMG_TAR" "$reg/$repo:verbose"
  cp "$WORK/push.err" "$WORK/basic-v.err"
  ph_match "basic: -v shows the Authorization header masked" '^> Authorization: Basic \*\*\*$' "$ERR"
  no_secrets "basic" "$WORK/basic-v.err"

  PT_STDIN_FILE=$WORK/badpass pt_push_fails "basic: a wrong password fails with one line" 1 \
    "^packhelper: push: " --ca-file "$CA" -u "$USER_" --password-stdin "$IMG_TAR" "$reg/$repo:bad"
  ph_match "basic: the wrong-password line says the credentials were rejected" \
    '(credential|password|login)[^|]*(reject|wrong|invalid|denied|fail)|(reject|denied)[^|]*(credential|password)' "$LINE"
  ph_nofixed "basic: the wrong-password line does not echo the password" "wrong-$PASS_" "$WORK/push.err"
  x=$(digest_of "$reg" "$repo:bad")
  ph_eq "basic: nothing was tagged by the failed push" "(none)" "${x:-(none)}"

  PACKHELPER_USERNAME=$USER_ PACKHELPER_PASSWORD=$PASS_ pt_push_ok \
    "basic: PACKHELPER_USERNAME/PACKHELPER_PASSWORD" --ca-file "$CA" "$IMG_TAR" "$reg/$repo:env"
  ph_eq "basic: env push gives the same digest" "$d" "$(digest_of "$reg" "$repo:env")"

  PACKHELPER_USERNAME=$USER_ PACKHELPER_PASSWORD=wrong PT_STDIN_FILE=$WORK/pass pt_push_ok \
    "basic: --password-stdin wins over PACKHELPER_PASSWORD" --ca-file "$CA" -u "$USER_" --password-stdin \
    "$IMG_TAR" "$reg/$repo:precedence"

  mkdir -p "$WORK/dc1" "$WORK/dc2" "$WORK/home/.docker"
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$reg" "$B64" >"$WORK/dc1/config.json"
  DOCKER_CONFIG=$WORK/dc1 pt_push_ok "basic: DOCKER_CONFIG config.json auths[host:port].auth" \
    --ca-file "$CA" -v "$IMG_TAR" "$reg/$repo:dockerconfig"
  ph_eq "basic: docker-config push gives the same digest" "$d" "$(digest_of "$reg" "$repo:dockerconfig")"
  no_secrets "basic docker config" "$WORK/push.err"

  printf '{"auths":{"https://%s":{"auth":"%s"}}}\n' "$reg" "$B64" >"$WORK/dc2/config.json"
  DOCKER_CONFIG=$WORK/dc2 pt_push_ok "basic: config.json keyed https://host:port" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:dockerconfig-https"

  cp "$WORK/dc1/config.json" "$WORK/home/.docker/config.json"
  PT_WRAP=(env -u DOCKER_CONFIG "HOME=$WORK/home")
  pt_push_ok "basic: \$HOME/.docker/config.json (no DOCKER_CONFIG)" --ca-file "$CA" "$IMG_TAR" "$reg/$repo:home"
  PT_WRAP=(env)

  pt_push_fails "basic: no credentials at all: one line saying credentials are needed" 1 \
    "^packhelper: push: $reg requires credentials" --ca-file "$CA" "$IMG_TAR" "$reg/$repo:nocreds"
fi

# ---- Bearer: proxy + token endpoint in front of packhelper serve
if pt_start_ph up && up=$PORT && pt_start_proxy bearer "$up" --bearer "$USER_:$PASS_"; then
  reg=localhost:$PORT
  log=$WORK/bearer.jsonl
  token=$(jq -r 'select(.token_value) | .token_value' "$log" | head -n1)
  PT_STDIN_FILE=$WORK/pass pt_push_ok "bearer: push through the token flow" \
    -v -u "$USER_" --password-stdin "$IMG_TAR" "$reg/$repo:bearer"
  d=$DIGEST
  cp "$WORK/push.err" "$WORK/bearer-v.err"
  ph_eq "bearer: the upstream registry has the pushed digest" "$d" \
    "$(crane digest --insecure "localhost:$up/$repo:bearer" 2>&1)"
  ph_eq "bearer: the config is the image ID" "$IMG_ID" \
    "sha256:$(crane config --insecure "localhost:$up/$repo:bearer" 2>/dev/null | ph_sha256)"
  scopes=$(jq -r 'select(.token and .status == 200) | .scope | join(" ")' "$log" | sort -u)
  ph_eq "bearer: the token endpoint was asked for repository:$repo:pull,push" "repository:$repo:pull,push" "$scopes"
  ph_eq "bearer: ... with service=test" "test" "$(jq -r 'select(.token) | .service' "$log" | sort -u)"
  ntok=$(jq -r 'select(.token) | .status' "$log" | grep -c .)
  ph_le "bearer: at most one token request per worker ($ntok)" "$ntok" 4
  x=$(jq -r 'select((.method == "PUT" or .method == "PATCH" or .method == "POST") and .status >= 200 and .status < 300 and .auth != "Bearer") | .path' "$log")
  ph_eq "bearer: every successful write carried the Bearer token" "(none)" "${x:-(none)}"
  ph_ge "bearer: the proxy forwarded the manifest PUT with a token" \
    "$(jq -r "select(.method == \"PUT\" and .path == \"/v2/$repo/manifests/bearer\" and .status == 201 and .auth == \"Bearer\") | .path" "$log" | grep -c .)" 1
  ph_match "bearer: -v shows the Bearer header masked" '^> Authorization: Bearer \*\*\*$' "$ERR"
  ph_match "bearer: -v shows the token request's Basic header masked" '^> Authorization: Basic \*\*\*$' "$ERR"
  no_secrets "bearer" "$WORK/bearer-v.err" "$token"

  # --mount-from asks for pull on the source repository too
  n0=$(ph_mark "$log")
  PT_STDIN_FILE=$WORK/pass pt_push_ok "bearer: push with --mount-from" \
    --mount-from "$repo" -u "$USER_" --password-stdin "$IMG_TAR" "$reg/$repo-mounted:1"
  sc=$(ph_since "$log" "$n0" | jq -r 'select(.token) | .scope | join(" ")' | sort -u | tr '\n' ' ')
  ph_match "bearer: the mount's token scope has pull on the source repo" "repository:$repo:pull([^,]|$)" "$sc"
  ph_match "bearer: ... and pull,push on the target" "repository:$repo-mounted:pull,push" "$sc"
  ph_eq "bearer: every blob was mounted (201)" "$(grep -c . <<<"$BLOBS")" \
    "$(ph_since "$log" "$n0" | jq -r 'select(.method == "POST" and (.path | test("mount=")) and .status == 201) | .path' | grep -c .)"

  PT_STDIN_FILE=$WORK/badpass pt_push_fails "bearer: a wrong password fails with one line naming the token endpoint and 401" 1 \
    "^packhelper: push: token endpoint http://127\.0\.0\.1:$PORT/token: HTTP 401" \
    -u "$USER_" --password-stdin "$IMG_TAR" "$reg/$repo:bad"
  ph_nofixed "bearer: the wrong-password line does not echo the password" "wrong-$PASS_" "$WORK/push.err"
  pt_push_fails "bearer: anonymous push (no credentials) fails with one line" 1 \
    "^packhelper: push: .*(401|credentials)" "$IMG_TAR" "$reg/$repo:anon"
fi
# ---- a long password (ECR's and GCP's tokens are a few KiB): sent whole, not cut at 1 KiB
LONGPASS=$(head -c 2400 /dev/urandom | base64 -w0 | tr -d '+/=' | head -c 3000)
printf '%s\n' "$LONGPASS" >"$WORK/longpass"
head -c 20000 /dev/zero | tr '\0' 'x' >"$WORK/hugepass"
if [[ -n ${up:-} ]] && pt_start_proxy bearer-long "$up" --bearer "$USER_:$LONGPASS"; then
  reg=localhost:$PORT
  PT_STDIN_FILE=$WORK/longpass pt_push_ok "bearer: a ${#LONGPASS}-byte password from --password-stdin is sent whole" \
    -u "$USER_" --password-stdin "$IMG_TAR" "$reg/$repo:longpass"
  PT_STDIN_FILE=$WORK/hugepass pt_push_fails "a password over 16 KiB on stdin is refused with one line, exit 2" 2 \
    "^packhelper: push: the password on stdin is longer than" -u "$USER_" --password-stdin "$IMG_TAR" "$reg/$repo:huge"
fi
ph_finish
