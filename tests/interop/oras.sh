#!/usr/bin/env bash
# tests/interop/oras.sh REGISTRY - ORAS artifact round trips.
# oras pushes OCI image manifests with artifactType (image-spec v1.1) and the
# empty config blob (application/vnd.oci.empty.v1+json, "{}"), attaches
# referrers with a subject, and discovers them via GET /v2/<repo>/referrers/<digest>;
# when that API is missing (404) it falls back to the sha256-<hex> tag schema,
# which then shows up in the tag list. It checks the OCI-Subject response header
# on manifest PUT to decide whether to maintain the fallback index.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iop_init oras "$@"

# private, empty credential store (oras reads docker's config for auth)
export DOCKER_CONFIG=$WORK/docker-config
mkdir -p "$DOCKER_CONFIG" && echo '{}' >"$DOCKER_CONFIG/config.json"
export ORAS_CACHE= # no local blob cache: every pull goes to the registry

REPO=interop/oras$RAND
REPO_B=interop/oras$RAND-copy
R=$REG/$REPO
ART_TYPE=application/vnd.packhelper.interop.artifact.v1
SIG_TYPE=application/vnd.packhelper.interop.signature.v1

mkdir -p "$WORK/src" "$WORK/out" "$WORK/out2"
cd "$WORK/src" || exit 1
head -c 150000 /dev/urandom >payload.bin
printf 'packhelper oras interop %s\n' "$RAND" >readme.txt
head -c 700 /dev/urandom >signature.bin
PAYLOAD_SHA=$(ph_sha256 payload.bin)
README_SHA=$(ph_sha256 readme.txt)
SIG_SHA=$(ph_sha256 signature.bin)

# --- push an artifact -------------------------------------------------------------
ph_run "oras push --artifact-type $ART_TYPE $R:v1" \
  oras push --plain-http --format json --artifact-type "$ART_TYPE" -a "org.opencontainers.image.title=interop-$RAND" \
  "$R:v1" payload.bin:application/octet-stream readme.txt:text/plain
D=$(jq -r '.digest // empty' "$WORK/last.log" 2>/dev/null)
ph_true "oras push reported a digest ($D)" test -n "$D"
oras manifest fetch --plain-http "$R:v1" >"$WORK/manifest.json" 2>/dev/null
ph_eq "oras manifest fetch bytes hash to the pushed digest" "$D" "sha256:$(ph_sha256 "$WORK/manifest.json")"
ph_eq "manifest artifactType" "$ART_TYPE" "$(jq -r .artifactType "$WORK/manifest.json" 2>/dev/null)"
ph_eq "manifest is an OCI image manifest" application/vnd.oci.image.manifest.v1+json \
  "$(jq -r .mediaType "$WORK/manifest.json" 2>/dev/null)"
ph_eq "layer digests == file hashes" "sha256:$PAYLOAD_SHA sha256:$README_SHA" \
  "$(jq -r '[.layers[].digest] | join(" ")' "$WORK/manifest.json" 2>/dev/null)"
ph_eq "empty config blob" "application/vnd.oci.empty.v1+json sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" \
  "$(jq -r '.config.mediaType + " " + .config.digest' "$WORK/manifest.json" 2>/dev/null)"
ph_eq "oras manifest fetch --descriptor digest" "$D" \
  "$(oras manifest fetch --plain-http --descriptor "$R:v1" 2>/dev/null | jq -r .digest)"
[[ -n $D ]] && iop_check_manifest_bytes "oras push" "$REPO" v1 "$D"

# --- attach a referrer --------------------------------------------------------------
ph_run "oras attach --artifact-type $SIG_TYPE to $R:v1" \
  oras attach --plain-http --format json --artifact-type "$SIG_TYPE" "$R:v1" signature.bin:application/octet-stream
SD=$(jq -r '.digest // empty' "$WORK/last.log" 2>/dev/null)
ph_true "oras attach reported a digest ($SD)" test -n "$SD"
oras manifest fetch --plain-http "$R@$SD" >"$WORK/sig.json" 2>/dev/null
ph_eq "referrer manifest bytes hash to its digest" "$SD" "sha256:$(ph_sha256 "$WORK/sig.json")"
ph_eq "referrer subject == pushed artifact" "$D" "$(jq -r .subject.digest "$WORK/sig.json" 2>/dev/null)"

# --- discover ------------------------------------------------------------------------
oras discover --plain-http --format json "$R:v1" >"$WORK/discover.json" 2>"$WORK/discover.err"
ph_eq "oras discover (json) lists the referrer with its artifactType" "$SIG_TYPE" \
  "$(jq -r --arg d "$SD" '[.. | objects | select(.digest? == $d) | .artifactType] | first // empty' "$WORK/discover.json" 2>/dev/null)"
ph_eq "oras discover --artifact-type filter finds exactly it" "$SD" \
  "$(oras discover --plain-http --format json --artifact-type "$SIG_TYPE" "$R:v1" 2>/dev/null |
    jq -r '[.. | objects | select(.artifactType? == "'"$SIG_TYPE"'") | .digest] | unique | join(" ")')"
