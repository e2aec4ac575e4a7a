// metrics: end-to-end tests of get_metrics (issue 8) through the official MCP SDK client against
// apim-sim's traffic model — the demo on a classic and on a v2 tier, with and without Log Analytics;
// the three seed flows (quota cut → growth's 429s rise, failover → traffic moves to the priority-2
// backend, semantic cache applied → hit rate), each closed by one get_metrics call whose numbers
// must equal the simulator's own counters (GET /_sim/traffic), on a classic and on a v2 tier; an
// empty window, a clamped window, bad windows; one source failing (Log Analytics, Azure Monitor)
// while the others still answer; tokens from Application Insights when Log Analytics is absent;
// both query rounds in flight together; and the traffic routes' shapes against Microsoft's examples.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, simEnv, connect, tmpDir, checkSanitizers, SOURCE_DIR, THIRD_PARTY, DEMO, OFF_SPEC, demoScenario, fastScenario } from './lib/harness.mjs';

after(checkSanitizers);

const API = 'aoai-completions';
const v2 = (d) => { d.service.sku = { name: 'StandardV2', capacity: 1 }; d.service.tier = 'v2'; return d; };

async function session(scenario) {
  const tmp = tmpDir('aigw-metrics-');
  const file = join(tmp.dir, 'scenario.json');
  writeFileSync(file, JSON.stringify(scenario ?? demoScenario()));
  const sim = await startSim(['--scenario', file]);
  const s = await connect({ env: simEnv(sim, { AIGW_AUDIT_LOG: join(tmp.dir, 'audit.jsonl') }) });
  await s.client.listTools(); // caches output schemas: callTool then validates structuredContent
  return {
    sim,
    call: (name, args) => s.client.callTool({ name, arguments: args }),
    async close() { await s.close(); await sim.stop(); tmp.cleanup(); },
  };
}

