#!/usr/bin/env bash
# Cross-compiles azure-ai-gateway-mcp.exe for 64-bit Windows with Debian's MinGW-w64 and packs it
# with the DLLs it needs into a zip. jansson, libxml2, libcurl, OpenSSL and PCRE2 are built for Windows
# from Debian's own source packages (`apt-get source`; the script adds a deb-src entry), and cached
# under $AIGW_WIN_CACHE (default ~/.cache/azure-ai-gateway-mcp/windows), keyed by each source
# package's version, so a second run rebuilds only the project.
#
#   bash scripts/build-windows.sh [--deps-only]
#
# Output: build-windows/ (the CMake tree) and build-windows/azure-ai-gateway-mcp-<version>-win64.zip.
# Run as root or with sudo available (it installs Debian packages). Needs no network but Debian's.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${AIGW_WIN_CACHE:-$HOME/.cache/azure-ai-gateway-mcp/windows}
PREFIX=$CACHE/prefix
BUILD=${AIGW_WIN_BUILD:-$ROOT/build-windows}
JOBS=${AIGW_JOBS:-2}
TRIPLET=x86_64-w64-mingw32
RECIPE=1 # bump when a dependency's build options below change: every dependency is rebuilt
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

say() { printf 'build-windows: %s\n' "$*" >&2; }

# --- Debian packages: the cross compiler, dpkg-source, zip; deb-src for apt-get source ---------
need=()
for p in gcc-mingw-w64-x86-64 dpkg-dev cmake pkg-config make perl zip unzip; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
srclist=/etc/apt/sources.list.d/azure-ai-gateway-mcp-deb-src.sources
updated=0
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  say "adding a deb-src entry ($srclist)"
  # The same archives and suites as the deb entries, for source packages.
  { echo "Types: deb-src"
    echo "URIs: http://deb.debian.org/debian"
    echo "Suites: bookworm bookworm-updates"
    echo "Components: main"
    echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    echo
    echo "Types: deb-src"
    echo "URIs: http://deb.debian.org/debian-security"
    echo "Suites: bookworm-security"
    echo "Components: main"
    echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  } | $SUDO tee "$srclist" >/dev/null
  $SUDO apt-get update -qq; updated=1
