// jwt mode end to end: the Spin build (under real `spin up` or the local host, see
// hosts.mjs), configured to trust a JWKS that this test serves on loopback with keys it
// generates. A real SDK client connects with minted tokens; expired tokens, missing scopes
// and a key rotation are exercised.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import {
  discoverOAuthProtectedResourceMetadata, extractResourceMetadataUrl, selectResourceURL,
} from '@modelcontextprotocol/sdk/client/auth.js';

import { CAN_START, HOST_NAME, assertListsTools, freePort, startSpinBuild, until } from './hosts.mjs';

const skip = !CAN_START;
const ISSUER = 'https://issuer.e2e.test/';
// What the tokens are minted for: jwt mode takes its audience from configuration, never
// from the request.
const AUDIENCE = 'https://mcp.e2e.test/mcp';

let jwks = { keys: [] };
let jwksServer;
let jwksPort;
const servers = [];
let base;
const signers = {};

/// Starts the Spin build in jwt mode; returns its base URL.
async function startHost(variables) {
  const node = await startSpinBuild({
    name: 'jwt',
    variables: {
      auth_mode: 'jwt',
      jwt_issuer: ISSUER,
      jwt_jwks_url: `http://127.0.0.1:${jwksPort}/jwks`,
      jwks_cache_seconds: '1',
      jwt_audience: AUDIENCE,
      ...variables,
    },
  });
  servers.push(node);
  return node.base;
}

async function newKey(kid, alg) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  signers[kid] = { privateKey, alg };
  return jwk;
}

