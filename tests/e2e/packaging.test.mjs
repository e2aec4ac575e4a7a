// packaging: --help and the man page name the same options and variables; the .deb built by
// CPack holds both programs, the tools engine, the man page and the demo scenario, depends on Debian's library
// packages, and its binary runs --version after `dpkg-deb -x` into a temporary root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { AIGW_BIN, SOURCE_DIR, SANITIZE, tmpDir, sanitizerEnv } from './lib/harness.mjs';

const words = (text) => new Set([...text.matchAll(/--[a-z][a-z-]+|\b(?:AZURE|APIM|AIGW|IDENTITY|SSL)_[A-Z_]+\b/g)]
  .map((m) => m[0]));

test('--help and the man page agree on every option and variable', () => {
  const help = spawnSync(AIGW_BIN, ['--help'], { env: { PATH: process.env.PATH, ...sanitizerEnv() }, encoding: 'utf8' }).stdout;
  const man = readFileSync(join(SOURCE_DIR, 'docs/azure-ai-gateway-mcp.1'), 'utf8').replace(/\\-/g, '-').replace(/\\f[BIR]/g, '');
  const h = words(help);
  const m = words(man);
  for (const w of h) assert.ok(m.has(w), `${w} is in --help but not in the man page`);
  for (const w of m) assert.ok(h.has(w), `${w} is in the man page but not in --help`);
  assert.ok(h.size >= 25);
});

// Runs a stdio session as an MCP client does: stdin stays open until the answer to `id` arrived
// (closing stdin is the shutdown signal, and it cancels a running call). Resolves with stdout.
function session(bin, args, frames, id, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { p.kill(); reject(new Error(`no answer in 30 s:\n${out}\n${err}`)); }, 30000);
    p.stderr.on('data', (d) => { err += d; });
    p.stdout.on('data', (d) => {
      out += d;
      if (out.split('\n').some((l) => l.startsWith('{') && JSON.parse(l).id === id)) p.stdin.end();
    });
    p.once('exit', () => { clearTimeout(timer); resolve({ stdout: out, stderr: err }); });
    p.stdin.write(frames);
  });
}

test('the .deb installs into a temporary root and runs', { skip: SANITIZE && 'packaging is checked in the release build' }, async () => {
  const build = dirname(AIGW_BIN);
  const t = tmpDir('aigw-deb-');
  try {
    const cp = spawnSync('cpack', ['-G', 'DEB', '-B', t.dir], { cwd: build, encoding: 'utf8' });
    assert.equal(cp.status, 0, cp.stdout + cp.stderr);
    const deb = readdirSync(t.dir).find((f) => f.endsWith('.deb'));
    assert.ok(deb, 'a .deb was produced');
    const pkg = join(t.dir, deb);
    const depends = spawnSync('dpkg-deb', ['-f', pkg, 'Depends'], { encoding: 'utf8' }).stdout;
    for (const lib of ['libcurl4', 'libjansson4', 'libxml2', 'libssl3', 'libmicrohttpd12']) assert.match(depends, new RegExp(lib));
    const root = join(t.dir, 'root');
    assert.equal(spawnSync('dpkg-deb', ['-x', pkg, root]).status, 0);
    for (const f of ['usr/bin/azure-ai-gateway-mcp', 'usr/bin/apim-sim', 'usr/share/man/man1/azure-ai-gateway-mcp.1',
      'usr/share/azure-ai-gateway-mcp/scenarios/demo.json',
      'usr/lib/azure-ai-gateway-mcp/aigw-engine.so']) {
      assert.ok(existsSync(join(root, f)), `${f} is in the package`);
    }
    const v = spawnSync(join(root, 'usr/bin/azure-ai-gateway-mcp'), ['--version'], { encoding: 'utf8' });
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^azure-ai-gateway-mcp \d/);
    // the packaged program finds its packaged engine, simulator and demo scenario: a real tool call
    const frames = [
      { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'deb', version: '1' } } },
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_apis', arguments: {} } },
    ].map((m) => JSON.stringify(m)).join('\n') + '\n';
    const run = await session(join(root, 'usr/bin/azure-ai-gateway-mcp'), ['--demo'], frames, 1,
      { PATH: '/usr/bin:/bin', HOME: t.dir });
    const answer = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((m) => m.id === 1);
    assert.ok(answer && !answer.result.isError, `${run.stdout}\n${run.stderr}`);
    assert.ok(answer.result.structuredContent.apis.some((a) => a.id === 'aoai-completions'));
  } finally {
    t.cleanup();
  }
});
