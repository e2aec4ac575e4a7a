// scale: large gateways through the official MCP SDK client against apim-sim (issue 15) — cursor
// paging of list_subscriptions covers every row exactly once and the text holds the same rows as
// structuredContent; at 5,000 subscriptions every result stays under 100 KB; filters (match, state,
// product_id) and the summary; cursors are refused for other filters; list_apis pages; get_metrics
// keeps the top subscriptions by requests and sums the rest into one row.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, simEnv, connect, tmpDir, checkSanitizers } from './lib/harness.mjs';
import { largeScenario } from '../../bench/lib/scenario.mjs';

after(checkSanitizers);

async function session(scenario) {
  const tmp = tmpDir('aigw-scale-');
  const args = [];
  if (scenario) {
    const file = join(tmp.dir, 'scenario.json');
    writeFileSync(file, JSON.stringify(scenario));
    args.push('--scenario', file);
  }
  const sim = await startSim(args);
  const s = await connect({ env: simEnv(sim, { AIGW_AUDIT_LOG: join(tmp.dir, 'audit.jsonl') }) });
  await s.client.listTools(); // caches the output schemas: callTool validates structuredContent
  return { sim, client: s.client, async close() { await s.close(); await sim.stop(); tmp.cleanup(); } };
}

async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  assert.ok(!r.isError, r.content?.[0]?.text);
  return r;
}
const bytes = (r) => Buffer.byteLength(JSON.stringify(r));
// The ids of the text table's rows (first cell of every "a | b | ..." line after the header).
const textIds = (text) => text.split('\n').filter((l) => / \| /.test(l) && !/^id \| /.test(l) && !/^(by |highest)/.test(l))
  .map((l) => l.split(' | ')[0]);

test('list_subscriptions pages by cursor over 1,204 subscriptions: every row exactly once, text = structured rows', async () => {
  const s = await session(largeScenario({ subscriptions: 1204 }));
  try {
    const seen = [];
    let cursor, pages = 0, total;
    do {
      const r = await call(s.client, 'list_subscriptions', { limit: 500, ...(cursor ? { cursor } : {}) });
      const sc = r.structuredContent;
      total = sc.total;
      assert.ok(sc.subscriptions.length >= 1 && sc.subscriptions.length <= 500);
      assert.deepEqual(textIds(r.content[0].text), sc.subscriptions.map((x) => x.id), 'text and structuredContent hold the same rows');
      assert.ok(bytes(r) <= 100 * 1024, `page ${pages} is ${bytes(r)} bytes`);
      seen.push(...sc.subscriptions.map((x) => x.id));
      cursor = sc.next_cursor;
      if (cursor) assert.match(r.content[0].text, new RegExp(`cursor=${cursor}`));
      pages++;
    } while (cursor && pages < 50);
    assert.equal(total, 1204);
    assert.equal(seen.length, 1204, 'every row once');
    assert.equal(new Set(seen).size, 1204, 'no row twice');
    assert.deepEqual(seen, [...seen].sort(), 'id order');
    assert.ok(pages >= 3, `the byte budget ends pages before 500 rows (${pages} pages)`);
    console.log(`1,204 subscriptions: ${pages} pages with limit 500`);

    // default page: 100 rows, with a cursor; the summary covers every row
    const first = (await call(s.client, 'list_subscriptions', {})).structuredContent;
    assert.equal(first.subscriptions.length, 100);
    assert.ok(first.next_cursor);
    const byProduct = first.summary.by_product;
    assert.equal(Object.values(byProduct).reduce((a, b) => a + b, 0), 1204);
    assert.equal(byProduct['product:product-00'], 60);
    assert.equal(byProduct['(others)'], 4, 'the 20 biggest products, the rest summed');
    assert.equal(Object.values(first.summary.by_limit_source).reduce((a, b) => a + b, 0), 1204);
    assert.equal(first.summary.by_limit_source['product policy, <when> branch'], 20 * 50 + 3);
    assert.equal(first.summary.by_limit_source['product policy, <otherwise>'], 20 * 10);
    assert.deepEqual(first.summary.top_tpm[0], { id: 'prod-critical', tpm: 300000 });
    assert.equal(first.summary.top_tpm.length, 10);

    // filters: match (id or display name, case-insensitive), state, product_id
    const m = (await call(s.client, 'list_subscriptions', { match: 'PRODUCT-03-TEAM-1', limit: 500 })).structuredContent;
    assert.deepEqual(m.subscriptions.map((x) => x.id), ['product-03-team-1', ...Array.from({ length: 10 }, (_, i) => `product-03-team-1${i}`)]);
    assert.equal(m.total, 11);
    assert.equal(m.subscriptions.find((x) => x.id === 'product-03-team-12').tpm, 13000);
    const byName = (await call(s.client, 'list_subscriptions', { match: 'team 7 of product 19' })).structuredContent;
    assert.deepEqual(byName.subscriptions.map((x) => x.id), ['product-19-team-7']);
    const suspended = (await call(s.client, 'list_subscriptions', { state: 'suspended', product_id: 'product-01', limit: 500 })).structuredContent;
    assert.equal(suspended.total, 6);
    assert.ok(suspended.subscriptions.every((x) => x.state === 'suspended' && x.scope_id === 'product-01'));
    assert.equal(suspended.next_cursor, null);

    // a cursor belongs to its filters; a made-up one is refused
    const other = await s.client.callTool({ name: 'list_subscriptions', arguments: { cursor: first.next_cursor, match: 'team' } });
    assert.equal(other.isError, true);
    assert.match(other.content[0].text, /other filters/);
    const bogus = await s.client.callTool({ name: 'list_subscriptions', arguments: { cursor: 'not-a-cursor' } });
    assert.equal(bogus.isError, true);
    assert.match(bogus.content[0].text, /cursor 'not-a-cursor' is not one this tool gave/);
    await assert.rejects(s.client.callTool({ name: 'list_subscriptions', arguments: { limit: 501 } }), /limit must be at most 500/);
  } finally {
    await s.close();
  }
});

