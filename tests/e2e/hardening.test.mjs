// hardening: issue 14 end to end — the change pipeline keeps its promises under faults and hostile
// input. The real binary over stdio (the MCP SDK client, or raw frames where the SDK would hide
// what is tested: a cancelled request's answer, non-JSON numbers, broken frames) against apim-sim
// with injected faults. Every test here failed on the code before issue 14.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  AIGW_BIN, DEMO, startSim, simEnv, connect, rawServer, initializeRaw, tmpDir, checkSanitizers, sanitizerEnv,
} from './lib/harness.mjs';

after(checkSanitizers);

const SERVICE = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
  `/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
const API_POLICY = `${SERVICE}/apis/aoai-completions/policies/policy`;
const GLOBAL_POLICY = `${SERVICE}/policies/policy`;

async function setup({ capabilities = {}, raw = false } = {}) {
  const sim = await startSim();
  const tmp = tmpDir('aigw-hard-');
  const journal = join(tmp.dir, 'audit.jsonl');
  const env = simEnv(sim, { AIGW_AUDIT_LOG: journal });
  const conn = raw ? null : await connect({ env, capabilities });
  return {
    sim, env, journal, conn,
    call: (name, args = {}) => conn.client.callTool({ name, arguments: args }),
    records: () => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []),
    writes: async () => (await sim.requests()).filter((q) => q.method !== 'GET' && q.path.startsWith('/subscriptions/')),
    value: async (path) => (await sim.state(path)).resource.properties.value,
    async close() { if (conn) await conn.close(); await sim.stop(); tmp.cleanup(); },
  };
}

// The next frame that is not a notification.
async function nextMessage(srv) {
  for (;;) {
    const m = await srv.next(30000);
    if (m.id !== undefined) return m;
  }
}

test('item 1: an id made of dots is refused before any request; the global policy is untouched', async () => {
  const t = await setup();
  try {
    const global = await t.value(GLOBAL_POLICY);
    await t.sim.resetCounters();
    const xml = '<policies><inbound><base /></inbound><backend><base /></backend><outbound><base /></outbound>' +
      '<on-error><base /></on-error></policies>';
    const calls = [
      ['apply_policy', { api_id: '..', policy_xml: xml }],
      ['apply_policy', { api_id: 'aoai-completions', scope: 'operation', operation_id: '..', policy_xml: xml }],
      ['apply_policy', { api_id: 'x', scope: 'product', product_id: '.', policy_xml: xml }],
      ['get_policy', { api_id: '..' }],
      ['update_backend_pool', { api_id: '..', backends: [{ backend_id: 'b', url: 'https://b.example/openai', priority: 1 }] }],
      ['update_backend_pool', { api_id: 'aoai-completions', backends: [{ backend_id: '..', url: 'https://b.example/openai', priority: 1 }] }],
    ];
    for (const [name, args] of calls) {
      const r = await t.call(name, args);
      assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}: ${r.content[0].text}`);
      assert.match(r.content[0].text, /dots only/);
    }
    assert.equal((await t.sim.counters()).arm_requests, 0, 'no request was sent');
    assert.equal(await t.value(GLOBAL_POLICY), global);
    assert.equal(t.records().length, 0);
  } finally {
    await t.close();
  }
});

test('item 2: a list answered 200 with truncated JSON is an error, never "0 API(s)"', async () => {
  const t = await setup();
  try {
    await t.sim.faults({ rules: [{ method: 'GET', path_contains: '/apis', status: 200, body: '{"value":[' }] });
    const r = await t.call('list_apis');
    assert.equal(r.isError, true, r.content[0].text);
    assert.match(r.content[0].text, /not valid JSON/);
    assert.doesNotMatch(r.content[0].text, /0 API/);
  } finally {
    await t.close();
  }
});

test('item 3: a policy read without an ETag is not overwritten', async () => {
  const t = await setup();
  try {
    const original = await t.value(API_POLICY);
    await t.sim.faults({ rules: [{ method: 'GET', path_contains: '/apis/aoai-completions/policies/policy',
      pass: true, strip_etag: true }] });
    await t.sim.resetCounters();
    const r = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: original.replace('duration="120"', 'duration="600"') });
    assert.equal(r.isError, true, r.content[0].text);
    assert.match(r.content[0].text, /without an ETag.*nothing was written/s);
    assert.deepEqual(await t.writes(), []);
    assert.equal(await t.value(API_POLICY), original);
  } finally {
    await t.close();
  }
});

