// sim_core: apim-sim end to end — Entra tokens (secret, certificate assertion RS256/PS256, managed
// identity) and their real error bodies, ARM bearer/role/api-version checks, ETags and If-Match,
// policy validation, backend validation, paging and $filter, faults, counters, the request log
// (overlapping requests under latency), token expiry, body caps, loopback-only host, and HTTPS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, randomUUID, sign, X509Certificate, constants } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { startSim, checkSanitizers, DEMO, APIM_SIM_BIN, tmpDir, OFF_SPEC } from './lib/harness.mjs';

const SVC = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
const V = 'api-version=2024-05-01';
const SCOPE = 'https://management.azure.com/.default';
let sim;
let tokens = {};

async function token(s, client, extra = {}) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, scope: SCOPE, ...extra });
  if (client.secret) body.set('client_secret', client.secret);
  const res = await fetch(`${s.url}/${extra.tenant ?? DEMO.tenant}/oauth2/v2.0/token`, { method: 'POST', body });
  return { status: res.status, body: await res.json() };
}

// offSpec: the request breaks Microsoft's spec on purpose, to test apim-sim's own error answer (the
// spec gate lets it through, and fails the test if it conforms after all).
async function arm(method, path, { tok = tokens.contributor, body, headers = {}, query = V, s = sim, offSpec = false } = {}) {
  const h = { ...headers, ...(offSpec ? OFF_SPEC : {}) };
  if (tok) h.authorization = `Bearer ${tok}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const sep = path.includes('?') ? '&' : '?';
  const res = await fetch(`${s.url}${path}${query ? sep + query : ''}`, {
    method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

before(async () => {
  sim = await startSim(['--page-size', '2']);
  tokens.contributor = (await token(sim, DEMO.contributor)).body.access_token;
  tokens.reader = (await token(sim, DEMO.reader)).body.access_token;
});

after(async () => {
  await sim.stop();
  checkSanitizers();
});

test('client secret token has the v2.0 shape and looks like a JWT', async () => {
  const { status, body } = await token(sim, DEMO.contributor);
  assert.equal(status, 200);
  assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'ext_expires_in', 'token_type']);
  assert.equal(body.token_type, 'Bearer');
  assert.match(body.access_token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const payload = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url'));
  assert.equal(payload.aud, 'https://management.azure.com/');
  assert.equal(payload.tid, DEMO.tenant);
});

test('Entra error bodies: bad secret, unknown client, unknown tenant, bad scope', async () => {
  let r = await token(sim, { id: DEMO.contributor.id, secret: 'wrong' });
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'invalid_client');
  assert.deepEqual(r.body.error_codes, [7000215]);
  assert.match(r.body.error_description, /^AADSTS7000215: /);
  for (const k of ['timestamp', 'trace_id', 'correlation_id', 'error_uri']) assert.equal(typeof r.body[k], 'string');
  r = await token(sim, { id: 'cccccccc-0000-0000-0000-000000000009', secret: 'x' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'unauthorized_client');
  assert.deepEqual(r.body.error_codes, [700016]);
  r = await token(sim, DEMO.contributor, { tenant: '99999999-1111-1111-1111-111111111111' });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.error_codes, [90002]);
  r = await token(sim, DEMO.contributor, { scope: 'https://graph.microsoft.com/User.Read' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'invalid_scope');
  assert.ok(!sim.stderr().includes('demo-contributor-secret'), 'a secret reached stderr');
});

function makeCert(dir, name) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `${name}.key`),
    '-out', join(dir, `${name}.pem`), '-subj', `/CN=${name}`, '-days', '2'], { stdio: 'ignore' });
  return { cert: readFileSync(join(dir, `${name}.pem`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
}

function assertion({ cert, key }, clientId, { alg = 'RS256', aud, thumb = 'x5t#S256', exp, jti = randomUUID() } = {}) {
  const der = new X509Certificate(cert).raw;
  const header = { alg, typ: 'JWT' };
  header[thumb] = createHash(thumb === 'x5t' ? 'sha1' : 'sha256').update(der).digest('base64url');
  const now = Math.floor(Date.now() / 1000);
  const payload = { aud: aud ?? `https://login.microsoftonline.com/${DEMO.tenant}/oauth2/v2.0/token`, iss: clientId,
    sub: clientId, jti, nbf: now - 10, iat: now - 10, exp: exp ?? now + 600 };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const opts = alg === 'PS256' ? { key: createPrivateKey(key), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : createPrivateKey(key);
  return `${input}.${sign('sha256', Buffer.from(input), opts).toString('base64url')}`;
}