function ok(r) {
  assert.ok(!r.isError, r.content?.[0]?.text);
  return r.structuredContent;
}
const iso = (sec) => new Date(sec * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const nowSec = () => Math.floor(Date.now() / 1000);
// The simulator's virtual clock, frozen two hours back: a change lands at a known instant, time moves
// only when told (no sleeping), and every window stays in the client's past.
async function frozenAt(sim) { const t = nowSec() - 7200; await sim.clock({ set: iso(t), freeze: true }); return t; }
const simTraffic = async (sim, r) => (await fetch(`${sim.url}/_sim/traffic?since=${r.since}&until=${r.until}` +
  `&api_id=${r.api_id}`)).json();
const row = (r, id) => r.by_subscription.find((x) => x.subscription_id === id);

// The tool's figures equal the simulator's own counters for the same window.
async function agrees(sim, r, { teams = true } = {}) {
  const t = await simTraffic(sim, r);
  assert.equal(r.totals.requests, t.totals.requests, 'requests (Monitor)');
  assert.equal(r.totals.throttled, t.totals.throttled, '429s (Monitor)');
  assert.equal(r.totals.successful, t.totals.successful, 'successful (Monitor)');
  if (t.totals.requests)
    assert.ok(Math.abs(r.totals.avg_latency_ms - t.totals.total_ms / t.totals.requests) <= 1, 'avg latency');
  if (!teams) return t;
  for (const [id, c] of Object.entries(t.by_subscription)) {
    const mine = row(r, id);
    if (!c.requests) { assert.equal(mine, undefined, `${id} has no traffic`); continue; }
    assert.ok(mine, `row for ${id}`);
    assert.equal(mine.requests, c.requests, `${id} requests`);
    assert.equal(mine.throttled, c.throttled, `${id} 429s`);
    assert.equal(mine.cache_hits, c.cache_hits, `${id} cache hits`);
    assert.equal(mine.cache_misses, c.cache_misses, `${id} cache misses`);
  }
  return t;
}

test('demo, classic tier, 24 h: Monitor totals, Log Analytics teams and tokens, equal to the simulator', async () => {
  const s = await session();
  try {
    const res = await s.call('get_metrics', { api_id: API, since: '24h' });
    const r = ok(res);
    const t = await agrees(s.sim, r);
    assert.equal(r.tier, 'Developer');
    assert.match(r.sources.figures.totals, /Azure Monitor/);
    assert.match(r.sources.figures.by_subscription, /Log Analytics/);
    assert.deepEqual(r.totals.tokens, { prompt: t.totals.prompt_tokens, completion: t.totals.completion_tokens,
      total: t.totals.prompt_tokens + t.totals.completion_tokens });
    assert.equal(r.totals.cache_hits, t.totals.cache_hits);
    assert.equal(r.totals.cache_hit_rate, Math.round(t.totals.cache_hits * 1e4 /
      (t.totals.cache_hits + t.totals.cache_misses)) / 1e4);
    // search (140k demand, 100k limit) is the most throttled team and comes first; prod-critical never is.
    assert.equal(r.by_subscription[0].subscription_id, 'search');
    assert.equal(row(r, 'prod-critical').throttled, 0);
    assert.ok(row(r, 'growth').throttled > 0, 'growth bursts to 250k over its 200k limit');
    assert.deepEqual(r.by_backend.map((b) => b.backend_id), ['eastus-aoai']);
    assert.match(r.sources.notes.join(' '), /retired on 15 March 2027/);
    const text = res.content[0].text;
    assert.match(text, /^(\[simulator\] )?aoai-completions .*req, \d+ throttled \(429\)/);
    assert.match(text, /search \| \d+ \| \d+ \| 0 \| 90\.0% \|/); // the demo's loose score-threshold 0.8
    const bytes = Buffer.byteLength(JSON.stringify(res));
    console.log(`get_metrics demo 24h: text ${Buffer.byteLength(text)} bytes, whole result ${bytes} bytes`);
    assert.ok(Buffer.byteLength(text) < 1500, 'the text block stays small');
    const byTime = ok(await s.call('get_metrics', { api_id: API, since: '24h', group_by: 'time' }));
    assert.equal(byTime.series.length, 24);
    assert.equal(byTime.series.reduce((n, p) => n + p.requests, 0), byTime.totals.requests);
    const none = ok(await s.call('get_metrics', { api_id: API, since: '1h', group_by: 'none' }));
    assert.deepEqual(none.by_subscription, []);
  } finally { await s.close(); }
});

test('v2 tier: no reports API (said why), teams from Log Analytics; without Log Analytics the fix is named',
  async () => {
    let s = await session(v2(demoScenario()));
    try {
      const r = ok(await s.call('get_metrics', { api_id: API, since: '6h' }));
      await agrees(s.sim, r);
      const rep = r.sources.unavailable.find((u) => u.source === 'reports API');
      assert.match(rep.reason, /not offered on the v2 tiers \(this service is StandardV2\)/);
      assert.ok(!(await s.sim.requests()).some((q) => q.path.includes('/reports/')), 'no reports call on v2');
    } finally { await s.close(); }
    const d = v2(demoScenario());
    delete d.traffic.log_analytics; // no diagnostic setting to a workspace
    s = await session(d);
    try {
      const res = await s.call('get_metrics', { api_id: API, since: '1h' });
      const r = ok(res);
      await agrees(s.sim, r, { teams: false });
      assert.deepEqual(r.by_subscription, []);
      const la = r.sources.unavailable.find((u) => u.source === 'Log Analytics');
      assert.match(la.fix, /Log Analytics workspace .* per-team 429s on v2 tiers/);
      assert.match(res.content[0].text, /unavailable: Log Analytics/);
      // tokens still come from the API's llm-emit-token-metric, through the service's App Insights logger
      assert.match(r.sources.figures.tokens, /Application Insights token metrics \(namespace 'openai'\)/);
      assert.ok(r.totals.tokens.total > 0);
    } finally { await s.close(); }
  });

test('quota cut: growth 200k -> 100k with update_quota, growth\'s 429s rise in the window after', async () => {
  for (const scenario of [fastScenario(), fastScenario(v2)]) {
    const s = await session(scenario);
    try {
      const t0 = await frozenAt(s.sim);
      ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 100000 }));
      const t1 = t0 + 1;
      await s.sim.clock({ advance_s: 5 });
      const before = ok(await s.call('get_metrics', { api_id: API, since: iso(t0 - 3), until: iso(t0) }));
      const afterCut = ok(await s.call('get_metrics', { api_id: API, since: iso(t1), until: iso(t1 + 3) }));
      await agrees(s.sim, before);
      await agrees(s.sim, afterCut);
      assert.ok(row(afterCut, 'growth').throttled > row(before, 'growth').throttled,
        `growth 429s ${row(before, 'growth').throttled} -> ${row(afterCut, 'growth').throttled}`);
      assert.equal(row(afterCut, 'prod-critical').throttled, 0, 'other teams unchanged');
    } finally { await s.close(); }
  }
});

