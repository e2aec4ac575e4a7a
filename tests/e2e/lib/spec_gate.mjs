// spec_gate: Microsoft's published API description as the judge of every e2e request and answer.
// A loopback HTTP proxy between the binary under test and apim-sim: each request is matched to
// exactly one operation of the vendored OpenAPI files (tests/fixtures/third_party/azure-specs) by
// method, path template and api-version, and its query parameters, required parameters and headers,
// body and (for the reports operations) $filter fields are checked; each answer is checked against
// the operation's response schema for its status code. $ref resolution is
// @apidevtools/json-schema-ref-parser's, validation is Ajv's (draft-04, the dialect of Swagger 2.0).
// A broken request is refused with 400 NotInMicrosoftSpec, a broken answer replaced by 502
// NotInMicrosoftSpec; both are recorded, and the harness fails the test that caused them.
// Not ARM, so exempt: Entra's token endpoint, the managed-identity endpoints, apim-sim's /_sim routes.
import http from 'node:http';
import { Worker } from 'node:worker_threads';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import $RefParser from '@apidevtools/json-schema-ref-parser';
import Ajv from 'ajv-draft-04';

export const SPEC_ROOT = fileURLToPath(new URL('../../fixtures/third_party/azure-specs/specification/', import.meta.url));
export const GATE_CODE = 'NotInMicrosoftSpec';
export const OFF_SPEC_HEADER = 'x-aigw-spec-gate'; // "off-spec": a test sends a request it knows breaks the spec
const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head'];
const BODY_CAP = 8 << 20;

// Requests that are not ARM or Log Analytics operations (so no spec applies).
export function exemptPath(path) {
  return path.startsWith('/_sim/') || path === '/_sim'
    || /^\/[^/]+\/oauth2\/v2\.0\/token$/.test(path) // Entra ID v2.0 token endpoint
    || path === '/msi/token' || path === '/metadata/identity/oauth2/token'; // managed identity
}

// Swagger's vendor extensions the specs rely on, read as JSON Schema: "x-nullable" allows null; on
// the request side a readOnly property is never required (ARM ignores readOnly input).
function prepare(node, requestSide) {
  if (Array.isArray(node)) { node.forEach((n) => prepare(n, requestSide)); return node; }
  if (!node || typeof node !== 'object') return node;
  delete node['x-ms-examples']; // examples/ is not vendored: these $refs point to absent files by design
  if (node['x-nullable'] === true && typeof node.type === 'string') node.type = [node.type, 'null'];
  if (requestSide && Array.isArray(node.required) && node.properties && typeof node.properties === 'object') {
    node.required = node.required.filter((k) => node.properties[k]?.readOnly !== true);
  }
  for (const v of Object.values(node)) prepare(v, requestSide);
  return node;
}

function specFiles(dir, out = []) {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) specFiles(p, out);
    else if (n.endsWith('.json')) out.push(p);
  }
  return out;
}

