// What idle HTTP+SSE streams cost the host: opens STREAMS `GET /sse` streams (one token
// each, as separate users), lets them sit idle for IDLE_SECONDS, then measures for
// SAMPLE_SECONDS the CPU the given processes use (as a share of one core) and how much
// their resident memory grew per stream.
//
//   node bench/idle.mjs BASE_URL STREAMS IDLE_SECONDS SAMPLE_SECONDS PID... [--json]
//
// PIDs are the server's processes (for `spin up`: the trigger process and its parent).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2).filter((a) => a !== '--json');
const json = process.argv.includes('--json');
const [base, streamsArg, idleArg, sampleArg, ...pids] = args;
if (!base || !pids.length) {
  console.error('usage: node bench/idle.mjs BASE_URL STREAMS IDLE_SECONDS SAMPLE_SECONDS PID... [--json]');
  process.exit(2);
}
const streams = Number(streamsArg);
const idleS = Number(idleArg);
const sampleS = Number(sampleArg);
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString());
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// CPU seconds used so far by the processes (user + system).
function cpuSeconds() {
  return pids.reduce((sum, pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return sum + (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  }, 0);
}

/// Resident memory of the processes, KiB.
function rssKiB() {
  return pids.reduce((sum, pid) => {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return sum + Number(line.split(/\s+/)[1]);
  }, 0);
}

const controllers = [];
async function open(i) {
  const controller = new AbortController();
  controllers.push(controller);
  const response = await fetch(new URL('/sse', base), {
    headers: { Authorization: `Bearer bench-idle-${i}-0123456789`, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  if (response.status !== 200) throw new Error(`stream ${i}: status ${response.status}`);
  const reader = response.body.getReader();
  let text = '';
  while (!text.includes('event: endpoint')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ${i} ended before its endpoint event`);
    text += new TextDecoder().decode(value);
  }
  // Keep reading (keep-alives) so the connection stays healthy.
  (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // aborted at the end
    }
  })();
}

const rssBefore = rssKiB();
for (let i = 0; i < streams; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, streams - i) }, (_, j) => open(i + j)));
}
await sleep(idleS * 1000);
const cpuStart = cpuSeconds();
const started = performance.now();
await sleep(sampleS * 1000);
const cpu = (cpuSeconds() - cpuStart) / ((performance.now() - started) / 1000);
const rssAfter = rssKiB();
controllers.forEach((c) => c.abort());

const result = {
  streams,
  idle_s: idleS,
  sample_s: sampleS,
  cpu_share_of_core: cpu,
  rss_before_kib: rssBefore,
  rss_after_kib: rssAfter,
  kib_per_stream: (rssAfter - rssBefore) / streams,
};
if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`${streams} streams idle for ${idleS} s: ${(cpu * 100).toFixed(1)}% of a core, ${result.kib_per_stream.toFixed(0)} KiB each`);
}
process.exit(0);
