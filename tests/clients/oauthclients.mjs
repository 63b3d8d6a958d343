// The OAuth side of an MCP client, shared by the OAuth journeys (oauth.test.mjs,
// introspection.test.mjs): the official SDKs' clients, an OAuthClientProvider as an
// application writes one, and the sign-in from nothing but the server's URL.

import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  UnauthorizedError, discoverAuthorizationServerMetadata, exchangeAuthorization, registerClient,
  startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import * as v2 from '@modelcontextprotocol/client';

// How each SDK takes the callback: v1 the code; v2 the callback's parameters, whose `iss`
// it checks against the authorization server it used (RFC 9207).
export const SDKS = {
  v1: {
    name: 'SDK v1', Client, Transport: StreamableHTTPClientTransport, UnauthorizedError,
    finish: (transport, landed) => transport.finishAuth(landed.searchParams.get('code')),
  },
  v2: {
    name: 'SDK v2', Client: v2.Client, Transport: v2.StreamableHTTPClientTransport, UnauthorizedError: v2.UnauthorizedError,
    finish: (transport, landed) => transport.finishAuth(landed.searchParams),
  },
};

/// An OAuthClientProvider as an application would write one, keeping everything in memory.
/// `redirectToAuthorization` records the URL; the test then plays the user with it.
export class MemoryProvider {
  constructor(name, { clientMetadataUrl, redirectUrl = 'http://127.0.0.1:9/callback' } = {}) {
    this.name = name;
    this.redirect = redirectUrl;
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
    this.authorizations = [];
    this.saved = [];
  }

  get redirectUrl() { return this.redirect; }

  get clientMetadata() {
    return {
      client_name: this.name,
      redirect_uris: [this.redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() { return this.client; }

  saveClientInformation(client) { this.client = client; }

  tokens() { return this.current; }

  saveTokens(tokens) {
    this.current = tokens;
    this.saved.push({ at: Date.now(), tokens });
  }

  redirectToAuthorization(url) { this.authorizations.push(new URL(url)); }

  saveCodeVerifier(verifier) { this.verifier = verifier; }

  codeVerifier() { return this.verifier; }
}

/// The user (`as.browse`) approves the latest authorization the client asked for; returns
/// the callback URL the browser landed on.
export async function userApproves(as, provider) {
  const url = provider.authorizations.at(-1);
  assert.ok(url, 'the client sent the user to the authorization server');
  const landed = await as.browse(url);
  assert.equal(landed.origin + landed.pathname, provider.redirect);
  assert.ok(landed.searchParams.get('code'), `the callback carries a code: ${landed}`);
  return landed;
}

/// Connects `sdk`'s client to `url` with nothing but `provider`: the 401, the flow, the
/// user's approval at `as`, the code exchange, and the second connect.
export async function signIn(as, sdk, provider, url) {
  const first = new sdk.Client({ name: provider.name, version: '1.0.0' });
  await assert.rejects(first.connect(new sdk.Transport(url, { authProvider: provider })), sdk.UnauthorizedError);
  const landed = await userApproves(as, provider);
  await sdk.finish(new sdk.Transport(url, { authProvider: provider }), landed);
  const client = new sdk.Client({ name: provider.name, version: '1.0.0' });
  await client.connect(new sdk.Transport(url, { authProvider: provider }));
  return client;
}

/// The payload of a JWT, unverified: to see what the authorization server issued.
export const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

/// Gets a token for `resource` from `server` the way a client does, without the MCP SDK's
/// discovery (so the resource can be one this MCP server is not).
export async function tokenFor(server, resource, scope = 'mcp') {
  const metadata = await discoverAuthorizationServerMetadata(server.issuer);
  const redirectUrl = 'http://127.0.0.1:9/callback';
  const clientInformation = await registerClient(server.issuer, {
    metadata,
    clientMetadata: { client_name: 'e2e-direct', redirect_uris: [redirectUrl], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] },
  });
  const { authorizationUrl, codeVerifier } = await startAuthorization(server.issuer, {
    metadata, clientInformation, redirectUrl, scope, resource: new URL(resource),
  });
  const landed = await server.browse(authorizationUrl);
  const tokens = await exchangeAuthorization(server.issuer, {
    metadata, clientInformation, authorizationCode: landed.searchParams.get('code'), codeVerifier, redirectUri: redirectUrl, resource: new URL(resource),
  });
  ISSUED_TO.set(tokens.access_token, clientInformation.client_id);
  return tokens.access_token;
}

/// The client each token from `tokenFor` was issued to.
const ISSUED_TO = new Map();

/// Revokes a token from `tokenFor` at `server` (RFC 7009), as the client it was issued to.
export async function revoke(server, token) {
  const response = await fetch(`${server.issuer}/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token', client_id: ISSUED_TO.get(token) }),
  });
  assert.equal(response.status, 200, await response.text());
}

/// A stateless 2026-07-28 `tools/call` of add with `token`, to the server at `origin`.
export async function addWith(origin, token) {
  return fetch(new URL('/mcp', origin), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'add',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'add',
        arguments: { a: 1, b: 2 },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  });
}
