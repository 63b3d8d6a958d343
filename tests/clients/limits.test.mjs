// Limits as real clients meet them: the Spin build (under real `spin up` or the local
// host, see hosts.mjs) with a short stream lifetime and a small session cap.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { EventSource } from 'eventsource';

import { CAN_START, HOST_NAME, sleep, startSpinBuild, until, within } from './hosts.mjs';

const skip = !CAN_START;
const LIFETIME_S = 1.5;

let node;
let base;

before(async () => {
  if (skip) return;
  node = await startSpinBuild({
    name: 'limits',
    variables: { stream_max_seconds: LIFETIME_S, max_sessions_per_principal: 3, keepalive_seconds: 0.5 },
  });
  base = node.base;
});

after(() => node?.kill());

const headers = (token) => ({ Authorization: `Bearer ${token}` });
const sessionOf = (url) => new URL(url).searchParams.get('sessionId');

/// `response` with its body passed through `watch(text)` as it streams.
function tap(response, watch) {
  const decoder = new TextDecoder();
  const body = response.body.pipeThrough(new TransformStream({
    transform(chunk, controller) {
      watch(decoder.decode(chunk, { stream: true }));
      controller.enqueue(chunk);
    },
  }));
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

test(`${HOST_NAME}: the SDK SSE client carries on across the stream lifetime, in a new session`, { skip }, async () => {
  // SDK v1 replaces the headers of EventSource's reconnect, Last-Event-ID included, so it
  // cannot resume: it reconnects, receives a new endpoint, and posts there.
  let opens = 0;
  let seen = '';
  const posts = [];
  const auth = headers('lifetime-sse-user');
  const client = new Client({ name: 'e2e-lifetime-sse', version: '1.0.0' });
  await within(10_000, 'SSE connect', client.connect(new SSEClientTransport(new URL('/sse', base), {
    requestInit: { headers: auth },
    fetch: (url, init) => { posts.push(String(url)); return fetch(url, init); },
    eventSourceInit: {
      fetch: async (url, init) => {
        opens++;
        return tap(await fetch(url, init), (text) => { seen += text; });
      },
    },
  })));
  const endpoints = () => [...seen.matchAll(/^data: (\/sse\/message\?sessionId=\w+)$/gm)].map((m) => m[1]);
  assert.equal((await within(10_000, 'add', client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).content[0].text, '3');
  assert.equal(sessionOf(posts.at(-1)), sessionOf(`${base}${endpoints()[0]}`));
  // Two lifetimes pass; the server ends the stream with a retry hint each time, and each
  // new stream's endpoint event names a new session.
  await until(LIFETIME_S * 3000 + 5000, 'two reconnects and their endpoint events', () => opens >= 3 && endpoints().length >= 3);
  await sleep(100); // the SDK takes the endpoint event right after these bytes
  const sessions = endpoints().map((e) => sessionOf(`${base}${e}`));
  assert.equal(new Set(sessions).size, sessions.length, `a new session per stream: ${sessions}`);
  assert.equal((await within(10_000, 'add after the reconnects', client.callTool({ name: 'add', arguments: { a: 20, b: 22 } }))).content[0].text, '42');
  assert.equal(sessionOf(posts.at(-1)), sessions.at(-1), 'posted to the newest session');
  await client.close();
});

test(`${HOST_NAME}: a standard EventSource resumes its session with Last-Event-ID; what was posted while no stream was open arrives`, { skip }, async () => {
  const auth = headers('lifetime-eventsource-user');
  const events = [];
  const endpoints = [];
  const lastEventIds = [];
  let opens = 0;
  // The reconnect waits until the test has posted: the POST lands while the session has
  // no stream at all.
  let release;
  const posted = new Promise((resolve) => { release = resolve; });
  const source = new EventSource(new URL('/sse', base), {
    fetch: async (url, init) => {
      opens++;
      lastEventIds.push(new Headers(init.headers).get('last-event-id'));
      if (opens === 2) await posted;
      return fetch(url, { ...init, headers: { ...init.headers, ...auth } });
    },
  });
  try {
    source.addEventListener('endpoint', (event) => endpoints.push(event.data));
    source.addEventListener('message', (event) => events.push(JSON.parse(event.data)));
    await until(10_000, 'the endpoint event', () => endpoints.length >= 1);
    // The stream reaches its lifetime and EventSource starts to reconnect.
    await until(LIFETIME_S * 1000 + 5000, 'the reconnect', () => opens >= 2);
    const post = await within(10_000, 'POST during the gap', fetch(new URL(endpoints[0], base), {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'during-gap', method: 'ping' }),
    }));
    assert.equal(post.status, 202);
    release();
    await until(10_000, 'the reply to the POST sent during the gap', () => events.some((e) => e.id === 'during-gap'));
    assert.match(lastEventIds[1] ?? '', /^[0-9a-f]{40}\/\d+$/, 'the reconnect named the last event');
    assert.ok(endpoints.length >= 2 && endpoints.every((e) => e === endpoints[0]), `same session: ${endpoints}`);
  } finally {
    release();
    source.close();
  }
});

test(`${HOST_NAME}: a Streamable HTTP client carries on across the stream lifetime, its GET stream reopened in the same session`, { skip }, async () => {
  const gets = [];
  const client = new Client({ name: 'e2e-lifetime-streamable', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), {
    requestInit: { headers: headers('lifetime-streamable-user') },
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      if ((init?.method ?? 'GET') === 'GET') {
        gets.push({ status: response.status, session: new Headers(init.headers).get('mcp-session-id') });
      }
      return response;
    },
  });
  await within(10_000, 'connect', client.connect(transport));
  // The SDK opens its server→client stream after initialize; the server ends it at each
  // lifetime and the SDK opens it again, in the same session.
  await until(LIFETIME_S * 3000 + 5000, 'the GET stream reopened twice', () => gets.length >= 3);
  assert.ok(gets.every((g) => g.status === 200), JSON.stringify(gets));
  assert.ok(gets.every((g) => g.session === transport.sessionId), JSON.stringify(gets));
  assert.equal((await within(10_000, 'add', client.callTool({ name: 'add', arguments: { a: 2, b: 2 } }))).content[0].text, '4');
  await transport.terminateSession();
  await client.close();
});

test(`${HOST_NAME}: beyond the session cap the SDK sees 429 with the limit named, and ending one frees a place`, { skip }, async () => {
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
