#!/usr/bin/env bash
# mk/deps.sh - build packhelper's static third-party libraries (BearSSL, zlib,
# libcurl, libarchive) from pinned Debian source packages with musl-gcc, into a
# cached prefix outside the repository, and print that prefix on stdout.
#
# Usage: mk/deps.sh [ARCH]     (builds if needed; stdout = the prefix, one line)
#        ARCH: amd64 or arm64 (Debian names; default: this machine's).  arm64
#        on an amd64 machine is a cross build: Debian's gcc-aarch64-linux-gnu
#        and musl-dev:arm64 (its aarch64-linux-musl-gcc), checked under
#        qemu-aarch64-static.  One cached prefix per version set and ARCH.
# Env:   PACKHELPER_CACHE      cache root (default: $HOME/.cache/packhelper)
#        PACKHELPER_VERBOSE=1  stream configure/make output to stderr
# Notes: see mk/deps.md. Runs as root on Debian (installs build tools with apt).
set -euo pipefail

# ---- pins (exact Debian source versions; see mk/deps.md for why these) ----
BEARSSL_VER='0.6+dfsg.1-3'                   # bookworm
ZLIB_VER='1:1.3.dfsg+really1.3.1-1'          # trixie
CURL_VER='8.14.1-2+deb13u5'                  # trixie (8.14.x: last with BearSSL)
LIBARCHIVE_VER='3.7.4-4+deb13u1'             # trixie

CACERT=/etc/ssl/certs/ca-certificates.crt    # baked into libcurl at configure time
DEP_CFLAGS='-O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -ffunction-sections -fdata-sections'

# All chatter goes to stderr; fd 3 is the real stdout, used once for the prefix.
exec 3>&1 1>&2

host_arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
arch=${1:-$host_arch}
case $host_arch:$arch in
  amd64:amd64 | arm64:arm64) cross=0 ;;
  amd64:arm64) cross=1 ;;
  *) printf '[deps] ERROR: cannot build for %s on %s (amd64, arm64, or arm64 on amd64)\n' \
       "$arch" "$host_arch" >&2; exit 1 ;;
esac

cache=${PACKHELPER_CACHE:-${HOME:-/root}/.cache/packhelper}
self=$(readlink -f "${BASH_SOURCE[0]}")
key=$( { printf '%s\n' "$BEARSSL_VER" "$ZLIB_VER" "$CURL_VER" "$LIBARCHIVE_VER" "$arch"
         sha256sum <"$self"; } | sha256sum | cut -c1-16)
prefix=$cache/deps-$arch-$key

# ---- fast path: a finished prefix exists (it only appears via an atomic rename) ----
if [[ -f $prefix/.complete ]]; then
  printf '%s\n' "$prefix" >&3
  exit 0
fi

log() { printf '[deps] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  log "another mk/deps.sh is building in $cache; waiting for its lock"
  flock 9
fi
if [[ -f $prefix/.complete ]]; then          # built by whoever held the lock
  printf '%s\n' "$prefix" >&3
  exit 0
fi

# We hold the lock, so any build dir or .tmp prefix is a leftover of an
# interrupted or failed run: remove it.
rm -rf "$cache"/build.* "$cache"/deps-*.tmp

t_start=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- apt: deb-src entries, build tools ----
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_update() {
  log "apt-get update"
  apt-get update -q </dev/null >&2 || die "apt-get update failed"
  apt_updated=1
}

# deb-src for bookworm and trixie (with the -updates/-security variants that the
# system's deb entries use), same URIs and Signed-By as debian.sources.
# Source indexes only: no trixie binary entry, so nothing can upgrade the system.
srcfile=/etc/apt/sources.list.d/packhelper-deb-src.sources
want_src=$(
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    awk '
      function flush(   n, i, s, sfx, out, seen) {
        if (types ~ /(^| )deb( |$)/ && uris != "" && suites != "") {
          n = split(suites, s, " "); out = ""
          for (i = 1; i <= n; i++) {
            sfx = s[i]; sub(/^[a-z]+/, "", sfx)
            if (!(("bookworm" sfx) in seen)) { seen["bookworm" sfx]; out = out " bookworm" sfx }
            if (!(("trixie" sfx) in seen))   { seen["trixie" sfx];   out = out " trixie" sfx }
          }
          printf "%sTypes: deb-src\nURIs: %s\nSuites:%s\nComponents: %s\n", sep, uris, out, comps
          if (signed != "") printf "Signed-By: %s\n", signed
          sep = "\n"
        }
        types = uris = suites = comps = signed = ""
      }
      /^#/ { next }
      /^[ \t]*$/ { flush(); next }
      { k = $1; v = $0; sub(/^[^:]*:[ \t]*/, "", v) }
      k == "Types:" { types = v } k == "URIs:" { uris = v } k == "Suites:" { suites = v }
      k == "Components:" { comps = v } k == "Signed-By:" { signed = v }
      END { flush() }
    ' /etc/apt/sources.list.d/debian.sources
  fi
)
if [[ -z $want_src ]]; then
  want_src='Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
fi
want_src="# Written by packhelper mk/deps.sh: source indexes only (apt-get source).
$want_src"
need_update=0
if [[ ! -f $srcfile ]] || [[ $(<"$srcfile") != "$want_src" ]]; then
  log "writing $srcfile"
  printf '%s\n' "$want_src" >"$srcfile"
  need_update=1
fi
compgen -G '/var/lib/apt/lists/*trixie*_source_Sources*' >/dev/null || need_update=1

want_pkgs=(musl-tools musl-dev gcc make dpkg-dev file binutils xz-utils)
if (( cross )); then
  # musl-dev:arm64 ships aarch64-linux-musl-gcc; musl-tools:arm64 would
  # remove the amd64 musl-gcc, so it is never asked for.
  want_pkgs+=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu musl-dev:arm64 qemu-user-static)
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
    need_update=1
  fi
