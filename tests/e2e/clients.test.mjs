// clients: every snippet of docs/clients.md (ten clients, each marked `<!-- client: NAME -->`) and
// the README's. Each is checked against the client's published schema where an npm package carries
// one (Continue: @continuedev/config-yaml), else by the shape the client documents (top-level key,
// fields, a flat Zed entry, VS Code's "servers" + "type": "stdio" and declared inputs, Codex's TOML
// tables); every launch (command + args) must be this program — directly, through the npm launcher
// (`npx -y azure-ai-gateway-mcp …`) or through WSL — with arguments the binary itself accepts, and
// every env variable one the binary documents in --help. Claude Code and Gemini CLI (npm packages)
// then run their own documented snippets in a network namespace without network and must connect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import YAML from 'yaml';
import { parse as parseToml } from 'smol-toml';
import { configYamlSchema, blockSchema } from '@continuedev/config-yaml';
import { AIGW_BIN, SOURCE_DIR, sanitizerEnv } from './lib/harness.mjs';

const CLIENTS = ['claude-desktop', 'claude-code', 'cursor', 'cline', 'windsurf', 'continue', 'zed', 'vscode', 'gemini', 'codex'];
const HELP = spawnSync(AIGW_BIN, ['--help'], { env: { PATH: process.env.PATH, ...sanitizerEnv() }, encoding: 'utf8' }).stdout;
const READ_TOOLS = ['list_apis', 'get_policy', 'list_subscriptions', 'get_backend_pool', 'get_metrics'];

// [{client, variant, lang, text}] for every marked fenced block
function snippets(file) {
  const text = readFileSync(join(SOURCE_DIR, file), 'utf8');
  return [...text.matchAll(/<!-- client: ([a-z-]+)(?: ([^>]*?))? -->\n```(\w+)\n([\s\S]*?)```/g)]
    .map(([, client, variant, lang, body]) => ({ client, variant: variant ?? '', lang, text: body }));
}

function accepts(args) {
  // --version after the arguments: parsing them must succeed and nothing is started
  const r = spawnSync(AIGW_BIN, [...args, '--version'], { env: { PATH: process.env.PATH, ...sanitizerEnv() }, encoding: 'utf8' });
  return r.status === 0 && /^azure-ai-gateway-mcp /.test(r.stdout);
}

// The program's own arguments in a launch, whatever the install route.
function programArgs(command, args) {
  if (command === 'npx') {
    assert.deepEqual(args.slice(0, 2), ['-y', 'azure-ai-gateway-mcp'], `npx ${args.join(' ')}`);
    return args.slice(2);
  }
  if (command === 'wsl.exe') {
    assert.equal(args[0], '-e');
    assert.match(args[1], /^\/.*\/azure-ai-gateway-mcp$/);
    return args.slice(2);
  }
  assert.match(command, /(^|[\/\\])azure-ai-gateway-mcp(\.exe)?$/, `command ${command}`);
  return args;
}

function checkLaunch({ command, args = [], env = {} }, where) {
  assert.equal(typeof command, 'string', `${where}: command is a string`);
  assert.ok(Array.isArray(args) && args.every((a) => typeof a === 'string'), `${where}: args is an array of strings`);
  const own = programArgs(command, args);
  assert.ok(accepts(own), `${where}: the binary refuses ${JSON.stringify(own)}`);
  for (const [k, v] of Object.entries(env ?? {})) {
    assert.ok(new RegExp(`^\\s+${k}\\b`, 'm').test(HELP) || HELP.includes(`${k},`) || HELP.includes(`, ${k} `),
      `${where}: ${k} is not a variable the binary documents`);
    assert.equal(typeof v, 'string', `${where}: ${k} is a string`);
  }
  return own;
}

