// windows: the Windows build (azure-ai-gateway-mcp.exe with its DLLs, from scripts/build-windows.sh)
// run under Debian's Wine by the official MCP SDK client, against apim-sim (the Linux build) on
// loopback: initialize, tools/list, a read tool, a dry-run write, an applied write and its
// revert (journaled to a Windows path), confirmation through elicitation, a failover drill (progress,
// put back), and no secret in any output, log line or journal. Run by scripts/test-windows.sh (ctest label `windows`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { DEMO, SOURCE_DIR, simEnv, startSim, tmpDir, waitExit } from '../lib/harness.mjs';

const WIN_DIR = process.env.AIGW_WINDOWS_DIR; // the unpacked zip: the .exe, the engine, the DLLs
const EXE = WIN_DIR && join(WIN_DIR, 'azure-ai-gateway-mcp.exe');
const WINE_RUN = join(SOURCE_DIR, 'scripts/wine-run.sh');

let sim;
let tmp;
const outputs = []; // every tool result and stderr, for the secret scan
before(async () => {
  assert.ok(EXE && existsSync(EXE), `no Windows build at ${EXE} (run scripts/test-windows.sh)`);
  // Boot Wine (its wineserver and service processes) with no pipe of ours: started from a test's
  // own process they would inherit its stdout and keep ctest waiting after the test ends.
  const boot = spawn(WINE_RUN, ['cmd', '/c', 'exit'], { stdio: 'ignore', env: { ...process.env } });
  const { code } = await waitExit(boot);
  assert.equal(code, 0, 'Wine starts');
  sim = await startSim();
  tmp = tmpDir('aigw-win-');
});
after(async () => {
  await sim?.stop();
  tmp?.cleanup();
});

// Z:\... is how Wine shows the Unix root to Windows programs.
const winPath = (p) => `Z:${p.replace(/\//g, '\\')}`;

async function session(capabilities = {}, { on = sim, env: extra = {} } = {}) {
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8',
    ...simEnv(on, { AIGW_AUDIT_LOG: winPath(join(tmp.dir, 'audit.jsonl')), ...extra }),
  };
  const transport = new StdioClientTransport({ command: WINE_RUN, args: [EXE], env, stderr: 'pipe' });
  let err = '';
  transport.stderr?.on('data', (d) => { err += d; });
  const client = new Client({ name: 'windows-e2e', version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  return {
    client,
    async call(name, args, opts) {
      const r = await client.callTool({ name, arguments: args }, undefined, opts);
      outputs.push(JSON.stringify(r));
      return r;
    },
    async close() {
      await client.close();
      outputs.push(err);
    },
  };
}

const ok = (r) => {
  assert.ok(!r.isError, r.content?.[0]?.text);
  return r.structuredContent;
};
const growthTpm = async (s) =>
  ok(await s.call('list_subscriptions', { product_id: 'aoai' })).subscriptions.find((x) => x.id === 'growth').tpm;

test('initialize and tools/list answer from the .exe', async () => {
  const s = await session();
  try {
    const info = s.client.getServerVersion();
    assert.equal(info.name, 'azure-ai-gateway-mcp');
    const { tools } = await s.client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of ['list_apis', 'list_subscriptions', 'update_quota', 'revert_change']) assert.ok(names.includes(n), n);
  } finally {
    await s.close();
  }
});

test('a read tool, a dry-run write, an applied write and its revert, journaled to a Windows path', async () => {
  const s = await session();
  try {
    const apis = ok(await s.call('list_apis', {}));
    assert.ok(apis.apis.some((a) => a.id === 'aoai-completions'));
    assert.equal(await growthTpm(s), 200000);

    const dry = ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 100000, dry_run: true }));
    assert.equal(dry.applied, false);
    assert.match(dry.diff, /tokens-per-minute="100000"/);
    assert.equal(await growthTpm(s), 200000, 'a dry run writes nothing');

    const applied = ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 100000 }));
    assert.equal(applied.applied, true);
    assert.ok(applied.change_id);
    assert.equal(await growthTpm(s), 100000);
    const journal = readFileSync(join(tmp.dir, 'audit.jsonl'), 'utf8');
    assert.ok(journal.includes(applied.change_id), 'the change is journaled');
    outputs.push(journal);

    ok(await s.call('revert_change', { change_id: applied.change_id }));
    assert.equal(await growthTpm(s), 200000, 'reverted');
  } finally {
    await s.close();
  }
});

test('elicitation: the write asks the human and goes through only on a literal yes', async () => {
  const asked = [];
  let answer = 'decline';
  const s = await session({ elicitation: {} });
  s.client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req.params.message);
    return answer === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: answer };
  });
  try {
    const declinedResult = await s.call('update_quota', { subscription_id: 'growth', tpm: 150000 });
    assert.equal(declinedResult.isError, true, 'a declined write is an error result (issue 20)');
    const declined = declinedResult.structuredContent;
    assert.equal(declined.applied, false);
    assert.equal(asked.length, 1);
    assert.match(asked[0], /growth: tpm 200000 -> 150000/);
    assert.equal(await growthTpm(s), 200000);
    answer = 'accept';
    const applied = ok(await s.call('update_quota', { subscription_id: 'growth', tpm: 150000 }));
    assert.equal(applied.applied, true);
    assert.equal(await growthTpm(s), 150000);
    ok(await s.call('revert_change', { change_id: applied.change_id }));
  } finally {
    await s.close();
  }
});

test('a failover drill from the .exe: progress, the gateway clock from Date, the pool as it was after', async () => {
  // its own simulator, its clock 60 times the wall's (the server's waits divided alike): 1 minute = 1 s
  const fast = await startSim();
  await fast.clock({ rate: 60 });
  const pool = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
    `/providers/Microsoft.ApiManagement/service/${DEMO.service}/backends/aoai-pool`;
  const s = await session({}, { on: fast, env: { AIGW_DRILL_SPEEDUP: '60' } });
  try {
    const before = JSON.stringify((await fast.state(pool)).resource);
    const ticks = [];
    const r = ok(await s.call('rehearse_failover', { api_id: 'aoai-completions', backend_id: 'eastus-aoai', minutes: 1 },
      { onprogress: (p) => ticks.push(p), timeout: 120000 }));
    assert.equal(r.restored, true, r.outcome);
    assert.ok(ticks.length >= 2, `progress notifications: ${ticks.length}`);
    assert.equal(JSON.stringify((await fast.state(pool)).resource), before, 'the pool as it was');
    const journal = readFileSync(join(tmp.dir, 'audit.jsonl'), 'utf8');
    assert.ok(journal.includes(`"closes":"${r.change_id}"`), 'the drill is closed in the journal');
  } finally {
    await s.close();
    await fast.stop();
  }
});

test('secret scan: no client secret and no token in any result, log line or journal', () => {
  assert.ok(outputs.length > 5);
  const all = outputs.join('\n');
  assert.ok(!all.includes(DEMO.contributor.secret), 'the client secret leaked');
  assert.doesNotMatch(all, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/, 'a token leaked');
});
