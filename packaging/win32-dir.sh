#!/usr/bin/env bash
# packaging/win32-dir.sh ZIP_OR_DIR SCRATCH — the folder of the Windows build that holds
# azure-ai-gateway-mcp.exe (with aigw-engine.dll and the DLLs beside it): ZIP_OR_DIR is
# scripts/build-windows.sh's zip (unzipped into SCRATCH) or a folder it was unzipped to. Prints it.
set -euo pipefail
from=$1
if [ -f "$from" ]; then
  mkdir -p "$2" && unzip -q -o "$1" -d "$2" && from=$2
fi
exe=$(find "$from" -name azure-ai-gateway-mcp.exe | head -1)
[ -n "$exe" ] || { echo "no azure-ai-gateway-mcp.exe in $1" >&2; exit 1; }
dirname "$exe"
