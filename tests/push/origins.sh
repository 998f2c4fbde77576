#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/origins.sh - credentials stay with the origin that asked for them
# (issue 7, finding 3). The helper proxy in front of packhelper serve plays a
# registry that points elsewhere; a second proxy ("rec", another origin)
# records every Authorization header it receives.
#   (a) Basic registry localhost:P1, upload Location -> http://127.0.0.1:P2:
#       the push completes, P2 never sees credentials, P1 still gets them
#   (b) Basic registry 127.0.0.1:P1, Location -> http://127.0.0.1:P2 (same
#       host, another port): the same
#   (c) Basic registry localhost:P1, Location -> http://127.0.0.1:P1 (the same
#       server under another name): no credentials go there; one line
#   (d) HTTPS Basic registry, Location -> plain http://localhost:P2: refused
#       outright (one line, "downgrade"), nothing reaches P2
#   (e) Bearer registry (plain-HTTP loopback) whose realm is plain HTTP on a
#       host that is not loopback by name (/etc/hosts): no credentials to it
#   (f) HTTPS Bearer registry whose realm is plain http://localhost: none
#   (g) HTTPS Bearer registry whose realm is HTTPS on another origin: the
#       credentials go to the realm, the token only to the registry; works
#   (h) a Location that is not an http(s) URL (user info): one line
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init origins
pt_image
pt_pki
TLS=$WORK/pki/server.pem,$WORK/pki/server.key
USER_=ph-user-$RAND
PASS_=pw-$(ph_rand)-secret
B64=$(printf '%s:%s' "$USER_" "$PASS_" | base64 -w0)
printf '%s\n' "$PASS_" >"$WORK/pass"
PT_STDIN_FILE=$WORK/pass
repo=push-$RAND/origins

# jl NAME JQ-FILTER -> the filter's output over proxy NAME's log
jl() { jq -r "$2" "$WORK/$1.jsonl" 2>/dev/null; }
# no_creds DESC NAME : proxy NAME's log holds no Authorization header, and
# neither the password nor base64(user:password) appears in it
no_creds() {
  local n
  n=$(jl "$2" 'select(.authz != null and .authz != "") | .authz' | grep -c .)
  ph_eq "$1: no Authorization header reached $2" 0 "$n"
  ph_nofixed "$1: base64(user:password) never reached $2" "$B64" "$WORK/$2.jsonl"
  ph_nofixed "$1: the password never reached $2" "$PASS_" "$WORK/$2.jsonl"
}

pt_start_ph up || { ph_finish; exit 1; }
UP=$PORT

# ---- (a) Basic, Location on another host and port
if pt_start_proxy rec-a "$UP" && P2=$PORT &&
  pt_start_proxy reg-a "$UP" --basic "$USER_:$PASS_" --location-origin "http://127.0.0.1:$P2"; then
  pt_push_ok "(a) Basic registry, uploads on another origin: the push completes" \
    -u "$USER_" --password-stdin "$IMG_TAR" "localhost:$PORT/$repo-a:a"
  ph_ge "(a) the uploads went to the other origin" \
    "$(jl rec-a 'select(.method == "PUT" or .method == "PATCH") | .path' | grep -c .)" 1
  no_creds "(a)" rec-a
  ph_ge "(a) the registry itself got the credentials" \
    "$(jl reg-a "select(.authz == \"Basic $B64\" and .status == 202) | .path" | grep -c .)" 1
  ph_eq "(a) the upstream has the pushed digest" "$DIGEST" "$(crane digest --insecure "localhost:$UP/$repo-a:a" 2>&1)"
fi

# ---- (b) Basic, same host, another port
if pt_start_proxy rec-b "$UP" && P2=$PORT &&
  pt_start_proxy reg-b "$UP" --basic "$USER_:$PASS_" --location-origin "http://127.0.0.1:$P2"; then
  pt_push_ok "(b) Basic registry 127.0.0.1:P1, uploads on 127.0.0.1:P2: the push completes" \
    -u "$USER_" --password-stdin "$IMG_TAR" "127.0.0.1:$PORT/$repo-b:b"
  no_creds "(b)" rec-b
fi

