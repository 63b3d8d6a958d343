// A host that cuts every request at a limit (Fermyon's hosted platforms: 30 s), emulated
// at 4 s by tests/clients/cutter.mjs in front of a node with request_limit_seconds=4:
// event streams end on their own before the cut (the cutter cuts nothing), and the
// clients users run reconnect and carry on: the MCP Inspector's SSE transport (SDK v1
// SSEClientTransport), mcp-remote as Claude Desktop runs it (sse-only), and SDK v1's
// Streamable HTTP with its GET stream. The same node unaware of the limit gets its
// streams cut, which is what the first assertions would then see.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { CAN_START, HAS_REDIS, HOSTED, HOST_NAME, sleep, startRedis, startSpinBuild, storeIn, within } from './hosts.mjs';
import { startCutter } from './cutter.mjs';

const skip = !CAN_START ? 'needs a Spin build to start (MCP_SPIN_HOST=spin or MCP_LOCAL_HOST)'
  : HOSTED && !HAS_REDIS ? 'the hosted build needs redis-server on PATH' : false;
const LIMIT_MS = 4000;
const headers = { Authorization: 'Bearer cut-at-the-limit-0123' };

let redis;
let aware;
let unaware;
let cutter;

before(async () => {
  if (skip) return;
  let store = { variables: {} };
  if (HOSTED) {
    redis = await startRedis();
    store = storeIn(redis);
  }
  const variables = { keepalive_seconds: 1, ...store.variables };
  [aware, unaware] = await Promise.all([
    startSpinBuild({ name: 'cut-aware', variables: { ...variables, request_limit_seconds: LIMIT_MS / 1000 }, runtimeConfig: store.runtimeConfig }),
    startSpinBuild({ name: 'cut-unaware', variables: { ...variables, request_limit_seconds: 0 }, runtimeConfig: store.runtimeConfig }),
  ]);
});

after(async () => {
  await cutter?.close();
  await Promise.all([aware?.kill(), unaware?.kill()]);
  await redis?.kill();
});

/// Two calls, 2.5 limits apart: the client's streams lived through two or three ends.
async function callAcrossTheLimit(client) {
  const first = await within(10_000, 'add', client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }));
  assert.deepEqual(first.content, [{ type: 'text', text: '5' }]);
  await sleep(LIMIT_MS * 2.5);
  const second = await within(10_000, 'add after the limit', client.callTool({ name: 'add', arguments: { a: 40, b: 2 } }));
  assert.deepEqual(second.content, [{ type: 'text', text: '42' }]);
}

test(`${HOST_NAME}: request limit of 4 s: the Inspector's SSE transport goes on across the stream's ends, nothing cut`, { skip }, async () => {
  cutter = await startCutter(aware.base, LIMIT_MS);
  const client = new Client({ name: 'e2e-cut-sse', version: '1.0.0' });
  await within(10_000, 'connect', client.connect(new SSEClientTransport(new URL('/sse', cutter.base), { requestInit: { headers } })));
  await callAcrossTheLimit(client);
  await client.close();
  assert.equal(cutter.cuts, 0, `cut: ${cutter.cutPaths}`);
  await cutter.close();
  cutter = undefined;
});

test(`${HOST_NAME}: request limit of 4 s: mcp-remote (sse-only, as Claude Desktop runs it) goes on across the stream's ends`, { skip }, async () => {
  cutter = await startCutter(aware.base, LIMIT_MS);
  const require = createRequire(import.meta.url);
  const proxy = require.resolve('mcp-remote/dist/proxy.js');
  const config = mkdtempSync(join(tmpdir(), 'mcp-remote-cut-'));
  const client = new Client({ name: 'e2e-cut-mcp-remote', version: '1.0.0' });
  try {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [proxy, `${cutter.base}/sse`, '--transport', 'sse-only', '--header', `Authorization: ${headers.Authorization}`],
      env: { ...process.env, MCP_REMOTE_CONFIG_DIR: config },
      stderr: 'ignore',
    });
    await within(20_000, 'mcp-remote connect', client.connect(transport));
    await callAcrossTheLimit(client);
  } finally {
    await client.close();
    rmSync(config, { recursive: true, force: true });
  }
  assert.equal(cutter.cuts, 0, `cut: ${cutter.cutPaths}`);
  await cutter.close();
  cutter = undefined;
});

test(`${HOST_NAME}: request limit of 4 s: SDK v1 Streamable HTTP with its GET stream goes on, nothing cut`, { skip }, async () => {
  cutter = await startCutter(aware.base, LIMIT_MS);
  const client = new Client({ name: 'e2e-cut-streamable', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', cutter.base), { requestInit: { headers } });
  await within(10_000, 'connect', client.connect(transport));
  assert.match(transport.sessionId ?? '', /^[0-9a-f]{40}$/, 'a session, so a GET stream');
  await callAcrossTheLimit(client);
  await client.close();
  assert.equal(cutter.cuts, 0, `cut: ${cutter.cutPaths}`);
  await cutter.close();
  cutter = undefined;
});

test(`${HOST_NAME}: a server not told of the limit has its streams cut (what the tests above rule out)`, { skip }, async () => {
  cutter = await startCutter(unaware.base, LIMIT_MS);
  const client = new Client({ name: 'e2e-cut-unaware', version: '1.0.0' });
  await within(10_000, 'connect', client.connect(new SSEClientTransport(new URL('/sse', cutter.base), { requestInit: { headers } })));
  await sleep(LIMIT_MS * 1.5);
  await client.close().catch(() => {});
  assert.ok(cutter.cuts >= 1, 'the cutter cut the stream');
  assert.ok(cutter.cutPaths.every((p) => p.startsWith('GET /sse')), cutter.cutPaths.join(', '));
  await cutter.close();
  cutter = undefined;
});
