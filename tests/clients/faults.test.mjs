// Faults under the real spin up (MCP_SPIN_HOST=spin): the places of streams whose holder is
// gone must free by themselves.
//
// - A node killed (SIGKILL to its process group) with a principal's every stream place
//   taken: a node started again on the same store admits that principal's new streams
//   within a few keep-alive intervals, not after stream_max_seconds.
// - A node killed while it runs a task: the next node reports the task failed once the
//   runner's lease (30 s) has lapsed, and only then.
// - A client that hangs up right after the endpoint event (raw sockets, no polite close)
//   frees its place at once, not at the next keep-alive write (15 s by default), also
//   when nothing else keeps its instance alive.
// - A request that traps its instance (the trap_instance fixture panics): it fails, so do
//   the requests that shared its instance (WASIp3: up to 16), and the node serves on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';

import { REAL_SPIN, sleep, startSpinBuild, until, within } from './hosts.mjs';

const skip = REAL_SPIN ? false : 'needs the real Spin (MCP_SPIN_HOST=spin)';

/// Opens `GET /sse` on a raw socket; resolves to { status, socket } once the status line
/// and, for a 200, the endpoint event have arrived.
function rawStream(base, token) {
  const url = new URL(base);
  return within(10_000, 'a raw GET /sse', new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let seen = '';
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      seen += chunk;
      const status = Number(seen.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
      if (status && (status !== 200 || seen.includes('event: endpoint'))) resolve({ status, socket, seen });
    });
    socket.write(
      `GET /sse HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\n`
      + 'Accept: text/event-stream\r\n\r\n',
    );
  }));
}

test('real spin up: a node killed holding every stream place of a principal; the next node on the store admits it again within seconds', { skip }, async () => {
  const token = 'killed-node-holder-0123456789';
  const variables = { keepalive_seconds: 1 };
  const first = await startSpinBuild({ name: 'faults-a', variables });
  const open = [];
  try {
    for (let i = 0; i < 32; i++) {
      const stream = await rawStream(first.base, token);
      assert.equal(stream.status, 200, `stream ${i}`);
      open.push(stream.socket);
    }
    const over = await rawStream(first.base, token);
    assert.equal(over.status, 429, 'the 33rd stream is over max_streams_per_principal');
    over.socket.destroy();
  } finally {
    assert.equal(await within(10_000, 'the node to die', first.kill()), 'SIGKILL');
    open.forEach((socket) => socket.destroy());
  }
  // The same store, the same address: what a restart or a rolling deploy does.
  const second = await startSpinBuild({ name: 'faults-a', variables, state: first.state, port: first.port });
  try {
    const started = Date.now();
    let last;
    await until(30_000, 'a stream admitted for the principal again', async () => {
      last = await rawStream(second.base, token);
      last.socket.destroy();
      if (last.status !== 200) await sleep(250);
      return last.status === 200;
    });
    // The lease is sixteen keep-alives (16 s); places count in quarters of it.
    assert.ok(Date.now() - started < 25_000, `took ${Date.now() - started} ms`);
  } finally {
    await second.kill();
  }
});

test('real spin up: a client that hangs up right after the endpoint event frees its place at once', { skip }, async () => {
  // Keep-alives at their default (15 s): the hang-up is noticed without a write. One place
  // per principal, and a quiet second and a half after each hang-up: longer than Spin
  // keeps an instance with nothing left to send (1 s), so the stream must notice and free
  // its place before its instance goes (Spin's default idle-instance timeout, not ours).
  const node = await startSpinBuild({ name: 'faults-b', variables: { max_streams_per_principal: 1 }, idleInstanceTimeout: 1 });
  try {
    for (let i = 0; i < 10; i++) {
      const stream = await rawStream(node.base, 'hang-up-0123456789');
      assert.equal(stream.status, 200, `stream ${i}: ${stream.seen.split('\r\n')[0]}`);
      stream.socket.destroy();
      await sleep(1_500);
    }
  } finally {
    await node.kill();
  }
});

/// A 2026-07-28 request from a client that declares the tasks extension.
async function tasked(base, token, method, params) {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'faults', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
  };
  const headers = {
    authorization: `Bearer ${token}`, 'content-type': 'application/json',
    accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method,
  };
  const name = params.name ?? params.taskId;
  if (name) headers['mcp-name'] = name;
  const response = await fetch(new URL('/mcp', base), {
    method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
  });
  return firstMessage(response);
}

