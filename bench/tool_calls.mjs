// tool_calls: per tool, the wall time of a call and the ARM / token requests it makes, against a
// local apim-sim, first with no added latency and then with 50 ms added to every simulator
// answer (so wall time ≈ depth of dependent ARM calls × round trip shows). Also the peak RSS of
// the whole session. Usage (from the repository root, after building):
//   node bench/tool_calls.mjs build/azure-ai-gateway-mcp build/apim-sim
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const { Client } = await import(require.resolve('@modelcontextprotocol/sdk/client/index.js'));
const { StdioClientTransport } = await import(require.resolve('@modelcontextprotocol/sdk/client/stdio.js'));

const [bin, simBin] = process.argv.slice(2);
const sim = spawn(simBin, ['--port', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
const port = Number(await new Promise((r) => createInterface({ input: sim.stdout }).once('line', r)));
const url = `http://127.0.0.1:${port}`;
const ctl = async (m, p, b) => (await fetch(url + p, { method: m, headers: { 'content-type': 'application/json' }, body: b && JSON.stringify(b) })).json().catch(() => null);

const env = {
  PATH: process.env.PATH, HOME: '/tmp', AIGW_AUDIT_LOG: '/tmp/aigw-bench-audit.jsonl',
  AZURE_TENANT_ID: '11111111-1111-1111-1111-111111111111', AZURE_CLIENT_ID: 'aaaaaaaa-0000-0000-0000-000000000001',
  AZURE_CLIENT_SECRET: 'demo-contributor-secret', AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555',
  APIM_RESOURCE_GROUP: 'rg-aigw-demo', APIM_SERVICE_NAME: 'apim-aigw-demo', AZURE_AUTHORITY_HOST: url,
  AZURE_RESOURCE_MANAGER_ENDPOINT: url,
  AIGW_LOG_ANALYTICS_ENDPOINT: url,
};
const transport = new StdioClientTransport({ command: bin, env, stderr: 'ignore' });
const client = new Client({ name: 'bench', version: '1' });
await client.connect(transport);
const pid = transport.pid;
let peak = 0;
const sample = () => {
  try { peak = Math.max(peak, Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)[1])); } catch {}
};

const calls = [
  ['list_apis', {}],
  ['get_policy', { api_id: 'aoai-completions' }],
  ['list_subscriptions', { product_id: 'aoai' }],
  ['get_backend_pool', { api_id: 'aoai-completions' }],
  ['get_metrics', { api_id: 'aoai-completions', since: '24h' }],
  ['update_quota', { subscription_id: 'growth', tpm: 150000, dry_run: true }],
];

async function timed(name, args) {
  await ctl('DELETE', '/_sim/counters');
  const t0 = performance.now();
  const r = await client.callTool({ name, arguments: args });
  const ms = performance.now() - t0;
  sample();
  const c = await ctl('GET', '/_sim/counters');
  return { ms, arm: c.arm_requests, tokens: c.token_requests, bytes: JSON.stringify(r).length, err: r.isError };
}

const first = await timed('list_apis', {});
console.log(`first tool call (loads the engine, gets a token): ${first.ms.toFixed(1)} ms, ${first.arm} ARM + ${first.tokens} token request(s)`);
for (const latency of [0, 50]) {
  await ctl('POST', '/_sim/faults', { latency_ms: latency, rules: [] });
  console.log(`\n${latency} ms added per simulator answer:`);
  console.log('tool | median ms | ARM requests | token requests | result bytes');
  for (const [name, args] of calls) {
    const runs = [];
    for (let i = 0; i < (latency ? 3 : 9); i++) runs.push(await timed(name, args));
    runs.sort((a, b) => a.ms - b.ms);
    const m = runs[Math.floor(runs.length / 2)];
    console.log(`${name} | ${m.ms.toFixed(1)} | ${m.arm} | ${m.tokens} | ${m.bytes}${m.err ? ' (error)' : ''}`);
  }
}
console.log(`\npeak RSS of the server over the session: ${(peak / 1024).toFixed(2)} MiB`);
const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
const kb = (k) => Number(roll.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))[1]);
console.log(`now: RSS ${(kb('Rss') / 1024).toFixed(2)} MiB = shared clean library pages ${(kb('Shared_Clean') / 1024).toFixed(2)} MiB + private ${((kb('Private_Clean') + kb('Private_Dirty')) / 1024).toFixed(2)} MiB (heap and stacks ${(kb('Anonymous') / 1024).toFixed(2)} MiB); PSS ${(kb('Pss') / 1024).toFixed(2)} MiB`);
await client.close();
sim.kill('SIGTERM');
