#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2034  # PORT... are lib.sh's (tests/copy/lib.sh)
# tests/copy/many.sh - many copies in one command: --prefix with names (one
# of them missing at the source: the others are copied, the summary names
# it, exit 1), --prefix over the catalog (only what is under the prefix),
# --from-file (comments, a missing source, then again: "already there"), and
# a malformed list refused before anything is copied.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ct_init many

pt_start_ph src || { ph_finish; exit 1; }
SRC=localhost:$PORT
pt_start_dist dist || { ph_finish; exit 1; }
DST=localhost:$PORT
team=team-$RAND

# small images: one layer each, distinct
small() {
  local d=$WORK/small-$RANDOM
  mkdir -p "$d" && head -c $((20000 + RANDOM)) /dev/urandom >"$d/data.bin" &&
    tar -C "$d" -cf "$d.tar" . && crane append --insecure --oci-empty-base -f "$d.tar" -t "$SRC/$1" >/dev/null 2>&1
}
for r in "$team/a:v1" "$team/a:v2" "$team/b:v1" "$team/b:v2" "$team/sub/c:v1" "other-$RAND/x:v1"; do
  ph_require "push $r (crane append)" small "$r"
done
digest() { crane digest --insecure "$1" 2>&1; }

# ---- --prefix with names, one missing
ct_copy --prefix "$SRC/$team" "$DST/mirror-$RAND" a b:v1 missing
ph_eq "--prefix names: exit 1 (one failed)" 1 "$RC"
ph_match "--prefix names: the summary counts" "^summary: 3 copied, 0 already there, 1 failed$" "$ERR"
ph_match "--prefix names: the summary names the missing one" \
  "^failed: $SRC/$team/missing -> $DST/mirror-$RAND/missing: .*404 NAME_UNKNOWN" "$ERR"
for t in a:v1 a:v2 b:v1; do
  ph_eq "--prefix names: $t copied with its digest" "$(digest "$SRC/$team/$t")" "$(digest "$DST/mirror-$RAND/$t")"
done
ph_nomatch "--prefix names: b:v2 was not asked for" "^v2$" "$(crane ls --insecure "$DST/mirror-$RAND/b" 2>&1)"
ph_eq "--prefix names: stdout has one 'DST DIGEST' line per copy" 3 \
  "$(grep -cE "^$DST/mirror-$RAND/[a-z/]+:v[12] sha256:[0-9a-f]{64}$" <<<"$OUT")"

# ---- --prefix over the catalog
ct_copy --prefix "$SRC/$team" "$DST/all-$RAND"
ph_eq "--prefix catalog: exit 0" 0 "$RC"
ph_match "--prefix catalog: every tag under the prefix" "^summary: 5 copied, 0 already there, 0 failed$" "$ERR"
for t in a:v1 a:v2 b:v1 b:v2 sub/c:v1; do
  ph_eq "--prefix catalog: $t" "$(digest "$SRC/$team/$t")" "$(digest "$DST/all-$RAND/$t")"
done
ph_nomatch "--prefix catalog: nothing from outside the prefix" "other-$RAND" "$OUT"

# ---- --from-file
cat >"$WORK/list.txt" <<LIST
# copies for the test
$SRC/$team/a:v1 $DST/list-$RAND/a:v1

	$SRC/$team/b:v2   $DST/list-$RAND/b:v2   # a comment after the pair
$SRC/$team/nope:v1 $DST/list-$RAND/nope:v1
LIST
ct_copy --from-file "$WORK/list.txt"
ph_eq "--from-file: exit 1 (one failed)" 1 "$RC"
ph_match "--from-file: the summary" "^summary: 2 copied, 0 already there, 1 failed$" "$ERR"
ph_match "--from-file: the missing source named" "^failed: $SRC/$team/nope:v1 -> $DST/list-$RAND/nope:v1: .*404" "$ERR"
ph_eq "--from-file: b:v2 copied" "$(digest "$SRC/$team/b:v2")" "$(digest "$DST/list-$RAND/b:v2")"
ct_copy --from-file "$WORK/list.txt"
ph_match "--from-file again: already there" "^summary: 0 copied, 2 already there, 1 failed$" "$ERR"

# ---- a malformed list: refused whole, with its line, before any copy
printf '%s %s\n%s\n' "$SRC/$team/a:v1" "$DST/bad-$RAND/a:v1" "$SRC/$team/b:v1" >"$WORK/bad.txt"
ct_copy --from-file "$WORK/bad.txt"
ph_eq "a malformed list: exit 2" 2 "$RC"
ph_match "a malformed list: the line is named" "^packhelper: copy: --from-file .*: line 2: want SRC DST, found one word$" "$ERR"
ph_match "a malformed list: nothing was copied" "NAME_UNKNOWN|404" "$(crane ls --insecure "$DST/bad-$RAND/a" 2>&1)"
ph_finish
