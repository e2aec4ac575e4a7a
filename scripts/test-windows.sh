#!/usr/bin/env bash
# The Windows tests in one command: builds the Windows zip (scripts/build-windows.sh, dependencies
# cached), unpacks it, builds apim-sim for Linux in build-wintest/, and runs the e2e subset
# (ctest label `windows`) with the .exe under Debian's Wine against apim-sim on loopback.
#   bash scripts/test-windows.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${AIGW_JOBS:-2}
t0=$(date +%s)
bash scripts/build-windows.sh
t1=$(date +%s)
zip=$(ls -t build-windows/azure-ai-gateway-mcp-*-win64.zip | head -n 1)
unpacked=$ROOT/build-windows/unpacked
rm -rf "$unpacked" && mkdir -p "$unpacked"
unzip -q "$zip" -d "$unpacked"
dir=$(ls -d "$unpacked"/azure-ai-gateway-mcp-*-win64)
cmake -S . -B build-wintest -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIGW_WINDOWS_DIR="$dir" >/dev/null
cmake --build build-wintest -j"$JOBS" --target apim-sim >/dev/null
# one wineserver for the whole run (each .exe start then costs no Wine boot), stopped at the end
export WINEPREFIX=${AIGW_WINEPREFIX:-${AIGW_WIN_CACHE:-$HOME/.cache/azure-ai-gateway-mcp/windows}/wineprefix}
scripts/wine-run.sh cmd /c exit </dev/null >/dev/null 2>&1
wineserver -p 30 </dev/null >/dev/null 2>&1 || true
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT
ctest --test-dir build-wintest -L windows --output-on-failure
echo "test-windows: build $(( t1 - t0 )) s, tests $(( $(date +%s) - t1 )) s"
