// windows packages: the Windows slots of the one-step installs (issue 20). npm: From the Windows build (AIGW_WINDOWS_DIR, the
// unpacked zip of scripts/build-windows.sh) packaging/npm/pack.sh makes azure-ai-gateway-mcp-win32-x64
// (os win32, cpu x64: the .exe, the engine and the DLLs side by side in bin/, where the launcher runs
// bin/azure-ai-gateway-mcp.exe) and lists it in the launcher's optionalDependencies next to
// linux-x64. The packed .exe runs under Wine from the extracted package, and a Linux install of the
// launcher, offline, still works and skips the Windows package. Claude Desktop extension:
// packaging/mcpb/pack.sh with the same build adds server/win32/ and a win32 platform_override; the
// @anthropic-ai/mcpb CLI validates and packs it, and the .exe it names runs under Wine from the
// unpacked extension.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AIGW_BIN, SOURCE_DIR, tmpDir } from '../lib/harness.mjs';

const WIN_DIR = process.env.AIGW_WINDOWS_DIR;
const WINE_RUN = join(SOURCE_DIR, 'scripts/wine-run.sh');
const VERSION = spawnSync(AIGW_BIN, ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ')[1];
const t = tmpDir('aigw-winpkg-');
let bundle;
after(() => t.cleanup());

test('the win32-x64 npm package holds the Windows build, runs under Wine, and Linux installs skip it', () => {
  const b = spawnSync(join(SOURCE_DIR, 'packaging/bundle.sh'), [dirname(AIGW_BIN), join(t.dir, 'dist')], { encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  bundle = b.stdout.trim();
  const out = join(t.dir, 'npm');
  const p = spawnSync(join(SOURCE_DIR, 'packaging/npm/pack.sh'), [bundle, out], { encoding: 'utf8',
    env: { ...process.env, WIN32_BUNDLE: WIN_DIR, npm_config_cache: join(t.dir, 'cache') } });
  assert.equal(p.status, 0, p.stderr);
  const tgz = (n) => join(out, `${n}-${VERSION}.tgz`);
  const manifest = (f) => JSON.parse(spawnSync('tar', ['xzOf', f, 'package/package.json'], { encoding: 'utf8' }).stdout);
  assert.deepEqual(manifest(tgz('azure-ai-gateway-mcp')).optionalDependencies,
    { 'azure-ai-gateway-mcp-linux-x64': VERSION, 'azure-ai-gateway-mcp-win32-x64': VERSION });
  const win = tgz('azure-ai-gateway-mcp-win32-x64');
  assert.deepEqual([manifest(win).os, manifest(win).cpu], [['win32'], ['x64']]);
  const files = spawnSync('tar', ['tzf', win], { encoding: 'utf8' }).stdout.split('\n');
  for (const f of ['azure-ai-gateway-mcp.exe', 'aigw-engine.dll', 'libcurl.dll', 'libjansson.dll']) {
    assert.ok(files.includes(`package/bin/${f}`), `${f} in bin/ of the win32 package`);
  }
  const x = join(t.dir, 'win32');
  mkdirSync(x);
  assert.equal(spawnSync('tar', ['xzf', win, '-C', x]).status, 0);
  const v = spawnSync(WINE_RUN, [join(x, 'package/bin/azure-ai-gateway-mcp.exe'), '--version'], { encoding: 'utf8', timeout: 300000 });
  assert.equal(v.stdout.trim(), `azure-ai-gateway-mcp ${VERSION}`, v.stderr);

  const project = join(t.dir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), '{"name":"p","private":true}\n');
  const env = { PATH: process.env.PATH, HOME: t.dir, npm_config_cache: join(t.dir, 'user-cache'), npm_config_offline: 'true',
    npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  const i = spawnSync('npm', ['install', tgz('azure-ai-gateway-mcp-linux-x64'), tgz('azure-ai-gateway-mcp')], { cwd: project, env, encoding: 'utf8' });
  assert.equal(i.status, 0, i.stderr);
  const run = spawnSync('npx', ['azure-ai-gateway-mcp', '--version'], { cwd: project, env, encoding: 'utf8' });
  assert.equal(run.stdout.trim(), `azure-ai-gateway-mcp ${VERSION}`, run.stderr);
});

test('the .mcpb carries the Windows build with a win32 platform_override that runs under Wine', () => {
  assert.ok(bundle, 'the first test made the Linux bundle');
  const p = spawnSync(join(SOURCE_DIR, 'packaging/mcpb/pack.sh'), [bundle, join(t.dir, 'mcpb')], { encoding: 'utf8',
    env: { ...process.env, WIN32_BUNDLE: WIN_DIR } });
  assert.equal(p.status, 0, p.stderr);
  const file = p.stdout.trim();
  assert.ok(file.endsWith(`azure-ai-gateway-mcp-${VERSION}-linux-x64-win32-x64.mcpb`), file);
  const dir = join(t.dir, 'unpacked');
  const u = spawnSync(join(SOURCE_DIR, 'tests/e2e/node_modules/.bin/mcpb'), ['unpack', file, dir], { encoding: 'utf8' });
  assert.equal(u.status, 0, u.stderr);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.deepEqual(m.compatibility.platforms, ['linux', 'win32']);
  const cmd = m.server.mcp_config.platform_overrides.win32.command.replace('${__dirname}', dir);
  assert.ok(existsSync(cmd), cmd);
  assert.ok(existsSync(join(dirname(cmd), 'aigw-engine.dll')));
  const v = spawnSync(WINE_RUN, [cmd, '--version'], { encoding: 'utf8', timeout: 300000 });
  assert.equal(v.stdout.trim(), `azure-ai-gateway-mcp ${VERSION}`, v.stderr);
});
