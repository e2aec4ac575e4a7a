// valgrind: a real session under valgrind's memcheck — initialize, tools/list, every read tool
// once against apim-sim, a write dry run, then stdin closes — must end with no memory errors and
// no definite or indirect leaks. Runs in the release build (the ASan build covers LeakSanitizer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { AIGW_BIN, SANITIZE, startSim, simEnv, tmpDir, waitExit } from './lib/harness.mjs';

const haveValgrind = spawnSync('valgrind', ['--version']).status === 0;

const CALLS = {
  list_apis: {},
  get_policy: { api_id: 'aoai-completions' },
  list_subscriptions: { product_id: 'aoai' },
  get_backend_pool: { api_id: 'aoai-completions' },
  get_metrics: { api_id: 'aoai-completions', since: '1h' },
  update_quota: { subscription_id: 'growth', tpm: 150000, dry_run: true },
};

test('no leaks or memory errors under valgrind', { skip: (SANITIZE && 'ASan build') || (!haveValgrind && 'valgrind missing'), timeout: 240000 }, async () => {
  const sim = await startSim();
  const t = tmpDir('aigw-vg-');
  const log = join(t.dir, 'valgrind.log');
  try {
    const env = { PATH: process.env.PATH, HOME: t.dir, AIGW_AUDIT_LOG: join(t.dir, 'audit.jsonl'), ...simEnv(sim) };
    const proc = spawn('valgrind', ['--leak-check=full', '--errors-for-leak-kinds=definite,indirect',
      '--show-leak-kinds=definite,indirect', '--error-exitcode=99', `--log-file=${log}`, AIGW_BIN],
    { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    const answered = (id) => out.split('\n').some((l) => l.includes(`"id":${id}`));
    const waitFor = async (id) => {
      for (let i = 0; i < 600 && !answered(id); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(answered(id), `no answer for request ${id}`);
    };
    const send = (m) => proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\n');
    send({ id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'vg', version: '1' } } });
    send({ method: 'notifications/initialized' });
    send({ id: 1, method: 'tools/list' });
    await waitFor(1);
    const tools = JSON.parse(out.split('\n').find((l) => l.includes('"id":1'))).result.tools.map((x) => x.name);
    let id = 10;
    for (const name of tools.filter((n) => CALLS[n])) {
      send({ id: ++id, method: 'tools/call', params: { name, arguments: CALLS[name] } });
      await waitFor(id);
    }
    send({ id: 99, method: 'tools/call', params: { name: 'no_such_tool', arguments: {} } });
    await waitFor(99);
    proc.stdin.end();
    const { code } = await waitExit(proc);
    const text = readFileSync(log, 'utf8');
    assert.equal(code, 0, `exit ${code}\n${text}`);
    assert.match(text, /ERROR SUMMARY: 0 errors/, text);
  } finally {
    await sim.stop();
    t.cleanup();
  }
});
