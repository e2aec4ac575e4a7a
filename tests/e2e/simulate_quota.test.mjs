// simulate_quota: end-to-end tests of the quota what-if (issue 17) through the official MCP SDK client
// against apim-sim — the demo's cut of growth from 200k to 100k TPM simulated over the past, then
// applied, then the simulator's clock moved an hour: the 429s apim-sim produces for growth agree with
// the prediction; no other team's limit changes; several teams at once; no per-minute data (no
// workspace, AzureDiagnostics) says what to enable and computes nothing; bad inputs; and the shadow
// proposal (update_quota mode "shadow") replayed when no limit is given.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startSim, simEnv, connect, tmpDir, checkSanitizers, SOURCE_DIR, DEMO, demoScenario } from './lib/harness.mjs';

after(checkSanitizers);

const iso = (sec) => new Date(sec * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const nowSec = () => Math.floor(Date.now() / 1000);

async function session(scenario, capabilities = {}) {
  const tmp = tmpDir('aigw-simq-');
  const file = join(tmp.dir, 'scenario.json');
  writeFileSync(file, JSON.stringify(scenario ?? demoScenario()));
  const sim = await startSim(['--scenario', file]);
  const audit = join(tmp.dir, 'audit.jsonl');
  let s = await connect({ env: simEnv(sim, { AIGW_AUDIT_LOG: audit }), capabilities });
  const { tools } = await s.client.listTools(); // caches output schemas: callTool then validates results
  return {
    sim, tools, audit,
    client: () => s.client,
    call: (name, args) => s.client.callTool({ name, arguments: args }),
    // a new server process: its tokens are issued at the simulator's current (virtual) time
    async reconnect() { await s.close(); s = await connect({ env: simEnv(sim, { AIGW_AUDIT_LOG: audit }) }); await s.client.listTools(); },
    async close() { await s.close(); await sim.stop(); tmp.cleanup(); },
  };
}
function ok(r) {
  assert.ok(!r.isError, r.content?.[0]?.text);
  return r.structuredContent;
}
function failed(r, pattern) {
  assert.equal(r.isError, true, JSON.stringify(r.structuredContent));
  assert.match(r.content[0].text, pattern);
}
// The simulator's clock frozen at a whole minute two hours back: the cut lands at t, and the hour after
// it (made by moving the clock) stays in the client's past.
async function frozenAt(sim) { const t = Math.floor(nowSec() / 60) * 60 - 7200; await sim.clock({ set: iso(t), freeze: true }); return t; }
const simTraffic = async (sim, a, b) => (await fetch(`${sim.url}/_sim/traffic?since=${iso(a)}&until=${iso(b)}`)).json();

test('acceptance: growth 200k -> 100k simulated, applied, and the next simulated hour\'s 429s agree within 10%',
  async () => {
    const s = await session();
    try {
      const t = await frozenAt(s.sim);
      const res = await s.call('simulate_quota', { subscription_id: 'growth', tpm: 100000, until: iso(t) });
      const day = ok(res);
      assert.equal(day.subscription_id, 'growth');
      assert.deepEqual(day.current, { tpm: 200000, rpm: 600 });
      assert.deepEqual(day.proposed, { tpm: 100000, rpm: null });
      assert.equal(day.window.since, iso(t - 86400));
      assert.equal(day.minutes_observed, 1440);
      // growth asks 180k TPM, 250k in the first 2 of every 10 minutes, 1000 tokens a request
      assert.equal(day.peak_tpm, 250000);
      assert.equal(day.p50_tpm, 180000);
      assert.equal(day.p95_tpm, 250000);
      assert.equal(day.minutes_over, 1440);
      assert.ok(day.share_refused > 0.4 && day.share_refused < 0.5, `${day.share_refused}`);
      assert.equal(day.worst_minutes.length, 3);
      assert.equal(day.worst_minutes[0].tokens, 250000);
      assert.deepEqual(day.others.map((o) => [o.subscription_id, o.changed]).sort(),
        [['free-experiments', false], ['prod-critical', false], ['search', false]]);
      assert.match(day.sources[0], /ApiManagementGatewayLlmLog on CorrelationId, per minute/);
      assert.match(res.content[0].text, /^(\[simulator\] )?growth: tpm 200000 -> 100000\. Over 1440 observed minutes/);
      const hour = ok(await s.call('simulate_quota', { subscription_id: 'growth', tpm: 100000, since: iso(t - 3600),
        until: iso(t) }));
      assert.equal(hour.minutes_observed, 60);

      const applied = ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 100000 }));
      assert.equal(applied.applied, true);
      await s.sim.clock({ advance_s: 3600 });
      const outcome = (await simTraffic(s.sim, t, t + 3600)).by_subscription.growth;
      const perHour = day.requests_refused / 24;
      const off = (p) => Math.abs(p - outcome.throttled) / outcome.throttled;
      console.log(`growth 100k: predicted ${hour.requests_refused} refused in the last hour (${perHour} an hour over ` +
        `24 h); apim-sim refused ${outcome.throttled} in the hour after the cut: ${(off(hour.requests_refused) * 100)
          .toFixed(2)}% / ${(off(perHour) * 100).toFixed(2)}% apart`);
      assert.ok(off(hour.requests_refused) <= 0.10, 'the hour before predicts the hour after within 10%');
      assert.ok(off(perHour) <= 0.10, 'the 24 h replay predicts the hour after within 10%');
      // and the client's own reading of the outcome (get_metrics, per team) is the same figure; a new server
      // process, since the hour the clock jumped expired the Log Analytics token the first one holds
      await s.reconnect();
      const m = ok(await s.call('get_metrics', { api_id: 'aoai-completions', since: iso(t), until: iso(t + 3600) }));
      assert.equal(m.by_subscription.find((x) => x.subscription_id === 'growth').throttled, outcome.throttled, JSON.stringify(m.sources));
      // the token metric the API's llm-emit-token-metric sends (Application Insights, PT1M, split by its
      // Subscription ID dimension) tells the same story: 100 allowed requests of 1000 tokens a minute
      const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.contributor.id,
        client_secret: DEMO.contributor.secret, scope: 'https://management.azure.com/.default' });
      const tok = (await (await fetch(`${s.sim.url}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body: form }))
        .json()).access_token;
      const q = new URLSearchParams({ 'api-version': '2024-02-01', timespan: `${iso(t)}/${iso(t + 3600)}`, interval: 'PT1M',
        metricnames: 'Total Tokens', aggregation: 'Total', metricnamespace: 'openai', top: '10',
        $filter: "Subscription ID eq '*'" });
      const mres = await fetch(`${s.sim.url}/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
        `/providers/microsoft.insights/components/appi-aigw-demo/providers/Microsoft.Insights/metrics?${q}`,
      { headers: { authorization: `Bearer ${tok}` } });
      assert.equal(mres.status, 200, await mres.clone().text());
      const series = (await mres.json()).value[0].timeseries.find((x) => x.metadatavalues[0].value === 'growth');
      assert.equal(series.data.length, 60);
      // the cache serves 90% of the allowed requests (score-threshold 0.8): only backend calls emit tokens
      const emitted = series.data.reduce((n, p) => n + (p.total ?? 0), 0);
      assert.equal(emitted, outcome.prompt_tokens + outcome.completion_tokens);
      assert.ok(series.data.every((p) => (p.total ?? 0) <= 100000), 'no minute above the 100k limit');
      // after the cut, replaying the same limit over the new hour predicts what was refused there
      const again = ok(await s.call('simulate_quota', { subscription_id: 'growth', tpm: 100000, since: iso(t),
        until: iso(t + 3600) }));
      assert.equal(again.current.tpm, 100000);
      assert.ok(Math.abs(again.requests_refused - outcome.throttled) <= outcome.throttled * 0.10);
    } finally { await s.close(); }
  });

