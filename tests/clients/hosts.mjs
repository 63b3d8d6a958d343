// Starting the Spin build for a test, on the host scripts/test chose:
//
// - MCP_SPIN_HOST=spin: the real `spin up` (on PATH), its state (SQLite store, logs) in a
//   fresh folder under target/e2e/, or a runtime config (Redis) the test writes;
// - otherwise the project's local host (MCP_LOCAL_HOST, the binary's path).
//
// Each started node is its own process group: `spin up` runs its trigger as a child
// process and ignores SIGTERM while streams are open, so a node is stopped, or killed
// mid-stream, by SIGKILL to the whole group. Every wait here has a deadline that fails the
// test instead of hanging it.

import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/// The manifest nodes start from: spin.toml, or MCP_SPIN_MANIFEST (scripts/test points it at
/// a copy whose component is the WASIp2 variant).
export const MANIFEST = process.env.MCP_SPIN_MANIFEST || join(ROOT, 'spin.toml');
/// The same with a component built with the conformance fixtures (MCP_SPIN_FIXTURES_MANIFEST).
const FIXTURES_MANIFEST = process.env.MCP_SPIN_FIXTURES_MANIFEST;
export const REAL_SPIN = process.env.MCP_SPIN_HOST === 'spin';
/// MCP_SPIN_HOSTED=1: the manifest is the build for hosted platforms (spin-hosted.toml),
/// whose shared state lives in the Redis its variables name, not in a key-value store.
export const HOSTED = process.env.MCP_SPIN_HOSTED === '1';
/// The Redis each hosted-build node started here keeps its state in, by its state folder:
/// a node of its own unless it reuses a predecessor's state, as a SQLite store is per node.
const REDIS_OF_STATE = new Map();
const LOCAL_HOST = process.env.MCP_LOCAL_HOST;
/// Whether a Spin build can be started at all in this run.
export const CAN_START = REAL_SPIN || Boolean(LOCAL_HOST);
/// For test names: which host the Spin build runs on.
export const HOST_NAME = (REAL_SPIN ? 'real spin up' : 'the local host')
  + (process.env.MCP_SPIN_VARIANT ? `, ${process.env.MCP_SPIN_VARIANT}` : '');
const E2E = join(ROOT, 'target/e2e');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// `promise`, or a failure naming `what` after `ms`.
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/// Polls `condition` until it holds; fails naming `what` after `ms`.
export async function until(ms, what, condition) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/// A free TCP port on 127.0.0.1.
export async function freePort() {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const started = new Set();
process.on('exit', () => {
  started.forEach((node) => node.kill());
  REDIS_OF_STATE.forEach((redis) => redis.kill());
});

/// Starts the Spin build with `variables` ({ name: value }); `runtimeConfig` (real Spin
/// only) is a runtime-config file; `state` (real Spin only) a state folder to reuse, so a
/// node restarted on it finds the SQLite store its predecessor left; `port` a port to
/// listen on; `fixtures` a component built with the conformance fixtures. Resolves to a
/// node: { base, log, state, kill(), exited }.
export async function startSpinBuild({ name, variables = {}, runtimeConfig, state, port, fixtures, idleInstanceTimeout = 600 } = {}) {
  if (!CAN_START) throw new Error('neither MCP_SPIN_HOST=spin nor MCP_LOCAL_HOST is set');
  if (fixtures && !FIXTURES_MANIFEST) throw new Error('MCP_SPIN_FIXTURES_MANIFEST is not set (scripts/test sets it)');
  const manifest = fixtures ? FIXTURES_MANIFEST : MANIFEST;
  port ??= await freePort();
  const listen = `127.0.0.1:${port}`;
  mkdirSync(E2E, { recursive: true });
  const label = `${name ?? 'spin-build'}-${port}`;
  // The hosted build keeps its state in a Redis: one per node (per state folder), unless
  // the test names one, or none (`redis_address: ''`).
  let ownRedis;
  if (HOSTED && REAL_SPIN && !('redis_address' in variables)) {
    ownRedis = state && REDIS_OF_STATE.get(state);
    if (!ownRedis) {
      ownRedis = await startRedis();
      ownRedis.unref();
    }
    variables = { ...storeIn(ownRedis).variables, ...variables };
  }
  const vars = Object.entries(variables).flatMap(([key, value]) => ['--variable', `${key}=${value}`]);
  let command;
  let args;
  if (REAL_SPIN) {
    state ??= mkdtempSync(join(E2E, `${label}-state-`));
    if (ownRedis) REDIS_OF_STATE.set(state, ownRedis);
    command = 'spin';
    // As scripts/lib.sh's SPIN_UP_FLAGS: instances kept while tasks may still run in them.
    args = ['up', '--from', manifest, '--listen', listen, '--state-dir', state, '--idle-instance-timeout', String(idleInstanceTimeout), '--max-instance-reuse-count', '10000', ...vars];
    if (runtimeConfig) args.push('--runtime-config-file', runtimeConfig);
  } else {
    if (runtimeConfig) throw new Error('a runtime config needs the real Spin');
    command = LOCAL_HOST;
    args = ['--listen', listen, '--from', manifest, ...vars];
  }
  const log = join(E2E, `${label}.log`);
  const out = createWriteStream(log, { flags: 'a' });
  const child = spawn(command, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(out);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const node = {
    base: `http://${listen}`,
    port,
    state,
    log,
    exited,
    pid: child.pid,
    /// SIGKILL to the node's whole process group (the trigger process included).
    kill() {
      started.delete(node);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      return exited;
    },
  };
  started.add(node);
  let seen = '';
  await within(90_000, `${command} serving on ${listen} (log: ${log})`, new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out.write(chunk);
      seen += chunk;
      if (seen.includes('Serving http://')) resolve();
    });
    exited.then((code) => reject(new Error(`${command} exited (${code}) before serving; log: ${log}`)));
  }));
  return node;
}

