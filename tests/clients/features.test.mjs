// The full server surface with real clients, against the Spin build (real `spin up` or the local
// host) with the conformance fixtures on (MCP_FIXTURES_URL): streamed progress as it happens,
// server→client requests answered across instances (legacy, Streamable HTTP and SSE), and
// the 2026-07-28 multi round-trip pattern driven by the v2 client's auto-fulfilment.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';

import { HOST_NAME } from './hosts.mjs';

const BASE = process.env.MCP_FIXTURES_URL;
const skip = !BASE;

test(`${HOST_NAME}: progress arrives while the tool runs, not with its result`, { skip }, async () => {
  const client = new ClientV1({ name: 'e2e-progress', version: '1.0.0' });
  await client.connect(new TransportV1(new URL('/mcp', BASE)));
  const started = performance.now();
  const arrivals = [];
  const result = await client.callTool(
    { name: 'countdown', arguments: { from: 3, interval_ms: 150 } },
    undefined,
    { onprogress: (p) => arrivals.push({ at: performance.now() - started, progress: p.progress }) },
  );
  const finished = performance.now() - started;
  assert.deepEqual(arrivals.map((a) => a.progress), [0, 1, 2, 3]);
  assert.deepEqual(result.structuredContent, { counted: 3 });
  // The first step was seen well before the result: it streamed.
  assert.ok(finished - arrivals[0].at >= 300, `first progress at ${arrivals[0].at} ms, result at ${finished} ms`);
  assert.ok(arrivals[2].at - arrivals[1].at >= 100, JSON.stringify(arrivals));
  await client.close();
});

test(`${HOST_NAME}: legacy elicitation: the server asks mid-call, the answer comes back in another POST`, { skip }, async () => {
  const client = new ClientV1({ name: 'e2e-elicit', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    assert.equal(request.params.message, 'Your details, please');
    return { action: 'accept', content: { username: 'ada', email: 'ada@example.com' } };
  });
  await client.connect(new TransportV1(new URL('/mcp', BASE)));
  const result = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Your details, please' } });
  assert.equal(result.content[0].text, 'User response: action=accept, content={"email":"ada@example.com","username":"ada"}');
  await client.close();
});

test(`${HOST_NAME}: legacy sampling over the HTTP+SSE transport`, { skip }, async () => {
  const client = new ClientV1({ name: 'e2e-sse-sampling', version: '1.0.0' }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
    role: 'assistant',
    model: 'stand-in',
    content: { type: 'text', text: `echo: ${request.params.messages[0].content.text}` },
  }));
  await client.connect(new SSEClientTransport(new URL('/sse', BASE)));
  const result = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hello' } });
  assert.equal(result.content[0].text, 'LLM response: echo: hello');
  await client.close();
});

test(`${HOST_NAME}: 2026-07-28: input_required rounds, fulfilled by the v2 client across three requests`, { skip }, async () => {
  const client = new ClientV2(
    { name: 'e2e-mrtr', version: '2.0.0' },
    { versionNegotiation: { mode: 'auto' }, capabilities: { elicitation: {} } },
  );
  const asked = [];
  client.setRequestHandler('elicitation/create', async (request) => {
    asked.push(request.params.message);
    return request.params.message.includes('name')
      ? { action: 'accept', content: { name: 'Ada' } }
      : { action: 'accept', content: { color: 'teal' } };
  });
  await client.connect(new TransportV2(new URL('/mcp', BASE)));
  assert.equal(client.getProtocolEra(), 'modern');
  const result = await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
  assert.equal(result.content[0].text, 'Ada likes teal');
  assert.deepEqual(asked, ['Step 1: What is your name?', 'Step 2: What is your favorite color?']);
  await client.close();
});