# what the registry itself says (referrers API, or the tag-schema fallback)
code=$(curl -s -o "$WORK/referrers.json" -w '%{http_code}' "http://$REG/v2/$REPO/referrers/$D")
if [[ $code == 200 ]]; then
  ph_eq "GET /v2/$REPO/referrers/<digest> lists the referrer" "$SIG_TYPE" \
    "$(jq -r --arg d "$SD" '.manifests[] | select(.digest == $d) | .artifactType' "$WORK/referrers.json")"
else
  ph_log "registry has no referrers API (HTTP $code); oras used the tag schema"
  ph_contains "fallback tag sha256-<hex> present" "sha256-${D#sha256:}" "$(oras repo tags --plain-http "$R" 2>/dev/null)"
fi

# --- pull back -----------------------------------------------------------------------
ph_run "oras pull $R:v1" oras pull --plain-http -o "$WORK/out" "$R:v1"
ph_eq "pulled payload.bin byte-exact" "$PAYLOAD_SHA" "$(ph_sha256 "$WORK/out/payload.bin" 2>/dev/null)"
ph_eq "pulled readme.txt byte-exact" "$README_SHA" "$(ph_sha256 "$WORK/out/readme.txt" 2>/dev/null)"
ph_run "oras pull the referrer $R@$SD" oras pull --plain-http -o "$WORK/out2" "$R@$SD"
ph_eq "pulled signature.bin byte-exact" "$SIG_SHA" "$(ph_sha256 "$WORK/out2/signature.bin" 2>/dev/null)"
ph_eq "oras blob fetch payload byte-exact" "$PAYLOAD_SHA" \
  "$(oras blob fetch --plain-http --output - "$R@sha256:$PAYLOAD_SHA" 2>/dev/null | ph_sha256)"

# --- tags -----------------------------------------------------------------------------
ph_run "oras tag $R:v1 v2" oras tag --plain-http "$R:v1" v2
TAGS=$(oras repo tags --plain-http "$R" 2>/dev/null)
ph_contains "oras repo tags has v1" v1 "$TAGS"
ph_contains "oras repo tags has v2" v2 "$TAGS"
ph_contains "oras repo ls lists $REPO" "$REPO" "$(oras repo ls --plain-http "$REG/interop" 2>/dev/null | sed 's|^|interop/|')"

# --- recursive copy (artifact + referrers) to another repo -----------------------------
ph_run "oras cp -r $R:v1 -> $REG/$REPO_B:v1" \
  oras cp -r --from-plain-http --to-plain-http "$R:v1" "$REG/$REPO_B:v1"
ph_eq "copied artifact keeps its digest" "$D" \
  "$(oras manifest fetch --plain-http --descriptor "$REG/$REPO_B:v1" 2>/dev/null | jq -r .digest)"
ph_eq "copied repo discovers the same referrer" "$SD" \
  "$(oras discover --plain-http --format json "$REG/$REPO_B:v1" 2>/dev/null |
    jq -r --arg d "$SD" '[.. | objects | select(.digest? == $d) | .digest] | first // empty')"

# --- delete the referrer: it must disappear from discovery -----------------------------
ph_run "oras manifest delete $R@$SD" oras manifest delete --plain-http --force "$R@$SD"
LEFT=$(oras discover --plain-http --format json "$R:v1" 2>/dev/null |
  jq -r --arg d "$SD" '[.. | objects | select(.digest? == $d) | .digest] | length')
ph_eq "discover no longer lists the deleted referrer" 0 "$LEFT"
# --- the two-platform index: --platform picks the child ---------------------------------
# `oras pull` writes only layers named by an org.opencontainers.image.title
# annotation (its file model; a container image's layers have none, and oras
# says so and points at `oras copy --to-oci-layout`), so the image is fetched
# with `oras cp --platform` into an OCI layout, as the oras docs show.
if iop_mp; then
  cd "$WORK" || exit 1
  for a in "${MP_ARCHS[@]}"; do
    ph_eq "oras manifest fetch --platform linux/$a --descriptor is that platform's manifest" "${MP_MAN[$a]}" \
      "$(oras manifest fetch --plain-http --platform "linux/$a" --descriptor "$MP_REF" 2>/dev/null |
        jq -r .digest)"
    ph_run "oras cp --platform linux/$a $MP_REF -> OCI layout" \
      oras cp --from-plain-http --platform "linux/$a" "$MP_REF" --to-oci-layout "$WORK/mp-$a:$a"
    ph_eq "oras copied linux/$a's manifest" "${MP_MAN[$a]}" \
      "$(iop_mp_layout_hello "$WORK/mp-$a" "$WORK/hello-$a")"
    iop_mp_check_bin "oras cp --platform linux/$a" "$a" "$WORK/hello-$a"
  done
fi

ph_finish
