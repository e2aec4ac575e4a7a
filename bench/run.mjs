// run: the benchmark of issue 15. Drives the real binary and apim-sim (and, for comparison, a
// minimal server on the official TypeScript MCP SDK, bench/ts_server.mjs) and prints ONE markdown
// table; with --write it replaces the table between the bench markers of docs/performance.md.
// With --smoke (.ci/run) it makes every measurement once, small, and only checks that each call
// succeeds: timing is never asserted.
//   node bench/run.mjs [--smoke] [--write] build/azure-ai-gateway-mcp build/apim-sim
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { largeScenario } from './lib/scenario.mjs';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const { Client } = await import(require.resolve('@modelcontextprotocol/sdk/client/index.js'));
const { StdioClientTransport } = await import(require.resolve('@modelcontextprotocol/sdk/client/stdio.js'));

const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')));
const [bin, simBin] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const SMOKE = flags.has('--smoke');
const tmp = mkdtempSync(join(tmpdir(), 'aigw-bench-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kib = (kb) => `${(kb / 1024).toFixed(2)} MiB`;
const status = (pid) => readFileSync(`/proc/${pid}/status`, 'utf8');
const hwm = (pid) => Number(status(pid).match(/VmHWM:\s+(\d+)/)[1]);
const cpuMs = (pid) => { // utime + stime of the process, in ms
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
function check(r, what) {
  if (r.isError) throw new Error(`${what} failed: ${r.content?.[0]?.text}`);
  return r;
}

// ---- start-up: spawn -> initialize answered, RSS after tools/list --------------------------
const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } };
function startOnce(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { env: { PATH: process.env.PATH, HOME: tmp }, stdio: ['pipe', 'pipe', 'ignore'] });
    const rl = createInterface({ input: p.stdout });
    let initMs = 0;
    rl.on('line', (line) => {
      const m = JSON.parse(line);
      if (m.id === 0) {
        initMs = performance.now() - t0;
        p.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
        p.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) + '\n');
      } else if (m.id === 1) {
        const rss = hwm(p.pid);
        p.stdin.end();
        p.once('exit', () => resolve({ initMs, rss, listBytes: JSON.stringify(m.result.tools).length }));
      }
    });
    p.once('error', reject);
    p.stdin.write(JSON.stringify(INIT) + '\n');
  });
}
async function startup(cmd, args, n) {
  const runs = [];
  for (let i = 0; i < n; i++) runs.push(await startOnce(cmd, args));
  return { initMs: median(runs.map((r) => r.initMs)), rss: Math.max(...runs.map((r) => r.rss)),
    listBytes: runs[0].listBytes };
}

