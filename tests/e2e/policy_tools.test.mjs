// policy_tools: list_apis, get_policy, apply_policy and revert_change end to end through the MCP
// SDK client against apim-sim — dry run, elicitation accept/decline, local and APIM validation
// errors, ETag conflicts, read-only mode, the journal, revert, and byte-identical rawxml.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startSim, simEnv, connect, checkSanitizers, DEMO } from './lib/harness.mjs';

after(checkSanitizers);

const SERVICE = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
  `/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
const API_POLICY = `${SERVICE}/apis/aoai-completions/policies/policy`;
const PUT_POLICY_ROUTE = 'PUT /subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{}/apis/{}/policies/{}';

// Starts a sim and the server; journal in a fresh temp dir (a sub-directory that does not exist yet).
async function setup({ args = [], capabilities = {}, env = {} } = {}) {
  const sim = await startSim();
  const dir = mkdtempSync(join(tmpdir(), 'aigw-journal-'));
  const journal = join(dir, 'state', 'audit.jsonl');
  const s = await connect({ env: { ...simEnv(sim), AIGW_AUDIT_LOG: journal, ...env }, args, capabilities });
  const call = (name, args2 = {}) => s.client.callTool({ name, arguments: args2 });
  return {
    sim, s, journal, call,
    records: () => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []),
    policyValue: async (path = API_POLICY) => (await sim.state(path)).resource.properties.value,
    async close() { await s.close(); await sim.stop(); },
  };
}

const puts = async (sim) => (await sim.counters()).routes[PUT_POLICY_ROUTE] ?? 0;

// The demo policy with the semantic cache at score-threshold 0.05 (a distance: "similarity 0.95")
// and a one-hour TTL.
const cached = (xml) => xml.replace('score-threshold="0.8"', 'score-threshold="0.05"').replace('duration="120"', 'duration="3600"');
const NOT_ALIKE = /score-threshold 0\.[0-9]+ is above 0\.2: it is a distance .* serves cached answers to prompts that are not alike/;

test('list_apis names each API, its backend, pool and products in a few round trips', async () => {
  const t = await setup();
  try {
    await t.sim.resetCounters();
    const r = await t.call('list_apis');
    assert.ok(!r.isError, r.content[0].text);
    const byId = Object.fromEntries(r.structuredContent.apis.map((a) => [a.id, a]));
    assert.deepEqual(byId['aoai-completions'], {
      id: 'aoai-completions', display_name: 'Azure OpenAI completions', path: 'openai',
      backend_id: 'aoai-pool', pool_id: 'aoai-pool', products: ['aoai', 'free-tier'],
    });
    assert.equal(byId['legacy-chat'].backend_id, 'legacy-aoai');
    assert.equal(byId['legacy-chat'].pool_id, null);
    assert.deepEqual(byId['legacy-chat'].products, ['aoai']);
    assert.match(r.content[0].text, /aoai-completions \| \/openai \| aoai-pool \| aoai-pool \| aoai,free-tier/);
    // one GET per API policy, per product's API list and per distinct backend; nothing else per API
    const reqs = (await t.sim.requests()).filter((q) => q.path.startsWith('/subscriptions/'));
    const count = (re) => reqs.filter((q) => re.test(q.path)).length;
    assert.equal(count(/\/apis\/[^/]+\/policies\/policy$/), 2);
    assert.equal(count(/\/products\/[^/]+\/apis$/), 2);
    assert.equal(count(/\/backends\/[^/]+$/), 2);
    assert.ok(reqs.every((q) => q.method === 'GET'));

    // the per-API and per-product reads go out together: with added latency they overlap
    await t.sim.resetCounters();
    await t.sim.faults({ latency_ms: 40, rules: [] });
    await t.call('list_apis');
    await t.sim.clearFaults();
    const batch = (await t.sim.requests()).filter((q) => /\/apis\/[^/]+\/policies\/policy$|\/products\/[^/]+\/apis$/.test(q.path));
    assert.equal(batch.length, 4);
    const lastStart = Math.max(...batch.map((q) => q.start_us));
    const firstEnd = Math.min(...batch.map((q) => q.end_us));
    assert.ok(lastStart < firstEnd, `batch requests did not overlap: ${JSON.stringify(batch)}`);
  } finally {
    await t.close();
  }
});

test('get_policy returns the raw XML, its ETag and a summary of what it does', async () => {
  const t = await setup();
  try {
    const r = await t.call('get_policy', { api_id: 'aoai-completions' });
    assert.ok(!r.isError, r.content[0].text);
    const st = await t.sim.state(API_POLICY);
    assert.equal(r.structuredContent.policy_xml, st.resource.properties.value);
    assert.equal(r.structuredContent.etag.replaceAll('"', ''), st.etag.replaceAll('"', ''));
    const sum = r.structuredContent.summary;
    assert.deepEqual(sum.backends, [{ backend_id: 'aoai-pool', base_url: null, applies_to: 'all' }]);
    const { threshold_note: note, ...cache } = sum.semantic_cache;
    assert.deepEqual(cache, { score_threshold: 0.8, embeddings_backend_id: 'embeddings-backend', duration: 120 });
    // a distance: 0.8 (the 2024 lab's value) is loose, and the summary says so
    assert.match(note, /distance: lower values require higher similarity.*above 0\.2.*not alike.*2024 AI-Gateway lab.*predate/);
    assert.deepEqual(sum.token_metrics, ['openai']);
    assert.equal(sum.retries[0].count, 1);
    assert.deepEqual(sum.sections_without_base, ['backend']);
    assert.match(r.content[0].text, /semantic cache: score-threshold 0.8, duration 120 s \(score-threshold is a distance/);

    const p = await t.call('get_policy', { api_id: 'aoai-completions', scope: 'product', product_id: 'aoai' });
    const limits = p.structuredContent.summary.token_limits;
    assert.deepEqual(limits.map((l) => [l.tokens_per_minute, l.applies_to]), [
      [200000, 'subscription_id == growth'], [100000, 'subscription_id == search'],
      [300000, 'subscription_id == prod-critical'], [50000, 'otherwise']]);
    assert.equal(p.structuredContent.summary.rate_limits[0].calls, 600);

    const missing = await t.call('get_policy', { api_id: 'no-such-api' });
    assert.ok(missing.isError);
    assert.match(missing.content[0].text, /apis\/no-such-api does not exist/);
    const none = await t.call('get_policy', { api_id: 'aoai-completions', scope: 'operation', operation_id: 'embeddings' });
    assert.ok(!none.isError);
    assert.equal(none.structuredContent.exists, false);
  } finally {
    await t.close();
  }
});

test('semantic cache 0.05 / 1 h: dry run, apply, APIM rejects a bad one, revert; journal holds both', async () => {
  const t = await setup();
  try {
    const original = await t.policyValue();
    const got = await t.call('get_policy', { api_id: 'aoai-completions' });
    const xml = cached(got.structuredContent.policy_xml);

    await t.sim.resetCounters();
    const dry = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: xml, dry_run: true });
    assert.ok(!dry.isError, dry.content[0].text);
    assert.equal(dry.structuredContent.applied, false);
    assert.equal(dry.structuredContent.change_id, null);
    assert.match(dry.structuredContent.diff, /^-.*score-threshold="0.8"/m);
    assert.match(dry.structuredContent.diff, /^\+.*score-threshold="0.05"/m);
    assert.ok(!dry.structuredContent.warnings.some((w) => NOT_ALIKE.test(w)), dry.structuredContent.warnings.join('\n'));
    assert.match(dry.structuredContent.diff, /^\+.*duration="3600"/m);
    assert.equal(dry.structuredContent.before, original);
    assert.equal(dry.structuredContent.after, xml);
    assert.match(dry.content[0].text, /Dry run: nothing was written/);
    assert.equal(await puts(t.sim), 0);
    assert.equal(await t.policyValue(), original);
    assert.equal(t.records().length, 0);

    const applied = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: xml });
    assert.ok(!applied.isError, applied.content[0].text);
    assert.equal(applied.structuredContent.applied, true);
    assert.match(applied.structuredContent.change_id, /^[0-9a-f-]{36}$/);
    assert.equal(await t.policyValue(), xml);
    const back = await t.call('get_policy', { api_id: 'aoai-completions' });
    const { threshold_note: note, ...cache } = back.structuredContent.summary.semantic_cache;
    assert.deepEqual(cache, { score_threshold: 0.05, embeddings_backend_id: 'embeddings-backend', duration: 3600 });
    assert.doesNotMatch(note, /above 0\.2/);

    // a loose threshold (a distance above 0.2) is written only with a warning saying why
    const loose = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: xml.replace('score-threshold="0.05"', 'score-threshold="0.3"'), dry_run: true });
    assert.ok(loose.structuredContent.warnings.some((w) => NOT_ALIKE.test(w)), loose.structuredContent.warnings.join('\n'));

    // accepted by our local check, refused by APIM (raw '<' in an element's expression)
    const bad = xml.replace('<base />', '<base />\n        <set-body>@(1 < 2 ? "a" : "b")</set-body>');
    const rejected = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: bad });
    assert.ok(rejected.isError);
    assert.match(rejected.content[0].text, /APIM rejected the policy of API aoai-completions \(ValidationError/);
    assert.match(rejected.content[0].text, /\n- representation: .*line \d+, column \d+/);
    assert.equal(await t.policyValue(), xml);

    const reverted = await t.call('revert_change', { change_id: applied.structuredContent.change_id });
    assert.ok(!reverted.isError, reverted.content[0].text);
    assert.equal(reverted.structuredContent.applied, true);
    assert.equal(reverted.structuredContent.reverted_change_id, applied.structuredContent.change_id);
    assert.notEqual(reverted.structuredContent.change_id, applied.structuredContent.change_id);
    assert.equal(await t.policyValue(), original);

    const recs = t.records();
    assert.equal(recs.length, 2);
    assert.equal(statSync(t.journal).mode & 0o777, 0o600);
    assert.equal(statSync(join(t.journal, '..')).mode & 0o777, 0o700);
    assert.equal(recs[0].change_id, applied.structuredContent.change_id);
    assert.equal(recs[0].tool, 'apply_policy');
    assert.equal(recs[0].principal, DEMO.contributor.id);
    assert.equal(recs[0].arguments.policy_xml, xml);
    assert.equal(recs[0].resources[0].path, 'apis/aoai-completions/policies/policy');
    assert.equal(recs[0].resources[0].before_text, original);
    assert.equal(recs[0].resources[0].after_text, xml);
    assert.ok(recs[0].resources[0].etag_before && recs[0].resources[0].etag_after);
    assert.ok(!JSON.stringify(recs).includes(DEMO.contributor.secret));
    assert.equal(recs[1].tool, 'revert_change');
    assert.equal(recs[1].reverts, applied.structuredContent.change_id);
    assert.ok(Date.parse(recs[1].time) > 0);
  } finally {
    await t.close();
  }
});

test('a locally invalid policy is refused with line and column and nothing is sent', async () => {
  const t = await setup();
  try {
    await t.sim.resetCounters();
    const r = await t.call('apply_policy', {
      api_id: 'aoai-completions', policy_xml: '<policies>\n  <inbound>\n    <base />\n  </inbond>\n</policies>',
    });
    assert.ok(r.isError);
    assert.match(r.content[0].text, /nothing was sent: line 4, column \d+/);
    assert.equal((await t.sim.counters()).arm_requests, 0);
    const wrongRoot = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: '<policy><inbound /></policy>' });
    assert.ok(wrongRoot.isError);
    assert.match(wrongRoot.content[0].text, /policies/);
    assert.equal((await t.sim.counters()).arm_requests, 0);
    assert.equal(t.records().length, 0);
  } finally {
    await t.close();
  }
});

test('elicitation: decline writes nothing, accept applies after showing the diff', async () => {
  const t = await setup({ capabilities: { elicitation: {} } });
  try {
    const original = await t.policyValue();
    const xml = cached(original);
    const asked = [];
    let answer = 'decline';
    t.s.client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return answer === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: answer };
    });
    await t.sim.resetCounters();
    const declined = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: xml });
    assert.ok(!declined.isError, declined.content[0].text);
    assert.equal(declined.structuredContent.applied, false);
    assert.equal(declined.structuredContent.change_id, null);
    assert.match(declined.structuredContent.message, /declined.*nothing was written/);
    assert.match(asked[0], /\+.*score-threshold="0.05"/);
    assert.equal(await puts(t.sim), 0);
    assert.equal(await t.policyValue(), original);

    answer = 'cancel';
    const cancelled = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: xml });
    assert.equal(cancelled.structuredContent.applied, false);
    assert.match(cancelled.structuredContent.message, /cancelled/);

    answer = 'accept';
    const ok = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: xml });
    assert.ok(!ok.isError, ok.content[0].text);
    assert.equal(ok.structuredContent.applied, true);
    assert.equal(asked.length, 3);
    assert.equal(await t.policyValue(), xml);
    assert.equal(t.records().length, 1);

    // a dry run never asks
    await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: original, dry_run: true });
    assert.equal(asked.length, 3);
  } finally {
    await t.close();
  }
});

test('a concurrent change between read and write is a conflict that writes nothing', async () => {
  const t = await setup({ capabilities: { elicitation: {} } });
  try {
    const original = await t.policyValue();
    // The confirmation runs between the tool's GET and its PUT: change the policy right there.
    t.s.client.setRequestHandler(ElicitRequestSchema, async () => {
      await t.sim.touch(API_POLICY);
      return { action: 'accept', content: { confirm: true } };
    });
    const r = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: cached(original) });
    assert.ok(r.isError);
    assert.match(r.content[0].text, /was changed by someone else since it was read \(ETag .+\); this change is not in effect there \(checked by reading it again\)\. Read it again and retry/);
    assert.doesNotMatch(r.content[0].text, /nothing was written/, 'a 412 alone does not prove it (issue 14 item 4)');
    const now = await t.policyValue();
    assert.match(now, /concurrent edit simulated by apim-sim/);
    assert.match(now, /score-threshold="0.8"/);
    assert.equal(t.records().length, 0);
  } finally {
    await t.close();
  }
});

test('revert refuses when the resource changed since, and a created policy is deleted by revert', async () => {
  const t = await setup();
  try {
    const original = await t.policyValue();
    const applied = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: cached(original) });
    await t.sim.touch(API_POLICY);
    const touched = await t.policyValue();
    await t.sim.resetCounters();
    const r = await t.call('revert_change', { change_id: applied.structuredContent.change_id });
    assert.ok(r.isError);
    assert.match(r.content[0].text, /was changed since change .* was applied; nothing was written/);
    assert.equal(await puts(t.sim), 0);
    assert.equal(await t.policyValue(), touched);

    // changed and changed back since (new ETag, same content): the revert goes ahead
    const legacy = `${SERVICE}/apis/legacy-chat/policies/policy`;
    const l0 = await t.policyValue(legacy);
    const l1 = l0.replace('<base />', '<base />\n        <!-- one -->');
    const a1 = await t.call('apply_policy', { api_id: 'legacy-chat', policy_xml: l1 });
    const etag1 = (await t.sim.state(legacy)).etag;
    await t.call('apply_policy', { api_id: 'legacy-chat', policy_xml: l0 });
    await t.call('apply_policy', { api_id: 'legacy-chat', policy_xml: l1 });
    assert.notEqual((await t.sim.state(legacy)).etag, etag1);
    const r1 = await t.call('revert_change', { change_id: a1.structuredContent.change_id });
    assert.ok(!r1.isError, r1.content[0].text);
    assert.equal(await t.policyValue(legacy), l0);

    const unknown = await t.call('revert_change', { change_id: '00000000-0000-4000-8000-000000000000' });
    assert.ok(unknown.isError);
    assert.match(unknown.content[0].text, /no change 00000000-0000-4000-8000-000000000000 in the journal/);

    // a policy created at operation scope: revert deletes it (dry run first)
    const opPath = `${SERVICE}/apis/aoai-completions/operations/embeddings/policies/policy`;
    const opXml = '<policies>\n    <inbound>\n        <base />\n        <rate-limit calls="10" renewal-period="60" />\n    </inbound>\n    <backend>\n        <base />\n    </backend>\n    <outbound>\n        <base />\n    </outbound>\n    <on-error>\n        <base />\n    </on-error>\n</policies>';
    const created = await t.call('apply_policy', { api_id: 'aoai-completions', scope: 'operation', operation_id: 'embeddings', policy_xml: opXml });
    assert.ok(!created.isError, created.content[0].text);
    assert.equal(created.structuredContent.before, null);
    assert.equal((await t.sim.state(opPath)).resource.properties.value, opXml);
    const dry = await t.call('revert_change', { change_id: created.structuredContent.change_id, dry_run: true });
    assert.equal(dry.structuredContent.applied, false);
    assert.equal(dry.structuredContent.after, null);
    assert.match(dry.structuredContent.diff, /^-.*rate-limit calls="10"/m);
    await t.sim.state(opPath);
    const del = await t.call('revert_change', { change_id: created.structuredContent.change_id });
    assert.ok(!del.isError, del.content[0].text);
    await assert.rejects(t.sim.state(opPath), /404/);
  } finally {
    await t.close();
  }
});

test('read-only mode lists no write tool and refuses one if called', async () => {
  const t = await setup({ args: ['--read-only'] });
  try {
    const names = (await t.s.client.listTools()).tools.map((x) => x.name);
    assert.ok(names.includes('list_apis') && names.includes('get_policy'));
    assert.ok(!names.includes('apply_policy') && !names.includes('revert_change'));
    await t.sim.resetCounters();
    let refused;
    try {
      const r = await t.call('apply_policy', { api_id: 'aoai-completions', policy_xml: '<policies />' });
      refused = r.isError ? r.content[0].text : null;
    } catch (e) {
      refused = e.message;
    }
    assert.match(refused ?? '', /read-only/);
    assert.equal((await t.sim.counters()).arm_requests, 0);
  } finally {
    await t.close();
  }
});

test('a rawxml policy with raw quotes in @(...) round-trips byte for byte', async () => {
  const t = await setup();
  try {
    const raw = '<policies>\n\t<inbound>\n\t\t<base />\n\t\t<!-- team limits -->\n' +
      '\t\t<set-variable name="dep" value="@(context.Request.MatchedParameters["deployment-id"])" />\n' +
      '\t\t<choose>\n\t\t\t<when condition="@(context.Subscription.Id == "growth" && context.Request.Headers.GetValueOrDefault("x-team","") != "")">\n' +
      '\t\t\t\t<llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute=\'5000\' estimate-prompt-tokens="false" />\n' +
      '\t\t\t</when>\n\t\t</choose>\n\t\t<set-header name="x-version" exists-action="override"><value>{{aoai-api-version}}</value></set-header>\n' +
      '\t\t<set-body><![CDATA[{"a": 1 < 2}]]></set-body>\n' +
      '\t</inbound>\n\t<backend>\n\t\t<base />\n\t</backend>\n\t<outbound>\n\t\t<base />\n\t</outbound>\n\t<on-error>\n\t\t<base />\n\t</on-error>\n</policies>';
    const first = await t.call('apply_policy', { api_id: 'legacy-chat', policy_xml: raw });
    assert.ok(!first.isError, first.content[0].text);
    const got = await t.call('get_policy', { api_id: 'legacy-chat' });
    assert.equal(got.structuredContent.policy_xml, raw);
    await t.sim.resetCounters();
    const again = await t.call('apply_policy', { api_id: 'legacy-chat', policy_xml: got.structuredContent.policy_xml });
    assert.ok(!again.isError, again.content[0].text);
    assert.equal(again.structuredContent.diff, '');
    assert.equal(again.structuredContent.applied, false);
    assert.equal(again.structuredContent.before, raw);
    assert.equal(again.structuredContent.after, raw);
    assert.equal((await t.sim.counters()).routes[PUT_POLICY_ROUTE] ?? 0, 0);
    assert.equal(t.records().length, 1);
  } finally {
    await t.close();
  }
});

test('scopes, warnings in the result and the confirmation, and a reader refused with the role to ask for', async () => {
  const t = await setup({ capabilities: { elicitation: {} } });
  try {
    const asked = [];
    t.s.client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return { action: 'decline' };
    });
    const product = await t.call('get_policy', { api_id: 'aoai-completions', scope: 'product', product_id: 'free-tier' });
    const noBase = product.structuredContent.policy_xml.replace('<base />', '');
    const r = await t.call('apply_policy', { api_id: 'aoai-completions', scope: 'product', product_id: 'free-tier', policy_xml: noBase });
    assert.ok(!r.isError, r.content[0].text);
    assert.equal(r.structuredContent.applied, false);
    assert.ok(r.structuredContent.warnings.some((w) => /<inbound> has no <base \/>/.test(w)), JSON.stringify(r.structuredContent.warnings));
    assert.match(asked[0], /Warning: .*<inbound> has no <base \/>/);
    assert.match(r.content[0].text, /warning: /);

    const global = await t.call('get_policy', { api_id: 'aoai-completions', scope: 'global' });
    const g = await t.call('apply_policy', {
      api_id: 'aoai-completions', scope: 'global', dry_run: true,
      policy_xml: global.structuredContent.policy_xml.replace('<origin>*</origin>', '<origin>https://contoso.example</origin>'),
    });
    assert.equal(g.structuredContent.path, 'policies/policy');
    assert.match(g.structuredContent.diff, /^\+.*contoso\.example/m);
    const missingId = await t.call('apply_policy', { api_id: 'aoai-completions', scope: 'product', policy_xml: noBase });
    assert.ok(missingId.isError);
    assert.match(missingId.content[0].text, /scope 'product' needs product_id/);
  } finally {
    await t.close();
  }

  const reader = await setup({ env: { AZURE_CLIENT_ID: DEMO.reader.id, AZURE_CLIENT_SECRET: DEMO.reader.secret } });
  try {
    const xml = await reader.policyValue();
    const r = await reader.call('apply_policy', { api_id: 'aoai-completions', policy_xml: cached(xml) });
    assert.ok(r.isError);
    assert.match(r.content[0].text, /403.*API Management Service Contributor.*nothing was written/);
    assert.equal(await reader.policyValue(), xml);
    assert.equal(reader.records().length, 0);
  } finally {
    await reader.close();
  }
});