// per client: its documented shape → the launches it holds
const SHAPES = {
  'claude-desktop': (s) => mcpServersJson(s, ['command', 'args', 'env']),
  cursor: (s) => mcpServersJson(s, ['command', 'args', 'env', 'type']),
  windsurf: (s) => mcpServersJson(s, ['command', 'args', 'env', 'disabled']),
  cline: (s) => {
    const ls = mcpServersJson(s, ['command', 'args', 'env', 'disabled', 'autoApprove']);
    for (const e of Object.values(JSON.parse(s.text).mcpServers)) {
      assert.equal(typeof e.disabled, 'boolean');
      for (const tool of e.autoApprove) assert.ok(READ_TOOLS.includes(tool), `cline autoApprove holds ${tool}: only read tools`);
    }
    return ls;
  },
  gemini: (s) => mcpServersJson(s, ['command', 'args', 'env', 'cwd', 'timeout', 'trust']),
  'claude-code': (s) => {
    if (s.lang === 'json') { // project .mcp.json: env values are ${VAR} references, never values
      const ls = mcpServersJson(s, ['type', 'command', 'args', 'env']);
      for (const l of ls) for (const [k, v] of Object.entries(l.env)) assert.equal(v, `\${${k}}`, `.mcp.json ${k} must be a reference`);
      return ls;
    }
    assert.equal(s.lang, 'sh');
    return claudeMcpAdd(s.text);
  },
  zed: (s) => {
    const cfg = JSON.parse(s.text);
    assert.deepEqual(Object.keys(cfg), ['context_servers']);
    return Object.values(cfg.context_servers).map((e) => {
      assert.equal(typeof e.command, 'string', 'Zed: flat command (a string), not {path, args}');
      assert.ok(!('settings' in e), 'Zed: a "settings" key makes it an extension entry that never starts');
      assert.deepEqual(Object.keys(e).filter((k) => !['command', 'args', 'env'].includes(k)), []);
      return e;
    });
  },
  vscode: (s) => {
    const cfg = JSON.parse(s.text);
    assert.deepEqual(Object.keys(cfg).filter((k) => !['servers', 'inputs'].includes(k)), [], 'VS Code: "servers" (not "mcpServers")');
    const ids = new Set((cfg.inputs ?? []).map((i) => {
      assert.equal(i.type, 'promptString');
      assert.ok(i.id && i.description);
      return i.id;
    }));
    return Object.values(cfg.servers).map((e) => {
      assert.equal(e.type, 'stdio');
      assert.deepEqual(Object.keys(e).filter((k) => !['type', 'command', 'args', 'env', 'envFile'].includes(k)), []);
      for (const v of Object.values(e.env ?? {})) {
        for (const [, id] of v.matchAll(/\$\{input:([^}]+)\}/g)) assert.ok(ids.has(id), `input ${id} is declared`);
      }
      if (Object.values(e.env ?? {}).some((v) => /SECRET/.test(v))) assert.fail('a secret value in .vscode/mcp.json');
      return e;
    });
  },
  continue: (s) => {
    assert.equal(s.lang, 'yaml');
    const doc = YAML.parse(s.text);
    const schema = s.variant === 'block' ? blockSchema : configYamlSchema;
    const r = schema.safeParse(doc);
    assert.ok(r.success, `Continue ${s.variant}: ${JSON.stringify(r.error?.issues)}`);
    for (const e of doc.mcpServers) {
      for (const [k, v] of Object.entries(e.env ?? {})) {
        if (/SECRET/.test(k)) assert.match(v, /^\$\{\{ secrets\.\w+ \}\}$/, 'Continue: a secret comes from secrets');
      }
    }
    return doc.mcpServers;
  },
  codex: (s) => {
    assert.equal(s.lang, 'toml');
    const cfg = parseToml(s.text);
    assert.deepEqual(Object.keys(cfg), ['mcp_servers']);
    return Object.values(cfg.mcp_servers).map((e) => {
      assert.deepEqual(Object.keys(e).filter((k) => !['command', 'args', 'env', 'env_vars', 'cwd', 'enabled'].includes(k)), []);
      for (const v of e.env_vars ?? []) assert.match(v, /^AZURE_|^APIM_|^AIGW_/);
      assert.ok(!Object.keys(e.env ?? {}).some((k) => /SECRET/.test(k)), 'Codex: a secret is forwarded (env_vars), not written');
      return e;
    });
  },
};

