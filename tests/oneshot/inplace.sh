#!/usr/bin/env bash
# tests/oneshot/inplace.sh - a ~300 MiB docker-save tarball mounted read-only
# into the one-shot container (uid 65532, the store on --tmpfs) is served in
# place: the log says "verified in place" for every byte, the store holds no
# layer bytes, and the container's memory stays a few MiB.
#
# Memory, read on the host (the image is FROM scratch: nothing to exec):
#   - the process: VmRSS and VmHWM (peak) of the container's PID 1, from
#     /proc/PID/status;
#   - the container: its memory cgroup's anonymous memory (v1 "rss", v2
#     "anon") plus "shmem", which is the --tmpfs store's bytes. Page cache of
#     the tarball is left out, and that is the honest choice: it is the
#     host's cache of the host's file, reclaimable, shared, and there whether
#     or not packhelper runs (docker stats' figure, usage minus inactive
#     file, counts whatever active cache happens to be charged to the
#     container, which depends on who read the file first).
# The control: the same tarball with --import-mode copy puts every layer on
# the tmpfs, and shmem shows it (so the measure can see a copy).
#   ONESHOT_INPLACE_MIB=N (default 300, 3 layers)
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init inplace
MIB=${ONESHOT_INPLACE_MIB:-300}
L=$((MIB * 1024 / 3))
ph_require "docker build FROM scratch ($MIB MiB, 3 layers)" ph_build_image "$SRC" "$L" "$L" "$L"
ph_run "docker save $SRC (chmod 644)" os_save "$WORK/image.tar" "$SRC"
LAYERS_B=$(tar -tvf "$WORK/image.tar" | awk '/layer.tar$/ { s += $3 } END { print s }')
BIGLAYER=$(tail -n1 <<<"$PH_DIFFIDS")

# os_mem NAME -> "VmRSS_KiB VmHWM_KiB anon_KiB shmem_KiB" of the container's PID 1 and cgroup
os_mem() {
  local pid cg st anon shmem
  pid=$(docker inspect -f '{{.State.Pid}}' "$1" 2>/dev/null)
  [[ -n $pid && $pid != 0 ]] || return 1
  cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
  if [[ -n $cg ]]; then # cgroup v1
    st=/sys/fs/cgroup/memory$cg/memory.stat
    anon=$(awk '$1 == "rss" { print int($2 / 1024) }' "$st")
  else
    cg=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
    st=/sys/fs/cgroup$cg/memory.stat
    anon=$(awk '$1 == "anon" { print int($2 / 1024) }' "$st")
  fi
  shmem=$(awk '$1 == "shmem" { print int($2 / 1024) }' "$st")
  echo "$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status") $(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status") ${anon:-?} ${shmem:-?}"
}

# ---- 1. in place: the README's recipe (read-only bind mount, --tmpfs store)
T0=$(ph_now_ms)
os_run "$C" -p 127.0.0.1::5000 -v "$WORK/image.tar:/in/image.tar:ro" --tmpfs /var/lib/packhelper -- \
  serve --import /in/image.tar=agent:latest >/dev/null
READY=$(os_wait_ready "$C" 120)
rc=$? # before the description's $(...), which would set $? to its own
ph_eq "in place: ready line ($(($(ph_now_ms) - T0)) ms after docker run)" 0 "$rc"
DIGEST=$(os_ready_digest "$READY" agent:latest)
LOGS=$(docker logs "$C" 2>&1 >/dev/null)
ph_match "in place: the log says the whole image was verified in place" \
  "imported agent:latest $DIGEST from /in/image.tar \\($((LAYERS_B / 1048576))\\.[0-9] MiB verified in place in" "$LOGS"
