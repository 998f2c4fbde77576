#!/usr/bin/env bash
# shellcheck disable=SC2153  # PORT is lib.sh's
# tests/mirror/dockerd.sh - Docker's registry-mirrors, for real: a second
# dockerd of the test's own (its own data root, exec root, containerd, socket;
# vfs, a bridge of its own, no iptables; the machine's daemon is left alone)
# whose
# daemon.json is only {"registry-mirrors": ["http://127.0.0.1:B"]}.
#   A is packhelper serve holding library/hello:latest (a FROM-scratch image
#   of tests/interop/hello.c, built static; a label with RAND makes its config
#   digest this run's own); B is packhelper serve --mirror http://A.
#   `docker pull hello` (docker.io/library/hello) arrives through B: B's log
#   shows the manifest and both blobs asked for without ?ns=, B stored them
#   under A's prefix, the image ID is A's config digest, `docker run` prints
#   the greeting.
#   A stopped, the image removed: the pull works again from B's store.
#   B stopped too: the pull fails, and dockerd's log shows it fell back to
#   registry-1.docker.io (unreachable here): so a pull that worked came
#   through B.
# Not `--bridge none`: a dockerd without a bridge deletes the link named
# docker0 at start-up (moby's removeDefaultBridgeInterface), and it shares the
# machine's network namespace, so it would take the machine daemon's bridge
# with it.  It gets a bridge of its own (phm<rand>, a 198.18.x.0/24 address:
# RFC 2544's benchmarking range), removed afterwards; docker0 is checked to be
# there after the run if it was before.
# Needs root and /usr/sbin/dockerd (Docker 20.10); if the test daemon cannot
# start, that is a failed check.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mt_init dockerd
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DW=$WORK/d # the test daemon's files
DSOCK=$DW/docker.sock
tdocker() { docker -H "unix://$DSOCK" "$@"; }

