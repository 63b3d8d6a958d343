// introspection mode end to end: the same real authorization server (authserver.mjs), now
// issuing opaque access tokens that only it can read, and the Spin build under real
// `spin up` (or the local host) asking its introspection endpoint about each one,
// authenticated as a client of its own whose secret is a Spin secret variable.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { CAN_START, HOST_NAME, assertListsTools, freePort, sleep, startSpinBuild } from './hosts.mjs';
import { startAuthServer } from './authserver.mjs';
import { MemoryProvider, SDKS, addWith, revoke, signIn, tokenFor } from './oauthclients.mjs';

const skip = !CAN_START;
const CACHE_SECONDS = 2;
const RESOURCE_SERVER = { id: 'mcp-resource-server', secret: `rs-${crypto.randomUUID()}` };

let as;
let origin;
let node;

before(async () => {
  if (skip) return;
  as = await startAuthServer({ format: 'opaque', introspectionClient: RESOURCE_SERVER });
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  node = await startSpinBuild({
    name: 'introspection',
    port,
    variables: {
      auth_mode: 'introspection',
      introspection_url: `${as.issuer}/token/introspection`,
      introspection_origin: as.origin,
      introspection_client_id: RESOURCE_SERVER.id,
      introspection_client_secret: RESOURCE_SERVER.secret,
      introspection_cache_seconds: String(CACHE_SECONDS),
      jwt_issuer: as.issuer,
      public_url: origin,
      required_scopes: 'mcp',
    },
  });
});

after(async () => {
  node?.kill();
  await as?.stop();
});

test(`${HOST_NAME}: an SDK v1 OAuth client gets an opaque token and uses it; the server asked the authorization server about it`, { skip }, async () => {
  const metadata = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', origin))).json();
  assert.deepEqual(metadata.authorization_servers, [as.issuer]);
  assert.deepEqual(metadata.scopes_supported, ['mcp']);

  const provider = new MemoryProvider('e2e-opaque');
  const client = await signIn(as, SDKS.v1, provider, new URL('/mcp', origin));
  const token = provider.tokens().access_token;
  assert.equal(token.split('.').length, 1, `an opaque token, not a JWT: ${token.slice(0, 12)}…`);
  const { tools } = await client.listTools();
  assertListsTools(tools);
  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  assert.deepEqual(sum.content, [{ type: 'text', text: '5' }]);
  await client.close();

  const asked = as.sent('/token/introspection');
  assert.ok(asked.length >= 1, 'the server introspected the token');
  assert.equal(asked[0].params.token_type_hint, 'access_token');
  assert.ok(!readFileSync(node.log, 'utf8').includes(RESOURCE_SERVER.secret), 'the secret never reaches the log');
});

test(`${HOST_NAME}: a token the authorization server revokes is refused within the cache time`, { skip }, async () => {
  const token = await tokenFor(as, `${origin}/mcp`);
  assert.equal((await addWith(origin, token)).status, 200);
  await revoke(as, token);
  await sleep(CACHE_SECONDS * 1000 + 500);
  const refused = await addWith(origin, token);
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get('www-authenticate'), /error="invalid_token", error_description="The access token is not active/);
});

test(`${HOST_NAME}: opaque tokens for another resource, or without the required scope, are refused`, { skip }, async () => {
  const elsewhere = await tokenFor(as, 'http://127.0.0.1:9/other-resource');
  const refused = await addWith(origin, elsewhere);
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get('www-authenticate'), /meant for another resource/);
  assert.match(refused.headers.get('www-authenticate'), /scope="mcp"/);

  const bare = await tokenFor(as, `${origin}/mcp`, 'token:read');
  assert.equal((await addWith(origin, bare)).status, 403);
  // A made-up token: the authorization server says it is not active.
  const unknown = await addWith(origin, 'made-up-token');
  assert.equal(unknown.status, 401);
});
