// ts_server: the comparison point of bench/run.mjs — a minimal MCP server on the official
// TypeScript SDK (@modelcontextprotocol/sdk, installed for the e2e tests) with one tool, `echo`,
// over stdio. Not part of the product.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const { McpServer } = await import(require.resolve('@modelcontextprotocol/sdk/server/mcp.js'));
const { StdioServerTransport } = await import(require.resolve('@modelcontextprotocol/sdk/server/stdio.js'));
const { z } = await import(require.resolve('zod'));

const server = new McpServer({ name: 'ts-minimal', version: '1.0.0' });
server.registerTool('echo', { title: 'Echo', description: 'Echoes its text.', inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: 'text', text }] }));
await server.connect(new StdioServerTransport());
