#!/usr/bin/env bash
# tests/oneshot/bad.sh - broken archives: the one-shot container exits 1
# quickly with one error line naming the problem, and the store it used
# holds nothing afterwards (a plain `serve` on it: tag 404, uploads empty).
# The same archives through the host's `packhelper import`: exit 1, one line.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
os_init bad
B=$WORK/bad
mkdir -p "$B"

ph_require "docker build FROM scratch" ph_build_image "$SRC" 512 768 1024
os_save "$WORK/legacy.tar" "$SRC"
SIZE=$(stat -c %s "$WORK/legacy.tar")

# ---- the broken archives, and what the error must say
head -c $((SIZE / 2)) "$WORK/legacy.tar" >"$B/truncated.tar"
FLIPPED=$(python3 "$HELPER" flip "$WORK/legacy.tar" "$B/flipped.tar")
DROPPED=$(python3 "$HELPER" drop "$WORK/legacy.tar" "$B/missing-layer.tar")
head -c 1048576 /dev/urandom >"$B/not-a-tar.tar"
python3 "$HELPER" v25 "$WORK/legacy.tar" "$B/lying-v25.tar" --lie
chmod 644 "$B"/*.tar
ph_run "crafted: flipped.tar differs from the original only inside $FLIPPED" \
  bash -c "[[ \$(stat -c %s '$B/flipped.tar') -gt 0 ]] && ! cmp -s '$B/flipped.tar' '$WORK/legacy.tar'"
ph_run "crafted: missing-layer.tar lacks $DROPPED" bash -c "! tar -tf '$B/missing-layer.tar' | grep -qx '$DROPPED'"

declare -A WHY=(
  [truncated]='Truncated (tar archive|input file)'
  [flipped]="${FLIPPED//\//\\/} is sha256:[0-9a-f]{64}, but the config's diff_id says sha256:[0-9a-f]{64}"
  [missing-layer]="has no ${DROPPED//\//\\/}"
  [not-a-tar]='(not a tar archive|Unrecognized archive format)'
  [lying-v25]='blobs/sha256/[0-9a-f]{64} (does not hold what its name says|is sha256:[0-9a-f]{64}, but its name says)'
)
CASES=(truncated flipped missing-layer not-a-tar lying-v25)

# store_state ROOT -> "<files in uploads> <blob files> <manifests/tags under repos>"
store_state() {
  echo "$(find "$1/uploads" -mindepth 1 2>/dev/null | wc -l) $(find "$1/blobs" -type f 2>/dev/null | wc -l) $(find "$1/repos" -type f 2>/dev/null | wc -l)"
}

for k in "${CASES[@]}"; do
  ROOT=$WORK/root-$k
  mkdir -p "$ROOT" && chown 65532:65532 "$ROOT"
  T0=$(ph_now_ms)
  os_run "$C-$k" -v "$B/$k.tar:/in/image.tar:ro" -v "$ROOT:/data" -- \
    serve --root /data --import /in/image.tar=agent:latest >/dev/null
  RC=$(timeout 30 docker wait "$C-$k")
  MS=$(($(ph_now_ms) - T0))
  ph_eq "$k: the container exits 1" 1 "$RC"
  ph_lt "$k: docker run -> exit in $MS ms (< 5000)" "$MS" 5000
  os_one_error "$k: one error line naming the problem" "$(docker logs "$C-$k" 2>&1)" \
    "import failed: /in/image.tar.*${WHY[$k]}"
  ph_eq "$k: no ready line on stdout" 0 "$(docker logs "$C-$k" 2>/dev/null | grep -c ready)"
  ph_eq "$k: the store holds nothing (uploads, blobs, repos files)" "0 0 0" "$(store_state "$ROOT")"
  # a plain serve on the same store afterwards
  os_run "$C-$k-after" -p 127.0.0.1::5000 -v "$ROOT:/data" -- serve --root /data >/dev/null
  if os_wait_ready "$C-$k-after" 20 >/dev/null; then
    REG=$(os_port "$C-$k-after")
    ph_eq "$k: then a plain serve on that store: agent:latest is 404" 404 \
      "$(os_http "http://$REG/v2/agent/manifests/latest")"
    ph_eq "$k: ... and the catalog is empty" '[]' "$(curl -s "http://$REG/v2/_catalog" | jq -c .repositories)"
    ph_eq "$k: ... and ROOT/uploads is empty" 0 "$(find "$ROOT/uploads" -mindepth 1 | wc -l)"
  else
    ph_not_ok "$k: plain serve on the store after the failure did not get ready"
  fi
  docker rm -f "$C-$k" "$C-$k-after" >/dev/null
done

# a broken stream on stdin fails the same way
head -c $((SIZE / 2)) "$WORK/legacy.tar" |
  docker run -i --rm --label "oneshot.run=$RAND" --name "$C-stdin" "$IMG" serve --import -=agent:latest \
    >"$WORK/stdin.out" 2>"$WORK/stdin.err"
ph_eq "truncated on stdin: docker run exits 1" 1 "$?"
os_one_error "truncated on stdin: one error line" "$(cat "$WORK/stdin.err")" 'import failed: stdin: .*Truncated tar archive'

# ---- the import verb (host binary)
for k in "${CASES[@]}"; do
  ROOT=$WORK/iroot-$k
  "$PH" import "$B/$k.tar" agent:latest --root "$ROOT" >"$WORK/imp.out" 2>"$WORK/imp.err"
  RC=$?
  ph_eq "import verb, $k: exit 1" 1 "$RC"
  if [[ $(wc -l <"$WORK/imp.err") == 1 ]] && grep -Eq "^packhelper: import: .*${WHY[$k]}" "$WORK/imp.err"; then
    ph_ok "import verb, $k: one line on stderr ($(cat "$WORK/imp.err"))"
  else
    ph_not_ok "import verb, $k: one matching line on stderr (got: $(tr '\n' '|' <"$WORK/imp.err"))"
  fi
  ph_eq "import verb, $k: nothing on stdout, nothing in the store" "0 0 0 0" \
    "$(wc -c <"$WORK/imp.out") $(store_state "$ROOT")"
done
ROOT=$WORK/iroot-ok
"$PH" import "$WORK/legacy.tar" agent:latest --root "$ROOT" >"$WORK/imp.out" 2>"$WORK/imp.err"
ph_eq "import verb, good tarball: exit 0, stderr empty" "0 0" "$? $(wc -c <"$WORK/imp.err")"
ph_run "import verb, good tarball: prints 'agent:latest sha256:...'" grep -Eqx 'agent:latest sha256:[0-9a-f]{64}' "$WORK/imp.out"

# ---- a failing import must exit 1, never crash: 20 in a row
for i in $(seq 20); do
  os_run "$C-crash$i" -- serve --import "/in/none-$i.tar=agent:latest" >/dev/null
done
CODES=$(for i in $(seq 20); do timeout 30 docker wait "$C-crash$i"; done | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
ph_eq "20 failing imports (missing file): every container exits 1, none crashes (exit×count)" "1×20 " "$CODES"

ph_finish
