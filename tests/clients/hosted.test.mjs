// The build for hosted platforms (spin-hosted.toml) with no Redis named: what a user who
// deployed it without setting redis_address gets. Its state lives only in that Redis, so
// the server runs stateless: Streamable HTTP without sessions works, and /sse says what is
// missing. With a Redis, scripts/test runs the other suites against it (HTTP+SSE,
// mcp-remote, sessions, two nodes, conformance). Needs MCP_SPIN_HOSTED=1 and the real Spin.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { HOSTED, REAL_SPIN, assertListsTools, startSpinBuild, within } from './hosts.mjs';

const skip = !HOSTED || !REAL_SPIN ? 'needs the hosted build under the real Spin (MCP_SPIN_HOSTED=1, MCP_SPIN_HOST=spin)' : false;
const headers = { Authorization: 'Bearer hosted-without-redis-0123' };
let node;
after(() => node?.kill());

test('hosted build without redis_address: stateless Streamable HTTP works, /sse says to set redis_address', { skip }, async () => {
  node = await startSpinBuild({ name: 'hosted-no-redis', variables: { redis_address: '' } });

  const client = new Client({ name: 'e2e-hosted', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', node.base), { requestInit: { headers } });
  await within(15_000, 'connect', client.connect(transport));
  assert.equal(transport.sessionId, undefined, 'no session without a store');
  assertListsTools((await client.listTools()).tools);
  const sum = await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } });
  assert.deepEqual(sum.content, [{ type: 'text', text: '42' }]);
  await client.close();

  const sse = await fetch(new URL('/sse', node.base), { headers: { ...headers, accept: 'text/event-stream' } });
  assert.equal(sse.status, 501);
  const body = await sse.json();
  assert.match(body.error.message, /redis_address/, body.error.message);

  const home = await (await fetch(node.base)).text();
  assert.match(home, /redis_address/);
});