const ptr = (s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'));
const SCHEMA_KEYS = ['type', 'enum', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength',
  'maxLength', 'pattern', 'items', 'minItems', 'maxItems', 'uniqueItems', 'multipleOf'];

// Loads every vendored spec once per process; returns { operations, resolve(op...) } for the gate.
let loaded;
export function loadSpecs() {
  loaded ??= load();
  return loaded;
}

async function load() {
  const docs = new Map(); // absolute file path -> parsed JSON (x-ms-examples removed)
  const parsed = new Map();
  const reader = {
    order: 1,
    canRead: /\.json$/i,
    read(file) {
      const p = file.url.startsWith('file:') ? fileURLToPath(file.url) : file.url;
      if (!parsed.has(p)) parsed.set(p, prepare(JSON.parse(readFileSync(p, 'utf8')), false));
      return parsed.get(p);
    },
  };
  const files = specFiles(SPEC_ROOT);
  for (const f of files) {
    const raw = JSON.parse(readFileSync(f, 'utf8'));
    if (!raw.paths && !raw['x-ms-paths']) continue;
    const $refs = await $RefParser.resolve(f, { resolve: { file: reader, http: false } });
    for (const [p, v] of Object.entries($refs.values())) if (!docs.has(p)) docs.set(p, v);
  }
  const opts = { strict: false, allErrors: true, validateFormats: false, logger: false };
  const responseAjv = new Ajv(opts);
  const requestAjv = new Ajv(opts);
  const paramAjv = new Ajv({ ...opts, coerceTypes: 'array' });
  for (const [p, v] of docs) {
    const url = pathToFileURL(p).href;
    responseAjv.addSchema(v, url);
    requestAjv.addSchema(prepare(structuredClone(v), true), url);
  }
  const deref = (url, seen = 0) => { // a parameter or response object, following $ref (ref-parser's $refs)
    const [file, hash = ''] = url.split('#');
    let node = docs.get(fileURLToPath(file));
    for (const k of hash.split('/').slice(1)) node = node?.[decodeURIComponent(k).replace(/~1/g, '/').replace(/~0/g, '~')];
    if (node?.$ref && seen < 8) return deref(new URL(node.$ref, url).href, seen + 1);
    return { node, url };
  };

  const operations = [];
  for (const [p, doc] of docs) {
    const fileUrl = pathToFileURL(p).href;
    const rel = p.slice(SPEC_ROOT.length);
    for (const kind of ['paths', 'x-ms-paths']) {
      for (const [template, item] of Object.entries(doc[kind] ?? {})) {
        const itemUrl = `${fileUrl}#/${ptr(kind)}/${ptr(template)}`;
        const common = (item.parameters ?? []).map((_, i) => deref(`${itemUrl}/parameters/${i}`));
        for (const m of METHODS) {
          const op = item[m];
          if (!op) continue;
          const opUrl = `${itemUrl}/${m}`;
          const own = (op.parameters ?? []).map((_, i) => deref(`${opUrl}/parameters/${i}`));
          const byKey = new Map();
          for (const r of [...common, ...own]) byKey.set(`${r.node.in}:${r.node.name}`, r);
          const params = [...byKey.values()].map(({ node, url }) => ({ ...node, url }));
          const responses = {};
          for (const code of Object.keys(op.responses ?? {})) {
            const r = deref(`${opUrl}/responses/${ptr(code)}`);
            responses[code] = { schemaUrl: r.node?.schema ? `${r.url}/schema` : null };
          }
          operations.push(makeOperation({ index: operations.length, file: rel, doc, template, method: m.toUpperCase(), op, params, responses }));
        }
      }
    }
  }
  const compiled = new Map();
  const compile = (ajv, url) => {
    const key = `${ajv === requestAjv ? 'req' : 'res'}:${url}`;
    if (!compiled.has(key)) compiled.set(key, ajv.compile({ $ref: url }));
    return compiled.get(key);
  };
  const specs = {
    operations,
    validateRequestBody: (url, body) => run(compile(requestAjv, url), body),
    validateResponseBody: (url, body) => run(compile(responseAjv, url), body),
    validateParam: (param, value) => {
      const schema = {};
      for (const k of SCHEMA_KEYS) if (k in param) schema[k] = param[k];
      const key = `param:${param.url}`;
      if (!compiled.has(key)) compiled.set(key, paramAjv.compile({ type: 'object', properties: { v: schema } }));
      const holder = { v: param.type === 'array' ? String(value).split(',') : value };
      return run(compiled.get(key), holder).map((e) => e.replace(/^\/v\b ?/, ''));
    },
  };
  return specs;
}

// Known defects of the vendored specs, each with Microsoft's own word that the spec is wrong. The
// gate lets exactly these through (and counts them); docs/fidelity.md lists them.
export const WAIVERS = [{
  id: 'backend-pool-url-protocol',
  source: 'Azure/azure-rest-api-specs issue #35713 (BackendContractProperties requires url and protocol, both invalid for type Pool); ' +
    "APIM answers 'Url is not supported for backend pool.' / 'Protocol is not supported for backend pool.', and Microsoft's example " +
    'ApiManagementCreateBackendWithSimpleLoadBalancer.json sends a Pool without them',
  applies: (e, data) => e.keyword === 'required' && ['url', 'protocol'].includes(e.params?.missingProperty)
    && /(^|\/)properties$/.test(e.instancePath) && at(data, e.instancePath)?.type === 'Pool',
}, {
  id: 'diagnostic-settings-destination-type-null',
  source: "diagnosticsSettings_API.json's own description of DiagnosticSettings.logAnalyticsDestinationType: " +
    "'Possible values are: Dedicated and null (null is default.)', while its schema says only type string",
  applies: (e, data) => e.keyword === 'type' && /\/properties\/logAnalyticsDestinationType$/.test(e.instancePath)
    && at(data, e.instancePath) === null,
}, {
  id: 'logs-query-preview-row-cells',
  source: 'the 2022-10-27_Preview Logs query spec types every row cell as object, while Microsoft\'s own example of ' +
    'its resource-centric query (examples/la-post-resource-centric-example.json, azure-rest-api-specs commit ' +
    'c008a71aebeef195b8ac95fab078ae9d667fe8d2) answers rows of strings ["operation1", "10"], and Learn "Querying logs ' +
    'for Azure resources": "Azure resource queries produce the same response shape as queries targeting a Log ' +
    'Analytics workspace" (the v1 spec: cells are strings)',
  applies: (e, data) => e.keyword === 'type' && e.params?.type === 'object' && /^\/tables\/\d+\/rows\/\d+\/\d+$/.test(e.instancePath)
    && ['string', 'number', 'boolean'].includes(typeof at(data, e.instancePath)),
}];
export const waived = new Map(); // waiver id -> times applied in this process

function at(data, pointer) {
  let node = data;
  for (const k of pointer.split('/').slice(1)) node = node?.[k.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}

function run(validate, data) {
  if (validate(data)) return [];
  return validate.errors.filter((e) => {
    const w = WAIVERS.find((x) => x.applies(e, data));
    if (w) waived.set(w.id, (waived.get(w.id) ?? 0) + 1);
    return !w;
  }).map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : ''}`);
}

function makeOperation({ index, file, doc, template, method, op, params, responses }) {
  const [pathPart, queryPart] = template.split('?');
  const full = (doc.basePath && doc.basePath !== '/' ? doc.basePath : '') + pathPart;
  const byName = Object.fromEntries(params.filter((x) => x.in === 'path').map((x) => [x.name, x]));
  let literal = 0;
  const names = [];
  // A parameter with x-ms-skip-url-encoding (a path such as {resourceUri} or {parentResourcePath})
  // spans segments and may be empty, its following "/" then absent too: ARM reads "a//b" as "a/b",
  // and a top-level resource has no parent path.
  const parts = full.split(/(\{[^}]+\})/);
  const re = parts.map((part, i) => {
    const m = /^\{([^}]+)\}$/.exec(part);
    const prev = parts[i - 1];
    if (!m) {
      literal += part.length;
      const skipSlash = prev && byName[/^\{([^}]+)\}$/.exec(prev)?.[1]]?.['x-ms-skip-url-encoding'] && part.startsWith('/');
      return (skipSlash ? part.slice(1) : part).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
    names.push(m[1]);
    if (!byName[m[1]]?.['x-ms-skip-url-encoding']) return '([^/]+)';
    return parts[i + 1]?.startsWith('/') ? '(?:(.+)/)?' : '(.*)';
  }).join('');
  const apiVersion = params.some((x) => x.in === 'query' && x.name === 'api-version') ? doc.info.version : null;
  const filterParam = params.find((x) => x.in === 'query' && x.name === '$filter');
  return {
    index,
    operationId: op.operationId,
    method,
    template,
    file,
    apiVersion,
    version: doc.info.version, // the spec file's version: the api-version, or "v1" for the Logs query API
    preview: /\/preview\//.test(file),
    regex: new RegExp(`^${re}$`, 'i'),
    names,
    literal,
    fixedQuery: queryPart ? Object.fromEntries(new URLSearchParams(queryPart)) : {},
    params,
    responses,
    filterFields: filterParam ? filterTable(filterParam.description ?? '') : null,
  };
}

// The reports operations' $filter description holds a table: | field | usage | operators | functions |.
// Returns { field: [operators] } for the fields whose usage includes "filter", or null (no table).
export function filterTable(description) {
  const rows = description.split(/<\/br>|\n/).map((r) => r.split('|').map((c) => c.trim())).filter((c) => c.length >= 5);
  const fields = {};
  let table = false;
  for (const c of rows) {
    if (/^field$/i.test(c[1])) { table = true; continue; }
    if (!c[1] || /^-+$/.test(c[1])) continue;
    if (c[2].split(',').map((u) => u.trim().toLowerCase()).includes('filter')) {
      fields[c[1]] = c[3].split(',').map((o) => o.trim().toLowerCase()).filter(Boolean);
    }
  }
  return table ? fields : null;
}

// $filter clauses joined by "and": `field op value` or `fn(field, value)`. Returns [{ field, op }]
// or throws with the clause it cannot read.
export function filterClauses(text) {
  const parts = [];
  let cur = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "'") quoted = !quoted;
    if (!quoted && /^\s+and\s+/i.test(text.slice(i)) && /\s/.test(ch)) {
      parts.push(cur); cur = '';
      i += /^\s+and\s+/i.exec(text.slice(i))[0].length - 1;
      continue;
    }
    cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => {
    const s = p.trim().replace(/^\((.*)\)$/, '$1').trim();
    let m = /^([A-Za-z_][\w/]*)\s+(eq|ne|gt|ge|lt|le)\s+\S.*$/i.exec(s);
    if (m) return { field: m[1], op: m[2].toLowerCase() };
    m = /^([a-z]+)\(\s*([A-Za-z_][\w/]*)\s*,.*\)$/i.exec(s);
    if (m) return { field: m[2], op: m[1].toLowerCase() };
    throw new Error(`cannot read the $filter clause '${s}'`);
  });
}

// Matches a request to one operation. Returns { op } or { problem, op? }.
export function matchOperation(specs, method, path, query) {
  const m = method === 'HEAD' ? ['HEAD'] : [method];
  const hits = [];
  for (const op of specs.operations) {
    if (!m.includes(op.method)) continue;
    const r = op.regex.exec(path);
    if (!r) continue;
    if (Object.entries(op.fixedQuery).some(([k, v]) => query.get(k) !== v)) continue;
    hits.push({ op, values: Object.fromEntries(op.names.map((n, i) => [n, decodeURIComponent(r[i + 1] ?? '')])) });
  }
  if (!hits.length) return { problem: `no operation of the vendored specs is ${method} ${path}` };
  const version = query.get('api-version');
  const best = (list) => {
    const top = Math.max(...list.map((h) => h.op.literal));
    let l = list.filter((h) => h.op.literal === top);
    if (l.length > 1 && l.some((h) => !h.op.preview)) l = l.filter((h) => !h.op.preview); // stable over preview
    return l;
  };
  const versioned = hits.filter((h) => (h.op.apiVersion ?? null) === (version ?? null));
  if (!versioned.length) {
    const [h] = best(hits);
    const want = [...new Set(best(hits).concat(hits.filter((x) => x.op.operationId === h.op.operationId))
      .map((x) => x.op.apiVersion ?? '(none)'))].join(', ');
    return { op: h.op, problem: `api-version ${version ?? '(none)'} is not a version of ${h.op.operationId} in the vendored specs (${want})` };
  }
  const chosen = best(versioned);
  if (chosen.length > 1) {
    return { op: chosen[0].op, problem: `${method} ${path} matches ${chosen.length} operations: ${chosen.map((h) => `${h.op.operationId} (${h.op.file})`).join(', ')}` };
  }
  return { op: chosen[0].op, values: chosen[0].values };
}

// Checks one request; returns the list of broken rules (empty: it conforms).
export function checkRequest(specs, { method, path, query, headers, body }) {
  const match = matchOperation(specs, method, path, query);
  if (match.problem) return { op: match.op, problems: [match.problem] };
  const { op, values } = match;
  const problems = [];
  const declared = new Set(op.params.filter((p) => p.in === 'query').map((p) => p.name));
  for (const k of Object.keys(op.fixedQuery)) declared.add(k);
  for (const k of new Set(query.keys())) {
    if (!declared.has(k)) problems.push(`unknown query parameter '${k}'`);
  }
  for (const p of op.params) {
    if (p.in === 'query') {
      const v = query.get(p.name);
      if (v === null) { if (p.required) problems.push(`missing required query parameter '${p.name}'`); continue; }
      for (const e of specs.validateParam(p, v)) problems.push(`query parameter '${p.name}'='${v}': ${e}`);
    } else if (p.in === 'path') {
      for (const e of specs.validateParam(p, values[p.name])) problems.push(`path parameter '${p.name}'='${values[p.name]}': ${e}`);
    } else if (p.in === 'header') {
      const v = headers[p.name.toLowerCase()];
      if (v === undefined) { if (p.required) problems.push(`missing required header '${p.name}'`); continue; }
      for (const e of specs.validateParam(p, v)) problems.push(`header '${p.name}': ${e}`);
    }
  }
  const bodyParam = op.params.find((p) => p.in === 'body');
  const text = body.length ? body.toString('utf8') : '';
  if (!bodyParam) {
    if (text.trim()) problems.push('a request body, which the operation does not take');
  } else if (!text.trim()) {
    if (bodyParam.required) problems.push(`missing required body '${bodyParam.name}'`);
  } else {
    let json;
    try { json = JSON.parse(text); } catch { problems.push('the request body is not JSON'); }
    if (json !== undefined) for (const e of specs.validateRequestBody(`${bodyParam.url}/schema`, json)) problems.push(`request body ${e}`);
  }
  const filter = query.get('$filter');
  if (filter !== null && op.filterFields) {
    try {
      for (const c of filterClauses(filter)) {
        const ops = op.filterFields[c.field];
        if (!ops) problems.push(`$filter field '${c.field}' is not one the operation lists for filtering (${Object.keys(op.filterFields).join(', ')})`);
        else if (ops.length && !ops.includes(c.op)) problems.push(`$filter operator '${c.op}' is not supported on '${c.field}' (${ops.join(', ')})`);
      }
    } catch (e) { problems.push(e.message); }
  }
  return { op, problems };
}

// Checks one answer of an operation; returns the list of broken rules.
export function checkResponse(specs, op, { status, body, method }) {
  const r = op.responses[String(status)] ?? op.responses.default;
  if (!r) return [`status ${status} is not a response of ${op.operationId} (${Object.keys(op.responses).join(', ')})`];
  const text = body.length ? body.toString('utf8') : '';
  if (!r.schemaUrl || method === 'HEAD') return [];
  if (!text.trim()) return [`status ${status} of ${op.operationId} has a schema but the answer has no body`];
  let json;
  try { json = JSON.parse(text); } catch { return [`the answer (status ${status}) is not JSON`]; }
  return specs.validateResponseBody(r.schemaUrl, json).map((e) => `response ${status} body ${e}`);
}

function refusal(status, res, message, details) {
  const text = JSON.stringify({ error: { code: GATE_CODE, message, details: details.map((d) => ({ code: GATE_CODE, message: d })) } });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    stream.on('data', (c) => { n += c.length; if (n <= BODY_CAP) chunks.push(c); });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

// The checks run in two worker threads (one for requests, one for answers), so that compiling a
// schema the first time it is used never holds up the forwarding of requests the client sends
// together: their overlap at apim-sim is what several tests measure. The two workers (and so
// their compiled schemas) are shared by every gate of the process, and do not keep it alive.
let checkers;
function sharedCheckers() {
  checkers ??= { requests: checker(), answers: checker() };
  return checkers;
}
function checker() {
  const w = new Worker(new URL('./spec_gate_worker.mjs', import.meta.url));
  const pending = new Map();
  let seq = 0;
  w.on('message', (m) => { const p = pending.get(m.id); pending.delete(m.id); if (m.error) p.reject(new Error(m.error)); else p.resolve(m); });
  w.on('error', (e) => { for (const p of pending.values()) p.reject(e); pending.clear(); });
  w.unref(); // after the listeners, which ref it again
  const ask = (msg) => new Promise((resolve, reject) => { const id = ++seq; pending.set(id, { resolve, reject }); w.postMessage({ ...msg, id }); });
  return { ask, ready: ask({ kind: 'ready' }) };
}

// Starts the gate on 127.0.0.1 port 0 in front of `upstream` (an http:// URL). Resolves with
// { url, stats(), violations, operations, takeViolations(), stop() }.
export async function startGate(upstream) {
  const target = new URL(upstream);
  const { requests, answers } = sharedCheckers();
  await Promise.all([requests.ready, answers.ready]);
  // a new connection per request: a kept-alive one that apim-sim closed while idle would fail the
  // next request with a reset the client never caused
  const agent = new http.Agent({ keepAlive: false });
  const stats = { requests: 0, responses: 0, exempt: 0, expected: 0, faulted: 0 };
  const violations = [];
  const operations = []; // { operationId, apiVersion, version, method, template, file, client } of every request that conformed
  let gateUrl;
  const server = http.createServer(async (req, res) => {
    try {
      const u = new URL(req.url, 'http://gate');
      const body = await readBody(req);
      const headers = { ...req.headers };
      const offSpec = headers[OFF_SPEC_HEADER] === 'off-spec';
      delete headers[OFF_SPEC_HEADER];
      let op = null;
      if (exemptPath(u.pathname)) stats.exempt++;
      else {
        stats.requests++;
        const c = await requests.ask({ kind: 'request', method: req.method, path: u.pathname, search: u.search, headers, body: body.toString('utf8') });
        op = c.op;
        const where = `${req.method} ${u.pathname}${u.search}`;
        if (offSpec) {
          if (!c.problems.length) {
            violations.push({ where, operationId: op?.operationId, problems: ['marked off-spec by the test, but the spec gate finds it conforms'] });
          } else stats.expected++;
        } else if (c.problems.length) {
          violations.push({ where, operationId: op?.operationId, problems: c.problems });
          refusal(400, res, `The request does not conform to ${op?.operationId ?? "Microsoft's specs"} (${op?.file ?? 'tests/fixtures/third_party/azure-specs'}): ${c.problems.join('; ')}`, c.problems);
          return;
        } else {
          // client: sent by the binary under test (its User-Agent), not by a test's own fetch()
          operations.push({ ...op, client: /^azure-ai-gateway-mcp\//.test(headers['user-agent'] ?? '') });
        }
      }
      delete headers['content-length'];
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url,
        headers: { ...headers, 'content-length': body.length }, agent, insecureHTTPParser: true }); // fault rules may spoil headers
      up.on('error', () => res.socket?.destroy()); // apim-sim dropped the connection (a fault): drop ours too
      up.on('response', async (ur) => {
        try {
          let answer = await readBody(ur);
          const h = { ...ur.headers };
          delete h['content-length']; delete h['transfer-encoding']; delete h.connection; delete h['keep-alive'];
          for (const k of ['location', 'azure-asyncoperation']) if (typeof h[k] === 'string') h[k] = h[k].split(upstream).join(gateUrl);
          if (answer.length && answer.includes(upstream)) answer = Buffer.from(answer.toString('utf8').split(upstream).join(gateUrl));
          if (op && ur.headers['x-apim-sim-fault']) stats.faulted++; // a body a test's fault rule wrote: the test's, not apim-sim's
          else if (op) {
            stats.responses++;
            const { problems } = await answers.ask({ kind: 'response', index: op.index, status: ur.statusCode, body: answer.toString('utf8'), method: req.method });
            if (problems.length) {
              violations.push({ where: `answer ${ur.statusCode} to ${req.method} ${u.pathname}${u.search}`, operationId: op.operationId, problems });
              refusal(502, res, `apim-sim's answer does not conform to ${op.operationId} (${op.file}): ${problems.join('; ')}`, problems);
              return;
            }
          }
          try {
            res.writeHead(ur.statusCode, { ...h, 'content-length': answer.length });
          } catch {
            // a header a test's fault rule spoiled on purpose (control characters), which Node will
            // not write: passed on byte for byte, as apim-sim sent it
            const head = [`HTTP/1.1 ${ur.statusCode} ${ur.statusMessage ?? ''}`];
            for (let i = 0; i < ur.rawHeaders.length; i += 2) {
              if (!/^(content-length|transfer-encoding|connection|keep-alive)$/i.test(ur.rawHeaders[i])) head.push(`${ur.rawHeaders[i]}: ${ur.rawHeaders[i + 1]}`);
            }
            head.push(`content-length: ${answer.length}`, 'connection: close');
            res.socket.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), req.method === 'HEAD' ? Buffer.alloc(0) : answer]));
            return;
          }
          res.end(req.method === 'HEAD' ? undefined : answer);
        } catch (e) { fail(req, res, e); }
      });
      up.end(body);
    } catch (e) { fail(req, res, e); }
  });
  const fail = (req, res, e) => {
    violations.push({ where: `${req.method} ${req.url}`, problems: [`spec gate error: ${e.stack ?? e}`] });
    if (!res.headersSent) refusal(500, res, `spec gate error: ${e.message}`, []);
  };
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateUrl = `http://127.0.0.1:${server.address().port}`;
  return {
    url: gateUrl,
    stats: () => ({ ...stats, violations: violations.length }),
    violations,
    operations,
    takeViolations: () => violations.splice(0),
    async stop() {
      await new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); });
      agent.destroy();
    },
  };
}

// What a worker sends back about an operation.
export function opSummary(op) {
  return { index: op.index, operationId: op.operationId, apiVersion: op.apiVersion, version: op.version, method: op.method, template: op.template, file: op.file };
}

// Totals of every gate this process ran, printed when it exits.
export const totals = { requests: 0, responses: 0, violations: 0, gates: 0 };
let printed = false;
export function addTotals(s) {
  totals.requests += s.requests; totals.responses += s.responses; totals.violations += s.violations; totals.gates++;
  if (!printed) {
    printed = true;
    process.on('exit', () => {
      process.stdout.write(`# spec gate: ${totals.requests} requests and ${totals.responses} responses checked against ` +
        `Microsoft's specs in ${totals.gates} simulator run(s); ${totals.violations} violation(s)\n`);
    });
  }
}