test('certificate client assertion: RS256 and PS256 accepted, forged/replayed/expired/wrong-aud rejected', async () => {
  const t = tmpDir('sim-cert-');
  try {
    const good = makeCert(t.dir, 'app');
    const other = makeCert(t.dir, 'other');
    const id = 'dddddddd-0000-0000-0000-000000000001';
    await sim.addClient({ client_id: id, tenant_id: DEMO.tenant, certificate_pem: good.cert, role: 'reader' });
    const send = (jwt) => token(sim, { id }, { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt });
    let r = await send(assertion(good, id));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const got = await arm('GET', `${SVC}/apis`, { tok: r.body.access_token });
    assert.equal(got.status, 200);
    r = await send(assertion(good, id, { alg: 'PS256', thumb: 'x5t' }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const jti = randomUUID();
    assert.equal((await send(assertion(good, id, { jti }))).status, 200);
    r = await send(assertion(good, id, { jti }));
    assert.equal(r.status, 401, 'a replayed jti must be refused');
    r = await send(assertion({ cert: good.cert, key: other.key }, id));
    assert.equal(r.status, 401);
    assert.deepEqual(r.body.error_codes, [700027]);
    assert.match(r.body.error_description, /signature/);
    r = await send(assertion(other, id));
    assert.equal(r.status, 401);
    assert.match(r.body.error_description, /thumbprint/);
    r = await send(assertion(good, id, { aud: 'https://login.microsoftonline.com/other/oauth2/v2.0/token' }));
    assert.equal(r.status, 401);
    r = await send(assertion(good, id, { exp: Math.floor(Date.now() / 1000) - 60 }));
    assert.equal(r.status, 401);
    assert.deepEqual(r.body.error_codes, [700024]);
    r = await send('not-a-jwt');
    assert.equal(r.status, 400);
  } finally {
    t.cleanup();
  }
});

test('managed identity: App Service and IMDS styles', async () => {
  let res = await fetch(`${sim.url}/msi/token?resource=https://management.azure.com/&api-version=2019-08-01`, {
    headers: { 'X-IDENTITY-HEADER': 'demo-identity-header' } });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.token_type, 'Bearer');
  assert.match(body.expires_on, /^\d+$/);
  assert.equal(body.resource, 'https://management.azure.com/');
  assert.equal((await arm('PUT', `${SVC}/namedValues/mi-written`, { tok: body.access_token,
    body: { properties: { displayName: 'mi-written', value: 'x' } } })).status, 201);
  res = await fetch(`${sim.url}/msi/token?resource=https://management.azure.com/&api-version=2019-08-01`, {
    headers: { 'X-IDENTITY-HEADER': 'wrong' } });
  assert.equal(res.status, 401);
  res = await fetch(`${sim.url}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/`, {
    headers: { Metadata: 'true' } });
  assert.equal(res.status, 200);
  assert.match((await res.json()).expires_on, /^\d+$/);
  res = await fetch(`${sim.url}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/`);
  assert.equal(res.status, 400);
});

test('ARM auth: 401 missing/invalid token, 403 for a reader write naming principal and action', async () => {
  let r = await arm('GET', `${SVC}/apis`, { tok: null });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'AuthenticationFailed');
  r = await arm('GET', `${SVC}/apis`, { tok: 'eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.c2ln' });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'InvalidAuthenticationToken');
  assert.equal((await arm('GET', `${SVC}/apis`, { tok: tokens.reader })).status, 200);
  r = await arm('PUT', `${SVC}/apis/aoai-completions/policies/policy`, { tok: tokens.reader,
    body: { properties: { format: 'rawxml', value: '<policies/>' } } });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, 'AuthorizationFailed');
  assert.match(r.body.error.message, new RegExp(`client '${DEMO.reader.id}' with object id '[^']+'`));
  assert.match(r.body.error.message, /action 'Microsoft\.ApiManagement\/service\/apis\/policies\/write'/);
  assert.match(r.body.error.message, /over scope '\/subscriptions\//);
});

