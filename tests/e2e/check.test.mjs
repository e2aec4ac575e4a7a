// check: `azure-ai-gateway-mcp --check` against apim-sim, as a user runs it — it reads the
// identity's rights from Permissions_ListForResource and reports them per tool family, and it never
// sends a write (issue 13 item 1: the old probe was a PATCH of the service).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { AIGW_BIN, startSim, simEnv, checkSanitizers, sanitizerEnv, DEMO } from './lib/harness.mjs';

after(checkSanitizers);

function runCheck(env) {
  return new Promise((resolve) => {
    const p = spawn(AIGW_BIN, ['--check'], {
      env: { ...sanitizerEnv(), PATH: process.env.PATH, HOME: '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

test('--check reports rights per tool family from the permissions list and writes nothing', async () => {
  const sim = await startSim();
  try {
    const cases = [
      { who: DEMO.contributor, want: [/write policies: allowed/, /write backends: allowed/, /read metrics:   allowed/, /writes:     allowed/] },
      { who: DEMO.reader, want: [/read:           allowed/, /write policies: NOT allowed \(lacks Microsoft\.ApiManagement\/service\/policies\/write; grant API Management Service Contributor\)/, /writes:     NOT allowed/] },
    ];
    for (const { who, want } of cases) {
      await sim.resetCounters();
      const r = await runCheck(simEnv(sim, { AZURE_CLIENT_ID: who.id, AZURE_CLIENT_SECRET: who.secret }));
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, '', 'stdout carries only JSON-RPC frames: nothing in --check');
      for (const w of want) assert.match(r.err, w);
      assert.doesNotMatch(r.err, /warning:/);
      const routes = Object.keys((await sim.counters()).routes);
      assert.ok(routes.some((k) => k.startsWith('GET ') && k.includes('/providers/Microsoft.Authorization/permissions')), routes.join('\n'));
      assert.deepEqual(routes.filter((k) => k.includes('/subscriptions/') && !k.startsWith('GET ')), [], 'no write reaches ARM');
    }
  } finally {
    await sim.stop();
  }
});
