// Soak test: minutes of mixed load from real clients against the Spin build under the
// local host, then a check that the shared store holds nothing beyond live sessions.
//
//   node tests/clients/soak.mjs BASE_URL SECONDS TTL_SECONDS GC_SECONDS
//
// scripts/soak starts the server with matching settings. Load, all at once until the time
// is up:
// - stateless 2026-07-28 `tools/call add` over plain fetch;
// - SDK v1 Streamable HTTP clients (session, GET stream, calls, tools/list); half end
//   their session with DELETE, half just go away and leave it to expire;
// - SDK v1 HTTP+SSE clients (stream, calls, close).
// Every call's result is checked. Any failure is an unexpected error: the run fails.
// Afterwards it waits for sessions to expire and a sweep to run, and checks the store
// through the local host's /__local-host/store (served with --store-stats).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';

const [base, seconds = '300', ttl = '15', gc = '5'] = process.argv.slice(2);
if (!base) {
  console.error('usage: node tests/clients/soak.mjs BASE_URL [SECONDS] [TTL_SECONDS] [GC_SECONDS]');
  process.exit(2);
}
const until = Date.now() + Number(seconds) * 1000;
const counts = {};
const errors = [];
const count = (what) => { counts[what] = (counts[what] ?? 0) + 1; };
const fail = (what, error) => {
  errors.push(`${what}: ${error?.message ?? error}`);
  if (errors.length <= 10) console.error(`unexpected error in ${what}: ${error?.stack ?? error}`);
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const token = () => `soak-user-${Math.floor(Math.random() * 40)}-0123456789`;
const auth = (t) => ({ Authorization: `Bearer ${t}` });

async function storeStats() {
  const response = await fetch(new URL('/__local-host/store', base));
  return response.json();
}

function checkSum(result, a, b) {
  const text = result?.content?.[0]?.text;
  if (String(text) !== String(a + b)) throw new Error(`add(${a}, ${b}) gave ${JSON.stringify(result)}`);
}

async function stateless() {
  while (Date.now() < until) {
    const a = Math.floor(Math.random() * 1000), b = 7;
    try {
      const response = await fetch(new URL('/mcp', base), {
        method: 'POST',
        headers: {
          ...auth(token()), 'content-type': 'application/json', accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'add',
        },
        body: JSON.stringify({
          jsonrpc: '2.0', id: 1, method: 'tools/call', params: {
            name: 'add', arguments: { a, b },
            _meta: {
              'io.modelcontextprotocol/protocolVersion': '2026-07-28',
              'io.modelcontextprotocol/clientInfo': { name: 'soak', version: '1' },
              'io.modelcontextprotocol/clientCapabilities': {},
            },
          },
        }),
      });
      if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
      checkSum((await response.json()).result, a, b);
      count('stateless tools/call');
    } catch (error) {
      fail('stateless tools/call', error);
    }
    await sleep(20);
  }
}

async function streamable() {
  while (Date.now() < until) {
    const client = new Client({ name: 'soak-streamable', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), {
      requestInit: { headers: auth(token()) },
    });
    try {
      await client.connect(transport);
      count('streamable sessions');
      for (let i = 0; i < 5; i++) {
        checkSum(await client.callTool({ name: 'add', arguments: { a: i, b: 2 } }), i, 2);
        count('streamable tools/call');
      }
      await client.listTools();
      if (Math.random() < 0.5) {
        await transport.terminateSession();
        count('streamable sessions ended with DELETE');
      } else {
        count('streamable sessions abandoned');
      }
    } catch (error) {
      fail('streamable session', error);
    } finally {
      await client.close().catch(() => {});
    }
    await sleep(100);
  }
}

async function sse() {
  while (Date.now() < until) {
    const client = new Client({ name: 'soak-sse', version: '1.0.0' });
    const t = token();
    const transport = new SSEClientTransport(new URL('/sse', base), {
      eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, ...auth(t) } }) },
      requestInit: { headers: auth(t) },
    });
    try {
      await client.connect(transport);
      count('sse sessions');
      for (let i = 0; i < 3; i++) {
        checkSum(await client.callTool({ name: 'add', arguments: { a: i, b: 40 } }), i, 40);
        count('sse tools/call');
      }
    } catch (error) {
      fail('sse session', error);
    } finally {
      await client.close().catch(() => {});
    }
    await sleep(150);
  }
}

