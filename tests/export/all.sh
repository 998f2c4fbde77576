#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT, IDX, CHILD_amd64, ART... are lib.sh's (tests/copy/lib.sh)
# tests/export/all.sh - packhelper export, and copy to file destinations,
# against packhelper serve and real clients (crane, oras, docker). Prints
# "export: N passed, N failed". About a minute.
#   - serve A holds a two-platform index (tests/copy's ct_index), an artifact
#     referring to it (oras attach) and a second image (a static binary,
#     packhelper itself, FROM scratch); `export -r` writes them into one OCI
#     layout tar; the same export again is the same bytes
#   - A stops; serve B --import the tar: every tag back under its own name,
#     manifests byte for byte, the referrer listed, crane validate, crane
#     pull and docker pull by digest, docker run of the second image
#   - --format docker from B: docker load, docker run; the output is what
#     packhelper's own importer reads too
#   - copy to oci:DIR and back out of it (all platforms, same digest);
#     oci-archive:- on stdout; docker-archive:FILE
#   - a blob that lies at the source (the proxy's --corrupt): exit 1, one line
#     naming it, no output file and no temporary left; an unknown format, an
#     unwritable output, a missing image: one line, no file
# Needs root (docker), jq, python3 and the Go tools from mk/tools.sh.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../copy/lib.sh"
PH_KEEP=${EXPORTTEST_KEEP:-}
PH_KEEP_FAILED=${EXPORTTEST_KEEP_FAILED:-}
pt_init export export
PH_NAME=export

ex_run() { pt_run export "$@"; }
# ex_ok DESC ARGS...: exit 0
ex_ok() {
  local desc=$1
  shift
  ex_run "$@"
  if [[ $RC == 0 ]]; then ph_ok "$desc"; else
    ph_not_ok "$desc (exit $RC): $(tr '\n' '|' <"$WORK/export.err" | cut -c1-500)"
    return 1
  fi
}
# ex_fails DESC RC ERE FILE ARGS...: exit RC, one stderr line matching ERE,
# and neither FILE nor FILE.tmp-* exists afterwards
ex_fails() {
  local desc=$1 want=$2 re=$3 file=$4 n left
  shift 4
  ex_run "$@"
  n=$(grep -c . "$WORK/export.err")
  LINE=$(head -n1 "$WORK/export.err")
  left=$(compgen -G "$file*" | tr '\n' ' ')
  if [[ $RC == "$want" && $n == 1 && -z $left ]] && grep -Eq -- "$re" <<<"$LINE"; then
    ph_ok "$desc (exit $RC: $LINE)"
  else
    ph_not_ok "$desc (exit $RC, want $want; $n lines, want 1 matching /$re/; left: '$left'): $(tr '\n' '|' <"$WORK/export.err" | cut -c1-500)"
  fi
}

# ---- A: the index, a referrer, a runnable image
pt_start_ph a || { ph_finish; exit 1; }
A=localhost:$PORT
APID=$PID
repo=export-$RAND/img
run=export-$RAND/run
ph_require "build the test index at serve A" ct_index "$A" "$repo"
ph_require "attach an artifact to the index" ct_attach "$A" "$repo:multi"
mkdir -p "$WORK/bin"
# the static build runs FROM scratch (an ASan build under test is dynamic)
cp "${PH_STATIC:-$PH_ROOT/build/packhelper}" "$WORK/bin/packhelper"
tar -C "$WORK/bin" -cf "$WORK/bin.tar" packhelper
ph_require "push a FROM-scratch image of a static binary to A" \
  bash -c "crane append --insecure --oci-empty-base -f '$WORK/bin.tar' -t '$A/$run:base' >/dev/null 2>&1 &&
    crane mutate --insecure --set-platform linux/amd64 --entrypoint /packhelper --cmd version '$A/$run:base' -t '$A/$run:v1' >/dev/null 2>&1"
RUN=$(crane digest --insecure "$A/$run:v1")
ct_raw "$A" "$repo" multi "$WORK/a-multi.json" >/dev/null
ct_raw "$A" "$run" v1 "$WORK/a-run.json" >/dev/null

# ---- export -r, twice
T=$WORK/images.tar
ex_ok "export -r of the index, its amd64 child's tag and the second image into one OCI layout tar" \
  -r "$A/$repo:multi" "$A/$repo:amd64" "$A/$run:v1" -o "$T"
ph_eq "export prints REF DIGEST per image" "$A/$repo:multi $IDX|$A/$repo:amd64 $CHILD_amd64|$A/$run:v1 $RUN" \
  "$(tr '\n' '|' <"$WORK/export.out" | sed 's/|$//')"
ph_eq "the tar ends with index.json, starts with oci-layout" "oci-layout index.json" \
  "$(tar tf "$T" | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//')"
