// Plays a user of the MCP Inspector's web UI in headless Chromium, through the Chrome
// DevTools Protocol: open the Inspector, switch the server's connection on (which runs the
// Inspector's OAuth flow: the browser goes to the authorization server, whose test user
// approves, and comes back to the Inspector's callback), open Tools, call add with a=20,
// b=22. Prints one JSON line: the main-frame URLs the browser visited, whether it
// connected, the tools listed and the call's result text.
//
// Run with Node.js 22 (its WebSocket; tests/inspector has it), by oauth.test.mjs:
//   node inspector-ui.mjs <chromium> <inspector URL with its token>

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [chromiumPath, inspectorUrl] = process.argv.slice(2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const profile = mkdtempSync(join(tmpdir(), 'mcp-inspector-ui-'));
const chromium = spawn(chromiumPath, [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
  '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank',
], { stdio: 'ignore' });
const report = { visited: [], connected: false, tools: [], result: null };
/// The page's text, once the page is reachable.
let pageText = async () => '';

/// Waits for `condition` (async) to hold, polling.
async function until(ms, what, condition) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

try {
  // Chromium writes the port it chose, and the browser's path, here.
  const port = await until(30_000, 'Chromium DevTools', () => {
    try {
      return readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').split('\n')[0];
    } catch {
      return undefined;
    }
  });
  const targets = await until(10_000, 'a page', async () => {
    const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    return list.some((t) => t.type === 'page') && list;
  });
  const socket = new WebSocket(targets.find((t) => t.type === 'page').webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve);
    socket.addEventListener('error', reject);
  });
  let id = 0;
  const waiting = new Map();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    if (message.id && waiting.has(message.id)) {
      waiting.get(message.id)(message);
      waiting.delete(message.id);
    } else if (message.method === 'Page.frameNavigated' && !message.params.frame.parentId) {
      report.visited.push(message.params.frame.url);
    } else if (message.method === 'Page.frameRequestedNavigation') {
      report.visited.push(message.params.url);
    }
  });
  const send = (method, params = {}) => new Promise((resolve) => {
    id += 1;
    waiting.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });
  const evaluate = async (expression) => (await send('Runtime.evaluate', {
    expression, returnByValue: true, awaitPromise: true,
  })).result?.result?.value;
  const text = () => evaluate('document.body ? document.body.innerText : ""');
  pageText = text;
  // Clicks the first element matching `selector` whose text matches `pattern`.
  const click = (selector, pattern) => evaluate(`(() => {
    const el = [...document.querySelectorAll(${JSON.stringify(selector)})]
      .find((e) => ${pattern}.test((e.getAttribute('aria-label') || e.innerText || e.textContent || '').trim()));
    if (!el) return false;
    el.click();
    return true;
  })()`);

  await send('Page.enable');
  await send('Page.navigate', { url: inspectorUrl });
  await until(30_000, 'the Inspector page', async () => /Disconnected/.test(await text()));
  // The server's connection switch: its label is "Connect or disconnect …".
  await until(10_000, 'the connect switch', () => click('input[role=switch], input[type=checkbox]', /^Connect or disconnect/));
  await until(60_000, 'the Inspector connected after the sign-in', async () => /\bConnected\b/.test(await text()));
  report.connected = true;
  // Tools is a segmented control: its label is the element to click.
  await until(10_000, 'the Tools tab', () => click('label', /^Tools$/));
  const listed = await until(20_000, 'the tool list', async () => (await text()).match(/Tools \((\d+)\)/) && text());
  report.tools = ['add', 'getToken', 'countdown'].filter((name) => new RegExp(`\\n${name}\\n`).test(listed));
  await until(10_000, 'the add tool', () => click('button', /\badd$/));
  // The form's inputs, by their labels ("a *", "b *"); typed as a user types.
  for (const [name, value] of [['a', '20'], ['b', '22']]) {
    const focused = await until(10_000, `input ${name}`, () => evaluate(`(() => {
      const label = [...document.querySelectorAll('label')].find((l) => l.innerText.trim().replace(/\\s*\\*$/, '') === ${JSON.stringify(name)});
      const input = label && document.getElementById(label.htmlFor);
      if (!input) return false;
      input.focus();
      input.select?.();
      return true;
    })()`));
    if (focused) await send('Input.insertText', { text: value });
  }
  await until(10_000, 'Execute Tool', () => click('button', /^Execute Tool$/));
  // The form gives way to the result: "Results", then the text content.
  const after = await until(20_000, 'the result', async () => (await text()).match(/\nResults\s*\n([^\n]*)\n/));
  report.result = after[1].trim();
} catch (error) {
  report.error = String(error.message ?? error);
  report.page = ((await pageText().catch(() => '')) ?? '').slice(-2000);
} finally {
  chromium.kill('SIGKILL');
  await sleep(200);
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
process.exit(0);