test('failover rehearsal: eastus removed from the pool, traffic moves to westeurope (priority 2)', async () => {
  for (const scenario of [fastScenario(), fastScenario(v2)]) {
    const s = await session(scenario);
    try {
      const t0 = await frozenAt(s.sim);
      ok(await s.call('update_backend_pool', { api_id: API, backends: [{ backend_id: 'eastus-aoai', remove: true }] }));
      const t1 = t0 + 1;
      await s.sim.clock({ advance_s: 5 });
      const before = ok(await s.call('get_metrics', { api_id: API, since: iso(t0 - 3), until: iso(t0) }));
      const res = await s.call('get_metrics', { api_id: API, since: iso(t1), until: iso(t1 + 3) });
      const failover = ok(res);
      assert.deepEqual(before.by_backend.map((b) => b.backend_id), ['eastus-aoai']);
      assert.deepEqual(failover.by_backend.map((b) => b.backend_id), ['westeurope-aoai']);
      const t = await agrees(s.sim, failover);
      assert.equal(failover.by_backend[0].requests, t.totals.by_backend['westeurope-aoai']);
      assert.equal(failover.totals.avg_backend_latency_ms, 950);
      assert.equal(before.totals.avg_backend_latency_ms, 800);
      assert.match(res.content[0].text, /backends: westeurope-aoai \d+ req \(950 ms\)/);
    } finally { await s.close(); }
  }
});

test('semantic cache applied with apply_policy: the hit rate goes from none to the simulated rate', async () => {
  const original = demoScenario().apis.find((a) => a.name === API).policy;
  const noCache = (d) => {
    const api = d.apis.find((a) => a.name === API);
    api.policy = api.policy.replace(/<azure-openai-semantic-cache-lookup[\s\S]*?<\/azure-openai-semantic-cache-lookup>/, '');
    return d;
  };
  for (const scenario of [fastScenario(noCache), fastScenario((d) => v2(noCache(d)))]) {
    const s = await session(scenario);
    try {
      const t0 = await frozenAt(s.sim);
      ok(await s.call('apply_policy', { api_id: API, policy_xml: original.replace('score-threshold="0.8"',
        'score-threshold="0.15"') }));
      const t1 = t0 + 1;
      await s.sim.clock({ advance_s: 5 });
      const before = ok(await s.call('get_metrics', { api_id: API, since: iso(t0 - 3), until: iso(t0) }));
      const cached = ok(await s.call('get_metrics', { api_id: API, since: iso(t1), until: iso(t1 + 3) }));
      await agrees(s.sim, before);
      await agrees(s.sim, cached);
      assert.equal(before.totals.cache_hit_rate, null);
      assert.equal(before.totals.cache_hits, 0);
      assert.ok(cached.totals.cache_hit_rate > 0.7 && cached.totals.cache_hit_rate < 0.8, `${cached.totals.cache_hit_rate}`);
      assert.ok(cached.totals.avg_latency_ms < before.totals.avg_latency_ms, 'cache hits are faster');
    } finally { await s.close(); }
  }
});

