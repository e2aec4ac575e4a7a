// failover_drill: rehearse_failover end to end against apim-sim running its clock R times faster
// than the wall (the server's AIGW_DRILL_SPEEDUP=R): a 2-minute drill on the demo pool moves the
// traffic from East US to West Europe (Log Analytics per backend and minute), reports progress,
// and leaves the pool byte-identical; a dry run writes nothing; a second drill on the pool is
// refused while other calls are answered; cancelling, SIGTERM, stdin closing, revert_change and
// restore_now put the member back at once; after kill -9 the next process puts it back; a pool
// changed by someone else meanwhile is reported, not overwritten.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { AIGW_BIN, startSim, simEnv, connect, tmpDir, checkSanitizers, waitExit, DEMO, rawServer, initializeRaw } from './lib/harness.mjs';

after(checkSanitizers);

const RATE = 60;
const API = 'aoai-completions';
const SVC = `/subscriptions/${DEMO.subscription}/resourceGroups/${DEMO.resourceGroup}` +
  `/providers/Microsoft.ApiManagement/service/${DEMO.service}`;
const POOL = `${SVC}/backends/aoai-pool`;
const DRILL = { api_id: API, backend_id: 'eastus-aoai', minutes: 2 };
const ok = (r) => { assert.ok(!r.isError, `tool failed: ${r.content?.map((c) => c.text).join('\n')}`); return r.structuredContent; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const members = async (sim) => (await sim.state(POOL)).resource.properties.pool.services.map((s) => s.id.split('/').pop());

async function setup({ env = {}, tmp } = {}) {
  const dir = tmp ?? tmpDir('aigw-drill-');
  const sim = await startSim();
  await sim.clock({ rate: RATE });
  const audit = join(dir.dir, 'audit.jsonl');
  const fullEnv = simEnv(sim, { AIGW_AUDIT_LOG: audit, AIGW_DRILL_SPEEDUP: String(RATE), ...env });
  const conn = await connect({ env: fullEnv });
  return { sim, conn, client: conn.client, audit, dir, env: fullEnv,
    call: (name, args, opts) => conn.client.callTool({ name, arguments: args }, undefined, opts),
    async close() { await conn.close().catch(() => {}); await sim.stop(); dir.cleanup(); } };
}

// Waits until cond() is true (polling), failing after ms.
async function until(cond, ms = 20000, what = 'condition') {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const journal = (audit) => existsSync(audit) ? readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];

test('a 2-minute drill on the demo pool: East US share to ~0, West Europe carries the load, progress, pool byte-identical after', async () => {
  const t = await setup();
  try {
    const before = JSON.stringify((await t.sim.state(POOL)).resource);
    // the dry run shows the plan and writes nothing
    const dry = ok(await t.call('rehearse_failover', { ...DRILL, dry_run: true }));
    assert.equal(dry.applied, false);
    assert.match(dry.diff, /-eastus-aoai priority 1/);
    assert.deepEqual(dry.plan.serving, ['westeurope-aoai']);
    assert.equal(JSON.stringify((await t.sim.state(POOL)).resource), before, 'a dry run writes nothing');
    assert.equal(journal(t.audit).length, 0, 'a dry run journals nothing');

    const progress = [];
    const seen = [];
    const drill = t.call('rehearse_failover', DRILL, { onprogress: (p) => progress.push(p), timeout: 120000 });
    // while it runs the member is out, and the journal holds the open drill with its deadline
    await until(async () => !(await members(t.sim)).includes('eastus-aoai'), 20000, 'the member to be taken out');
    seen.push(await members(t.sim));
    const open = journal(t.audit).find((r) => r.status === 'open');
    assert.ok(open, 'the open drill is journaled');
    assert.equal(open.drill.backend_id, 'eastus-aoai');
    assert.ok(Date.parse(open.drill.deadline) - Date.parse(open.drill.start) === 120000, 'deadline = start + 2 min (gateway clock)');
    assert.ok(open.resources[0].before.properties.pool.services.length === 2, 'the complete undo is journaled');
    const r = await drill;
    const s = ok(r);
    assert.equal(s.restored, true);
    assert.equal(s.applied, true);
    assert.equal(JSON.stringify((await t.sim.state(POOL)).resource), before, 'the pool is byte-identical afterwards');
    assert.ok(progress.length >= 2, `progress notifications during the drill (${progress.length})`);
    assert.ok(progress.some((p) => /westeurope-aoai/.test(p.message)), JSON.stringify(progress));
    const ev = s.evidence;
    if (process.env.DRILL_DEBUG) console.log(JSON.stringify(ev, null, 1), r.content[0].text, JSON.stringify(progress));
    assert.ok(ev.before, 'traffic before the drill');
    assert.ok(ev.before.by_backend['eastus-aoai'].share > 0.9, `East US carried the load before: ${JSON.stringify(ev.before)}`);
    assert.ok(ev.during, 'traffic during the drill');
    // the last minute of the drill: East US ~0, West Europe all of it
    const last = ev.series.filter((m) => Date.parse(m.t) >= Date.parse(ev.start) && Date.parse(m.t) + 60000 <= Date.parse(ev.end));
    assert.ok(last.length >= 1, JSON.stringify(ev.series));
    for (const m of last) {
      assert.equal(m.requests['eastus-aoai'], 0, `East US served nothing once out: ${JSON.stringify(m)}`);
      assert.ok(m.requests['westeurope-aoai'] > 0, `West Europe carried the load: ${JSON.stringify(m)}`);
    }
    assert.ok(ev.shift_visible_within_s > 0 && ev.shift_visible_within_s <= 120, `shift time ${ev.shift_visible_within_s}`);
    assert.ok(ev.errors_during && Number.isInteger(ev.errors_during['5xx']));
    assert.equal(ev.after, null, 'the minutes after the drill are not in yet');
    assert.ok(ev.not_in_yet.includes('after'));
    assert.match(ev.note, /get_metrics/);
    assert.match(r.content[0].text, /restored: true/);
    // the journal closes the drill
    const closes = journal(t.audit).filter((x) => x.closes === s.change_id);
    assert.equal(closes.length, 1);
    assert.equal(closes[0].restored, true);
  } finally {
    await t.close();
  }
});
