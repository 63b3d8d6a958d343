// The cost of sweeping a big store: fills the server's store with COUNT live sessions
// (distinct principals, as many users would), waits until a sweep is due, then times the
// initialize that runs it and reads the sweep's own log line, then times initializes that
// sweep nothing.
//
//   node bench/sweep.mjs BASE_URL COUNT GC_INTERVAL_SECONDS LOG_FILE [--json]
//
// The server must run with gc_interval_seconds = GC_INTERVAL_SECONDS, a large
// max_sessions_total and session_ttl_seconds (the sessions must stay live), and write its
// log to LOG_FILE.

import { readFileSync } from 'node:fs';

const args = process.argv.slice(2).filter((a) => a !== '--json');
const json = process.argv.includes('--json');
const [base, countArg, gcArg, logFile] = args;
if (!logFile) {
  console.error('usage: node bench/sweep.mjs BASE_URL COUNT GC_INTERVAL_SECONDS LOG_FILE [--json]');
  process.exit(2);
}
const count = Number(countArg);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function initialize(n) {
  const started = performance.now();
  const response = await fetch(new URL('/mcp', base), {
    method: 'POST',
    headers: {
      authorization: `Bearer bench-sweep-${n}-0123456789`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
    }),
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`initialize ${n}: ${response.status}`);
  return performance.now() - started;
}

const fillStarted = performance.now();
let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => {
  while (next < count) await initialize(next++);
}));
const fillSeconds = (performance.now() - fillStarted) / 1000;

// The fill's own sweeps are done; the next initialize after the interval runs one.
const sweepsBefore = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.startsWith('sweep:')).length;
await sleep(Number(gcArg) * 1000 + 1500);
const sweeping = await initialize(count + 1);
let sweepLine = null;
for (let tries = 0; tries < 50 && !sweepLine; tries++) {
  const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.startsWith('sweep:'));
  if (lines.length > sweepsBefore) sweepLine = lines.at(-1);
  else await sleep(100);
}
const plain = [];
for (let i = 0; i < 21; i++) plain.push(await initialize(count + 2 + i));
plain.sort((a, b) => a - b);

const result = {
  sessions: count,
  fill_per_second: count / fillSeconds,
  sweeping_initialize_ms: sweeping,
  sweep_log: sweepLine,
  initialize_p50_ms: plain[10],
};
if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`${count} live sessions (filled at ${result.fill_per_second.toFixed(0)}/s)`);
  console.log(`initialize that sweeps: ${sweeping.toFixed(1)} ms  (${sweepLine})`);
  console.log(`initialize, no sweep:   p50 ${plain[10].toFixed(1)} ms`);
}
