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


# ---- a two-platform index (linux/amd64 + linux/arm64) -----------------------------
# iop_mp [DIR]: the index every client script pulls with an explicit platform.
# all.sh has tests/interop/fixture.sh make it once, in DIR = $IOP_SHARED/mp
# (a dir all.sh removes at the end), before the clients start; iop_mp without
# DIR reads what is there (mp.env), or, when there is none (a script run
# alone), makes its own in WORK.
# The images: tests/interop/hello.c built static with musl-gcc (amd64) and
# aarch64-linux-musl-gcc (arm64), each in a FROM scratch image (docker build
# --platform, the legacy builder: Docker 20.10's needs the COPY right after
# FROM scratch; a LABEL with RAND makes the image IDs this run's own),
# docker-saved, pushed by `packhelper push` (OCI manifests) and removed from
# docker (the client scripts pull them for real); then `regctl index create`
# puts the OCI index together in the registry, and skopeo copies it (both
# children, digests kept) into an OCI layout for the import tests.
# Sets:
#   MP_REPO, MP_REF      interop/mp<RAND>, $REG/$MP_REPO:multi
#   MP_INDEX             the index's digest
#   MP_MAN[ARCH]         the platform manifest digests `packhelper push` printed
#   MP_CFG[ARCH]         their config digests (= the docker image IDs)
#   MP_SHA[ARCH]         sha256 of the built /hello
#   MP_TAR[ARCH]         docker-save tarball of the one-platform image
#   MP_LAYOUT            OCI layout dir holding the index, tagged multi
# (ARCH: amd64, arm64). 1 with one "not ok" when a step failed: the caller
# skips its index checks, which is then not silent.
MP_ARCHS=(amd64 arm64)
declare -A MP_MAN=() MP_CFG=() MP_SHA=() MP_TAR=()
declare -A MP_ELF=([amd64]=x86-64 [arm64]="ARM aarch64")     # file(1) says
declare -A MP_UNAME=([amd64]=x86_64 [arm64]=aarch64)         # hello says
declare -A MP_CC=([amd64]=musl-gcc [arm64]=aarch64-linux-musl-gcc)

iop_mp() {
  local dir=${1:-} a
  if [[ -z $dir && -n ${IOP_SHARED:-} && -f $IOP_SHARED/mp/mp.env ]] &&
    grep -qxF "MP_FOR=$REG" "$IOP_SHARED/mp/mp.env"; then
    # shellcheck source=/dev/null
    . "$IOP_SHARED/mp/mp.env"
    MP_REF=$REG/$MP_REPO:multi
    return 0
  fi
  dir=${dir:-$WORK/mp}
  rm -rf "$dir"
  mkdir -p "$dir"
  if ! iop__mp_build "$dir" >"$dir/build.log" 2>&1; then
    ph_not_ok "two-platform test index (iop_mp) could not be made"
    sed 's/^/#   /' "$dir/build.log" | tail -n 15 >&2
    return 1
  fi
  {
    printf 'MP_FOR=%s\nMP_REPO=%q\nMP_INDEX=%q\nMP_LAYOUT=%q\n' "$REG" "$MP_REPO" "$MP_INDEX" "$MP_LAYOUT"
    for a in "${MP_ARCHS[@]}"; do
      printf 'MP_%s[%s]=%q\n' MAN "$a" "${MP_MAN[$a]}" CFG "$a" "${MP_CFG[$a]}" SHA "$a" "${MP_SHA[$a]}" \
        TAR "$a" "${MP_TAR[$a]}"
    done
  } >"$dir/mp.env"
}

