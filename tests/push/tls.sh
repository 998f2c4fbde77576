#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/tls.sh - HTTPS and the scheme rules.
#   docker-registry 2.8 with TLS (a test CA, a certificate for DNS:localhost):
#     --ca-file works, no CA fails with one certificate line, --insecure works,
#     SSL_CERT_FILE works, a name the certificate does not carry fails.
#   A plain-HTTP registry under a non-loopback name (a temporary /etc/hosts
#     line): never plain HTTP without --insecure (and no request reaches the
#     server), plain HTTP with --insecure.
#   openssl s_server -tls1_3: fails with a line saying TLS 1.3 / BearSSL.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init tls
pt_image
pt_pki
repo=push-$RAND/tls

# ---- docker-registry over TLS
if pt_start_dist dist tls; then
  reg=localhost:$PORT
  pt_push_ok "TLS: push with --ca-file" --ca-file "$CA" "$IMG_TAR" "$reg/$repo:ca"
  d=$DIGEST
  ph_eq "TLS: the registry serves the pushed digest" "$d" "$(crane digest --insecure "$reg/$repo:ca" 2>&1)"
  ph_eq "TLS: the config is the image ID" "$IMG_ID" "sha256:$(crane config --insecure "$reg/$repo:ca" 2>/dev/null | ph_sha256)"
  pt_push_fails "TLS: without --ca-file the push fails with one certificate line" 1 \
    "^packhelper: push: $reg: certificate not trusted .*--ca-file" "$IMG_TAR" "$reg/$repo:noca"
  pt_push_ok "TLS: --insecure accepts the certificate" --insecure "$IMG_TAR" "$reg/$repo:insecure"
  ph_eq "TLS: --insecure push gives the same digest" "$d" "$DIGEST"
  SSL_CERT_FILE=$CA pt_push_ok "TLS: SSL_CERT_FILE is honoured like --ca-file" "$IMG_TAR" "$reg/$repo:envca"
  # a name the certificate does not carry (mapped to 127.0.0.1, not loopback by name)
  other=ph-push-tls-$RAND.example
  if pt_hosts_add "$other"; then
    pt_push_fails "TLS: a host name not in the certificate fails with one certificate line" 1 \
      "^packhelper: push: $other:$PORT: certificate" --ca-file "$CA" "$IMG_TAR" "$other:$PORT/$repo:wrongname"
  fi
  # BearSSL cannot check a certificate against an IP address
  pt_push_fails "TLS: an IP address with --ca-file fails with one line naming the IP limitation" 1 \
    "IP address" --ca-file "$CA" "$IMG_TAR" "127.0.0.1:$PORT/$repo:ip"
  ph_nomatch "TLS: ... and does not tell the user to pass the --ca-file they passed" 'pass --ca-file' "$LINE"
  ph_eq "TLS: every tag pushed over TLS is there" "ca envca insecure" \
    "$(crane ls --insecure "$reg/$repo" 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')"
fi

# ---- a plain-HTTP registry under a non-loopback name
if pt_start_ph plain; then
  name=ph-test-registry-$RAND.example
  if pt_hosts_add "$name"; then
    reg=$name:$PORT
    mark=$(ph_mark "$WORK/plain.log")
    pt_push_fails "non-loopback name, plain-HTTP server, no --insecure: fails (TLS)" 1 \
      "^packhelper: push: $reg: .*(TLS|SSL|HTTPS|https)" "$IMG_TAR" "$reg/$repo:plain"
    sleep 0.2
    ph_nomatch "non-loopback name: no HTTP request reached the server (no fallback to HTTP)" \
      '"(GET|HEAD|POST|PUT|PATCH) /v2' "$(ph_since "$WORK/plain.log" "$mark")"
    ph_match "non-loopback name: the line says the server may speak plain HTTP (--insecure)" \
      'insecure|plain HTTP|not TLS|not speak TLS' "$LINE"
    pt_push_ok "non-loopback name with --insecure: plain HTTP works" --insecure "$IMG_TAR" "$reg/$repo:plain"
    ph_wait_file "$WORK/plain.log" "manifests/plain" 5 >/dev/null
    ph_match "non-loopback name with --insecure: the server saw the push over HTTP" \
      "\"PUT /v2/$repo/manifests/plain\" 201" "$(cat "$WORK/plain.log")"
    ph_eq "non-loopback name with --insecure: the digest is the registry's" "$DIGEST" \
      "$(crane digest --insecure "localhost:$PORT/$repo:plain" 2>&1)"
  fi
fi

# ---- TLS 1.3 only
if ph_spawn s_server openssl s_server -tls1_3 -accept {PORT} -cert "$WORK/pki/server.pem" \
  -key "$WORK/pki/server.key" -www </dev/null; then
  pt_push_fails "TLS 1.3-only server: fails with one line" 1 "^packhelper: push: localhost:$PORT: " \
    --ca-file "$CA" "$IMG_TAR" "localhost:$PORT/$repo:tls13"
  ph_match "TLS 1.3-only server: the line says TLS 1.3 / BearSSL" 'TLS 1\.3.*BearSSL|BearSSL.*TLS 1\.3' "$LINE"
  ph_log "TLS 1.3-only server: the pusher said: $LINE"
else
  ph_not_ok "start openssl s_server -tls1_3"
fi
ph_finish