test('empty, clamped and invalid windows', async () => {
  const s = await session();
  try {
    const empty = ok(await s.call('get_metrics', { api_id: 'legacy-chat', since: '1h' }));
    assert.equal(empty.totals.requests, 0);
    assert.equal(empty.totals.cache_hit_rate, null);
    assert.deepEqual(empty.by_subscription, []);
    const clamped = ok(await s.call('get_metrics', { api_id: API, since: '100d' }));
    assert.match(clamped.sources.notes.join(' '), /since clamped from .* Azure Monitor keeps 93 days/);
    assert.match(clamped.sources.notes.join(' '), /Log Analytics rows start at .*30-day/);
    assert.ok(Date.parse(clamped.since) >= Date.now() - 93 * 86400e3 - 60e3);
    await agrees(s.sim, clamped, { teams: false });
    const old = ok(await s.call('get_metrics', { api_id: API, since: '60d', until: '40d' }));
    assert.match(old.sources.notes.join(' '), /older than the 30 days Log Analytics keeps/);
    assert.match(old.sources.figures.by_subscription, /reports API/, 'the reports API still has the teams');
    await agrees(s.sim, old, { teams: false });
    const bad = async (args, pattern) => {
      const r = await s.call('get_metrics', { api_id: API, ...args });
      assert.equal(r.isError, true);
      assert.match(r.content[0].text, pattern);
    };
    await bad({ since: '1h', until: '2h' }, /until .* must be after since/);
    await bad({ since: '1h', until: iso(nowSec() + 3600) }, /in the future/);
    await bad({ since: 'yesterday' }, /since: 'yesterday' is not a time/);
    await bad({ since: '1h', api_id: 'nope' }, /API 'nope' does not exist/);
  } finally { await s.close(); }
});

test('one source failing: Log Analytics refused, per-team figures fall back to the reports API', async () => {
  const s = await session();
  try {
    await s.sim.faults({ rules: [{ path_contains: '/v1/workspaces/', status: 403 }] });
    const res = await s.call('get_metrics', { api_id: API, since: '2h' });
    const r = ok(res);
    const t = await agrees(s.sim, r, { teams: false });
    // issue 13 item 8: bySubscription cannot filter by API (all APIs); callCountBlocked is 401+403+429
    assert.match(r.sources.figures.by_subscription, /reports API bySubscription: all APIs of the service/);
    assert.ok(r.sources.unavailable.some((u) => u.source === 'Log Analytics'));
    for (const [id, c] of Object.entries(t.by_subscription)) {
      assert.equal(row(r, id).requests, c.requests, `${id} requests (reports)`);
      assert.equal(row(r, id).blocked, c.throttled, `${id} blocked calls (reports; the model blocks only with 429)`);
      assert.equal(row(r, id).throttled, null, `${id}: 429s alone are unknown from the reports API`);
    }
    const q = (await s.sim.requests()).find((x) => x.path.endsWith('/reports/bySubscription'));
    assert.doesNotMatch(decodeURIComponent(q.query), /apiId/, 'bySubscription\'s $filter has no apiId');
    assert.match(r.sources.figures.tokens, /Application Insights/);
    assert.match(res.content[0].text, /unavailable: Log Analytics/);
  } finally { await s.close(); }
});

