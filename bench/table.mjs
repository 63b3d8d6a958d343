// Prints bench/run's results (JSON lines) as the Markdown table the README carries.
//
//   node bench/table.mjs results.jsonl "machine description" "what the Spin rows ran on"

import { readFileSync } from 'node:fs';

const [file, machine, spinHost = 'spin up'] = process.argv.slice(2);
const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const rpc = rows.filter((r) => r.kind === 'rpc');
const sse = rows.find((r) => r.kind === 'sse' && !r.build)?.result;
const idle = rows.find((r) => r.kind === 'idle' && !r.build && !r.store)?.result;
const idleRedis = rows.find((r) => r.kind === 'idle' && r.store === 'Redis')?.result;
const sseP2 = rows.find((r) => r.kind === 'sse' && r.build === 'spin-p2')?.result;
const active = rows.filter((r) => r.kind === 'active');
// How often a session of an SSE measurement calls: "every 1 s", "every 0.2–1 s".
const pace = (result) => {
  const [min, max] = result.pace?.every_ms ?? [200, 1000];
  return min === max ? `every ${min / 1000} s` : `every ${min / 1000}–${max / 1000} s`;
};
const idleP2 = rows.find((r) => r.kind === 'idle' && r.build === 'spin-p2')?.result;
const hot = rows.filter((r) => r.kind === 'hot');
const sizes = rows.filter((r) => r.kind === 'size');
const f = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const find = (server, conns) => rpc.find((r) => r.server === server && r.result.conns === conns)?.result;

const out = [];
out.push(`Machine: ${machine}.`, '');
out.push('`tools/call add`, Streamable HTTP, 2026-07-28 (stateless):', '');
out.push('| connections | build | requests/s | p50 ms | p99 ms | errors | vs native |');
out.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: |');
for (const conns of [1, 16, 64]) {
  const native = find('native', conns);
  for (const [server, label] of [
    ['portable', '(a) portable, `wasmtime serve`'],
    ['spin', `(b) Spin build (WASIp3), ${spinHost}`],
    ['spin-p2', `(b2) Spin build's WASIp2 variant, ${spinHost}`],
    ['native', '(c) native core (ceiling)'],
    ['floor', '(d) empty component, `wasmtime serve` (engine floor)'],
    ['spin-floor', `(e) empty component, ${spinHost} (Spin's floor)`],
    ['spin-floor-p3', `(f) empty WASIp3 component, ${spinHost}`],
  ]) {
    const r = find(server, conns);
    if (!r) continue;
    const ratio = server === 'native' ? '1' : `${f(r.rps / native.rps)} (${f(native.rps / r.rps, 1)}x slower)`;
    out.push(`| ${conns} | ${label} | ${f(r.rps, 0)} | ${f(r.p50_ms)} | ${f(r.p99_ms)} | ${r.errors} | ${ratio} |`);
  }
}
if (hot.length) {
  const floor = hot.find((r) => r.server === 'floor').result;
  out.push('', `Under ${spinHost}, 16 connections, against Spin's floor (the empty component):`, '');
  out.push('| request | requests/s | p50 ms | p99 ms | p99/p50 | of the floor |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [server, label] of [
    ['floor', 'empty component, `GET /`'],
    ['floor-p3', 'empty WASIp3 component, `GET /`'],
    ['home', '`GET /` (home page)'],
    ['healthz', '`GET /healthz`'],
    ['stateless', '`tools/call add`, 2026-07-28 stateless'],
    ['session', '`tools/call add`, legacy Streamable HTTP session'],
  ]) {
    const r = hot.find((h) => h.server === server)?.result;
    if (!r) continue;
    const errors = r.errors ? ` (${r.errors} errors)` : '';
    out.push(`| ${label}${errors} | ${f(r.rps, 0)} | ${f(r.p50_ms)} | ${f(r.p99_ms)} | ${f(r.p99_ms / r.p50_ms, 1)} | ${f(r.rps / floor.rps)} |`);
  }
}
if (sse) {
  out.push('', `HTTP+SSE (Spin build, ${spinHost}), \`POST /sse/message\` to the answer on the stream:`, '');
  out.push('| measure | p50 ms | p99 ms |', '| --- | ---: | ---: |');
  out.push(`| round trip, back to back | ${f(sse.round_trip.back_to_back.p50_ms)} | ${f(sse.round_trip.back_to_back.p99_ms)} |`);
  out.push(`| round trip, after 250 ms idle | ${f(sse.round_trip.after_idle.p50_ms)} | ${f(sse.round_trip.after_idle.p99_ms)} |`);
  for (const level of sse.levels) {
    out.push(level.error
      ? `| ${level.sessions} concurrent sessions | failed: ${level.error} | |`
      : `| ${level.sessions} concurrent sessions, each calling ${pace(sse)} | ${f(level.p50_ms)} | ${f(level.p99_ms)} |`);
  }
  const top = Math.max(...sse.levels_tried);
  const most = sse.max_sessions_p99_under_100ms;
  out.push('', `Concurrent SSE sessions held with p99 under 100 ms: **${most}**${most === top ? ` (the most tried)` : ''}.`);
}
if (active.length) {
  const first = active[0].result;
  out.push('', `Active HTTP+SSE sessions (distinct tokens), each calling \`add\` ${pace(first)} for ${first.pace.seconds} s (Spin build, spin up ${spinHost.match(/\(([\d.]+)/)?.[1] ?? ''}), by store:`, '');
  out.push('| store | sessions | calls | p50 ms | p90 ms | p99 ms | max ms |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { store, result } of active) {
    for (const level of result.levels) {
      out.push(level.error
        ? `| ${store} | ${level.sessions} | failed: ${level.error} | | | | |`
        : `| ${store} | ${level.sessions} | ${level.calls} | ${f(level.p50_ms)} | ${f(level.p90_ms)} | ${f(level.p99_ms)} | ${f(level.max_ms)} |`);
    }
  }
}
if (idle) {
  out.push('', `${idle.streams} HTTP+SSE streams idle for ${idle.idle_s} s (${spinHost}, a node started for them): **${f(idle.cpu_share_of_core * 100, 1)}% of a core** (measured over ${idle.sample_s} s), **${f(idle.kib_per_stream, 0)} KiB** of resident memory each.`);
}
if (idleRedis) {
  out.push('', `The same with the store on Redis: ${idleRedis.streams} streams, **${f(idleRedis.cpu_share_of_core * 100, 1)}% of a core** (over ${idleRedis.sample_s} s), **${f(idleRedis.kib_per_stream, 0)} KiB** each.`);
}
if (sseP2 && idleP2) {
  const held = sseP2.max_sessions_p99_under_100ms;
  out.push('', `The WASIp2 variant, same host: SSE round trip back to back p50 ${f(sseP2.round_trip.back_to_back.p50_ms)} ms, p99 ${f(sseP2.round_trip.back_to_back.p99_ms)} ms; `
    + `concurrent SSE sessions held with p99 under 100 ms: **${held}**; `
    + `${idleP2.streams} streams idle for ${idleP2.idle_s} s: **${f(idleP2.cpu_share_of_core * 100, 1)}% of a core**, **${f(idleP2.kib_per_stream, 0)} KiB** each.`);
}
out.push('', '| component | bytes | gzip bytes |', '| --- | ---: | ---: |');
for (const s of sizes) out.push(`| ${s.build} | ${s.bytes} | ${s.gzip} |`);
console.log(out.join('\n'));