test('several teams in one call, one Logs query; rpm; bad inputs change nothing', async () => {
  const s = await session();
  try {
    const t = await frozenAt(s.sim);
    await s.sim.resetCounters();
    const r = ok(await s.call('simulate_quota', { subscription_ids: ['growth', 'search', 'prod-critical'], tpm: 150000,
      since: '6h' }));
    assert.equal(r.results.length, 3);
    const by = Object.fromEntries(r.results.map((x) => [x.subscription_id, x]));
    assert.equal(by['prod-critical'].requests_refused, by['prod-critical'].requests > 0 ? by['prod-critical'].requests_refused : 0);
    assert.ok(by['prod-critical'].requests_refused > 0, 'prod-critical asks more than 150k');
    assert.equal(by.search.requests_refused, 0, 'search asks 140k: under 150k');
    assert.ok(by.growth.requests_refused > 0);
    const queries = (await s.sim.requests()).filter((q) => q.path.endsWith('/query'));
    assert.equal(queries.length, 1, 'one Logs query for every team');
    const rpm = ok(await s.call('simulate_quota', { subscription_id: 'search', rpm: 100, since: iso(t - 3600), until: iso(t) }));
    assert.deepEqual(rpm.proposed, { tpm: null, rpm: 100 });
    assert.equal(rpm.requests_refused, 60 * 40, 'search sends 140 requests a minute: 40 over 100 rpm');
    failed(await s.call('simulate_quota', { subscription_id: 'grwoth', tpm: 1000 }), /did you mean 'growth'/);
    failed(await s.call('simulate_quota', { subscription_id: 'growth', subscription_ids: ['search'], tpm: 1 }), /not both/);
    failed(await s.call('simulate_quota', { subscription_id: 'growth' }), /give tpm and\/or rpm.*shadow/);
    failed(await s.call('simulate_quota', { subscription_id: 'growth', tpm: 1000, since: '8d' }), /longer than 7 days/);
    await assert.rejects(s.call('simulate_quota', { subscription_id: 'growth', tpm: 0 }), /tpm/);
    failed(await s.call('simulate_quota', { subscription_ids: [], tpm: 1000 }), /1 to 20 ids/);
    await assert.rejects(s.call('simulate_quota', { subscription_ids: Array(21).fill('growth'), tpm: 1000 }),
      /subscription_ids/);
    const twice = ok(await s.call('simulate_quota', { subscription_ids: ['growth', 'growth'], tpm: 100000, since: '1h' }));
    assert.equal(twice.results.length, 1, 'an id given twice is simulated once');
    assert.ok(!(await s.sim.requests()).some((q) => q.method !== 'GET' && !q.path.endsWith('/query') &&
      !q.path.includes('/oauth2/')), 'a read-only tool writes nothing');
  } finally { await s.close(); }
});

