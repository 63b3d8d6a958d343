#!/usr/bin/env node
// Downloads the official MCP schemas pinned in tests/mcp-schema.json into a folder
// (<dir>/<revision>/schema.json), checking each against its SHA-256; files already there
// with the right hash are kept. Exits 1 with one line saying why when it cannot.
//
//   node scripts/fetch-schemas.mjs target/mcp-schema
//
// MCP_SCHEMA_URL replaces the pinned URL template ({commit} and {revision} filled in),
// for a mirror.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pins = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../tests/mcp-schema.json'), 'utf8'));
const dir = process.argv[2];
if (!dir) {
  console.error('usage: fetch-schemas.mjs <folder>');
  process.exit(2);
}
const template = process.env.MCP_SCHEMA_URL || pins.url;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

try {
  for (const [revision, expected] of Object.entries(pins.sha256)) {
    const path = join(dir, revision, 'schema.json');
    try {
      if (sha256(readFileSync(path)) === expected) continue;
    } catch {
      // not there yet
    }
    const url = template.replaceAll('{commit}', pins.commit).replaceAll('{revision}', revision);
    let response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
    } catch (e) {
      throw new Error(`cannot reach ${new URL(url).origin} (${e.cause?.code ?? e.message})`);
    }
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const got = sha256(bytes);
    if (got !== expected) throw new Error(`${url} has SHA-256 ${got}, not the pinned ${expected}`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.part`, bytes);
    renameSync(`${path}.part`, path);
  }
} catch (e) {
  console.error(`the official MCP schemas could not be downloaded: ${e.message}`);
  process.exit(1);
}