// The simulator's traffic answers have the keys of Microsoft's own examples (x-ms-examples).
test('shapes: reports byApi/bySubscription/byTime and Metrics_List match the example files', async () => {
  const examples = join(THIRD_PARTY, 'azure-rest-examples');
  const body = (f) => JSON.parse(readFileSync(join(examples, f), 'utf8')).responses['200'].body;
  const keys = (o) => Object.keys(o).sort();
  const sim = await startSim();
  try {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.reader.id,
      client_secret: DEMO.reader.secret, scope: 'https://management.azure.com/.default' });
    const token = (await (await fetch(`${sim.url}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body: form }))
      .json()).access_token;
    const svc = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
      `/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
    const get = async (rel, query) => {
      const res = await fetch(`${sim.url}${svc}/${rel}?${new URLSearchParams(query)}`,
        { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, await res.clone().text());
      return res.json();
    };
    const until = nowSec(), since = until - 3600;
    const filter = `timestamp ge datetime'${iso(since).slice(0, 19)}' and timestamp le datetime'${iso(until).slice(0, 19)}'`;
    for (const [rel, file, extra] of [['reports/byApi', 'ApiManagementGetReportsByApi.json', {}],
      ['reports/bySubscription', 'ApiManagementGetReportsBySubscription.json', {}],
      ['reports/byTime', 'ApiManagementGetReportsByTime.json', { interval: 'PT15M' }]]) {
      const mine = await get(rel, { 'api-version': '2024-05-01', $filter: filter, ...extra });
      const theirs = body(file);
      assert.deepEqual(keys(mine), keys(theirs), rel);
      assert.deepEqual(keys(mine.value[0]), keys(theirs.value[0]), `${rel} row`);
    }
    const p = JSON.parse(readFileSync(join(examples, 'GetMetric.json'), 'utf8')).parameters;
    const mine = await get('providers/Microsoft.Insights/metrics', { 'api-version': p['api-version'],
      timespan: `${iso(since)}/${iso(until)}`, interval: 'PT15M', metricnames: 'Duration',
      aggregation: p.aggregation, $filter: "ApiId eq 'aoai-completions'" });
    const theirs = body('GetMetric.json');
    assert.deepEqual(keys(mine), keys(theirs));
    assert.deepEqual(keys(mine.value[0]), keys(theirs.value[0]));
    assert.deepEqual(keys(mine.value[0].timeseries[0]), keys(theirs.value[0].timeseries[0]));
    assert.deepEqual(keys(mine.value[0].timeseries[0].data[0]), keys(theirs.value[0].timeseries[0].data[0]));
    assert.deepEqual(keys(mine.value[0].name), keys(theirs.value[0].name));
  } finally { await sim.stop(); }
});

test('concurrency: the discovery calls overlap, and so do the source queries (from the simulator log)', async () => {
  const s = await session();
  try {
    ok(await s.call('get_metrics', { api_id: API, since: '1h' })); // token and connections warmed up
    await s.sim.resetCounters();
    await s.sim.faults({ latency_ms: 100 });
    ok(await s.call('get_metrics', { api_id: API, since: '1h' }));
    const all = await s.sim.requests();
    const reqs = all.filter((q) => q.path.startsWith('/subscriptions/') || q.path.startsWith('/v1/'));
    const isQuery = (q) => /metrics|reports|\/v1\/workspaces\//.test(q.path);
    const isWorkspace = (q) => /OperationalInsights\/workspaces\/[^/]+$/.test(q.path);
    const discovery = reqs.filter((q) => !isQuery(q) && !isWorkspace(q)), queries = reqs.filter(isQuery);
    assert.equal(discovery.length, 5, 'API, service, diagnostic settings, API policy, loggers');
    assert.equal(reqs.filter(isWorkspace).length, 1, 'the workspace (customerId, retention), after discovery');
    assert.equal(queries.length, 7, '2 Monitor + 1 reports + 3 Log Analytics + 1 Application Insights');
    assert.equal(all.filter((q) => q.path.includes('/token')).length, 0, 'both audiences\' tokens are cached');
    const overlapAll = (list) => Math.max(...list.map((q) => q.start_us)) < Math.min(...list.map((q) => q.end_us));
    assert.ok(overlapAll(discovery), 'the 5 discovery requests were in flight together');
    assert.ok(overlapAll(queries), 'the 7 source queries were in flight together');
  } finally { await s.close(); }
});

test('tokens without Log Analytics: Application Insights token metrics of the emit-token-metric policy', async () => {
  const d = demoScenario();
  delete d.traffic.log_analytics;
  const s = await session(d);
  try {
    const res = await s.call('get_metrics', { api_id: API, since: '3h' });
    const r = ok(res);
    const t = await agrees(s.sim, r, { teams: false });
    assert.match(r.sources.figures.tokens, /Application Insights token metrics \(namespace 'openai'\)/);
    assert.match(r.sources.figures.by_subscription, /reports API/);
    const per = { prompt: 700, completion: 300 }; // tokens_per_request 1000, prompt_share 0.7
    assert.deepEqual(r.totals.tokens, { prompt: t.totals.metric_calls * per.prompt,
      completion: t.totals.metric_calls * per.completion, total: t.totals.metric_calls * 1000 });
    for (const [id, c] of Object.entries(t.by_subscription))
      assert.equal(row(r, id).tokens.total, c.metric_calls * 1000, `${id} tokens`);
    const q = (await s.sim.requests()).find((x) => x.path.includes('/components/appi-aigw-demo/'));
    assert.match(decodeURIComponent(q.query), /metricnamespace=openai/);
    assert.match(decodeURIComponent(q.query), /Subscription ID eq '\*' and API ID eq 'aoai-completions'/);
  } finally { await s.close(); }
});

test('Azure Monitor refused: totals from the team rows and the series from reports byTime, both labelled',
  async () => {
    const s = await session();
    try {
      await s.sim.faults({ rules: [{ path_contains: 'Microsoft.Insights/metrics', status: 403 }] });
      const res = await s.call('get_metrics', { api_id: API, since: '6h', group_by: 'time' });
      const r = ok(res);
      const t = await simTraffic(s.sim, r);
      assert.equal(r.totals.requests, t.totals.requests);
      assert.equal(r.totals.throttled, t.totals.throttled); // Log Analytics' rows (this API's)
      assert.equal(r.totals.avg_latency_ms, null, 'no source for it');
      assert.match(r.sources.figures.totals, /sum of the per-subscription rows \(Azure Monitor/);
      assert.ok(r.series.every((p) => p.throttled === null && Number.isInteger(p.blocked)));
      assert.match(r.sources.figures.series, /reports API byTime/);
      assert.ok(r.series.length >= 24 && r.series.length <= 25, `${r.series.length} rows of 15 minutes`);
      assert.equal(r.series.reduce((n, p) => n + p.requests, 0), t.totals.requests, 'the rows add up to the window');
      assert.ok(r.sources.unavailable.some((u) => u.source === 'Azure Monitor metrics'));
      assert.match(res.content[0].text, /unavailable: Azure Monitor metrics/);
    } finally { await s.close(); }
  });

// ---- issue 13, items 6-10 -----------------------------------------------------------------------

const svcPath = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
  `/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
const wsPath = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
  '/providers/Microsoft.OperationalInsights/workspaces/law-aigw-demo';
async function tokenFor(sim, scope) {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.reader.id,
    client_secret: DEMO.reader.secret, scope });
  return (await (await fetch(`${sim.url}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body: form }))
    .json()).access_token;
}