test('api-version: missing and unknown answer the ARM errors; headers are present', async () => {
  let r = await arm('GET', `${SVC}/apis`, { query: '', offSpec: true });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'MissingApiVersionParameter');
  r = await arm('GET', `${SVC}/apis`, { query: 'api-version=2019-01-01', offSpec: true });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'InvalidApiVersionParameter');
  assert.match(r.body.error.message, /2024-05-01/);
  r = await arm('GET', `${SVC}/apis`, { query: 'api-version=2022-08-01', headers: { 'x-ms-client-request-id': 'abc-123' }, offSpec: true }); // not vendored
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-ms-client-request-id'), 'abc-123');
  assert.ok(r.headers.get('x-ms-request-id'));
  assert.ok(r.headers.get('x-ms-correlation-request-id'));
  assert.match(r.headers.get('x-ms-ratelimit-remaining-subscription-reads'), /^\d+$/);
});

test('404s: unknown API, unknown service, unknown resource group, unknown subscription', async () => {
  let r = await arm('GET', `${SVC}/apis/nope`);
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, 'ResourceNotFound');
  r = await arm('GET', `${SVC}/apis/nope/policies/policy`);
  assert.equal(r.status, 404);
  assert.match(r.body.error.message, /Api not found/);
  r = await arm('GET', SVC.replace(DEMO.service, 'other-apim'));
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, 'ResourceNotFound');
  r = await arm('GET', SVC.replace(DEMO.resourceGroup, 'rg-x'));
  assert.equal(r.body.error.code, 'ResourceGroupNotFound');
  r = await arm('GET', SVC.replace(DEMO.subscription, '00000000-0000-0000-0000-000000000000'));
  assert.equal(r.body.error.code, 'SubscriptionNotFound');
});

test('policies: rawxml round trip, xml view escaped, validation error with line, If-Match and 412, touch', async () => {
  const path = `${SVC}/apis/legacy-chat/policies/policy`;
  const raw = '<policies>\n  <inbound>\n    <base />\n    <set-variable name="d" value="@(context.Request.Headers.GetValueOrDefault("x-d", ""))" />\n  </inbound>\n  <backend><base /></backend>\n  <outbound><base /></outbound>\n</policies>';
  const first = await arm('GET', path);
  assert.equal(first.status, 200);
  const etag = first.headers.get('etag');
  assert.match(etag, /^"[A-Za-z0-9+/=]+"$/);
  let r = await arm('PUT', path, { body: { properties: { format: 'rawxml', value: raw } }, headers: { 'If-Match': etag } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const etag2 = r.headers.get('etag');
  assert.notEqual(etag2, etag);
  r = await arm('GET', `${path}?format=rawxml`);
  assert.equal(r.body.properties.value, raw);
  assert.equal((await sim.state(path)).resource.properties.value, raw);
  r = await arm('GET', path);
  assert.match(r.body.properties.value, /GetValueOrDefault\(&quot;x-d&quot;/);
  r = await arm('PUT', path, { body: { properties: { format: 'rawxml', value: raw } }, headers: { 'If-Match': etag } });
  assert.equal(r.status, 412);
  assert.equal(r.body.error.code, 'PreconditionFailed');
  r = await arm('PUT', path, { body: { properties: { format: 'rawxml', value: '<policies>\n<inbound>\n</policies>' } } });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'ValidationError');
  assert.equal(r.body.error.details[0].target, 'representation');
  assert.match(r.body.error.details[0].message, /line 3/);
  r = await arm('PUT', path, { body: { properties: { format: 'xml', value: raw } } });
  assert.equal(r.status, 400, 'format xml requires well-formed XML');
  const t = await sim.touch(path);
  assert.notEqual(t.etag, etag2);
  r = await arm('PUT', path, { body: { properties: { format: 'rawxml', value: raw } }, headers: { 'If-Match': etag2 } });
  assert.equal(r.status, 412, 'a concurrent edit must make the old ETag fail');
  assert.match((await arm('GET', `${path}?format=rawxml`)).body.properties.value, /concurrent edit/);
  assert.equal((await arm('DELETE', path, { offSpec: true })).status, 400, 'DELETE requires If-Match');
  assert.equal((await arm('DELETE', path, { headers: { 'If-Match': '*' } })).status, 200);
  assert.equal((await arm('GET', path)).status, 404);
  r = await arm('PUT', `${SVC}/products/aoai/policies/policy`, { body: { properties: { format: 'rawxml', value: '<policy/>' } } });
  assert.equal(r.status, 400);
  r = await arm('PUT', `${SVC}/policies/policy`, { body: { properties: { format: 'rawxml-link', value: 'https://x' } } });
  assert.equal(r.status, 400);
});

test('backends: pool validation, Single to Pool, in-use delete refused, PATCH with If-Match', async () => {
  const pool = (services) => ({ properties: { type: 'Pool', pool: { services } } });
  let r = await arm('PUT', `${SVC}/backends/p2`, { body: pool([{ id: `${SVC}/backends/missing`, priority: 1 }]) });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'ValidationError');
  assert.match(r.body.error.details[0].message, /does not exist/);
  r = await arm('PUT', `${SVC}/backends/p2`, { body: pool([{ id: `${SVC}/backends/eastus-aoai`, priority: 101 }]), offSpec: true });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.details[0].target, 'priority');
  r = await arm('PUT', `${SVC}/backends/legacy-pool`, { body: pool([{ id: `${SVC}/backends/legacy-aoai`, priority: 1, weight: 50 }]) });
  assert.equal(r.status, 201);
  assert.equal(r.body.properties.type, 'Pool');
  r = await arm('DELETE', `${SVC}/backends/legacy-aoai`, { headers: { 'If-Match': '*' } });
  assert.equal(r.status, 400);
  assert.match(r.body.error.details[0].message, /legacy-pool/);
  r = await arm('PATCH', `${SVC}/backends/eastus-aoai`, { body: { properties: { description: 'patched' } }, offSpec: true });
  assert.equal(r.status, 400, 'PATCH requires If-Match');
  r = await arm('PATCH', `${SVC}/backends/eastus-aoai`, { body: { properties: { description: 'patched' } }, headers: { 'If-Match': '*' } });
  assert.equal(r.status, 200);
  assert.equal(r.body.properties.description, 'patched');
  assert.ok(r.body.properties.circuitBreaker, 'PATCH keeps the other properties');
  r = await arm('PUT', `${SVC}/backends/bad-cb`, { body: { properties: { url: 'https://x', protocol: 'http',
    circuitBreaker: { rules: Array.from({ length: 16 }, (_, i) => ({ name: `r${i}` })) } } }, offSpec: true });
  assert.equal(r.status, 400);
  assert.equal((await arm('DELETE', `${SVC}/backends/legacy-pool`, { headers: { 'If-Match': '*' } })).status, 200);
  assert.equal((await arm('DELETE', `${SVC}/backends/legacy-aoai`, { headers: { 'If-Match': '*' } })).status, 200);
});

