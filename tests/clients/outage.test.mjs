// A store outage under the real spin up (MCP_SPIN_HOST=spin) with Redis as the store:
// Redis is killed (SIGKILL) under a serving node, started again a few seconds later on
// the same port, empty (no persistence). Throughout, every request is answered within
// 2 s: session requests, `initialize` and `/healthz` with 503 and `Retry-After`,
// stateless calls with their result. Once Redis is back, the same node serves sessions
// again without a restart, as soon as Spin's Redis client has reconnected.
//
// Prints what it saw (slowest answer during the outage, how long after the restart
// sessions came back): docs/deploy.md quotes these figures.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { HAS_REDIS, REAL_SPIN, sleep, startRedis, startSpinBuild, storeIn } from './hosts.mjs';

const skip = !REAL_SPIN ? 'needs the real Spin (MCP_SPIN_HOST=spin)' : !HAS_REDIS ? 'needs redis-server on PATH' : false;

const headers = {
  authorization: 'Bearer outage-token-0123456789',
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'outage', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
/// What counts as "answered": well within the 2 s the node must answer in.
const CLIENT_TIMEOUT_MS = 5_000;

/// POST /mcp; resolves to { status, retryAfter, ms, body } (status 0: no answer in time).
async function post(base, body, extra = {}) {
  const started = Date.now();
  try {
    const response = await fetch(new URL('/mcp', base), {
      method: 'POST', headers: { ...headers, ...extra }, body: JSON.stringify(body),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const text = await response.text();
    return {
      status: response.status, retryAfter: response.headers.get('retry-after'), ms: Date.now() - started,
      session: response.headers.get('mcp-session-id'), body: text,
    };
  } catch (e) {
    return { status: 0, ms: Date.now() - started, body: String(e) };
  }
}

async function healthz(base) {
  const started = Date.now();
  try {
    const response = await fetch(new URL('/healthz', base), { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), ms: Date.now() - started, body: await response.text() };
  } catch (e) {
    return { status: 0, ms: Date.now() - started, body: String(e) };
  }
}

const initialize = (base) => post(base, {
  jsonrpc: '2.0', id: 0, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'outage', version: '1' } },
});
const inSession = (base, session) => post(
  base,
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 3 } } },
  { 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': session },
);
const stateless = (base) => post(
  base,
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 3 }, _meta: ENVELOPE } },
  { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'add' },
);

test('real spin up on Redis: Redis killed and restarted under a node; answered within 2 s throughout, sessions back without a restart', { skip, timeout: 400_000 }, async () => {
  let redis = await startRedis();
  const node = await startSpinBuild({ name: 'outage', ...storeIn(redis) });
  try {
    const opened = await initialize(node.base);
    assert.equal(opened.status, 200, opened.body);
    assert.equal((await inSession(node.base, opened.session)).status, 200);

    await redis.kill();
    const killedAt = Date.now();
    let slowest = 0;
    const seen = { session: new Set(), initialize: new Set(), healthz: new Set(), stateless: new Set() };
    // Six seconds down, then Redis is started again (empty) and watched until sessions
    // are back.
    while (Date.now() - killedAt < 6_000) {
      const [session, init, health, plain] = await Promise.all([
        inSession(node.base, opened.session), initialize(node.base), healthz(node.base), stateless(node.base),
      ]);
      for (const [what, reply] of [['session', session], ['initialize', init], ['healthz', health]]) {
        seen[what].add(reply.status);
        slowest = Math.max(slowest, reply.ms);
        assert.ok(reply.ms < 2_000, `${what} answered in ${reply.ms} ms: ${reply.body}`);
        // /healthz may still say ok for the second after a successful probe.
        if (what === 'healthz' && reply.status === 200 && Date.now() - killedAt < 1_500) continue;
        assert.equal(reply.status, 503, `${what}: ${reply.body}`);
        assert.ok(reply.retryAfter, `${what}: Retry-After`);
        assert.equal(reply.session ?? null, null, `${what}: no session handed out`);
      }
      if (health.status === 503) assert.equal(JSON.parse(health.body).store, 'unavailable');
      if (session.status === 503) assert.match(JSON.parse(session.body).error.message, /session store is unavailable/);
      assert.equal(plain.status, 200, `a stateless call needs no store: ${plain.body}`);
      assert.match(plain.body, /"text":"5"/);
      seen.stateless.add(plain.status);
      await sleep(250);
    }

    redis = await startRedis({ port: redis.port, dir: redis.dir });
    const restartedAt = Date.now();
    let back;
    while (Date.now() - restartedAt < 300_000) {
      const [init, health] = await Promise.all([initialize(node.base), healthz(node.base)]);
      for (const reply of [init, health]) {
        slowest = Math.max(slowest, reply.ms);
        assert.ok(reply.ms < 2_000, `answered in ${reply.ms} ms: ${reply.body}`);
        assert.ok([200, 503].includes(reply.status), reply.body);
      }
      if (init.status === 200 && health.status === 200) {
        back = init;
        break;
      }
      await sleep(500);
    }
    assert.ok(back, 'sessions came back within 300 s of Redis');
    const seconds = ((Date.now() - restartedAt) / 1000).toFixed(1);
    // The new session works end to end; the one from before the outage died with Redis's
    // data (no persistence) and is refused as unknown. Right after the store is back, a
    // request that lands on an instance whose store calls still fail gets a clean 503 with
    // Retry-After (seen about once in six runs); a client that retries as told gets in.
    const settled = async (session) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const reply = await inSession(node.base, session);
        if (reply.status !== 503 || Date.now() > deadline) return reply;
        assert.ok(reply.retryAfter, `Retry-After: ${reply.body}`);
        assert.ok(reply.ms < 2_000, `answered in ${reply.ms} ms`);
        await sleep(Number(reply.retryAfter) * 1000);
      }
    };
    assert.equal((await settled(back.session)).status, 200);
    assert.equal((await settled(opened.session)).status, 404);
    console.log(`# outage: slowest answer ${slowest} ms; sessions back ${seconds} s after Redis restarted; statuses ${JSON.stringify(Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, [...v]])))}`);
  } finally {
    await node.kill();
    await redis.kill();
  }
});
