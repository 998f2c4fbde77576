#!/usr/bin/env bash
# tests/soak/run.sh [BINARY] - a bounded mixed workload against ONE `packhelper serve`.
#
# For SOAK_SECONDS (default 120) on a loopback port, all at once:
#   crane (2 pushers: append onto a shared base, plus indexes), skopeo (registry
#   to registry copies, pulls into an OCI layout), regctl (copies, tag and
#   manifest deletes), oras (artifact pushes, pulls, referrers), a crane puller
#   that checks every pulled byte; from tests/soak/soak.py: tag churn (many tags
#   moved and deleted, manifests deleted by digest), blob and manifest deletes,
#   a reader that reads a big blob at a trickle, a writer that trickles PATCH
#   bodies, clients that vanish half-way (upload sessions left open, half a head,
#   half a body, silent sockets), clients that never read their responses.
# Half-way through, the server is killed with SIGKILL and restarted on the same
# store.  Then the load stops and the checks run:
#   - every blob in blobs/ (and every repository's link) hashes to its name on
#     disk, and every held blob is served byte-exact over HTTP;
#   - every tag resolves to a manifest whose referenced blobs and child
#     manifests exist and are byte-exact; every push acknowledged (before or
#     after the kill) is still there with its digest; churned tags are where the
#     journal of acknowledged operations left them;
#   - after the load, descriptors come back to within 4 of the idle figure
#     (waiting up to SOAK_SETTLE seconds) and RSS to within 2x idle + 4 MiB,
#     where "idle" is a fresh process on the same final store; peak RSS under
#     load stays below idle + SOAK_PEAK_RSS_MIB (default 64);
#   - the server still answers, stops cleanly on SIGTERM, and a fresh process on
#     the store serves exactly the same tags and digests;
#   - no client saw an error outside the kill -9 window.
# Ends with "soak: N passed, N failed" and exits non-zero on any failure.
#
# Knobs: SOAK_SECONDS (120), SOAK_OP_TIMEOUT (120, per client command),
# SOAK_SETTLE (30), SOAK_PEAK_RSS_MIB (64), SOAK_NONREADERS (32),
# SOAK_ABANDON_RATE (4/s), SOAK_CHURN_TAGS (200), SOAK_BIG_MIB (32),
# SOAK_TRICKLE_KIBS (64), SOAK_KEEP=1 keeps the work dir (store, logs, events),
# SOAK_STORE_MIB=N puts the store on an N MiB tmpfs (root) so that it fills up.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$here/../lib.sh"
PH_KEEP=${SOAK_KEEP:-}

BIN=$(realpath "${1:-$PH_ROOT/build/packhelper}")
PH=$BIN
SOAK_SECONDS=${SOAK_SECONDS:-120}
SOAK_OP_TIMEOUT=${SOAK_OP_TIMEOUT:-120}
SOAK_SETTLE=${SOAK_SETTLE:-30}
SOAK_PEAK_RSS_MIB=${SOAK_PEAK_RSS_MIB:-64}
export SOAK_NONREADERS=${SOAK_NONREADERS:-32} SOAK_ABANDON_RATE=${SOAK_ABANDON_RATE:-4}
export SOAK_CHURN_TAGS=${SOAK_CHURN_TAGS:-200} SOAK_BIG_MIB=${SOAK_BIG_MIB:-32}
export SOAK_TRICKLE_KIBS=${SOAK_TRICKLE_KIBS:-64}
[[ -x $BIN ]] || { echo "usage: $0 [path/to/packhelper]   ($BIN is not executable)" >&2; exit 2; }
[[ $SOAK_SECONDS =~ ^[0-9]+$ && $SOAK_SECONDS -ge 20 ]] || { echo "$0: SOAK_SECONDS must be >= 20" >&2; exit 2; }

ph_init soak
ph_tools
STORE=$WORK/store
PH_SERVE_ROOT=$STORE
# one port for the whole run: the restarts after kill -9 come back on it
SERVE_PORT_server=$(ph_free_port)
REG=127.0.0.1:$SERVE_PORT_server
SOAK_PY=(python3 "$here/soak.py")
SPID=
WORKERS=()

now() { printf '%s' "${EPOCHREALTIME%.*}"; }
ms_since() { echo $(( (${EPOCHREALTIME/./} - ${1/./}) / 1000 )); }

