// A host's request limit, emulated: an HTTP proxy that cuts every request a fixed time
// after it began, as Fermyon's hosted platforms do at 30 s (the response stops where it
// is and the connection closes). The WASIp3 build could use `spin up --request-timeout`,
// which Spin applies to WASIp3 components only; this works for every build and host.
//
// As a module: startCutter(target, limitMs) → { base, cuts, requests, close() }.
// As a program (scripts/test puts it in front of a node):
//   node tests/clients/cutter.mjs --listen 127.0.0.1:PORT --to http://127.0.0.1:PORT --limit SECONDS

import { createServer, request } from 'node:http';
import { fileURLToPath } from 'node:url';

export async function startCutter(target, limitMs, { port = 0 } = {}) {
  const upstream = new URL(target);
  const state = { cuts: 0, requests: 0, cutPaths: [] };
  const server = createServer((incoming, outgoing) => {
    state.requests++;
    const forward = request({
      host: upstream.hostname,
      port: upstream.port,
      method: incoming.method,
      path: incoming.url,
      headers: incoming.headers,
    }, (answer) => {
      outgoing.writeHead(answer.statusCode, answer.rawHeaders);
      outgoing.flushHeaders();
      answer.pipe(outgoing);
    });
    forward.on('error', () => outgoing.destroy());
    incoming.pipe(forward);
    const timer = setTimeout(() => {
      state.cuts++;
      state.cutPaths.push(`${incoming.method} ${incoming.url}`);
      forward.destroy();
      outgoing.destroy();
    }, limitMs);
    // A client that goes away is gone for the server too, as behind a real platform: the
    // forwarded request is aborted, so the server sees the hang-up and frees what the
    // request held (a stream's place) instead of serving into the proxy.
    outgoing.on('close', () => {
      clearTimeout(timer);
      forward.destroy();
    });
  });
  // Long-lived connections are the clients' business: only requests are cut.
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    get cuts() { return state.cuts; },
    get requests() { return state.requests; },
    get cutPaths() { return state.cutPaths; },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name) => {
    const at = process.argv.indexOf(name);
    if (at < 0 || !process.argv[at + 1]) throw new Error(`${name} is required`);
    return process.argv[at + 1];
  };
  const [, port] = arg('--listen').split(':');
  const cutter = await startCutter(arg('--to'), Number(arg('--limit')) * 1000, { port: Number(port) });
  console.log(`cutting requests to ${arg('--to')} at ${arg('--limit')} s on ${cutter.base}`);
  const report = () => console.log(`${cutter.requests} requests, ${cutter.cuts} cut: ${cutter.cutPaths.join(', ')}`);
  process.on('SIGTERM', () => { report(); process.exit(0); });
}