test('two rounds of reads: the Logs query goes out with the subscriptions, every policy in the second round; asked again, one round', async () => {
  const d = demoScenario();
  // an API in no product: its policy is read in the second round (the service's API list is read in the first)
  const orphan = structuredClone(d.apis.find((a) => a.name === 'legacy-chat'));
  orphan.name = 'orphan';
  orphan.properties.path = 'orphan';
  d.apis.push(orphan);
  const s = await session(d);
  try {
    await s.call('list_apis', {}); // token fetched
    await s.sim.faults({ latency_ms: 50 }); // requests in flight together overlap in the request log
    await s.sim.resetCounters();
    ok(await s.call('simulate_quota', { subscription_ids: ['growth', 'search'], tpm: 100000 }));
    await s.sim.clearFaults();
    const reqs = (await s.sim.requests()).filter((q) => !/oauth2|_sim/.test(q.path)).sort((a, b) => a.start_us - b.start_us);
    const rounds = [];
    for (const q of reqs) {
      const r = rounds.find((x) => q.start_us < x.end);
      if (r) { r.paths.push(q.path); r.end = Math.max(r.end, q.end_us); } else rounds.push({ end: q.end_us, paths: [q.path] });
    }
    assert.equal(rounds.length, 2, JSON.stringify(rounds.map((r) => r.paths)));
    const first = rounds[0].paths.join(' ');
    for (const re of [/\/service\/[^/]+\/query$/m, /diagnosticSettings/, /\/subscriptions$/m, /\/apis$/m])
      assert.match(rounds[0].paths.join('\n'), re, first);
    assert.ok(rounds[1].paths.some((p) => /\/apis\/aoai-completions\/policies\/policy$/.test(p)), 'the API policies come in round 2');
    assert.ok(rounds[1].paths.some((p) => /\/apis\/orphan\/policies\/policy$/.test(p)), 'every API of the service');
    assert.ok(!reqs.some((q) => /OperationalInsights\/workspaces/.test(q.path)), 'no workspace lookup');

    // asked again: the policies and lists the first call needed go out with its first round (one
    // round trip), and the policy of the API no subscription reaches is not read again
    await s.sim.faults({ latency_ms: 50 });
    await s.sim.resetCounters();
    ok(await s.call('simulate_quota', { subscription_ids: ['growth', 'search'], tpm: 100000 }));
    await s.sim.clearFaults();
    const again = (await s.sim.requests()).filter((q) => !/oauth2|_sim/.test(q.path)).sort((a, b) => a.start_us - b.start_us);
    const end = Math.min(...again.map((q) => q.end_us));
    assert.ok(again.every((q) => q.start_us < end), `one round: ${JSON.stringify(again.map((q) => q.path))}`);
    assert.ok(again.some((q) => /\/apis\/aoai-completions\/policies\/policy$/.test(q.path)));
    assert.ok(!again.some((q) => /\/apis\/orphan\/policies\/policy$/.test(q.path)), 'the unreached API is not read');
  } finally { await s.close(); }
});

