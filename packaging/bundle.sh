#!/usr/bin/env bash
# packaging/bundle.sh BUILD_DIR OUT_DIR — a self-contained Linux tree of azure-ai-gateway-mcp from a
# release build, and its release tarball:
#
#   OUT_DIR/azure-ai-gateway-mcp-VERSION-linux-ARCH/
#     bin/azure-ai-gateway-mcp, bin/apim-sim, bin/aigw-engine.so   (the engine next to the program,
#                                                                     where src/engine.c looks first)
#     lib/            every shared library they need beyond glibc (libjansson, libcurl and its own
#                     dependencies, OpenSSL, libxml2, libmicrohttpd, …), copied from this system
#     share/azure-ai-gateway-mcp/scenarios/demo.json, share/man/man1/azure-ai-gateway-mcp.1
#     LICENSE, README.md
#   OUT_DIR/azure-ai-gateway-mcp-VERSION-linux-ARCH.tar.gz
#
# Each program and library gets a RUNPATH ($ORIGIN/../lib for bin/, $ORIGIN for lib/), so the
# tree runs from any folder on a machine with glibc >= the build machine's and nothing else (no
# -dev packages, no libjansson4/libmicrohttpd12). Needs patchelf (Debian package `patchelf`).
# Prints the tree's path on stdout.
set -euo pipefail

build=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
command -v patchelf >/dev/null || { echo "bundle.sh: patchelf is needed (apt-get install patchelf)" >&2; exit 1; }

version=$("$build/azure-ai-gateway-mcp" --version | awk '{print $2}')
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
name="azure-ai-gateway-mcp-$version-linux-$arch"
root="$out/$name"
rm -rf "$root" "$root.tar.gz"
mkdir -p "$root/bin" "$root/lib" "$root/share/azure-ai-gateway-mcp/scenarios" "$root/share/man/man1"

install -m 0755 "$build/azure-ai-gateway-mcp" "$build/apim-sim" "$root/bin/"
install -m 0644 "$build/aigw-engine.so" "$root/bin/"
install -m 0644 "$src"/src/sim/scenarios/*.json "$root/share/azure-ai-gateway-mcp/scenarios/"
install -m 0644 "$src/docs/azure-ai-gateway-mcp.1" "$root/share/man/man1/"
install -m 0644 "$src/LICENSE" "$src/README.md" "$root/"

# glibc's own libraries stay the system's (they must match its loader); everything else is copied.
is_glibc() {
  case "$1" in
    linux-vdso.so.*|ld-linux*|libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libresolv.so.*|\
    libutil.so.*|libanl.so.*|libnss_*|libmvec.so.*) return 0 ;;
  esac
  return 1
}

for f in "$root/bin/azure-ai-gateway-mcp" "$root/bin/apim-sim" "$root/bin/aigw-engine.so"; do
  # ldd lists the whole closure (direct and indirect dependencies)
  ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r soname path; do
    is_glibc "$soname" && continue
    [ -e "$root/lib/$soname" ] || install -m 0644 "$(readlink -f "$path")" "$root/lib/$soname"
  done
done

# debug info stays in the build tree; the bundle carries stripped copies
strip --strip-unneeded "$root/bin/azure-ai-gateway-mcp" "$root/bin/apim-sim" "$root/bin/aigw-engine.so" "$root"/lib/*.so*
for f in "$root/bin/azure-ai-gateway-mcp" "$root/bin/apim-sim" "$root/bin/aigw-engine.so"; do
  patchelf --set-rpath '$ORIGIN/../lib' "$f"
done
for f in "$root"/lib/*.so*; do
  patchelf --set-rpath '$ORIGIN' "$f"
done

tar -C "$out" --owner=0 --group=0 --numeric-owner -czf "$root.tar.gz" "$name"
echo "$root"
