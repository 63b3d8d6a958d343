// Sums twiggy's CSV (stdin) by crate: bench/size.
import { readFileSync } from "node:fs";
const rows = readFileSync(0, "utf8").trim().split("\n").slice(1);
const sums = new Map();
let total = 0;
for (const row of rows) {
  // CSV: Name,ShallowSize,ShallowSizePercent,RetainedSize,RetainedSizePercent; names may
  // be quoted (with "" for a quote) and hold commas.
  const cells = [...row.matchAll(/("(?:[^"]|"")*"|[^,]*)(?:,|$)/g)].map((m) =>
    m[1].startsWith('"') ? m[1].slice(1, -1).replace(/""/g, '"') : m[1]);
  const name = cells[0];
  const bytes = Number(cells[1]);
  if (name.startsWith("custom section") || name.endsWith("names\" subsection")) continue;
  total += bytes;
  const crate = name.startsWith("data segment") ? name
    : (name.match(/^<?(?:&mut |&|dyn |\*const |\*mut )?([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::/) || [, "(other: allocator, runtime, unnamed)"])[1];
  sums.set(crate, (sums.get(crate) || 0) + bytes);
}
const top = [...sums].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[2]));
console.log(`Core module without names: ${total.toLocaleString("en")} bytes\n`);
console.log("| crate or section | bytes | share |\n| --- | ---: | ---: |");
for (const [crate, bytes] of top) {
  console.log(`| ${crate} | ${bytes.toLocaleString("en")} | ${(100 * bytes / total).toFixed(1)}% |`);
}
