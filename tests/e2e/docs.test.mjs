// docs: docs/tools.md stays in step with the tools the server lists — a section per tool, named as
// the registry names it, marked read or write as its annotations say, naming every input property
// and every required output field, with an example exchange.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, checkSanitizers, SOURCE_DIR } from './lib/harness.mjs';

after(checkSanitizers);

test('docs/tools.md documents exactly the tools the server lists, with their inputs and outputs', async () => {
  const doc = readFileSync(join(SOURCE_DIR, 'docs/tools.md'), 'utf8');
  const sections = Object.fromEntries(doc.split(/^## /m).slice(1).map((s) => [s.split(/[\s—]/)[0], s]));
  const s = await connect();
  try {
    const { tools } = await s.client.listTools();
    const documented = Object.keys(sections).filter((k) => /^[a-z_]+$/.test(k) && k.includes('_'));
    assert.deepEqual(documented.sort(), tools.map((t) => t.name).sort(), 'one section per tool, no stale ones');
    for (const t of tools) {
      const sec = sections[t.name];
      const kind = t.annotations.readOnlyHint ? 'read' : 'write';
      assert.match(sec.split('\n')[0], new RegExp(`— ${kind}$`), `${t.name} is marked ${kind}`);
      for (const p of Object.keys(t.inputSchema.properties ?? {})) {
        assert.ok(sec.includes(`\`${p}\``) || sec.includes(p), `docs/tools.md ${t.name} names its input ${p}`);
      }
      // the fields every write tool returns are documented once, in "Write tools and the change journal"
      const shared = t.annotations.readOnlyHint ? '' : sections.Write;
      for (const p of t.outputSchema.required ?? []) {
        assert.ok(sec.includes(p) || shared.includes(`\`${p}\``), `docs/tools.md ${t.name} names its output field ${p}`);
      }
      assert.match(sec, /```\n→ /, `${t.name} has an example exchange (a "→ call" block)`);
    }
  } finally {
    await s.close();
  }
});