test('item 4: a write whose answer was lost is read back, reported applied and journaled', async () => {
  const t = await setup();
  try {
    const original = await t.value(API_POLICY);
    const next = original.replace('duration="120"', 'duration="600"');
    await t.sim.faults({ rules: [{ method: 'PUT', path_contains: '/apis/aoai-completions/policies/policy',
      pass: true, drop: true, count: 1 }] });
    const r = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: next });
    assert.ok(!r.isError, r.content[0].text);
    assert.equal(r.structuredContent.applied, true);
    assert.doesNotMatch(r.content[0].text, /nothing was written/);
    assert.equal(await t.value(API_POLICY), next);
    const recs = t.records();
    assert.equal(recs.length, 1);
    assert.equal(recs[0].change_id, r.structuredContent.change_id);
    const back = await t.call('revert_change', { change_id: r.structuredContent.change_id });
    assert.ok(!back.isError, back.content[0].text);
    assert.equal(await t.value(API_POLICY), original);
  } finally {
    await t.close();
  }
});

// Runs apply_policy over raw frames, answering its confirmation with `answer` and, when asked,
// cancelling the request cancelAfterMs after answering. Resolves with the tool result.
function rawApply(srv, xml) {
  let id = 10;
  return async (answer, cancelAfterMs) => {
    const callId = ++id;
    srv.send({ jsonrpc: '2.0', id: callId, method: 'tools/call',
      params: { name: 'apply_policy', arguments: { api_id: 'aoai-completions', policy_xml: xml } } });
    const q = await nextMessage(srv);
    assert.equal(q.method, 'elicitation/create');
    srv.send({ jsonrpc: '2.0', id: q.id, result: answer });
    if (cancelAfterMs !== undefined) {
      await new Promise((res) => setTimeout(res, cancelAfterMs));
      srv.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: callId, reason: 'user' } });
    }
    const r = await nextMessage(srv);
    assert.equal(r.id, callId);
    return r.result;
  };
}

test('item 13: consent is only action accept with confirm true', async () => {
  const t = await setup({ raw: true });
  const srv = rawServer({ env: t.env });
  try {
    await initializeRaw(srv, '2025-06-18', { elicitation: {} });
    const original = await t.value(API_POLICY);
    const ask = rawApply(srv, original.replace('duration="120"', 'duration="600"'));
    await t.sim.resetCounters();
    for (const content of [{ confirm: 'false' }, { confirm: 0 }, { confirm: 'no' }, { confirm: 'true' }, { confirm: 1 }, {}]) {
      const r = await ask({ action: 'accept', content });
      assert.equal(r.structuredContent.applied, false, JSON.stringify(content));
      assert.match(r.structuredContent.message, /not confirmed.*nothing was written/);
    }
    assert.deepEqual(await t.writes(), []);
    assert.equal(t.records().length, 0);
    assert.equal(await t.value(API_POLICY), original);
  } finally {
    await srv.end();
    await t.close();
  }
});

test('item 5: a write once started survives a cancellation, is journaled and answered', async () => {
  const t = await setup({ raw: true });
  const srv = rawServer({ env: t.env });
  try {
    await initializeRaw(srv, '2025-06-18', { elicitation: {} });
    const next = (await t.value(API_POLICY)).replace('duration="120"', 'duration="600"');
    const ask = rawApply(srv, next);
    // the PUT is held 1.5 s by the simulator; the client cancels 0.3 s after confirming
    await t.sim.faults({ rules: [{ method: 'PUT', path_contains: '/apis/aoai-completions/policies/policy',
      pass: true, delay_ms: 1500, count: 1 }] });
    const r = await ask({ action: 'accept', content: { confirm: true } }, 300);
    assert.equal(r.structuredContent.applied, true, JSON.stringify(r));
    assert.equal(await t.value(API_POLICY), next);
    assert.equal(t.records().length, 1);
    assert.equal(t.records()[0].change_id, r.structuredContent.change_id);
  } finally {
    await srv.end();
    await t.close();
  }
});

test('item 11: a backend URL query never reaches the journal, arguments included', async () => {
  const t = await setup();
  try {
    const r = await t.call('update_backend_pool', { api_id: 'legacy-chat', backends: [
      { backend_id: 'legacy-westus', url: 'https://aoai-legacy-westus.openai.azure.com/openai?api-key=TOPSECRET0042', priority: 2 }] });
    assert.ok(!r.isError, r.content[0].text);
    assert.doesNotMatch(JSON.stringify(r), /TOPSECRET0042/, 'nor the tool result');
    const text = readFileSync(t.journal, 'utf8');
    assert.doesNotMatch(text, /TOPSECRET0042/);
    assert.match(text, /\?\[redacted query\]/);
  } finally {
    await t.close();
  }
});

