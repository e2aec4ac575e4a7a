// demo: `azure-ai-gateway-mcp --demo` with no Azure account and no credentials — it starts the
// bundled apim-sim, says so on stderr, marks every result as simulated, and the simulator dies
// with the server, also when the server is killed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { AIGW_BIN, connect, checkSanitizers, sanitizerEnv, waitExit, tmpDir } from './lib/harness.mjs';

after(checkSanitizers);

function simPort(stderr) {
  const m = stderr.match(/apim-sim on http:\/\/127\.0\.0\.1:(\d+)/);
  return m ? Number(m[1]) : 0;
}

async function simAnswers(port) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/_sim/counters`);
    return r.ok;
  } catch {
    return false;
  }
}

// Spawns `--demo` outside the SDK (to signal it) and waits for its simulator's port.
async function spawnDemo(env) {
  const proc = spawn(AIGW_BIN, ['--demo'], { env: { PATH: process.env.PATH, ...env, ...sanitizerEnv() },
    stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  let port = 0;
  for (let i = 0; i < 100 && !port; i++) {
    await sleep(50);
    port = simPort(err);
  }
  return { proc, port, stderr: () => err };
}

async function waitGone(port) {
  for (let i = 0; i < 100; i++) {
    if (!(await simAnswers(port))) return true;
    await sleep(50);
  }
  return false;
}

test('--demo serves the simulated gateway with no configuration at all, results marked as simulated', async () => {
  const t = tmpDir();
  // nothing but PATH and HOME: no Azure variables
  const s = await connect({ args: ['--demo'], env: { HOME: t.dir } });
  try {
    // the line is written before initialize is answered; give the pipe a moment to deliver it
    for (let i = 0; i < 100 && !simPort(s.stderr()); i++) await sleep(20);
    assert.match(s.stderr(), /DEMO MODE/);
    assert.match(s.stderr(), /SIMULATED/);
    const port = simPort(s.stderr());
    assert.ok(port > 0, 'the simulator port is logged');
    assert.ok(await simAnswers(port));
    const { tools } = await s.client.listTools();
    const names = tools.map((x) => x.name);
    if (names.includes('list_apis')) {
      const r = await s.client.callTool({ name: 'list_apis', arguments: {} });
      assert.ok(!r.isError, JSON.stringify(r.content));
      assert.equal(r.structuredContent.simulated, true);
      assert.match(r.content[0].text, /^\[simulator\]/);
      assert.ok(r.structuredContent.apis.some((a) => a.id === 'aoai-completions'));
    }
    await s.close();
    assert.ok(await waitGone(port), 'apim-sim stops when the server exits');
  } finally {
    await s.close();
    t.cleanup();
  }
});

test('--demo: the simulator also stops when the server is killed with SIGKILL', async () => {
  const t = tmpDir();
  const { proc, port, stderr } = await spawnDemo({ HOME: t.dir });
  try {
    assert.ok(port > 0, `no demo line on stderr: ${stderr()}`);
    assert.ok(await simAnswers(port));
  } finally {
    proc.kill('SIGKILL');
    await waitExit(proc);
  }
  assert.ok(await waitGone(port), 'apim-sim stops when the server is killed');
  t.cleanup();
});

test('--demo: SIGTERM removes the temporary journal folder and stops the simulator', async () => {
  const t = tmpDir();
  const { readdirSync, writeFileSync } = await import('node:fs');
  const demoDirs = () => readdirSync(t.dir).filter((n) => n.startsWith('aigw-demo-'));
  const { proc, port, stderr } = await spawnDemo({ HOME: t.dir, TMPDIR: t.dir });
  try {
    assert.ok(port > 0, `no demo line on stderr: ${stderr()}`);
    assert.equal(demoDirs().length, 1, 'the demo journal folder is under TMPDIR');
    // as if a change had been journaled
    writeFileSync(`${t.dir}/${demoDirs()[0]}/audit.jsonl`, '{}\n');
  } finally {
    proc.kill('SIGTERM');
    await waitExit(proc);
  }
  assert.equal(proc.signalCode, 'SIGTERM', 'the server still ends by the signal');
  assert.deepEqual(demoDirs(), [], 'no aigw-demo-* folder is left');
  assert.ok(await waitGone(port), 'apim-sim stops when the server is terminated');
  t.cleanup();
});
