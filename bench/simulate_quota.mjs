// simulate_quota: 24 h of per-minute traffic for 20 teams in one call — the requests it makes, the
// sequential round trips to ARM / Log Analytics (with 50 ms added to every answer, requests whose times
// overlap in the simulator's log form one round), the server's CPU time for the call (utime + stime of the process, from
// /proc/PID/schedstat), the wall time and the result size. Usage (from the repository root, after building):
//   node bench/simulate_quota.mjs build/azure-ai-gateway-mcp build/apim-sim
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const { Client } = await import(require.resolve('@modelcontextprotocol/sdk/client/index.js'));
const { StdioClientTransport } = await import(require.resolve('@modelcontextprotocol/sdk/client/stdio.js'));

const [bin, simBin] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'aigw-bench-simq-'));
const d = JSON.parse(readFileSync(new URL('../src/sim/scenarios/demo.json', import.meta.url), 'utf8'));
const teams = Array.from({ length: 20 }, (_, i) => `team-${String(i + 1).padStart(2, '0')}`);
for (const [i, t] of teams.entries()) {
  d.subscriptions.push({ name: t, properties: { displayName: `Team ${t}`, scope: '/products/aoai', ownerId: `/users/${t}`,
    state: 'active', createdDate: '2026-01-15T09:00:00Z' }, primary_key: `k-${t}-1`, secondary_key: `k-${t}-2` });
  d.traffic.demand_tpm[t] = 20000 + 9000 * i;
}
writeFileSync(join(dir, 'scenario.json'), JSON.stringify(d));
const sim = spawn(simBin, ['--port', '0', '--scenario', join(dir, 'scenario.json')], { stdio: ['ignore', 'pipe', 'ignore'] });
const port = Number(await new Promise((r) => createInterface({ input: sim.stdout }).once('line', r)));
const url = `http://127.0.0.1:${port}`;
const ctl = async (m, p, b) => (await fetch(url + p, { method: m, headers: { 'content-type': 'application/json' }, body: b && JSON.stringify(b) })).json().catch(() => null);
const env = {
  PATH: process.env.PATH, HOME: dir, AIGW_AUDIT_LOG: join(dir, 'audit.jsonl'),
  AZURE_TENANT_ID: '11111111-1111-1111-1111-111111111111', AZURE_CLIENT_ID: 'aaaaaaaa-0000-0000-0000-000000000001',
  AZURE_CLIENT_SECRET: 'demo-contributor-secret', AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555',
  APIM_RESOURCE_GROUP: 'rg-aigw-demo', APIM_SERVICE_NAME: 'apim-aigw-demo', AZURE_AUTHORITY_HOST: url,
  AZURE_RESOURCE_MANAGER_ENDPOINT: url, AIGW_LOG_ANALYTICS_ENDPOINT: url,
};
const transport = new StdioClientTransport({ command: bin, env, stderr: 'ignore' });
const client = new Client({ name: 'bench', version: '1' });
await client.connect(transport);
// CPU time of the server process in ms: the sum over its threads of the first field of
// /proc/PID/task/TID/schedstat (ns on a CPU; /proc/PID/schedstat alone is the main thread's, and the
// tools run on worker threads). Cross-checked with utime + stime of /proc/PID/stat (10 ms ticks).
const cpuMs = () => readdirSync(`/proc/${transport.pid}/task`).reduce((n, t) => {
  try { return n + Number(readFileSync(`/proc/${transport.pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6; } catch { return n; }
}, 0);
const tickMs = () => { const f = readFileSync(`/proc/${transport.pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const args = { subscription_ids: teams, tpm: 100000 };
await client.callTool({ name: 'list_apis', arguments: {} }); // tokens fetched, engine loaded
// Round trips of one call: with 50 ms added to every answer, requests in flight together overlap in the log.
async function roundTrips(what) {
  await ctl('POST', '/_sim/faults', { latency_ms: 50 });
  await ctl('DELETE', '/_sim/counters');
  const t0 = performance.now();
  await client.callTool({ name: 'simulate_quota', arguments: args });
  const lat = performance.now() - t0;
  const reqs = (await ctl('GET', '/_sim/requests')).requests.filter((q) => q.auth === 'bearer').sort((a, b) => a.start_us - b.start_us);
  const rounds = [];
  const short = (p) => p.replace(/^.*\/service\/[^/]+\/?/, '').replace(/^\/subscriptions\/.*\/workspaces\//, 'workspaces/');
  for (const q of reqs) {
    const r = rounds.find((x) => q.start_us < x.end);
    if (r) { r.n.push(short(q.path)); r.end = Math.max(r.end, q.end_us); } else rounds.push({ end: q.end_us, n: [short(q.path)] });
  }
  console.log(`${what}, with 50 ms per answer: wall ${lat.toFixed(0)} ms, ${reqs.length} requests in ${rounds.length} sequential rounds:`);
  for (const r of rounds) console.log(`  ${r.n.join(', ')}`);
  await ctl('POST', '/_sim/faults', { latency_ms: 0 });
}
// cold: the first gathering of this process
await roundTrips('first call');
const runs = [];
const tick0 = tickMs();
for (let i = 0; i < 21; i++) {
  await ctl('DELETE', '/_sim/counters');
  const c0 = cpuMs(), t0 = performance.now();
  const r = await client.callTool({ name: 'simulate_quota', arguments: args });
  const ms = performance.now() - t0, cpu = cpuMs() - c0;
  if (r.isError) throw new Error(r.content[0].text);
  const reqs = (await ctl('GET', '/_sim/requests')).requests.filter((q) => q.auth === 'bearer').sort((a, b) => a.start_us - b.start_us);
  const rows = r.structuredContent.results.reduce((n, x) => n + x.minutes_observed, 0);
  runs.push({ ms, cpu, requests: reqs.length, rows, bytes: JSON.stringify(r).length,
    paths: reqs.map((q) => `${q.method} ${q.path.replace(/^.*\/service\/[^/]+/, '{service}')}`) });
}
const tickMean = (tickMs() - tick0) / 21;
const med = (k) => runs.map((x) => x[k]).sort((a, b) => a - b)[10];
const mean = (k) => runs.reduce((n, x) => n + x[k], 0) / runs.length;
console.log(`simulate_quota, 20 teams x 24 h (${runs[0].rows} team-minutes): median of 21: wall ${med('ms').toFixed(1)} ms, ` +
  `server CPU ${med('cpu').toFixed(1)} ms (median of 21; mean by utime+stime ${tickMean.toFixed(1)} ms), ` +
  `${runs[0].requests} requests, ` +
  `result ${runs[0].bytes} bytes`);
// the part that is not the 24 h of data: the same call over the last 2 minutes (gathering, the 20 plans and proofs)
const short = [];
for (let i = 0; i < 21; i++) {
  const until = new Date(Math.floor(Date.now() / 60000) * 60000);
  const c0 = cpuMs();
  const r = await client.callTool({ name: 'simulate_quota', arguments: { ...args, since: new Date(until - 120000).toISOString(), until: until.toISOString() } });
  if (r.isError) throw new Error(r.content[0].text);
  short.push(cpuMs() - c0);
}
console.log(`the same over 2 minutes of data: server CPU ${short.sort((a, b) => a - b)[10].toFixed(1)} ms (median of 21)`);
// warm: the process has gathered the same subscriptions before (the usual flow), so the reads the
// earlier gathering needed go out with the first round
await roundTrips('repeated call');
// the part that is not simulate_quota's own: the subscriptions and their policies (list_subscriptions)
const ls = [];
for (let i = 0; i < 21; i++) { const c0 = cpuMs(); await client.callTool({ name: 'list_subscriptions', arguments: {} }); ls.push(cpuMs() - c0); }
console.log(`list_subscriptions on the same service: server CPU ${ls.sort((a, b) => a - b)[10].toFixed(1)} ms (median of 21)`);
await client.close();
sim.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
