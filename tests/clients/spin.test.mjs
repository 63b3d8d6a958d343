// The Spin build (under real `spin up` or the local host; one key-value store shared by
// every request): the legacy HTTP+SSE transport with the SDK v1 client, Claude Desktop's
// setup through mcp-remote over stdio, and Streamable HTTP sessions. MCP_SPIN_URL names
// the server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { HOST_NAME, assertListsTools } from './hosts.mjs';

const BASE = process.env.MCP_SPIN_URL;
const TOKEN = 'spin-e2e-token';
const AUTH = `Bearer ${TOKEN}`;
const headers = { Authorization: AUTH };

async function getToken(client) {
  const result = await client.callTool({ name: 'getToken', arguments: {} });
  assert.deepEqual(result.content, [{ type: 'text', text: `User's token: ${AUTH}` }]);
}

test(`${HOST_NAME}: SDK v1 SSE client: the Inspector's "SSE" transport`, { skip: !BASE }, async () => {
  const client = new Client({ name: 'e2e-sse', version: '1.0.0' });
  const transport = new SSEClientTransport(new URL('/sse', BASE), { requestInit: { headers } });
  await client.connect(transport);
  assert.equal(client.getServerVersion().name, 'remote-mcp-server');
  const { tools } = await client.listTools();
  assertListsTools(tools);
  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  assert.deepEqual(sum.content, [{ type: 'text', text: '5' }]);
  await getToken(client);

  // Several requests in flight at once all get their answers.
  const sums = await Promise.all(
    Array.from({ length: 20 }, (_, i) => client.callTool({ name: 'add', arguments: { a: i, b: 0.5 } })),
  );
  assert.deepEqual(sums.map((r) => r.content[0].text), Array.from({ length: 20 }, (_, i) => String(i + 0.5)));
  await client.close();
});

// Claude Desktop runs `npx mcp-remote <url> --header "Authorization: Bearer …"` and speaks
// MCP to it over stdio; so does this test.
const require = createRequire(import.meta.url);
const MCP_REMOTE = require.resolve('mcp-remote/dist/proxy.js');

for (const [strategy, expected] of [
  [null, 'StreamableHTTPClientTransport'],
  ['sse-only', 'SSEClientTransport'],
]) {
  test(`${HOST_NAME}: mcp-remote over stdio, ${strategy ?? 'default (http-first)'} strategy, given the /sse URL`, { skip: !BASE }, async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'mcp-remote-'));
    const args = [MCP_REMOTE, new URL('/sse', BASE).href, '--header', `Authorization: ${AUTH}`];
    if (strategy) args.push('--transport', strategy);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args,
      env: { ...process.env, MCP_REMOTE_CONFIG_DIR: configDir },
      stderr: 'pipe',
    });
    let log = '';
    transport.stderr.on('data', (chunk) => { log += chunk; });
    const client = new Client({ name: 'claude-desktop-stand-in', version: '1.0.0' });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      assertListsTools(tools);
      await getToken(client);
      assert.match(log, new RegExp(`Connected to remote server using ${expected}`), log);
    } finally {
      await client.close();
      rmSync(configDir, { recursive: true, force: true });
    }
  });
}

test(`${HOST_NAME}: SDK v1 Streamable HTTP client: a session is issued, reused, and ended by DELETE`, { skip: !BASE }, async () => {
  const client = new Client({ name: 'e2e-sessions', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', BASE), { requestInit: { headers } });
  await client.connect(transport);
  const session = transport.sessionId;
  assert.match(session, /^[0-9a-f]{40}$/);
  const sum = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
  assert.deepEqual(sum.content, [{ type: 'text', text: '42' }]);
  await getToken(client);
  assert.equal(transport.sessionId, session, 'the same session throughout');

  await transport.terminateSession();
  const after = await fetch(new URL('/mcp', BASE), {
    method: 'POST',
    headers: {
      ...headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(after.status, 404);
  assert.equal((await after.json()).error.code, -32001);
  await client.close();
});

test(`${HOST_NAME}: a session opened with one token is unknown to another`, { skip: !BASE }, async () => {
  const client = new Client({ name: 'e2e-owner', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', BASE), { requestInit: { headers } });
  await client.connect(transport);
  const response = await fetch(new URL('/mcp', BASE), {
    method: 'POST',
    headers: {
      Authorization: 'Bearer someone-else',
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': transport.sessionId,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  assert.equal(response.status, 404);
  await client.close();
});