test('item 12: control characters and ANSI escapes in Azure error text reach neither the tool text nor stderr', async () => {
  const t = await setup();
  try {
    const body = JSON.stringify({ error: { code: 'Bad\u001b[31mRequest', message: 'evil\u001b]0;pwned\u0007 text\r\nX-Injected: 1\u001b[2J' } });
    await t.sim.faults({ rules: [{ method: 'GET', path_contains: '/apis', status: 400, body,
      headers: { 'x-ms-request-id': 'rid\u001b[1mbold' } }] });
    const r = await t.call('list_apis');
    assert.equal(r.isError, true);
    const text = r.content[0].text;
    assert.match(text, /evil/);
    assert.doesNotMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f]/);
    assert.doesNotMatch(t.conn.stderr(), /\u001b/);
  } finally {
    await t.close();
  }
});

test('items 14 and 16: requests that would break a frame are still answered, to their id', async () => {
  const srv = rawServer();
  try {
    await initializeRaw(srv);
    // a value cut inside a UTF-8 character in the error message
    srv.send({ jsonrpc: '2.0', id: 'u1', method: 'tools/call', params: { name: 'revert_change', arguments: { change_id: 'x' + 'é'.repeat(40) } } });
    let r = await nextMessage(srv);
    assert.equal(r.id, 'u1');
    assert.equal(r.error.code, -32602);
    // a string holding U+0000 keeps the frame's id
    srv.send('{"jsonrpc":"2.0","id":77,"method":"tools/list","params":{"cursor":"a\\u0000b"}}');
    r = await nextMessage(srv);
    assert.equal(r.id, 77);
    assert.equal(r.error.code, -32600);
    // a whole number written as a real is that number; a bound is printed whole
    srv.send('{"jsonrpc":"2.0","id":78,"method":"tools/call","params":{"name":"update_quota","arguments":{"subscription_id":"growth","tpm":1e9}}}');
    r = await nextMessage(srv);
    assert.equal(r.id, 78);
    assert.match(r.error.message, /at most 100000000, got 1000000000/);
  } finally {
    await srv.end();
  }
});

test('item 16: tpm 5e4 is 50000, not 0', async () => {
  const t = await setup({ raw: true });
  const srv = rawServer({ env: t.env });
  try {
    await initializeRaw(srv);
    srv.send('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update_quota","arguments":{"subscription_id":"growth","tpm":5e4,"dry_run":true}}}');
    const r = await nextMessage(srv);
    assert.ok(!r.result.isError, r.result.content[0].text);
    assert.match(r.result.content[0].text, /50000/);
    assert.doesNotMatch(r.result.content[0].text, /got 0/);
  } finally {
    await srv.end();
    await t.close();
  }
});

test('item 15: prompt arguments that overflow or are not numbers are refused', async () => {
  const s = await connect();
  try {
    const bad = [
      ['enforce_team_quotas', { team: 'growth', tpm: '9223372036854775807k' }],
      ['enforce_team_quotas', { team: 'growth', tpm: '99999999999999999999' }],
      ['enforce_team_quotas', { team: 'growth', tpm: '-5' }],
      ['deploy_semantic_caching', { api_id: 'aoai', threshold: 'nan' }],
      ['deploy_semantic_caching', { api_id: 'aoai', threshold: 'inf' }],
      ['deploy_semantic_caching', { api_id: 'aoai', threshold: '0x1p-1' }],
    ];
    for (const [name, args] of bad) {
      await assert.rejects(s.client.getPrompt({ name, arguments: args }),
        (e) => e instanceof McpError && e.code === -32602, `${name} ${JSON.stringify(args)}`);
    }
    const ok = await s.client.getPrompt({ name: 'enforce_team_quotas', arguments: { team: 'growth', tpm: '8k' } });
    assert.match(ok.messages[0].content.text, /8000 tokens per minute/);
  } finally {
    await s.close();
  }
});

test('item 16: --help with stdout closed exits cleanly, not by SIGPIPE', () => {
  const r = spawnSync('bash', ['-c', 'set -o pipefail; (sleep 0.3; exec "$0" --help) | true; echo "status=${PIPESTATUS[0]}"', AIGW_BIN],
    { encoding: 'utf8', env: { PATH: process.env.PATH, ...sanitizerEnv() } });
  assert.match(r.stdout, /status=0/, r.stdout + r.stderr);
});