test('subscriptions never carry keys except listSecrets; paging with nextLink; $filter', async () => {
  let r = await arm('GET', `${SVC}/subscriptions`);
  assert.equal(r.status, 200);
  assert.equal(r.body.value.length, 2);
  assert.equal(r.body.count, 4);
  const names = r.body.value.map((s) => s.name);
  let next = r.body.nextLink;
  while (next) {
    assert.ok(next.startsWith(`${sim.url}${SVC}/subscriptions?`), next);
    const res = await fetch(next, { headers: { authorization: `Bearer ${tokens.contributor}` } });
    const b = await res.json();
    names.push(...b.value.map((s) => s.name));
    next = b.nextLink;
  }
  assert.deepEqual(names, ['growth', 'search', 'prod-critical', 'free-experiments']);
  assert.ok(!JSON.stringify(r.body).includes('Key'), 'keys leaked in a list');
  r = await arm('GET', `${SVC}/subscriptions/growth`);
  assert.equal(r.body.properties.primaryKey, undefined);
  r = await arm('POST', `${SVC}/subscriptions/growth/listSecrets`);
  assert.equal(r.status, 200);
  assert.equal(typeof r.body.primaryKey, 'string');
  r = await arm('GET', `${SVC}/subscriptions`, { query: `${V}&$filter=${encodeURIComponent("name eq 'search'")}` });
  assert.deepEqual(r.body.value.map((s) => s.name), ['search']);
  r = await arm('GET', `${SVC}/products/aoai/subscriptions`, { query: `${V}&$top=3` });
  assert.equal(r.body.value.length, 2);
  assert.ok(r.body.nextLink.includes('%24top=1'), r.body.nextLink);
  r = await arm('GET', `${SVC}/subscriptions`, { query: `${V}&$filter=${encodeURIComponent("colour eq 'x'")}`, offSpec: true });
  assert.equal(r.status, 400);
  assert.match(r.body.error.message, /Invalid filter clause/);
});