async function mint(kid, { sub = 'alice', scope = '', expiresIn = '10m', aud } = {}) {
  const { privateKey, alg } = signers[kid];
  return new SignJWT({ scope })
    .setProtectedHeader({ alg, kid })
    .setIssuer(ISSUER)
    .setSubject(sub)
    .setAudience(aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(privateKey);
}

function listen(httpServer) {
  return new Promise((resolve) => httpServer.listen(0, '127.0.0.1', () => resolve(httpServer.address().port)));
}

before(async () => {
  if (skip) return;
  jwks = { keys: [await newKey('k1', 'RS256'), await newKey('e1', 'ES256')] };
  jwksServer = createServer((req, res) => {
    res.writeHead(req.url === '/jwks' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(jwks));
  });
  jwksPort = await listen(jwksServer);
  base = await startHost({ jwt_jwks_origin: `http://127.0.0.1:${jwksPort}` });
});

after(() => {
  servers.forEach((node) => node.kill());
  jwksServer?.close();
});

async function connect(token) {
  const client = new Client({ name: 'e2e-jwt', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

test(`${HOST_NAME}: a minted token with the scope sees both tools and calls them`, { skip }, async () => {
  const token = await mint('k1', { scope: 'token:read' });
  const client = await connect(token);
  const { tools } = await client.listTools();
  assertListsTools(tools);
  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  assert.deepEqual(sum.content, [{ type: 'text', text: '5' }]);
  const echo = await client.callTool({ name: 'getToken', arguments: {} });
  assert.equal(echo.content[0].text, `User's token: Bearer ${token}`);
  await client.close();

  // ES256 works the same way.
  const ec = await connect(await mint('e1'));
  assert.deepEqual((await ec.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).content[0].text, '2');
  await ec.close();
});

test(`${HOST_NAME}: without the scope: getToken is listed, and calling it is 403 insufficient_scope`, { skip }, async () => {
  const client = await connect(await mint('k1'));
  const { tools } = await client.listTools();
  // Listed all the same, so that a client can step up for it.
  assertListsTools(tools);
  await assert.rejects(client.callTool({ name: 'getToken', arguments: {} }), (error) => {
    assert.equal(error.code, 403);
    return true;
  });
  await client.close();

  // The same refusal for a stateless 2026-07-28 request.
  const token = await mint('k1');
  const response = await fetch(new URL('/mcp', base), {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'getToken',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'getToken',
        arguments: {},
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  });
  assert.equal(response.status, 403);
  assert.match(response.headers.get('www-authenticate'), /error="insufficient_scope".*scope="token:read"/);
  assert.match((await response.json()).error.message, /token:read/);
});

test(`${HOST_NAME}: an expired token gets 401 invalid_token`, { skip }, async () => {
  const expired = await mint('k1', { expiresIn: Math.floor(Date.now() / 1000) - 3600 });
  await assert.rejects(connect(expired), (error) => {
    assert.equal(error.code, 401);
    return true;
  });
  const response = await fetch(new URL('/mcp', base), {
    method: 'POST',
    headers: { Authorization: `Bearer ${expired}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  assert.equal(response.status, 401);
  const challenge = response.headers.get('www-authenticate');
  assert.match(challenge, /error="invalid_token"/);
  assert.match(challenge, /error_description="The JWT has expired\."/);
  assert.ok(!challenge.includes(expired));
});

test(`${HOST_NAME}: a key rotation at the issuer is picked up`, { skip }, async () => {
  const echo = async (client) => (await client.callTool({ name: 'getToken', arguments: {} })).content[0].text;
  await assert.rejects(echo(await connect(await mint('k1'))), (error) => error.code === 403);
  jwks = { keys: [await newKey('k2', 'RS256')] };
  await new Promise((resolve) => setTimeout(resolve, 1200)); // past jwks_cache_seconds
  const token = await mint('k2', { scope: 'token:read' });
  const client = await connect(token);
  assert.equal(await echo(client), `User's token: Bearer ${token}`, 'the new key carries the scope');
  await client.close();
  // The retired key no longer verifies.
  await assert.rejects(connect(await mint('k1')), (error) => error.code === 401);
});

test(`${HOST_NAME}: the protected resource metadata names the issuer, and no tool's scope up front`, { skip }, async () => {
  const metadata = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', base))).json();
  assert.equal(metadata.resource, `${base}/mcp`);
  assert.deepEqual(metadata.authorization_servers, [ISSUER]);
  assert.equal(metadata.scopes_supported, undefined, 'token:read is asked for when getToken needs it');
});

test(`${HOST_NAME}: a JWKS host missing from allowed_outbound_hosts is refused; the log says what to set, the client sees no URL`, { skip }, async () => {
  // jwt_jwks_origin left at its default: the manifest allows no real host.
  const denied = await startHost({});
  const node = servers.at(-1);
  const response = await fetch(new URL('/mcp', denied), {
    method: 'POST',
    headers: { Authorization: `Bearer ${await mint('k2')}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  assert.equal(response.status, 503);
  const description = (await response.json()).error_description;
  assert.match(description, /Retry shortly/);
  assert.doesNotMatch(description, /127\.0\.0\.1|http:/);
  await until(5_000, 'the log line naming jwt_jwks_origin', () => readFileSync(node.log, 'utf8').includes('jwt_jwks_origin'));
});

// What the SDK's OAuth client does before it sends anyone to the authorization server,
// from each endpoint's 401: the resource_metadata URL, the document, and the `resource` it
// will ask a token for (RFC 8707), which must match the URL it connects to (the SDK checks
// that, as RFC 9728 §3.3 asks). On a server whose jwt_audience names exactly its /mcp and
// /sse URLs (no public_url), the token minted for that resource gets in.
test(`${HOST_NAME}: the SDK's OAuth discovery, from each endpoint's 401, selects a resource this server accepts`, { skip }, async () => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const node = await startSpinBuild({
    name: 'jwt-discovery',
    port,
    variables: {
      auth_mode: 'jwt',
      jwt_issuer: ISSUER,
      jwt_jwks_url: `http://127.0.0.1:${jwksPort}/jwks`,
      jwt_jwks_origin: `http://127.0.0.1:${jwksPort}`,
      jwt_audience: `${origin}/mcp,${origin}/sse`,
    },
  });
  servers.push(node);
  for (const endpoint of ['/mcp', '/sse']) {
    const serverUrl = new URL(endpoint, origin);
    const refused = await fetch(serverUrl, endpoint === '/sse'
      ? { headers: { accept: 'text/event-stream' } }
      : {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
    assert.equal(refused.status, 401, endpoint);
    const resourceMetadataUrl = extractResourceMetadataUrl(refused);
    assert.equal(resourceMetadataUrl?.href, `${origin}/.well-known/oauth-protected-resource${endpoint}`);
    const metadata = await discoverOAuthProtectedResourceMetadata(serverUrl, { resourceMetadataUrl });
    assert.deepEqual(metadata.authorization_servers, [ISSUER]);
    const resource = await selectResourceURL(serverUrl, {}, metadata);
    assert.equal(resource.href, serverUrl.href);

    // Signed with a key the issuer publishes now (an earlier test rotated them).
    const token = await mint(jwks.keys[0].kid, { aud: metadata.resource });
    const requestInit = { headers: { Authorization: `Bearer ${token}` } };
    const transport = endpoint === '/sse'
      ? new SSEClientTransport(serverUrl, { requestInit })
      : new StreamableHTTPClientTransport(serverUrl, { requestInit });
    const client = new Client({ name: `e2e-discovery${endpoint.replace('/', '-')}`, version: '1.0.0' });
    await client.connect(transport);
    const sum = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
    assert.deepEqual(sum.content, [{ type: 'text', text: '42' }]);
    await client.close();
  }
});
