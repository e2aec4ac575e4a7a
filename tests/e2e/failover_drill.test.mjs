// failover_drill: rehearse_failover end to end against apim-sim running its clock R times faster
// than the wall (the server's AIGW_DRILL_SPEEDUP=R): a 2-minute drill on the demo pool moves the
// traffic from East US to West Europe (Log Analytics per backend and minute), reports progress,
// and leaves the pool byte-identical; a dry run writes nothing; a second drill on the pool is
// refused while other calls are answered; cancelling, SIGTERM (a second one ends the server at once,
// the next process restores), stdin closing, revert_change and
// restore_now put the member back at once; after kill -9 the next process puts it back; a pool
// changed by someone else meanwhile is reported, not overwritten.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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

// A raw server running a 30-minute drill on the demo pool, once the member is out; before = the pool before.
async function drillingServer(t) {
  const before = JSON.stringify((await t.sim.state(POOL)).resource);
  const srv = await raw(t);
  callRaw(srv, 1, 'rehearse_failover', { ...DRILL, minutes: 30 });
  await until(async () => !(await members(t.sim)).includes('eastus-aoai'), 20000, 'the member to be taken out');
  return { before, srv };
}

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
    // "during" counts whole minutes without the member (the take-out's minute also holds requests from before it)
    const s0 = Math.floor(Date.parse(ev.start) / 60000) * 60000;
    assert.equal(Date.parse(ev.during_from), Date.parse(ev.start) > s0 ? s0 + 60000 : s0);
    assert.equal(ev.during.by_backend['eastus-aoai'].requests, 0, `during: ${JSON.stringify(ev.during)}`);
    assert.equal(ev.during.by_backend['westeurope-aoai'].share, 1);
    assert.ok(Number.isInteger(ev.during.errors_429_from_backends));
    // once a whole minute without the member has begun, progress shows the remaining members serving all
    const late = progress.filter((p) => p.progress >= 60 && p.progress < 120);
    assert.ok(late.length >= 1 && late.every((p) => /remaining members served 100%/.test(p.message)), JSON.stringify(late));
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

// A raw server (for signals and kill -9) started on t's simulator and journal.
async function raw(t) {
  const srv = rawServer({ env: t.env });
  await initializeRaw(srv);
  return srv;
}
const callRaw = (srv, id, name, args) => srv.send({ jsonrpc: '2.0', id, method: 'tools/call',
  params: { name, arguments: args, _meta: { progressToken: `p${id}` } } });
const closesOf = (t, id) => journal(t.audit).filter((x) => x.closes === id);
const openDrill = (t) => journal(t.audit).find((r) => r.status === 'open');

test('no rows at all (logs not arrived, or no read access): the evidence says so instead of figures', async () => {
  const t = await setup();
  try {
    await t.sim.ingestion({ logs_delay_s: 3600 });
    const s = ok(await t.call('rehearse_failover', { ...DRILL, minutes: 1 }, { timeout: 120000 }));
    assert.equal(s.restored, true);
    assert.equal(s.evidence.before, null);
    assert.deepEqual(s.evidence.not_in_yet, ['before', 'during', 'after']);
    assert.match(s.evidence.note, /no rows at all .*cannot read the workspace/);
  } finally {
    await t.close();
  }
});

test('cancelling the drill puts the member back at once', async () => {
  const t = await setup();
  try {
    const before = JSON.stringify((await t.sim.state(POOL)).resource);
    const ac = new AbortController();
    const p = t.call('rehearse_failover', { ...DRILL, minutes: 30 }, { signal: ac.signal, timeout: 120000 });
    await until(async () => !(await members(t.sim)).includes('eastus-aoai'), 20000, 'the member to be taken out');
    ac.abort();
    await assert.rejects(p);
    // a 30-minute drill is 30 s of wall time here: back well before that
    await until(async () => JSON.stringify((await t.sim.state(POOL)).resource) === before, 5000, 'the pool to be restored');
    await until(() => closesOf(t, openDrill(t).change_id).length === 1, 5000, 'the close record');
    const c = closesOf(t, openDrill(t).change_id);
    assert.match(c[0].reason, /cancelled/);
    // the server still answers
    ok(await t.call('get_backend_pool', { api_id: API }));
  } finally {
    await t.close();
  }
});