const samples = [];
async function sampler() {
  while (Date.now() < until) {
    await sleep(15_000);
    const stats = await storeStats();
    samples.push(stats);
    console.error(`store: ${stats.keys} keys ${JSON.stringify(stats.prefixes)}; ${JSON.stringify(counts)}; ${errors.length} errors`);
  }
}

const started = Date.now();
await Promise.all([
  ...Array.from({ length: 3 }, stateless),
  ...Array.from({ length: 3 }, streamable),
  ...Array.from({ length: 2 }, sse),
  sampler(),
]);
const loadDone = Date.now();
console.error(`load done after ${((loadDone - started) / 1000).toFixed(0)} s; waiting for sessions to expire and a sweep`);

// Every session of the run is now either ended or idle; after the TTL they are expired,
// and the next new session, once the sweep interval has passed, sweeps them.
await sleep((Number(ttl) + Number(gc) + 2) * 1000);
const client = new Client({ name: 'soak-final', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), {
  requestInit: { headers: auth('soak-final-0123456789') },
});
await client.connect(transport);
const after = await storeStats();
await transport.terminateSession();
await client.close();
// What the run's last sessions and streams noted lapses too (the latest: an outbox is
// checked a minute after its first message), and the next sweep (paced by a new session)
// takes it: bookkeeping of passed epochs and buckets.
await sleep(Math.max((Number(ttl) + Number(gc) + 2) * 1000, 75_000 - (Date.now() - loadDone)));
const last = new Client({ name: 'soak-last', version: '1.0.0' });
const lastTransport = new StreamableHTTPClientTransport(new URL('/mcp', base), {
  requestInit: { headers: auth('soak-last-0123456789') },
});
await last.connect(lastTransport);
await lastTransport.terminateSession();
await last.close();
await sleep(1000);
const final = await storeStats();

const peak = Math.max(...samples.map((s) => s.keys), 0);
console.log(JSON.stringify({ seconds: Number(seconds), counts, errors: errors.length, peak_keys: peak, after_sweep: after, after_last_session: final }));
// Left at the end: the sweep's schedule and cursor, the change feed, keys, the index entries
// and zeroed counters of the last session (they lapse in a few seconds) — a handful, not a
// store that grows with the run.
const leftover = Object.entries(final.prefixes)
  .filter(([prefix]) => !['sweep', 'server', 'events', 'jwks', 'expiry', 'quota-zero'].includes(prefix));
const bookkeeping = (final.prefixes.expiry ?? 0) + (final.prefixes['quota-zero'] ?? 0);
const problems = [];
if (errors.length) problems.push(`${errors.length} unexpected errors (first: ${errors[0]})`);
if ((after.prefixes.session ?? 0) > 1) problems.push(`${after.prefixes.session} sessions left after the sweep (1 live)`);
if (leftover.length) problems.push(`store keys beyond live sessions: ${JSON.stringify(Object.fromEntries(leftover))}`);
if (bookkeeping > 40) problems.push(`${bookkeeping} index entries and zeroed counters left: the sweep does not keep up`);
if (!counts['streamable tools/call'] || !counts['sse tools/call'] || !counts['stateless tools/call']) {
  problems.push(`some load never ran: ${JSON.stringify(counts)}`);
}
if (problems.length) {
  console.error(`SOAK FAILED: ${problems.join('; ')}`);
  process.exit(1);
}
console.error(`soak passed: ${JSON.stringify(counts)}, peak ${peak} keys, ${final.keys} keys at the end (${JSON.stringify(final.prefixes)})`);
process.exit(0);
