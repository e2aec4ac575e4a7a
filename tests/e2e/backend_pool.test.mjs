// backend_pool: get_backend_pool and update_backend_pool end to end through the MCP SDK client
// against apim-sim — the failover flow of issue 7 (show the pool, add West Europe as priority 2
// with a circuit breaker, take East US out and put it back), a weighted pool, a single-backend API
// turned into a pool, a failure on the second write undone, a conflict, credentials never shown,
// and the member reads proven concurrent from the simulator's request log.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startSim, simEnv, connect, tmpDir, checkSanitizers, DEMO, SOURCE_DIR } from './lib/harness.mjs';

after(checkSanitizers);

const SVC = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
  `/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
const backendPath = (id) => `${SVC}/backends/${id}`;
const policyPath = (api) => `${SVC}/apis/${api}/policies/policy`;

// A running sim (demo scenario, or the demo changed by `edit`) and a connected client.
async function setup({ edit, capabilities, env = {} } = {}) {
  const tmp = tmpDir('aigw-pool-');
  let args = [];
  if (edit) {
    const demo = JSON.parse(readFileSync(join(SOURCE_DIR, 'src/sim/scenarios/demo.json'), 'utf8'));
    edit(demo);
    const file = join(tmp.dir, 'scenario.json');
    writeFileSync(file, JSON.stringify(demo));
    args = ['--scenario', file];
  }
  const sim = await startSim(args);
  const conn = await connect({ env: simEnv(sim, { AIGW_AUDIT_LOG: join(tmp.dir, 'audit.log'), ...env }), capabilities });
  const outputs = [];
  const call = async (name, args) => {
    const r = await conn.client.callTool({ name, arguments: args });
    outputs.push(JSON.stringify(r));
    return r;
  };
  return {
    sim, call, outputs, client: conn.client, stderr: conn.stderr, audit: join(tmp.dir, 'audit.log'),
    async close() { await conn.close(); await sim.stop(); tmp.cleanup(); },
  };
}

// State of a resource in the sim, or null when it does not exist.
async function stateOf(sim, path) {
  try { return await sim.state(path); } catch (e) { if (/-> 404/.test(e.message)) return null; throw e; }
}

const byId = (r) => Object.fromEntries(r.structuredContent.backends.map((b) => [b.backend_id, b]));
const ok = (r) => { assert.ok(!r.isError, `tool failed: ${r.content?.[0]?.text}`); return r.structuredContent; };

test('the failover flow: show, add West Europe as priority 2 with a breaker, take East US out, revert', async () => {
  const t = await setup();
  try {
    // 1. show the pool
    let r = ok(await t.call('get_backend_pool', { api_id: 'aoai-completions' }));
    assert.equal(r.pool_id, 'aoai-pool');
    assert.match(r.routing, /set-backend-service backend-id=aoai-pool/);
    assert.deepEqual(r.backends.map((b) => [b.backend_id, b.priority]), [['eastus-aoai', 1], ['westeurope-aoai', 2]]);
    assert.equal(r.backends[0].circuit_breaker.failure_interval, 'PT1M');
    assert.deepEqual(r.backends[0].circuit_breaker.status_codes, ['429', '500-599']);
    assert.equal(r.retry.on_429, true);
    assert.equal(r.retry.on_5xx, true);

    // 2. West Europe as priority 2 with 5 failures in 1 minute, open 5 minutes; East US stays primary
    const add = { api_id: 'aoai-completions', backends: [{ backend_id: 'westeurope-aoai', priority: 2,
      circuit_breaker: { failure_count: 5, failure_interval: '1m', trip_duration: '5 minutes' } }] };
    const dry = ok(await t.call('update_backend_pool', { ...add, dry_run: true }));
    assert.equal(dry.applied, false);
    assert.equal(dry.change_id, null);
    assert.match(dry.diff, /-\s+"failure_count": 3,\n\+\s+"failure_count": 5,/);
    assert.equal((await t.sim.state(backendPath('westeurope-aoai'))).resource.properties.circuitBreaker.rules[0]
      .failureCondition.count, 3, 'a dry run writes nothing');
    const applied = ok(await t.call('update_backend_pool', add));
    assert.equal(applied.applied, true);
    const rule = (await t.sim.state(backendPath('westeurope-aoai'))).resource.properties.circuitBreaker.rules[0];
    assert.equal(rule.failureCondition.count, 5);
    assert.equal(rule.failureCondition.interval, 'PT1M');
    assert.equal(rule.tripDuration, 'PT5M');
    assert.equal(rule.name, 'westeurope-breaker', 'the existing rule keeps its name');
    assert.deepEqual(rule.failureCondition.statusCodeRanges, [{ min: 429, max: 429 }, { min: 500, max: 599 }]);
    r = byId(await t.call('get_backend_pool', { api_id: 'aoai-completions' }));
    assert.equal(r['eastus-aoai'].priority, 1);
    assert.equal(r['westeurope-aoai'].priority, 2);
    assert.equal(r['westeurope-aoai'].circuit_breaker.trip_duration, 'PT5M');

    // 3. the outage rehearsal: take East US out, then put it back with revert_change
    const out = ok(await t.call('update_backend_pool', { api_id: 'aoai-completions',
      backends: [{ backend_id: 'eastus-aoai', remove: true }] }));
    assert.equal(out.applied, true);
    r = ok(await t.call('get_backend_pool', { api_id: 'aoai-completions' }));
    assert.deepEqual(r.backends.map((b) => b.backend_id), ['westeurope-aoai']);
    assert.ok(await stateOf(t.sim, backendPath('eastus-aoai')), 'remove keeps the backend resource');
    ok(await t.call('revert_change', { change_id: out.change_id }));
    r = ok(await t.call('get_backend_pool', { api_id: 'aoai-completions' }));
    assert.deepEqual(r.backends.map((b) => [b.backend_id, b.priority]), [['eastus-aoai', 1], ['westeurope-aoai', 2]]);

    // removing the last member, or one that is not a member, is refused before any write
    const before = await t.sim.state(backendPath('aoai-pool'));
    let bad = await t.call('update_backend_pool', { api_id: 'aoai-completions', policies: { replace: true },
      backends: [{ backend_id: 'eastus-aoai', remove: true }] });
    assert.equal(bad.isError, true);
    assert.match(bad.content[0].text, /no member/);
    bad = await t.call('update_backend_pool', { api_id: 'aoai-completions',
      backends: [{ backend_id: 'legacy-aoai', remove: true }] });
    assert.match(bad.content[0].text, /not a member of pool aoai-pool/);
    assert.deepEqual(await t.sim.state(backendPath('aoai-pool')), before);
  } finally {
    await t.close();
  }
});

test('validation happens before any write: ranges, durations, status codes, https', async () => {
  const t = await setup();
  try {
    await t.sim.resetCounters();
    const cases = [
      [{ backend_id: 'eastus-aoai', priority: 101 }, /priority/],
      [{ backend_id: 'eastus-aoai', weight: -1 }, /weight/],
      [{ backend_id: 'x-new', url: 'http://aoai-x.openai.azure.com/openai' }, /https:\/\//],
      [{ backend_id: 'eastus-aoai', circuit_breaker: { failure_count: 5, failure_interval: 'soon', trip_duration: '5m' } },
        /failure_interval of eastus-aoai 'soon' is not a duration/],
      [{ backend_id: 'eastus-aoai', circuit_breaker: { failure_count: 5, failure_interval: '1m', trip_duration: '5m',
        status_codes: ['600'] } }, /status codes '600'/],
      [{ backend_id: 'x-new' }, /does not exist; give its url/],
    ];
    for (const [entry, re] of cases) {
      // static constraints are refused by the input schema (JSON-RPC error), the rest by the tool
      let text;
      try {
        const r = await t.call('update_backend_pool', { api_id: 'aoai-completions', backends: [entry] });
        assert.equal(r.isError, true, JSON.stringify(entry));
        text = r.content[0].text;
      } catch (e) {
        assert.equal(e.code, -32602, e.message);
        text = e.message;
      }
      assert.match(text, re);
    }
    const writes = (await t.sim.requests()).filter((q) => q.method !== 'GET' && q.path.startsWith('/subscriptions/'));
    assert.deepEqual(writes, [], 'nothing was written');
  } finally {
    await t.close();
  }
});

test('a weighted pool, and a warning when members point at different model versions', async () => {
  const t = await setup();
  try {
    const r = ok(await t.call('update_backend_pool', { api_id: 'aoai-completions', backends: [
      { backend_id: 'eastus-aoai', priority: 1, weight: 75,
        url: 'https://aoai-eastus.openai.azure.com/openai/deployments/gpt-4o-2024-08-06' },
      { backend_id: 'westeurope-aoai', priority: 1, weight: 25,
        url: 'https://aoai-westeurope.openai.azure.com/openai/deployments/gpt-4o-2024-05-13' },
    ] }));
    assert.equal(r.applied, true);
    assert.ok(r.warnings.some((w) => /different deployments/.test(w) && /gpt-4o-2024-05-13/.test(w)), r.warnings.join());
    const services = (await t.sim.state(backendPath('aoai-pool'))).resource.properties.pool.services;
    assert.deepEqual(services.map((s) => [s.id.split('/').pop(), s.priority, s.weight]),
      [['eastus-aoai', 1, 75], ['westeurope-aoai', 1, 25]]);
    assert.ok(services.every((s) => s.id.startsWith(`${SVC}/backends/`)), 'pool members are full resource ids');
    const g = ok(await t.call('get_backend_pool', { api_id: 'aoai-completions' }));
    assert.deepEqual(g.backends.map((b) => b.weight), [75, 25]);
    assert.ok(g.warnings.some((w) => /different deployments/.test(w)));
  } finally {
    await t.close();
  }
});

test('a single-backend API becomes a pool and its policy is repointed; revert restores all', async () => {
  const t = await setup();
  try {
    const policyBefore = await t.sim.state(policyPath('legacy-chat'));
    const r = ok(await t.call('update_backend_pool', { api_id: 'legacy-chat', backends: [
      { backend_id: 'legacy-westus', url: 'https://aoai-legacy-westus.openai.azure.com/openai', priority: 2,
        circuit_breaker: { failure_count: 5, failure_interval: 'PT1M', trip_duration: 'PT5M' } }] }));
    assert.equal(r.applied, true);
    assert.equal(r.pool_id, 'legacy-chat-pool');
    const g = ok(await t.call('get_backend_pool', { api_id: 'legacy-chat' }));
    assert.equal(g.pool_id, 'legacy-chat-pool');
    assert.deepEqual(g.backends.map((b) => [b.backend_id, b.priority]), [['legacy-aoai', 1], ['legacy-westus', 2]]);
    const policy = (await t.sim.state(policyPath('legacy-chat'))).resource.properties.value;
    assert.match(policy, /<set-backend-service backend-id="legacy-chat-pool" \/>/);
    assert.doesNotMatch(policy, /legacy-aoai/);
    // one journal record for the whole call, its writes in the safe order
    const records = readFileSync(t.audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(records.length, 1);
    assert.deepEqual(records[0].resources.map((w) => w.label),
      ['backend legacy-westus', 'pool legacy-chat-pool', 'policy of API legacy-chat']);

    ok(await t.call('revert_change', { change_id: r.change_id }));
    assert.equal((await t.sim.state(policyPath('legacy-chat'))).resource.properties.value,
      policyBefore.resource.properties.value);
    assert.equal(await stateOf(t.sim, backendPath('legacy-chat-pool')), null);
    assert.equal(await stateOf(t.sim, backendPath('legacy-westus')), null);
  } finally {
    await t.close();
  }
});

test('an API routed by its serviceUrl: shown as such, then given a pool and a policy that routes to it', async () => {
  const t = await setup({ edit(demo) {
    const legacy = demo.apis.find((a) => a.name === 'legacy-chat');
    delete legacy.policy;
    legacy.properties.serviceUrl = 'https://aoai-legacy.openai.azure.com/openai?code=svc-url-secret-42';
  } });
  try {
    const g = ok(await t.call('get_backend_pool', { api_id: 'legacy-chat' }));
    assert.equal(g.routing, 'api serviceUrl');
    assert.equal(g.pool_id, null);
    const { account, deployments, ...member } = g.backends[0];
    assert.deepEqual(member, { backend_id: null, url: 'https://aoai-legacy.openai.azure.com/openai?code=***',
      priority: null, weight: null, circuit_breaker: null });
    assert.equal(account.name, 'aoai-legacy'); // the serviceUrl's Azure OpenAI account (issue 16)
    assert.equal(deployments[0].name, 'gpt-35-turbo');
    assert.equal(await stateOf(t.sim, policyPath('legacy-chat')), null);
    const r = ok(await t.call('update_backend_pool', { api_id: 'legacy-chat', backends: [
      { backend_id: 'legacy-aoai', priority: 1 },
      { backend_id: 'legacy-westus', url: 'https://aoai-legacy-westus.openai.azure.com/openai', priority: 2 }] }));
    assert.ok(r.warnings.some((w) => /serviceUrl/.test(w)));
    const policy = (await t.sim.state(policyPath('legacy-chat'))).resource.properties.value;
    assert.match(policy, /<inbound>\s*<base \/>\s*<set-backend-service backend-id="legacy-chat-pool" \/>/);
    const after = ok(await t.call('get_backend_pool', { api_id: 'legacy-chat' }));
    assert.deepEqual(after.backends.map((b) => b.backend_id), ['legacy-aoai', 'legacy-westus']);
    ok(await t.call('revert_change', { change_id: r.change_id }));
    assert.equal(await stateOf(t.sim, policyPath('legacy-chat')), null, 'the created policy is removed again');
    assert.equal(await stateOf(t.sim, backendPath('legacy-chat-pool')), null);
    assert.ok(!t.outputs.some((o) => o.includes('svc-url-secret-42')));
  } finally {
    await t.close();
  }
});

test('a pool set by the global policy through <base />', async () => {
  const t = await setup({ edit(demo) {
    demo.global_policy = demo.global_policy.replace('</cors>', '</cors>\n        <set-backend-service backend-id="aoai-pool" />');
    demo.apis.find((a) => a.name === 'legacy-chat').policy = '<policies><inbound><base /></inbound><backend><base />' +
      '</backend><outbound><base /></outbound><on-error><base /></on-error></policies>';
  } });
  try {
    const g = ok(await t.call('get_backend_pool', { api_id: 'legacy-chat' }));
    assert.equal(g.pool_id, 'aoai-pool');
    assert.match(g.routing, /^global policy set-backend-service backend-id=aoai-pool/);
    assert.ok(g.warnings.some((w) => /global policy/.test(w)));
    const r = ok(await t.call('update_backend_pool', { api_id: 'legacy-chat', dry_run: true,
      backends: [{ backend_id: 'westeurope-aoai', weight: 50 }] }));
    assert.ok(r.warnings.some((w) => /every API that inherits it/.test(w)));
    assert.match(r.diff, /"weight": 50/);
  } finally {
    await t.close();
  }
});

test('a failure on the second (or third) write leaves the gateway exactly as it was', async () => {
  const t = await setup();
  try {
    const paths = [backendPath('legacy-aoai'), backendPath('legacy-westus'), backendPath('legacy-chat-pool'),
      policyPath('legacy-chat')];
    const before = await Promise.all(paths.map((p) => stateOf(t.sim, p)));
    const faults = [
      // the pool PUT (second write) keeps answering 500: retried, then given up
      [{ method: 'PUT', path_contains: '/backends/legacy-chat-pool', status: 500, retry_after: 0 },
        /PUT backends\/legacy-chat-pool \(HTTP 500/, ['backend legacy-westus']],
      // the policy PUT (third write) is refused
      [{ method: 'PUT', path_contains: '/apis/legacy-chat/policies/policy', status: 400 },
        /policy of API legacy-chat/, ['pool legacy-chat-pool', 'backend legacy-westus']],
    ];
    for (const [rule, why, undone] of faults) {
      await t.sim.resetCounters();
      await t.sim.faults({ rules: [rule] });
      const r = await t.call('update_backend_pool', { api_id: 'legacy-chat', backends: [
        { backend_id: 'legacy-westus', url: 'https://aoai-legacy-westus.openai.azure.com/openai', priority: 2 }] });
      await t.sim.clearFaults();
      assert.equal(r.isError, true);
      assert.match(r.content[0].text, why);
      for (const label of undone) assert.match(r.content[0].text, new RegExp(`${label} was written and then undone`));
      assert.deepEqual(await Promise.all(paths.map((p) => stateOf(t.sim, p))), before);
      const writes = (await t.sim.requests()).filter((q) => q.method !== 'GET' && q.path.startsWith('/subscriptions/'));
      assert.ok(writes.length >= undone.length * 2, 'every write was undone by a write of its own');
    }
  } finally {
    await t.close();
  }
});

test('a reader can look at the pool but a change is refused with the missing role, nothing written', async () => {
  const t = await setup({ env: { AZURE_CLIENT_ID: DEMO.reader.id, AZURE_CLIENT_SECRET: DEMO.reader.secret } });
  try {
    ok(await t.call('get_backend_pool', { api_id: 'aoai-completions' }));
    const before = await t.sim.state(backendPath('aoai-pool'));
    const r = await t.call('update_backend_pool', { api_id: 'aoai-completions',
      backends: [{ backend_id: 'westeurope-aoai', priority: 3 }] });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /role|permission|authoriz/i);
    assert.deepEqual(await t.sim.state(backendPath('aoai-pool')), before);
  } finally {
    await t.close();
  }
});

test('a concurrent change between read and write is a conflict that writes nothing', async () => {
  let sim;
  const t = await setup({ capabilities: { elicitation: {} } });
  sim = t.sim;
  try {
    // the human takes a while to confirm; meanwhile someone edits the pool
    t.client.setRequestHandler(ElicitRequestSchema, async () => {
      await sim.touch(backendPath('aoai-pool'));
      return { action: 'accept', content: { confirm: true } };
    });
    const touched = () => stateOf(sim, backendPath('aoai-pool'));
    const r = await t.call('update_backend_pool', { api_id: 'aoai-completions',
      backends: [{ backend_id: 'westeurope-aoai', priority: 3 }] });
    assert.equal(r.isError, true, r.content[0].text);
    assert.match(r.content[0].text, /changed by someone else/);
    const services = (await touched()).resource.properties.pool.services;
    assert.deepEqual(services.map((s) => s.priority), [1, 2], 'nothing was written');
  } finally {
    await t.close();
  }
});

test('backend credentials are never shown nor journaled; an update and its revert keep them', async () => {
  const SECRETS = ['hdr-secret-value-4711', 'query-secret-value-0815', 'auth-param-secret-1234', 'proxy-pass-secret-99',
    'url-code-secret-5678'];
  const t = await setup({ edit(demo) {
    const east = demo.backends.find((b) => b.name === 'eastus-aoai').properties;
    east.url = `https://aoai-eastus.openai.azure.com/openai?code=${SECRETS[4]}`;
    east.credentials = { header: { 'api-key': [SECRETS[0]] }, query: { sig: [SECRETS[1]] },
      authorization: { scheme: 'Basic', parameter: SECRETS[2] } };
    east.proxy = { url: 'https://proxy.contoso.example', username: 'svc', password: SECRETS[3] };
  } });
  try {
    const g = ok(await t.call('get_backend_pool', { api_id: 'aoai-completions' }));
    const east = byId({ structuredContent: g })['eastus-aoai'];
    assert.deepEqual(east.credentials, { header: ['api-key'], query: ['sig'], authorization: 'present',
      proxy_password: 'present' });
    assert.equal(east.url, 'https://aoai-eastus.openai.azure.com/openai?code=***');
    const dry = ok(await t.call('update_backend_pool', { api_id: 'aoai-completions', dry_run: true,
      backends: [{ backend_id: 'eastus-aoai', circuit_breaker: null }] }));
    assert.match(dry.diff, /circuit_breaker/);
    const r = ok(await t.call('update_backend_pool', { api_id: 'aoai-completions',
      backends: [{ backend_id: 'eastus-aoai', circuit_breaker: { failure_count: 2, failure_interval: '30s',
        trip_duration: '2m' } }] }));
    assert.equal(r.applied, true);
    const stored = (await t.sim.state(backendPath('eastus-aoai'))).resource.properties;
    assert.deepEqual(stored.credentials.header, { 'api-key': [SECRETS[0]] }, 'the update kept the credentials');
    assert.equal(stored.proxy.password, SECRETS[3]);
    // the journal holds no credential value, and reverting from it keeps the credentials
    const journal = readFileSync(t.audit, 'utf8');
    assert.match(journal, /redacted: secrets are never journaled/);
    const back = ok(await t.call('revert_change', { change_id: r.change_id }));
    assert.equal(back.applied, true);
    const reverted = (await t.sim.state(backendPath('eastus-aoai'))).resource.properties;
    assert.deepEqual(reverted.credentials, stored.credentials, 'the revert kept the credentials');
    assert.equal(reverted.proxy.password, SECRETS[3]);
    assert.notDeepEqual(reverted.circuitBreaker, stored.circuitBreaker, 'the revert restored the breaker');
    const journalAfter = readFileSync(t.audit, 'utf8');
    for (const s of SECRETS) {
      for (const o of t.outputs) assert.ok(!o.includes(s), `a tool output shows ${s}`);
      assert.ok(!t.stderr().includes(s), `stderr shows ${s}`);
      assert.ok(!journalAfter.includes(s), `the journal holds ${s}`);
    }
  } finally {
    await t.close();
  }
});

