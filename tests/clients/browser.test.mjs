// The home page and CORS in a real browser: headless Chromium from Debian's packages.
//
// - The home page of both builds is rendered, a screenshot is taken (target/browser/),
//   and the connection snippets are checked against the server's actual URLs, then used:
//   a real client connects to the URL the Claude Desktop snippet names.
// - A page on another origin calls the MCP endpoint with fetch(), as a browser-based MCP
//   client does: the preflight, the session id header and the 401 challenge must all be
//   readable by the page.
//
// Needs MCP_CHROMIUM (the browser binary) and MCP_SPIN_URL (the Spin build, on the host
// hosts.mjs names); MCP_BASE_URL (the portable build) adds its home page. scripts/test
// sets them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { HOST_NAME } from './hosts.mjs';

const CHROMIUM = process.env.MCP_CHROMIUM;
const PORTABLE = process.env.MCP_BASE_URL;
const SPIN = process.env.MCP_SPIN_URL;
const skip = !CHROMIUM || !SPIN;
const ARTIFACTS = fileURLToPath(new URL('../../target/browser/', import.meta.url));
const TOKEN = 'browser-test-token-0123456789';

/// Runs headless Chromium with the flags the issue names, plus a throwaway profile.
function chromium(args) {
  const profile = mkdtempSync(join(tmpdir(), 'mcp-chromium-'));
  return new Promise((resolve, reject) => {
    execFile(
      CHROMIUM,
      [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-dev-shm-usage', '--no-first-run', `--user-data-dir=${profile}`, ...args,
      ],
      { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout) => {
        rmSync(profile, { recursive: true, force: true });
        if (error) reject(error);
        else resolve(stdout);
      },
    );
  });
}

const decode = (html) => html
  .replace(/<[^>]+>/g, '')
  .replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&amp;', '&');

function byId(dom, id) {
  const match = dom.match(new RegExp(`<(\\w+)[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</\\1>`));
  assert.ok(match, `the page has #${id}`);
  return decode(match[2]);
}

for (const [name, base, transport] of [[`Spin build, ${HOST_NAME}`, SPIN, 'SSE'], ['portable build, wasmtime serve', PORTABLE, 'Streamable HTTP']]) {
  test(`${name}: the home page renders and its snippets carry this server's URLs`, { skip: skip || !base }, async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, `home-${transport === 'SSE' ? `spin-${HOST_NAME.replaceAll(' ', '-')}` : 'portable'}.png`);
    await chromium(['--hide-scrollbars', '--window-size=1280,1600', `--screenshot=${shot}`, `${base}/`]);
    const png = readFileSync(shot);
    assert.equal(png.subarray(1, 4).toString(), 'PNG', 'a PNG screenshot');
    assert.equal(png.readUInt32BE(16), 1280, 'of the requested width');
    assert.ok(png.length > 10_000, `a screenshot with content (${png.length} bytes)`);

    const dom = await chromium(['--dump-dom', `${base}/`]);
    assert.equal(byId(dom, 'mcp-url'), `${base}/mcp`);
    assert.equal(byId(dom, 'sse-url'), `${base}/sse`);
    const clientUrl = transport === 'SSE' ? `${base}/sse` : `${base}/mcp`;
    const inspector = byId(dom, 'inspector-snippet');
    assert.match(inspector, new RegExp(`Transport Type: ${transport}\\n`));
    assert.match(inspector, new RegExp(`URL: +${clientUrl.replaceAll('.', '\\.')}\\n`));
    const claude = JSON.parse(byId(dom, 'claude-snippet'));
    const server = Object.values(claude.mcpServers)[0];
    assert.equal(server.command, 'npx');
    assert.deepEqual(server.args, ['mcp-remote', clientUrl, '--header', 'Authorization: Bearer ${AUTH_TOKEN}']);

    // The snippet's URL works with the transport the snippet names.
    const url = new URL(server.args[1]);
    const headers = { Authorization: `Bearer ${TOKEN}` };
    const client = new Client({ name: 'browser-snippet-check', version: '1.0.0' });
    await client.connect(transport === 'SSE'
      ? new SSEClientTransport(url, {
        eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...init?.headers, ...headers } }) },
        requestInit: { headers },
      })
      : new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'add'));
    await client.close();
  });
}

test(`Spin build, ${HOST_NAME}: a page on another origin can use the MCP endpoint through CORS`, { skip }, async () => {
  const mcp = `${SPIN}/mcp`;
  const page = `<!doctype html><html><body><pre id="out">pending</pre><script>
    const out = (value) => { document.getElementById('out').textContent = JSON.stringify(value); };
    (async () => {
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      const auth = { authorization: 'Bearer ${TOKEN}' };
      const init = await fetch(${JSON.stringify(mcp)}, { method: 'POST', headers: { ...headers, ...auth },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
          protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'page', version: '1' } } }) });
      const session = init.headers.get('mcp-session-id');
      const initBody = await init.json();
      const call = await fetch(${JSON.stringify(mcp)}, { method: 'POST',
        headers: { ...headers, ...auth, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add', arguments: { a: 20, b: 22 } } }) });
      const callBody = await call.json();
      const end = await fetch(${JSON.stringify(mcp)}, { method: 'DELETE',
        headers: { ...auth, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } });
      const anonymous = await fetch(${JSON.stringify(mcp)}, { method: 'POST', headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' }) });
      out({ initStatus: init.status, session, version: initBody.result?.protocolVersion,
        callStatus: call.status, sum: callBody.result?.content?.[0]?.text, endStatus: end.status,
        anonymousStatus: anonymous.status, challenge: anonymous.headers.get('www-authenticate') });
    })().catch((error) => out({ error: String(error) }));
  </script></body></html>`;
  const pages = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end(page);
  });
  await new Promise((resolve) => pages.listen(0, '127.0.0.1', resolve));
  try {
    const origin = `http://127.0.0.1:${pages.address().port}`;
    assert.notEqual(origin, new URL(SPIN).origin, 'the page is cross-origin');
    const dom = await chromium(['--virtual-time-budget=15000', '--dump-dom', `${origin}/`]);
    const result = JSON.parse(byId(dom, 'out'));
    assert.equal(result.error, undefined, result.error);
    assert.equal(result.initStatus, 200);
    assert.match(result.session ?? '', /^[0-9a-f]{40}$/, 'the page can read Mcp-Session-Id');
    assert.equal(result.version, '2025-11-25');
    assert.equal(result.callStatus, 200);
    assert.equal(result.sum, '42');
    assert.equal(result.endStatus, 204);
    assert.equal(result.anonymousStatus, 401);
    assert.match(result.challenge ?? '', /^Bearer realm="mcp", resource_metadata=/, 'the page can read WWW-Authenticate');
  } finally {
    pages.close();
  }
});
