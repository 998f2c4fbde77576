#!/usr/bin/env bash
# tests/interop/podman-partial.sh REGISTRY - podman's partial pulls of zstd:chunked
# layers, a real client of multi-range requests (RFC 9110 14.6): containers/storage
# reads the layer's table of contents with one Range, then asks for every chunk it
# lacks in one request of up to 1024 ranges and reads the 206 multipart/byteranges
# answer part by part. Checked: the pull is partial (podman says so), the
# server's own log shows the multi-range answer, the files are byte-exact, and a
# second image sharing most files fetches only the chunks it lacks.
#
# REGISTRY (the shared one) is only checked to answer: this script runs its own
# `packhelper serve` (tests/lib.sh's ph_serve_start) to read its log. Podman runs
# rootful with private stores under WORK: a vfs store to push from, and an
# overlay store for the partial pulls (containers/storage applies partial layers
# with the overlay driver only), configured by a private storage.conf
# (CONTAINERS_STORAGE_CONF; /etc/containers/storage.conf is not read) with
# pull_options enable_partial_images; registries.conf and the auth file are
# private too.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iop_init podman-partial "$@"

P=$WORK/podman
mkdir -p "$P/tmp" "$WORK/rootfs/data"
ph_serve_start partial || { ph_not_ok "packhelper serve for the partial pulls starts"; ph_finish; exit 1; }
LOG=$WORK/partial.log
R=127.0.0.1:$PORT
REG=$R # ph_get_manifest's registry
printf 'unqualified-search-registries = []\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$R" \
  >"$WORK/registries.conf"
export CONTAINERS_REGISTRIES_CONF=$WORK/registries.conf
echo '{}' >"$WORK/auth.json"
export REGISTRY_AUTH_FILE=$WORK/auth.json
cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$P/prun"
graphroot = "$P/proot"
[storage.options]
pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos = ""}
EOF
# the pusher's store (vfs: nothing mounted); the puller's is the storage.conf above
printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' "$P/run" "$P/root" \
  >"$WORK/storage-push.conf"
pusher() {
  CONTAINERS_STORAGE_CONF=$WORK/storage-push.conf command podman --tmpdir "$P/tmp" \
    --events-backend file --cgroup-manager cgroupfs "$@"
}
puller() {
  CONTAINERS_STORAGE_CONF=$WORK/storage.conf command podman --tmpdir "$P/tmp" \
    --events-backend file --cgroup-manager cgroupfs "$@"
}
ph_cleanup "puller rmi -af; pusher rmi -af"

overlay_ok() { [[ $(puller info --format '{{.Store.GraphDriverName}} {{.Store.GraphRoot}}' 2>/dev/null) == "overlay $P/proot" ]]; }
ph_require "podman runs with a private overlay store ($P/proot)" overlay_ok

# 100 files: random (incompressible) and text, 4 MiB or so
for i in $(seq 1 60); do head -c $((i * 1300 + 1000)) /dev/urandom >"$WORK/rootfs/data/r$i"; done
for i in $(seq 1 40); do seq 1 $((i * 700)) >"$WORK/rootfs/data/t$i"; done
tar -C "$WORK/rootfs" -cf "$WORK/one.tar" .
# the second image: the same files but three changed and one added
cp -a "$WORK/rootfs" "$WORK/rootfs2"
for f in r7 r30 t11; do head -c 5000 /dev/urandom >"$WORK/rootfs2/data/$f"; done
head -c 70000 /dev/urandom >"$WORK/rootfs2/data/new"
tar -C "$WORK/rootfs2" -cf "$WORK/two.tar" .

