// confirm: who says yes to a write (issue 20). A declined or cancelled elicitation (Claude Code's
// headless `claude -p` cancels every one) is an error result that says nothing was written and how
// to go on, never a success; AIGW_CONFIRM=client makes the client's own per-tool approval the
// confirmation (no question asked), is printed by --check and refused together with --read-only.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { AIGW_BIN, startSim, simEnv, connect, checkSanitizers, sanitizerEnv, tmpDir } from './lib/harness.mjs';

after(checkSanitizers);

const writes = async (sim) => Object.entries((await sim.counters()).routes)
  .filter(([k]) => k.startsWith('PUT ') || k.startsWith('DELETE ') || k.startsWith('PATCH '))
  .reduce((n, [, v]) => n + v, 0);

async function setup({ env = {}, args = [], capabilities = { elicitation: {} } } = {}) {
  const sim = await startSim();
  const dir = tmpDir('aigw-confirm-');
  const s = await connect({ env: { ...simEnv(sim), AIGW_AUDIT_LOG: `${dir.dir}/audit.jsonl`, ...env }, args, capabilities });
  return { sim, s, async close() { await s.close(); await sim.stop(); dir.cleanup(); } };
}

const cut = { subscription_id: 'growth', tpm: 90000 };

test('a declined or cancelled confirmation is an error result that writes nothing and says how to go on', async () => {
  const t = await setup();
  try {
    let answer;
    const asked = [];
    t.s.client.setRequestHandler(ElicitRequestSchema, async (req) => { asked.push(req.params.message); return answer; });
    for (const [a, word] of [[{ action: 'decline' }, /declined/], [{ action: 'cancel' }, /cancelled/]]) {
      answer = a;
      await t.sim.resetCounters();
      const r = await t.s.client.callTool({ name: 'update_quota', arguments: cut });
      assert.equal(r.isError, true, `${a.action} must not be a success: ${JSON.stringify(r)}`);
      assert.match(r.content[0].text, word);
      assert.match(r.content[0].text, /nothing was written/);
      assert.match(r.content[0].text, /call the tool again and accept the confirmation/);
      assert.match(r.content[0].text, /AIGW_CONFIRM=client/);
      assert.equal(r.structuredContent.applied, false);
      assert.equal(r.structuredContent.change_id, null);
      assert.match(r.structuredContent.message, /AIGW_CONFIRM=client/);
      assert.equal(await writes(t.sim), 0, 'nothing reached ARM');
    }
    assert.equal(asked.length, 2);
    // a yes still applies
    answer = { action: 'accept', content: { confirm: true } };
    const ok = await t.s.client.callTool({ name: 'update_quota', arguments: cut });
    assert.ok(!ok.isError, ok.content[0].text);
    assert.equal(ok.structuredContent.applied, true);
  } finally {
    await t.close();
  }
});

test('AIGW_CONFIRM=client: no question is asked, the approved call writes', async () => {
  const t = await setup({ env: { AIGW_CONFIRM: 'client' } });
  try {
    let asked = 0;
    t.s.client.setRequestHandler(ElicitRequestSchema, async () => { asked++; return { action: 'cancel' }; });
    const r = await t.s.client.callTool({ name: 'update_quota', arguments: cut });
    assert.ok(!r.isError, r.content[0].text);
    assert.equal(r.structuredContent.applied, true);
    assert.equal(asked, 0, 'the client approved the call; the server did not ask again');
    assert.ok(await writes(t.sim) > 0);
  } finally {
    await t.close();
  }
});

test('AIGW_CONFIRM=client with --read-only, or an unknown value, is refused at the first call', async () => {
  for (const [env, args, want] of [
    [{ AIGW_CONFIRM: 'client' }, ['--read-only'], /AIGW_CONFIRM=client and read-only mode are set together/],
    [{ AIGW_CONFIRM: 'client', AIGW_READ_ONLY: '1' }, [], /AIGW_CONFIRM=client and read-only mode are set together/],
    [{ AIGW_CONFIRM: 'yes' }, [], /AIGW_CONFIRM=yes is not understood; use elicit .* or client/],
  ]) {
    const t = await setup({ env, args });
    try {
      await t.sim.resetCounters();
      const r = await t.s.client.callTool({ name: 'list_apis', arguments: {} });
      assert.equal(r.isError, true);
      assert.match(r.content[0].text, want);
      assert.equal((await t.sim.counters()).arm_requests, 0, 'refused before any call to Azure');
    } finally {
      await t.close();
    }
  }
});

function runCheck(env) {
  return new Promise((resolve) => {
    const p = spawn(AIGW_BIN, ['--check'], { env: { ...sanitizerEnv(), PATH: process.env.PATH, HOME: '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, err }));
  });
}

test('--check prints who confirms writes, and fails on client + read-only', async () => {
  const sim = await startSim();
  try {
    let r = await runCheck(simEnv(sim));
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /confirm: +elicit: the human is asked before each write/);
    r = await runCheck(simEnv(sim, { AIGW_CONFIRM: 'client' }));
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /confirm: +client \(AIGW_CONFIRM=client\): no question is asked before a write/);
    r = await runCheck(simEnv(sim, { AIGW_CONFIRM: 'client', AIGW_READ_ONLY: '1' }));
    assert.notEqual(r.code, 0);
    assert.match(r.err, /AIGW_CONFIRM=client and read-only mode are set together/);
  } finally {
    await sim.stop();
  }
});

test('--help and the man page name AIGW_CONFIRM', async () => {
  const p = spawn(AIGW_BIN, ['--help'], { env: { ...sanitizerEnv(), PATH: process.env.PATH } });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  await new Promise((res) => p.on('close', res));
  assert.match(out, /AIGW_CONFIRM +elicit \(default\)/);
});
