// concurrency: tool calls sent together run together (issue 15), through the official MCP SDK client
// and the raw protocol against apim-sim with latency added to every answer — three and ten reads
// overlap in the simulator's request log; tools/list and ping are answered while a slow call runs;
// two writes to the same policy are serialised in arrival order (both apply, neither sees a stale
// ETag) while a read sent after them answers first; cancelling one of two reads leaves the other;
// the first calls, sent together, share one token request.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startSim, simEnv, connect, rawServer, initializeRaw, tmpDir, checkSanitizers } from './lib/harness.mjs';

after(checkSanitizers);

async function session() {
  const tmp = tmpDir('aigw-conc-');
  const sim = await startSim();
  const s = await connect({ env: simEnv(sim, { AIGW_AUDIT_LOG: join(tmp.dir, 'audit.jsonl') }) });
  await s.client.listTools();
  return { sim, client: s.client, async close() { await s.close(); await sim.stop(); tmp.cleanup(); } };
}

const ok = (r) => {
  assert.ok(!r.isError, r.content?.[0]?.text);
  return r.structuredContent;
};
// The first simulator request whose path ends with / matches `re`.
const first = (reqs, re) => reqs.filter((q) => re.test(q.path)).sort((a, b) => a.start_us - b.start_us)[0];
const overlap = (qs) => Math.max(...qs.map((q) => q.start_us)) < Math.min(...qs.map((q) => q.end_us));
// The most requests in flight at one moment.
function inFlight(qs) {
  const ev = qs.flatMap((q) => [[q.start_us, 1], [q.end_us, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0, most = 0;
  for (const [, d] of ev) most = Math.max(most, (n += d));
  return most;
}

test('three different reads sent together run together; so do ten', async () => {
  const s = await session();
  try {
    await s.sim.faults({ latency_ms: 600 }); // long enough for slow builds (sanitizers) to overlap
    await s.sim.resetCounters();
    const t0 = performance.now();
    const [a, b, c] = await Promise.all([
      s.client.callTool({ name: 'get_backend_pool', arguments: { api_id: 'aoai-completions' } }),
      s.client.callTool({ name: 'list_subscriptions', arguments: { product_id: 'aoai' } }),
      s.client.callTool({ name: 'list_apis', arguments: {} }),
    ]);
    const wall = performance.now() - t0;
    ok(a);
    assert.equal(ok(b).subscriptions.length, 3);
    assert.equal(ok(c).apis.length, 2);
    // the session's first calls, all at once: one token request serves them (the token cache
    // fetches once while the others wait), and the engine was loaded once
    assert.equal((await s.sim.counters()).token_requests, 1);
    const reqs = await s.sim.requests();
    const firsts = [
      first(reqs, /\/apis\/aoai-completions$/), // get_backend_pool: the API itself
      first(reqs, /\/products\/aoai\/subscriptions$/), // list_subscriptions
      first(reqs, /\/service\/apim-aigw-demo\/apis$/), // list_apis
    ];
    assert.ok(firsts.every(Boolean), JSON.stringify(firsts));
    assert.ok(overlap(firsts), `the three calls' first requests did not overlap: ${JSON.stringify(firsts)}`);
    console.log(`three reads together with 600 ms per answer: ${wall.toFixed(0)} ms`);

    await s.sim.resetCounters();
    const t1 = performance.now();
    const ten = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      s.client.callTool({ name: 'get_policy', arguments: { api_id: i % 2 ? 'aoai-completions' : 'legacy-chat' } })));
    const wall10 = performance.now() - t1;
    ten.forEach(ok);
    const gets = (await s.sim.requests()).filter((q) => /\/apis\/[^/]+\/policies\/policy$/.test(q.path));
    assert.ok(gets.length >= 10);
    const most = inFlight(gets);
    assert.ok(most >= 5, `ten get_policy calls: at most ${most} in flight at once`);
    console.log(`ten get_policy together with 600 ms per answer: ${wall10.toFixed(0)} ms, ${most} in flight at once`);
  } finally {
    await s.close();
  }
});

test('tools/list and ping are answered while a slow call runs', async () => {
  const tmp = tmpDir('aigw-conc-');
  const sim = await startSim();
  const srv = rawServer({ env: simEnv(sim, { AIGW_AUDIT_LOG: join(tmp.dir, 'audit.jsonl') }) });
  try {
    await initializeRaw(srv);
    await sim.faults({ latency_ms: 1500 });
    srv.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_policy', arguments: { api_id: 'legacy-chat' } } });
    srv.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    srv.send({ jsonrpc: '2.0', id: 3, method: 'ping' });
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await srv.next(20000)).id);
    assert.deepEqual(order.slice(2), [1], `the slow call answers last: ${order}`);
    assert.deepEqual(order.slice(0, 2).sort(), [2, 3]);
  } finally {
    await srv.end();
    await sim.stop();
    tmp.cleanup();
  }
});

test('two writes to one policy run one after the other in arrival order; a later read does not wait for them', async () => {
  const s = await session();
  try {
    await s.sim.faults({ latency_ms: 150 });
    await s.sim.resetCounters();
    const done = [];
    const track = (name, p) => p.then((r) => { done.push(name); return r; });
    const w1 = track('w1', s.client.callTool({ name: 'update_quota', arguments: { subscription_id: 'growth', tpm: 111000 } }));
    const w2 = track('w2', s.client.callTool({ name: 'update_quota', arguments: { subscription_id: 'search', tpm: 122000 } }));
    await new Promise((r) => setTimeout(r, 50));
    const rd = track('read', s.client.callTool({ name: 'get_policy', arguments: { api_id: 'legacy-chat' } }));
    const [r1, r2, r3] = await Promise.all([w1, w2, rd]);
    assert.equal(ok(r1).applied, true);
    assert.equal(ok(r2).applied, true, 'the second write read the policy after the first wrote it (no stale ETag)');
    ok(r3);
    assert.deepEqual(done.filter((d) => d !== 'read'), ['w1', 'w2'], 'arrival order');
    assert.ok(done.indexOf('read') < done.indexOf('w2'), `the read waited for the writes: ${done}`);
    const puts = (await s.sim.requests()).filter((q) => q.method === 'PUT');
    assert.equal(puts.length, 2);
    const rows = Object.fromEntries(ok(await s.client.callTool({ name: 'list_subscriptions', arguments: { product_id: 'aoai' } }))
      .subscriptions.map((x) => [x.id, x.tpm]));
    assert.deepEqual(rows, { growth: 111000, search: 122000, 'prod-critical': 300000 });
  } finally {
    await s.close();
  }
});

test('cancelling one of two running reads leaves the other to answer', async () => {
  const s = await session();
  try {
    await s.sim.faults({ latency_ms: 800 });
    const ac = new AbortController();
    const cancelled = s.client.callTool({ name: 'list_apis', arguments: {} }, undefined, { signal: ac.signal });
    const kept = s.client.callTool({ name: 'get_policy', arguments: { api_id: 'legacy-chat' } });
    await new Promise((r) => setTimeout(r, 300));
    ac.abort('changed my mind');
    await assert.rejects(cancelled);
    ok(await kept);
    await s.sim.clearFaults();
    ok(await s.client.callTool({ name: 'list_apis', arguments: {} }));
  } finally {
    await s.close();
  }
});