# ---- processes: every one started here is killed at exit, children first-class
# tree PID... -> PID and all its descendants (by parent pid, never by name)
tree() {
  local p
  for p in "$@"; do
    echo "$p"
    # shellcheck disable=SC2046
    tree $(pgrep -P "$p" 2>/dev/null)
  done
}
kill_tree() {
  local pids
  [[ $# -gt 0 ]] || return 0
  # freeze the whole tree first so no loop starts a new child behind our back
  pids=$(tree "$@")
  [[ -n $pids ]] || return 0
  # shellcheck disable=SC2086
  kill -STOP $pids 2>/dev/null
  pids=$(tree "$@")
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  return 0
}
cleanup_all() {
  kill_tree "${WORKERS[@]}"
  [[ -n ${SAMPLER:-} ]] && kill_tree "$SAMPLER"
  wait 2>/dev/null
}

# ---- the server (tests/lib.sh's, log $WORK/server.log): start_server SECONDS
# starts it (again) on the same port and store and waits until it is ready
start_server() {
  PH_SERVE_WAIT=$1 PH_WAIT_STEP=0.01 ph_serve_start server || return 1
  SPID=$PID
  echo "$SPID" >"$WORK/server.pid"
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# ---- clients: op CLIENT OP CMD... runs CMD under timeout, appends one event line
op() {
  local client=$1 name=$2 t0=$EPOCHREALTIME rc full=
  shift 2
  timeout -k 5 "$SOAK_OP_TIMEOUT" "$@" >"$WORK/out.$client" 2>&1
  rc=$?
  if [[ $rc -eq 0 ]]; then
    echo "$t0 $EPOCHREALTIME $client $name ok" >>"$WORK/events.$client"
  else
    # a full disk (SOAK_STORE_MIB) is told apart from other failures by its status
    # (and the 429 of a session budget filled by sessions a 507 left open)
    grep -qiE '507|Insufficient Storage|no space left|toomanyrequests' "$WORK/out.$client" && full=" (http 507)"
    echo "$t0 $EPOCHREALTIME $client $name error exit $rc$full: $(grep -v '^\s*$' "$WORK/out.$client" | tail -n 2 | tr -s ' \n\t' ' ' | cut -c1-240)" \
      >>"$WORK/events.$client"
  fi
  return $rc
}
event() { echo "$1 $EPOCHREALTIME $2 $3 $4 ${5:-}" >>"$WORK/events.$2"; }
ack() { echo "$1 $2 $3 $EPOCHREALTIME" >>"$WORK/acked"; }
running() { (($(now) < DEADLINE)); }
# a random acknowledged image (not an oras artifact): "repo tag digest"
pick_image() { grep -v '^soak/oras ' "$WORK/acked" | shuf -n 1; }

crane() { command crane --insecure "$@"; }
regctl() { HOME=$WORK/home command regctl "$@"; }
skopeo() { command skopeo --policy "$WORK/policy.json" "$@"; }
export DOCKER_CONFIG=$WORK/docker REGCTL_CONFIG=$WORK/home/regctl-config.json
export REGISTRY_AUTH_FILE=$WORK/auth.json ORAS_CACHE=

# random_tar DIR MAXKIB: a tarball of one file of random size and bytes
random_tar() {
  rm -rf "$1" && mkdir -p "$1/c"
  head -c $(((RANDOM % $2 + 1) * 1024)) /dev/urandom >"$1/c/f.bin"
  tar -C "$1/c" -cf "$1/l.tar" f.bin
}

# verify_oci_dir DIR DIGEST: the layout's index names DIGEST and every blob hashes to its name
verify_oci_dir() {
  local f bad=0
  grep -q "${2#sha256:}" "$1/index.json" || { echo "index.json does not name $2"; return 1; }
  for f in "$1"/blobs/sha256/*; do
    [[ $(ph_sha256 "$f") == "$(basename "$f")" ]] || { echo "CORRUPT blob $(basename "$f")"; bad=1; }
  done
  return $bad
}

worker_crane() {
  local k=$1 i=0 repo=soak/crane-$1 d dir=$WORK/w-crane-$1
  while running; do
    i=$((i + 1))
    random_tar "$dir" $((i % 10 == 0 ? 8192 : 1024))
    if op "crane-$k" push crane append -b "$REG/soak/base:v1" -f "$dir/l.tar" -t "$REG/$repo:t$i"; then
      d=$(grep -oE 'sha256:[0-9a-f]{64}' "$WORK/out.crane-$k" | tail -n 1)
      ack "$repo" "t$i" "$d"
      if ((i % 5 == 0)) && running; then
        op "crane-$k" index crane index append -m "$REG/$repo:t$i" -m "$REG/soak/base:v1" -t "$REG/$repo:idx$i" &&
          ack "$repo" "idx$i" "$(grep -oE 'sha256:[0-9a-f]{64}' "$WORK/out.crane-$k" | tail -n 1)"
      fi
    fi
  done
}

worker_puller() {
  local i=0 repo tag d dir=$WORK/w-pull t0
  while running; do
    i=$((i + 1))
    read -r repo tag d _ <<<"$(pick_image)"
    [[ -n $repo ]] || { sleep 1; continue; }
    rm -rf "$dir"
    if op puller pull crane pull --format oci "$REG/$repo:$tag" "$dir"; then
      t0=$EPOCHREALTIME
      # crane pull of an index writes the index; of an image, the image
      if verify_oci_dir "$dir" "$d" >"$WORK/out.puller.v" 2>&1; then
        event "$t0" puller pull-verify ok
      else
        event "$t0" puller pull-verify CORRUPT "$repo:$tag $(head -c 200 "$WORK/out.puller.v")"
      fi
    fi
  done
}

worker_skopeo() {
  local i=0 repo tag d dir=$WORK/w-skopeo t0
  local notls=(--src-tls-verify=false --dest-tls-verify=false)
  while running; do
    i=$((i + 1))
    read -r repo tag d _ <<<"$(pick_image)"
    [[ -n $repo ]] || { sleep 1; continue; }
    [[ $tag == idx* ]] && continue # skopeo copies one platform of an index unless --all
    if op skopeo copy skopeo copy "${notls[@]}" --digestfile "$WORK/skopeo.d" \
      "docker://$REG/$repo:$tag" "docker://$REG/soak/skopeo:t$i"; then
      ack soak/skopeo "t$i" "$(cat "$WORK/skopeo.d")"
    fi
    running || break
    rm -rf "$dir"
    if op skopeo pull skopeo copy "${notls[@]}" "docker://$REG/$repo:$tag" "oci:$dir:x"; then
      t0=$EPOCHREALTIME
      if [[ $(jq -r '.layers | length' "$dir/blobs/sha256/$(jq -r '.manifests[0].digest' "$dir/index.json" | cut -d: -f2)") -ge 1 ]] &&
        verify_oci_dir "$dir" "" >"$WORK/out.skopeo.v" 2>&1; then
        event "$t0" skopeo pull-verify ok
      else
        event "$t0" skopeo pull-verify CORRUPT "$repo:$tag $(head -c 200 "$WORK/out.skopeo.v")"
      fi
    fi
  done
}

worker_regctl() {
  local i=0 repo tag d
  while running; do
    i=$((i + 1))
    read -r repo tag d _ <<<"$(pick_image)"
    [[ -n $repo ]] || { sleep 1; continue; }
    op regctl copy regctl image copy "$REG/$repo:$tag" "$REG/soak/regctl:t$i" && ack soak/regctl "t$i" "$d"
    running || break
    # a short-lived copy, then its tag or its manifest goes
    if op regctl copy-tmp regctl image copy "$REG/$repo:$tag" "$REG/soak/regctl-tmp:x$i"; then
      if ((i % 2)); then
        op regctl tag-delete regctl tag delete "$REG/soak/regctl-tmp:x$i"
      else
        op regctl manifest-delete regctl manifest delete "$REG/soak/regctl-tmp@$d"
      fi
    fi
  done
}

worker_oras() {
  local i=0 d dir=$WORK/w-oras t0
  mkdir -p "$dir"
  while running; do
    i=$((i + 1))
    rm -rf "$dir" && mkdir -p "$dir/out"
    head -c $(((RANDOM % 512 + 1) * 1024)) /dev/urandom >"$dir/payload.bin"
    if (cd "$dir" && op oras push oras push --plain-http --format json --artifact-type application/vnd.soak.v1 \
      "$REG/soak/oras:t$i" payload.bin:application/octet-stream); then
      d=$(jq -r '.digest // empty' "$WORK/out.oras" 2>/dev/null)
      ack soak/oras "t$i" "$d"
      if ((i % 3 == 0)) && running; then
        head -c 700 /dev/urandom >"$dir/sig.bin"
        (cd "$dir" && op oras attach oras attach --plain-http --artifact-type application/vnd.soak.sig \
          "$REG/soak/oras:t$i" sig.bin:application/octet-stream)
      fi
      running || break
      if op oras pull oras pull --plain-http -o "$dir/out" "$REG/soak/oras:t$i"; then
        t0=$EPOCHREALTIME
        if cmp -s "$dir/payload.bin" "$dir/out/payload.bin"; then
          event "$t0" oras pull-verify ok
        else
          event "$t0" oras pull-verify CORRUPT "soak/oras:t$i pulled file differs"
        fi
      fi
    fi
  done
}

sampler() {
  local pid r f
  while :; do
    pid=$(cat "$WORK/server.pid" 2>/dev/null)
    if [[ -n $pid ]]; then
      r=$(rss_kib "$pid") f=$(fds "$pid")
      echo "$EPOCHREALTIME $pid ${r:-0} ${f:-0}" >>"$WORK/samples"
    fi
    sleep 0.25
  done
}

# =============================================================================
ph_log "soak: $BIN on $REG for ${SOAK_SECONDS}s, work dir $WORK"
# SOAK_STORE_MIB: the store is a tmpfs of that size (needs root), so the disk fills
# up during the load: 507s are then expected; nothing may ever be corrupt
export SOAK_STORE_MIB=${SOAK_STORE_MIB:-}
if [[ -n $SOAK_STORE_MIB ]]; then
  mkdir -p "$STORE"
  mount -t tmpfs -o "size=${SOAK_STORE_MIB}m,mode=0755" tmpfs "$STORE" || { echo "$0: cannot mount a tmpfs store" >&2; exit 2; }
  ph_cleanup "umount -l '$STORE'"
  ph_log "store: a ${SOAK_STORE_MIB} MiB tmpfs"
fi
ph_cleanup cleanup_all
mkdir -p "$WORK/home" "$WORK/docker"
echo '{}' >"$WORK/docker/config.json"
echo '{}' >"$WORK/auth.json"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$WORK/policy.json"
: >"$WORK/acked"

ph_require "server starts and answers GET /readyz" start_server 10
sleep 0.5
IDLE0_RSS=$(rss_kib "$SPID") IDLE0_FDS=$(fds "$SPID")
ph_log "idle at start (empty store): RSS ${IDLE0_RSS} KiB, ${IDLE0_FDS} fds"

regctl registry set --tls disabled "$REG" >/dev/null 2>&1
regctl config set --docker-cred=false --docker-cred-helper="" >/dev/null 2>&1 || true
setup_ok=1
"${SOAK_PY[@]}" prep "$REG" "$WORK" >"$WORK/prep.out" 2>&1 || setup_ok=0
random_tar "$WORK/w-base" 4096
crane append -f "$WORK/w-base/l.tar" -t "$REG/soak/base:v1" >"$WORK/out.base" 2>&1 || setup_ok=0
ack soak/base v1 "$(grep -oE 'sha256:[0-9a-f]{64}' "$WORK/out.base" | tail -n 1)"
if [[ $setup_ok -ne 1 ]]; then
  ph_not_ok "setup: push soak/big, soak/huge and soak/base"
  cat "$WORK/prep.out" "$WORK/out.base" >&2
  ph_finish
  exit 1
fi
ph_ok "setup: soak/big (${SOAK_BIG_MIB} MiB blob), soak/huge (~4 MiB manifest), soak/base pushed"
IDLE1_RSS=$(rss_kib "$SPID") IDLE1_FDS=$(fds "$SPID")

# ---- the load
START=$(now)
DEADLINE=$((START + SOAK_SECONDS))
SAMPLER=
sampler &
SAMPLER=$!
worker_crane 1 & WORKERS+=($!)
worker_crane 2 & WORKERS+=($!)
worker_puller & WORKERS+=($!)
worker_skopeo & WORKERS+=($!)
worker_regctl & WORKERS+=($!)
worker_oras & WORKERS+=($!)
py() { "${SOAK_PY[@]}" "$@" 2>>"$WORK/python.err"; }
py churn "$REG" "$DEADLINE" "$WORK/events.churn" "$WORK/churn.log" & WORKERS+=($!)
py deleter "$REG" "$WORK" "$DEADLINE" "$WORK/events.deleter" & WORKERS+=($!)
py trickle-read "$REG" "$WORK" "$DEADLINE" "$WORK/events.trickle-read" & WORKERS+=($!)
py trickle-write "$REG" "$WORK" "$DEADLINE" "$WORK/events.trickle-write" & WORKERS+=($!)
py abandon "$REG" "$DEADLINE" "$WORK/events.abandon" & WORKERS+=($!)
py nonread "$REG" "$WORK" "$DEADLINE" "$WORK/events.non-reader" & WORKERS+=($!)
ph_log "load: ${#WORKERS[@]} clients until $(date -d "@$DEADLINE" +%T)"

# ---- kill -9 half-way, restart on the same store
sleep $((SOAK_SECONDS / 2))
OLD_PID=$SPID
T_KILL=$EPOCHREALTIME
ph_serve_stop server KILL 2>/dev/null
if start_server 30; then
  T_READY=$EPOCHREALTIME
  RESTART_MS=$(ms_since "$T_KILL")
  STARTUP_MS=$(grep -o '"startup_ms":[0-9]*' "$WORK/server.log" | tail -n 1 | cut -d: -f2)
  ph_ok "kill -9 of pid $OLD_PID, restarted on the same store: answering again ${RESTART_MS} ms after the kill (its own start-up: ${STARTUP_MS:-?} ms)"
else
  T_READY=$EPOCHREALTIME
  RESTART_MS=-1 STARTUP_MS=
  ph_not_ok "server restarted after kill -9 answers GET /readyz within 30 s"
fi
printf '{"t_kill": %s, "t_ready": %s}\n' "$T_KILL" "$T_READY" >"$WORK/kill.json"

# ---- the end of the load: workers finish their current operation
while running; do sleep 1; done
end=$(($(now) + SOAK_OP_TIMEOUT + 15))
for w in "${WORKERS[@]}"; do
  while kill -0 "$w" 2>/dev/null && (($(now) < end)); do sleep 0.2; done
done
left=0
for w in "${WORKERS[@]}"; do kill -0 "$w" 2>/dev/null && left=$((left + 1)); done
kill_tree "${WORKERS[@]}"
WORKERS=()
ph_eq "every client finished its last operation within its timeout" 0 "$left"
LOAD_END=$EPOCHREALTIME
{ kill_tree "$SAMPLER"; wait "$SAMPLER"; } 2>/dev/null
SAMPLER=

# ---- figures: idle, peak, settled
read -r PEAK_RSS PEAK_FDS < <(awk '{ if ($3 > r) r = $3; if ($4 > f) f = $4 } END { print r + 0, f + 0 }' "$WORK/samples")
settle_end=$(($(now) + SOAK_SETTLE))
while (($(now) < settle_end)) && (($(fds "$SPID") > IDLE0_FDS + 4)); do sleep 0.5; done
SETTLE_MS=$(ms_since "$LOAD_END")
FINAL_RSS=$(rss_kib "$SPID") FINAL_FDS=$(fds "$SPID")
ls -l "/proc/$SPID/fd" >"$WORK/final-fds.txt" 2>&1

# ---- the store, over HTTP and on disk
"${SOAK_PY[@]}" verify "$REG" "$STORE" "$WORK" >"$WORK/verify.out" 2>&1
while IFS= read -r line; do
  case $line in
    "ok - "*) ph_ok "${line#ok - }" ;;
    "not ok - "*) ph_not_ok "${line#not ok - }" ;;
    "verify: "*) ;;
    "#"*) ph_log "${line#\# }" ;;
    *) ph_log "verify: $line" ;;
  esac
done <"$WORK/verify.out"
grep -q '^verify: ' "$WORK/verify.out" || ph_not_ok "verify ran to its end (see the lines above)"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$REG/v2/")
code2=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Accept: $PH_ACCEPT" "http://$REG/v2/soak/base/manifests/v1")
ph_eq "the soaked server still answers (GET /v2/, GET soak/base:v1)" "200 200" "$code $code2"

# ---- a fresh process on the same store: the idle reference, and the same content
SOAKED_PID=$SPID
if ph_serve_stop server TERM 5; then
  ph_ok "the soaked server stops on SIGTERM within 5 s with status 0 ($SERVE_MS ms)"
else
  ph_not_ok "the soaked server stops on SIGTERM within 5 s with status 0 (exit $SERVE_RC after $SERVE_MS ms)"
fi
mv "$WORK/served.json" "$WORK/served.soaked.json" 2>/dev/null
if start_server 30; then
  sleep 1
  IDLE_RSS=$(rss_kib "$SPID") IDLE_FDS=$(fds "$SPID")
  # the restart serves exactly what the soaked process served
  "${SOAK_PY[@]}" verify "$REG" "$STORE" "$WORK" >"$WORK/verify2.out" 2>&1
  if cmp -s "$WORK/served.json" "$WORK/served.soaked.json" && grep -q '^verify: [0-9]* passed, 0 failed' "$WORK/verify2.out"; then
    ph_ok "a fresh process on the soaked store serves the same $(jq '[.[] | length] | add' "$WORK/served.json") tags with the same digests, and passes the same checks"
  else
    ph_not_ok "a fresh process on the soaked store serves the same tags and digests and passes the same checks ($(grep -c '^not ok' "$WORK/verify2.out") failed; diff $WORK/served*.json)"
  fi
else
  ph_not_ok "a fresh process starts on the soaked store"
  IDLE_RSS=$IDLE1_RSS IDLE_FDS=$IDLE0_FDS
fi

# ---- resource checks against the idle reference
lim_rss=$((2 * IDLE_RSS + 4096))
lim_fds=$((IDLE_FDS + 4))
lim_peak=$((IDLE_RSS + SOAK_PEAK_RSS_MIB * 1024))
if ((FINAL_FDS <= lim_fds)); then
  ph_ok "descriptors after the load: $FINAL_FDS <= idle $IDLE_FDS + 4 (settled in ${SETTLE_MS} ms)"
else
  ph_not_ok "descriptors after the load: $FINAL_FDS > idle $IDLE_FDS + 4 after ${SOAK_SETTLE} s ($(grep -c 'uploads/' "$WORK/final-fds.txt") are files in uploads/, $(grep -c 'socket:' "$WORK/final-fds.txt") sockets)"
fi
if ((FINAL_RSS <= lim_rss)); then
  ph_ok "RSS after the load: $FINAL_RSS KiB <= 2 x idle $IDLE_RSS KiB + 4 MiB"
else
  ph_not_ok "RSS after the load: $FINAL_RSS KiB > 2 x idle $IDLE_RSS KiB + 4 MiB"
fi
if ((PEAK_RSS <= lim_peak)); then
  ph_ok "peak RSS under load: $PEAK_RSS KiB <= idle $IDLE_RSS KiB + $SOAK_PEAK_RSS_MIB MiB"
else
  ph_not_ok "peak RSS under load: $PEAK_RSS KiB > idle $IDLE_RSS KiB + $SOAK_PEAK_RSS_MIB MiB ($SOAK_NONREADERS clients that never read a ~4 MiB manifest)"
fi

# ---- what the clients saw
"${SOAK_PY[@]}" report "$WORK" >"$WORK/report.out" 2>&1
while IFS= read -r line; do ph_log "${line#\# }"; done <"$WORK/report.out"
corrupt=$(cat "$WORK"/events.* | awk '$5 == "CORRUPT"' | wc -l)
ph_eq "no client ever received bytes that differ from what was pushed" 0 "$corrupt"
unexpected=$(grep -c . "$WORK/unexpected.txt" 2>/dev/null)
unexpected=${unexpected:-0}
if [[ $unexpected -eq 0 ]]; then
  ph_ok "no client saw an error outside the kill -9 window"
else
  ph_not_ok "$unexpected client operations failed outside the kill -9 window"
  sort "$WORK/unexpected.txt" | cut -c1-200 | uniq -c | sort -rn | head -n 12 | sed 's/^/#   /' >&2
fi

log_mib=$(($(stat -c %s "$WORK/server.log") / 1048576))
ph_log "figures: idle at start ${IDLE0_RSS} KiB / ${IDLE0_FDS} fds; after setup ${IDLE1_RSS} KiB / ${IDLE1_FDS} fds;" \
  "peak ${PEAK_RSS} KiB / ${PEAK_FDS} fds; after the load ${FINAL_RSS} KiB / ${FINAL_FDS} fds;" \
  "fresh process on the final store ${IDLE_RSS} KiB / ${IDLE_FDS} fds; restart after kill -9 ${RESTART_MS} ms" \
  "(start-up ${STARTUP_MS:-?} ms; a clean start on the final store $(grep -o '"startup_ms":[0-9]*' "$WORK/server.log" | tail -n 1 | cut -d: -f2) ms);" \
  "server log $(wc -l <"$WORK/server.log") lines (${log_mib} MiB); acked pushes $(wc -l <"$WORK/acked")"
ph_true "the server log stays under 64 MiB (${log_mib} MiB)" test "$log_mib" -lt 64
ph_serve_stop server
ph_finish
