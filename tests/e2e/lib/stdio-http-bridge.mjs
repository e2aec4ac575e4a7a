// stdio-http-bridge: exposes a stdio MCP server (our binary) on a loopback Streamable HTTP endpoint,
// so that tools which only speak HTTP — the official conformance suite's `server` command — can
// drive it. Each HTTP session gets a fresh child process (as each stdio client does), and every
// JSON-RPC message is forwarded unchanged both ways through the SDK's own transports:
// StreamableHTTPServerTransport.onmessage -> StdioClientTransport.send, and
// StdioClientTransport.onmessage -> StreamableHTTPServerTransport.send. Nothing here answers a
// JSON-RPC request itself; only HTTP-level concerns (sessions, SSE, the MCP-Protocol-Version header)
// belong to the SDK transport, since stdio has none of them.
//
// A frame from the child that the SDK's stdio reader rejects (not JSON, not JSON-RPC 2.0) cannot be
// forwarded; it is recorded in problems() so that a test can fail on it instead of timing out.
//
// Use from a test:  const b = await startBridge({ command, args, env }); ... b.url ...; await b.close();
// Or by hand:       node tests/e2e/lib/stdio-http-bridge.mjs /path/to/azure-ai-gateway-mcp [args...]
//                   (prints the URL, serves until SIGINT/SIGTERM)
import http from 'node:http';
import { randomUUID, webcrypto } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

// The SDK's HTTP transport calls the global crypto.randomUUID(), which Node 18 (Debian 12's
// nodejs) only has behind --experimental-global-webcrypto.
if (!globalThis.crypto) globalThis.crypto = webcrypto;

function httpError(res, status, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

// Starts the bridge on 127.0.0.1, port 0. Resolves with
// { url, sessionsStarted(), problems(), stderr(), close() }.
export async function startBridge({ command, args = [], env, host = '127.0.0.1' } = {}) {
  if (!command) throw new Error('startBridge: command (the stdio server binary) is required');
  const sessions = new Map(); // Mcp-Session-Id -> pair
  const pairs = new Set(); // every live pair, initialized or not
  const problems = [];
  let stderr = '';
  let started = 0;

  async function openPair() {
    const child = new StdioClientTransport({ command, args, env, stderr: 'pipe' });
    child.stderr?.on('data', (d) => { stderr += d; });
    const pair = { child, http: null, closed: false };
    pair.http = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => { sessions.set(id, pair); },
      onsessionclosed: (id) => { sessions.delete(id); },
    });
    pair.close = async () => {
      if (pair.closed) return;
      pair.closed = true;
      pairs.delete(pair);
      if (pair.http.sessionId) sessions.delete(pair.http.sessionId);
      await Promise.allSettled([pair.child.close(), pair.http.close()]);
    };
    // HTTP client -> our server, verbatim.
    pair.http.onmessage = (msg) => {
      pair.child.send(msg).catch((e) => problems.push(`could not write to the server's stdin: ${e.message}`));
    };
    // Our server -> HTTP client, verbatim. Responses are routed by id to the POST stream that carried
    // the request; notifications and server requests go to the standalone GET stream.
    pair.child.onmessage = (msg) => {
      pair.http.send(msg).catch((e) => problems.push(`could not forward ${JSON.stringify(msg).slice(0, 200)}: ${e.message}`));
    };
    pair.child.onerror = (e) => { problems.push(`the server wrote a frame that is not valid JSON-RPC: ${e.message}`); };
    pair.http.onerror = () => {}; // HTTP-level refusals are answered by the transport itself
    pair.child.onclose = () => { pair.close(); };
    pair.http.onclose = () => { pair.close(); };
    await pair.child.start();
    await pair.http.start();
    pairs.add(pair);
    started += 1;
    return pair;
  }

  const server = http.createServer(async (req, res) => {
    try {
      const sid = req.headers['mcp-session-id'];
      if (sid !== undefined) {
        const pair = sessions.get(Array.isArray(sid) ? sid[0] : sid);
        if (!pair) return httpError(res, 404, 'Session not found');
        return await pair.http.handleRequest(req, res);
      }
      if (req.method !== 'POST') return httpError(res, 400, 'Bad Request: Mcp-Session-Id header is required');
      // A POST without a session: a new client. Give it its own server process; if the transport
      // does not open a session (the body was not an initialize request), drop the process again.
      const pair = await openPair();
      await pair.http.handleRequest(req, res);
      if (!pair.http.sessionId) await pair.close();
    } catch (e) {
      problems.push(`bridge error: ${e.stack ?? e}`);
      if (!res.headersSent) httpError(res, 500, `bridge error: ${e.message}`);
      else res.end();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address();
  return {
    url: `http://${host}:${port}/mcp`,
    sessionsStarted: () => started,
    problems: () => problems.slice(),
    stderr: () => stderr,
    async close() {
      await Promise.allSettled([...pairs].map((p) => p.close()));
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [command, ...args] = process.argv.slice(2);
  if (!command) {
    console.error('usage: node stdio-http-bridge.mjs /path/to/stdio-mcp-server [args...]');
    process.exit(2);
  }
  const bridge = await startBridge({ command, args, env: process.env });
  console.log(bridge.url);
  const stop = async () => {
    await bridge.close();
    process.stderr.write(bridge.stderr());
    for (const p of bridge.problems()) console.error(p);
    process.exit(bridge.problems().length ? 1 : 0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
