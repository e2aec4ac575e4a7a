// fidelity: docs/fidelity.md "Operations the client calls" stays in step with the client. Every
// row names a real operation of the vendored specs (operationId, version, method and path
// template); a session drives every tool and --check through the spec gate against the demo
// scenario, and every operation the client called is a row naming that tool, and every row is
// called by one of the tools it names. (The harness also fails any e2e test in which the client
// calls an operation that has no row.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, simEnv, connect, tmpDir, checkSanitizers, sanitizerEnv, documentedOperations, AIGW_BIN, SOURCE_DIR, DEMO } from './lib/harness.mjs';
import { loadSpecs, WAIVERS } from './lib/spec_gate.mjs';

after(checkSanitizers);

const SERVICE = '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ApiManagement/service/{serviceName}';
const request = (op) => `${op.method} ${op.template.replace(SERVICE, '{service}')}`;

test('every row of "Operations the client calls" is an operation of the vendored specs', async () => {
  const specs = await loadSpecs();
  const rows = documentedOperations();
  assert.ok(rows.length >= 20, `${rows.length} rows`);
  const keys = new Set();
  for (const r of rows) {
    const key = `${r.operationId} ${r.version}`;
    assert.ok(!keys.has(key), `${key} has one row`);
    keys.add(key);
    const ops = specs.operations.filter((o) => o.operationId === r.operationId && o.version === r.version && !o.preview === !/preview/i.test(r.version));
    assert.ok(ops.length >= 1, `${key} is in the vendored specs`);
    assert.ok(ops.some((o) => `\`${request(o)}\`` === r.request), `${key}: request column ${r.request}, spec ${ops.map(request).join(' | ')}`);
    assert.ok(r.tools.length > 0 && r.role, `${key} names its tools and role`);
  }
});

test('the spec gate section names every waiver the gate applies', () => {
  const doc = readFileSync(join(SOURCE_DIR, 'docs/fidelity.md'), 'utf8');
  for (const w of WAIVERS) assert.ok(doc.includes(`\`${w.id}\``), `docs/fidelity.md names the waiver ${w.id}`);
});

