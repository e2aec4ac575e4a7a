#!/usr/bin/env bash
# packaging/mcpb/pack.sh BUNDLE_DIR OUT_DIR — the Claude Desktop extension (MCP Bundle, manifest
# 0.3) from a bundle made by packaging/bundle.sh: manifest.json (this folder's, with the binary's
# version and its tools/list names and descriptions) + server/ (bin/, lib/, share/), validated and
# packed with the official @anthropic-ai/mcpb CLI (MCPB=path/to/mcpb, default: the one installed in
# tests/e2e/node_modules). With WIN32_BUNDLE=ZIP (scripts/build-windows.sh's zip, or the folder it
# unzips to) the Windows build goes into server/win32/ too, the manifest gets a win32
# platform_override and the file is named …-linux-x64-win32-x64.mcpb. Prints the .mcpb's path.
set -euo pipefail
bundle=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mcpb=${MCPB:-$here/../../tests/e2e/node_modules/.bin/mcpb}
bin="$bundle/bin/azure-ai-gateway-mcp"
version=$(env -i "$bin" --version | awk '{print $2}')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/server"
cp -a "$bundle/bin" "$bundle/lib" "$bundle/share" "$stage/server/"
cp "$here/../../LICENSE" "$stage/"
suffix=linux-x64
if [ -n "${WIN32_BUNDLE:-}" ]; then
  scratch=$(mktemp -d)
  win=$("$here/../win32-dir.sh" "$WIN32_BUNDLE" "$scratch")
  mkdir "$stage/server/win32" && cp -a "$win"/. "$stage/server/win32/"
  rm -rf "$scratch"
  suffix=linux-x64-win32-x64
fi
# tools: what the binary itself lists (initialize, then tools/list over stdio)
node - "$bin" "$here/manifest.json" "$version" "$stage/manifest.json" "$suffix" <<'JS'
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const [exe, template, version, dest, suffix] = process.argv.slice(2);
const input = [
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcpb-pack', version } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', id: 2, method: 'tools/list' },
].map((m) => JSON.stringify(m)).join('\n') + '\n';
const r = spawnSync(exe, [], { input, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' }, timeout: 30000 });
const list = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((m) => m.id === 2);
if (!list?.result?.tools?.length) { console.error(`tools/list failed: ${r.stdout}${r.stderr}`); process.exit(1); }
const m = JSON.parse(fs.readFileSync(template, 'utf8'));
m.version = version;
m.tools = list.result.tools.map((t) => ({ name: t.name, description: t.description }));
if (suffix.includes('win32')) {
  m.compatibility.platforms = ['linux', 'win32'];
  m.server.mcp_config.platform_overrides = { win32: { command: '${__dirname}/server/win32/azure-ai-gateway-mcp.exe' } };
}
fs.writeFileSync(dest, JSON.stringify(m, null, 2) + '\n');
JS
"$mcpb" validate "$stage/manifest.json" >&2
"$mcpb" pack "$stage" "$out/azure-ai-gateway-mcp-$version-$suffix.mcpb" >&2
echo "$out/azure-ai-gateway-mcp-$version-$suffix.mcpb"
