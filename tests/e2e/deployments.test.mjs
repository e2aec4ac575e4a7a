// deployments: issue 16 end to end through the MCP SDK client against apim-sim — the Azure OpenAI
// deployments behind each pool member (accounts found by endpoint, deployments listed), the demo's
// warnings (version mismatch, upgrade option, deployment missing in a member, undersized failover),
// none for a consistent pool, the pool still shown without the Cognitive Services read role, an
// account in another subscription found through AIGW_MODEL_SUBSCRIPTIONS, the round trips and the
// cache proven from the simulator's request log, gateway vs backend 429s in get_metrics, and a raise
// past the deployments' capacity warned in update_quota's dry run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { AIGW_BIN, startSim, simEnv, connect, tmpDir, checkSanitizers, sanitizerEnv, SOURCE_DIR, DEMO } from './lib/harness.mjs';

after(checkSanitizers);

const API = 'aoai-completions';
const demo = () => JSON.parse(readFileSync(join(SOURCE_DIR, 'src/sim/scenarios/demo.json'), 'utf8'));
const OTHER_SUB = '99999999-8888-7777-6666-555555555555';
const NO_CS = { id: 'aaaaaaaa-0000-0000-0000-0000000000c5', secret: 'demo-no-cs-secret' };

async function session({ edit, env = {} } = {}) {
  const tmp = tmpDir('aigw-deployments-');
  const d = demo();
  if (edit) edit(d);
  const file = join(tmp.dir, 'scenario.json');
  writeFileSync(file, JSON.stringify(d));
  const sim = await startSim(['--scenario', file]);
  const s = await connect({ env: simEnv(sim, { AIGW_AUDIT_LOG: join(tmp.dir, 'audit.jsonl'), ...env }) });
  await s.client.listTools(); // the SDK then validates structuredContent against the output schemas
  return {
    sim,
    call: (name, args) => s.client.callTool({ name, arguments: args }),
    async close() { await s.close(); await sim.stop(); tmp.cleanup(); },
  };
}

const ok = (r) => { assert.ok(!r.isError, r.content?.[0]?.text); return r.structuredContent; };
const byId = (r) => Object.fromEntries(r.backends.map((b) => [b.backend_id, b]));
const csRequests = (log) => log.filter((q) => /Microsoft\.CognitiveServices/i.test(q.path));

test('demo: deployments behind each member and the warnings they raise', async () => {
  const s = await session();
  try {
    const res = await s.call('get_backend_pool', { api_id: API });
    const r = ok(res);
    const m = byId(r);
    const east = m['eastus-aoai'], west = m['westeurope-aoai'];
    assert.equal(east.account.name, 'aoai-eastus');
    assert.equal(west.account.name, 'aoai-westeurope');
    const gpt = (b) => b.deployments.find((d) => d.name === 'gpt-4o');
    assert.deepEqual(gpt(east), { name: 'gpt-4o', model: 'gpt-4o', model_version: '2024-08-06',
      version_upgrade_option: 'OnceNewDefaultVersionAvailable', sku: 'Standard', capacity: 450, capacity_tpm: 450000 });
    assert.equal(gpt(west).model_version, '2024-05-13');
    assert.equal(gpt(west).capacity_tpm, 150000);
    const w = r.warnings.join('\n');
    assert.match(w, /deployment 'gpt-4o' runs different model versions \(gpt-4o 2024-08-06 in eastus-aoai, gpt-4o 2024-05-13 in westeurope-aoai\)/);
    assert.match(w, /deployment 'gpt-4o' has different versionUpgradeOption \(OnceNewDefaultVersionAvailable in eastus-aoai, NoAutoUpgrade in westeurope-aoai\): one region can move/);
    assert.match(w, /failover priority 2 \(westeurope-aoai\) can serve 150K TPM of 'gpt-4o', the primary \(eastus-aoai\) 450K TPM: on failover up to 300K TPM/);
    assert.match(w, /deployment 'text-embedding-3-small' exists in eastus-aoai but not in westeurope-aoai/);
    const text = res.content[0].text;
    assert.match(text, /\n {2}- gpt-4o: gpt-4o 2024-08-06 \| Standard 450K TPM \| OnceNewDefaultVersionAvailable/);
    assert.match(text, /\n {2}- gpt-4o: gpt-4o 2024-05-13 \| Standard 150K TPM \| NoAutoUpgrade/);
    // a single-backend API: its deployments, no pool warnings
    const legacy = ok(await s.call('get_backend_pool', { api_id: 'legacy-chat' }));
    assert.equal(legacy.backends[0].deployments[0].name, 'gpt-35-turbo');
    assert.equal(legacy.backends[0].deployments[0].capacity_tpm, 60000);
    assert.deepEqual(legacy.warnings, []);
  } finally { await s.close(); }
});

