// Several nodes for real: two `spin up` processes whose `default` key-value store is one
// Redis (redis-server from Debian's packages, started and stopped here; with
// MCP_SPIN_HOSTED=1, the hosted build's redis_address instead), as a deployment
// behind a load balancer without sticky sessions runs them. Needs MCP_SPIN_HOST=spin
// (scripts/test sets it when `spin` is on PATH) and `redis-server` on PATH.
//
// - an HTTP+SSE stream held by node A while every POST goes to node B;
// - a Streamable HTTP session initialized on A and used, then ended, on B;
// - node A killed (SIGKILL to its process group) while a client holds its stream: a call
//   posted to B while no node holds the stream, then the client's EventSource reconnects
//   to B with Last-Event-ID and finds the same session, the call's answer, and goes on;
// - sixty initialize requests of one principal at once across both nodes: the session cap
//   holds.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { EventSource } from 'eventsource';

import { HAS_REDIS, REAL_SPIN, assertListsTools, startRedis, startSpinBuild, storeIn, until, within } from './hosts.mjs';

const skip = !REAL_SPIN ? 'needs the real Spin (MCP_SPIN_HOST=spin)' : !HAS_REDIS ? 'needs redis-server on PATH' : false;

let redis;
let a;
let b;
const TOKEN = 'two-nodes-token-0123456789';
const headers = { Authorization: `Bearer ${TOKEN}` };

/// `url` with its origin replaced by `node`'s.
const on = (node, url) => {
  const moved = new URL(url);
  const target = new URL(node.base);
  moved.host = target.host;
  return moved;
};

before(async () => {
  if (skip) return;
  redis = await startRedis();
  const store = storeIn(redis);
  const runtimeConfig = store.runtimeConfig;
  const variables = { keepalive_seconds: 1, max_sessions_per_principal: 8, ...store.variables };
  [a, b] = await Promise.all([
    startSpinBuild({ name: 'node-a', variables, runtimeConfig }),
    startSpinBuild({ name: 'node-b', variables, runtimeConfig }),
  ]);
});

after(async () => {
  await Promise.all([a?.kill(), b?.kill()]);
  await redis?.kill();
});

test('two Spin nodes on one Redis: an HTTP+SSE stream on node A, every POST to node B', { skip }, async () => {
  const posts = [];
  const client = new Client({ name: 'e2e-two-nodes-sse', version: '1.0.0' });
  const transport = new SSEClientTransport(new URL('/sse', a.base), {
    requestInit: { headers },
    eventSourceInit: { fetch: (url, init) => fetch(on(a, url), init) },
    fetch: (url, init) => {
      posts.push(on(b, url).origin);
      return fetch(on(b, url), init);
    },
  });
  await within(15_000, 'connect', client.connect(transport));
  const { tools } = await within(10_000, 'tools/list', client.listTools());
  assertListsTools(tools);
  const sums = await within(15_000, 'ten calls', Promise.all(
    Array.from({ length: 10 }, (_, i) => client.callTool({ name: 'add', arguments: { a: i, b: 100 } })),
  ));
  assert.deepEqual(sums.map((r) => r.content[0].text), Array.from({ length: 10 }, (_, i) => String(i + 100)));
  assert.ok(posts.length >= 12 && posts.every((origin) => origin === b.base), `POSTs went to B: ${posts}`);
  await client.close();
});

