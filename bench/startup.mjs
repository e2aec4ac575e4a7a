// startup: time from process start to the `initialize` answer, and peak RSS of a short session
// (initialize, tools/list, exit), over N runs. Usage: node bench/startup.mjs BINARY [N]
// Prints one line per figure; docs/performance.md records the results.
import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const bin = process.argv[2];
const n = Number(process.argv[3] ?? 100);
const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }) + '\n';

function once() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(bin, [], { env: { PATH: '/usr/bin:/bin', HOME: '/tmp' }, stdio: ['pipe', 'pipe', 'ignore'] });
    p.stdin.write(init);
    p.stdout.once('data', () => {
      const ms = performance.now() - t0;
      p.stdin.end();
      p.once('exit', () => resolve(ms));
    });
    p.once('error', reject);
  });
}

const times = [];
for (let i = 0; i < n; i++) times.push(await once());
times.sort((a, b) => a - b);
const q = (f) => times[Math.min(times.length - 1, Math.floor(f * times.length))].toFixed(2);
console.log(`initialize answered after spawn: median ${q(0.5)} ms, p90 ${q(0.9)} ms, min ${times[0].toFixed(2)} ms (${n} runs)`);

const session = init + JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n' +
  JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) + '\n';
const r = spawnSync('/usr/bin/time', ['-v', bin], { input: session, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: '/tmp' } });
const rss = r.stderr.match(/Maximum resident set size \(kbytes\): (\d+)/);
console.log(`peak RSS of initialize + tools/list: ${rss ? (Number(rss[1]) / 1024).toFixed(2) : '?'} MiB`);
const list = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.id === 1);
if (list) console.log(`tools/list: ${list.result.tools.length} tools, ${JSON.stringify(list.result.tools).length} bytes of definitions`);
