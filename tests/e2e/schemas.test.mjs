// schemas: the tool schemas suit every function-calling dialect (issue 20). The MCP Inspector CLI
// (@modelcontextprotocol/inspector, its --strict schema lint) reads tools/list from the real binary
// and must report no finding at all; and no schema anywhere holds a type array or needs null.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AIGW_BIN, checkSanitizers, sanitizerEnv, connect, tmpDir } from './lib/harness.mjs';

after(checkSanitizers);

const require = createRequire(import.meta.url);
const INSPECTOR_CLI = join(dirname(require.resolve('@modelcontextprotocol/inspector/package.json')),
  'clients/cli/build/index.js');

test('the MCP Inspector CLI in --strict mode finds nothing to report in tools/list (write tools included)', () => {
  const home = tmpDir('aigw-inspector-');
  try {
    const r = spawnSync(process.execPath, [INSPECTOR_CLI, '--strict', '--method', 'tools/list', AIGW_BIN], {
      encoding: 'utf8', timeout: 60000,
      // no configuration at all: tools/list needs none; HOME keeps the Inspector's catalog out of the real one
      env: { PATH: process.env.PATH, HOME: home.dir, ...sanitizerEnv() },
    });
    assert.equal(r.status, 0, r.stderr);
    const { tools } = JSON.parse(r.stdout);
    assert.ok(tools.some((t) => t.name === 'update_quota') && tools.some((t) => t.name === 'update_backend_pool'));
    assert.doesNotMatch(r.stderr, /Warning:|Error:|warnings? across/, r.stderr);
  } finally {
    home.cleanup();
  }
});

test('the linter does flag a type array (the check above can fail)', () => {
  // the same CLI against a tiny server whose only tool uses ["integer","null"]
  const dir = tmpDir('aigw-lintself-');
  try {
    const sdk = join(dirname(new URL(import.meta.url).pathname), 'node_modules/@modelcontextprotocol/sdk');
    const server = join(dir.dir, 'server.mjs');
    const src = `import { Server } from '${sdk}/dist/esm/server/index.js';
import { StdioServerTransport } from '${sdk}/dist/esm/server/stdio.js';
import { ListToolsRequestSchema } from '${sdk}/dist/esm/types.js';
const s = new Server({ name: 'bad', version: '1' }, { capabilities: { tools: {} } });
s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: 't', inputSchema: { type: 'object',
  properties: { tpm: { type: ['integer', 'null'] } } } }] }));
await s.connect(new StdioServerTransport());`;
    writeFileSync(server, src);
    const r = spawnSync(process.execPath, [INSPECTOR_CLI, '--strict', '--method', 'tools/list', process.execPath, server], {
      encoding: 'utf8', timeout: 60000, env: { PATH: process.env.PATH, HOME: dir.dir },
    });
    assert.match(r.stderr, /inputSchema\.properties\.tpm/);
    assert.match(r.stderr, /1 warning/);
  } finally {
    dir.cleanup();
  }
});

function walk(schema, path, visit) {
  if (schema && typeof schema === 'object') {
    visit(schema, path);
    for (const [k, v] of Object.entries(schema)) walk(v, `${path}.${k}`, visit);
  }
}

test('no input schema holds a type array, a null type or a property without a type', async () => {
  const s = await connect();
  try {
    const { tools } = await s.client.listTools();
    for (const t of tools) {
      walk(t.inputSchema, `${t.name}.inputSchema`, (node, path) => {
        assert.ok(!Array.isArray(node.type), `${path}: type array`);
        assert.notEqual(node.type, 'null', `${path}: an input never needs null`);
        for (const [k, p] of Object.entries(node.properties ?? {})) {
          assert.ok(p.type || p.enum || p.anyOf, `${path}.properties.${k} has no type`);
        }
      });
      walk(t.outputSchema, `${t.name}.outputSchema`, (node, path) => assert.ok(!Array.isArray(node.type), `${path}: type array`));
    }
    const q = tools.find((t) => t.name === 'update_quota').inputSchema.properties;
    assert.deepEqual([q.remove_tpm.type, q.remove_rpm.type], ['boolean', 'boolean']);
  } finally {
    await s.close();
  }
});