/// The answer in a response: its JSON body, or the first message of its event stream (the
/// WASIp3 build answers a call that becomes a task with a stream that stays open while the
/// task runs; a client reads the answer and goes on).
async function firstMessage(response) {
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) return response.json();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended without a message: ${text}`);
    text += decoder.decode(value, { stream: true });
    let end;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const data = text.slice(0, end).split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart());
      text = text.slice(end + 2);
      if (data.length) {
        reader.cancel().catch(() => {});
        return JSON.parse(data.join('\n'));
      }
    }
  }
}

test('real spin up: a node killed while it runs a task; the task is reported failed by the next node, once its lease lapses', { skip }, async () => {
  const token = 'task-runner-killed-0123456789';
  // No request limit (the hosted build's manifest sets 30 s): a task that outlives it.
  const variables = { conformance_fixtures: 'on', request_limit_seconds: 0 };
  const first = await startSpinBuild({ name: 'faults-c', variables, fixtures: true });
  let id;
  try {
    const created = await tasked(first.base, token, 'tools/call', { name: 'slow_compute', arguments: { seconds: 300 } });
    assert.equal(created.result?.resultType, 'task', JSON.stringify(created));
    id = created.result.taskId;
    const running = await tasked(first.base, token, 'tasks/get', { taskId: id });
    assert.equal(running.result.status, 'working');
  } finally {
    assert.equal(await within(10_000, 'the node to die', first.kill()), 'SIGKILL');
  }
  const second = await startSpinBuild({ name: 'faults-c', variables, fixtures: true, state: first.state, port: first.port });
  try {
    // Right after the death the lease still holds: the task is working as far as anyone knows.
    const soon = await tasked(second.base, token, 'tasks/get', { taskId: id });
    assert.equal(soon.result.status, 'working', JSON.stringify(soon));
    let last;
    await until(45_000, 'the task to be reported failed', async () => {
      last = await tasked(second.base, token, 'tasks/get', { taskId: id });
      if (last.result?.status === 'working') await sleep(1000);
      return last.result?.status !== 'working';
    });
    assert.equal(last.result.status, 'failed', JSON.stringify(last));
    assert.equal(last.result.error.code, -32603);
    assert.ok(!('result' in last.result));
    // Ended once: it stays failed, and cancelling it now is a plain acknowledgement.
    const cancelled = await tasked(second.base, token, 'tasks/cancel', { taskId: id });
    assert.equal(cancelled.result.resultType, 'complete');
    assert.equal((await tasked(second.base, token, 'tasks/get', { taskId: id })).result.status, 'failed');
  } finally {
    await second.kill();
  }
});

/// A 2026-07-28 (stateless) tools/call: status, body and how long it took (status 0: no answer).
async function modernCall(base, token, name, args) {
  const started = Date.now();
  try {
    const response = await fetch(new URL('/mcp', base), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`, 'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name,
      },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 1, method: 'tools/call',
        params: {
          name, arguments: args,
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'faults', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, body: await response.text(), ms: Date.now() - started };
  } catch (e) {
    return { status: 0, body: String(e), ms: Date.now() - started };
  }
}

test('real spin up: a request that traps its instance fails, the requests sharing the instance fail with it, and the node serves on', { skip }, async () => {
  const node = await startSpinBuild({ name: 'faults-trap', variables: { conformance_fixtures: 'on' }, fixtures: true });
  try {
    const token = 'trap-instance-0123456789';
    // Six calls that take two seconds each, then, while they run, the one that traps.
    const slow = Array.from({ length: 6 }, (_, i) => modernCall(node.base, token, 'slow_compute', { seconds: 2, label: `job ${i}` }));
    await sleep(300);
    const trap = await modernCall(node.base, token, 'trap_instance', {});
    const outcomes = await Promise.all(slow);
    assert.notEqual(trap.status, 200, `the trapping call: ${trap.body}`);
    const failed = outcomes.filter((o) => o.status !== 200 || !o.body.includes('Computed'));
    for (const outcome of outcomes) assert.ok(outcome.ms < 10_000, `answered in ${outcome.ms} ms`);
    // The node serves on: a new instance takes the next request.
    const after = await modernCall(node.base, token, 'slow_compute', { seconds: 0 });
    assert.equal(after.status, 200, after.body);
    assert.match(after.body, /Computed/);
    console.log(`# trap: the trapping call got ${trap.status}; ${failed.length} of ${outcomes.length} concurrent calls failed with it (statuses ${outcomes.map((o) => o.status).join(' ')})`);
  } finally {
    await node.kill();
  }
});
