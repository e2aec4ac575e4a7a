#!/usr/bin/env bash
# packaging/npm/pack.sh BUNDLE_DIR OUT_DIR — the npm packages from a bundle made by
# packaging/bundle.sh (bin/, lib/, share/):
#   OUT_DIR/azure-ai-gateway-mcp-linux-x64-VERSION.tgz   the native server (os linux, cpu x64)
#   OUT_DIR/azure-ai-gateway-mcp-VERSION.tgz             the launcher (bin/azure-ai-gateway-mcp.js)
#                                                         with the platform package as optional dependency
# The version is the binary's own (--version). The Windows build (scripts/build-windows.sh: a zip of
# azure-ai-gateway-mcp.exe, aigw-engine.dll and their DLLs side by side), given as WIN32_BUNDLE=ZIP
# (or the folder it unzips to), is packed the same way as azure-ai-gateway-mcp-win32-x64 (os win32, all
# in bin/) and added to optionalDependencies. Prints the tarballs' paths.
set -euo pipefail
bundle=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
version=$(env -i "$bundle/bin/azure-ai-gateway-mcp" --version | awk '{print $2}')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

platform_pkg() { # platform_pkg NAME OS CPU BUNDLE
  local dir="$stage/$1"
  mkdir -p "$dir"
  if [ -d "$4/bin" ]; then # a tree from bundle.sh
    cp -a "$4/bin" "$4/lib" "$4/share" "$dir/"
  else # the Windows build's zip (or its unzipped folder): the .exe, aigw-engine.dll and the DLLs side by side
    local win
    win=$("$here/../win32-dir.sh" "$4" "$stage/unzipped-$1")
    mkdir "$dir/bin" && cp -a "$win"/. "$dir/bin/"
  fi
  cp "$here/../../LICENSE" "$dir/"
  node -e '
    const [name, version, os, cpu] = process.argv.slice(1);
    const p = { name, version, license: "MIT",
      description: `The native azure-ai-gateway-mcp server for ${os}-${cpu} with its libraries; installed by the azure-ai-gateway-mcp package`,
      os: [os], cpu: [cpu], files: ["bin/", "lib/", "share/", "LICENSE"], preferUnplugged: true };
    require("fs").writeFileSync(process.argv[5], JSON.stringify(p, null, 2) + "\n");
  ' "$1" "$version" "$2" "$3" "$dir/package.json"
  (cd "$out" && npm pack --silent "$dir")
}

platform_pkg azure-ai-gateway-mcp-linux-x64 linux x64 "$bundle" >/dev/null
optional="\"azure-ai-gateway-mcp-linux-x64\": \"$version\""
if [ -n "${WIN32_BUNDLE:-}" ]; then
  platform_pkg azure-ai-gateway-mcp-win32-x64 win32 x64 "$WIN32_BUNDLE" >/dev/null
  optional="$optional, \"azure-ai-gateway-mcp-win32-x64\": \"$version\""
fi

main="$stage/azure-ai-gateway-mcp"
cp -a "$here/azure-ai-gateway-mcp" "$main"
cp "$here/../../LICENSE" "$main/"
node -e '
  const [file, version, optional] = process.argv.slice(1);
  const p = JSON.parse(require("fs").readFileSync(file, "utf8"));
  p.version = version;
  p.optionalDependencies = JSON.parse(`{${optional}}`);
  require("fs").writeFileSync(file, JSON.stringify(p, null, 2) + "\n");
' "$main/package.json" "$version" "$optional"
(cd "$out" && npm pack --silent "$main") >/dev/null
ls "$out"/azure-ai-gateway-mcp-*"$version".tgz