test('every tool and --check call exactly the operations the table gives them', { timeout: 240000 }, async () => {
  const sim = await startSim([], { documented: false }); // this test reports missing rows itself, by tool
  const t = tmpDir('aigw-fidelity-');
  const seen = new Map(); // "operationId version" -> Set of tools
  const note = (tool, from) => {
    for (const o of sim.gate.operations.slice(from).filter((x) => x.client)) {
      const k = `${o.operationId} ${o.version}`;
      if (!seen.has(k)) seen.set(k, new Set());
      seen.get(k).add(tool);
    }
  };
  const s = await connect({ env: { ...simEnv(sim), AIGW_AUDIT_LOG: join(t.dir, 'audit.jsonl'), AIGW_DRILL_SPEEDUP: '60' } });
  const call = async (name, args = {}) => {
    const from = sim.gate.operations.length;
    const r = await s.client.callTool({ name, arguments: args });
    assert.ok(!r.isError, `${name} ${JSON.stringify(args)}: ${r.content[0].text}`);
    note(name, from);
    return r.structuredContent;
  };
  try {
    await call('list_apis');
    const api = await call('get_policy', { api_id: 'aoai-completions' });
    const product = await call('get_policy', { api_id: 'aoai-completions', scope: 'product', product_id: 'free-tier' });
    const global = await call('get_policy', { api_id: 'aoai-completions', scope: 'global' });
    await call('get_policy', { scope: 'operation', api_id: 'aoai-completions', operation_id: 'embeddings' });
    const edit = (xml) => xml.replace('</inbound>', '<set-header name="x-fidelity" exists-action="override"><value>1</value></set-header></inbound>');
    for (const [args, xml] of [[{ api_id: 'aoai-completions' }, api.policy_xml], [{ api_id: 'aoai-completions', scope: 'product', product_id: 'free-tier' }, product.policy_xml],
      [{ api_id: 'aoai-completions', scope: 'global' }, global.policy_xml],
      [{ scope: 'operation', api_id: 'aoai-completions', operation_id: 'embeddings' }, '<policies><inbound><base /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>']]) {
      const done = await call('apply_policy', { ...args, policy_xml: args.operation_id ? xml : edit(xml) });
      await call('revert_change', { change_id: done.change_id });
    }
    await call('get_backend_pool', { api_id: 'aoai-completions' });
    let done = await call('update_backend_pool', { api_id: 'aoai-completions', backends: [{ backend_id: 'westeurope-aoai', weight: 60 }] });
    await call('revert_change', { change_id: done.change_id });
    done = await call('update_backend_pool', { api_id: 'legacy-chat', backends: [{ backend_id: 'eastus-aoai', priority: 1 }] });
    await call('revert_change', { change_id: done.change_id });
    // an API without a policy: apply_policy creates one, revert_change deletes it
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.contributor.id,
      client_secret: DEMO.contributor.secret, scope: 'https://management.azure.com/.default' });
    const tok = (await (await fetch(`${sim.url}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body: form })).json()).access_token;
    const svc = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
    const del = await fetch(`${sim.url}${svc}/apis/legacy-chat/policies/policy?api-version=2024-05-01`,
      { method: 'DELETE', headers: { authorization: `Bearer ${tok}`, 'if-match': '*' } });
    assert.equal(del.status, 200);
    const created = await call('apply_policy', { api_id: 'legacy-chat', policy_xml: edit('<policies><inbound><base /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>') });
    await call('revert_change', { change_id: created.change_id });
    await call('list_subscriptions', { product_id: 'aoai' });
    await call('list_subscriptions');
    done = await call('update_quota', { subscription_id: 'growth', tpm: 100000 });
    await call('revert_change', { change_id: done.change_id });
    await call('simulate_quota', { subscription_id: 'growth', tpm: 100000 });
    // shadow mode on a diagnostic setting without GatewayLlmLogs enables them; revert_change restores it
    const diag = `${sim.url}${svc}/providers/Microsoft.Insights/diagnosticSettings/to-log-analytics?api-version=2021-05-01-preview`;
    const setting = await (await fetch(diag, { headers: { authorization: `Bearer ${tok}` } })).json();
    setting.properties.logs = setting.properties.logs.filter((l) => l.category !== 'GatewayLlmLogs');
    const off = await fetch(diag, { method: 'PUT', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: setting.properties }) });
    assert.equal(off.status, 200, await off.text());
    done = await call('update_quota', { subscription_id: 'growth', tpm: 100000, mode: 'shadow' });
    await call('revert_change', { change_id: done.change_id });
    await call('get_metrics', { api_id: 'aoai-completions', since: '1h' });
    await sim.faults({ rules: [{ path_contains: '/providers/Microsoft.Insights/metrics', status: 403 }] });
    await call('get_metrics', { api_id: 'aoai-completions', since: '6h', group_by: 'time' }); // the series then comes from reports byTime
    await sim.clearFaults();
    // a 1-minute failover drill on the gateway's clock, 60 times faster here (AIGW_DRILL_SPEEDUP below)
    await call('rehearse_failover', { api_id: 'aoai-completions', backend_id: 'eastus-aoai', minutes: 1, dry_run: true });
    await sim.clock({ rate: 60 });
    const drill = await call('rehearse_failover', { api_id: 'aoai-completions', backend_id: 'eastus-aoai', minutes: 1 });
    assert.equal(drill.restored, true);
    await sim.clock({ rate: 1 });
  } finally {
    await s.close();
  }
  const from = sim.gate.operations.length;
  const check = await new Promise((resolve) => {
    // asynchronous: the gate runs in this process
    const c = execFile(AIGW_BIN, ['--check'], { env: { PATH: process.env.PATH, HOME: t.dir, ...sanitizerEnv(), ...simEnv(sim) } },
      (e, stdout, stderr) => resolve({ code: c.exitCode, stderr }));
  });
  assert.equal(check.code, 0, check.stderr);
  note('--check', from);
  await sim.stop();
  t.cleanup();

  console.log(`operations the client called, by tool:\n${[...seen].map(([k, v]) => `  ${k}: ${[...v].join(', ')}`).join('\n')}`);
  const rows = documentedOperations();
  const byKey = new Map(rows.map((r) => [`${r.operationId} ${r.version}`, r]));
  const problems = [];
  for (const [k, tools] of seen) {
    const r = byKey.get(k);
    if (!r) { problems.push(`${k}: called by ${[...tools].join(', ')}, but has no row`); continue; }
    for (const tool of tools) if (!r.tools.includes(tool)) problems.push(`${k}: called by ${tool}, which its row does not name`);
  }
  for (const [k, r] of byKey) {
    if (!r.tools.some((tool) => seen.get(k)?.has(tool))) problems.push(`${k}: its row names ${r.tools.join(', ')}, none of which called it`);
  }
  assert.deepEqual(problems, []);
});
