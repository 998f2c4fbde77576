#!/usr/bin/env bash
# shellcheck disable=SC2153  # PORT, DIG... are lib.sh's
# tests/mirror/clients.sh - docker and containerd pull through the mirror.
#   A is packhelper serve; B mirrors A twice over: as 127.0.0.1:A (the default
#   upstream) and as a made-up host name (mirror-up-RAND.test, in /etc/hosts,
#   --mirror-insecure), so the same content reaches B by two namespaces.
#   docker pull 127.0.0.1:B/...: the image ID is A's config digest.
#   ctr images pull of mirror-up-RAND.test:A/... with a hosts.toml naming B as
#   its mirror: containerd asks B with ?ns=mirror-up-RAND.test:A; B's log
#   shows it; the image's digest is A's.
#   A stopped: docker (after rmi) and ctr (after rm and content rm) pull again.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mt_init clients
repo=m$RAND/img
UPNAME=mirror-up-$RAND.test

if [[ -z ${CONTAINERD_ADDRESS:-} ]]; then
  for s in /run/containerd/containerd.sock /run/docker/containerd/containerd.sock; do
    [[ -S $s ]] && { CONTAINERD_ADDRESS=$s; break; }
  done
fi
export CONTAINERD_ADDRESS=${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}
NS=ph-mirror-$RAND
ctr() { command ctr -n "$NS" "$@"; }
ctr_ns_rm() {
  ctr images ls -q 2>/dev/null | xargs -r ctr -n "$NS" images rm --sync >/dev/null 2>&1
  ctr leases ls -q 2>/dev/null | xargs -r ctr -n "$NS" leases rm --sync >/dev/null 2>&1
  ctr content ls -q 2>/dev/null | xargs -r ctr -n "$NS" content rm >/dev/null 2>&1
  command ctr namespaces rm "$NS" >/dev/null 2>&1
}
ph_cleanup ctr_ns_rm

pt_hosts_add "$UPNAME" || { ph_not_ok "add $UPNAME to /etc/hosts"; ph_finish; exit 1; }
pt_start_ph a || { ph_finish; exit 1; }
AP=$PORT A=127.0.0.1:$PORT
pt_start_ph b --mirror "http://$A" --mirror "http://$UPNAME:$AP" --mirror-insecure || { ph_finish; exit 1; }
B=127.0.0.1:$PORT
ph_require "push the test image to A" mt_image "$A" "$repo:v1" 800 3000
CFG=$(crane manifest --insecure "$A/$repo:v1" | jq -r .config.digest)

# ---- docker
docker_pull() { docker pull -q "$B/$repo:v1" >/dev/null 2>&1; }
ph_run "docker pull through B" docker_pull
ph_eq "docker's image ID is A's config digest" "$CFG" "$(docker image inspect -f '{{.Id}}' "$B/$repo:v1" 2>&1)"

# ---- containerd with a hosts.toml mirror (?ns=)
mkdir -p "$WORK/certs.d/$UPNAME:$AP"
cat >"$WORK/certs.d/$UPNAME:$AP/hosts.toml" <<EOS
server = "http://$UPNAME:$AP"
[host."http://$B"]
  capabilities = ["pull", "resolve"]
EOS
ctr_pull() { ctr images pull --hosts-dir "$WORK/certs.d" --plain-http "$UPNAME:$AP/$repo:v1" >"$WORK/ctr.out" 2>&1; }
mark=$(ph_mark "$WORK/b.log")
ph_run "ctr images pull through B (hosts.toml)" ctr_pull
ph_eq "ctr's image digest is A's" "$DIG" "$(ctr images ls 2>/dev/null | awk -v r="$UPNAME:$AP/$repo:v1" '$1 == r {print $3}')"
ph_since "$WORK/b.log" "$mark" >"$WORK/b.since"
ph_ge "containerd asked B with ?ns=$UPNAME:$AP" "$(mt_count "$WORK/b.since" "manifests/v1\\?ns=$UPNAME(:|%3A)$AP\" 200")" 1
ph_true "B stored it under the made-up host's prefix" test -d "$WORK/b.store/repos/${UPNAME}__$AP/$repo/_layout"

# ---- A stopped
ph_serve_stop a
docker rmi -f "$B/$repo:v1" >/dev/null 2>&1
ph_run "A stopped: docker pull through B again" docker_pull
ph_eq "... the same image" "$CFG" "$(docker image inspect -f '{{.Id}}' "$B/$repo:v1" 2>&1)"
docker rmi -f "$B/$repo:v1" >/dev/null 2>&1
ctr_ns_rm
ph_run "A stopped: ctr images pull through B again" ctr_pull
ph_eq "... the same digest" "$DIG" "$(ctr images ls 2>/dev/null | awk -v r="$UPNAME:$AP/$repo:v1" '$1 == r {print $3}')"
ph_serve_stop b
ph_finish