test('item 6: Log Analytics through the Logs query API v1, its own token audience (cached), the workspace\'s ' +
  'customerId and retention', async () => {
  const customer = '0f7c2a41-93d5-4e8b-a6f0-1c2d3e4f5a6b';
  const s = await session(fastScenario((d) => {
    Object.assign(d.traffic.log_analytics, { retention_days: 7, customer_id: customer });
    return d;
  }));
  try {
    const r = ok(await s.call('get_metrics', { api_id: API, since: '10d' }));
    await agrees(s.sim, r, { teams: false });
    assert.match(r.sources.figures.by_subscription, /Log Analytics/);
    assert.match(r.sources.notes.join(' '), /Log Analytics rows start at .*\(7-day workspace retention\)/);
    let log = await s.sim.requests();
    const la = log.filter((q) => q.path.startsWith('/v1/'));
    assert.deepEqual([...new Set(la.map((q) => `${q.method} ${q.path}`))], [`POST /v1/workspaces/${customer}/query`]);
    assert.equal(la.length, 3, 'per team, per backend, tokens');
    assert.ok(!log.some((q) => q.path.includes('/api/query')), 'never the retired ARM route');
    const ws = log.filter((q) => q.path === wsPath);
    assert.equal(ws.length, 1);
    assert.match(ws[0].query, /api-version=2025-07-01/);
    assert.equal(log.filter((q) => q.path.includes('/oauth2/')).length, 2, 'one token per audience: ARM, Log Analytics');
    await s.sim.resetCounters();
    ok(await s.call('get_metrics', { api_id: API, since: '1h' }));
    log = await s.sim.requests();
    assert.equal(log.filter((q) => q.path.includes('/oauth2/')).length, 0, 'both tokens came from the cache');
    assert.equal(log.filter((q) => q.path.startsWith('/v1/')).length, 3);
    // apim-sim: the Logs query API refuses an ARM token; the retired ARM route answers 410
    const arm = await tokenFor(s.sim, 'https://management.azure.com/.default');
    const logsTok = await tokenFor(s.sim, 'https://api.loganalytics.io/.default');
    const body = JSON.stringify({ query: 'ApiManagementGatewayLogs | take 1', timespan: 'PT1H' });
    const post = (url, tok, extra = {}) => fetch(url, { method: 'POST', body,
      headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', ...extra } });
    assert.equal((await post(`${s.sim.url}/v1/workspaces/${customer}/query`, arm)).status, 401);
    assert.equal((await post(`${s.sim.url}/v1/workspaces/${customer}/query`, logsTok)).status, 400, 'known only KQL');
    const retired = await post(`${s.sim.url}${wsPath}/api/query?api-version=2017-10-01`, arm, OFF_SPEC); // in no vendored spec
    assert.equal(retired.status, 410);
    assert.match((await retired.json()).error.message, /retired on 31 March 2026/);
  } finally { await s.close(); }
});

test('item 6: with ARM overridden and no AIGW_LOG_ANALYTICS_ENDPOINT, nothing goes to the public Logs endpoint',
  async () => {
    const tmp = tmpDir('aigw-metrics-');
    const sim = await startSim();
    const s = await connect({ env: simEnv(sim, { AIGW_AUDIT_LOG: join(tmp.dir, 'audit.jsonl'),
      AIGW_LOG_ANALYTICS_ENDPOINT: undefined }) });
    try {
      await s.client.listTools();
      const r = ok(await s.client.callTool({ name: 'get_metrics', arguments: { api_id: API, since: '1h' } }));
      const la = r.sources.unavailable.find((u) => u.source === 'Log Analytics');
      assert.match(la.reason, /AIGW_LOG_ANALYTICS_ENDPOINT is not set/);
      assert.match(la.fix, /set AIGW_LOG_ANALYTICS_ENDPOINT/);
      assert.match(r.sources.figures.by_subscription, /reports API/);
      assert.ok(!(await sim.requests()).some((q) => q.path.startsWith('/v1/')));
    } finally { await s.close(); await sim.stop(); tmp.cleanup(); }
  });

test('item 7: a diagnostic setting in AzureDiagnostics mode: no resource-specific query, the switch is named',
  async () => {
    const azureDiagnostics = (d) => { d.traffic.log_analytics.destination_type = null; return d; };
    for (const scenario of [azureDiagnostics(demoScenario()), v2(azureDiagnostics(demoScenario()))]) {
      const s = await session(scenario);
      try {
        const r = ok(await s.call('get_metrics', { api_id: API, since: '2h' }));
        await agrees(s.sim, r, { teams: false });
        const la = r.sources.unavailable.find((u) => u.source === 'Log Analytics');
        assert.match(la.reason, /AzureDiagnostics table .*resource-specific tables ApiManagementGatewayLogs/);
        assert.match(la.fix, /Resource specific.*logAnalyticsDestinationType "Dedicated"/);
        const log = await s.sim.requests();
        assert.ok(!log.some((q) => q.path.startsWith('/v1/') || q.path === wsPath), 'no query of empty tables');
        if (scenario.service.tier === 'v2') assert.deepEqual(r.by_subscription, []);
        else assert.match(r.sources.figures.by_subscription, /reports API/);
      } finally { await s.close(); }
    }
    // Dedicated (the demo): the same figures come from the resource-specific tables
    const s = await session();
    try {
      const r = ok(await s.call('get_metrics', { api_id: API, since: '2h' }));
      await agrees(s.sim, r);
      assert.ok(!r.sources.unavailable.some((u) => u.source === 'Log Analytics'));
    } finally { await s.close(); }
  });

test('items 8 and 9: apim-sim refuses apiId in a bySubscription $filter and Count on Duration, as Azure does; ' +
  'splits return 10 series without top', async () => {
  const sim = await startSim();
  try {
    const token = await tokenFor(sim, 'https://management.azure.com/.default');
    const get = (rel, query, extra = {}) => fetch(`${sim.url}${svcPath}/${rel}?${new URLSearchParams(query)}`,
      { headers: { authorization: `Bearer ${token}`, ...extra } });
    const until = nowSec(), since = until - 3600;
    const filter = `timestamp ge datetime'${iso(since).slice(0, 19)}' and timestamp le datetime'${iso(until).slice(0, 19)}'`;
    const v = { 'api-version': '2024-05-01' };
    let res = await get('reports/bySubscription', { ...v, $filter: `${filter} and apiId eq '${API}'` }, OFF_SPEC); // the spec gate refuses it too
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /apiId eq/);
    assert.equal((await get('reports/bySubscription', { ...v, $filter: filter })).status, 200);
    assert.equal((await get('reports/byTime', { ...v, $filter: `${filter} and apiId eq '${API}'`, interval: 'PT15M' }))
      .status, 200, 'byTime does filter by API');
    const m = { 'api-version': '2024-02-01', timespan: `${iso(since)}/${iso(until)}`, interval: 'PT15M',
      metricnames: 'Duration,BackendDuration', $filter: `ApiId eq '${API}'` };
    res = await get('providers/Microsoft.Insights/metrics', { ...m, aggregation: 'Average,Count' });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /Duration does not support the requested aggregation 'count'/);
    assert.equal((await get('providers/Microsoft.Insights/metrics', { ...m, aggregation: 'Average,Minimum,Maximum' }))
      .status, 200);
  } finally { await sim.stop(); }
});

