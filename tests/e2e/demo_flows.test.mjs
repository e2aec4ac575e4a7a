// demo_flows: what a new user does in the first five minutes — start the server from the demo
// client configuration in docs/clients.md (no Azure account, no credentials), pick each guided
// prompt, and walk the three seed flows with the SDK client: per-team quotas, multi-region
// failover with an outage rehearsal, semantic caching. Every result must say it is simulated.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, checkSanitizers, SOURCE_DIR, tmpDir } from './lib/harness.mjs';

after(checkSanitizers);

// The Claude Desktop demo snippet, as a user would copy it (the command is this build's binary).
function demoArgsFromDocs() {
  const text = readFileSync(join(SOURCE_DIR, 'docs/clients.md'), 'utf8');
  const first = JSON.parse(text.match(/```json\n([\s\S]*?)```/)[1]);
  const server = Object.values(first.mcpServers)[0];
  // `npx -y azure-ai-gateway-mcp ARGS` (the npm route) runs the program with ARGS
  const args = server.command === 'npx' ? server.args.slice(2) : server.args;
  assert.deepEqual(args, ['--demo'], 'the first snippet of docs/clients.md is the demo one');
  return { args, env: server.env ?? {} };
}

let s;
let home;
before(async () => {
  home = tmpDir('aigw-first5-');
  const { args, env } = demoArgsFromDocs();
  s = await connect({ args, env: { ...env, HOME: home.dir } });
});
after(async () => {
  await s?.close();
  home?.cleanup();
});

async function call(name, args) {
  const r = await s.client.callTool({ name, arguments: args });
  assert.ok(!r.isError, `${name}: ${r.content?.[0]?.text}`);
  assert.equal(r.structuredContent.simulated, true, `${name} result is marked as simulated`);
  assert.match(r.content[0].text, /^\[simulator\] /);
  return r.structuredContent;
}

async function prompt(name, args, mentions) {
  const { prompts } = await s.client.listPrompts();
  assert.ok(prompts.some((p) => p.name === name), `prompt ${name} is offered`);
  const p = await s.client.getPrompt({ name, arguments: args });
  const text = p.messages.map((m) => m.content.text).join('\n');
  for (const word of mentions) assert.ok(text.includes(word), `${name} mentions ${word}`);
  return text;
}

test('flow 1: enforce per-team token quotas (list, dry run, cut growth, others unchanged, watch 429s)', async () => {
  await prompt('enforce_team_quotas', { team: 'growth', tpm: '100k' },
    ['list_subscriptions', 'simulate_quota', 'one step gentler', "mode='shadow'", 'no log-only limit', 'update_quota',
      'dry_run', 'get_metrics', 'gradually', 'throttled_backend', 'capacity_tpm']);
  const limits = async () => Object.fromEntries((await call('list_subscriptions', { product_id: 'aoai' }))
    .subscriptions.map((x) => [x.id, { tpm: x.tpm, rpm: x.rpm }]));
  const before = await limits();
  assert.equal(before.growth.tpm, 200000);
  const whatIf = await call('simulate_quota', { subscription_id: 'growth', tpm: 100000 });
  assert.ok(whatIf.requests_refused > 0 && whatIf.minutes_over > 0, 'the cut would refuse some of growth\'s requests');
  assert.ok(whatIf.others.every((o) => !o.changed), 'and change no other team\'s limit');
  const gentler = await call('simulate_quota', { subscription_id: 'growth', tpm: 150000 });
  assert.ok(gentler.requests_refused < whatIf.requests_refused);
  const plan = await call('update_quota', { subscription_id: 'growth', tpm: 100000, dry_run: true });
  assert.equal(plan.applied, false);
  assert.equal(plan.change_id, null);
  assert.match(plan.diff, /-.*200000[\s\S]*\+.*100000/);
  const done = await call('update_quota', { subscription_id: 'growth', tpm: 100000 });
  assert.equal(done.applied, true);
  assert.ok(done.change_id);
  const afterCut = await limits();
  assert.equal(afterCut.growth.tpm, 100000);
  for (const team of Object.keys(before).filter((k) => k !== 'growth')) {
    assert.deepEqual(afterCut[team], before[team], `${team}'s limits are unchanged`);
  }
  const m = await call('get_metrics', { api_id: 'aoai-completions', since: '15m' });
  assert.ok(m.totals.requests > 0);
  assert.ok(m.by_subscription.some((x) => x.subscription_id === 'growth'));
});

