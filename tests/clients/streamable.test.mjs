// Streamable HTTP at /mcp with the official TypeScript SDKs: v1 (@modelcontextprotocol/sdk,
// legacy handshake) and v2 (@modelcontextprotocol/client, legacy by default and the
// stateless 2026-07-28 revision when negotiated). MCP_BASE_URL points at the running wasm.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';

import { HOST_NAME, assertListsTools } from './hosts.mjs';

// The portable build under wasmtime serve (MCP_BASE_URL), and the Spin build (MCP_SPIN_URL,
// under the host hosts.mjs names): both must serve Streamable HTTP the same way.
const TARGETS = [
  ['portable build, wasmtime serve', process.env.MCP_BASE_URL],
  [`Spin build, ${HOST_NAME}`, process.env.MCP_SPIN_URL],
].filter(([, url]) => url);
assert.ok(TARGETS.length > 0, 'MCP_BASE_URL (or MCP_SPIN_URL) must name the server under test');
const TOKEN = 'e2e-token.0123456789';
const withToken = { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } };

// What every client must see, whatever its era.
async function exercise(client) {
  const { tools } = await client.listTools();
  assertListsTools(tools);
  const add = tools[0];
  assert.deepEqual(add.inputSchema.required, ['a', 'b']);

  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  assert.deepEqual(sum.content, [{ type: 'text', text: '5' }]);
  assert.notEqual(sum.isError, true);

  const float = await client.callTool({ name: 'add', arguments: { a: 0.1, b: 0.2 } });
  assert.deepEqual(float.content, [{ type: 'text', text: String(0.1 + 0.2) }]);

  const token = await client.callTool({ name: 'getToken', arguments: {} });
  assert.deepEqual(token.content, [{ type: 'text', text: `User's token: Bearer ${TOKEN}` }]);
}

for (const [name, BASE] of TARGETS) {
  const MCP = new URL('/mcp', BASE);
  const CHALLENGE = `Bearer realm="mcp", resource_metadata="${new URL('/.well-known/oauth-protected-resource/mcp', BASE)}"`;

  test(`${name}: SDK v1 client: handshake, tools, exact outputs`, async () => {
    const client = new ClientV1({ name: 'e2e-sdk-v1', version: '1.0.0' });
    const transport = new TransportV1(MCP, withToken);
    await client.connect(transport);
    assert.equal(client.getServerVersion().name, 'remote-mcp-server');
    assert.equal(transport.protocolVersion, '2025-11-25');
    await exercise(client);
    await client.close();
  });

  test(`${name}: SDK v2 client, default (legacy) negotiation`, async () => {
    const client = new ClientV2({ name: 'e2e-sdk-v2-legacy', version: '2.0.0' });
    await client.connect(new TransportV2(MCP, withToken));
    assert.equal(client.getProtocolEra(), 'legacy');
    assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
    await exercise(client);
    await client.close();
  });

  for (const mode of ['auto', { pin: '2026-07-28' }]) {
    test(`${name}: SDK v2 client, ${JSON.stringify(mode)} negotiation: stateless 2026-07-28`, async () => {
      const client = new ClientV2(
        { name: 'e2e-sdk-v2-modern', version: '2.0.0' },
        { versionNegotiation: { mode } },
      );
      await client.connect(new TransportV2(MCP, withToken));
      assert.equal(client.getProtocolEra(), 'modern');
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.equal(client.getServerVersion()?.name, 'remote-mcp-server');
      assert.equal(client.getDiscoverResult()?.supportedVersions?.[0], '2026-07-28');
      await exercise(client);
      await client.close();
    });
  }

  test(`${name}: without a token: 401 with the resource metadata challenge`, async () => {
    const client = new ClientV1({ name: 'e2e-no-token', version: '1.0.0' });
    await assert.rejects(client.connect(new TransportV1(MCP)), (error) => {
      assert.equal(error.code, 401);
      assert.match(error.message, /Authorization: Bearer/);
      return true;
    });

    const v2 = new ClientV2({ name: 'e2e-no-token', version: '2.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await assert.rejects(v2.connect(new TransportV2(MCP)), (error) => {
      assert.equal(error.status, 401);
      assert.equal(error.code, 'CLIENT_HTTP_AUTHENTICATION');
      return true;
    });

    const response = await fetch(MCP, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), CHALLENGE);
    const body = await response.json();
    assert.match(body.error_description, /Authorization: Bearer/);

    const metadata = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', BASE))).json();
    assert.equal(metadata.resource, MCP.href);
    assert.deepEqual(metadata.bearer_methods_supported, ['header']);
  });
}