test('an 8-member pool: member reads overlap (request log); wall time and ARM calls measured', async () => {
  const t = await setup({ edit(demo) {
    const members = [];
    for (let i = 1; i <= 8; i++) {
      demo.backends.unshift({ name: `region-${i}`, properties: { url: `https://aoai-r${i}.openai.azure.com/openai`,
        protocol: 'http', type: 'Single' } });
      members.push({ id: `/backends/region-${i}`, priority: i <= 4 ? 1 : 2, weight: 50 });
    }
    demo.backends.find((b) => b.name === 'aoai-pool').properties.pool.services = members;
  } });
  try {
    ok(await t.call('get_backend_pool', { api_id: 'aoai-completions' })); // token and connections warm
    await t.sim.resetCounters();
    await t.sim.faults({ latency_ms: 50 });
    const t0 = performance.now();
    const g = ok(await t.call('get_backend_pool', { api_id: 'aoai-completions' }));
    const wall = performance.now() - t0;
    assert.equal(g.backends.length, 8);
    const reqs = (await t.sim.requests()).filter((q) => /\/backends\/region-\d$/.test(q.path));
    assert.equal(reqs.length, 8);
    const lastStart = Math.max(...reqs.map((q) => q.start_us));
    const firstEnd = Math.min(...reqs.map((q) => q.end_us));
    assert.ok(lastStart < firstEnd, 'every member GET started before any of them ended');
    const counters = await t.sim.counters();
    console.log(`# get_backend_pool, 8 members, 50 ms latency: ${wall.toFixed(0)} ms wall, ` +
      `${counters.arm_requests} ARM requests`);
    assert.equal(counters.arm_requests, 3 + 1 + 8);
  } finally {
    await t.close();
  }
});
