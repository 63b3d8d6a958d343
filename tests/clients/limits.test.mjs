// Limits as real clients meet them: the Spin build under its own test host with a short
// stream lifetime and a small session cap.
//
// Needs MCP_TEST_HOST (the test host binary) and MCP_SPIN_WASM; scripts/test sets both.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { EventSource } from 'eventsource';

const HOST = process.env.MCP_TEST_HOST;
const WASM = process.env.MCP_SPIN_WASM;
const skip = !HOST || !WASM;
const MANIFEST = fileURLToPath(new URL('../../spin.toml', import.meta.url));
const LIFETIME_S = 1.5;

let server;
let base;

before(async () => {
  if (skip) return;
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  await new Promise((resolve) => probe.close(resolve));
  const vars = [`stream_max_seconds=${LIFETIME_S}`, 'max_sessions_per_principal=3', 'keepalive_seconds=0.5'];
  server = spawn(
    HOST,
    ['--addr', `127.0.0.1:${port}`, '--manifest', MANIFEST, ...vars.flatMap((v) => ['--var', v]), WASM],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolve, reject) => {
    server.stdout.on('data', (chunk) => String(chunk).includes('serving') && resolve());
    server.on('exit', (code) => reject(new Error(`test host exited with ${code}`)));
  });
  base = `http://127.0.0.1:${port}`;
});

after(() => server?.kill());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const headers = (token) => ({ Authorization: `Bearer ${token}` });

test('the SDK SSE client carries on across the stream lifetime, in a new session', { skip }, async () => {
  // SDK v1 replaces the headers of EventSource's reconnect, Last-Event-ID included, so it
  // cannot resume: it reconnects, receives a new endpoint, and posts there.
  let opens = 0;
  const auth = headers('lifetime-sse-user');
  const client = new Client({ name: 'e2e-lifetime-sse', version: '1.0.0' });
  await client.connect(new SSEClientTransport(new URL('/sse', base), {
    requestInit: { headers: auth },
    eventSourceInit: { fetch: (url, init) => { opens++; return fetch(url, init); } },
  }));
  assert.equal((await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).content[0].text, '3');
  // Two lifetimes pass; the server ends the stream with a retry hint each time.
  while (opens < 3) await sleep(50);
  await sleep(300); // the new endpoint event
  assert.equal((await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).content[0].text, '42');
  await client.close();
});

test('a standard EventSource resumes its session with Last-Event-ID; nothing posted in between is lost', { skip }, async () => {
  const auth = headers('lifetime-eventsource-user');
  const events = [];
  let opens = 0;
  const source = new EventSource(new URL('/sse', base), {
    fetch: (url, init) => { opens++; return fetch(url, { ...init, headers: { ...init.headers, ...auth } }); },
  });
  const endpoints = [];
  source.addEventListener('endpoint', (event) => endpoints.push(event.data));
  source.addEventListener('message', (event) => events.push(JSON.parse(event.data)));
  while (endpoints.length < 1) await sleep(20);
  // The stream reaches its lifetime; post while it is away.
  while (opens < 2) await sleep(20);
  const post = await fetch(new URL(endpoints[0], base), {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 'during-gap', method: 'ping' }),
  });
  assert.equal(post.status, 202);
  const until = Date.now() + 10_000;
  while (!events.some((e) => e.id === 'during-gap') && Date.now() < until) await sleep(20);
  source.close();
  assert.ok(events.some((e) => e.id === 'during-gap'), 'the reply arrived on the resumed stream');
  assert.ok(endpoints.length >= 2 && endpoints.every((e) => e === endpoints[0]), `same session: ${endpoints}`);
});

test('a Streamable HTTP client carries on across the stream lifetime', { skip }, async () => {
  const client = new Client({ name: 'e2e-lifetime-streamable', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), { requestInit: { headers: headers('lifetime-streamable-user') } });
  await client.connect(transport);
  await sleep(LIFETIME_S * 2000 + 1500);
  assert.equal((await client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).content[0].text, '4');
  await transport.terminateSession();
  await client.close();
});

test('beyond the session cap the SDK sees 429 with the limit named, and ending one frees a place', { skip }, async () => {
  const token = 'capped-user-0123456789';
  const open = async () => {
    const client = new Client({ name: 'e2e-cap', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), { requestInit: { headers: headers(token) } });
    await client.connect(transport);
    return { client, transport };
  };
  const first = await open();
  const second = await open();
  const spare = await open();
  await assert.rejects(open(), (error) => {
    assert.match(String(error.message), /429|max_sessions_per_principal/);
    return true;
  });
  const raw = await fetch(new URL('/mcp', base), {
    method: 'POST',
    headers: { ...headers(token), 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
  });
  assert.equal(raw.status, 429);
  assert.ok(Number(raw.headers.get('retry-after')) >= 1);
  assert.equal((await raw.json()).error.code, -32030);

  await first.transport.terminateSession();
  await first.client.close();
  const third = await open();
  assert.equal((await third.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).content[0].text, '2');
  for (const { client, transport } of [second, spare, third]) {
    await transport.terminateSession();
    await client.close();
  }
});
