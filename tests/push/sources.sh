#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, BLOBS, PT_WRAP... are lib.sh's (tests/push/lib.sh)
# tests/push/sources.sh - every kind of SRC: `docker save | push -`,
# docker://IMAGE (the daemon at /var/run/docker.sock), an OCI layout directory
# and tarball (manifests kept byte for byte), and a two-image docker-save
# tarball with SRC#NAME. Each push is checked on the registry and pulled back.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pt_init sources
pt_image
ph_require "start packhelper serve (reg)" ph_serve_start reg
REG=localhost:$PORT
repo=push-$RAND/sources

pt_push_ok "docker-save tarball (reference push)" "$IMG_TAR" "$REG/$repo:file"
ref_digest=$DIGEST
pt_push_ok "-q: the digest on stdout" -q "$IMG_TAR" "$REG/$repo:quiet"
ph_eq "-q: nothing on stderr" "(empty)" "${ERR:-(empty)}"

# ---- the progress display, when stderr is a terminal: one line per blob,
# redrawn in place, every blob "pushed" in the last drawing
script -qec "$PH push $IMG_TAR $REG/$repo-tty:tty" /dev/null </dev/null >"$WORK/tty.out" 2>&1
rc=$?
ph_eq "TTY: exit 0" 0 "$rc"
ph_match "TTY: the table is drawn in place (clear-line escapes)" $'\e\\[2K' "$(cat "$WORK/tty.out")"
last=$(tr -d '\r' <"$WORK/tty.out" | sed 's/\x1b\[[0-9]*[AK]/\n/g' | grep -E '^sha256:[0-9a-f]{12} ' | tail -n "$(wc -l <<<"$BLOBS")")
for b in $BLOBS; do
  ph_match "TTY: the last drawing shows ${b:0:19} pushed, all its MiB" "^${b:0:19} pushed +([0-9.]+) / \\1 MiB" "$last"
done

# ---- stdin
docker save "$IMG_TAG" >"$WORK/stdin.tar"
PT_STDIN_FILE=$WORK/stdin.tar pt_push_ok "stdin: docker save IMG | push - REF" - "$REG/$repo:stdin"
ph_eq "stdin: same digest as the tarball push" "$ref_digest" "$DIGEST"
rm -f "$WORK/stdin.tar"
# a real pipe (not a file on stdin)
docker save "$IMG_TAG" | "$PH" push -q - "$REG/$repo:pipe" >"$WORK/pipe.out" 2>"$WORK/pipe.err"
rc=${PIPESTATUS[1]}
d=$(cat "$WORK/pipe.out")
ph_eq "stdin through a pipe: exit 0 and the same digest" "0 $ref_digest" "$rc $d"
pt_check_registry "stdin" "$REG" "$repo:pipe" "$ref_digest" oci none
pt_check_pull "stdin" "$REG" "$repo:pipe"
PT_STDIN_FILE=/dev/null pt_push_fails "stdin: empty input fails with one line" 1 '^packhelper: push: ' - "$REG/$repo:empty"

# ---- docker://
pt_push_ok "docker://IMAGE" "docker://$IMG_TAG" "$REG/$repo:daemon"
ph_eq "docker://: same digest as the tarball push" "$ref_digest" "$DIGEST"
pt_push_ok "docker://IMAGE-ID" "docker://$IMG_ID" "$REG/$repo:daemon-id"
ph_eq "docker://IMAGE-ID: same digest" "$ref_digest" "$DIGEST"
pt_check_registry "docker://" "$REG" "$repo:daemon" "$ref_digest" oci none
pt_check_pull "docker://" "$REG" "$repo:daemon"
pt_push_ok "docker:// with --compression gzip --format docker" --compression gzip --format docker \
  "docker://$IMG_TAG" "$REG/$repo:daemon-gz"
pt_check_registry "docker:// gzip" "$REG" "$repo:daemon-gz" "$DIGEST" docker gzip
pt_push_fails "docker:// of an image the daemon does not have: exit 1, one line" 1 \
  "^packhelper: push: .*no-such-image-$RAND" "docker://no-such-image-$RAND:v1" "$REG/$repo:nothing"

# ---- OCI layout (directory and tarball): the manifest goes byte for byte
if crane pull --insecure --format oci "$REG/$repo:file" "$WORK/layout" >"$WORK/crane.log" 2>&1; then
  pt_push_ok "OCI layout directory" "$WORK/layout" "$REG/$repo-layout:dir"
  ph_eq "OCI layout directory: the manifest digest is kept" "$ref_digest" "$DIGEST"
  tar -C "$WORK/layout" -cf "$WORK/layout.tar" .
  pt_push_ok "OCI layout tarball" --compression gzip "$WORK/layout.tar" "$REG/$repo-layout:tar"
  ph_eq "OCI layout tarball: the manifest digest is kept (--compression does not rewrite it)" "$ref_digest" "$DIGEST"
  pt_check_pull "OCI layout" "$REG" "$repo-layout:tar"
else
  ph_not_ok "crane pull --format oci: $(tail -n1 "$WORK/crane.log")"
fi

# ---- a docker-save tarball with two images
second=push-test-$RAND/second:v2
if pt_build_image "$second" "$WORK/second.tar" 64; then
  sid=$(docker image inspect -f '{{.Id}}' "$second")
  ph_cleanup "docker rmi -f $sid"
  docker save -o "$WORK/multi.tar" "$IMG_TAG" "$second"
  pt_push_ok "two-image tarball with SRC#NAME" "$WORK/multi.tar#$second" "$REG/$repo-multi:second"
  ph_eq "two-image tarball: #NAME picked that image (config == its ID)" "$sid" \
    "$(crane manifest --insecure "$REG/$repo-multi:second" 2>/dev/null | jq -r .config.digest)"
  pt_push_ok "two-image tarball with #NAME of the other image" "$WORK/multi.tar#$IMG_TAG" "$REG/$repo-multi:first"
  ph_eq "two-image tarball: the other image's digest is the reference digest" "$ref_digest" "$DIGEST"
  pt_push_fails "two-image tarball without #NAME: exit 1, one line asking for one" 1 \
    'holds 2 images.*SRC#NAME' "$WORK/multi.tar" "$REG/$repo-multi:which"
fi
ph_finish