test('a consistent pool (same version, option, capacity, deployments everywhere) has no warnings', async () => {
  const s = await session({
    edit: (d) => {
      const [east, west] = d.model_accounts;
      west.deployments = east.deployments.map((x) => ({ ...x, version_upgrade_option: 'NoAutoUpgrade' }));
      east.deployments = east.deployments.map((x) => ({ ...x, version_upgrade_option: 'NoAutoUpgrade' }));
    },
  });
  try {
    const r = ok(await s.call('get_backend_pool', { api_id: API }));
    assert.deepEqual(r.warnings, []);
    assert.equal(byId(r)['westeurope-aoai'].deployments.length, 2);
  } finally { await s.close(); }
});

test('without the Cognitive Services read role the pool is still shown, with deployments_unavailable', async () => {
  const s = await session({
    edit: (d) => d.identities.clients.push({ client_id: NO_CS.id, secret: NO_CS.secret, role: 'reader',
      object_id: 'bbbbbbbb-0000-0000-0000-0000000000c5', display_name: 'aigw-no-cs', cognitive_services_read: false }),
    env: { AZURE_CLIENT_ID: NO_CS.id, AZURE_CLIENT_SECRET: NO_CS.secret },
  });
  try {
    const res = await s.call('get_backend_pool', { api_id: API });
    const r = ok(res);
    assert.equal(r.pool_id, 'aoai-pool');
    for (const b of r.backends) {
      assert.equal(b.deployments, null);
      assert.match(b.deployments_unavailable, /cannot be listed .*AuthorizationFailed|cannot be listed .*authorization/i);
      assert.match(b.deployments_unavailable, /grant the gateway's identity Reader on the subscription holding the Azure OpenAI accounts \(it grants Microsoft\.CognitiveServices\/accounts\/read and accounts\/deployments\/read\)/);
    }
    assert.match(res.content[0].text, /deployments: unknown — /);
    assert.ok(!r.warnings.some((w) => /model versions|failover priority/.test(w)));
  } finally { await s.close(); }
});

test('deployments refused for one account: that member says why, the others keep theirs', async () => {
  const s = await session();
  try {
    await s.sim.faults({ rules: [{ path_contains: '/accounts/aoai-westeurope/deployments', status: 403 }] });
    const r = ok(await s.call('get_backend_pool', { api_id: API }));
    const m = byId(r);
    assert.equal(m['eastus-aoai'].deployments.length, 2);
    assert.equal(m['westeurope-aoai'].account.name, 'aoai-westeurope');
    assert.equal(m['westeurope-aoai'].deployments, null);
    assert.match(m['westeurope-aoai'].deployments_unavailable,
      /^the deployments of account aoai-westeurope cannot be read \(.*\); grant the gateway's identity Reader/);
    assert.ok(!r.warnings.some((w) => /model versions|failover priority/.test(w)), 'nothing compared with an unknown member');
    await s.sim.clearFaults(); // a failed list is not cached: the next call reads it
    const again = byId(ok(await s.call('get_backend_pool', { api_id: API })));
    assert.equal(again['westeurope-aoai'].deployments[0].model_version, '2024-05-13');
  } finally { await s.close(); }
});

test('an account in another subscription is found only through AIGW_MODEL_SUBSCRIPTIONS', async () => {
  const edit = (d) => { d.model_accounts[1].subscription_id = OTHER_SUB; };
  let s = await session({ edit });
  try {
    const west = byId(ok(await s.call('get_backend_pool', { api_id: API })))['westeurope-aoai'];
    assert.equal(west.deployments, null);
    assert.match(west.deployments_unavailable, /no Azure OpenAI account with endpoint aoai-westeurope\.openai\.azure\.com .*AIGW_MODEL_SUBSCRIPTIONS/);
  } finally { await s.close(); }
  s = await session({ edit, env: { AIGW_MODEL_SUBSCRIPTIONS: ` ${OTHER_SUB} , ${DEMO.subscription}` } });
  try {
    const west = byId(ok(await s.call('get_backend_pool', { api_id: API })))['westeurope-aoai'];
    assert.equal(west.account.id.split('/')[2], OTHER_SUB);
    assert.equal(west.deployments[0].capacity_tpm, 150000);
  } finally { await s.close(); }
});

test('round trips: accounts listed along with the first read, deployments together, both cached', async () => {
  const s = await session();
  try {
    ok(await s.call('list_apis', {})); // the engine is loaded and a token is held
    await s.sim.resetCounters();
    await s.sim.faults({ latency_ms: 100 });
    ok(await s.call('get_backend_pool', { api_id: API }));
    const log = await s.sim.requests();
    const cs = csRequests(log);
    const accounts = cs.filter((q) => /\/accounts$/i.test(q.path));
    const deps = cs.filter((q) => /\/deployments$/i.test(q.path));
    assert.equal(accounts.length, 1, 'one Accounts_List (one subscription)');
    assert.equal(deps.length, 2, 'one Deployments_List per account behind the pool');
    for (const q of cs) assert.match(q.query, /api-version=2025-12-01/);
    // the accounts list was in flight with the API read (first round trip)
    const apiRead = log.find((q) => q.method === 'GET' && /\/apis\/aoai-completions$/.test(q.path));
    const overlap = (a, b) => a.start_us < b.end_us && b.start_us < a.end_us;
    assert.ok(apiRead && overlap(accounts[0], apiRead), 'accounts list concurrent with the API read');
    assert.ok(overlap(deps[0], deps[1]), 'the deployment lists were in flight together');
    const members = log.filter((q) => /\/backends\/(eastus|westeurope)-aoai$/.test(q.path));
    assert.ok(Math.min(...deps.map((q) => q.start_us)) >= Math.max(...members.map((q) => q.end_us)),
      'deployments: one round trip after the members');
    const counters = await s.sim.counters();
    assert.equal(counters.arm_requests, 3 + 1 + 2 + 1 + 2, 'API+policies+accounts, pool, 2 members, 2 deployment lists');
    await s.sim.resetCounters();
    ok(await s.call('get_backend_pool', { api_id: API }));
    assert.equal(csRequests(await s.sim.requests()).length, 0, 'second call: accounts and deployments cached');
  } finally { await s.close(); }
});

// ---- gateway vs backend 429s (get_metrics) -------------------------------------------------------

const iso = (sec) => new Date(sec * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const nowSec = () => Math.floor(Date.now() / 1000);
async function until(sec) { while (Date.now() / 1000 < sec + 0.2) await sleep(100); }
const simTraffic = async (sim, r) => (await fetch(`${sim.url}/_sim/traffic?since=${r.since}&until=${r.until}` +
  `&api_id=${r.api_id}`)).json();
const row = (r, id) => r.by_subscription.find((x) => x.subscription_id === id);

// Both halves known: they add up to throttled in totals and in every row, and equal the simulator's.
async function splitAddsUp(sim, r) {
  const t = await simTraffic(sim, r);
  assert.equal(r.totals.throttled_gateway + r.totals.throttled_backend, r.totals.throttled, 'totals');
  assert.equal(r.totals.throttled_backend, t.totals.throttled_backend, 'backend 429s equal the simulator\'s');
  for (const x of r.by_subscription) {
    assert.equal(x.throttled_gateway + x.throttled_backend, x.throttled, x.subscription_id);
    assert.equal(x.throttled_backend, t.by_subscription[x.subscription_id].throttled_backend, x.subscription_id);
  }
  return t;
}

// growth asks 250k TPM all the time; the semantic cache tightened to score-threshold 0.05 (25% hits,
// as flow 3 of the demo does); ten times more, smaller requests so a few seconds hold many.
const busy = (d) => {
  d.traffic.demand_tpm.growth = 250000;
  delete d.traffic.burst_tpm;
  d.traffic.tokens_per_request = 100;
  const aoai = d.products.find((p) => p.name === 'aoai');
  aoai.policy = aoai.policy.replace('calls="600"', 'calls="60000"');
  const api = d.apis.find((a) => a.name === API);
  api.policy = api.policy.replace('score-threshold="0.8"', 'score-threshold="0.05"');
};

test('get_metrics: throttled_gateway + throttled_backend == throttled; a raise past capacity brings backend 429s',
  async () => {
    for (const v2 of [false, true]) {
      const s = await session({ edit: (d) => { busy(d); if (v2) d.service.sku = { name: 'StandardV2', capacity: 1 }; } });
      try {
        const t0 = nowSec();
        // 200k -> 400k: growth's 250k now pass the gateway, and eastus-aoai's gpt-4o (450K TPM) gets
        // 604k TPM x 0.75 cache misses x 1.05 (prompt + max_tokens counted) = 476K TPM
        ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 400000 }));
        const t1 = nowSec() + 1;
        await until(t1 + 4);
        const before = ok(await s.call('get_metrics', { api_id: API, since: iso(t0 - 4), until: iso(t0) }));
        const res = await s.call('get_metrics', { api_id: API, since: iso(t1), until: iso(t1 + 4) });
        const after = ok(res);
        await splitAddsUp(s.sim, before);
        await splitAddsUp(s.sim, after);
        assert.equal(before.totals.throttled_backend, 0);
        assert.ok(row(before, 'growth').throttled_gateway > 0, 'before: growth held back by its own limit');
        assert.ok(after.totals.throttled_backend > 0, 'after: Azure OpenAI refuses what exceeds its capacity');
        assert.ok(row(after, 'growth').throttled_backend > 0);
        // none of its own limit any more (at most 1: the model's counts are differences of floored cumulative counts)
        assert.ok(row(after, 'growth').throttled_gateway <= 1, `${row(after, 'growth').throttled_gateway}`);
        assert.match(after.sources.figures.throttled_split, /Azure Monitor .*BackendResponseCode/);
        assert.match(res.content[0].text, /429s: \d+ by the gateway's own limits, \d+ by Azure OpenAI \(deployment capacity\); Azure OpenAI's capacity dominates for [^:]*growth[^:]*: raising a limit will not help/);
        const east = after.by_backend.find((b) => b.backend_id === 'eastus-aoai');
        assert.ok(east.throttled_backend > 0, 'by_backend: the backend that answered 429');
        assert.ok(east.throttled_backend <= east.requests);
      } finally { await s.close(); }
    }
  });

