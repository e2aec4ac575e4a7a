// harness: shared helpers of the end-to-end tests — start apim-sim on a free loopback port,
// start azure-ai-gateway-mcp under the official MCP SDK client (or raw, for protocol tests),
// collect stderr, and under the sanitizer build fail on any ASan/LSan/UBSan report.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGate, addTotals, OFF_SPEC_HEADER } from './spec_gate.mjs';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const AIGW_BIN = process.env.AIGW_BIN;
export const APIM_SIM_BIN = process.env.APIM_SIM_BIN;
export const SOURCE_DIR = process.env.AIGW_SOURCE_DIR;
// The demo scenario apim-sim ships (a fresh copy each call), and a busier one: ten times more, smaller
// requests and a product rate limit that does not bite, so a few seconds hold hundreds of requests.
export const demoScenario = () => JSON.parse(readFileSync(join(SOURCE_DIR, 'src/sim/scenarios/demo.json'), 'utf8'));
export function fastScenario(edit = (d) => d) {
  const d = demoScenario();
  d.traffic.tokens_per_request = 100;
  const aoai = d.products.find((p) => p.name === 'aoai');
  aoai.policy = aoai.policy.replace('calls="600"', 'calls="60000"');
  return edit(d);
}
// Vendored third-party data (tests/fixtures/third_party): Microsoft's specs and examples, the labs' policies.
export const THIRD_PARTY = fileURLToPath(new URL('../../fixtures/third_party/', import.meta.url));
export const SANITIZE = process.env.AIGW_SANITIZE === '1';

// The demo scenario's identities (fake, test-only values; see docs/apim-sim.md).
export const DEMO = {
  tenant: '11111111-1111-1111-1111-111111111111',
  contributor: { id: 'aaaaaaaa-0000-0000-0000-000000000001', secret: 'demo-contributor-secret' },
  reader: { id: 'aaaaaaaa-0000-0000-0000-000000000002', secret: 'demo-reader-secret' },
  subscription: '11111111-2222-3333-4444-555555555555',
  resourceGroup: 'rg-aigw-demo',
  service: 'apim-aigw-demo',
};

// Sanitizer reports go to files in this folder; checkSanitizers() fails the test if any appear.
const sanDir = mkdtempSync(join(tmpdir(), 'aigw-san-'));
export function sanitizerEnv() {
  if (!SANITIZE) return {};
  return {
    ASAN_OPTIONS: `log_path=${sanDir}/asan:log_exe_name=1:detect_leaks=1:abort_on_error=0`,
    UBSAN_OPTIONS: `log_path=${sanDir}/ubsan:print_stacktrace=1:halt_on_error=1`,
  };
}
export function checkSanitizers() {
  const reports = readdirSync(sanDir);
  const text = reports.map((f) => `${f}:\n${readFileSync(join(sanDir, f), "utf8")}`).join("\n");
  assert.equal(reports.length, 0, `sanitizer reports:\n${text}`);
}

function baseEnv() {
  // A clean environment: nothing of the developer's Azure login leaks into a test.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? tmpdir(), LANG: 'C.UTF-8', ...sanitizerEnv() };
  // the ThreadSanitizer run (tests/fuzz/run.sh tsan) halts the server at the first report
  if (process.env.TSAN_OPTIONS) env.TSAN_OPTIONS = process.env.TSAN_OPTIONS;
  return env;
}