test('SIGTERM during a drill: the member is put back, then the server ends by the signal', async () => {
  const t = await setup();
  try {
    const { before, srv } = await drillingServer(t);
    srv.proc.kill('SIGTERM');
    const { signal } = await waitExit(srv.proc);
    assert.equal(signal, 'SIGTERM');
    assert.equal(JSON.stringify((await t.sim.state(POOL)).resource), before, 'restored before the process ended');
    assert.match(closesOf(t, openDrill(t).change_id)[0].reason, /asked to stop/);
  } finally {
    await t.close();
  }
});

test('a second SIGTERM while the member is being put back ends the server at once; the next process puts it back', async () => {
  const t = await setup();
  try {
    const { before, srv } = await drillingServer(t);
    await t.sim.faults({ latency_ms: 5000 }); // the gateway hangs: the put-back cannot finish in time
    srv.proc.kill('SIGTERM');
    await sleep(300);
    srv.proc.kill('SIGTERM');
    const { signal } = await waitExit(srv.proc);
    assert.equal(signal, 'SIGTERM');
    await t.sim.clearFaults();
    assert.ok(!(await members(t.sim)).includes('eastus-aoai'), 'the process ended before putting the member back');
    const id = openDrill(t).change_id;
    assert.equal(closesOf(t, id).length, 0, 'the drill stays open in the journal');
    const conn = await connect({ env: t.env });
    try {
      await conn.client.callTool({ name: 'rehearse_failover', arguments: { api_id: API, restore_now: true } });
      await until(async () => JSON.stringify((await t.sim.state(POOL)).resource) === before, 20000, 'the next process to restore');
    } finally {
      await conn.close();
    }
  } finally {
    await t.close();
  }
});

test('stdin closing during a drill: the member is put back before the server exits', async () => {
  const t = await setup();
  try {
    const { before, srv } = await drillingServer(t);
    const { code } = await srv.end();
    assert.equal(code, 0);
    assert.equal(JSON.stringify((await t.sim.state(POOL)).resource), before, 'restored before the process ended');
  } finally {
    await t.close();
  }
});

test('kill -9 mid-drill: the journal holds the open drill and the next process puts the member back', async () => {
  const t = await setup();
  try {
    const before = JSON.stringify((await t.sim.state(POOL)).resource);
    const srv = await raw(t);
    callRaw(srv, 1, 'rehearse_failover', { ...DRILL, minutes: 2 });
    await until(async () => !(await members(t.sim)).includes('eastus-aoai'), 20000, 'the member to be taken out');
    srv.proc.kill('SIGKILL');
    await waitExit(srv.proc);
    assert.ok(!(await members(t.sim)).includes('eastus-aoai'), 'a killed process put nothing back');
    const id = openDrill(t).change_id;
    assert.equal(closesOf(t, id).length, 0);
    // --check finds it (its deadline, 2 gateway minutes = 2 s here, may not have passed yet)
    // (asynchronously: the spec gate in front of apim-sim runs in this process)
    const chk = await promisify(execFile)(AIGW_BIN, ['--check'], { env: t.env, encoding: 'utf8', timeout: 60000 })
      .catch((e) => e);
    assert.match(chk.stderr ?? '', new RegExp(`drill ${id}`), `--check: ${chk.status} ${chk.signal} ${chk.error} ${chk.stderr}`);
    // a new server: every result mentions the open drill until it is closed, and it is put back at the deadline
    const conn = await connect({ env: t.env });
    try {
      const r = await conn.client.callTool({ name: 'get_backend_pool', arguments: { api_id: API } });
      if (closesOf(t, id).length === 0) assert.ok(r.content.some((c) => c.text.includes(`Open failover drill ${id}`)), JSON.stringify(r.content));
      await until(async () => JSON.stringify((await t.sim.state(POOL)).resource) === before, 20000, 'the new process to restore');
      await until(async () => closesOf(t, id).length === 1, 5000, 'the drill to be closed');
      const r2 = await conn.client.callTool({ name: 'get_backend_pool', arguments: { api_id: API } });
      assert.ok(!r2.content.some((c) => c.text.includes('Open failover drill')), 'closed: no more notes');
    } finally {
      await conn.close();
    }
  } finally {
    await t.close();
  }
});