read -r RSS HWM ANON SHMEM <<<"$(os_mem "$C")"
ph_log "in place, after the import of $((LAYERS_B / 1048576)) MiB: VmRSS $RSS KiB, VmHWM $HWM KiB; cgroup anon $ANON KiB, shmem (the tmpfs store) $SHMEM KiB; docker stats: $(docker stats --no-stream --format '{{.MemUsage}}' "$C")"
ph_lt "in place: the tmpfs store holds no layer bytes (shmem $SHMEM KiB < 1024)" "${SHMEM:-999999}" 1024
ph_lt "in place: VmRSS after the import stays a few MiB ($RSS KiB < 8192)" "${RSS:-999999}" 8192
ph_lt "in place: VmHWM (peak, the hashing threads' blocks) ($HWM KiB < 16384)" "${HWM:-999999}" 16384
ph_lt "in place: the cgroup's anonymous memory ($ANON KiB < 8192)" "${ANON:-999999}" 8192
REG=$(os_port "$C")
got=$(curl -s --max-time 60 "http://$REG/v2/agent/blobs/$BIGLAYER" | ph_sha256)
ph_eq "in place: GET the biggest layer from the file is byte-exact" "${BIGLAYER#sha256:}" "$got"
os_check_served inplace "$REG" agent latest "$DIGEST"
HS=
for _ in $(seq 100); do
  HS=$(docker inspect -f '{{.State.Health.Status}}' "$C")
  [[ $HS == healthy ]] && break
  sleep 0.1
done
ph_eq "in place: the HEALTHCHECK turns it healthy" healthy "$HS"
read -r RSS2 _ _ SHMEM2 <<<"$(os_mem "$C")"
ph_lt "in place: after serving the layer, VmRSS $RSS2 KiB < 8192 (sendfile: no copy held)" "${RSS2:-999999}" 8192
MS=$(os_stop_timed "$C")
ph_lt "in place: docker stop takes $MS ms (< 1500)" "$MS" 1500
ph_eq "in place: exit status 0" 0 "$(docker inspect -f '{{.State.ExitCode}}' "$C")"

# ---- 2. the control: --import-mode copy of the same file fills the tmpfs
os_run "$C-copy" -v "$WORK/image.tar:/in/image.tar:ro" --tmpfs /var/lib/packhelper -- \
  serve --import /in/image.tar=agent:latest --import-mode copy >/dev/null
os_wait_ready "$C-copy" 120 >/dev/null
ph_eq "copy: ready line" 0 "$?"
ph_match "copy: the log says copied" "from /in/image.tar \\([0-9.]+ MiB copied in" "$(docker logs "$C-copy" 2>&1)"
read -r RSS HWM ANON SHMEM <<<"$(os_mem "$C-copy")"
ph_log "copy: VmRSS $RSS KiB, VmHWM $HWM KiB; cgroup anon $ANON KiB, shmem $SHMEM KiB"
ph_ge "copy: the measure sees the copied layers (shmem $SHMEM KiB >= $((LAYERS_B / 1024)))" "${SHMEM:-0}" \
  $((LAYERS_B / 1024))
docker rm -f "$C-copy" >/dev/null

# ---- 3. the store on a host directory: what it holds, file by file
mkdir -p "$WORK/store" && chown 65532:65532 "$WORK/store"
os_run "$C-dir" -v "$WORK/image.tar:/in/image.tar:ro" -v "$WORK/store:/var/lib/packhelper" -- \
  serve --import /in/image.tar=agent:latest >/dev/null
os_wait_ready "$C-dir" 120 >/dev/null
ph_eq "host-dir store: ready line" 0 "$?"
ph_eq "host-dir store: no file over 64 KiB in it" 0 "$(find "$WORK/store" -type f -size +64k | wc -l)"
ph_lt "host-dir store: $(du -sk "$WORK/store" | cut -f1) KiB in all (< 1024)" "$(du -sk "$WORK/store" | cut -f1)" 1024
N=0
while read -r d; do [[ -f $WORK/store/inplace/sha256/${d#sha256:} ]] && N=$((N + 1)); done <<<"$PH_DIFFIDS"
ph_eq "host-dir store: a record under inplace/ for each of the 3 layers" 3 "$N"
docker rm -f "$C-dir" >/dev/null
rm -rf "$WORK/store"

ph_finish
