#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/credhelpers.sh - credentials from Docker credential helpers
# (config.json credHelpers / credsStore), run as the Docker CLI runs them.
# The only credentials are in docker-credential-test, a script written here
# into $WORK/bin (on PATH for the pushes): a store of files keyed by the
# server URL the helper is asked for on stdin, logging every key.
#   Basic: docker-registry 2.8 with htpasswd over TLS: credHelpers[host:port],
#     credsStore; credHelpers wins over credsStore, which wins over auths;
#     credHelpers for another host is not used; the helper is asked for
#     host:port exactly; "credentials not found" is anonymous (then one line:
#     credentials needed); wrong credentials from it: one line; -v shows no
#     secret.  Helpers that are missing, fail, hang (killed at --timeout, and
#     at 30 s without one, their children too), print garbage or are named
#     with a path: one line each, exit 1.
#   Origins: a Basic registry whose uploads are on another origin, and a
#     Bearer registry whose realm is plain HTTP on a non-loopback name: the
#     helper's secret never reaches the other origin.  A 6 KiB password from
#     the helper goes whole.
#   Identity token: the helper answers Username "<token>": the token
#     endpoint gets the OAuth2 POST (grant_type=refresh_token) and the push
#     completes; no Basic header anywhere; a wrong token is one line; a Basic
#     registry with an identity token is one line.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init credhelpers
pt_image
pt_pki
TLS=$WORK/pki/server.pem,$WORK/pki/server.key
USER_=ph-user-$RAND
PASS_=pw-$(ph_rand)-helper-secret
B64=$(printf '%s:%s' "$USER_" "$PASS_" | base64 -w0)
BADB64=$(printf '%s:wrong-%s' "$USER_" "$PASS_" | base64 -w0)
RT=rt-$(ph_rand)$(ph_rand)-identity
htpasswd -Bbn "$USER_" "$PASS_" >"$WORK/htpasswd" 2>/dev/null
repo=push-$RAND/credhelpers

# ---- the helpers, on PATH for every push
BIN=$WORK/bin STORE=$WORK/store
mkdir -p "$BIN" "$STORE"
pt_credhelper_test "$BIN" "$STORE"
cat >"$BIN/docker-credential-fail" <<EOF
#!/bin/sh
cat >/dev/null; echo fail >>"$WORK/asked-fail.log"
echo "the test keychain is locked"; echo "some detail" >&2; exit 1
EOF
cat >"$BIN/docker-credential-hang" <<EOF
#!/bin/sh
sleep 300 & echo \$! >>"$WORK/hang.pids"; echo \$\$ >>"$WORK/hang.pids"; sleep 300
EOF
cat >"$BIN/docker-credential-garbage" <<EOF
#!/bin/sh
cat >/dev/null; echo '<html>Service Unavailable</html>'
EOF
chmod 755 "$BIN"/docker-credential-*
PT_WRAP=(env "PATH=$BIN:$PATH")

