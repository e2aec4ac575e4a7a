// protocol: the real binary over stdio — the official SDK client connects and negotiates, every
// JSON-RPC error code comes back precise, oversized lines are refused without harm, stdout only
// ever carries JSON-RPC frames, and the process exits 0 when stdin closes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { AIGW_BIN, connect, rawServer, initializeRaw, checkSanitizers, sanitizerEnv } from './lib/harness.mjs';

after(checkSanitizers);

test('the SDK client connects, negotiates the newest version and lists tools without any configuration', async () => {
  const s = await connect();
  assert.equal(s.client.getServerVersion().name, 'azure-ai-gateway-mcp');
  const caps = s.client.getServerCapabilities();
  assert.ok(caps.tools, 'tools capability');
  assert.ok(caps.logging, 'logging capability');
  const { tools } = await s.client.listTools();
  assert.ok(Array.isArray(tools));
  const size = JSON.stringify(tools).length;
  assert.ok(size <= 12288, `all tool definitions must fit in 12 KB (they cost every conversation tokens): ${size} bytes`);
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object', `${t.name} input schema`);
    assert.equal(t.inputSchema.additionalProperties, false, `${t.name} rejects unknown properties`);
    assert.ok(t.title && t.description && t.outputSchema && t.annotations, `${t.name} is fully described`);
  }
  await assert.rejects(s.client.callTool({ name: 'no_such_tool', arguments: {} }), (e) => {
    assert.equal(e.code, -32602);
    assert.match(e.message, /Unknown tool 'no_such_tool'/);
    return true;
  });
  await s.client.ping();
  await s.client.setLoggingLevel('debug');
  await s.close();
  const r = rawServer();
  const init = await initializeRaw(r, LATEST_PROTOCOL_VERSION);
  assert.equal(init.result.protocolVersion, LATEST_PROTOCOL_VERSION);
  assert.equal((await r.end()).code, 0);
});

test('each supported protocol version is answered as asked; an unknown one gets our newest', async () => {
  for (const v of ['2025-11-25', '2025-06-18', '2025-03-26']) {
    const r = rawServer();
    const init = await initializeRaw(r, v);
    assert.equal(init.result.protocolVersion, v);
    await r.end();
  }
  const r = rawServer();
  const init = await initializeRaw(r, '2023-01-01');
  assert.equal(init.result.protocolVersion, '2025-11-25');
  await r.end();
});

test('every JSON-RPC error code, precise and with the right id', async () => {
  const r = rawServer();
  r.send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  let m = await r.next();
  assert.equal(m.error.code, -32600, 'a request before initialize is refused');
  assert.equal(m.id, 1);
  await initializeRaw(r);
  r.send('{"jsonrpc":"2.0","id":2,"method":');
  m = await r.next();
  assert.equal(m.error.code, -32700);
  assert.equal(m.id, null);
  r.send('"just a string"');
  m = await r.next();
  assert.equal(m.error.code, -32600);
  r.send({ jsonrpc: '2.0', id: 3, method: 'sampling/createMessage' });
  m = await r.next();
  assert.equal(m.error.code, -32601);
  assert.equal(m.id, 3);
  r.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { arguments: {} } });
  m = await r.next();
  assert.equal(m.error.code, -32602);
  assert.match(m.error.message, /params.name/);
  r.send({ jsonrpc: '2.0', id: 5, method: 'logging/setLevel', params: { level: 'chatty' } });
  m = await r.next();
  assert.equal(m.error.code, -32602);
  assert.match(m.error.message, /debug, info/);
  assert.equal((await r.end()).code, 0);
});

test('a line over the 64 MiB limit is refused and the session goes on; CRLF works', async () => {
  const r = rawServer();
  await initializeRaw(r);
  const chunk = 'x'.repeat(1 << 20);
  r.writeRaw('{"jsonrpc":"2.0","id":9,"method":"ping","params":{"pad":"');
  for (let i = 0; i < 65; i++) r.writeRaw(chunk);
  r.writeRaw('"}}\n');
  let m = await r.next(60000);
  assert.equal(m.error.code, -32600);
  assert.match(m.error.message, /64 MiB/);
  r.writeRaw('{"jsonrpc":"2.0","id":10,"method":"ping"}\r\n');
  m = await r.next();
  assert.equal(m.id, 10);
  assert.deepEqual(m.result, {});
  assert.equal((await r.end()).code, 0);
});

test('stdout carries only JSON-RPC frames, even at debug level with bad configuration', async () => {
  const r = rawServer({ args: ['--log-level', 'debug'], env: { AZURE_CLIENT_SECRET: 'not-a-real-secret-0000' } });
  await initializeRaw(r);
  r.send({ jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level: 'debug' } });
  r.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  r.send('garbage');
  r.send({ jsonrpc: '2.0', id: 3, method: 'ping' });
  const seen = [];
  for (;;) {
    const m = await r.next();
    seen.push(m);
    if (m.id === 3) break;
  }
  const { code } = await r.end();
  assert.equal(code, 0);
  for (const m of [...seen, ...r.pending().map((l) => JSON.parse(l))]) {
    assert.equal(m.jsonrpc, '2.0');
    assert.ok('id' in m || 'method' in m);
  }
  assert.match(r.stderr(), /AZURE_SUBSCRIPTION_ID is not set/, 'configuration problems go to stderr');
  assert.ok(!r.stderr().includes('not-a-real-secret-0000'), 'the secret never appears');
});

test('--help lists every variable and option; --version; a bad option exits 2', () => {
  const env = { ...sanitizerEnv(), PATH: process.env.PATH };
  const help = spawnSync(AIGW_BIN, ['--help'], { env, encoding: 'utf8' });
  assert.equal(help.status, 0);
  for (const word of ['--read-only', '--demo', '--log-level', '--check', '--version', 'AZURE_SUBSCRIPTION_ID',
    'APIM_RESOURCE_GROUP', 'APIM_SERVICE_NAME', 'APIM_RESOURCE_ID', 'AZURE_TENANT_ID', 'AZURE_CLIENT_ID',
    'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_CLIENT_CERTIFICATE_PASSWORD',
    'AZURE_FEDERATED_TOKEN_FILE', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AZURE_TOKEN_CREDENTIALS', 'AZURE_CLOUD',
    'AZURE_AUTHORITY_HOST', 'AZURE_RESOURCE_MANAGER_ENDPOINT', 'AIGW_READ_ONLY', 'AIGW_AUDIT_LOG', 'AIGW_LOG_LEVEL']) {
    assert.ok(help.stdout.includes(word), `--help mentions ${word}`);
  }
  const version = spawnSync(AIGW_BIN, ['--version'], { env, encoding: 'utf8' });
  assert.match(version.stdout, /^azure-ai-gateway-mcp \d+\.\d+\.\d+\n$/);
  const bad = spawnSync(AIGW_BIN, ['--frobnicate'], { env, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown option '--frobnicate'/);
  assert.equal(bad.stdout, '');
});

test('--check names every missing variable and fails', () => {
  const r = spawnSync(AIGW_BIN, ['--check'], { env: { ...sanitizerEnv(), PATH: process.env.PATH, HOME: '/tmp' }, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /AZURE_SUBSCRIPTION_ID is not set/);
  assert.match(r.stderr, /APIM_SERVICE_NAME is not set/);
});