# the test daemon's processes, by id: dockerd, the containerd it started, any
# shim of that containerd (their command lines name $DW, this run's own)
dockerd_pids() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$DW/" && echo "${p#/proc/}"
  done
}
dockerd_stop() {
  local pid i pids
  pid=$(cat "$DW/docker.pid" 2>/dev/null) && kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    [[ -z $(dockerd_pids) ]] && break
    sleep 0.2
  done
  pids=$(dockerd_pids)
  # shellcheck disable=SC2086  # one word per pid
  [[ -z $pids ]] || kill -KILL $pids 2>/dev/null
  # whatever it left mounted under its directories, deepest first
  awk -v d="$DW/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r mp; do umount -l "$mp" 2>/dev/null; done
  rm -rf "$DW"
  # the cgroup parent its containers had (empty once they are gone)
  rmdir /sys/fs/cgroup/*/"ph-mirror-$RAND" /sys/fs/cgroup/"ph-mirror-$RAND" 2>/dev/null
}

BR=phm${RAND:0:8}
br_up() {
  ip link add "$BR" type bridge &&
    ip addr add "198.18.$((16#${RAND:0:2})).1/24" dev "$BR" &&
    ip link set "$BR" up
}
br_down() { ip link del "$BR" 2>/dev/null; return 0; }

dockerd_start() {
  mkdir -p "$DW"
  ph_cleanup br_down
  br_up || return 1
  printf '{"registry-mirrors": ["http://%s"]}\n' "$1" >"$DW/daemon.json"
  ph_cleanup dockerd_stop
  # --config-file: not the machine's /etc/docker/daemon.json (whose storage
  # driver would clash with --storage-driver)
  (cd "$DW" && exec "$DOCKERD" --config-file "$DW/daemon.json" --data-root "$DW/root" \
    --exec-root "$DW/exec" --pidfile "$DW/docker.pid" -H "unix://$DSOCK" \
    --storage-driver vfs --bridge "$BR" --iptables=false --ip6tables=false --ip-masq=false \
    --cgroup-parent "ph-mirror-$RAND" </dev/null >>"$DW/dockerd.log" 2>&1 &)
  ph_wait_for 60 tdocker_up
}
tdocker_up() { tdocker version >/dev/null 2>&1; }

had_docker0=0
ip link show docker0 >/dev/null 2>&1 && had_docker0=1

# ---- the image on A, B mirroring A
pt_start_ph a || { ph_finish; exit 1; }
AP=$PORT A=127.0.0.1:$PORT
pt_start_ph b --mirror "http://$A" || { ph_finish; exit 1; }
B=127.0.0.1:$PORT
make_hello() {
  exec >"$WORK/hello.log" 2>&1
  mkdir -p "$WORK/hello" &&
    musl-gcc -static -Os -s -o "$WORK/hello/hello" "$PH_LIB/interop/hello.c" &&
    tar -C "$WORK/hello" -cf "$WORK/hello.tar" hello &&
    crane append --insecure --oci-empty-base -f "$WORK/hello.tar" -t "$A/library/hello:latest" &&
    crane mutate --insecure --entrypoint /hello --set-platform linux/amd64 \
      --label "packhelper.test.run=$RAND" "$A/library/hello:latest"
}
ph_require "library/hello:latest on A (a static hello in a FROM-scratch image)" \
  eval '(make_hello)'
CFG=$(crane manifest --insecure "$A/library/hello:latest" | jq -r .config.digest)
LAYER=$(crane manifest --insecure "$A/library/hello:latest" | jq -r '.layers[0].digest')

# ---- the test daemon
if [[ ! -x $DOCKERD ]] || ! dockerd_start "$B"; then
  ph_not_ok "start a test dockerd ($DOCKERD) with registry-mirrors http://$B"
  tail -n 15 "$DW/dockerd.log" 2>/dev/null | sed 's/^/#   /' >&2
  ph_finish
  exit 1
fi
ph_ok "a test dockerd runs with daemon.json {\"registry-mirrors\": [\"http://$B\"]} (no insecure-registries)"
ph_match "it names B as its mirror" "^ *http://$B/?\$" "$(tdocker info 2>/dev/null | grep -A1 'Registry Mirrors:')"

pull() { tdocker pull hello; }
# lines of LOG since MARK: "METHOD PATH" STATUS, for B's log
b_asked() { mt_count "$WORK/b.since" "\"$1 /v2/library/hello/$2\" 200"; }
mark=$(ph_mark "$WORK/b.log")
ph_run "docker pull hello (docker.io/library/hello) through the mirror" pull
ph_since "$WORK/b.log" "$mark" >"$WORK/b.since"
ph_ge "B was asked for /v2/library/hello/manifests/latest (no ?ns=)" "$(b_asked '(HEAD|GET)' manifests/latest)" 1
ph_eq "B was asked for the layer" 1 "$(b_asked GET "blobs/$LAYER")"
ph_eq "B was asked for the config" 1 "$(b_asked GET "blobs/$CFG")"
ph_true "B stored it under A's prefix" test -d "$WORK/b.store/repos/127.0.0.1__$AP/library/hello/_layout"
ph_eq "the image ID is A's config digest" "$CFG" "$(tdocker image inspect -f '{{.Id}}' hello 2>&1)"
ph_eq "docker run --network none hello prints the greeting" "hello from x86_64" \
  "$(tdocker run --rm --network none hello 2>&1)"

# ---- A stopped: B's store
ph_serve_stop a
tdocker rmi -f hello >/dev/null 2>&1
ph_eq "the image is gone from the test daemon" 0 "$(tdocker images -q hello 2>&1 | wc -l)"
mark=$(ph_mark "$WORK/b.log")
ph_run "A stopped: docker pull hello again" pull
ph_since "$WORK/b.log" "$mark" >"$WORK/b.since"
ph_ge "... through B (manifests/latest)" "$(b_asked '(HEAD|GET)' manifests/latest)" 1
ph_eq "... B served the layer" 1 "$(b_asked GET "blobs/$LAYER")"
ph_eq "... the same image ID" "$CFG" "$(tdocker image inspect -f '{{.Id}}' hello 2>&1)"
ph_eq "... and it runs" "hello from x86_64" "$(tdocker run --rm --network none hello 2>&1)"

# ---- B stopped too: dockerd falls back to Docker Hub, which is out of reach
ph_serve_stop b
tdocker rmi -f hello >/dev/null 2>&1
mark=$(ph_mark "$DW/dockerd.log")
no_pull() { ! pull; }
ph_true "B stopped: docker pull hello fails" no_pull
ph_since "$DW/dockerd.log" "$mark" >"$WORK/dockerd.since"
ph_ge "... dockerd tried B first" "$(mt_count "$WORK/dockerd.since" "next endpoint.*http://$B/v2/")" 1
ph_ge "... then registry-1.docker.io, out of reach here (so the pulls above came through B)" \
  "$(mt_count "$WORK/dockerd.since" 'next endpoint.*https://registry-1\.docker\.io/v2/')" 1
dockerd_stop
ph_eq "the test daemon is stopped, nothing of it mounted or running, its files gone" 0 \
  "$( (dockerd_pids; awk -v d="$DW/" 'index($2, d) == 1' /proc/self/mounts
    ls -d "$DW" /sys/fs/cgroup/*/"ph-mirror-$RAND" 2>/dev/null) | wc -l)"
br_down
ph_true "its bridge $BR is gone" eval "! ip link show $BR >/dev/null 2>&1"
if ((had_docker0)); then
  ph_true "the machine's docker0 is still there (the test daemon had a bridge of its own)" \
    ip link show docker0
fi
ph_finish