# store_put KEY USERNAME SECRET : what docker-credential-test answers for KEY
store_put() { pt_cred_put "$STORE" "$@"; }
# dc NAME JSON : a docker config dir $WORK/dc-NAME with config.json JSON
dc() { mkdir -p "$WORK/dc-$1" && printf '%s\n' "$2" >"$WORK/dc-$1/config.json"; }
asked() { cat "$WORK/asked-test.log" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
# no_secrets DESC FILE : neither the password nor base64(user:password) in FILE
no_secrets() {
  ph_nofixed "$1: the password is not in $(basename "$2")" "$PASS_" "$2"
  ph_nofixed "$1: base64(user:password) is not in $(basename "$2")" "$B64" "$2"
}
digest_of() {
  curl -s --cacert "$CA" -u "$USER_:$PASS_" -o /dev/null -D - -H "Accept: $PH_ACCEPT" \
    "https://$1/v2/${2%%:*}/manifests/${2#*:}" | tr -d '\r' |
    awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}
# gone PIDFILE : every pid listed is gone (or a zombie)
gone() {
  local p
  for p in $(cat "$1" 2>/dev/null); do
    if [[ -e /proc/$p/stat ]] && ! grep -q ') Z' "/proc/$p/stat"; then return 1; fi
  done
  [[ -s $1 ]]
}

# ---- Basic over TLS (docker-registry 2.8, htpasswd)
if pt_start_dist dist tls "$WORK/htpasswd"; then
  reg=localhost:$PORT
  store_put "$reg" "$USER_" "$PASS_"

  dc helpers "{\"credHelpers\":{\"$reg\":\"test\"}}"
  : >"$WORK/asked-test.log"
  DOCKER_CONFIG=$WORK/dc-helpers pt_push_ok "credHelpers[$reg] = test: the push completes" \
    -v --ca-file "$CA" "$IMG_TAR" "$reg/$repo:helpers"
  d=$DIGEST
  cp "$WORK/push.err" "$WORK/helpers-v.err"
  ph_eq "credHelpers: the registry has the pushed digest" "$d" "$(digest_of "$reg" "$repo:helpers")"
  ph_eq "credHelpers: the helper was asked once, for host:port exactly" "$reg" "$(asked)"
  ph_match "credHelpers: -v shows the Basic header masked" '^> Authorization: Basic \*\*\*$' "$ERR"
  no_secrets "credHelpers -v" "$WORK/helpers-v.err"

  dc store "{\"credsStore\":\"test\"}"
  : >"$WORK/asked-test.log"
  DOCKER_CONFIG=$WORK/dc-store pt_push_ok "credsStore = test: the push completes" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:store"
  ph_eq "credsStore: the registry has the pushed digest" "$d" "$(digest_of "$reg" "$repo:store")"
  ph_eq "credsStore: the helper was asked for $reg" "$reg" "$(asked)"

  # precedence: each lower source holds wrong credentials or a failing helper
  : >"$WORK/asked-fail.log"
  dc prec1 "{\"credHelpers\":{\"$reg\":\"test\"},\"credsStore\":\"fail\",\"auths\":{\"$reg\":{\"auth\":\"$BADB64\"}}}"
  DOCKER_CONFIG=$WORK/dc-prec1 pt_push_ok "credHelpers wins over credsStore (failing) and auths (wrong)" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:prec1"
  dc prec2 "{\"credsStore\":\"test\",\"auths\":{\"$reg\":{\"auth\":\"$BADB64\"}}}"
  DOCKER_CONFIG=$WORK/dc-prec2 pt_push_ok "credsStore wins over auths (wrong)" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:prec2"
  dc prec3 "{\"credHelpers\":{\"localhost:1\":\"fail\",\"127.0.0.1:$PORT\":\"fail\",\"localhost\":\"fail\"},\"credsStore\":\"test\"}"
  DOCKER_CONFIG=$WORK/dc-prec3 pt_push_ok "credHelpers for other hosts (failing) are not run: credsStore is" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:prec3"
  ph_eq "the failing helper never ran" 0 "$(grep -c . "$WORK/asked-fail.log")"

  dc other "{\"credHelpers\":{\"localhost:1\":\"test\",\"127.0.0.1:$PORT\":\"test\"}}"
  : >"$WORK/asked-test.log"
  DOCKER_CONFIG=$WORK/dc-other pt_push_fails "credHelpers for another host only: credentials needed (one line)" 1 \
    "^packhelper: push: $reg requires credentials: " --ca-file "$CA" "$IMG_TAR" "$reg/$repo:other"
  x=$(asked)
  ph_eq "... and docker-credential-test was not asked" "(none)" "${x:-(none)}"

  rm -f "$STORE/$(printf %s "$reg" | tr -c 'A-Za-z0-9._-' _)"
  : >"$WORK/asked-test.log"
  DOCKER_CONFIG=$WORK/dc-helpers pt_push_fails "credentials not found: anonymous, then one line naming the helper" 1 \
    "^packhelper: push: $reg requires credentials, and docker-credential-test \(credHelpers\) has none for $reg: " \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:notfound"
  ph_eq "credentials not found: the helper was asked for $reg" "$reg" "$(asked)"
  x=$(digest_of "$reg" "$repo:notfound")
  ph_eq "credentials not found: nothing was tagged" "(none)" "${x:-(none)}"

  store_put "$reg" "$USER_" "wrong-$PASS_"
  DOCKER_CONFIG=$WORK/dc-helpers pt_push_fails "wrong credentials from the helper: one line saying where they came from" 1 \
    "^packhelper: push: $reg rejected the credentials of $USER_ from docker-credential-test \(credHelpers\) \(HTTP 401\)$" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:wrong"
  ph_nofixed "wrong credentials: the line does not echo the password" "wrong-$PASS_" "$WORK/push.err"
  store_put "$reg" "$USER_" "$PASS_"

  dc missing "{\"credsStore\":\"missing\"}"
  DOCKER_CONFIG=$WORK/dc-missing pt_push_fails "helper not on PATH: one line" 1 \
    "^packhelper: push: docker-credential-missing \(credsStore\) get $reg: not found in PATH$" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:missing"

  dc fail "{\"credHelpers\":{\"$reg\":\"fail\"}}"
  DOCKER_CONFIG=$WORK/dc-fail pt_push_fails "failing helper: one line with its message" 1 \
    "^packhelper: push: docker-credential-fail \(credHelpers\) get $reg: exit 1: the test keychain is locked$" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:fail"

  dc garbage "{\"credsStore\":\"garbage\"}"
  DOCKER_CONFIG=$WORK/dc-garbage pt_push_fails "garbage from the helper: one line" 1 \
    "^packhelper: push: docker-credential-garbage \(credsStore\) get $reg: the answer is not JSON$" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:garbage"

  dc path "{\"credsStore\":\"../bin/test\"}"
  DOCKER_CONFIG=$WORK/dc-path pt_push_fails "a helper named with a path: one line, nothing run" 1 \
    "^packhelper: push: .*/dc-path/config.json: credsStore names the helper \"\.\./bin/test\", which packhelper does not run" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:path"

  dc hang "{\"credsStore\":\"hang\"}"
  : >"$WORK/hang.pids"
  DOCKER_CONFIG=$WORK/dc-hang pt_push_fails "hanging helper, --timeout 3s: one line, killed" 1 \
    "^packhelper: push: docker-credential-hang \(credsStore\) get $reg: no answer within [0-9.]+s; killed$" \
    --timeout 3s --ca-file "$CA" "$IMG_TAR" "$reg/$repo:hang"
  ph_le "hanging helper: the push ended at its deadline (${MS} ms)" "$MS" 6000
  ph_wait_for 5 gone "$WORK/hang.pids" && ph_ok "hanging helper: it and its child are gone" ||
    ph_not_ok "hanging helper: it and its child are gone ($(cat "$WORK/hang.pids" | tr '\n' ' '))"
  : >"$WORK/hang.pids"
  DOCKER_CONFIG=$WORK/dc-hang pt_push_fails "hanging helper, no --timeout: killed after 30 s" 1 \
    "^packhelper: push: docker-credential-hang \(credsStore\) get $reg: no answer within 30s; killed$" \
    --timeout 0 --ca-file "$CA" "$IMG_TAR" "$reg/$repo:hang"
  ph_ge "hanging helper: 30 s (${MS} ms)" "$MS" 29900
  ph_le "hanging helper: not much more (${MS} ms)" "$MS" 36000
  ph_wait_for 5 gone "$WORK/hang.pids" && ph_ok "hanging helper (30 s): it and its child are gone" ||
    ph_not_ok "hanging helper (30 s): it and its child are gone"

  # an identity token is for a token endpoint, not for Basic
  store_put "$reg" "<token>" "$RT"
  DOCKER_CONFIG=$WORK/dc-helpers pt_push_fails "identity token for a Basic registry: one line" 1 \
    "^packhelper: push: $reg asks for a password \(Basic\), and docker-credential-test \(credHelpers\) gave an identity token" \
    --ca-file "$CA" "$IMG_TAR" "$reg/$repo:idbasic"
  ph_nofixed "identity token for Basic: not in the line" "$RT" "$WORK/push.err"
  store_put "$reg" "$USER_" "$PASS_"
fi

# ---- origins: the helper's secret stays with the registry's origin
jl() { jq -r "$2" "$WORK/$1.jsonl" 2>/dev/null; }
no_creds() {
  ph_eq "$1: no Authorization header reached $2" 0 \
    "$(jl "$2" 'select(.authz != null and .authz != "") | .authz' | grep -c .)"
  ph_nofixed "$1: base64(user:password) never reached $2" "$B64" "$WORK/$2.jsonl"
  ph_nofixed "$1: the password never reached $2" "$PASS_" "$WORK/$2.jsonl"
}
if pt_start_ph up; then
  UP=$PORT
  if pt_start_proxy rec-a "$UP" && P2=$PORT &&
    pt_start_proxy reg-a "$UP" --basic "$USER_:$PASS_" --location-origin "http://127.0.0.1:$P2"; then
    store_put "localhost:$PORT" "$USER_" "$PASS_"
    dc origin-a "{\"credHelpers\":{\"localhost:$PORT\":\"test\"}}"
    DOCKER_CONFIG=$WORK/dc-origin-a pt_push_ok "origins (a): Basic registry, uploads on another origin: completes" \
      "$IMG_TAR" "localhost:$PORT/$repo-a:a"
    ph_ge "origins (a): the uploads went to the other origin" \
      "$(jl rec-a 'select(.method == "PUT" or .method == "PATCH") | .path' | grep -c .)" 1
    no_creds "origins (a)" rec-a
    ph_ge "origins (a): the registry itself got the helper's credentials" \
      "$(jl reg-a "select(.authz == \"Basic $B64\" and .status == 202) | .path" | grep -c .)" 1
  fi
  realm_host=ph-realm-$RAND.example
  if pt_hosts_add "$realm_host" && pt_start_proxy rec-e "$UP" --bearer "$USER_:$PASS_" && P2=$PORT &&
    pt_start_proxy reg-e "$UP" --bearer "$USER_:$PASS_" --realm "http://$realm_host:$P2/token"; then
    store_put "localhost:$PORT" "$USER_" "$PASS_"
    dc origin-e "{\"credsStore\":\"test\"}"
    DOCKER_CONFIG=$WORK/dc-origin-e pt_push_fails "origins (e): plain-HTTP realm on a non-loopback name: one line" 1 \
      "^packhelper: push: token endpoint http://$realm_host:$P2/token is plain HTTP" \
      "$IMG_TAR" "localhost:$PORT/$repo-e:e"
    no_creds "origins (e)" rec-e
  fi

  # a password as long as a cloud registry's token (ECR's run to a few KiB)
  LONG=long-$(head -c 4500 /dev/urandom | base64 -w0)
  if pt_start_proxy long "$UP" --basic "$USER_:$LONG"; then
    store_put "localhost:$PORT" "$USER_" "$LONG"
    dc long "{\"credsStore\":\"test\"}"
    DOCKER_CONFIG=$WORK/dc-long pt_push_ok "a ${#LONG}-byte password from the helper: the push completes" \
      "$IMG_TAR" "localhost:$PORT/$repo-long:1"
    ph_ge "... the registry got it whole" "$(jl long 'select(.status == 201 and .method == "PUT") | .path' | grep -c .)" 1
    # the same through PACKHELPER_PASSWORD (before: cut at 1400 bytes, HTTP 401)
    PACKHELPER_USERNAME=$USER_ PACKHELPER_PASSWORD=$LONG pt_push_ok \
      "a ${#LONG}-byte PACKHELPER_PASSWORD: the push completes" "$IMG_TAR" "localhost:$PORT/$repo-long:2"
  fi

  # ---- identity token: OAuth2 refresh_token POST to the token endpoint
  tok=tok-$(ph_rand)$(ph_rand)
  if pt_start_proxy idt "$UP" --bearer "nobody:$(ph_rand)" --token "$tok" --refresh "$RT"; then
    reg=localhost:$PORT
    store_put "$reg" "<token>" "$RT"
    dc idt "{\"credHelpers\":{\"$reg\":\"test\"}}"
    DOCKER_CONFIG=$WORK/dc-idt pt_push_ok "identity token: the push completes" -v "$IMG_TAR" "$reg/$repo-idt:1"
    cp "$WORK/push.err" "$WORK/idt-v.err"
    ph_eq "identity token: the upstream has the pushed digest" "$DIGEST" \
      "$(crane digest --insecure "localhost:$UP/$repo-idt:1" 2>&1)"
    ph_ge "identity token: the token endpoint got POST grant_type=refresh_token with it" \
      "$(jl idt "select(.token and .method == \"POST\" and .grant_type == \"refresh_token\" and .refresh == \"$RT\" and .status == 200) | .path" | grep -c .)" 1
    ph_eq "identity token: ... form-encoded, client_id packhelper, service test" \
      "application/x-www-form-urlencoded packhelper test" \
      "$(jl idt 'select(.token and .method == "POST") | [.content_type, .client_id, .form_service] | join(" ")' | sort -u)"
    ph_eq "identity token: ... scope repository:$repo-idt:pull,push" "repository:$repo-idt:pull,push" \
      "$(jl idt 'select(.token and .method == "POST") | .form_scope | join(" ")' | sort -u)"
    ph_eq "identity token: no GET to the token endpoint, no Basic header anywhere" 0 \
      "$(jl idt 'select((.token and .method == "GET") or ((.authz // "") | startswith("Basic"))) | .path' | grep -c .)"
    ph_nofixed "identity token: it never went into a header" "$RT" \
      <(jl idt 'select(.authz != null) | .authz')
    ph_nofixed "identity token: -v does not show it" "$RT" "$WORK/idt-v.err"
    ph_ge "identity token: the registry got the Bearer token" \
      "$(jl idt "select(.authz == \"Bearer $tok\" and .method == \"PUT\" and .status == 201) | .path" | grep -c .)" 1

    store_put "$reg" "<token>" "wrong-$RT"
    DOCKER_CONFIG=$WORK/dc-idt pt_push_fails "identity token rejected: one line" 1 \
      "^packhelper: push: token endpoint http://127\.0\.0\.1:$PORT/token: HTTP 401 \(identity token rejected\)$" \
      "$IMG_TAR" "$reg/$repo-idt:2"
    ph_nofixed "identity token rejected: the line does not echo it" "wrong-$RT" "$WORK/push.err"
  fi
fi
ph_finish
