#!/bin/sh
# Runs a Windows program under Debian's Wine with the Windows builds of the dependencies
# (scripts/build-windows.sh) and MinGW's runtime DLLs on its DLL search path, quietly, in a Wine
# prefix of its own under the cache (created on first use). Used as CMake's cross-compiling
# emulator (the tool catalog generator) and by the Windows tests.
#   scripts/wine-run.sh PROGRAM.exe [ARGS...]
set -eu
cache=${AIGW_WIN_CACHE:-$HOME/.cache/azure-ai-gateway-mcp/windows}
prefix=${AIGW_WIN_PREFIX:-$cache/prefix}
gccdir=$(ls -d /usr/lib/gcc/x86_64-w64-mingw32/*-posix 2>/dev/null | head -n 1)
dos() { printf 'Z:%s' "$1" | tr / '\\'; }
WINEPATH="$(dos "$prefix/bin");$(dos /usr/x86_64-w64-mingw32/lib)${gccdir:+;$(dos "$gccdir")}"
WINEPREFIX=${AIGW_WINEPREFIX:-$cache/wineprefix}
WINEDEBUG=${WINEDEBUG:--all}
WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=} # no Mono/Gecko install prompts
export WINEPATH WINEPREFIX WINEDEBUG WINEDLLOVERRIDES
mkdir -p "$WINEPREFIX"
wine=$(command -v wine || command -v wine64 || echo /usr/lib/wine/wine64)
exec "$wine" "$@"