function mcpServersJson(s, allowed) {
  assert.equal(s.lang, 'json');
  const cfg = JSON.parse(s.text);
  assert.deepEqual(Object.keys(cfg), ['mcpServers'], `${s.client}: top-level "mcpServers"`);
  return Object.values(cfg.mcpServers).map((e) => {
    assert.deepEqual(Object.keys(e).filter((k) => !allowed.includes(k)), [], `${s.client}: fields ${Object.keys(e)}`);
    return { ...e, env: e.env ?? {} };
  });
}

// `claude mcp add NAME [--scope S] [-e K=V]... -- COMMAND ARGS...` (line continuations joined). The
// name comes first: Claude Code's -e is variadic and would take a later name as a variable.
function claudeMcpAdd(text) {
  return text.replace(/\\\n\s*/g, ' ').split('\n').filter((l) => l.startsWith('claude mcp add ')).map((line) => {
    const [opts, launch] = line.slice('claude mcp add '.length).split(' -- ');
    const [name, ...words] = opts.trim().split(/\s+/);
    const env = {};
    for (let i = 0; i < words.length; i++) {
      if (words[i] === '--scope' || words[i] === '-s') assert.ok(['local', 'user', 'project'].includes(words[++i]), words[i]);
      else if (words[i] === '-e' || words[i] === '--env') {
        const [k, ...v] = words[++i].split('=');
        env[k] = v.join('=').replace(/^"(.*)"$/, '$1');
        assert.match(env[k], /^\$[A-Z_]+$|^\$HOME\/[\w./-]+$|^[\w.-]+$/, `${k}: a shell word without spaces or <placeholders>`);
      }
      else assert.fail(`unknown option ${words[i]} in: ${line}`);
    }
    assert.equal(name, 'azure-ai-gateway');
    const [command, ...args] = launch.trim().split(/\s+/);
    return { command, args, env, line };
  });
}

test('docs/clients.md: every one of the ten clients has a demo and a real-gateway snippet, each valid for its client', () => {
  const all = snippets('docs/clients.md');
  const seen = new Map(CLIENTS.map((c) => [c, { demo: 0, real: 0 }]));
  for (const s of all) {
    assert.ok(SHAPES[s.client], `unknown client ${s.client}`);
    const launches = SHAPES[s.client](s);
    assert.ok(launches.length > 0, `${s.client}: a snippet with no server`);
    for (const l of launches) {
      const own = checkLaunch(l, s.client);
      seen.get(s.client)[own.includes('--demo') ? 'demo' : 'real']++;
    }
  }
  for (const [c, n] of seen) {
    assert.ok(n.demo >= 1, `${c}: no demo snippet`);
    assert.ok(n.real >= 1, `${c}: no real-gateway snippet`);
  }
});

test('the shape checks fail on the stale forms issue 20 found', () => {
  const bad = [
    { client: 'zed', lang: 'json', text: '{"context_servers":{"x":{"command":{"path":"/usr/bin/azure-ai-gateway-mcp","args":[]},"settings":{}}}}' },
    { client: 'vscode', lang: 'json', text: '{"mcpServers":{"x":{"command":"npx","args":["-y","azure-ai-gateway-mcp"]}}}' },
    { client: 'vscode', lang: 'json', text: '{"servers":{"x":{"command":"npx","args":["-y","azure-ai-gateway-mcp"]}}}' },
    { client: 'continue', variant: 'config.yaml', lang: 'yaml', text: 'name: c\nversion: 0.0.1\nschema: v1\nmcpServers:\n  - name: x\n    args: ["--demo"]\n' },
    { client: 'cline', lang: 'json', text: '{"mcpServers":{"x":{"command":"npx","args":["-y","azure-ai-gateway-mcp"],"disabled":false,"autoApprove":["update_quota"]}}}' },
    { client: 'codex', lang: 'toml', text: '[mcp_servers.x]\ncommand = "npx"\nargs = ["-y", "azure-ai-gateway-mcp"]\nenv = { AZURE_CLIENT_SECRET = "s" }\n' },
  ];
  for (const s of bad) assert.throws(() => SHAPES[s.client](s), `${s.client} accepted ${s.text}`);
  assert.throws(() => checkLaunch({ command: 'npx', args: ['-y', 'azure-ai-gateway-mcp', '--demoo'] }, 'typo'));
  assert.throws(() => checkLaunch({ command: '/usr/bin/azure-ai-gateway-mcp', args: [], env: { AZURE_CLIENT_SECRETS: 'x' } }, 'typo'));
});

