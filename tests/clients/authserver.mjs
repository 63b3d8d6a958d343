// A real authorization server for the OAuth journeys: oidc-provider (npm, pinned in the
// lockfile; a certified OpenID Provider), configured the way MCP deployments use one:
//
// * clients register themselves, by dynamic client registration (RFC 7591) or with a client
//   ID metadata document (the URL of a JSON document as their client_id);
// * authorization code with PKCE (S256, required of every client);
// * resource indicators (RFC 8707): an access token names the resource the client asked for
//   as its audience, and is a JWT (RFC 9068) signed with the current key, or an opaque token;
// * scopes granted per resource, refresh tokens, and a signing key that can be rotated while
//   everything keeps running;
// * a user who approves whatever is asked, without a person: `browse(url)` plays the user's
//   browser, from the authorization URL to the client's redirect URI.
//
// It listens on a free loopback port; nothing leaves localhost. `requests` records what
// clients sent it (paths and the OAuth parameters that matter, never a secret), for tests
// that check what a client asked for.

import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';

import { freePort } from './hosts.mjs';

/// The subject of every token: the one user, who approves everything.
export const USER = 'alice';

/// Parameters worth recording from a request to the authorization server.
const RECORDED = ['grant_type', 'resource', 'scope', 'client_id', 'code_challenge_method', 'redirect_uri', 'token_type_hint'];

async function signingKey(kid) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

/**
 * Starts the authorization server.
 *
 * - `scopes`: the scopes it grants for any resource;
 * - `accessTokenTtl`: seconds an access token lives (short ones make clients refresh);
 * - `format`: `jwt` or `opaque` access tokens;
 * - `clientDocuments`: client ID metadata documents by their https URL. The server fetches
 *   a client's document over the network; these URLs are served from memory instead,
 *   since no https host of a client is reachable from here (and oidc-provider refuses
 *   loopback addresses for these fetches).
 * - `introspectionClient`: `{ id, secret }` of a client allowed to introspect (RFC 7662).
 */
export async function startAuthServer({
  scopes = ['mcp', 'token:read'],
  accessTokenTtl = 3600,
  format = 'jwt',
  clientDocuments = {},
  introspectionClient,
} = {}) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const requests = [];
  let keys = [await signingKey('key-1')];
  let provider;
  const cookieKeys = [crypto.randomUUID()];

  const build = () => {
    const made = new Provider(issuer, {
      jwks: { keys },
      cookies: { keys: cookieKeys },
      clients: introspectionClient
        ? [{
          client_id: introspectionClient.id,
          client_secret: introspectionClient.secret,
          grant_types: [],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
        }]
        : [],
      scopes: ['openid', 'offline_access', ...scopes],
      findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
      pkce: { required: () => true },
      issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      ttl: { RefreshToken: 24 * 3600 },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      features: {
        devInteractions: { enabled: false },
        registration: { enabled: true },
        clientIdMetadataDocument: { enabled: true, ack: 'draft-02' },
        introspection: { enabled: Boolean(introspectionClient) },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: (_ctx, _client, oneOf) => oneOf?.[0],
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => {
            if (!/^https?:\/\//.test(resource)) throw new errors.InvalidTarget();
            return {
              scope: scopes.join(' '),
              audience: resource,
              accessTokenTTL: accessTokenTtl,
              accessTokenFormat: format,
              ...(format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
            };
          },
        },
      },
      fetch: async (url, options) => {
        const document = clientDocuments[String(url)];
        if (!document) return globalThis.fetch(url, options);
        return new Response(JSON.stringify(document), {
          headers: { 'content-type': 'application/json', 'cache-control': 'max-age=60' },
        });
      },
    });
    made.proxy = false;
    return made;
  };
  provider = build();

  // The user: logs in as USER and grants every scope the client asked for.
  async function approve(req, res) {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params } = details;
    if (prompt.name === 'login') {
      return provider.interactionFinished(req, res, { login: { accountId: USER } }, { mergeWithLastSubmission: false });
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: USER, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [resource, wanted] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, wanted.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, issuer);
    const entry = { method: req.method, path: url.pathname, params: {} };
    for (const name of RECORDED) {
      if (url.searchParams.has(name)) entry.params[name] = url.searchParams.getAll(name).join(' ');
    }
    if (req.method === 'POST' && /form-urlencoded/.test(req.headers['content-type'] ?? '')) {
      // Read the form for the record, then hand oidc-provider the same bytes.
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      const form = new URLSearchParams(body.toString());
      for (const name of RECORDED) {
        if (form.has(name)) entry.params[name] = form.getAll(name).join(' ');
      }
      req.body = body;
    } else if (req.method === 'POST' && url.pathname === '/reg') {
      // Dynamic registration. Clients register with the scope they ask for first (the MCP
      // SDKs send the 401's `scope`), and oidc-provider then holds them to it, which would
      // refuse every later step-up; this server lets a registered client ask for any scope
      // it offers, so that registration does not decide what a user may grant later.
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const metadata = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      if (metadata.scope !== undefined) entry.params.scope = metadata.scope;
      delete metadata.scope;
      req.body = Buffer.from(JSON.stringify(metadata));
    }
    requests.push(entry);
    try {
      if (url.pathname.startsWith('/interaction/')) {
        await approve(req, res);
        return;
      }
      provider.callback()(req, res);
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    issuer,
    origin: issuer,
    jwksUrl: `${issuer}/jwks`,
    requests,
    /// Requests to `path` (such as `/token`), optionally only those with `grant_type`.
    sent(path, grantType) {
      return requests.filter((r) => r.path === path && (!grantType || r.params.grant_type === grantType));
    },
    /// Signs new tokens with a new key; the old one stays published, as issuers do until
    /// the tokens it signed have expired. Clients, grants and refresh tokens survive.
    async rotateKeys() {
      keys = [await signingKey(`key-${keys.length + 1}`), ...keys];
      provider = build();
      return keys[0].kid;
    },
    /// Plays the user's browser: follows redirects from `url` (keeping the authorization
    /// server's cookies) until they leave the authorization server, then requests that
    /// URL (the client's redirect URI, where a client such as mcp-remote listens) and
    /// returns it, with its `code`.
    async browse(url) {
      const jar = new Map();
      let next = new URL(url);
      for (let hops = 0; hops < 20; hops += 1) {
        if (next.origin !== issuer) {
          const landing = await fetch(next, { redirect: 'manual' }).catch(() => undefined);
          await landing?.text();
          return next;
        }
        const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
        const response = await fetch(next, { redirect: 'manual', headers: cookie ? { cookie } : {} });
        for (const line of response.headers.getSetCookie()) {
          const [pair] = line.split(';');
          const at = pair.indexOf('=');
          const name = pair.slice(0, at).trim();
          const value = pair.slice(at + 1).trim();
          if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') jar.delete(name);
          else jar.set(name, value);
        }
        const location = response.headers.get('location');
        if (!location) {
          throw new Error(`the authorization server answered ${response.status} without a redirect: ${(await response.text()).slice(0, 300)}`);
        }
        await response.text();
        next = new URL(location, next);
      }
      throw new Error('more than 20 redirects');
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