fi
missing=()
for p in "${want_pkgs[@]}"; do
  [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || missing+=("$p")
done
if (( ${#missing[@]} )); then need_update=1; fi
if (( need_update )); then apt_update; fi
if (( ${#missing[@]} )); then
  log "apt-get install ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2 \
    || die "apt-get install failed"
fi
command -v musl-gcc >/dev/null || die "musl-gcc not found after installing musl-tools"
if (( cross )); then
  command -v aarch64-linux-musl-gcc >/dev/null ||
    die "aarch64-linux-musl-gcc not found after installing musl-dev:arm64"
  TCC=aarch64-linux-musl-gcc TAR=aarch64-linux-gnu-ar TRANLIB=aarch64-linux-gnu-ranlib
  TSTRIP=aarch64-linux-gnu-strip
  # --build keeps autoconf in cross mode even when binfmt_misc could run
  # aarch64 test programs: faster, and the same result on every machine
  hostflags=(--host=aarch64-linux-musl --build=x86_64-pc-linux-gnu)
  trun=(qemu-aarch64-static)
else
  TCC=musl-gcc TAR=ar TRANLIB=ranlib TSTRIP=strip hostflags=() trun=()
fi

# ---- fetch + unpack sources (downloads are kept in $cache/src) ----
srcdir=$cache/src
mkdir -p "$srcdir"
pins=("bearssl=$BEARSSL_VER" "zlib=$ZLIB_VER" "curl=$CURL_VER" "libarchive=$LIBARCHIVE_VER")
fetch() {
  (cd "$srcdir" && apt-get source --download-only -qq -o APT::Sandbox::User=root "${pins[@]}" </dev/null >&2)
}
log "fetching sources: ${pins[*]}"
t=$(date +%s.%N)
if ! fetch; then
  # Stale indexes can lack a pinned version: update once and retry.
  if (( apt_updated )) || ! { apt_update; fetch; }; then
    die "apt-get source failed for one of: ${pins[*]}
  (a pinned version may have left the archive or its mirror; pick one from
   'apt-cache showsrc NAME' that downloads, and update the pins at the top of mk/deps.sh)"
  fi
fi
t_fetch=$(elapsed "$t")

build=$(mktemp -d "$cache/build.XXXXXX")
stage=$prefix.tmp
mkdir -p "$stage/lib/pkgconfig" "$stage/include" "$build/logs"

# run NAME CMD...: run in the current dir, output to $build/logs/NAME.log
run() {
  local name=$1; shift
  if [[ ${PACKHELPER_VERBOSE:-} == 1 ]]; then
    "$@" >&2 && return 0
  else
    "$@" >>"$build/logs/$name.log" 2>&1 && return 0
    tail -n 60 "$build/logs/$name.log" >&2
  fi
  die "$name: '$*' failed (log: $build/logs/$name.log, build dir kept until the next run)"
}

unpack() {  # unpack NAME VERSION -> $build/NAME (Debian patches applied)
  local dsc="$srcdir/${1}_${2#*:}.dsc"
  [[ -f $dsc ]] || die "missing $dsc after apt-get source"
  run "$1" dpkg-source -x "$dsc" "$build/$1"
}

jobs=$(nproc 2>/dev/null || echo 2)
export CC=$TCC AR=$TAR RANLIB=$TRANLIB
export CFLAGS="$DEP_CFLAGS"
export CPPFLAGS="-I$stage/include"
export LDFLAGS="-L$stage/lib"
export PKG_CONFIG_LIBDIR="$stage/lib/pkgconfig" PKG_CONFIG_PATH=
declare -A took

# ---- BearSSL ----
t=$(date +%s.%N); log "building BearSSL $BEARSSL_VER for $arch"
unpack bearssl "$BEARSSL_VER"
cd "$build/bearssl"
cat >conf/musl.mk <<EOF
# written by packhelper mk/deps.sh
include conf/Unix.mk
CC = $TCC
LD = $TCC
LDDLL = $TCC
AR = $TAR
CFLAGS = -W -Wall $DEP_CFLAGS -fPIC
DLL = no
TOOLS = no
TESTS = no
EOF
run bearssl make -j"$jobs" CONF=musl
install -m 644 build/libbearssl.a "$stage/lib/"
install -m 644 inc/*.h "$stage/include/"
took[bearssl]=$(elapsed "$t")

# ---- zlib ----
t=$(date +%s.%N); log "building zlib $ZLIB_VER for $arch"
unpack zlib "$ZLIB_VER"
cd "$build/zlib"
run zlib ./configure --static --prefix="$stage"
run zlib make -j"$jobs" libz.a
run zlib make install
rm -rf "$stage/share"             # man page
took[zlib]=$(elapsed "$t")

# ---- libcurl (lib/ only) ----
t=$(date +%s.%N); log "building curl $CURL_VER for $arch"
unpack curl "$CURL_VER"
cd "$build/curl"
run curl ./configure --prefix="$stage" "${hostflags[@]}" \
  --disable-shared --enable-static --disable-dependency-tracking \
  --with-bearssl="$stage" --with-zlib="$stage" \
  --without-openssl --without-gnutls --without-mbedtls --without-wolfssl --without-rustls \
  --with-ca-bundle="$CACERT" --without-ca-path --without-ca-embed \
  --enable-http --enable-proxy --enable-unix-sockets --enable-threaded-resolver --disable-ares \
  --disable-ftp --disable-file --disable-ipfs --disable-ldap --disable-ldaps --disable-rtsp \
  --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb \
  --disable-smtp --disable-gopher --disable-mqtt --disable-websockets \
  --disable-manual --disable-docs --disable-libcurl-option \
  --disable-ntlm --disable-kerberos-auth --disable-negotiate-auth --disable-tls-srp \
  --without-libpsl --without-brotli --without-zstd \
  --without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-quiche --without-msh3 \
  --without-openssl-quic --without-libssh --without-libssh2 --without-wolfssh \
  --without-libidn2 --without-librtmp --without-libgsasl --without-libuv \
  --without-zsh-functions-dir --without-fish-functions-dir
grep -q '^#define USE_BEARSSL 1' lib/curl_config.h || die "curl: configure did not enable BearSSL"
grep -q '^#define HAVE_LIBZ 1' lib/curl_config.h || die "curl: configure did not enable zlib"
run curl make -j"$jobs" -C lib
run curl make -C lib install
run curl make -C include install
run curl make install-pkgconfigDATA
took[curl]=$(elapsed "$t")

# ---- libarchive (library only) ----
t=$(date +%s.%N); log "building libarchive $LIBARCHIVE_VER for $arch"
unpack libarchive "$LIBARCHIVE_VER"
cd "$build/libarchive"
run libarchive ./configure --prefix="$stage" "${hostflags[@]}" \
  --disable-shared --enable-static --disable-dependency-tracking --disable-maintainer-mode \
  --disable-bsdtar --disable-bsdcat --disable-bsdcpio --disable-bsdunzip \
  --disable-xattr --disable-acl \
  --with-zlib --without-bz2lib --without-libb2 --without-lzma --without-zstd --without-lz4 \
  --without-lzo2 --without-xml2 --without-expat --without-openssl --without-mbedtls \
  --without-nettle --without-cng
grep -q '^#define HAVE_ZLIB_H 1' config.h || die "libarchive: configure did not find zlib"
run libarchive make -j"$jobs" libarchive.la
run libarchive make install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
# libarchive.pc asks pkg-config for an iconv.pc that nothing provides (iconv is in musl).
sed -i -E '/^Requires\.private:/ s/(^|[ ,])iconv([ ,]|$)/\1\2/; /^Requires\.private:[ ,]*$/d' \
  "$stage/lib/pkgconfig/libarchive.pc"
took[libarchive]=$(elapsed "$t")

# ---- tidy: drop libtool archives, point text files at the final prefix ----
rm -f "$stage"/lib/*.la
mapfile -d '' -t textfiles < <(grep -rlIZ -F "$stage" "$stage" || true)
(( ${#textfiles[@]} == 0 )) || sed -i "s|$stage|$prefix|g" "${textfiles[@]}"

# ---- verify: link everything into a static musl binary and run it ----
t=$(date +%s.%N); log "verifying"
cd "$build"
cat >deps-check.c <<'EOF'
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>
#include <archive.h>
#include <archive_entry.h>
#include <bearssl.h>
#include <zlib.h>

int main(void) {
  /* BearSSL: SHA-256("abc") */
  static const unsigned char want[4] = {0xba, 0x78, 0x16, 0xbf};
  unsigned char out[32];
  br_sha256_context sc;
  br_sha256_init(&sc);
  br_sha256_update(&sc, "abc", 3);
  br_sha256_out(&sc, out);
  if (memcmp(out, want, sizeof want) != 0) { puts("FAIL: bearssl sha256"); return 1; }

  /* libcurl: BearSSL backend, zlib, https and unix sockets */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) { puts("FAIL: curl_global_init"); return 1; }
  const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
  int https = 0;
  for (const char *const *p = vi->protocols; *p; p++) if (strcmp(*p, "https") == 0) https = 1;
  if (!https || !vi->ssl_version || !strstr(vi->ssl_version, "BearSSL") || !vi->libz_version ||
      !(vi->features & CURL_VERSION_UNIX_SOCKETS)) { puts("FAIL: curl features"); return 1; }

  /* libarchive + zlib: write a .tar.gz to memory and read it back */
  static char buf[16384];
  size_t used = 0;
  struct archive *w = archive_write_new();
  archive_write_add_filter_gzip(w);
  archive_write_set_format_pax_restricted(w);
  if (archive_write_open_memory(w, buf, sizeof buf, &used) != ARCHIVE_OK) { puts("FAIL: write open"); return 1; }
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, "hello.txt");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 5);
  archive_write_header(w, e);
  archive_write_data(w, "hello", 5);
  archive_entry_free(e);
  archive_write_close(w);
  archive_write_free(w);
  struct archive *r = archive_read_new();
  archive_read_support_filter_all(r);
  archive_read_support_format_all(r);
  char data[8] = {0};
  if (archive_read_open_memory(r, buf, used) != ARCHIVE_OK ||
      archive_read_next_header(r, &e) != ARCHIVE_OK ||
      archive_read_data(r, data, sizeof data) != 5 || strcmp(data, "hello") != 0 ||
      archive_filter_code(r, 0) != ARCHIVE_FILTER_GZIP) { puts("FAIL: archive roundtrip"); return 1; }
  archive_read_free(r);

  printf("curl_version: %s\n", curl_version());
  printf("archive_version_string: %s\n", archive_version_string());
  printf("archive_version_details: %s\n", archive_version_details());
  printf("zlibVersion: %s\n", zlibVersion());
  printf("bearssl sha256(abc): %02x%02x%02x%02x... ok; tar.gz roundtrip (%zu bytes) ok\n",
         out[0], out[1], out[2], out[3], used);
  curl_global_cleanup();
  return 0;
}
EOF
link=("$TCC" -static -O2 -I"$stage/include" deps-check.c -o deps-check
      -L"$stage/lib" -Wl,--gc-sections -larchive -lcurl -lbearssl -lz)
run verify "${link[@]}"
desc=$(file -b deps-check)
[[ $desc == *"statically linked"* ]] || die "deps-check is not statically linked: $desc"
"${trun[@]}" ./deps-check >&2 || die "deps-check failed"
cp deps-check deps-check.stripped && "$TSTRIP" deps-check.stripped
size=$(stat -c %s deps-check) size_stripped=$(stat -c %s deps-check.stripped)
log "deps-check: $desc"
log "deps-check size: $size bytes ($size_stripped stripped)"
took[verify]=$(elapsed "$t")

# ---- publish atomically ----
{
  echo "packhelper deps, built $(date -u +%Y-%m-%dT%H:%M:%SZ) by mk/deps.sh (key $key)"
  echo "bearssl $BEARSSL_VER, zlib $ZLIB_VER, curl $CURL_VER, libarchive $LIBARCHIVE_VER"
  echo "arch $arch (built on $host_arch), musl $(dpkg-query -W -f='${Version}' "musl-dev:$arch"), CC=$TCC CFLAGS=$DEP_CFLAGS"
  echo "link: $TCC -static -I$prefix/include ... -L$prefix/lib -larchive -lcurl -lbearssl -lz"
  echo "seconds: fetch $t_fetch, bearssl ${took[bearssl]}, zlib ${took[zlib]}," \
       "curl ${took[curl]}, libarchive ${took[libarchive]}, verify ${took[verify]}," \
       "total $(elapsed "$t_start")"
  echo "deps-check: $size bytes, $size_stripped stripped"
} >"$stage/BUILD-INFO"
cat "$stage/BUILD-INFO" >&2
touch "$stage/.complete"
mv -T "$stage" "$prefix"
cd "$cache"
rm -rf "$build"
log "done: $prefix"
printf '%s\n' "$prefix" >&3
