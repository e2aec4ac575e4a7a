// spec_gate: the gate between the client and apim-sim (lib/spec_gate.mjs) can fail. Requests that
// break each rule class of Microsoft's vendored specs are refused with 400 NotInMicrosoftSpec
// naming the operation and the rule, and never reach apim-sim; an answer that breaks the response
// schema is replaced by 502 NotInMicrosoftSpec; every refusal is recorded, so the harness fails
// the test that caused it. Conforming requests, the exempt routes and the cited waivers pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startSim, checkSanitizers, DEMO, OFF_SPEC } from './lib/harness.mjs';
import { startGate, loadSpecs, filterTable, filterClauses, GATE_CODE } from './lib/spec_gate.mjs';

const SVC = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
const V = 'api-version=2024-05-01';
let sim, tok;

before(async () => {
  sim = await startSim();
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.contributor.id,
    client_secret: DEMO.contributor.secret, scope: 'https://management.azure.com/.default' });
  const res = await fetch(`${sim.url}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body }); // exempt: Entra
  assert.equal(res.status, 200);
  tok = (await res.json()).access_token;
});

after(async () => {
  await sim.stop(); // asserts no violation is left over
  checkSanitizers();
});

async function send(method, path, { body, headers = {}, url = sim.url } = {}) {
  const h = { authorization: `Bearer ${tok}`, ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// Asserts the gate refused: status, code, the operation and the rule in the message, and one
// recorded violation (taken, so that stop() does not fail this test for a refusal it wanted).
function refused(r, { status = 400, operationId, rule }) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error.code, GATE_CODE);
  if (operationId) assert.match(r.body.error.message, new RegExp(`\\b${operationId}\\b`));
  assert.match(r.body.error.message, rule);
  const v = sim.gate.takeViolations();
  assert.equal(v.length, 1, JSON.stringify(v));
}

test('an unknown query parameter is refused', async () => {
  refused(await send('GET', `${SVC}/apis?${V}&colour=red`), { operationId: 'Api_ListByService', rule: /unknown query parameter 'colour'/ });
});

test('a wrong api-version, and none at all, are refused', async () => {
  refused(await send('GET', `${SVC}/apis?api-version=2019-01-01`), { operationId: 'Api_ListByService', rule: /api-version 2019-01-01 .*2024-05-01/ });
  refused(await send('GET', `${SVC}/apis`), { operationId: 'Api_ListByService', rule: /api-version \(none\)/ });
});

test('a missing required body property is refused and never reaches apim-sim', async () => {
  const before = (await sim.counters()).arm_requests;
  const path = `${SVC}/namedValues/gate-probe`;
  refused(await send('PUT', `${path}?${V}`, { body: { properties: { value: 'x' } } }),
    { operationId: 'NamedValue_CreateOrUpdate', rule: /required property 'displayName'/ });
  assert.equal((await sim.counters()).arm_requests, before, 'apim-sim saw nothing');
  await assert.rejects(sim.state(path), /404/);
});

test('types, enums, maximum, maxItems and maxLength in a body are refused', async () => {
  const put = (properties) => send('PUT', `${SVC}/backends/gate-probe?${V}`, { body: { properties } });
  refused(await put({ url: 'https://x', protocol: 'https' }), { operationId: 'Backend_CreateOrUpdate', rule: /protocol must be equal to one of the allowed values \(http, soap\)/ });
  refused(await put({ url: 42, protocol: 'http' }), { rule: /\/properties\/url must be string/ });
  refused(await put({ type: 'Pool', pool: { services: [{ id: `${SVC}/backends/eastus-aoai`, priority: 101 }] } }), { rule: /priority must be <= 100/ });
  refused(await put({ url: 'https://x', protocol: 'http', circuitBreaker: { rules: Array.from({ length: 16 }, (_, i) => ({ name: `r${i}` })) } }),
    { rule: /rules must NOT have more than 15 items/ });
  refused(await put({ url: 'https://x', protocol: 'http', title: 't'.repeat(301) }), { rule: /title must NOT have more than 300 characters/ });
});

test('a missing required header, an unknown operation and a bad path parameter are refused', async () => {
  refused(await send('DELETE', `${SVC}/backends/eastus-aoai?${V}`), { operationId: 'Backend_Delete', rule: /missing required header 'If-Match'/ });
  refused(await send('GET', `${SVC}/gateways?${V}`), { rule: /no operation of the vendored specs is GET/ });
  refused(await send('GET', `${SVC}/policies/global?${V}`), { operationId: 'Policy_Get', rule: /path parameter 'policyId'='global'.*\(policy\)/ });
});

test('a reports $filter on a field the operation does not list is refused', async () => {
  const filter = "timestamp ge datetime'2026-01-01T00:00:00' and timestamp le datetime'2026-01-01T01:00:00' and apiId eq 'aoai-completions'";
  refused(await send('GET', `${SVC}/reports/bySubscription?${V}&$filter=${encodeURIComponent(filter)}`),
    { operationId: 'Reports_ListBySubscription', rule: /\$filter field 'apiId' is not one the operation lists/ });
  // an operator the table does not give for the field
  refused(await send('GET', `${SVC}/reports/byTime?${V}&interval=PT15M&$filter=${encodeURIComponent("timestamp gt datetime'2026-01-01T00:00:00'")}`),
    { operationId: 'Reports_ListByTime', rule: /operator 'gt' is not supported on 'timestamp' \(ge, le\)/ });
});

test('an answer missing a required property is refused with 502', async () => {
  // a stand-in for apim-sim whose backend lacks `protocol`, which BackendContractProperties requires
  const fake = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: `${SVC}/backends/b`, name: 'b', type: 'Microsoft.ApiManagement/service/backends',
      properties: { url: 'https://x', title: 'no protocol' } }));
  });
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  const gate = await startGate(`http://127.0.0.1:${fake.address().port}`);
  try {
    const r = await send('GET', `${SVC}/backends/b?${V}`, { url: gate.url });
    assert.equal(r.status, 502);
    assert.equal(r.body.error.code, GATE_CODE);
    assert.match(r.body.error.message, /Backend_Get/);
    assert.match(r.body.error.message, /required property 'protocol'/);
    assert.equal(gate.violations.length, 1);
    assert.deepEqual(gate.stats(), { requests: 1, responses: 1, exempt: 0, expected: 0, faulted: 0, violations: 1 });
  } finally {
    await gate.stop();
    fake.close();
  }
});

