// The legacy HTTP+SSE path as clients see it: from sending `POST /sse/message` to the
// answer's arrival as an event on the session's `GET /sse` stream.
//
//   node bench/sse.mjs BASE_URL [--calls N] [--levels 25,50,...] [--every MS[-MS]]
//                      [--seconds S] [--json]
//
// 1. Round trip of one session: back-to-back calls, then calls after a 250 ms pause (when
//    the stream's polling has backed off to its slowest pace).
// 2. Concurrent sessions: opens more and more sessions (each with its own token, as
//    separate users would be), each calling `add` every 0.2–1 s (`--every`, a range or a
//    fixed pause in ms, counted from the previous answer) for 5 s (`--seconds`), and
//    reports the largest number held with p99 round trip under 100 ms and no errors.
//    Issue 19's measure: `--levels 300 --every 1000 --seconds 30`.

const args = process.argv.slice(2);
const base = args[0];
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const calls = Number(option('--calls', 300));
const levels = option('--levels', '25,50,100,200,400,600,800').split(',').map(Number);
const [pauseMin, pauseMax = pauseMin] = option('--every', '200-1000').split('-').map(Number);
const seconds = Number(option('--seconds', 5));
const json = args.includes('--json');
if (!base) {
  console.error('usage: node bench/sse.mjs BASE_URL [--calls N] [--levels 25,50,...] [--every MS[-MS]] [--seconds S] [--json]');
  process.exit(2);
}

let sessions = 0;
class Session {
  static async open() {
    const session = new Session(`bench-sse-user-${sessions++}`);
    await session.ready;
    return session;
  }

  constructor(token) {
    this.auth = { Authorization: `Bearer ${token}` };
    this.waiting = new Map();
    this.next = 0;
    this.controller = new AbortController();
    this.ready = this.#listen();
  }

  async #listen() {
    const stream = await fetch(new URL('/sse', base), {
      headers: { ...this.auth, Accept: 'text/event-stream' },
      signal: this.controller.signal,
    });
    if (stream.status !== 200) throw new Error(`GET /sse: ${stream.status} ${await stream.text()}`);
    let opened;
    const endpoint = new Promise((resolve) => { opened = resolve; });
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
          if (name === 'endpoint') opened(data.join('\n'));
          else this.waiting.get(JSON.parse(data.join('\n')).id)?.(performance.now());
        }
      }
    })().catch(() => {});
    this.post = new URL(await endpoint, base);
  }

  async roundTrip() {
    const n = this.next++;
    const arrived = new Promise((resolve) => this.waiting.set(n, resolve));
    const started = performance.now();
    const response = await fetch(this.post, {
      method: 'POST',
      headers: { ...this.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'add', arguments: { a: n, b: 1 } } }),
    });
    await response.arrayBuffer();
    if (response.status !== 202) throw new Error(`POST: ${response.status}`);
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 10 s')), 10_000));
    const at = await Promise.race([arrived, timeout]);
    this.waiting.delete(n);
    return at - started;
  }

  close() {
    this.controller.abort();
  }
}

const percentile = (samples, q) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// 1. One session's round trip.
const one = await Session.open();
for (let i = 0; i < 20; i++) await one.roundTrip(); // warm-up: instances compiled, caches hot
const busy = [];
for (let i = 0; i < calls; i++) busy.push(await one.roundTrip());
const idle = [];
for (let i = 0; i < Math.max(20, calls / 10); i++) {
  await sleep(250);
  idle.push(await one.roundTrip());
}
one.close();

// 2. Concurrent sessions.
const open = [];
const held = [];
for (const level of levels) {
  try {
    while (open.length < level) {
      const batch = Math.min(25, level - open.length);
      open.push(...(await Promise.all(Array.from({ length: batch }, () => Session.open()))));
    }
    const samples = [];
    const until = performance.now() + seconds * 1000;
    await Promise.all(open.map(async (session) => {
      await sleep(Math.random() * pauseMax);
      while (performance.now() < until) {
        samples.push(await session.roundTrip());
        await sleep(pauseMin + Math.random() * (pauseMax - pauseMin));
      }
    }));
    const p99 = percentile(samples, 0.99);
    held.push({ sessions: level, calls: samples.length, p50_ms: percentile(samples, 0.5), p90_ms: percentile(samples, 0.9), p99_ms: p99, max_ms: percentile(samples, 1) });
    if (!json) console.error(`${level} sessions: ${samples.length} calls, p50 ${percentile(samples, 0.5).toFixed(2)} ms, p90 ${percentile(samples, 0.9).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${percentile(samples, 1).toFixed(2)} ms`);
    if (p99 >= 100) break;
  } catch (error) {
    held.push({ sessions: level, error: String(error.message ?? error) });
    if (!json) console.error(`${level} sessions: ${error.message ?? error}`);
    break;
  }
}
for (const session of open) session.close();

const passing = held.filter((h) => !h.error && h.p99_ms < 100);
const result = {
  round_trip: {
    back_to_back: { n: busy.length, p50_ms: percentile(busy, 0.5), p99_ms: percentile(busy, 0.99) },
    after_idle: { n: idle.length, p50_ms: percentile(idle, 0.5), p99_ms: percentile(idle, 0.99) },
  },
  levels: held,
  max_sessions_p99_under_100ms: passing.length ? passing[passing.length - 1].sessions : 0,
  levels_tried: levels,
  pace: { every_ms: [pauseMin, pauseMax], seconds },
};
if (json) {
  console.log(JSON.stringify(result));
} else {
  const f = (x) => x.toFixed(2);
  console.log(`SSE round trip (POST /sse/message to event on GET /sse), ${base}`);
  console.log(`back-to-back       p50 ${f(result.round_trip.back_to_back.p50_ms)} ms  p99 ${f(result.round_trip.back_to_back.p99_ms)} ms`);
  console.log(`after 250 ms idle  p50 ${f(result.round_trip.after_idle.p50_ms)} ms  p99 ${f(result.round_trip.after_idle.p99_ms)} ms`);
  console.log(`concurrent sessions held with p99 < 100 ms: ${result.max_sessions_p99_under_100ms}`);
}
process.exit(0);