ph_eq "every member is a blob named by its digest, once" \
  "$(tar tf "$T" | grep -c '^blobs/')" "$(tar tf "$T" | grep '^blobs/sha256/[0-9a-f]\{64\}$' | sort -u | grep -c .)"
# the name is the hash of the member's bytes (what a loader checks)
ex_named_right() {
  local m n=0
  for m in $(tar tf "$T" | grep '^blobs/sha256/'); do
    [[ $(tar xOf "$T" "$m" | sha256sum | cut -c1-64) == "${m#blobs/sha256/}" ]] && n=$((n + 1))
  done
  echo "$n"
}
ph_eq "all 17 blobs' bytes hash to their names" 17 "$(ex_named_right)"
ph_eq "index.json names the images (ref name repo:tag, containerd name in full) and the referrer by digest after them" \
  "$repo:multi $A/$repo:multi|$repo:amd64 $A/$repo:amd64|$run:v1 $A/$run:v1|null $A/$repo@$ART" \
  "$(tar xOf "$T" index.json | jq -r '.manifests[].annotations | "\(.["org.opencontainers.image.ref.name"]) \(.["io.containerd.image.name"])"' | tr '\n' '|' | sed 's/|$//')"
ph_eq "what two names share is stored once: 17 blobs (index 3 manifests + 8 blobs, the referrer's 3, the binary's 3)" \
  17 "$(tar tf "$T" | grep -c '^blobs/')"
ex_ok "the same export again" -q -r "$A/$repo:multi" "$A/$repo:amd64" "$A/$run:v1" -o "$WORK/images2.tar"
ph_run "the same input gives the same bytes (mtime 0, same order)" cmp "$T" "$WORK/images2.tar"
"$PH" export -q "$A/$run:v1" -o - >"$WORK/stdout-export.tar" 2>"$WORK/export.err"
ph_eq "-o - writes the tar on stdout" "oci-layout index.json" \
  "$(tar tf "$WORK/stdout-export.tar" | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//')"

# ---- A stops; B serves the export
kill "$APID"
wait "$APID" 2>/dev/null
pt_start_ph b --import "$T" || { ph_finish; exit 1; }
B=localhost:$PORT
ph_match "B's ready line lists the tags and the referrer (untagged)" \
  "\"ref\":\"$repo:multi\",\"digest\":\"$IDX\".*\"ref\":\"$repo:amd64\",\"digest\":\"$CHILD_amd64\".*\"ref\":\"$run:v1\",\"digest\":\"$RUN\".*\"ref\":\"$repo@$ART\"" \
  "$(grep -F '"ready":true' "$WORK/b.log")"