test('two Spin nodes on one Redis: a Streamable HTTP session initialized on A is used and ended on B', { skip }, async () => {
  const seen = [];
  let first = true;
  const client = new Client({ name: 'e2e-two-nodes-streamable', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', a.base), {
    requestInit: { headers },
    // initialize on A, everything after it (the GET stream included) on B.
    fetch: (url, init) => {
      const node = first ? a : b;
      first = false;
      seen.push(`${init?.method ?? 'GET'} ${node === a ? 'A' : 'B'}`);
      return fetch(on(node, url), init);
    },
  });
  await within(15_000, 'connect', client.connect(transport));
  const session = transport.sessionId;
  assert.match(session, /^[0-9a-f]{40}$/);
  const sum = await within(10_000, 'add on B', client.callTool({ name: 'add', arguments: { a: 20, b: 22 } }));
  assert.deepEqual(sum.content, [{ type: 'text', text: '42' }]);
  assert.equal(transport.sessionId, session);
  assert.equal(seen[0], 'POST A');
  assert.ok(seen.slice(1).every((s) => s.endsWith(' B')), seen.join(', '));

  // DELETE on B ends it for A too.
  await within(10_000, 'DELETE on B', transport.terminateSession());
  const after = await within(10_000, 'POST to A after DELETE', fetch(new URL('/mcp', a.base), {
    method: 'POST',
    headers: {
      ...headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  }));
  assert.equal(after.status, 404);
  await client.close();
});

test('two Spin nodes on one Redis: sixty initialize requests at once, half on each node, never exceed the cap', { skip }, async () => {
  const token = 'racing-principal-0123456789';
  const statuses = await within(60_000, 'sixty initialize requests', Promise.all(
    Array.from({ length: 60 }, async (_, i) => {
      const node = i % 2 ? b : a;
      const response = await fetch(new URL('/mcp', node.base), {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0', id: 1, method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'race', version: '1' } },
        }),
      });
      await response.arrayBuffer();
      return response.status;
    }),
  ));
  const admitted = statuses.filter((s) => s === 200).length;
  assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join(' '));
  assert.ok(admitted <= 8, `${admitted} admitted with max_sessions_per_principal = 8`);
  assert.ok(admitted >= 1, 'someone got in');
});

// Runs last: it kills node A.
test('two Spin nodes on one Redis: node A killed mid-stream, the client resumes its session on B', { skip }, async () => {
  const messages = [];
  const endpoints = [];
  const opened = [];
  let release;
  const posted = new Promise((resolve) => { release = resolve; });
  // A load balancer's view: the first connection reaches A; once A is gone, B. The
  // reconnect waits until the test has posted, so that POST finds no stream anywhere.
  const source = new EventSource(new URL('/sse', a.base), {
    fetch: async (url, init) => {
      const node = opened.length === 0 ? a : b;
      opened.push({ node: node === a ? 'A' : 'B', lastEventId: new Headers(init.headers).get('last-event-id') });
      if (node === b) await posted;
      return fetch(on(node, url), { ...init, headers: { ...init.headers, ...headers } });
    },
  });
  const post = async (message) => {
    const response = await within(10_000, `POST ${message.method} to B`, fetch(on(b, new URL(endpoints[0], a.base)), {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', ...message }),
    }));
    assert.equal(response.status, 202, await response.text());
  };
  const answer = async (id) => {
    await until(15_000, `the answer to ${id}`, () => messages.some((m) => m.id === id));
    return messages.find((m) => m.id === id);
  };
  try {
    source.addEventListener('endpoint', (event) => endpoints.push(event.data));
    source.addEventListener('message', (event) => messages.push(JSON.parse(event.data)));
    await until(15_000, 'the endpoint event from A', () => endpoints.length === 1);
    await post({ id: 'init', method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'es', version: '1' } } });
    assert.equal((await answer('init')).result.protocolVersion, '2024-11-05');
    await post({ method: 'notifications/initialized' });
    await post({ id: 'before', method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } });
    assert.equal((await answer('before')).result.content[0].text, '3');

    // Node A dies with the stream open.
    assert.equal(await within(10_000, 'node A to die', a.kill()), 'SIGKILL');
    await until(15_000, 'the client to notice and start reconnecting', () => opened.length >= 2);
    await post({ id: 'gap', method: 'tools/call', params: { name: 'add', arguments: { a: 20, b: 22 } } });
    release();

    assert.equal((await answer('gap')).result.content[0].text, '42');
    const resumed = opened.find((o) => o.node === 'B');
    assert.match(resumed.lastEventId ?? '', /^[0-9a-f]{40}\/\d+$/, 'the reconnect carried Last-Event-ID');
    assert.ok(endpoints.length >= 2 && endpoints.every((e) => e === endpoints[0]), `same session: ${endpoints}`);
    await post({ id: 'after', method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 2 } } });
    assert.equal((await answer('after')).result.content[0].text, '4');
    assert.equal(new Set(messages.map((m) => m.id)).size, messages.length, 'no message delivered twice');
  } finally {
    release();
    source.close();
  }
});