test('no per-minute data: says what to enable and how long to wait, computes nothing', async () => {
  const noLa = demoScenario();
  delete noLa.traffic.log_analytics;
  const azureDiag = demoScenario();
  azureDiag.traffic.log_analytics.destination_type = null;
  for (const [scenario, why, enable] of [[noLa, /no gateway logs to a Log Analytics workspace/, /GatewayLlmLogs .*Resource specific/],
    [azureDiag, /AzureDiagnostics/, /Dedicated/]]) {
    const s = await session(scenario);
    try {
      const res = await s.call('simulate_quota', { subscription_id: 'growth', tpm: 100000 });
      const r = ok(res);
      assert.equal(r.minutes_observed, 0);
      assert.equal(r.requests_refused, undefined, 'no figure is guessed');
      assert.match(r.no_data.reason, why);
      assert.match(r.no_data.enable, enable);
      assert.match(r.no_data.wait, /24 h/);
      assert.match(res.content[0].text, /NO DATA/);
      assert.equal(r.others.length, 3, 'the plan is still checked');
    } finally { await s.close(); }
  }
});

test('shadow mode: no limit changes, the proposal is journaled and replayed with no limit given, revert withdraws it',
  async () => {
    const s = await session();
    try {
      const limits = async () => Object.fromEntries(ok(await s.call('list_subscriptions', {})).subscriptions
        .map((x) => [x.id, [x.tpm, x.rpm]]));
      const before = await limits();
      const dry = ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow', dry_run: true }));
      assert.equal(dry.applied, false);
      assert.equal(dry.diff, '');
      assert.ok(!existsSync(s.audit) || readFileSync(s.audit, 'utf8') === '', 'a dry run journals nothing');
      await s.sim.resetCounters();
      const res = await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow' });
      const sh = ok(res);
      assert.equal(sh.applied, true);
      assert.equal(sh.mode, 'shadow');
      assert.equal(sh.diff, '', 'no policy changes');
      assert.deepEqual(sh.before, sh.after);
      assert.equal(sh.proposed.tpm, 100000);
      assert.ok(Date.parse(sh.data_ready_at) <= Date.now() + 60e3, 'the demo already has 24 h of per-minute data');
      assert.match(res.content[0].text, /NO limit changes: APIM has no log-only limit/);
      assert.ok(!(await s.sim.requests()).some((q) => ['PUT', 'PATCH', 'DELETE'].includes(q.method)), 'nothing written');
      assert.deepEqual(await limits(), before);
      const journal = readFileSync(s.audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(journal.length, 1);
      assert.equal(journal[0].arguments.mode, 'shadow');
      assert.deepEqual(journal[0].resources, []);
      // simulate_quota with no limit replays the pending proposal
      const replay = ok(await s.call('simulate_quota', { subscription_id: 'growth' }));
      assert.deepEqual(replay.proposed, { tpm: 100000, rpm: null });
      assert.equal(replay.proposed_from, `shadow change ${sh.change_id}`);
      assert.ok(replay.requests_refused > 0);
      // a revert withdraws it (journaled, nothing written)
      const rev = ok(await s.call('revert_change', { change_id: sh.change_id }));
      assert.equal(rev.applied, true);
      failed(await s.call('simulate_quota', { subscription_id: 'growth' }), /none is pending/);
      // removing a limit has nothing to replay
      failed(await s.call('update_quota', { subscription_id: 'growth', remove_tpm: true, mode: 'shadow' }), /positive integers/);
    } finally { await s.close(); }
    // without per-minute data: says what to enable, writes and journals nothing
    const noLa = demoScenario();
    delete noLa.traffic.log_analytics;
    const n = await session(noLa);
    try {
      failed(await n.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow' }),
        /not collected: the service sends no gateway logs.*Enable a diagnostic setting.*nothing was written or journaled/);
      assert.ok(!existsSync(n.audit) || readFileSync(n.audit, 'utf8') === '');
    } finally { await n.close(); }
  });

// The scenario's diagnostic setting, read and written as another administrator would (ARM token of the demo contributor).
const SVC = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
async function armToken(sim) {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.contributor.id,
    client_secret: DEMO.contributor.secret, scope: 'https://management.azure.com/.default' });
  return (await (await fetch(`${sim.url}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body: form })).json()).access_token;
}
const DIAG = `${SVC}/providers/Microsoft.Insights/diagnosticSettings/to-log-analytics?api-version=2021-05-01-preview`;
async function setting(sim) {
  const r = await fetch(`${sim.url}${DIAG}`, { headers: { authorization: `Bearer ${await armToken(sim)}` } });
  assert.equal(r.status, 200);
  return (await r.json()).properties;
}
async function putSetting(sim, properties) {
  const r = await fetch(`${sim.url}${DIAG}`, { method: 'PUT', body: JSON.stringify({ properties }),
    headers: { authorization: `Bearer ${await armToken(sim)}`, 'content-type': 'application/json' } });
  assert.equal(r.status, 200, await r.text());
}
const llmOn = (props) => props.logs.some((l) => l.category === 'GatewayLlmLogs' && l.enabled);
const settingPuts = async (sim) => (await sim.requests()).filter((q) => q.method === 'PUT' && /diagnosticSettings/i.test(q.path)).length;

test('shadow mode enables GatewayLlmLogs on the workspace setting (dry run, confirmation, journal), data follows, revert restores',
  async () => {
    const noLlm = demoScenario();
    noLlm.traffic.log_analytics.llm_logs = false;
    const asked = [];
    const s = await session(noLlm, { elicitation: {} });
    s.client().setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return { action: 'accept', content: { confirm: true } };
    });
    try {
      const t = await frozenAt(s.sim);
      const before = await setting(s.sim);
      assert.equal(llmOn(before), false);
      // without token rows, simulate_quota says what to enable
      const none = ok(await s.call('simulate_quota', { subscription_id: 'growth', tpm: 100000, until: iso(t) }));
      assert.match(none.no_data.reason, /GatewayLlmLogs/);
      assert.equal(none.requests_refused, undefined);
      // the dry run shows the change of the setting and writes nothing
      const dry = ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow', dry_run: true }));
      assert.equal(dry.applied, false);
      assert.match(dry.diff, /"category": "GatewayLlmLogs",\n- +"enabled": false,\n\+ +"enabled": true,/);
      assert.equal(await settingPuts(s.sim), 0);
      assert.equal(asked.length, 0);
      assert.ok(!existsSync(s.audit) || readFileSync(s.audit, 'utf8') === '', 'a dry run journals nothing');
      // applied: confirmed (the question shows the diff), written, read back, journaled with the whole before-body
      const res = await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow' });
      const sh = ok(res);
      assert.equal(sh.applied, true);
      assert.equal(asked.length, 1);
      assert.match(asked[0], /GatewayLlmLogs/);
      assert.match(res.content[0].text, /NO limit changes: APIM has no log-only limit.*GatewayLlmLogs enabled in diagnostic setting to-log-analytics/);
      assert.ok(Math.abs(Date.parse(sh.data_ready_at) - (Date.now() + 86400e3)) < 600e3, 'data for a 24 h replay in 24 h');
      assert.equal(await settingPuts(s.sim), 1);
      assert.equal(llmOn(await setting(s.sim)), true);
      const rec = readFileSync(s.audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(rec.length, 1);
      assert.equal(rec[0].arguments.mode, 'shadow');
      assert.equal(rec[0].resources.length, 1);
      assert.equal(rec[0].resources[0].path, 'providers/Microsoft.Insights/diagnosticSettings/to-log-analytics');
      assert.equal(rec[0].resources[0].no_etag, true);
      assert.deepEqual(rec[0].resources[0].before.properties, before, 'the whole before-body is journaled');
      // the minutes before the change have no token rows; an hour later they do, and the proposal replays
      const early = ok(await s.call('simulate_quota', { subscription_id: 'growth', since: iso(t - 3600), until: iso(t) }));
      assert.match(early.no_data.reason, /no token rows/);
      await s.sim.clock({ advance_s: 3600 });
      await s.reconnect();
      const hour = ok(await s.call('simulate_quota', { subscription_id: 'growth', since: iso(t), until: iso(t + 3600) }));
      assert.equal(hour.no_data, undefined, JSON.stringify(hour.no_data));
      assert.equal(hour.proposed_from, `shadow change ${sh.change_id}`);
      assert.equal(hour.minutes_observed, 60);
      assert.ok(hour.requests_refused > 0);
      // get_metrics reads the same token rows: only those of the hour after the change
      const outcome = (await simTraffic(s.sim, t, t + 3600)).by_subscription.growth;
      const m = ok(await s.call('get_metrics', { api_id: 'aoai-completions', since: iso(t - 3600), until: iso(t + 3600) }));
      assert.equal(m.by_subscription.find((x) => x.subscription_id === 'growth').tokens.total,
        outcome.prompt_tokens + outcome.completion_tokens, 'token rows only from the change on');
      // revert_change puts the setting back as it was
      const rev = ok(await s.call('revert_change', { change_id: sh.change_id }));
      assert.equal(rev.applied, true);
      assert.deepEqual(await setting(s.sim), before);
      assert.equal(await settingPuts(s.sim), 2);
    } finally { await s.close(); }
  });

test('shadow mode completes a resource-specific workspace setting without GatewayLogs: both categories, then data', async () => {
  const bare = demoScenario();
  bare.traffic.log_analytics.gateway_logs = false;
  bare.traffic.log_analytics.llm_logs = false;
  const s = await session(bare);
  try {
    const t = await frozenAt(s.sim);
    const none = ok(await s.call('simulate_quota', { subscription_id: 'growth', tpm: 100000, until: iso(t) }));
    assert.match(none.no_data.reason, /not the GatewayLogs category/);
    assert.match(none.no_data.enable, /GatewayLogs and GatewayLlmLogs categories in diagnostic setting to-log-analytics/);
    const res = await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow' });
    const sh = ok(res);
    assert.equal(sh.applied, true);
    assert.match(sh.diff, /"category": "GatewayLogs",\n- +"enabled": false,\n\+ +"enabled": true,/);
    assert.match(sh.diff, /"category": "GatewayLlmLogs",\n- +"enabled": false,\n\+ +"enabled": true,/);
    assert.match(res.content[0].text, /GatewayLogs and GatewayLlmLogs enabled in diagnostic setting to-log-analytics/);
    // no rows at all before the change; the hour after it replays
    const before = ok(await s.call('simulate_quota', { subscription_id: 'growth', since: iso(t - 3600), until: iso(t) }));
    assert.equal(before.minutes_observed, 0);
    assert.match(before.no_data.reason, /no log rows of this subscription/);
    await s.sim.clock({ advance_s: 3600 });
    await s.reconnect();
    const hour = ok(await s.call('simulate_quota', { subscription_id: 'growth', since: iso(t), until: iso(t + 3600) }));
    assert.equal(hour.no_data, undefined, JSON.stringify(hour.no_data));
    assert.equal(hour.minutes_observed, 60);
    assert.ok(hour.requests_refused > 0);
  } finally { await s.close(); }
});

test('shadow mode: a setting changed between plan and write, or after it, is not overwritten', async () => {
  const noLlm = demoScenario();
  noLlm.traffic.log_analytics.llm_logs = false;
  let onAsk = async () => {};
  const s = await session(noLlm, { elicitation: {} });
  s.client().setRequestHandler(ElicitRequestSchema, async () => {
    await onAsk();
    return { action: 'accept', content: { confirm: true } };
  });
  try {
    // someone else edits the setting while the human reads the confirmation
    const theirs = await setting(s.sim);
    theirs.metrics = [{ category: 'AllMetrics', enabled: false }];
    onAsk = async () => putSetting(s.sim, theirs);
    const r = await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow' });
    failed(r, /diagnostic setting to-log-analytics was changed by someone else since it was read.*nothing was written/);
    assert.deepEqual(await setting(s.sim), theirs, 'their edit stands');
    assert.equal(await settingPuts(s.sim), 1, 'only theirs');
    assert.ok(!existsSync(s.audit) || readFileSync(s.audit, 'utf8') === '', 'nothing journaled');
    // applied, then changed by someone else: the revert refuses and writes nothing
    onAsk = async () => {};
    const sh = ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow' }));
    assert.equal(sh.applied, true);
    const later = await setting(s.sim);
    later.metrics = [{ category: 'AllMetrics', enabled: true }];
    await putSetting(s.sim, later);
    const puts = await settingPuts(s.sim);
    failed(await s.call('revert_change', { change_id: sh.change_id }), /diagnostic setting to-log-analytics was changed since change/);
    assert.equal(await settingPuts(s.sim), puts);
    assert.deepEqual(await setting(s.sim), later);
  } finally { await s.close(); }
});

test('shadow mode without a resource-specific workspace setting says exactly what to do and writes nothing', async () => {
  const azureDiag = demoScenario();
  azureDiag.traffic.log_analytics.destination_type = null;
  azureDiag.traffic.log_analytics.llm_logs = false;
  const noLa = demoScenario();
  delete noLa.traffic.log_analytics;
  for (const [scenario, what] of [[azureDiag, /AzureDiagnostics.*switch that diagnostic setting's destination table to "Resource specific".*Dedicated/],
    [noLa, /no gateway logs to a Log Analytics workspace.*Enable a diagnostic setting .*GatewayLogs and GatewayLlmLogs.*Resource specific/]]) {
    const s = await session(scenario);
    try {
      failed(await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow' }), what);
      failed(await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow' }), /nothing was written or journaled/);
      assert.ok(!(await s.sim.requests()).some((q) => ['PUT', 'PATCH', 'DELETE'].includes(q.method)), 'nothing written');
      assert.ok(!existsSync(s.audit) || readFileSync(s.audit, 'utf8') === '');
    } finally { await s.close(); }
  }
});