test('at 5,000 subscriptions every list_subscriptions result stays under 100 KB', async () => {
  const s = await session(largeScenario({ subscriptions: 5000 }));
  try {
    const sizes = {};
    for (const [name, args] of [['default', {}], ['limit 500', { limit: 500 }], ['match', { match: 'team-4' }],
      ['one product', { product_id: 'product-07', limit: 500 }]]) {
      const r = await call(s.client, 'list_subscriptions', args);
      sizes[name] = bytes(r);
      assert.ok(sizes[name] <= 100 * 1024, `${name}: ${sizes[name]} bytes`);
      assert.deepEqual(textIds(r.content[0].text), r.structuredContent.subscriptions.map((x) => x.id));
    }
    const all = (await call(s.client, 'list_subscriptions', {})).structuredContent;
    assert.equal(all.total, 5000);
    assert.equal(Object.values(all.summary.by_product).reduce((a, b) => a + b, 0), 5000);
    console.log(`5,000 subscriptions, result bytes: ${JSON.stringify(sizes)}`);
  } finally {
    await s.close();
  }
});

test('when the pages fetched together do not add up to the first page\'s count, the list is read again by nextLink', async () => {
  const s = await session();
  try {
    // the first page claims 10 subscriptions and holds a ghost: the pages asked for at once
    // ($top=1, $skip=1..9) hold only the 3 real ones after it, so the tool must list again
    const svc = '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-aigw-demo/providers/' +
      'Microsoft.ApiManagement/service/apim-aigw-demo';
    const body = JSON.stringify({ value: [{ id: `${svc}/subscriptions/ghost`, name: 'ghost',
      properties: { displayName: 'Ghost', scope: `${svc}/products/aoai`, state: 'active' } }], count: 10,
    nextLink: `${s.sim.url}${svc}/subscriptions?api-version=2024-05-01&%24skip=1` });
    await s.sim.faults({ rules: [{ method: 'GET', path_contains: 'apim-aigw-demo/subscriptions', status: 200, body,
      headers: { 'content-type': 'application/json' }, count: 1 }] });
    const r = (await call(s.client, 'list_subscriptions', {})).structuredContent;
    assert.deepEqual(r.subscriptions.map((x) => x.id), ['free-experiments', 'growth', 'prod-critical', 'search']);
    assert.equal(r.total, 4);
  } finally {
    await s.close();
  }
});

test('list_apis pages by cursor and filters by match', async () => {
  const s = await session();
  try {
    const p1 = await call(s.client, 'list_apis', { limit: 1 });
    assert.deepEqual(p1.structuredContent.apis.map((a) => a.id), ['aoai-completions']);
    assert.equal(p1.structuredContent.total, 2);
    assert.deepEqual(textIds(p1.content[0].text), ['aoai-completions']);
    const p2 = (await call(s.client, 'list_apis', { limit: 1, cursor: p1.structuredContent.next_cursor })).structuredContent;
    assert.deepEqual(p2.apis.map((a) => a.id), ['legacy-chat']);
    assert.equal(p2.next_cursor, null);
    assert.deepEqual(p2.apis[0].products, ['aoai']);
    const m = (await call(s.client, 'list_apis', { match: 'LEGACY' })).structuredContent;
    assert.deepEqual(m.apis.map((a) => [a.id, a.backend_id]), [['legacy-chat', 'legacy-aoai']]);
  } finally {
    await s.close();
  }
});

test('get_metrics keeps the top subscriptions by requests and sums the rest into one row', async () => {
  const sc = largeScenario({ subscriptions: 64, products: 2 });
  // demand for 30 more teams of product-00 (which includes aoai-completions), each a different size
  for (let i = 0; i < 30; i++) sc.traffic.demand_tpm[`product-00-team-${i}`] = 1000 * (i + 1);
  const s = await session(sc);
  try {
    const full = (await call(s.client, 'get_metrics', { api_id: 'aoai-completions', since: '1h', top: 20 })).structuredContent;
    const r = await call(s.client, 'get_metrics', { api_id: 'aoai-completions', since: '1h', top: 5 });
    const top = r.structuredContent;
    assert.equal(top.by_subscription.length, 6);
    const others = top.by_subscription[5];
    assert.equal(others.subscription_id, null);
    assert.equal(others.others, top.subscriptions_total - 5);
    assert.ok(top.subscriptions_total >= 30);
    const sum = (rows, k) => rows.reduce((a, x) => a + (x[k] ?? 0), 0);
    for (const k of ['requests', 'throttled']) assert.equal(sum(top.by_subscription, k), sum(full.by_subscription, k), k);
    const kept = top.by_subscription.slice(0, 5);
    assert.ok(Math.min(...kept.map((x) => x.requests)) >= Math.max(...full.by_subscription.slice(0, -1)
      .filter((x) => !kept.some((k) => k.subscription_id === x.subscription_id)).map((x) => x.requests)),
    'the kept rows have the most requests');
    assert.match(r.content[0].text, new RegExp(`\\n\\(${others.others} others\\) \\| ${others.requests} \\|`));
    for (const x of kept) assert.match(r.content[0].text, new RegExp(`\\n${x.subscription_id} \\| ${x.requests} \\|`));
  } finally {
    await s.close();
  }
});
