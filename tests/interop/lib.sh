# tests/interop/lib.sh - what the client interop scripts add to tests/lib.sh:
# the registry under test, and checks of what it serves, independent of the
# client under test.
# Source it from a script that runs with `set -uo pipefail` (no -e: checks
# return non-zero on failure so a script can skip dependent steps), then call
#   iop_init NAME "$@"      (NAME = client name, "$@" = the script's args)
# Afterwards these are set: REG (host:port), RAND (random suffix), WORK (temp
# dir, removed on exit; INTEROP_KEEP=1 keeps it), TOOLS (pinned tool bin dir,
# prepended to PATH). ph_finish prints the closing "NAME: N passed, N failed"
# line; tests/interop/all.sh counts the clients.
# shellcheck shell=bash disable=SC2034  # REG RAND WORK TOOLS are for the caller
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
PH_KEEP=${INTEROP_KEEP:-}

iop_init() {
  ph_init "$1" "interop-$1"
  shift
  if [[ $# -ne 1 || -z $1 ]]; then
    echo "usage: $0 REGISTRY   (host:port of a plain-HTTP registry on loopback)" >&2
    exit 2
  fi
  REG=${1#http://}
  REG=${REG%/}
  case ${REG%:*} in
    127.* | localhost | '[::1]') ;;
    *) echo "$0: refusing non-loopback registry $REG" >&2; exit 2 ;;
  esac
  ph_tools
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$REG/v2/" || true)
  if [[ $code != 200 && $code != 401 ]]; then
    ph_not_ok "registry http://$REG/v2/ answers (got HTTP ${code:-none})"
    exit 1
  fi
}

# iop_get_blob REPO DIGEST OUTFILE -> prints http code (follows redirects)
iop_get_blob() {
  curl -s -L -o "$3" -w '%{http_code}' "http://$REG/v2/$1/blobs/$2" || true
}

# iop_check_manifest_bytes DESC REPO REF DIGEST: GET manifest by REF, assert
# 200, Docker-Content-Digest == DIGEST and sha256(body) == DIGEST; then every
# blob it references (config + layers, or child manifests of an index) must be
# downloadable with matching sha256.
iop_check_manifest_bytes() {
  local desc=$1 repo=$2 ref=$3 want=$4 f=$WORK/m.$RANDOM
  local code dcd ct got
  read -r code dcd ct <<<"$(ph_get_manifest "$repo" "$ref" "$f")"
  got=sha256:$(ph_sha256 "$f")
  if [[ $code == 200 && $got == "$want" && ($dcd == "$want" || $dcd == -) ]]; then
    ph_ok "$desc: GET manifest $repo:$ref is byte-exact ($want)"
  else
    ph_not_ok "$desc: GET manifest $repo:$ref (http $code, header $dcd, body $got, want $want)"
    return 1
  fi
  [[ $dcd != - ]] || ph_log "registry sent no Docker-Content-Digest for $repo:$ref"
  local d bad=0 n=0 b=$WORK/b.$RANDOM
  for d in $(jq -r '[.config.digest?, (.layers[]?.digest), (.blobs[]?.digest)] | map(select(. != null)) | .[]' "$f"); do
    n=$((n + 1))
    code=$(iop_get_blob "$repo" "$d" "$b")
    [[ $code == 200 && sha256:$(ph_sha256 "$b") == "$d" ]] || { bad=$((bad + 1)); ph_log "blob $d: http $code"; }
  done
  # an index: its child manifests must be fetchable by digest, byte-exact
  for d in $(jq -r '.manifests[]?.digest' "$f"); do
    n=$((n + 1))
    read -r code _ <<<"$(ph_get_manifest "$repo" "$d" "$b")"
    [[ $code == 200 && sha256:$(ph_sha256 "$b") == "$d" ]] || { bad=$((bad + 1)); ph_log "child manifest $d: http $code"; }
  done
  rm -f "$b"
  if [[ $bad -eq 0 ]]; then
    ph_ok "$desc: all $n referenced blobs/manifests of $repo@${want:7:12} are byte-exact"
  else
    ph_not_ok "$desc: $bad of $n referenced blobs/manifests of $repo@${want:7:12} wrong or missing"
  fi
  rm -f "$f"
}

# iop_tags REPO -> tag list, one per line (follows Link pagination)
iop_tags() {
  local url="/v2/$1/tags/list" hdr=$WORK/th.$$ body=$WORK/tb.$$ i
  for ((i = 0; i < 100; i++)); do
    curl -s -D "$hdr" -o "$body" "http://$REG$url" || break
    jq -r '.tags // [] | .[]' "$body"
    url=$(ph_header link <"$hdr" | sed -n 's/^<\([^>]*\)>.*/\1/p')
    [[ -n $url ]] || break
    url=${url#http://"$REG"}
  done
  rm -f "$hdr" "$body"
}