// Twelve teams (the demo's four and eight more), tokens from Application Insights split by subscription.
function twelveTeams(d) {
  delete d.traffic.log_analytics;
  const base = d.subscriptions.find((x) => x.name === 'free-experiments');
  for (let i = 1; i <= 8; i++) {
    const name = `team-${i}`;
    d.subscriptions.push({ ...JSON.parse(JSON.stringify(base)), name, primary_key: `demo-${name}-primary-key`,
      secondary_key: `demo-${name}-secondary-key` });
    d.traffic.demand_tpm[name] = 2000 + i * 100;
  }
  return d;
}

test('item 9: a dimension split sends top and orderby, so teams past ten keep their tokens', async () => {
  const s = await session(twelveTeams(demoScenario()));
  try {
    const r = ok(await s.call('get_metrics', { api_id: API, since: '3h' }));
    const t = await agrees(s.sim, r, { teams: false });
    assert.match(r.sources.figures.tokens, /Application Insights/);
    const teams = Object.entries(t.by_subscription).filter(([, c]) => c.metric_calls > 0);
    assert.equal(teams.length, 12);
    for (const [id, c] of teams) assert.equal(row(r, id).tokens.total, c.metric_calls * 1000, `${id} tokens`);
    for (const q of (await s.sim.requests()).filter((x) => x.path.endsWith('/Microsoft.Insights/metrics'))) {
      const p = new URLSearchParams(q.query);
      if (/eq '\*'/.test(p.get('$filter'))) {
        assert.ok(Number(p.get('top')) >= 12, `top on ${p.get('metricnames')}`);
        assert.equal(p.get('orderby'), 'Total desc');
      }
      if (/Duration/.test(p.get('metricnames'))) assert.equal(p.get('aggregation'), 'Average');
    }
    // apim-sim as Monitor: without top a split stops at 10 series
    const token = await tokenFor(s.sim, 'https://management.azure.com/.default');
    const comp = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
      '/providers/microsoft.insights/components/appi-aigw-demo/providers/Microsoft.Insights/metrics';
    const series = async (extra) => (await (await fetch(`${s.sim.url}${comp}?${new URLSearchParams({
      'api-version': '2024-02-01', timespan: `${iso(nowSec() - 3 * 3600)}/${iso(nowSec())}`, interval: 'PT1H',
      metricnames: 'Total Tokens', aggregation: 'Total', metricnamespace: 'openai',
      $filter: "Subscription ID eq '*'", ...extra })}`, { headers: { authorization: `Bearer ${token}` } })).json())
      .value[0].timeseries.length;
    assert.equal(await series({}), 10);
    assert.equal(await series({ top: '500', orderby: 'Total desc' }), 12);
  } finally { await s.close(); }
});

test('item 10: a token metric\'s value-less "Subscription ID" dimension is the default subscription dimension',
  async () => {
    const d = demoScenario();
    delete d.traffic.log_analytics;
    const api = d.apis.find((a) => a.name === API);
    api.policy = api.policy.replace('<dimension name="Subscription ID" value="@(context.Subscription.Id)" />',
      '<dimension name="Subscription ID" />').replace('<dimension name="API ID" value="@(context.Api.Id)" />',
      '<dimension name="API ID" />');
    const s = await session(d);
    try {
      const r = ok(await s.call('get_metrics', { api_id: API, since: '3h' }));
      const t = await agrees(s.sim, r, { teams: false });
      assert.match(r.sources.figures.tokens, /Application Insights token metrics/);
      for (const [id, c] of Object.entries(t.by_subscription))
        assert.equal(row(r, id).tokens.total, c.metric_calls * 1000, `${id} tokens`);
      const q = (await s.sim.requests()).find((x) => x.path.includes('/components/appi-aigw-demo/'));
      assert.match(decodeURIComponent(q.query), /Subscription ID eq '\*' and API ID eq 'aoai-completions'/);
    } finally { await s.close(); }
  });
