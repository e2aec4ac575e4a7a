// clients: every JSON snippet in docs/clients.md (and the `claude mcp add` lines) names this
// program and arguments the binary accepts; the README's Claude Desktop snippet too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { AIGW_BIN, SOURCE_DIR, sanitizerEnv } from './lib/harness.mjs';

function jsonBlocks(file) {
  const text = readFileSync(join(SOURCE_DIR, file), 'utf8');
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));
}

// Every {command, args} launch description in a client config, whatever its shape.
function launches(cfg) {
  const found = [];
  for (const s of Object.values(cfg.mcpServers ?? {})) found.push({ command: s.command, args: s.args ?? [], env: s.env });
  for (const s of cfg.experimental?.modelContextProtocolServers ?? []) found.push({ ...s.transport });
  for (const s of Object.values(cfg.context_servers ?? {})) found.push({ command: s.command.path, args: s.command.args, env: s.command.env });
  return found;
}

function accepts(args) {
  // --version after the arguments: parsing them must succeed and nothing is started
  const r = spawnSync(AIGW_BIN, [...args, '--version'], { env: { PATH: process.env.PATH, ...sanitizerEnv() }, encoding: 'utf8' });
  return r.status === 0 && /^azure-ai-gateway-mcp /.test(r.stdout);
}

test('every client configuration in docs/clients.md launches this program with accepted arguments', () => {
  const blocks = jsonBlocks('docs/clients.md');
  assert.ok(blocks.length >= 13, `expected a demo and a real variant per client, found ${blocks.length} blocks`);
  let n = 0;
  for (const cfg of blocks) {
    const ls = launches(cfg);
    assert.ok(ls.length > 0, `a snippet with no server: ${JSON.stringify(cfg)}`);
    for (const l of ls) {
      assert.match(l.command, /(^|\/)azure-ai-gateway-mcp$/, `command ${l.command}`);
      assert.ok(Array.isArray(l.args), 'args is an array');
      assert.ok(accepts(l.args), `the binary refuses ${JSON.stringify(l.args)}`);
      for (const k of Object.keys(l.env ?? {})) assert.match(k, /^(AZURE_|APIM_|AIGW_)/, `unknown variable ${k}`);
      n++;
    }
  }
  const demo = blocks.flatMap(launches).filter((l) => l.args.includes('--demo')).length;
  assert.ok(demo >= 6, `demo variants: ${demo}`);
  assert.ok(n >= 13);
});

test('the claude mcp add lines and the README snippet are accepted too', () => {
  const text = readFileSync(join(SOURCE_DIR, 'docs/clients.md'), 'utf8');
  const lines = [...text.matchAll(/claude mcp add [\s\S]*?-- (\S+)([^\n]*)/g)];
  assert.ok(lines.length >= 2);
  for (const [, command, rest] of lines) {
    assert.match(command, /azure-ai-gateway-mcp$/);
    assert.ok(accepts(rest.trim() ? rest.trim().split(/\s+/) : []));
  }
  for (const cfg of jsonBlocks('README.md')) for (const l of launches(cfg)) assert.ok(accepts(l.args));
});