test('a second drill on the pool is refused, other calls are answered meanwhile, and revert_change ends the drill', async () => {
  const t = await setup();
  try {
    const before = JSON.stringify((await t.sim.state(POOL)).resource);
    const p = t.call('rehearse_failover', { ...DRILL, minutes: 30 }, { timeout: 120000 });
    await until(async () => !(await members(t.sim)).includes('eastus-aoai'), 20000, 'the member to be taken out');
    const second = await t.call('rehearse_failover', { ...DRILL, backend_id: 'westeurope-aoai', minutes: 1 });
    assert.equal(second.isError, true);
    assert.match(second.content[0].text, /already has an open failover drill/);
    // reads and writes elsewhere are answered while the drill runs
    const pool = ok(await t.call('get_backend_pool', { api_id: API }));
    assert.deepEqual(pool.backends.map((b) => b.backend_id), ['westeurope-aoai']);
    ok(await t.call('list_apis', {}));
    const id = openDrill(t).change_id;
    const rv = ok(await t.call('revert_change', { change_id: id }));
    assert.equal(rv.applied, true);
    const s = ok(await p);
    assert.equal(s.restored, true);
    assert.match(s.ended, /revert_change/);
    assert.equal(JSON.stringify((await t.sim.state(POOL)).resource), before);
  } finally {
    await t.close();
  }
});

test('restore_now ends an open drill at once', async () => {
  const t = await setup();
  try {
    const before = JSON.stringify((await t.sim.state(POOL)).resource);
    const p = t.call('rehearse_failover', { ...DRILL, minutes: 30 }, { timeout: 120000 });
    await until(async () => !(await members(t.sim)).includes('eastus-aoai'), 20000, 'the member to be taken out');
    const r = ok(await t.call('rehearse_failover', { api_id: API, restore_now: true }));
    assert.equal(r.restored, true);
    assert.equal(JSON.stringify((await t.sim.state(POOL)).resource), before);
    const s = ok(await p);
    assert.equal(s.restored, true);
  } finally {
    await t.close();
  }
});

test('a pool changed by someone else during the drill is reported, not overwritten', async () => {
  const t = await setup();
  try {
    const p = t.call('rehearse_failover', { ...DRILL, minutes: 2 }, { timeout: 120000 });
    await until(async () => !(await members(t.sim)).includes('eastus-aoai'), 20000, 'the member to be taken out');
    // someone changes West Europe's weight meanwhile
    const upd = ok(await t.call('update_backend_pool', { api_id: API, backends: [{ backend_id: 'westeurope-aoai', weight: 7 }] }));
    assert.ok(upd.warnings.some((w) => /open failover drill/.test(w)), JSON.stringify(upd.warnings));
    const changed = JSON.stringify((await t.sim.state(POOL)).resource.properties);
    const r = await p;
    assert.equal(r.isError, true);
    assert.equal(r.structuredContent.restored, false);
    assert.match(r.content[0].text, /NOT restored: pool aoai-pool was changed by someone else/);
    assert.equal(JSON.stringify((await t.sim.state(POOL)).resource.properties), changed, 'not overwritten');
  } finally {
    await t.close();
  }
});
