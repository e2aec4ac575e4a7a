// sim_routing: apim-sim's routing and failure model over HTTP (issue 18; docs/apim-sim.md "Routing and
// failures"): a member removed from the pool by an ARM PUT gets no traffic from the next simulated
// minute and the others carry the load; a 5xx fault window trips the primary's circuit breaker (count
// rule) and traffic goes to the secondary priority for tripDuration, then returns; the API's <retry>
// moves failed requests to another member; the clock's rate; the virtual Date header on every answer;
// the ingestion delays of Log Analytics and Azure Monitor; the faults control route and scenario key
// with their errors. Data are read with the per-backend, per-minute KQL of notes/contract18.md.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, checkSanitizers, DEMO, SOURCE_DIR, APIM_SIM_BIN, tmpDir, fastScenario as busier } from './lib/harness.mjs';

after(checkSanitizers);

const API = 'aoai-completions';
const SVC = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
const CUSTOMER = '4a5e8e0c-1d2b-4c3f-9e8a-6b7c8d9e0f1a';
const KQL = `ApiManagementGatewayLogs | where ApiId == '${API}' | summarize requests = count(), failed = countif(ResponseCode >= 500), throttled = countif(ResponseCode == 429), backend_failed = countif(BackendResponseCode >= 500), backend_throttled = countif(BackendResponseCode == 429) by BackendId, BackendUrl, bin(TimeGenerated, 1m)`;
// 06:02 is two minutes into a 10-minute burst period: the minutes that follow have the same demand
const T0 = Date.parse('2026-11-30T06:02:00Z') / 1000;
const iso = (sec) => new Date(sec * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

// The harness's busier demo (~550 backend calls a minute, ~9 a second, so a breaker rule of 3
// failures trips within the first second of a fault), on a frozen clock at T0.
function fastScenario(edit = (d) => d) {
  return busier((d) => { d.clock = { set: iso(T0), freeze: true }; return edit(d); });
}

async function session(scenario = fastScenario()) {
  const tmp = tmpDir('aigw-routing-');
  const file = join(tmp.dir, 'scenario.json');
  writeFileSync(file, JSON.stringify(scenario));
  const sim = await startSim(['--scenario', file]);
  const token = async (scope) => {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.contributor.id,
      client_secret: DEMO.contributor.secret, scope });
    const r = await fetch(`${sim.url}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body });
    return (await r.json()).access_token;
  };
  const armTok = await token('https://management.azure.com/.default');
  const logsTok = await token('https://api.loganalytics.io/.default');
  const control = async (method, path, body) => {
    const r = await fetch(`${sim.simUrl}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : null };
  };
  return {
    sim,
    control,
    async arm(method, path, body, headers = {}) {
      const r = await fetch(`${sim.url}${SVC}${path}?api-version=2024-05-01`, { method,
        headers: { authorization: `Bearer ${armTok}`, 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : null };
    },
    // the per-backend, per-minute rows: {minute (epoch s): {backend id: row}}
    async minutes(from, to) {
      const r = await fetch(`${sim.url}/v1/workspaces/${CUSTOMER}/query`, { method: 'POST',
        headers: { authorization: `Bearer ${logsTok}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: KQL, timespan: `${iso(from)}/${iso(to)}` }) });
      assert.equal(r.status, 200);
      const t = (await r.json()).tables[0];
      assert.deepEqual(t.columns.map((c) => `${c.name}:${c.type}`), ['BackendId:string', 'BackendUrl:string',
        'TimeGenerated:datetime', 'requests:long', 'failed:long', 'throttled:long', 'backend_failed:long',
        'backend_throttled:long']);
      const out = {};
      for (const row of t.rows) {
        for (const c of row) assert.equal(typeof c, 'string', 'v1 cells are strings');
        const m = Date.parse(row[2]) / 1000;
        assert.ok(m >= Math.floor(from / 60) * 60 && m < to && m % 60 === 0, `minute ${row[2]}`);
        (out[m] ??= {})[row[0]] = { url: row[1], requests: +row[3], failed: +row[4], throttled: +row[5],
          backend_failed: +row[6], backend_throttled: +row[7] };
      }
      return out;
    },
    async close() { await sim.stop(); tmp.cleanup(); },
  };
}

const req = (rows, m, b) => rows[m]?.[b]?.requests ?? 0;
const EAST = 'eastus-aoai', WEST = 'westeurope-aoai';

test('a member removed from the pool (ARM PUT) gets no traffic from the next minute; the others carry the load',
  async () => {
    const s = await session();
    try {
      const pool = await s.arm('GET', '/backends/aoai-pool');
      assert.equal(pool.status, 200);
      await s.sim.clock({ advance_s: 3 * 60 + 30 }); // 06:05:30
      const services = pool.body.properties.pool.services.filter((m) => !m.id.endsWith('/eastus-aoai'));
      const put = await s.arm('PUT', '/backends/aoai-pool', { properties: { ...pool.body.properties,
        pool: { services } } }, { 'if-match': pool.headers.get('etag') });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      await s.sim.clock({ advance_s: 4 * 60 + 30 }); // 06:10:00
      const rows = await s.minutes(T0, T0 + 8 * 60);
      for (const m of [T0, T0 + 60, T0 + 120]) { // 06:02-06:04: East US only
        assert.ok(req(rows, m, EAST) > 400, `${iso(m)}: ${JSON.stringify(rows[m])}`);
        assert.equal(req(rows, m, WEST), 0);
        assert.equal(rows[m][EAST].url, 'https://aoai-eastus.openai.azure.com/openai');
      }
      assert.ok(req(rows, T0 + 180, EAST) > 0 && req(rows, T0 + 180, WEST) > 0, '06:05: removed at 06:05:30');
      for (const m of [T0 + 240, T0 + 300, T0 + 360, T0 + 420]) { // from the next minute: West Europe carries it all
        assert.equal(req(rows, m, EAST), 0, `${iso(m)}: ${JSON.stringify(rows[m])}`);
        assert.ok(Math.abs(req(rows, m, WEST) - req(rows, T0, EAST)) <= 1, `${iso(m)}: the same load`);
        assert.equal(rows[m][WEST].failed, 0);
        assert.equal(rows[m][WEST].url, 'https://aoai-westeurope.openai.azure.com/openai');
      }
      // the requests that reached no backend (cache hits, the gateway's own 429s): empty BackendId
      assert.ok(rows[T0][''].requests > 0 && rows[T0][''].url === '');
    } finally { await s.close(); }
  });

test('a 5xx fault window trips the primary\'s breaker (count rule): traffic goes to the secondary for tripDuration, then returns',
  async () => {
    const s = await session();
    try {
      // 20 s of 503s on East US from 06:03:00; its rule: 3 failures (429, 5xx) in PT1M trip it for PT1M
      const f = await s.control('POST', '/_sim/faults', { backend_id: EAST, kind: '5xx', from: iso(T0 + 60), until: iso(T0 + 80) });
      assert.equal(f.status, 201, JSON.stringify(f.body));
      assert.ok(f.body.id > 0);
      assert.deepEqual(f.body, { id: f.body.id, backend_id: EAST, kind: '5xx', from: iso(T0 + 60), until: iso(T0 + 80) });
      await s.sim.clock({ advance_s: 5 * 60 });
      const rows = await s.minutes(T0, T0 + 5 * 60);
      const t = await (await fetch(`${s.sim.simUrl}/_sim/traffic?since=${iso(T0)}&until=${iso(T0 + 300)}&api_id=${API}`)).json();
      assert.equal(t.breaker_open.length, 1, JSON.stringify(t.breaker_open));
      const open = t.breaker_open[0];
      assert.equal(open.backend, EAST);
      assert.equal(open.until - open.from, 60, 'open for tripDuration PT1M');
      assert.ok(open.from > T0 + 60 && open.from <= T0 + 62, `tripped within the first seconds: ${open.from - T0 - 60}`);
      // 06:02: all on East US; 06:03 (tripped at ~06:03:01): West Europe; 06:04: back on East US after ~06:04:01
      assert.equal(req(rows, T0, WEST), 0);
      const m1 = rows[T0 + 60], m2 = rows[T0 + 120];
      assert.ok(req(rows, T0 + 60, WEST) > 0.95 * (req(rows, T0 + 60, WEST) + req(rows, T0 + 60, EAST)), JSON.stringify(m1));
      assert.ok(m1[EAST].failed > 0 && m1[EAST].failed === m1[EAST].backend_failed, 'the failures that tripped it');
      assert.ok(m1[EAST].failed < 20, `only until the trip: ${m1[EAST].failed}`);
      assert.equal(m1[WEST].failed, 0);
      assert.ok(req(rows, T0 + 120, EAST) > 0.95 * (req(rows, T0 + 120, WEST) + req(rows, T0 + 120, EAST)), JSON.stringify(m2));
      assert.equal(m2[EAST].failed, 0, 'the fault ended at 06:03:20');
      for (const m of [T0 + 180, T0 + 240]) assert.equal(req(rows, m, WEST), 0, 'returned to the primary');
      // the model's own counters agree, and Azure Monitor shows the 503s
      assert.equal(t.totals.failed, Object.values(rows).reduce((n, r) => n + Object.values(r).reduce((k, x) => k + x.failed, 0), 0));
      const r = await fetch(`${s.sim.url}${SVC}/providers/Microsoft.Insights/metrics?api-version=2024-02-01&metricnames=Requests&aggregation=Total&interval=PT1M&timespan=${iso(T0 + 60)}/${iso(T0 + 120)}&$filter=${encodeURIComponent("ApiId eq 'aoai-completions' and GatewayResponseCode eq '*'")}`,
        { headers: { authorization: `Bearer ${await armToken(s)}` } });
      const series = (await r.json()).value[0].timeseries;
      const s503 = series.find((x) => x.metadatavalues[0].value === '503');
      assert.equal(s503.data[0].total, m1[EAST].failed);
    } finally { await s.close(); }
  });

async function armToken(s) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.contributor.id,
    client_secret: DEMO.contributor.secret, scope: 'https://management.azure.com/.default' });
  return (await (await fetch(`${s.sim.url}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body })).json()).access_token;
}

test('<retry> moves a failed request to another member: two members at one priority, one failing', async () => {
  // equal priority and weight; no breakers, so only the retry policy changes who serves
  const s = await session(fastScenario((d) => {
    for (const b of d.backends) delete b.properties.circuitBreaker;
    d.backends.find((b) => b.name === 'aoai-pool').properties.pool.services[1].priority = 1;
    d.faults = [{ backend_id: EAST, kind: '5xx', from: iso(T0), minutes: 30 }];
    return d;
  }));
  try {
    await s.sim.clock({ advance_s: 120 });
    // then the retry is taken out of the API policy (06:04), and two more minutes pass
    const pol = await s.arm('GET', `/apis/${API}/policies/policy`);
    const xml = pol.body.properties.value.replace(/<retry[^>]*>([\s\S]*?)<\/retry>/, '$1');
    assert.notEqual(xml, pol.body.properties.value);
    const put = await s.arm('PUT', `/apis/${API}/policies/policy`, { properties: { format: 'xml', value: xml } },
      { 'if-match': '*' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await s.sim.clock({ advance_s: 120 });
    const rows = await s.minutes(T0, T0 + 240);
    const share = (m) => {
      const e = rows[m][EAST], w = rows[m][WEST];
      return { failed: e.failed / (e.requests + w.requests), west: w.requests / (e.requests + w.requests), e, w };
    };
    for (const m of [T0, T0 + 60]) { // with <retry count="1"> on >= 500: 1/2 x 1/2 end failed on East US
      const x = share(m);
      assert.ok(Math.abs(x.failed - 0.25) < 0.01 && Math.abs(x.west - 0.75) < 0.01, JSON.stringify(x));
      assert.equal(x.e.failed, x.e.requests, 'what ends on East US failed');
      assert.equal(x.w.failed, 0);
    }
    for (const m of [T0 + 180]) { // without it: half of them
      const x = share(m);
      assert.ok(Math.abs(x.failed - 0.5) < 0.01 && Math.abs(x.west - 0.5) < 0.01, JSON.stringify(x));
    }
  } finally { await s.close(); }
});

test('clock rate: R virtual seconds per wall second; GET reports it; bad rates are refused', async () => {
  const s = await session(fastScenario((d) => { delete d.clock; return d; }));
  try {
    const c0 = await s.sim.clock();
    assert.equal(c0.rate, 1);
    assert.equal(c0.frozen, false);
    const set = await s.sim.clock({ rate: 120 });
    assert.equal(set.rate, 120);
    const w0 = Date.now();
    const a = await s.sim.clock();
    const w1 = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    const w2 = Date.now();
    const b = await s.sim.clock();
    const w3 = Date.now();
    const dv = b.now_ms - a.now_ms;
    // the wall time between the two readings lies between (w2 - w1) and (w3 - w0)
    assert.ok(dv >= 120 * (w2 - w1) - 50 && dv <= 120 * (w3 - w0) + 50, `${dv} ms virtual in ${w2 - w1}..${w3 - w0} ms wall`);
    const frozen = await s.sim.clock({ freeze: true, rate: 1 });
    assert.equal(frozen.frozen, true);
    for (const [body, re] of [[{ rate: 0 }, /rate must be a number greater than 0 and at most 3600/],
      [{ rate: 3601 }, /at most 3600/], [{ rate: 'fast' }, /rate must be a number/], [{ speed: 2 }, /unknown member 'speed'/]]) {
      const r = await s.control('POST', '/_sim/clock', body);
      assert.equal(r.status, 400);
      assert.match(r.body.error.message, re);
    }
  } finally { await s.close(); }
});

test('every answer carries Date from the virtual clock (ARM, Entra, Logs query API, control)', async () => {
  const s = await session();
  try {
    const want = 'Mon, 30 Nov 2026 06:02:00 GMT';
    assert.equal((await s.arm('GET', '/backends/aoai-pool')).headers.get('date'), want);
    assert.equal((await s.arm('GET', '/backends/nope')).headers.get('date'), want, 'errors too');
    const tok = await fetch(`${s.sim.simUrl}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.contributor.id,
        client_secret: DEMO.contributor.secret, scope: 'https://management.azure.com/.default' }) });
    assert.equal(tok.headers.get('date'), want);
    const q = await fetch(`${s.sim.simUrl}/v1/workspaces/${CUSTOMER}/query`, { method: 'POST', body: '{}' });
    assert.equal(q.headers.get('date'), want);
    assert.equal((await s.control('GET', '/_sim/clock')).headers.get('date'), want);
    await s.sim.clock({ advance_s: 86400 + 3661 });
    assert.equal((await s.control('GET', '/_sim/faults')).headers.get('date'), 'Tue, 01 Dec 2026 07:03:01 GMT');
  } finally { await s.close(); }
});

test('ingestion delay: recent Log Analytics rows and Monitor points are not returned yet', async () => {
  const s = await session();
  try {
    await s.sim.clock({ advance_s: 600 }); // 06:12
    const now = T0 + 600;
    let rows = await s.minutes(now - 600, now);
    assert.equal(Math.max(...Object.keys(rows).map(Number)), now - 60);
    const ing = await s.control('POST', '/_sim/ingestion', { logs_delay_s: 300, metrics_delay_s: 180 });
    assert.deepEqual(ing.body, { logs_delay_s: 300, metrics_delay_s: 180 });
    assert.deepEqual((await s.control('GET', '/_sim/ingestion')).body, ing.body);
    rows = await s.minutes(now - 600, now);
    assert.equal(Math.max(...Object.keys(rows).map(Number)), now - 360, 'rows newer than now - 5 min are not in yet');
    const r = await fetch(`${s.sim.url}${SVC}/providers/Microsoft.Insights/metrics?api-version=2024-02-01&metricnames=Requests&aggregation=Total&interval=PT1M&timespan=${iso(now - 600)}/${iso(now)}`,
      { headers: { authorization: `Bearer ${await armToken(s)}` } });
    const data = (await r.json()).value[0].timeseries[0].data;
    assert.equal(data.length, 10);
    data.forEach((p, i) => assert.equal('total' in p, i < 7, `${p.timeStamp}: points of the last 3 minutes have no value yet`));
    for (const [body, re] of [[{ logs_delay_s: -1 }, /0 to 3600/], [{ logs_delay_s: 3601 }, /0 to 3600/],
      [{ metrics_delay_s: 1.5 }, /integers/], [{ delay: 5 }, /unknown member/]]) {
      const bad = await s.control('POST', '/_sim/ingestion', body);
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, re);
    }
    assert.deepEqual((await s.control('GET', '/_sim/ingestion')).body, ing.body, 'a bad request changes nothing');
  } finally { await s.close(); }
});

test('faults control route: list, clear, specific errors; a scenario may carry them; bad ones stop the start', async () => {
  const s = await session(fastScenario((d) => { d.faults = [{ backend_id: WEST, kind: 'timeout', minutes: 2 }]; return d; }));
  try {
    let list = (await s.control('GET', '/_sim/faults')).body.backend_faults;
    assert.deepEqual(list, [{ id: list[0].id, backend_id: WEST, kind: 'timeout', from: iso(T0), until: iso(T0 + 120) }]);
    const add = await s.control('POST', '/_sim/faults', { backend_id: EAST, kind: '429', minutes: 1 });
    assert.equal(add.status, 201);
    assert.equal(add.body.from, iso(T0), 'from defaults to the virtual now');
    for (const [body, re] of [
      [{ backend_id: EAST, kind: '500', minutes: 1 }, /kind must be "5xx", "429" or "timeout"/],
      [{ backend_id: EAST, kind: '5xx' }, /exactly one of until \(ISO 8601\) and minutes/],
      [{ backend_id: EAST, kind: '5xx', minutes: 1, until: iso(T0 + 60) }, /exactly one of until/],
      [{ backend_id: EAST, kind: '5xx', until: iso(T0 - 60) }, /until must be after from/],
      [{ backend_id: EAST, kind: '5xx', minutes: 0 }, /minutes must be a number greater than 0/],
      [{ backend_id: EAST, kind: '5xx', from: 'yesterday', minutes: 1 }, /from must be an ISO 8601/],
      [{ backend_id: 'a/b', kind: '5xx', minutes: 1 }, /backend_id must be a backend name/],
      [{ backend_id: EAST, kind: '5xx', minutes: 1, color: 'red' }, /unknown member 'color'/]]) {
      const r = await s.control('POST', '/_sim/faults', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, re);
    }
    assert.equal((await s.control('GET', '/_sim/faults')).body.backend_faults.length, 2, 'bad requests changed nothing');
    assert.equal((await s.control('DELETE', '/_sim/faults')).status, 204);
    list = (await s.control('GET', '/_sim/faults')).body.backend_faults;
    assert.deepEqual(list, []);
  } finally { await s.close(); }
  // a bad fault in a scenario: apim-sim does not start, and says which
  const tmp = tmpDir('aigw-routing-');
  try {
    const file = join(tmp.dir, 'bad.json');
    writeFileSync(file, JSON.stringify(fastScenario((d) => { d.faults = [{ backend_id: EAST, kind: 'flood', minutes: 1 }]; return d; })));
    const r = spawnSync(APIM_SIM_BIN, ['--port', '0', '--scenario', file], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /faults\[0\].*kind must be "5xx", "429" or "timeout"/);
  } finally { tmp.cleanup(); }
});