fi
if [ ${#need[@]} -gt 0 ]; then
  [ $updated = 1 ] || $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
CC_WIN=$(command -v $TRIPLET-gcc-posix || command -v $TRIPLET-gcc)

# --- Dependencies --------------------------------------------------------------------------------
mkdir -p "$CACHE/src" "$CACHE/build" "$CACHE/stamp" "$PREFIX"
# Source versions Debian lists for PKG, newest first. A mirror may list a version (say, from
# bookworm-security) whose files it does not serve: fetch takes the newest one it can download.
srcvers() { apt-cache showsrc "$1" | awk '/^Version:/{print $2}' | sort -Vru; }

# fetch PKG: unpacks Debian's source package (with Debian's patches applied) into
# $CACHE/src/PKG-VERSION and prints that directory.
fetch() {
  local pkg=$1 ver dir tmp
  for ver in $(srcvers "$pkg"); do
    dir=$CACHE/src/$pkg-$ver
    if [ -d "$dir" ]; then echo "$dir"; return 0; fi
    tmp=$(mktemp -d "$CACHE/src/.fetch.XXXXXX")
    if (cd "$tmp" && apt-get source -qq "$pkg=$ver" >/dev/null 2>"$tmp.log"); then
      mv "$tmp"/"$pkg"-*/ "$dir"; rm -rf "$tmp" "$tmp.log"; echo "$dir"; return 0
    fi
    say "apt-get source $pkg=$ver failed ($(grep -m1 '^E:' "$tmp.log" || true)); trying an older version"
    rm -rf "$tmp" "$tmp.log"
  done
  say "no source package of $pkg could be downloaded"; return 1
}

TOOLCHAIN=$ROOT/cmake/mingw-w64-x86_64.cmake
cmake_dep() { # cmake_dep SRC BUILDDIR [options...]
  local src=$1 bld=$2; shift 2
  rm -rf "$bld"
  cmake -S "$src" -B "$bld" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DAIGW_WIN_PREFIX="$PREFIX" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_SHARED_LIBS=ON "$@" >/dev/null
  cmake --build "$bld" -j"$JOBS" >/dev/null
  cmake --install "$bld" >/dev/null
}

build_openssl() {
  local src=$1 bld=$CACHE/build/openssl
  rm -rf "$bld"; cp -a "$src" "$bld"
  (cd "$bld" && ./Configure mingw64 shared no-tests no-unit-test --cross-compile-prefix=$TRIPLET- \
      --prefix="$PREFIX" --libdir=lib --openssldir="$PREFIX/ssl" >/dev/null &&
   make -j"$JOBS" build_libs >/dev/null && make install_dev install_runtime_libs >/dev/null)
}
build_jansson() {
  cmake_dep "$1" "$CACHE/build/jansson" -DJANSSON_BUILD_SHARED_LIBS=ON -DJANSSON_BUILD_DOCS=OFF \
    -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_EXAMPLES=OFF
}
build_libxml2() {
  cmake_dep "$1" "$CACHE/build/libxml2" -DLIBXML2_WITH_ICONV=OFF -DLIBXML2_WITH_ICU=OFF \
    -DLIBXML2_WITH_LZMA=OFF -DLIBXML2_WITH_ZLIB=OFF -DLIBXML2_WITH_PYTHON=OFF \
    -DLIBXML2_WITH_TESTS=OFF -DLIBXML2_WITH_PROGRAMS=OFF -DLIBXML2_WITH_HTTP=OFF -DLIBXML2_WITH_FTP=OFF
}
build_pcre2() { # static: regcomp/regexec for JSON Schema "pattern" (platform_regex_match)
  cmake_dep "$1" "$CACHE/build/pcre2" -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON \
    -DPCRE2_BUILD_PCRE2_8=ON -DPCRE2_BUILD_TESTS=OFF -DPCRE2_BUILD_PCRE2GREP=OFF -DPCRE2_SUPPORT_JIT=OFF
}
build_curl() {
  cmake_dep "$1" "$CACHE/build/curl" -DCURL_USE_OPENSSL=ON -DOPENSSL_ROOT_DIR="$PREFIX" \
    -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DCURL_USE_LIBSSH2=OFF -DUSE_NGHTTP2=OFF \
    -DCURL_ZLIB=OFF -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DUSE_LIBIDN2=OFF -DCURL_DISABLE_LDAP=ON \
    -DENABLE_MANUAL=OFF -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none
}

# A dependency is rebuilt when Debian lists a newer source version than the one its stamp records,
# when RECIPE changes, or when one before it was rebuilt (curl links OpenSSL).
rebuilt=0
for pkg in openssl jansson libxml2 curl pcre2; do
  newest=$(srcvers "$pkg" | head -1)
  [ -n "$newest" ] || { say "apt-cache showsrc $pkg lists no source package"; exit 1; }
  stamp=$CACHE/stamp/$pkg
  if [ $rebuilt = 0 ] && [ "$(cut -d' ' -f2- "$stamp" 2>/dev/null)" = "listed $newest recipe $RECIPE" ]; then
    say "$pkg $(cut -d' ' -f1 "$stamp"): cached"
    continue
  fi
  rebuilt=1; rm -f "$stamp"
  src=$(fetch "$pkg")
  say "$pkg ${src##*/$pkg-}: building for Windows"
  t0=$(date +%s)
  "build_$pkg" "$src"
  echo "${src##*/$pkg-} listed $newest recipe $RECIPE" >"$stamp"
  say "$pkg: built in $(( $(date +%s) - t0 )) s"
done
[ "${1:-}" = "--deps-only" ] && exit 0

# --- The project ---------------------------------------------------------------------------------
# The tool catalog generator runs under Wine during the build (cmake/mingw-w64-x86_64.cmake).
command -v wine >/dev/null 2>&1 || { $SUDO apt-get install -y -qq --no-install-recommends wine wine64 >/dev/null; }
export AIGW_WIN_CACHE=$CACHE
t0=$(date +%s)
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DAIGW_WIN_PREFIX="$PREFIX" \
  -DCMAKE_BUILD_TYPE=Release -DAIGW_TESTS=OFF -DAIGW_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$JOBS" >/dev/null
say "project built in $(( $(date +%s) - t0 )) s"

# --- The zip: the program, its engine, and every DLL they load that Windows does not ship -------
version=$(sed -n 's/^project(azure-ai-gateway-mcp VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
name=azure-ai-gateway-mcp-$version-win64
stage=$BUILD/$name
rm -rf "$stage" "$BUILD/$name.zip"
mkdir -p "$stage"
cp "$BUILD/azure-ai-gateway-mcp.exe" "$BUILD/aigw-engine.dll" "$stage/"
gccdir=$(ls -d /usr/lib/gcc/$TRIPLET/*-posix | head -n 1)
dll_dirs=("$PREFIX/bin" "/usr/$TRIPLET/lib" "$gccdir")
# follow the import tables: a DLL found in one of dll_dirs is shipped; others are Windows' own
queue=("$stage/azure-ai-gateway-mcp.exe" "$stage/aigw-engine.dll")
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}; queue=("${queue[@]:1}")
  for dll in $($TRIPLET-objdump -p "$f" | sed -n 's/^\s*DLL Name: //p'); do
    [ -e "$stage/$dll" ] && continue
    for d in "${dll_dirs[@]}"; do
      if [ -e "$d/$dll" ]; then cp "$d/$dll" "$stage/"; queue+=("$stage/$dll"); break; fi
    done
  done
done
cp "$ROOT/LICENSE" "$stage/LICENSE.txt"
(cd "$BUILD" && zip -qr "$name.zip" "$name")
say "$BUILD/$name.zip: $(cd "$stage" && ls | tr '\n' ' ')"