/// Whether redis-server (Debian's package) is on PATH.
export const HAS_REDIS = spawnSync('redis-server', ['--version']).status === 0;

/// Starts redis-server on `port` (a free one by default), data in memory only, its files in
/// `dir`. Resolves once it accepts connections to { port, dir, runtimeConfig, kill() }:
/// `runtimeConfig` is a Spin runtime-config file whose `default` store is this Redis.
/// Started again on the same port and dir, a node's store is back (empty).
export async function startRedis({ port, dir } = {}) {
  port ??= await freePort();
  dir ??= mkdtempSync(join(E2E, 'redis-'));
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => redis.on('exit', (code, signal) => resolve(signal ?? code)));
  let seen = '';
  await within(20_000, 'redis-server ready', new Promise((resolve, reject) => {
    redis.stdout.on('data', (chunk) => {
      seen += chunk;
      if (seen.includes('Ready to accept connections')) resolve();
    });
    exited.then((code) => reject(new Error(`redis-server exited with ${code}: ${seen}`)));
  }));
  const runtimeConfig = join(dir, 'runtime-config.toml');
  writeFileSync(runtimeConfig, `[key_value_store.default]\ntype = "redis"\nurl = "redis://127.0.0.1:${port}"\n`);
  return {
    port,
    dir,
    runtimeConfig,
    /// SIGKILL: the server gone at once, as a crashed node is.
    kill() {
      redis.kill('SIGKILL');
      return exited;
    },
    /// Lets the test process end while this Redis runs (it is killed on exit).
    unref() {
      redis.stdout.destroy();
      redis.unref();
    },
  };
}

/// What makes a node keep its shared state in `redis` (startRedis's): the runtime config
/// of Spin's key-value store, or for the hosted build its two variables.
export function storeIn(redis) {
  if (!HOSTED) return { variables: {}, runtimeConfig: redis.runtimeConfig };
  return {
    variables: {
      redis_address: `redis://127.0.0.1:${redis.port}/0`,
      redis_origin: `redis://127.0.0.1:${redis.port}`,
    },
  };
}

/// The tools these suites call are listed, each once and with an object input schema.
/// Other tools may be listed too: adding a tool to the server breaks no client test (the
/// native tests check the whole list against the registry).
export function assertListsTools(tools, names = ['add', 'getToken', 'countdown']) {
  const listed = tools.map((t) => t.name);
  assert.deepEqual([...new Set(listed)], listed, 'tool names are unique');
  for (const name of names) assert.ok(listed.includes(name), `${name} is listed: ${listed}`);
  for (const tool of tools) assert.equal(tool.inputSchema?.type, 'object', `${tool.name}'s inputSchema`);
}
