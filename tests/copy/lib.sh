# tests/copy/lib.sh - what the copy tests (packhelper copy) add to
# tests/push/lib.sh, whose registry stand-ins (packhelper serve, Debian's
# docker-registry 2.8, olareg, the fault/auth proxy) and command runner
# (pt_run) they use: the multi-platform test index and checks that a
# registry holds it byte for byte.
#
# Source it from a script running with `set -uo pipefail`, then call
# `ct_init NAME` (work dir copy-NAME; COPYTEST_KEEP=1 keeps it,
# COPYTEST_KEEP_FAILED=1 when a check failed).
# shellcheck shell=bash disable=SC2034  # variables set here are for the caller
# shellcheck source-path=SCRIPTDIR source=../push/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../push/lib.sh"

PH_KEEP=${COPYTEST_KEEP:-}
PH_KEEP_FAILED=${COPYTEST_KEEP_FAILED:-}
CT_LAYERS_KIB=(1000 3000 18000) # the last: PATCHes with --chunk-size 4M

ct_init() { pt_init "$1" "copy-$1"; }

# ct_copy_ok DESC ARGS... / ct_copy_fails DESC RC ERE ARGS...: pt_run_ok and
# pt_run_fails for `packhelper copy` (RC, OUT, ERR, DIGEST, LINE)
ct_copy_ok() { pt_run_ok copy "$@"; }
ct_copy_fails() { pt_run_fails copy "$@"; }
ct_copy() { pt_run copy "$@"; }

# ct_index REG REPO: the test index at REG/REPO:multi, built with crane (no
# docker): per platform (linux/amd64, linux/arm64) an OCI image of three
# layers of random data (CT_LAYERS_KIB, made once per work dir) with the
# platform in its config, tagged :amd64 and :arm64, and the index of both.
# Sets IDX (the index's digest), CHILD_amd64, CHILD_arm64, CHILDREN (both,
# newline separated) and BLOBS_N (configs + layers: 8).
ct_index() {
  local reg=$1 repo=$2 p i k d
  for p in amd64 arm64; do
    i=0
    local files=()
    for k in "${CT_LAYERS_KIB[@]}"; do
      i=$((i + 1))
      d=$WORK/layers/$p-$i
      if [[ ! -f $d.tar ]]; then
        mkdir -p "$d"
        head -c $((k * 1024 + RANDOM)) /dev/urandom >"$d/data-$p-$i.bin"
        tar -C "$d" -cf "$d.tar" . || return 1
      fi
      files+=(-f "$d.tar")
    done
    crane append --insecure --oci-empty-base "${files[@]}" -t "$reg/$repo:$p-base" >/dev/null 2>&1 &&
      crane mutate --insecure --set-platform "linux/$p" "$reg/$repo:$p-base" -t "$reg/$repo:$p" \
        >/dev/null 2>&1 || return 1
    printf -v "CHILD_$p" '%s' "$(crane digest --insecure "$reg/$repo:$p")"
  done
  crane index append --insecure -m "$reg/$repo:amd64" -m "$reg/$repo:arm64" -t "$reg/$repo:multi" \
    >/dev/null 2>&1 || return 1
  IDX=$(crane digest --insecure "$reg/$repo:multi")
  CHILDREN=$(printf '%s\n%s' "$CHILD_amd64" "$CHILD_arm64")
  BLOBS_N=8
  [[ $IDX == sha256:* && $CHILD_amd64 == sha256:* && $CHILD_arm64 == sha256:* ]]
}

# ct_attach REG REF: an artifact (a referrer: oras attach, artifact type
# application/vnd.packhelper.test) whose subject is REF. Sets ART.
ct_attach() {
  printf 'packhelper copy test %s\n' "$(ph_rand)" >"$WORK/sbom.txt"
  ART=$(cd "$WORK" && oras attach --plain-http --artifact-type application/vnd.packhelper.test \
    --format go-template --template '{{.digest}}' "$1/$2" sbom.txt 2>/dev/null)
  [[ $ART == sha256:* ]]
}

# ct_raw REG REPO REF OUT: the manifest's exact bytes (with every manifest
# type accepted) into OUT; prints the HTTP status
ct_raw() {
  curl -s -o "$4" -w '%{http_code}' --max-time 10 -H "Accept: $PH_ACCEPT" "http://$1/v2/$2/manifests/$3"
}

# ct_holds DESC REG REPO TAG [referrer]: REG/REPO holds the test index byte
# for byte: TAG's bytes hash to IDX, each child's bytes (by digest) to its
# digest, crane validate finds every blob there and right; with "referrer",
# the artifact ART is there byte for byte and listed as a referrer of IDX
# (the referrers API, or the sha256-<hex> tag where there is none).
ct_holds() {
  local desc=$1 reg=$2 repo=$3 tag=$4 f=$WORK/raw.json d
  ph_eq "$desc: $repo:$tag's bytes hash to the index digest" "200 $IDX" \
    "$(ct_raw "$reg" "$repo" "$tag" "$f") sha256:$(ph_sha256 "$f")"
  for d in $CHILDREN; do
    ph_eq "$desc: child ${d:7:12}'s bytes hash to its digest" "200 $d" \
      "$(ct_raw "$reg" "$repo" "$d" "$f") sha256:$(ph_sha256 "$f")"
  done
  ph_run "$desc: crane validate (every blob there, hashing to its digest)" \
    crane validate --insecure --remote "$reg/$repo:$tag"
  if [[ ${5:-} == referrer ]]; then
    ph_eq "$desc: the referrer's bytes hash to its digest" "200 $ART" \
      "$(ct_raw "$reg" "$repo" "$ART" "$f") sha256:$(ph_sha256 "$f")"
    ph_eq "$desc: oras discover lists the referrer" "$ART" \
      "$(oras discover --plain-http --format json "$reg/$repo@$IDX" 2>&1 | jq -r '.referrers[].digest' 2>&1)"
  fi
}

# ct_count FILE JQ-FILTER: how many lines of the proxy log FILE the filter
# selects
ct_count() { jq -c "$2" "$1" 2>/dev/null | grep -c .; }