iop__mp_build() {
  local dir=$1 a img want got pid pids=()
  ph_binary
  MP_REPO=interop/mp$RAND
  MP_REF=$REG/$MP_REPO:multi
  for a in "${MP_ARCHS[@]}"; do
    img=packhelper-interop-mp$RAND:$a
    mkdir -p "$dir/$a"
    "${MP_CC[$a]}" -static -Os -s -Wall -Wextra -Werror -o "$dir/$a/hello" "$PH_LIB/interop/hello.c" || return 1
    MP_SHA[$a]=$(ph_sha256 "$dir/$a/hello")
    printf 'FROM scratch\nCOPY hello /hello\nLABEL packhelper.test.run="%s"\nENTRYPOINT ["/hello"]\n' \
      "$RAND" >"$dir/$a/Dockerfile"
    ph_cleanup "docker rmi -f '$img'"
    # both builds at once (each takes a second or two of the daemon's time)
    DOCKER_BUILDKIT=0 docker build -q --no-cache --platform "linux/$a" -t "$img" "$dir/$a" >"$dir/$a.id" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || return 1; done
  for a in "${MP_ARCHS[@]}"; do
    img=packhelper-interop-mp$RAND:$a
    MP_CFG[$a]=$(docker image inspect -f '{{.Id}}' "$img") || return 1
    MP_TAR[$a]=$dir/$a.tar
    docker save -o "${MP_TAR[$a]}" "$img" && docker rmi "$img" || return 1
    MP_MAN[$a]=$("$PH" push --insecure -q "${MP_TAR[$a]}" "$REG/$MP_REPO:$a") || return 1
  done
  mkdir -p "$dir/regctl"
  HOME=$dir/regctl REGCTL_CONFIG=$dir/regctl/config.json regctl registry set --tls disabled "$REG" &&
    HOME=$dir/regctl REGCTL_CONFIG=$dir/regctl/config.json \
      regctl index create "$MP_REF" --ref "$REG/$MP_REPO:amd64" --ref "$REG/$MP_REPO:arm64" || return 1
  read -r got MP_INDEX _ <<<"$(ph_get_manifest "$MP_REPO" multi "$dir/index.json")"
  [[ $got == 200 ]] || return 1
  # the index must say exactly what was pushed, or no check below means anything
  want=$(printf 'linux/amd64 %s\nlinux/arm64 %s' "${MP_MAN[amd64]}" "${MP_MAN[arm64]}")
  got=$(jq -r '.manifests[] | "\(.platform.os)/\(.platform.architecture) \(.digest)"' "$dir/index.json")
  [[ $got == "$want" ]] || { echo "index lists: $got; want: $want"; return 1; }
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$dir/policy.json"
  MP_LAYOUT=$dir/layout
  skopeo --policy "$dir/policy.json" copy -q --all --preserve-digests --src-tls-verify=false \
    "docker://$MP_REF" "oci:$MP_LAYOUT:multi" || return 1
}

# iop_mp_check_bin DESC ARCH FILE: FILE is the /hello built for linux/ARCH (its
# ELF machine as file(1) reads it, and its sha256)
iop_mp_check_bin() {
  local got
  got="$(file -b "$3" 2>/dev/null | grep -oE 'x86-64|ARM aarch64' | head -n1) $(ph_sha256 "$3" 2>/dev/null)"
  ph_eq "$1: /hello is the linux/$2 build" "${MP_ELF[$2]} ${MP_SHA[$2]}" "$got"
}

# iop_mp_check_run DESC ARCH OUTPUT: what a container run of linux/ARCH prints
iop_mp_check_run() { ph_eq "$1 prints the linux/$2 greeting" "hello from ${MP_UNAME[$2]}" "$3"; }

# iop_mp_layer_hello LAYER OUT: /hello out of a layer blob (tar, plain or gzip)
iop_mp_layer_hello() { tar -xOf "$1" hello >"$2" 2>/dev/null; }

# iop_mp_layout_hello DIR OUT: /hello out of a one-image OCI layout (its
# index.json's only manifest, that manifest's only layer); prints the manifest
# digest the layout holds
iop_mp_layout_hello() {
  local m l
  m=$(jq -r '.manifests[0].digest' "$1/index.json" 2>/dev/null)
  l=$(jq -r '.layers[0].digest' "$1/blobs/sha256/${m#sha256:}" 2>/dev/null)
  iop_mp_layer_hello "$1/blobs/sha256/${l#sha256:}" "$2"
  echo "$m"
}

# iop_imported: a second `packhelper serve` on loopback whose store was filled
# the two ways an image gets in without a push: `packhelper import` of the OCI
# layout holding the index (-> $IMP_REPO:multi) and `serve --import` of the
# amd64 docker-save tarball (-> $IMP_REPO:amd64). Needs iop_mp. Sets IMP
# (host:port) and IMP_REPO; iop_imported_stop stops it (SIGTERM, clean exit).
iop_imported() {
  local out
  IMP_REPO=interop/imported$RAND
  ph_binary
  out=$("$PH" import "$MP_LAYOUT" "$IMP_REPO:multi" --root "$WORK/imported.store" 2>"$WORK/import.err")
  ph_eq "packhelper import of the index's OCI layout keeps its digest" "$IMP_REPO:multi $MP_INDEX" "$out" ||
    return 1
  if ! PH_SERVE_ROOT=$WORK/imported.store \
    ph_serve_start imported --import "${MP_TAR[amd64]}=$IMP_REPO:amd64"; then
    ph_not_ok "packhelper serve --import of the amd64 docker-save tarball (on the imported store)"
    return 1
  fi
  IMP=127.0.0.1:$PORT
}
iop_imported_stop() { ph_true "the imported images' server stops cleanly on SIGTERM" ph_serve_stop imported; }
