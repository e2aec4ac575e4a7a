// sim_shapes: apim-sim's answers compared key by key (names, nesting, JSON types; values may
// differ) with Microsoft's own x-ms-examples in tests/fixtures/third_party/azure-rest-examples. For every
// example file of an operation the simulator serves, the sim's response body is compared with
// responses[status].body: every key the sim sends must exist in Microsoft's examples of that
// resource type (the union over all example files of the type) with the same JSON type, and the
// envelope keys (id, type, name, properties / value) must be present. The folder is vendored, so
// nothing is skipped. Example files of operations the sim does not serve are listed and must stay few.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, checkSanitizers, DEMO, THIRD_PARTY } from './lib/harness.mjs';

const EXAMPLES = join(THIRD_PARTY, 'azure-rest-examples');
const SVC = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
const POOL_MEMBERS = [`${SVC}/backends/eastus-aoai`, `${SVC}/backends/westeurope-aoai`];

// Keys the 2024-05-01 spec defines but no example file shows (checked against the spec text).
const SPEC_ONLY = {
  'Microsoft.ApiManagement/service/backends': ['properties.circuitBreaker', 'properties.type', 'properties.pool'],
  'Microsoft.ApiManagement/service/apis': ['properties.subscriptionRequired'],
  // product subscriptions are SubscriptionContract, like the service's subscriptions, which show displayName
  'Microsoft.ApiManagement/service/products/subscriptions': ['properties.displayName'],
};

// example file -> the request that exercises the same operation on the demo scenario.
const CASES = {
  ApiManagementListSubscriptions: { method: 'GET', path: '/subscriptions' },
  ApiManagementGetSubscription: { method: 'GET', path: '/subscriptions/growth' },
  ApiManagementUpdateSubscription: { method: 'PATCH', path: '/subscriptions/growth', ifMatch: true, useBody: true },
  ApiManagementSubscriptionListSecrets: { method: 'POST', path: '/subscriptions/growth/listSecrets' },
  ApiManagementListProductSubscriptions: { method: 'GET', path: '/products/aoai/subscriptions' },
  ApiManagementListProducts: { method: 'GET', path: '/products' },
  ApiManagementGetProduct: { method: 'GET', path: '/products/aoai' },
  ApiManagementGetProductPolicy: { method: 'GET', path: '/products/aoai/policies/policy' },
  ApiManagementCreateProductPolicy: { method: 'PUT', path: '/products/free-tier/policies/policy', useBody: true },
  ApiManagementGetPolicy: { method: 'GET', path: '/policies/policy' },
  ApiManagementListApiPolicies: { method: 'GET', path: '/apis/aoai-completions/policies' },
  ApiManagementGetApiPolicy: { method: 'GET', path: '/apis/aoai-completions/policies/policy' },
  ApiManagementHeadApiPolicy: { method: 'HEAD', path: '/apis/aoai-completions/policies/policy' },
  ApiManagementCreateApiPolicy: { method: 'PUT', path: '/apis/legacy-chat/policies/policy', useBody: true },
  ApiManagementCreateApiPolicyNonXmlEncoded: { method: 'PUT', path: '/apis/legacy-chat/operations/chat/policies/policy', useBody: true },
  ApiManagementDeleteApiPolicy: { method: 'DELETE', path: '/apis/legacy-chat/operations/chat/policies/policy', ifMatch: true },
  ApiManagementListBackends: { method: 'GET', path: '/backends' },
  ApiManagementGetBackend: { method: 'GET', path: '/backends/eastus-aoai' },
  ApiManagementCreateBackendProxyBackend: { method: 'PUT', path: '/backends/shape-single', useBody: true },
  ApiManagementCreateBackendWithPriorityBasedLoadBalancer: { method: 'PUT', path: '/backends/shape-priority', useBody: true, pool: true },
  ApiManagementCreateBackendWithSimpleLoadBalancer: { method: 'PUT', path: '/backends/shape-simple', useBody: true, pool: true },
  ApiManagementCreateBackendWithWeightedLoadBalancer: { method: 'PUT', path: '/backends/shape-weighted', useBody: true, pool: true },
  ApiManagementUpdateBackend: { method: 'PATCH', path: '/backends/shape-single', ifMatch: true, useBody: true },
  ApiManagementDeleteBackend: { method: 'DELETE', path: '/backends/shape-single', ifMatch: true },
  ApiManagementListApis: { method: 'GET', path: '/apis' },
  ApiManagementGetApiContract: { method: 'GET', path: '/apis/aoai-completions' },
  ApiManagementCreateApi: { method: 'PUT', path: '/apis/shape-api', useBody: true },
  ApiManagementListNamedValues: { method: 'GET', path: '/namedValues' },
  ApiManagementGetNamedValue: { method: 'GET', path: '/namedValues/aoai-api-version' },
  ApiManagementCreateNamedValue: { method: 'PUT', path: '/namedValues/shape-nv', useBody: true },
  ApiManagementNamedValueListValue: { method: 'POST', path: '/namedValues/aoai-api-version/listValue' },
};
// Served by the traffic module (issue 3 part 3), not by the core simulator yet.
const NOT_SERVED = ['ApiManagementGetReportsByApi', 'ApiManagementGetReportsByOperation', 'ApiManagementGetReportsByProduct',
  'ApiManagementGetReportsByRequest', 'ApiManagementGetReportsBySubscription', 'ApiManagementGetReportsByTime', 'GetMetric'];