test('faults: 429 with Retry-After after skip, 503, dropped connection, expired tokens; counters', async () => {
  await sim.resetCounters();
  await sim.faults({ rules: [{ method: 'GET', path_contains: '/namedValues', status: 429, retry_after: 7, skip: 1, count: 1 }] });
  assert.equal((await arm('GET', `${SVC}/namedValues`)).status, 200);
  let r = await arm('GET', `${SVC}/namedValues`);
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '7');
  assert.equal((await arm('GET', `${SVC}/namedValues`)).status, 200);
  await sim.faults({ rules: [{ path_contains: '/products', status: 503, count: 1 }, { path_contains: '/apis', drop: true, count: 1 }] });
  assert.equal((await arm('GET', `${SVC}/products`)).status, 503);
  await assert.rejects(arm('GET', `${SVC}/apis`));
  assert.equal((await arm('GET', `${SVC}/apis`)).status, 200);
  await sim.clearFaults();
  const c = await sim.counters();
  assert.equal(c.routes[`GET /subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{}/namedValues`], 3);
  assert.equal(c.arm_requests, 6, 'every ARM request counts, faulted and dropped ones too');
  await sim.faults({ expire_tokens: true });
  r = await arm('GET', `${SVC}/apis`);
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'ExpiredAuthenticationToken');
  tokens.contributor = (await token(sim, DEMO.contributor)).body.access_token;
  tokens.reader = (await token(sim, DEMO.reader)).body.access_token;
  assert.equal((await arm('GET', `${SVC}/apis`)).status, 200);
  await sim.resetCounters();
  assert.equal((await sim.counters()).arm_requests, 0);
});

test('request log proves overlapping requests under injected latency', async () => {
  await sim.resetCounters();
  await sim.faults({ latency_ms: 300 });
  const rs = await Promise.all([1, 2, 3, 4].map(() => arm('GET', `${SVC}/apis`)));
  await sim.clearFaults();
  assert.ok(rs.every((r) => r.status === 200));
  const log = (await sim.requests()).filter((e) => e.path.endsWith('/apis'));
  assert.equal(log.length, 4);
  const maxStart = Math.max(...log.map((e) => e.start_us));
  const minEnd = Math.min(...log.map((e) => e.end_us));
  assert.ok(maxStart < minEnd, 'the four requests should have been served concurrently');
  assert.ok(log.every((e) => e.auth === 'bearer' && e.query.includes('api-version')));
});

test('token lifetime: a 1-second token expires', async () => {
  const s = await startSim(['--token-lifetime', '1']);
  try {
    const t = (await token(s, DEMO.contributor)).body;
    assert.equal(t.expires_in, 1);
    await s.clock({ advance_s: 2 }); // the virtual clock, instead of sleeping
    const r = await arm('GET', `${SVC}/apis`, { tok: t.access_token, s });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ExpiredAuthenticationToken');
  } finally {
    await s.stop();
  }
});

