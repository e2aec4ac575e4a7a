#!/usr/bin/env bash
# packaging/mcpb/pack.sh BUNDLE_DIR OUT_DIR — the Claude Desktop extension (MCP Bundle, manifest
# 0.3) from a bundle made by packaging/bundle.sh: manifest.json (this folder's, with the binary's
# version and its tools/list names and descriptions) + server/ (bin/, lib/, share/), validated and
# packed with the official @anthropic-ai/mcpb CLI (MCPB=path/to/mcpb, default: the one installed in
# tests/e2e/node_modules). Prints the .mcpb's path.
set -euo pipefail
bundle=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mcpb=${MCPB:-$here/../../tests/e2e/node_modules/.bin/mcpb}
exe="$bundle/bin/azure-ai-gateway-mcp"
version=$(env -i "$exe" --version | awk '{print $2}')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/server"
cp -a "$bundle/bin" "$bundle/lib" "$bundle/share" "$stage/server/"
cp "$here/../../LICENSE" "$stage/"
# tools: what the binary itself lists (initialize, then tools/list over stdio)
node - "$exe" "$here/manifest.json" "$version" "$stage/manifest.json" <<'JS'
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const [exe, template, version, dest] = process.argv.slice(2);
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
fs.writeFileSync(dest, JSON.stringify(m, null, 2) + '\n');
JS
"$mcpb" validate "$stage/manifest.json" >&2
"$mcpb" pack "$stage" "$out/azure-ai-gateway-mcp-$version-linux-x64.mcpb" >&2
echo "$out/azure-ai-gateway-mcp-$version-linux-x64.mcpb"