# ---- (c) Basic, the same server under another host name
if ph_spawn reg-c python3 "$HELPER" proxy --port {PORT} --upstream "127.0.0.1:$UP" \
  --log "$WORK/reg-c.jsonl" --basic "$USER_:$PASS_" --location-origin "http://127.0.0.1:{PORT}" && P1=$PORT; then
  pt_push_fails "(c) Location on the same server under another name: one line" 1 \
    "^packhelper: push: .*credentials.*only to the registry" \
    -u "$USER_" --password-stdin "$IMG_TAR" "localhost:$P1/$repo-c:c"
  n=$(jl reg-c "select((.host | startswith(\"127.0.0.1\")) and .authz != \"\") | .path" | grep -c .)
  ph_eq "(c) no request to 127.0.0.1:$P1 carried credentials" 0 "$n"
  ph_ge "(c) ... while localhost:$P1 got them" \
    "$(jl reg-c "select((.host | startswith(\"localhost\")) and .authz == \"Basic $B64\") | .path" | grep -c .)" 1
fi

# ---- (d) HTTPS registry, Location on plain HTTP
if pt_start_proxy rec-d "$UP" && P2=$PORT &&
  pt_start_proxy reg-d "$UP" --tls "$TLS" --basic "$USER_:$PASS_" --location-origin "http://localhost:$P2"; then
  pt_push_fails "(d) HTTPS registry, Location on plain HTTP: refused with one line" 1 \
    "^packhelper: push: .*HTTPS.*plain HTTP.*downgrade" \
    --ca-file "$CA" -u "$USER_" --password-stdin "$IMG_TAR" "localhost:$PORT/$repo-d:d"
  ph_eq "(d) nothing at all reached the plain-HTTP origin" 0 "$(jl rec-d 'select(.method) | .path' | grep -c .)"
  no_creds "(d)" rec-d
fi

# ---- (e) Bearer: realm on plain HTTP, a host that is not loopback by name
realm_host=ph-realm-$RAND.example
if pt_hosts_add "$realm_host" && pt_start_proxy rec-e "$UP" --bearer "$USER_:$PASS_" && P2=$PORT &&
  pt_start_proxy reg-e "$UP" --bearer "$USER_:$PASS_" --realm "http://$realm_host:$P2/token"; then
  pt_push_fails "(e) plain-HTTP realm on a non-loopback host: one line, no credentials sent" 1 \
    "^packhelper: push: token endpoint http://$realm_host:$P2/token is plain HTTP" \
    -u "$USER_" --password-stdin "$IMG_TAR" "localhost:$PORT/$repo-e:e"
  no_creds "(e)" rec-e
fi

# ---- (f) HTTPS Bearer registry, realm on plain http://localhost
if pt_start_proxy rec-f "$UP" --bearer "$USER_:$PASS_" && P2=$PORT &&
  pt_start_proxy reg-f "$UP" --tls "$TLS" --bearer "$USER_:$PASS_" --realm "http://localhost:$P2/token"; then
  pt_push_fails "(f) HTTPS registry, plain-HTTP loopback realm: one line, no credentials sent" 1 \
    "^packhelper: push: token endpoint http://localhost:$P2/token is plain HTTP" \
    --ca-file "$CA" -u "$USER_" --password-stdin "$IMG_TAR" "localhost:$PORT/$repo-f:f"
  no_creds "(f)" rec-f
fi

# ---- (g) HTTPS Bearer registry, HTTPS realm on another origin: allowed
tok=tok-$(ph_rand)$(ph_rand)
if pt_start_proxy realm-g "$UP" --tls "$TLS" --bearer "$USER_:$PASS_" --token "$tok" && P2=$PORT &&
  pt_start_proxy reg-g "$UP" --tls "$TLS" --bearer "$USER_:$PASS_" --token "$tok" \
    --realm "https://localhost:$P2/token"; then
  pt_push_ok "(g) HTTPS realm on another origin: the push completes" \
    --ca-file "$CA" -u "$USER_" --password-stdin "$IMG_TAR" "localhost:$PORT/$repo-g:g"
  ph_ge "(g) the realm got the credentials over HTTPS" \
    "$(jl realm-g "select(.token and .authz == \"Basic $B64\" and .status == 200) | .path" | grep -c .)" 1
  ph_eq "(g) the token went to the registry only, never to the realm" 0 \
    "$(jl realm-g 'select(.authz | startswith("Bearer")) | .path' | grep -c .)"
  ph_eq "(g) the upstream has the pushed digest" "$DIGEST" "$(crane digest --insecure "localhost:$UP/$repo-g:g" 2>&1)"
fi

# ---- (h) a Location with user info
if pt_start_proxy reg-h "$UP" --basic "$USER_:$PASS_" --location-origin "http://x@127.0.0.1:$UP"; then
  pt_push_fails "(h) a Location with user info: one line" 1 \
    "^packhelper: push: localhost:$PORT gave a URL packhelper does not follow" \
    -u "$USER_" --password-stdin "$IMG_TAR" "localhost:$PORT/$repo-h:h"
fi
ph_finish