test('get_metrics: where no source splits 429s both halves are null and sources says why', async () => {
  const s = await session({ edit: (d) => { delete d.traffic.log_analytics; } });
  try {
    await s.sim.faults({ rules: [{ path_contains: 'Microsoft.Insights/metrics', status: 403 }] });
    const r = ok(await s.call('get_metrics', { api_id: API, since: '1h' }));
    assert.equal(r.totals.throttled_gateway, null);
    assert.equal(r.totals.throttled_backend, null);
    for (const x of r.by_subscription) assert.equal(x.throttled_backend, null);
    assert.match(r.sources.figures.throttled_split, /^none: the reports API counts 401, 403 and 429 together/);
  } finally { await s.close(); }
});

// ---- quotas against capacity ---------------------------------------------------------------------

test('update_quota: raising a team past the deployments\' capacity is warned in the dry run, by how much', async () => {
  const s = await session();
  try {
    const res = await s.call('update_quota', { subscription_id: 'growth', tpm: 500000, dry_run: true });
    const r = ok(res);
    assert.equal(r.applied, false);
    assert.match(r.warnings.join('\n'), /growth's new limit 500K TPM exceeds by 50K TPM the 450K TPM that deployment 'gpt-4o' behind API aoai-completions/);
    assert.match(r.warnings.join('\n'), /the 4 teams on API aoai-completions may together send 910K TPM, 460K TPM more than the 450K TPM/);
    assert.match(res.content[0].text, /warning: growth's new limit 500K TPM exceeds by 50K TPM/);
    assert.deepEqual(r.capacity, { api_id: API, deployment: 'gpt-4o', capacity_tpm: 450000, backends: ['eastus-aoai'],
      teams_tpm: 910000, teams: 4, oversubscribed_tpm: 460000 });
    // within capacity for the team: no warning about the team itself
    const within = ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 250000, dry_run: true }));
    assert.ok(!within.warnings.some((w) => /new limit/.test(w)));
    // nothing was written
    const subs = ok(await s.call('list_subscriptions', {}));
    assert.equal(subs.subscriptions.find((x) => x.id === 'growth').tpm, 200000);
  } finally { await s.close(); }
});