ct_holds "B" "$B" "$repo" multi referrer
ph_eq "B: the index's bytes are A's" "200" "$(ct_raw "$B" "$repo" multi "$WORK/b-multi.json")"
ph_run "B: the index byte for byte" cmp "$WORK/a-multi.json" "$WORK/b-multi.json"
ct_raw "$B" "$run" "$RUN" "$WORK/b-run.json" >/dev/null
ph_run "B: the second image's manifest byte for byte, by digest" cmp "$WORK/a-run.json" "$WORK/b-run.json"
ph_run "B: crane pull by digest (arm64 child)" crane pull --insecure "$B/$repo@$CHILD_arm64" "$WORK/pulled.tar"
ph_eq "B: crane digest of the tag is the index" "$IDX" "$(crane digest --insecure "$B/$repo:multi" 2>&1)"
DREF=127.0.0.1:${B#localhost:}/$run@$RUN
ph_run "B: docker pull by digest" docker pull -q "$DREF"
# removed by ID at exit (-f: the digest and any tag the load below adds to it)
IMGID=$(docker image inspect -f '{{.Id}}' "$DREF" 2>/dev/null) && ph_cleanup docker rmi -f "$IMGID"
ph_match "B: docker run of the pulled image" '^packhelper ' "$(docker run --rm --network none "$DREF" 2>&1 | head -n1)"

# ---- --format docker: docker load, docker run, and packhelper's importer
D=$WORK/docker.tar
ex_ok "export --format docker of the runnable image" --format docker "$B/$run:v1" -o "$D"
ph_eq "manifest.json: one image, its full name, uncompressed layers under blobs/sha256" \
  "$B/$run:v1 1" "$(tar xOf "$D" manifest.json | jq -r '.[0] | "\(.RepoTags[0]) \(.Layers | length)"')"
LOADED=$(docker load -i "$D" 2>&1)
ph_eq "docker load takes it" "Loaded image: $B/$run:v1" "$(tail -n1 <<<"$LOADED")"
LOADID=$(docker image inspect -f '{{.Id}}' "$B/$run:v1" 2>/dev/null) && ph_cleanup docker rmi -f "$LOADID"
ph_match "docker run of the loaded image" '^packhelper ' "$(docker run --rm --network none "$B/$run:v1" 2>&1 | head -n1)"
ph_match "packhelper import reads the docker export" "^$run:v1 sha256:" \
  "$("$PH" import "$D" --root "$WORK/imp.store" 2>&1)"
ex_ok "export --format docker of the index picks the host's platform (amd64)" --format docker \
  "$B/$repo:multi" -o "$WORK/docker-multi.tar"
ph_eq "its config is the amd64 child's" \
  "$(crane config --insecure "$B/$repo@$CHILD_amd64" | sha256sum | cut -c1-64)" \
  "$(tar xOf "$WORK/docker-multi.tar" manifest.json | jq -r '.[0].Config' | sed 's,.*/,,')"
ph_eq "its layers are uncompressed (their names are the config's diff_ids)" \
  "$(crane config --insecure "$B/$repo@$CHILD_amd64" | jq -r '.rootfs.diff_ids[]' | sed 's/sha256://' | tr '\n' ' ')" \
  "$(tar xOf "$WORK/docker-multi.tar" manifest.json | jq -r '.[0].Layers[]' | sed 's,.*/,,' | tr '\n' ' ')"

# ---- copy to files and back
pt_run copy "$B/$repo:multi" "oci:$WORK/layout"
ph_eq "copy to oci:DIR prints the index digest" "0 $IDX" "$RC $OUT"
ph_run "oci:DIR is a layout skopeo reads" skopeo inspect --raw "oci:$WORK/layout:$repo:multi"
pt_run copy "$WORK/layout" "$B/$repo-back:v1"
ph_eq "copy back out of the layout: the same index digest" "0 $IDX" "$RC $OUT"
ct_holds "copied back" "$B" "$repo-back" v1
pt_run copy "$B/$repo:multi" "oci:$WORK/layout"
ph_match "copy to an existing oci:DIR fails with one line" "^[1-9][0-9]* 1 .*exists" "$RC $(grep -c . <<<"$ERR") $ERR"
pt_run copy "$B/$run:v1" "docker-archive:$WORK/copied.tar:renamed/x:y"
ph_eq "copy to docker-archive:FILE:NAME names the image" "0 renamed/x:y" \
  "$RC $(tar xOf "$WORK/copied.tar" manifest.json | jq -r '.[0].RepoTags[0]')"
"$PH" copy -q "$B/$run:v1" oci-archive:- >"$WORK/stdout.tar" 2>"$WORK/copy.err"
ph_eq "copy to oci-archive:- writes only the tar on stdout" "oci-layout index.json" \
  "$(tar tf "$WORK/stdout.tar" | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//')"

# ---- failures leave nothing
small=$(crane manifest --insecure "$B/$repo@$CHILD_amd64" | jq -r '.layers[1].digest')
if pt_start_proxy liar "${B#localhost:}" --corrupt "$small"; then
  ex_fails "a blob whose bytes lie at the source: exit 1, one line naming it, no file" 1 \
    "^packhelper: export: localhost:$PORT/$repo:multi: blob $small from localhost:$PORT/$repo: its bytes are sha256:[0-9a-f]{64}.*\(nothing written\)$" \
    "$WORK/lie.tar" "localhost:$PORT/$repo:multi" -o "$WORK/lie.tar"
  ex_fails "the same into a directory: no directory left" 1 "its bytes are sha256:" \
    "$WORK/liedir" "localhost:$PORT/$repo:multi" -o "$WORK/liedir/"
fi
ex_fails "an unknown format: exit 2" 2 '^packhelper: export: --format takes oci or docker, not "zip"$' \
  "$WORK/zip.tar" --format zip "$B/$run:v1" -o "$WORK/zip.tar"
ex_fails "an unwritable output: exit 1, named" 1 "^packhelper: export: cannot create a file next to $WORK/nodir/x.tar: " \
  "$WORK/nodir" "$B/$run:v1" -o "$WORK/nodir/x.tar"
ex_fails "a missing image after a good one: exit 1, named, no file" 1 \
  "^packhelper: export: $B/$repo:nope: .*MANIFEST_UNKNOWN.*\(nothing written\)$" \
  "$WORK/missing.tar" "$B/$run:v1" "$B/$repo:nope" -o "$WORK/missing.tar"
ex_fails "-r with --format docker: exit 2" 2 "no place for referrers" "$WORK/r.tar" \
  -r --format docker "$B/$run:v1" -o "$WORK/r.tar"
ex_fails "no -o: exit 2" 2 "^packhelper: export: no output" "$WORK/none" "$B/$run:v1"

ph_log "total: $SECONDS s"
ph_finish
