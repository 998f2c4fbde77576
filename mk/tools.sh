#!/usr/bin/env bash
# mk/tools.sh - install every test tool packhelper's test suites use.
#
# Idempotent. Prints the directory holding the pinned Go tools as the ONLY
# line on stdout; everything else goes to stderr. Usage:
#
#   TOOLS=$(mk/tools.sh) && export PATH="$TOOLS:$PATH"
#
# Debian packages are installed with apt only when a command is missing.
# Go tools are built with pinned versions into
#   ${PACKHELPER_CACHE:-$HOME/.cache/packhelper}/tools-<key>/bin
# where <key> hashes this script (and therefore every pin). A cache hit calls
# neither apt nor go. Concurrent runs are serialised with flock; the bin dir is
# built in a temp dir and renamed into place atomically.
set -euo pipefail

log() { printf 'tools.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Pins. Changing anything in this file changes the cache key.
# ---------------------------------------------------------------------------
CRANE_PKG=github.com/google/go-containerregistry/cmd/crane
CRANE_VER=v0.22.1
REGCTL_PKG=github.com/regclient/regclient/cmd/regctl
REGCTL_VER=v0.11.7
ORAS_PKG=oras.land/oras/cmd/oras
ORAS_VER=v1.3.6
OLAREG_PKG=github.com/olareg/olareg/cmd/olareg
OLAREG_VER=v0.2.2

CONF_MOD=github.com/opencontainers/distribution-spec/conformance
SPECS_MOD=github.com/opencontainers/distribution-spec/specs-go
# Current main of the conformance suite (the 2026 rewrite; runs as a
# `go test` binary through its legacy_test.go shim).
CONF_MAIN_VER=v0.0.0-20260831232431-97274622c111
# The spec's v1.1.1 tag is commit a139cc423184af6078077b9b7ee336eddbd03f8f
# (2025-01-23T16:05:58Z, from `go list -m -json
# github.com/opencontainers/distribution-spec@v1.1.1`), i.e. the pseudo-version
# v0.0.0-20250123160558-a139cc423184 of the conformance module. The module
# proxy reachable from this project does not serve that version (403), so the
# default is the newest served ginkgo-era suite before the rewrite
# (2023-11-01, f2182352d4cc). Override with PACKHELPER_CONF_V111_VERSION when
# the exact version becomes available; the override is part of the cache key.
CONF_V111_EXACT=v0.0.0-20250123160558-a139cc423184
CONF_V111_VER=${PACKHELPER_CONF_V111_VERSION:-v0.0.0-20231101194043-f2182352d4cc}

GO_TOOLS=(crane regctl oras olareg conformance-main.test conformance-v1.1.1.test)

# command-on-PATH -> Debian package(s) (first installable alternative wins)
APT_NEEDS=(
  "skopeo:skopeo"
  "wrk:wrk"
  "nginx:nginx-light|nginx"
  "docker-registry:docker-registry"
  "clang:clang"
  "htpasswd:apache2-utils"
  "jq:jq"
  "curl:curl"
  "/usr/bin/python3:python3"
  "file:file"
  "openssl:openssl"
  # the ASan/UBSan build links Debian's glibc libraries; the fuzzers need libFuzzer
  "/usr/include/bearssl/bearssl_hash.h:libbearssl-dev"
  "/usr/include/x86_64-linux-gnu/curl/curl.h:libcurl4-openssl-dev"
  "/usr/include/archive.h:libarchive-dev"
  "/usr/include/zlib.h:zlib1g-dev"
  "/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev"
  # the client matrix and linux/arm64: podman, qemu user emulation (binfmt_misc
  # for arm64 containers, tests/binfmt.sh), and static test programs for both
  # platforms (musl-dev:arm64 ships aarch64-linux-musl-gcc; never musl-tools:arm64,
  # which would remove the amd64 musl-gcc)
  "podman:podman"
  "qemu-aarch64-static:qemu-user-static"
  "musl-gcc:musl-tools"
  "aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu"
  "aarch64-linux-musl-gcc:musl-dev:arm64"
)

# ---------------------------------------------------------------------------
have_cmd() {
  case $1 in
    /*) [[ -e $1 ]] ;;
    *) command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /usr/bin/$1 ]] ;;
  esac
}

missing_apt_pkgs() {
  local ent cmd alts
  for ent in "${APT_NEEDS[@]}"; do
    cmd=${ent%%:*} alts=${ent#*:}
    have_cmd "$cmd" || printf '%s\n' "$alts"
  done
}

script_path=${BASH_SOURCE[0]}
script_hash=$( { cat "$script_path"; printf 'v111=%s\n' "$CONF_V111_VER"; } | sha256sum | cut -c1-16)
CACHE=${PACKHELPER_CACHE:-${HOME:-/root}/.cache/packhelper}
TOOLS_DIR=$CACHE/tools-$script_hash
BIN=$TOOLS_DIR/bin

tools_complete() {
  local t
  for t in "${GO_TOOLS[@]}"; do [[ -x $BIN/$t ]] || return 1; done
}

# Fast path: everything present, no lock, no apt, no go.
if tools_complete && [[ -z $(missing_apt_pkgs) ]]; then
  printf '%s\n' "$BIN"
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/tools.lock"
if ! flock -n 9; then
  log "waiting for another mk/tools.sh run (lock $CACHE/tools.lock)"
  flock 9
fi

# ---------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------
apt_install() {
  local need=() alts p chosen
  local updated=0
  if missing_apt_pkgs | grep -q ':arm64' && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "dpkg --add-architecture arm64; apt-get update"
    dpkg --add-architecture arm64 || die "dpkg --add-architecture arm64 failed"
    apt-get update -qq >&2 || die "apt-get update failed"
    updated=1
  fi
  while IFS= read -r alts; do
    [[ -n $alts ]] || continue
    chosen=
    for p in ${alts//|/ }; do
      if [[ -n $(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}') ]]; then
        chosen=$p; break
      fi
    done
    if [[ -z $chosen && $updated -eq 0 ]]; then
      log "apt-get update"
      apt-get update -qq >&2 || die "apt-get update failed"
      updated=1
      for p in ${alts//|/ }; do
        if [[ -n $(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}') ]]; then
          chosen=$p; break
        fi
      done
    fi
    [[ -n $chosen ]] || die "no installable package among: $alts"
    need+=("$chosen")
  done < <(missing_apt_pkgs)
  [[ ${#need[@]} -gt 0 ]] || return 0

  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${need[*]}"
    sudo=(sudo)
  fi
  # Never let package postinst scripts start nginx / docker-registry services.
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  log "apt-get install ${need[*]}"
  local rc=0
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 || rc=$?
  if [[ $rc -ne 0 && $updated -eq 0 ]]; then
    log "apt-get install failed; retrying after apt-get update"
    "${sudo[@]}" apt-get update -qq >&2
    rc=0
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 || rc=$?
  fi
  if [[ $made_policy -eq 1 ]]; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
  [[ $rc -eq 0 ]] || die "apt-get install failed"
  local left
  left=$(missing_apt_pkgs)
  [[ -z $left ]] || die "still missing after apt-get install: $left"
}

apt_install

# ---------------------------------------------------------------------------
# Go tools
# ---------------------------------------------------------------------------
build_go_tools() {
  local GO
  GO=$(command -v go 2>/dev/null || true)
  [[ -n $GO ]] || GO=/usr/local/go/bin/go
  [[ -x $GO ]] || die "go toolchain not found (looked on PATH and /usr/local/go/bin)"
  log "building Go tools with $("$GO" version)"

  local tmp
  tmp=$(mktemp -d "$CACHE/.tools-$script_hash.XXXXXX")
  chmod 755 "$tmp"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  mkdir -p "$tmp/bin"

  export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" GOTOOLCHAIN=${PACKHELPER_GOTOOLCHAIN:-local}
  export GOBIN=$tmp/bin

  local spec
  for spec in "$CRANE_PKG@$CRANE_VER" "$REGCTL_PKG@$REGCTL_VER" "$ORAS_PKG@$ORAS_VER"; do
    log "go install $spec"
    "$GO" install "$spec" >&2
  done

  # Everything else is built inside a throwaway module that requires the
  # pinned version: `go install olareg@v` fails here because it also looks up
  # the module's deprecation via the proxy's version list, which the proxy
  # refuses (403) for olareg; the conformance suites need `go test -c`.
  # usage: mod_build OUT build|test PKG@VER [EXTRA_MOD@VER]
  mod_build() {
    local out=$1 mode=$2 spec=$3 extra=${4:-} dir=$tmp/mod-${1%.test}
    local pkg=${spec%@*}
    mkdir -p "$dir"
    printf 'module packhelper.invalid/tools/%s\n\ngo 1.24\n' "${out%.test}" >"$dir/go.mod"
    log "go $mode $spec -> $out"
    (
      cd "$dir"
      if [[ -n $extra ]]; then "$GO" mod edit -require="$extra" >&2; fi
      if [[ $mode == test ]]; then
        "$GO" get -t "$spec" >&2
        "$GO" test -c -o "$tmp/bin/$out" "$pkg" >&2
      else
        "$GO" get "$spec" >&2
        "$GO" build -o "$tmp/bin/$out" "$pkg" >&2
      fi
    )
  }
  mod_build olareg build "$OLAREG_PKG@$OLAREG_VER"
  # main's go.mod asks for an older specs-go pseudo-version than the proxy
  # serves; pin specs-go to the same commit as the suite.
  mod_build conformance-main.test test "$CONF_MOD@$CONF_MAIN_VER" "$SPECS_MOD@$CONF_MAIN_VER"
  mod_build conformance-v1.1.1.test test "$CONF_MOD@$CONF_V111_VER"
  rm -rf "$tmp"/mod-*

  {
    printf 'crane %s\nregctl %s\noras %s\nolareg %s\n' "$CRANE_VER" "$REGCTL_VER" "$ORAS_VER" "$OLAREG_VER"
    printf 'conformance-main.test %s@%s\n' "$CONF_MOD" "$CONF_MAIN_VER"
    printf 'conformance-v1.1.1.test %s@%s (exact v1.1.1 would be %s)\n' "$CONF_MOD" "$CONF_V111_VER" "$CONF_V111_EXACT"
    printf 'go %s\n' "$("$GO" env GOVERSION)"
  } >"$tmp/VERSIONS"

  rm -rf "$TOOLS_DIR.old"
  if [[ -e $TOOLS_DIR ]]; then mv -T "$TOOLS_DIR" "$TOOLS_DIR.old"; fi
  mv -T "$tmp" "$TOOLS_DIR"
  rm -rf "$TOOLS_DIR.old"
  trap - EXIT
}

if ! tools_complete; then
  start=$SECONDS
  build_go_tools
  tools_complete || die "Go tools incomplete after build in $BIN"
  log "Go tools ready in $((SECONDS - start))s"
fi

printf '%s\n' "$BIN"
