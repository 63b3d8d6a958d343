// Round trip of the legacy SSE path: from sending `POST /sse/message` to the answer's
// arrival as an event on the `GET /sse` stream, as a client measures it.
//
//   node bench/sse-latency.mjs http://127.0.0.1:3000 [calls]
//
// Prints p50/p90/p99/max for back-to-back calls and for calls after an idle pause (when
// the stream's polling has backed off to its slowest pace).

const base = process.argv[2];
const calls = Number(process.argv[3] ?? 300);
if (!base) {
  console.error('usage: node bench/sse-latency.mjs BASE_URL [calls]');
  process.exit(2);
}
const auth = { Authorization: 'Bearer bench-token' };

const stream = await fetch(new URL('/sse', base), {
  headers: { ...auth, Accept: 'text/event-stream' },
});
if (stream.status !== 200) throw new Error(`GET /sse: ${stream.status}`);
const waiting = new Map();
let endpoint;
const opened = new Promise((resolve) => { endpoint = resolve; });
(async () => {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of stream.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length === 0) continue;
      if (name === 'endpoint') endpoint(data.join('\n'));
      else waiting.get(JSON.parse(data.join('\n')).id)?.(performance.now());
    }
  }
})().catch(() => {});

const post = new URL(await opened, base);
let id = 0;
async function roundTrip() {
  const n = id++;
  const arrived = new Promise((resolve) => waiting.set(n, resolve));
  const started = performance.now();
  const response = await fetch(post, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'add', arguments: { a: n, b: 1 } } }),
  });
  if (response.status !== 202) throw new Error(`POST: ${response.status}`);
  const at = await arrived;
  waiting.delete(n);
  return at - started;
}

function report(label, samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(2);
  console.log(
    `${label.padEnd(28)} n=${String(sorted.length).padStart(4)}  p50 ${at(0.5)} ms  p90 ${at(0.9)} ms  p99 ${at(0.99)} ms  max ${sorted[sorted.length - 1].toFixed(2)} ms`,
  );
}

for (let i = 0; i < 20; i++) await roundTrip(); // warm-up: instances compiled, caches hot
const busy = [];
for (let i = 0; i < calls; i++) busy.push(await roundTrip());
const idle = [];
for (let i = 0; i < Math.max(20, calls / 10); i++) {
  await new Promise((resolve) => setTimeout(resolve, 250));
  idle.push(await roundTrip());
}
console.log(`SSE round trip (POST /sse/message to event on GET /sse), ${base}`);
report('back-to-back', busy);
report('after 250 ms idle', idle);
process.exit(0);
