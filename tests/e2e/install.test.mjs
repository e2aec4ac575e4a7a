// install: the one-step installs of issue 20, built from this build tree and used offline as a user
// would — the self-contained Linux bundle and its release tarball (packaging/bundle.sh: every
// non-glibc library next to the binaries with an $ORIGIN RUNPATH, `ldd` finds all of them inside
// the bundle), the npm packages (packaging/npm/pack.sh: `npm pack` tarballs installed with
// `npm install --offline ./x.tgz`, then `npx azure-ai-gateway-mcp --demo` under the MCP SDK
// client) and the Claude Desktop extension (packaging/mcpb/pack.sh: validated and packed by the
// official @anthropic-ai/mcpb CLI, unpacked and started the way its manifest says).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { AIGW_BIN, SOURCE_DIR, SANITIZE, tmpDir, connect } from './lib/harness.mjs';

const skip = SANITIZE && 'the installs are built from the release build';
const MCPB = join(SOURCE_DIR, 'tests/e2e/node_modules/.bin/mcpb');
const VERSION = spawnSync(AIGW_BIN, ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ')[1];
const NAME = `azure-ai-gateway-mcp-${VERSION}-linux-x64`;
// only the basics: no LD_LIBRARY_PATH, no configuration; npm's own cache stays in the temp dir
const minimalEnv = (home, extra = {}) => ({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, ...extra });

// the three packagings compress tens of MB each: they run side by side
describe('one-step installs', { concurrency: true }, () => {
let t;
let bundle;
before(() => {
  if (skip) return;
  t = tmpDir('aigw-install-');
  const r = spawnSync(join(SOURCE_DIR, 'packaging/bundle.sh'), [dirname(AIGW_BIN), join(t.dir, 'dist')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  bundle = r.stdout.trim();
});
after(() => t?.cleanup());

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

// A demo session through the SDK client: the simulated list_apis and a dry-run write.
async function demoSession(transportOptions) {
  const transport = new StdioClientTransport({ ...transportOptions, stderr: 'pipe' });
  let err = '';
  transport.stderr?.on('data', (d) => { err += d; });
  const client = new Client({ name: 'install-test', version: '1.0.0' });
  try {
    await client.connect(transport);
    const { tools } = await client.listTools();
    assert.ok(tools.some((x) => x.name === 'update_quota'));
    const r = await client.callTool({ name: 'list_apis', arguments: {} });
    assert.ok(!r.isError, `${r.content?.[0]?.text}\n${err}`);
    assert.equal(r.structuredContent.simulated, true);
    assert.ok(r.structuredContent.apis.some((a) => a.id === 'aoai-completions'));
    const dry = await client.callTool({ name: 'update_quota', arguments: { subscription_id: 'growth', tpm: 90000, dry_run: true } });
    assert.ok(!dry.isError, dry.content?.[0]?.text);
    assert.match(dry.structuredContent.diff, /90000/);
  } finally {
    await client.close();
  }
  return err;
}

test('the bundle is self-contained: ldd resolves every library but glibc inside it, and it runs with nothing else', { skip }, async () => {
  const files = ['bin/azure-ai-gateway-mcp', 'bin/apim-sim', 'bin/aigw-engine.so', 'share/azure-ai-gateway-mcp/scenarios/demo.json',
    'share/man/man1/azure-ai-gateway-mcp.1', 'LICENSE', 'lib/libjansson.so.4', 'lib/libmicrohttpd.so.12', 'lib/libcurl.so.4',
    'lib/libxml2.so.2', 'lib/libssl.so.3'];
  for (const f of files) assert.ok(existsSync(join(bundle, f)), `${f} is in the bundle`);
  const glibc = /^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv)\.so|^\/lib64\/ld-linux/;
  for (const f of ['bin/azure-ai-gateway-mcp', 'bin/apim-sim', 'bin/aigw-engine.so', ...readdirSync(join(bundle, 'lib')).map((l) => `lib/${l}`)]) {
    const r = spawnSync('ldd', [join(bundle, f)], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, /not found/, `${f}:\n${r.stdout}`);
    for (const line of r.stdout.split('\n').map((l) => l.trim()).filter((l) => l && l !== 'statically linked')) {
      const [soname, , path] = line.split(/\s+/);
      if (glibc.test(soname)) continue;
      assert.ok(path && resolve(path).startsWith(`${bundle}/lib/`), `${f} takes ${soname} from outside the bundle: ${line}`);
    }
  }
  // from another folder, with an empty environment: version, then a real demo session (engine,
  // simulator and scenario all found inside the bundle)
  const v = await run(join(bundle, 'bin/azure-ai-gateway-mcp'), ['--version'], { env: {}, cwd: '/' });
  assert.equal(v.out.trim(), `azure-ai-gateway-mcp ${VERSION}`);
  const stderr = await demoSession({ command: join(bundle, 'bin/azure-ai-gateway-mcp'), args: ['--demo'],
    env: minimalEnv(t.dir), cwd: '/' });
  assert.match(stderr, /DEMO MODE/);
  // the release tarball holds the same tree
  const list = spawnSync('tar', ['tzf', `${bundle}.tar.gz`], { encoding: 'utf8' }).stdout.split('\n');
  for (const f of files) assert.ok(list.includes(`${NAME}/${f}`), `${f} is in the release tarball`);
});

test('npm: packed tarballs install offline and `npx azure-ai-gateway-mcp --demo` serves the SDK client', { skip }, async () => {
  const out = join(t.dir, 'npm');
  const p = await run(join(SOURCE_DIR, 'packaging/npm/pack.sh'), [bundle, out], { env: { ...process.env, npm_config_cache: join(t.dir, 'npm-cache') } });
  assert.equal(p.code, 0, p.err);
  const [main, platform] = [`azure-ai-gateway-mcp-${VERSION}.tgz`, `azure-ai-gateway-mcp-linux-x64-${VERSION}.tgz`].map((f) => join(out, f));
  const manifest = (tgz) => JSON.parse(spawnSync('tar', ['xzOf', tgz, 'package/package.json'], { encoding: 'utf8' }).stdout);
  assert.deepEqual(manifest(main).optionalDependencies, { 'azure-ai-gateway-mcp-linux-x64': VERSION });
  assert.deepEqual(manifest(main).bin, { 'azure-ai-gateway-mcp': 'bin/azure-ai-gateway-mcp.js' });
  assert.deepEqual([manifest(platform).os, manifest(platform).cpu], [['linux'], ['x64']]);

  const project = join(t.dir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), '{"name":"user-project","private":true}\n');
  const env = minimalEnv(t.dir, { npm_config_cache: join(t.dir, 'user-cache'), npm_config_offline: 'true',
    npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' });
  const i = await run('npm', ['install', platform, main], { cwd: project, env });
  assert.equal(i.code, 0, i.err);
  assert.ok(statSync(join(project, 'node_modules/azure-ai-gateway-mcp-linux-x64/bin/azure-ai-gateway-mcp')).mode & 0o111, 'executable');
  const v = await run('npx', ['azure-ai-gateway-mcp', '--version'], { cwd: project, env });
  assert.equal(v.out.trim(), `azure-ai-gateway-mcp ${VERSION}`, v.err);
  const stderr = await demoSession({ command: 'npx', args: ['azure-ai-gateway-mcp', '--demo'], cwd: project, env });
  assert.match(stderr, /DEMO MODE/);

  // without its platform package (npm --omit=optional) the launcher says what is missing and how to fix it
  const bare = join(t.dir, 'bare');
  mkdirSync(bare);
  writeFileSync(join(bare, 'package.json'), '{"name":"bare","private":true}\n');
  assert.equal((await run('npm', ['install', '--omit=optional', main], { cwd: bare, env })).code, 0);
  const miss = await run('npx', ['azure-ai-gateway-mcp', '--version'], { cwd: bare, env });
  assert.equal(miss.code, 1);
  assert.match(miss.err, /the package azure-ai-gateway-mcp-linux-x64, which holds the server for linux-x64, is not installed/);
});

test('.mcpb: the Claude Desktop extension validates and packs with @anthropic-ai/mcpb and starts as its manifest says', { skip }, async () => {
  const out = join(t.dir, 'mcpb');
  const p = await run(join(SOURCE_DIR, 'packaging/mcpb/pack.sh'), [bundle, out]);
  assert.equal(p.code, 0, p.err);
  const file = p.out.trim();
  assert.ok(file.endsWith(`${NAME}.mcpb`) && existsSync(file), p.out);
  const dir = join(t.dir, 'unpacked');
  const u = await run(MCPB, ['unpack', file, dir]);
  assert.equal(u.code, 0, u.err);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.equal(m.manifest_version, '0.3');
  assert.equal(m.version, VERSION);
  assert.equal(m.server.type, 'binary');
  const uc = m.user_config;
  for (const k of ['demo', 'tenant_id', 'client_id', 'client_secret', 'subscription_id', 'resource_group', 'service_name']) assert.ok(uc[k], `user_config.${k}`);
  assert.equal(uc.client_secret.sensitive, true);
  assert.equal(uc.demo.type, 'boolean');
  assert.equal(uc.client_certificate.type, 'file');
  // the manifest's tools are the binary's own (tools/list through the SDK client)
  const s = await connect();
  const { tools } = await s.client.listTools();
  await s.close();
  assert.deepEqual(m.tools, tools.map((x) => ({ name: x.name, description: x.description })));
  // a broken manifest is refused by the same validator
  const bad = join(t.dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ ...m, server: { ...m.server, type: 'rust' } }));
  assert.notEqual((await run(MCPB, ['validate', bad])).code, 0);

  // start it as Claude Desktop does: ${__dirname} is the unpacked folder, ${user_config.X} the
  // user's values (demo on, the rest left empty)
  const values = { demo: 'true' };
  const subst = (s) => s.replaceAll('${__dirname}', dir).replace(/\$\{user_config\.(\w+)\}/g, (_, k) => values[k] ?? '');
  const env = Object.fromEntries(Object.entries(m.server.mcp_config.env).map(([k, v]) => [k, subst(v)]));
  const stderr = await demoSession({ command: subst(m.server.mcp_config.command), args: m.server.mcp_config.args.map(subst),
    env: minimalEnv(t.dir, env), cwd: '/' });
  assert.match(stderr, /DEMO MODE/);
});
});
