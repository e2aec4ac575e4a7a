#!/usr/bin/env node
// azure-ai-gateway-mcp (npm): runs the native MCP server built for this platform. The binary and
// its libraries come in the optional dependency azure-ai-gateway-mcp-<platform>-<arch>, which npm
// installs only on a matching platform (its package.json names os and cpu), as @azure/mcp does.
// stdin, stdout and stderr are the child's own (stdout carries only MCP's JSON-RPC frames); the
// exit code and signals are passed through.
'use strict';
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const path = require('node:path');

// platform-arch → package (win32-x64: packed from scripts/build-windows.sh's zip, packaging/README.md).
const PACKAGES = {
  'linux-x64': 'azure-ai-gateway-mcp-linux-x64',
  'win32-x64': 'azure-ai-gateway-mcp-win32-x64',
};

function fail(message) {
  process.stderr.write(`azure-ai-gateway-mcp: ${message}\n`);
  process.exit(1);
}

const key = `${process.platform}-${process.arch}`;
const pkg = PACKAGES[key];
if (!pkg) {
  fail(`there is no prebuilt server for ${key} (prebuilt: ${Object.keys(PACKAGES).join(', ')}); ` +
    'build it from source (README "Set up and test") and point your client at the binary');
}
let dir;
try {
  dir = path.dirname(require.resolve(`${pkg}/package.json`));
} catch {
  fail(`the package ${pkg}, which holds the server for ${key}, is not installed: npm installs it as an ` +
    'optional dependency, so it was skipped (--omit=optional, --no-optional, or an install that could not ' +
    `fetch it). Reinstall: npm install azure-ai-gateway-mcp ${pkg}`);
}
const exe = path.join(dir, 'bin', process.platform === 'win32' ? 'azure-ai-gateway-mcp.exe' : 'azure-ai-gateway-mcp');
const child = spawn(exe, process.argv.slice(2), { stdio: 'inherit', windowsHide: true });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('error', (e) => fail(`cannot start ${exe}: ${e.message}`));
child.on('exit', (code, signal) => process.exit(signal ? 128 + (constants.signals[signal] ?? 1) : code ?? 1));
