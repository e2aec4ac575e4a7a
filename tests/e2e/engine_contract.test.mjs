// engine_contract: the program opens its tools engine through one versioned entry point
// (include/engine_api.h). The engine exports nothing else and needs nothing from the program by
// name; an engine of another build is refused with a sentence naming both versions, and the
// program keeps serving (initialize, tools/list) with every tool call answering that error.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { basename, join } from 'node:path';
import { AIGW_BIN, checkSanitizers, sanitizerEnv, waitExit, tmpDir } from './lib/harness.mjs';

after(checkSanitizers);

const ENGINE = process.env.AIGW_ENGINE;
const OTHER = process.env.AIGW_OTHER_ENGINE;

// A JSON-RPC exchange over stdio with the program at `bin`: request(method, params) -> response.
function serve(bin, env) {
  const proc = spawn(bin, [], { env: { PATH: process.env.PATH, ...sanitizerEnv(), ...env },
    stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const pending = new Map();
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const msg = JSON.parse(line);
    pending.get(msg.id)?.(msg);
  });
  let id = 0;
  return {
    request(method, params = {}) {
      const n = ++id;
      proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: n, method, params }) + '\n');
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${method}; stderr:\n${err}`)), 20000);
        pending.set(n, (m) => { clearTimeout(timer); resolve(m); });
      });
    },
    notify(method) { proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', method }) + '\n'); },
    async end() { proc.stdin.end(); return waitExit(proc); },
  };
}

test('the engine exports exactly one symbol, the versioned entry point, and imports nothing from the program', () => {
  assert.ok(ENGINE && OTHER, 'AIGW_ENGINE and AIGW_OTHER_ENGINE are set by ctest');
  const defined = execFileSync('nm', ['-D', '--defined-only', ENGINE], { encoding: 'utf8' })
    .split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 3 && /[TDBR]/.test(f[1]))
    .map((f) => f[2]).filter((n) => !n.startsWith('_'));
  assert.deepEqual(defined, ['aigw_engine_open']);
  const undef = execFileSync('nm', ['-D', '--undefined-only', ENGINE], { encoding: 'utf8' });
  assert.doesNotMatch(undef, /\b(util|mcp|config|tools)_\w+/, 'no program symbol is resolved by name');
  const program = execFileSync('nm', ['-D', '--defined-only', AIGW_BIN], { encoding: 'utf8' });
  assert.doesNotMatch(program, /\b(util|mcp|config)_\w+/, 'the program exports nothing (no -rdynamic)');
});

test('an engine of another build is refused with both versions named; the server keeps serving', async () => {
  const t = tmpDir();
  try {
    // a copy of the program with the other build's engine next to it
    const dir = join(t.dir, 'bin');
    mkdirSync(dir);
    const bin = join(dir, basename(AIGW_BIN));
    copyFileSync(AIGW_BIN, bin);
    copyFileSync(OTHER, join(dir, basename(ENGINE)));
    execFileSync('chmod', ['755', bin]);
    const srv = serve(bin, { HOME: t.dir });
    const init = await srv.request('initialize', { protocolVersion: '2025-06-18', capabilities: {},
      clientInfo: { name: 'e2e', version: '1' } });
    srv.notify('notifications/initialized');
    const version = init.result.serverInfo.version;
    const list = await srv.request('tools/list');
    assert.ok(list.result.tools.length > 0, 'tools/list needs no engine');
    const r = await srv.request('tools/call', { name: 'list_apis', arguments: {} });
    assert.equal(r.result.isError, true);
    const text = r.result.content[0].text;
    assert.match(text, /tools engine is version 0\.0\.0-other \(interface \d+\) but the program is version/);
    assert.ok(text.includes(`program is version ${version}`), text);
    assert.match(text, /different builds/);
    await srv.end();
  } finally {
    t.cleanup();
  }
});