test('the VS Code install link and `code --add-mcp` line carry a valid demo server', () => {
  const text = readFileSync(join(SOURCE_DIR, 'docs/clients.md'), 'utf8');
  const link = text.match(/\(vscode:mcp\/install\?([^)\s]+)\)/);
  assert.ok(link, 'an install link');
  const add = text.match(/code --add-mcp '([^']+)'/);
  assert.ok(add, 'a code --add-mcp line');
  for (const cfg of [JSON.parse(decodeURIComponent(link[1])), JSON.parse(add[1])]) {
    assert.equal(cfg.name, 'azure-ai-gateway');
    assert.equal(cfg.type, 'stdio');
    assert.deepEqual(checkLaunch(cfg, 'vscode link'), ['--demo']);
  }
});

test('the README snippets and the AIGW_CONFIRM example launch this program with accepted arguments', () => {
  const readme = readFileSync(join(SOURCE_DIR, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));
  assert.ok(blocks.length >= 2);
  for (const cfg of blocks) for (const e of Object.values(cfg.mcpServers ?? {})) checkLaunch(e, 'README');
  const adds = claudeMcpAdd([...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n'));
  assert.ok(adds.length >= 1, 'the README has a claude mcp add line');
  for (const l of adds) checkLaunch(l, 'README claude mcp add');
  const unattended = claudeMcpAdd(readFileSync(join(SOURCE_DIR, 'docs/clients.md'), 'utf8').split('## Claude Desktop')[0]);
  assert.deepEqual(unattended.map((l) => l.env.AIGW_CONFIRM), ['client']);
});

// Claude Code itself (@anthropic-ai/claude-code, the CLI users run), in a network namespace with no
// network (`unshare -n`: nothing leaves the machine) and a fresh HOME: each documented `claude mcp
// add` line is accepted and `claude mcp list` connects to the server; the documented .mcp.json is a
// project server pending the user's approval, its ${VAR} references resolved from the environment.
const CLAUDE = join(SOURCE_DIR, 'tests/e2e/node_modules/.bin/claude');
const noNet = spawnSync('unshare', ['-n', 'true']).status === 0;

function claude(args, { home, cwd, env = {} }) {
  return spawnSync('unshare', ['-n', CLAUDE, ...args], {
    cwd, encoding: 'utf8', timeout: 120000,
    env: { PATH: process.env.PATH, HOME: home, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1', ...env },
  });
}
// npx -y azure-ai-gateway-mcp ARGS → this build's binary with ARGS
const local = (l) => ({ ...l, command: AIGW_BIN, args: programArgs(l.command, l.args) });

test('Claude Code accepts every documented `claude mcp add`, connects, and holds .mcp.json for approval',
  { skip: !noNet && 'needs unshare -n (a network namespace) to run Claude Code without any network' }, () => {
    const doc = readFileSync(join(SOURCE_DIR, 'docs/clients.md'), 'utf8');
    const adds = claudeMcpAdd(doc);
    assert.ok(adds.length >= 3);
    for (const add of adds) {
      const home = mkdtempSync(join(tmpdir(), 'aigw-claude-'));
      try {
        const l = local(add);
        const words = add.line.replace(/ -- .*/, '').split(/\s+/).filter(Boolean).slice(3) // name and options, as documented
          .map((w) => w.replace(/"\$HOME(\/[^"]*)"/, `${home}$1`).replace(/"\$([A-Z_]+)"/, 'x-$1'));
        const r = claude(['mcp', 'add', ...words, '--', l.command, ...l.args], { home, cwd: home });
        assert.equal(r.status, 0, `${add.line}\n${r.stdout}${r.stderr}`);
        const stored = JSON.parse(readFileSync(join(home, '.claude.json'), 'utf8')).mcpServers['azure-ai-gateway'];
        assert.deepEqual(Object.keys(stored.env ?? {}), Object.keys(add.env), 'every -e is stored in ~/.claude.json');
        const list = claude(['mcp', 'list'], { home, cwd: home });
        assert.match(list.stdout, /azure-ai-gateway: .*✔ Connected/, list.stdout + list.stderr);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }
    // the project file, as documented, with the command pointed at this build
    const mcpJson = snippets('docs/clients.md').find((s) => s.client === 'claude-code' && s.lang === 'json');
    const cfg = JSON.parse(mcpJson.text);
    Object.assign(cfg.mcpServers['azure-ai-gateway'], local(cfg.mcpServers['azure-ai-gateway']));
    const home = mkdtempSync(join(tmpdir(), 'aigw-claude-'));
    try {
      const project = join(home, 'project');
      mkdirSync(project);
      writeFileSync(join(project, '.mcp.json'), JSON.stringify(cfg, null, 2));
      const vars = Object.fromEntries(Object.keys(cfg.mcpServers['azure-ai-gateway'].env).map((k) => [k, `x-${k}`]));
      const get = claude(['mcp', 'get', 'azure-ai-gateway'], { home, cwd: project, env: vars });
      assert.match(get.stdout, /Pending approval/, get.stdout + get.stderr);
      assert.doesNotMatch(get.stdout + get.stderr, /Missing environment variables/);
      const unset = claude(['mcp', 'list'], { home, cwd: project });
      assert.match(unset.stdout + unset.stderr, /Missing environment variables: AZURE_TENANT_ID/, 'without them, Claude Code says so');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

// Gemini CLI itself (@google/gemini-cli), the same way: each documented settings.json, pointed at
// this build, connects from a trusted folder; in an untrusted folder Gemini CLI keeps it disabled,
// as docs/clients.md says.
const GEMINI = join(SOURCE_DIR, 'tests/e2e/node_modules/.bin/gemini');

test('Gemini CLI connects to every documented settings.json entry (trusted folder only)',
  { skip: !noNet && 'needs unshare -n (a network namespace) to run Gemini CLI without any network' }, () => {
    const gemini = snippets('docs/clients.md').filter((s) => s.client === 'gemini');
    assert.ok(gemini.length >= 2);
    for (const s of gemini) {
      const home = mkdtempSync(join(tmpdir(), 'aigw-gemini-'));
      try {
        const cfg = JSON.parse(s.text);
        Object.assign(cfg.mcpServers['azure-ai-gateway'], local(cfg.mcpServers['azure-ai-gateway']));
        mkdirSync(join(home, '.gemini'));
        writeFileSync(join(home, '.gemini/settings.json'), JSON.stringify(cfg));
        const trusted = join(home, 'trusted');
        const untrusted = mkdtempSync(join(tmpdir(), 'aigw-untrusted-')); // outside HOME
        mkdirSync(trusted);
        writeFileSync(join(home, '.gemini/trustedFolders.json'), JSON.stringify({ [trusted]: 'TRUST_FOLDER' }));
        const run = (cwd) => spawnSync('unshare', ['-n', GEMINI, 'mcp', 'list'], { cwd, encoding: 'utf8', timeout: 120000,
          env: { PATH: process.env.PATH, HOME: home, AZURE_CLIENT_SECRET: 'from-the-shell' } });
        const ok = run(trusted);
        assert.match(ok.stdout + ok.stderr, /✓ azure-ai-gateway: .* - Connected/);
        const off = run(untrusted);
        rmSync(untrusted, { recursive: true, force: true });
        assert.match(off.stdout + off.stderr, /azure-ai-gateway: .* - Disabled/, off.stdout + off.stderr);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }
  });