test('list_subscriptions: the teams\' limits against the capacity of the deployments that serve them', async () => {
  const s = await session();
  try {
    const res = await s.call('list_subscriptions', {});
    const r = ok(res);
    assert.deepEqual(r.capacity, [{ api_id: API, deployment: 'gpt-4o', capacity_tpm: 450000, backends: ['eastus-aoai'],
      teams_tpm: 610000, teams: 4, oversubscribed_tpm: 160000 }]);
    assert.match(res.content[0].text, /capacity: API aoai-completions -> deployment gpt-4o 450K TPM \(priority 1\); its 4 teams' limits sum 610K TPM, oversubscribed by 160K/);
  } finally { await s.close(); }
  // without the read role: the list still answers, without capacity
  const t = await session({
    edit: (d) => d.identities.clients.push({ client_id: NO_CS.id, secret: NO_CS.secret, role: 'reader',
      object_id: 'bbbbbbbb-0000-0000-0000-0000000000c5', cognitive_services_read: false }),
    env: { AZURE_CLIENT_ID: NO_CS.id, AZURE_CLIENT_SECRET: NO_CS.secret },
  });
  try {
    const r = ok(await t.call('list_subscriptions', {}));
    assert.equal(r.subscriptions.length, 4);
    assert.deepEqual(r.capacity, []);
  } finally { await t.close(); }
});

// ---- roles: --check --------------------------------------------------------------------------------

function runCheck(env) {
  return new Promise((resolve) => {
    const p = spawn(AIGW_BIN, ['--check'], { env: { ...sanitizerEnv(), PATH: process.env.PATH, HOME: '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

test('--check reports whether the Azure OpenAI accounts can be read, per subscription searched', async () => {
  const tmp = tmpDir('aigw-deployments-check-');
  const d = demo();
  d.identities.clients.push({ client_id: NO_CS.id, secret: NO_CS.secret, role: 'reader',
    object_id: 'bbbbbbbb-0000-0000-0000-0000000000c5', cognitive_services_read: false });
  d.model_accounts[1].subscription_id = OTHER_SUB;
  const file = join(tmp.dir, 'scenario.json');
  writeFileSync(file, JSON.stringify(d));
  const sim = await startSim(['--scenario', file]);
  try {
    let r = await runCheck(simEnv(sim, { AIGW_MODEL_SUBSCRIPTIONS: OTHER_SUB }));
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '');
    assert.match(r.err, new RegExp(`read models:    allowed \\(2 Cognitive Services account\\(s\\) visible in subscription ${DEMO.subscription}\\)`));
    assert.match(r.err, new RegExp(`read models:    allowed \\(1 Cognitive Services account\\(s\\) visible in subscription ${OTHER_SUB}\\)`));
    r = await runCheck(simEnv(sim, { AZURE_CLIENT_ID: NO_CS.id, AZURE_CLIENT_SECRET: NO_CS.secret }));
    assert.match(r.err, /read models:    NOT allowed in subscription .* \(lacks Microsoft\.CognitiveServices\/accounts\/read; grant Reader on that subscription\)/);
    const routes = Object.keys((await sim.counters()).routes);
    assert.deepEqual(routes.filter((k) => k.includes('/subscriptions/') && !k.startsWith('GET ')), [], 'no write reaches ARM');
  } finally { await sim.stop(); tmp.cleanup(); }
});