// ---- a simulator and a session ------------------------------------------------------------
async function startSim(scenario) {
  const args = ['--port', '0'];
  if (scenario) {
    const file = join(tmp, `scenario-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(scenario));
    args.push('--scenario', file);
  }
  const proc = spawn(simBin, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = Number(await new Promise((r) => createInterface({ input: proc.stdout }).once('line', r)));
  const url = `http://127.0.0.1:${port}`;
  const ctl = async (m, p, b) => {
    const res = await fetch(url + p, { method: m, headers: b ? { 'content-type': 'application/json' } : {},
      body: b && JSON.stringify(b) });
    const t = await res.text();
    return t ? JSON.parse(t) : null;
  };
  return { url, ctl, pid: proc.pid, stop: () => proc.kill('SIGTERM') };
}
async function session(sim) {
  const env = { PATH: process.env.PATH, HOME: tmp, AIGW_AUDIT_LOG: join(tmp, 'audit.jsonl'),
    AZURE_TENANT_ID: '11111111-1111-1111-1111-111111111111', AZURE_CLIENT_ID: 'aaaaaaaa-0000-0000-0000-000000000001',
    AZURE_CLIENT_SECRET: 'demo-contributor-secret', AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555',
    APIM_RESOURCE_GROUP: 'rg-aigw-demo', APIM_SERVICE_NAME: 'apim-aigw-demo', AZURE_AUTHORITY_HOST: sim.url,
    AZURE_RESOURCE_MANAGER_ENDPOINT: sim.url, AIGW_LOG_ANALYTICS_ENDPOINT: sim.url };
  const transport = new StdioClientTransport({ command: bin, env, stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return { client, pid: transport.pid, close: () => client.close() };
}

// Rounds of dependent requests in a request log: a new round starts once every request of the
// current one has ended (arm batches wait for all their requests).
function depth(reqs) {
  const arm = reqs.filter((q) => q.path.startsWith('/subscriptions/') || q.path.startsWith('/v1/'))
    .sort((a, b) => a.start_us - b.start_us);
  let rounds = 0, end = -1;
  for (const q of arm) {
    if (q.start_us >= end) { rounds++; end = q.end_us; } else end = Math.max(end, q.end_us);
  }
  return { rounds, requests: arm.length };
}

const TOOLS = [
  ['list_apis', {}],
  ['get_policy', { api_id: 'aoai-completions' }],
  ['list_subscriptions', { product_id: 'aoai' }],
  ['get_backend_pool', { api_id: 'aoai-completions' }],
  ['get_metrics', { api_id: 'aoai-completions', since: '24h' }],
  ['update_quota', { subscription_id: 'growth', tpm: 150000, dry_run: true }],
];
const THREE = [TOOLS[1], TOOLS[3], TOOLS[2]];
const TEN = [TOOLS[0], TOOLS[1], TOOLS[2], TOOLS[3], TOOLS[4], ['get_policy', { api_id: 'legacy-chat' }],
  ['list_subscriptions', {}], ['get_backend_pool', { api_id: 'legacy-chat' }], TOOLS[0], TOOLS[1]];

async function timed(client, name, args) {
  const t0 = performance.now();
  const r = check(await client.callTool({ name, arguments: args }), name);
  return { ms: performance.now() - t0, bytes: JSON.stringify(r).length };
}

const out = { tools: {} };
const reps = SMOKE ? 1 : 5;
const latencies = SMOKE ? [0, 50] : [0, 50, 100];

// start-up, ours and the TypeScript SDK server
out.ours = await startup(bin, [], SMOKE ? 3 : 40);
out.ts = await startup(process.execPath, [new URL('./ts_server.mjs', import.meta.url).pathname], SMOKE ? 1 : 10);

// tools on the demo scenario
{
  const sim = await startSim();
  const s = await session(sim);
  const t0 = performance.now();
  check(await s.client.callTool({ name: 'get_policy', arguments: { api_id: 'legacy-chat' } }), 'first call');
  out.firstCallMs = performance.now() - t0;
  for (const latency of latencies) {
    await sim.ctl('POST', '/_sim/faults', { latency_ms: latency, rules: [] });
    for (const [name, args] of TOOLS) {
      const runs = [];
      for (let i = 0; i < (latency ? Math.min(reps, 3) : reps); i++) {
        await sim.ctl('DELETE', '/_sim/counters');
        runs.push(await timed(s.client, name, args));
      }
      const t = (out.tools[name] ??= {});
      t[`ms${latency}`] = median(runs.map((r) => r.ms));
      t.bytes = runs[0].bytes;
      if (latency === latencies[latencies.length - 1]) Object.assign(t, depth((await sim.ctl('GET', '/_sim/requests')).requests));
    }
    if (latency === latencies[latencies.length - 1]) {
      for (const [label, set] of [['three', THREE], ['ten', TEN]]) {
        const alone = [];
        for (const [name, args] of set) {
          const runs = [];
          for (let i = 0; i < (SMOKE ? 1 : 3); i++) runs.push((await timed(s.client, name, args)).ms);
          alone.push(median(runs));
        }
        const together = [];
        for (let i = 0; i < (SMOKE ? 1 : 3); i++) {
          const t1 = performance.now();
          await Promise.all(set.map(([name, args]) => timed(s.client, name, args)));
          together.push(performance.now() - t1);
        }
        out[label] = { latency, slowest: Math.max(...alone), together: median(together) };
      }
    }
  }
  out.sessionRss = hwm(s.pid);
  await s.close();
  sim.stop();
}

// the TypeScript SDK server: one tool call
{
  const transport = new StdioClientTransport({ command: process.execPath,
    args: [new URL('./ts_server.mjs', import.meta.url).pathname], stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  const runs = [];
  for (let i = 0; i < (SMOKE ? 2 : 20); i++) {
    const t0 = performance.now();
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    runs.push(performance.now() - t0);
  }
  out.tsCallMs = median(runs.slice(1));
  out.tsSessionRss = hwm(transport.pid);
  await client.close();
}

// list_subscriptions at scale (zero added latency), 20 products with 50-branch policies
out.scale = [];
for (const n of SMOKE ? [100] : [100, 1000, 2004, 5000]) {
  const sim = await startSim(largeScenario({ subscriptions: n }));
  const s = await session(sim);
  check(await s.client.callTool({ name: 'get_policy', arguments: { api_id: 'legacy-chat' } }), 'warm-up');
  const row = { n };
  for (const [label, args] of [['default', {}], ['limit500', { limit: 500 }]]) {
    const ms = [], cpu = [], simCpu = [];
    let bytes = 0;
    for (let i = 0; i < (SMOKE ? 1 : 5); i++) {
      const c0 = cpuMs(s.pid), s0 = cpuMs(sim.pid);
      const r = await timed(s.client, 'list_subscriptions', args);
      cpu.push(cpuMs(s.pid) - c0);
      simCpu.push(cpuMs(sim.pid) - s0);
      ms.push(r.ms);
      bytes = r.bytes;
    }
    row[label] = { ms: median(ms), cpu: median(cpu), simCpu: median(simCpu), bytes };
  }
  row.rss = hwm(s.pid);
  out.scale.push(row);
  await s.close();
  sim.stop();
}
rmSync(tmp, { recursive: true, force: true });

// ---- the table -----------------------------------------------------------------------------
const f1 = (x) => x.toFixed(1);
const lines = [];
const L = (...cells) => lines.push(`| ${cells.join(' | ')} |`);
lines.push(`Measured ${new Date().toISOString().slice(0, 16)}Z on ${cpus().length} cores (${cpus()[0].model.trim()}), ` +
  `load average ${loadavg()[0].toFixed(1)} while measuring${SMOKE ? ' (smoke run: one sample each)' : ''}.`, '');
L('figure', 'azure-ai-gateway-mcp', 'TypeScript SDK server (1 tool)', 'target');
L('---', '---', '---', '---');
L('start → `initialize` answered (median)', `${f1(out.ours.initMs)} ms`, `${f1(out.ts.initMs)} ms`, '≤ 5 ms');
L('peak RSS before the first tool call', kib(out.ours.rss), kib(out.ts.rss), '≤ 8 MiB');
L('`tools/list` bytes (all definitions)', `${out.ours.listBytes}`, `${out.ts.listBytes}`, '≤ 12 KB');
L('one tool call (median; ours: `get_policy`, loopback)', `${f1(out.tools.get_policy.ms0)} ms`, `${f1(out.tsCallMs)} ms (echo)`, '');
L('peak RSS over the session', kib(out.sessionRss), kib(out.tsSessionRss), '');
L('first tool call (loads the engine, gets a token)', `${f1(out.firstCallMs)} ms`, '', '');
lines.push('');
L('tool', 'ARM requests', 'round trips', ...latencies.map((l) => `median, ${l} ms per answer`), 'result bytes');
L('---', '---', '---', ...latencies.map(() => '---'), '---');
for (const [name] of TOOLS) {
  const t = out.tools[name];
  L(`\`${name}\``, t.requests, t.rounds, ...latencies.map((l) => `${f1(t[`ms${l}`])} ms`), t.bytes);
}
lines.push('');
L(`concurrent reads, ${out.three.latency} ms per answer`, 'slowest alone', 'all together', 'ratio', 'target');
L('---', '---', '---', '---', '---');
L('three (`get_policy`, `get_backend_pool`, `list_subscriptions`)', `${f1(out.three.slowest)} ms`, `${f1(out.three.together)} ms`,
  (out.three.together / out.three.slowest).toFixed(2), '≤ 1.3');
L('ten (every read tool, some twice)', `${f1(out.ten.slowest)} ms`, `${f1(out.ten.together)} ms`,
  (out.ten.together / out.ten.slowest).toFixed(2), '≤ 1.5');
lines.push('');
L('`list_subscriptions`, 20 products × 50-branch policies, 0 ms added', 'wall (median)', 'server CPU',
  'apim-sim CPU', 'result bytes', 'with `limit: 500`', 'server peak RSS');
L('---', '---', '---', '---', '---', '---', '---');
for (const r of out.scale)
  L(`${r.n.toLocaleString('en')} subscriptions`, `${f1(r.default.ms)} ms`, `${r.default.cpu} ms`, `${r.default.simCpu} ms`,
    r.default.bytes, `${f1(r.limit500.ms)} ms, ${r.limit500.cpu} ms CPU, ${r.limit500.bytes} bytes`, kib(r.rss));
lines.push('', 'Targets: list_subscriptions over 2,004 subscriptions ≤ 250 ms wall and every result ≤ 100 KB (102,400 bytes).');
const table = lines.join('\n');
console.log(table);

if (flags.has('--write')) {
  const file = new URL('../docs/performance.md', import.meta.url);
  const doc = readFileSync(file, 'utf8');
  const begin = '<!-- bench:begin -->', end = '<!-- bench:end -->';
  const i = doc.indexOf(begin), j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error('docs/performance.md has no bench markers');
  writeFileSync(file, `${doc.slice(0, i + begin.length)}\n${table}\n${doc.slice(j)}`);
}