const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

// Deep union of example values: objects merge keys, arrays merge their elements into one.
function union(a, b) {
  if (a === undefined) return b;
  if (b === undefined || b === null) return a;
  if (a === null) return b;
  if (kind(a) !== kind(b)) return a;
  if (Array.isArray(a)) return [[...a, ...b].reduce((acc, x) => union(acc, x), undefined)].filter((x) => x !== undefined);
  if (typeof a === 'object') {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = union(out[k], v);
    return out;
  }
  return a;
}

function compare(sim, ex, path, problems, allowed) {
  if (ex === null || ex === undefined) return;
  if (kind(sim) !== kind(ex)) { problems.push(`${path}: sim has ${kind(sim)}, example has ${kind(ex)}`); return; }
  if (Array.isArray(sim)) {
    if (ex.length) for (const [i, v] of sim.entries()) compare(v, ex[0], `${path}[${i}]`, problems, allowed);
    return;
  }
  if (typeof sim !== 'object') return;
  for (const [k, v] of Object.entries(sim)) {
    const p = path ? `${path}.${k}` : k;
    if (k in ex) compare(v, ex[k], p, problems, allowed);
    else if (!allowed.some((a) => p.endsWith(a))) problems.push(`${p}: not in Microsoft's examples`);
  }
}

let sim;
let tok;
let templates = {}; // resource type -> union of example bodies of that type
const examples = {};

function addTemplate(body) {
  if (!body || typeof body !== 'object') return;
  if (Array.isArray(body.value)) body.value.forEach(addTemplate);
  if (typeof body.type === 'string' && body.id) templates[body.type] = union(templates[body.type], body);
}

before(async () => {
  for (const f of readdirSync(EXAMPLES).filter((n) => n.endsWith('.json'))) {
    const ex = JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8'));
    examples[f.replace(/\.json$/, '')] = ex;
    for (const r of Object.values(ex.responses ?? {})) addTemplate(r.body);
  }
  sim = await startSim();
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.contributor.id,
    client_secret: DEMO.contributor.secret, scope: 'https://management.azure.com/.default' });
  tok = (await (await fetch(`${sim.url}/${DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body })).json()).access_token;
});

after(async () => {
  await sim.stop();
  checkSanitizers();
});

function requestBody(name, c) {
  const b = structuredClone(examples[name].parameters.parameters);
  if (c.pool) b.properties.pool.services.forEach((s, i) => { s.id = POOL_MEMBERS[i % 2]; });
  if (name === 'ApiManagementCreateApiPolicy') b.properties.value = '<policies><inbound><base /></inbound><backend><base /></backend><outbound><base /></outbound></policies>';
  return b;
}

async function run(name, c) {
  const headers = { authorization: `Bearer ${tok}` };
  if (c.ifMatch) headers['if-match'] = '*';
  let body;
  if (c.useBody) { headers['content-type'] = 'application/json'; body = JSON.stringify(requestBody(name, c)); }
  const res = await fetch(`${sim.url}${SVC}${c.path}?api-version=2024-05-01`, { method: c.method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

test('every example file is either shape-tested or listed as not served', () => {
  const names = Object.keys(examples);
  assert.ok(names.length > 0);
  for (const n of names) assert.ok(n in CASES || NOT_SERVED.includes(n), `${n}.json is neither shape-tested nor listed`);
});

for (const [name, c] of Object.entries(CASES)) {
  test(`shape: ${name}`, async () => {
    const ex = examples[name];
    assert.ok(ex, `${name}.json missing from ${EXAMPLES}`);
    const r = await run(name, c);
    assert.ok(String(r.status) in ex.responses, `status ${r.status} is not one of the example's ${Object.keys(ex.responses)}: ${JSON.stringify(r.body)}`);
    const exResp = ex.responses[String(r.status)];
    if (c.method === 'HEAD') {
      for (const h of Object.keys(exResp.headers ?? {})) assert.ok(r.headers.get(h), `header ${h} missing`);
      return;
    }
    if (!exResp.body) { assert.equal(r.body, undefined, 'the example has no body'); return; }
    const problems = [];
    if (Array.isArray(exResp.body.value)) {
      assert.ok(Array.isArray(r.body.value), 'value array missing');
      for (const k of Object.keys(exResp.body)) if (k !== 'nextLink') assert.ok(k in r.body, `list key ${k} missing`);
      const type = exResp.body.value[0]?.type;
      compare(r.body, { ...exResp.body, value: [templates[type] ?? exResp.body.value[0]] }, '', problems, SPEC_ONLY[type] ?? []);
    } else if (exResp.body.type) {
      for (const k of ['id', 'type', 'name', 'properties']) assert.ok(k in r.body, `${k} missing`);
      assert.equal(r.body.type, exResp.body.type);
      compare(r.body, templates[exResp.body.type], '', problems, SPEC_ONLY[exResp.body.type] ?? []);
    } else {
      assert.deepEqual(Object.keys(r.body).sort(), Object.keys(exResp.body).sort());
      compare(r.body, exResp.body, '', problems, []);
    }
    assert.deepEqual(problems, [], `${name}: ${problems.join('; ')}`);
  });
}