test('virtual clock: tracks the wall clock by default, set/advance/freeze move tokens and traffic, bad input refused',
  async () => {
    const s = await startSim();
    const iso = (sec) => new Date(sec * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const post = (body) => fetch(`${s.url}/_sim/clock`, { method: 'POST', body: JSON.stringify(body) });
    try {
      const c0 = await s.clock();
      assert.equal(c0.frozen, false);
      assert.ok(Math.abs(c0.offset_s) < 1, 'by default the clock is the wall clock');
      // frozen an hour back: tokens are dated by it, and no traffic exists after its now
      const t0 = Math.floor(Date.now() / 1000) - 3600;
      assert.equal((await s.clock({ set: iso(t0), freeze: true })).now, iso(t0));
      const t = (await token(s, DEMO.contributor)).body;
      assert.equal(JSON.parse(Buffer.from(t.access_token.split('.')[1], 'base64url')).iat, t0);
      const traffic = async (a, b) => (await (await fetch(`${s.url}/_sim/traffic?since=${iso(a)}&until=${iso(b)}`)).json())
        .totals.requests;
      assert.equal(await traffic(t0, t0 + 600), 0, 'the future holds no traffic');
      const c1 = await s.clock({ advance_s: 600 });
      assert.equal(c1.now, iso(t0 + 600));
      assert.equal(c1.frozen, true);
      const ten = await traffic(t0, t0 + 600);
      assert.ok(ten > 0, 'advancing the clock makes the traffic of those ten minutes');
      assert.equal(await traffic(t0, t0 + 1200), ten, 'still nothing after now');
      assert.equal((await arm('GET', `${SVC}/apis`, { tok: t.access_token, s })).status, 200);
      await s.clock({ advance_s: 3600 }); // past the token's 3599 s lifetime
      const expired = await arm('GET', `${SVC}/apis`, { tok: t.access_token, s });
      assert.equal(expired.status, 401);
      assert.equal(expired.body.error.code, 'ExpiredAuthenticationToken');
      const run = await s.clock({ freeze: false });
      assert.equal(run.frozen, false);
      assert.ok(Math.abs(run.offset_s - 600) < 5, `running again from where it stood: ${run.offset_s}`);
      for (const bad of [{ advance_s: -1 }, { advance_s: 'x' }, { set: 'yesterday' }, { freeze: 1 }, { speed: 2 }, []]) {
        const r = await post(bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.match((await r.json()).error.message, /clock/);
      }
    } finally {
      await s.stop();
    }
  });

test('body cap: 413 beyond 4 MiB; non-loopback host refused', async () => {
  const big = JSON.stringify({ properties: { format: 'rawxml', value: `<policies>${' '.repeat(4.5 * 1024 * 1024)}</policies>` } });
  const r = await arm('PUT', `${SVC}/policies/policy`, { body: big });
  assert.equal(r.status, 413);
  const bad = spawnSync(APIM_SIM_BIN, ['--port', '0', '--host', '0.0.0.0'], { encoding: 'utf8', timeout: 10000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /loopback/);
  assert.equal(bad.stdout, '');
});

test('HTTPS with a test CA made by the openssl CLI', async () => {
  const t = tmpDir('sim-tls-');
  try {
    const o = (...a) => execFileSync('openssl', a, { cwd: t.dir, stdio: 'ignore' });
    o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=apim-sim test CA', '-days', '2');
    o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(t.dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    o('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext.cnf');
    const s = await startSim(['--tls-cert', join(t.dir, 'srv.pem'), '--tls-key', join(t.dir, 'srv.key')]);
    try {
      const ca = readFileSync(join(t.dir, 'ca.pem'));
      const body = await new Promise((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: s.port, method: 'POST', path: `/${DEMO.tenant}/oauth2/v2.0/token`, ca,
          headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
          let d = '';
          res.on('data', (c) => { d += c; });
          res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(d) }));
        });
        req.on('error', reject);
        req.end(new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO.contributor.id,
          client_secret: DEMO.contributor.secret, scope: SCOPE }).toString());
      });
      assert.equal(body.status, 200);
      assert.equal(body.json.token_type, 'Bearer');
    } finally {
      await s.stop();
    }
  } finally {
    t.cleanup();
  }
});

test('products list their APIs; PUT with If-Match * creates; HEAD answers the ETag', async () => {
  let r = await arm('GET', `${SVC}/products/aoai/apis`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.value.map((a) => a.name), ['aoai-completions', 'legacy-chat']);
  r = await arm('PUT', `${SVC}/apis/aoai-completions/operations/embeddings/policies/policy`, {
    headers: { 'If-Match': '*' }, body: { properties: { format: 'rawxml', value: '<policies><inbound><base /></inbound></policies>' } } });
  assert.equal(r.status, 201);
  const head = await fetch(`${sim.url}${SVC}/apis/aoai-completions/operations/embeddings/policies/policy?${V}`, {
    method: 'HEAD', headers: { authorization: `Bearer ${tokens.contributor}` } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('etag'), r.headers.get('etag'));
});

test('scenario file: custom scenario with start-up faults; a broken scenario fails with a clear message', async () => {
  const t = tmpDir('sim-scn-');
  try {
    const demo = JSON.parse(readFileSync(join(process.env.AIGW_SOURCE_DIR, 'src/sim/scenarios/demo.json'), 'utf8'));
    demo.faults = { rules: [{ method: 'DELETE', status: 500, count: 1 }] };
    writeFileSync(join(t.dir, 'faulty.json'), JSON.stringify(demo));
    const s = await startSim(['--scenario', join(t.dir, 'faulty.json')]);
    try {
      const tok = (await token(s, DEMO.contributor)).body.access_token;
      const r = await arm('DELETE', `${SVC}/namedValues/aoai-api-version`, { tok, s, headers: { 'If-Match': '*' } });
      assert.equal(r.status, 500);
      assert.equal(r.body.error.code, 'InternalServerError');
    } finally {
      await s.stop();
    }
    demo.backends.push({ name: 'broken-pool', properties: { type: 'Pool', pool: { services: [{ id: '/backends/ghost', priority: 1 }] } } });
    writeFileSync(join(t.dir, 'broken.json'), JSON.stringify(demo));
    const bad = spawnSync(APIM_SIM_BIN, ['--port', '0', '--scenario', join(t.dir, 'broken.json')], { encoding: 'utf8', timeout: 10000 });
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /broken-pool.*ghost.*does not exist/);
  } finally {
    t.cleanup();
  }
});