export function waitExit(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve({ code: proc.exitCode, signal: proc.signalCode });
    else proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

// The operations docs/fidelity.md says the client calls ("Operations the client calls": a table of
// | `operationId` | version | request | tools | role |), as "operationId version" keys.
export function documentedOperations() {
  const doc = readFileSync(join(SOURCE_DIR, 'docs/fidelity.md'), 'utf8');
  const section = doc.split(/^## /m).find((x) => x.startsWith('Operations the client calls')) ?? '';
  const rows = [];
  for (const line of section.split('\n')) {
    const c = line.split('|').map((x) => x.trim());
    const m = /^`([A-Za-z_]+)`$/.exec(c[1] ?? '');
    if (m) rows.push({ operationId: m[1], version: c[2], request: c[3], tools: c[4].split(',').map((t) => t.trim().replace(/`/g, '')).filter(Boolean), role: c[5] });
  }
  return rows;
}

// Headers a test adds to a request it sends on purpose against Microsoft's specs (to test apim-sim's
// own error answers): the spec gate then lets it through, and fails the test if it does conform.
export const OFF_SPEC = { [OFF_SPEC_HEADER]: 'off-spec' };

// Starts apim-sim behind the spec gate (lib/spec_gate.mjs); resolves with { url (the gate's),
// port, simUrl (apim-sim itself), gate, proc, stderr(), control helpers, stop() }. stop() fails
// the test if the gate saw any request or answer that breaks Microsoft's specs. Without a gate
// (gate: false, or --tls-cert: the gate speaks plain HTTP) url is apim-sim's own.
export async function startSim(args = [], { gate: useGate = !args.includes('--tls-cert'), documented = true } = {}) {
  assert.ok(APIM_SIM_BIN, 'APIM_SIM_BIN is not set (run the tests through ctest)');
  const proc = spawn(APIM_SIM_BIN, ['--port', '0', ...args], { env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const rl = createInterface({ input: proc.stdout });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`apim-sim printed no port in 10 s; stderr:\n${err}`)), 10000);
    rl.once('line', (line) => { clearTimeout(timer); resolve(Number(line.trim())); });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`apim-sim exited (${code}):\n${err}`)); });
  });
  assert.ok(port > 0 && port < 65536, `apim-sim printed a bad port line: ${port}`);
  const simUrl = `${args.includes('--tls-cert') ? 'https' : 'http'}://127.0.0.1:${port}`;
  let gate = null;
  try {
    if (useGate) gate = await startGate(simUrl);
  } catch (e) {
    proc.kill('SIGTERM');
    throw e;
  }
  const url = gate ? gate.url : simUrl;
  const control = async (method, path, body) => {
    const res = await fetch(`${simUrl}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return {
    url,
    port,
    simUrl,
    gate,
    proc,
    stderr: () => err,
    counters: () => control('GET', '/_sim/counters'),
    resetCounters: () => control('DELETE', '/_sim/counters'),
    requests: async () => (await control('GET', '/_sim/requests')).requests,
    faults: (f) => control('POST', '/_sim/faults', f),
    clearFaults: () => control('DELETE', '/_sim/faults'),
    touch: (path) => control('POST', '/_sim/touch', { path }),
    state: (path) => control('GET', `/_sim/state?path=${encodeURIComponent(path)}`),
    addClient: (c) => control('POST', '/_sim/clients', c),
    clock: (c) => (c ? control('POST', '/_sim/clock', c) : control('GET', '/_sim/clock')), // the virtual clock
    ingestion: (c) => control('POST', '/_sim/ingestion', c), // how late rows and metric points arrive
    async stop() {
      if (gate) await gate.stop();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const { code, signal } = await waitExit(proc);
      assert.ok(code === 0 || signal === 'SIGTERM', `apim-sim ended with ${code ?? signal}:\n${err}`);
      if (gate) {
        const s = gate.stats();
        addTotals(s);
        const list = gate.violations.map((v) => `  ${v.where}${v.operationId ? ` [${v.operationId}]` : ''}: ${v.problems.join('; ')}`);
        assert.equal(list.length, 0, `the spec gate found ${list.length} request(s) or answer(s) that break Microsoft's specs:\n${list.join('\n')}`);
        // every operation the client called is in docs/fidelity.md (tests/e2e/fidelity.test.mjs checks the rest)
        const rows = new Set(documentedOperations().map((r) => `${r.operationId} ${r.version}`));
        const missing = [...new Set(gate.operations.filter((o) => o.client).map((o) => `${o.operationId} ${o.version}`))]
          .filter((k) => !rows.has(k));
        if (documented) assert.deepEqual(missing, [], `docs/fidelity.md "Operations the client calls" lacks operations the client called: ${missing.join(', ')}`);
      }
    },
  };
}

// Environment pointing the server at a running simulator as the demo contributor.
export function simEnv(sim, overrides = {}) {
  return {
    AZURE_TENANT_ID: DEMO.tenant,
    AZURE_CLIENT_ID: DEMO.contributor.id,
    AZURE_CLIENT_SECRET: DEMO.contributor.secret,
    AZURE_SUBSCRIPTION_ID: DEMO.subscription,
    APIM_RESOURCE_GROUP: DEMO.resourceGroup,
    APIM_SERVICE_NAME: DEMO.service,
    AZURE_AUTHORITY_HOST: sim.url,
    AZURE_RESOURCE_MANAGER_ENDPOINT: sim.url,
    AIGW_LOG_ANALYTICS_ENDPOINT: sim.url,
    ...overrides,
  };
}

// Starts the server under the SDK client. Resolves with { client, stderr(), close() }.
export async function connect({ env = {}, args = [], capabilities = {}, name = 'e2e' } = {}) {
  assert.ok(AIGW_BIN, 'AIGW_BIN is not set (run the tests through ctest)');
  const fullEnv = { ...baseEnv(), ...env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const transport = new StdioClientTransport({ command: AIGW_BIN, args, env: fullEnv, stderr: 'pipe' });
  let err = '';
  transport.stderr?.on('data', (d) => { err += d; });
  const client = new Client({ name, version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  return {
    client,
    transport,
    stderr: () => err,
    async close() {
      await client.close();
    },
  };
}

// Spawns the server without the SDK, for protocol tests: send(obj|string) and next() frames.
export function rawServer({ env = {}, args = [] } = {}) {
  const proc = spawn(AIGW_BIN, args, { env: { ...baseEnv(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  const frames = [];
  const waiters = [];
  proc.stderr.on('data', (d) => { err += d; });
  proc.stdout.on('data', (d) => {
    out += d;
    let i;
    while ((i = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      frames.push(line);
      while (waiters.length && frames.length) waiters.shift()(frames.shift());
    }
  });
  return {
    proc,
    stderr: () => err,
    send(msg) { proc.stdin.write((typeof msg === 'string' ? msg : JSON.stringify(msg)) + '\n'); },
    writeRaw(text) { proc.stdin.write(text); },
    // Next line of stdout, parsed; fails if it is not JSON.
    next(timeoutMs = 10000) {
      const take = (line) => {
        try { return JSON.parse(line); } catch { throw new Error(`stdout carried a non-JSON line: ${line}`); }
      };
      if (frames.length) return Promise.resolve(take(frames.shift()));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no frame in ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
        waiters.push((line) => { clearTimeout(timer); try { resolve(take(line)); } catch (e) { reject(e); } });
      });
    },
    pending: () => frames.slice(),
    async end() {
      proc.stdin.end();
      return waitExit(proc);
    },
  };
}

export async function initializeRaw(srv, version = '2025-06-18', capabilities = {}) {
  srv.send({ jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: version, capabilities, clientInfo: { name: 'raw', version: '1' } } });
  const r = await srv.next();
  srv.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return r;
}

export function tmpDir(prefix = 'aigw-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