REPO=interop/partial$RAND
push() {
  pusher import -q "$WORK/$1.tar" "$R/$REPO:$1" &&
    pusher push --tls-verify=false --compression-format zstd:chunked "$R/$REPO:$1"
}
ph_run "podman push --compression-format zstd:chunked $REPO:one" push one
ph_run "podman push --compression-format zstd:chunked $REPO:two" push two
ph_get_manifest "$REPO" one "$WORK/m1.json" >/dev/null
ph_match "the layer is zstd:chunked (its table of contents is annotated)" \
  'io.containers.zstd-chunked.manifest-position' "$(cat "$WORK/m1.json")"
LAYER1=$(jq -r '.layers[0].digest' "$WORK/m1.json" 2>/dev/null)
SIZE1=$(jq -r '.layers[0].size' "$WORK/m1.json" 2>/dev/null)
[[ $SIZE1 =~ ^[0-9]+$ ]] || SIZE1=0

# pull_partial TAG: pull with debug logging into $WORK/pull-TAG.log; the server
# log lines of that pull into $WORK/serve-TAG.log
pull_partial() {
  local mark
  mark=$(ph_mark "$LOG")
  puller --log-level debug pull --tls-verify=false "$R/$REPO:$1" >"$WORK/pull-$1.log" 2>&1
  local rc=$?
  ph_since "$LOG" "$mark" >"$WORK/serve-$1.log"
  return $rc
}
# same_tree TAG DIR: the pulled image's files are DIR's, byte for byte
same_tree() {
  local m rc
  m=$(puller image mount "$R/$REPO:$1") || return 1
  diff -r "$m" "$2"
  rc=$?
  puller image unmount "$R/$REPO:$1" >/dev/null
  return $rc
}
# multirange_bytes TAG: the body bytes of the 206 answers with N ranges (N >= 2)
multirange_bytes() {
  awk '/" 206 [0-9]+ [0-9.]+ms [0-9]+ ranges$/ { n += $(NF-3) } END { print n + 0 }' "$WORK/serve-$1.log"
}

ph_run "podman pull (partial images on) $REPO:one" pull_partial one
ph_match "podman pulled the layer partially" "Retrieved partial blob $LAYER1" "$(cat "$WORK/pull-one.log")"
ph_match "the server answered a multi-range GET of the layer with 206 multipart/byteranges" \
  "\"GET /v2/$REPO/blobs/$LAYER1\" 206 [0-9]+ [0-9.]+ms [0-9]+ ranges" "$(cat "$WORK/serve-one.log")"
ph_log "pull one: $(grep -cE ' [0-9]+ ranges$' "$WORK/serve-one.log") multi-range GETs," \
  "$(grep -oE '[0-9]+ ranges$' "$WORK/serve-one.log" | tr '\n' ' ')of a layer of $SIZE1 bytes"
ph_true "the pulled files are the pushed ones, byte for byte" same_tree one "$WORK/rootfs"

ph_run "podman pull (partial images on) $REPO:two" pull_partial two
ph_get_manifest "$REPO" two "$WORK/m2.json" >/dev/null
LAYER2=$(jq -r '.layers[0].digest' "$WORK/m2.json" 2>/dev/null)
SIZE2=$(jq -r '.layers[0].size' "$WORK/m2.json" 2>/dev/null)
[[ $SIZE2 =~ ^[0-9]+$ ]] || SIZE2=0
ph_match "the second layer was pulled partially too" "Retrieved partial blob $LAYER2" "$(cat "$WORK/pull-two.log")"
B2=$(multirange_bytes two)
ph_log "pull two: $B2 bytes in multi-range answers for a layer of $SIZE2 bytes ($LAYER2)"
ph_ge "the second pull asked for some chunks in several ranges" "$B2" 1
ph_lt "and for well under half of its layer (the rest was local)" "$((B2 * 2))" "$SIZE2"
ph_true "the second image's files are the pushed ones, byte for byte" same_tree two "$WORK/rootfs2"

ph_serve_stop partial || ph_not_ok "packhelper serve (partial) stops cleanly"
puller_clean() { puller rmi -af && pusher rmi -af; }
ph_run "podman rmi -a at the end" puller_clean
ph_finish