test('conforming requests pass and are counted; exempt routes pass; the Pool waiver is cited', async () => {
  const before = sim.gate.stats();
  let r = await send('GET', `${SVC}/apis?${V}&$top=1`);
  assert.equal(r.status, 200);
  assert.ok(sim.gate.operations.some((o) => o.operationId === 'Api_ListByService' && o.apiVersion === '2024-05-01'));
  // Microsoft's own example creates a Pool without url/protocol, which the spec marks required
  r = await send('PUT', `${SVC}/backends/gate-pool?${V}`, { headers: { 'If-Match': '*' },
    body: { properties: { type: 'Pool', pool: { services: [{ id: `${SVC}/backends/eastus-aoai`, priority: 1, weight: 50 }] } } } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await send('DELETE', `${SVC}/backends/gate-pool?${V}`, { headers: { 'If-Match': '*' } });
  assert.equal(r.status, 200);
  assert.equal((await fetch(`${sim.url}/_sim/counters`)).status, 200); // exempt: apim-sim's control route
  const after = sim.gate.stats();
  assert.equal(after.requests - before.requests, 3);
  assert.equal(after.responses - before.responses, 3);
  assert.equal(after.violations, 0);
});

test('a request a test marks off-spec must break the spec', async () => {
  const r = await send('GET', `${SVC}/apis?api-version=2019-01-01`, { headers: OFF_SPEC });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'InvalidApiVersionParameter', "apim-sim's own answer");
  assert.equal(sim.gate.violations.length, 0);
  await send('GET', `${SVC}/apis?${V}`, { headers: OFF_SPEC });
  const v = sim.gate.takeViolations();
  assert.equal(v.length, 1);
  assert.match(v[0].problems[0], /marked off-spec by the test, but the spec gate finds it conforms/);
});

test('the reports $filter tables and the clause reader', async () => {
  const specs = await loadSpecs();
  const op = (id) => specs.operations.find((o) => o.operationId === id && o.apiVersion === '2024-05-01');
  assert.deepEqual(Object.keys(op('Reports_ListBySubscription').filterFields).sort(),
    ['apiRegion', 'productId', 'subscriptionId', 'timestamp', 'userId']);
  assert.deepEqual(op('Reports_ListByTime').filterFields.timestamp, ['ge', 'le']);
  assert.equal(op('Reports_ListByApi').filterFields, null, 'the byApi description has no table');
  assert.equal(filterTable('The filter to apply on the operation.'), null);
  assert.deepEqual(filterClauses("timestamp ge datetime'2026-01-01T00:00:00' and contains(name,'a and b') and (apiId eq 'x')"),
    [{ field: 'timestamp', op: 'ge' }, { field: 'name', op: 'contains' }, { field: 'apiId', op: 'eq' }]);
  assert.throws(() => filterClauses('nonsense'), /cannot read the \$filter clause/);
  // every operation has a unique (method, template, api-version) within its file set
  const seen = new Set();
  for (const o of specs.operations) {
    const k = `${o.file}|${o.method}|${o.template}`;
    assert.ok(!seen.has(k), k);
    seen.add(k);
  }
});