test('flow 2: multi-region failover (show the pool, add a breaker, rehearse an outage, restore)', async () => {
  await prompt('configure_failover', { api_id: 'aoai-completions',
    secondary_url: 'https://aoai-westeurope.openai.azure.com/openai' },
  ['get_backend_pool', 'update_backend_pool', 'SAME model', 'revert_change', 'capacity_tpm', 'failover member smaller',
    'rehearse_failover', 'restored: true', 'not in Log Analytics yet']);
  const pool = await call('get_backend_pool', { api_id: 'aoai-completions' });
  const byId = (p) => Object.fromEntries(p.backends.map((b) => [b.backend_id, b]));
  assert.equal(byId(pool)['eastus-aoai'].priority, 1);
  const set = await call('update_backend_pool', { api_id: 'aoai-completions', backends: [{ backend_id: 'westeurope-aoai',
    priority: 2, circuit_breaker: { failure_count: 5, failure_interval: '1m', trip_duration: '5 minutes' } }] });
  assert.equal(set.applied, true);
  const west = byId(await call('get_backend_pool', { api_id: 'aoai-completions' }))['westeurope-aoai'];
  assert.equal(west.priority, 2);
  assert.deepEqual([west.circuit_breaker.failure_count, west.circuit_breaker.failure_interval,
    west.circuit_breaker.trip_duration], [5, 'PT1M', 'PT5M']);
  const outage = await call('update_backend_pool', { api_id: 'aoai-completions',
    backends: [{ backend_id: 'eastus-aoai', remove: true }] });
  assert.equal(outage.applied, true);
  assert.deepEqual(Object.keys(byId(await call('get_backend_pool', { api_id: 'aoai-completions' }))), ['westeurope-aoai']);
  const restored = await call('revert_change', { change_id: outage.change_id });
  assert.equal(restored.applied, true);
  const after = byId(await call('get_backend_pool', { api_id: 'aoai-completions' }));
  assert.equal(after['eastus-aoai'].priority, 1, 'East US is primary again');
  assert.equal(after['westeurope-aoai'].priority, 2);
});

test('flow 3: semantic caching (read the policy, dry run, apply "similarity 0.95" as score-threshold 0.05 / 1 h, measure the hit rate)', async () => {
  // score-threshold is a distance (lower is stricter): the prompt translates a similarity and says so
  const text = await prompt('deploy_semantic_caching', { api_id: 'aoai-completions', threshold: 'similarity 0.95', ttl_seconds: '3600' },
    ['get_policy', 'apply_policy', 'score-threshold="0.05"', 'embeddings', 'LOWER is STRICTER']);
  assert.match(text, /similarity of 0\.95 is score-threshold 0\.05/);
  assert.doesNotMatch(text, /0\.97|0\.95"/);
  const plain = await prompt('deploy_semantic_caching', { api_id: 'aoai-completions' }, ['score-threshold="0.05"']);
  assert.doesNotMatch(plain, /reads as a similarity|is above 0\.2/);
  // a similarity that translates to a loose distance is warned about as well
  const translated = await prompt('deploy_semantic_caching', { api_id: 'aoai-completions', threshold: 'similarity 0.3' }, []);
  assert.match(translated, /similarity of 0\.3 is score-threshold 0\.7/);
  assert.match(translated, /score-threshold 0\.7 is above 0\.2/);
  const loose = await prompt('deploy_semantic_caching', { api_id: 'aoai-completions', threshold: '0.3' }, ['score-threshold="0.3"']);
  assert.match(loose, /score-threshold 0\.3 is above 0\.2, so the cache will serve answers to prompts that are not alike/);
  const { policy_xml: xml } = await call('get_policy', { api_id: 'aoai-completions' });
  const wanted = xml.replace(/score-threshold="[0-9.]+"/, 'score-threshold="0.05"')
    .replace(/semantic-cache-store duration="\d+"/, 'semantic-cache-store duration="3600"');
  assert.notEqual(wanted, xml);
  const plan = await call('apply_policy', { api_id: 'aoai-completions', policy_xml: wanted, dry_run: true });
  assert.equal(plan.applied, false);
  assert.match(plan.diff, /\+.*score-threshold="0\.05"/);
  const done = await call('apply_policy', { api_id: 'aoai-completions', policy_xml: wanted });
  assert.equal(done.applied, true);
  const now = await call('get_policy', { api_id: 'aoai-completions' });
  assert.equal(now.policy_xml, wanted, 'the policy reads back exactly as written');
  const m = await call('get_metrics', { api_id: 'aoai-completions', since: '1h' });
  assert.equal(typeof m.totals.cache_hit_rate, 'number');
});
