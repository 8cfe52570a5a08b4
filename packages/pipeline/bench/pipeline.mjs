// Benchmark (not a test): `pnpm --filter @pyrexis/pipeline bench` after a build.
// 1. Items/s through map(x+1) → filter(even) → map(x*2) over 1M items, beside a hand-written
//    `for await` loop doing the same work (the baseline), a chain of three hand-written async
//    generators, and node:stream's Readable operators — same source, same run.
// 2. map over a 5 ms async call at concurrency 1, 4, 16, 64.
import { mkdirSync, writeFileSync } from "node:fs";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { filter, map, pipeline } from "../dist/index.js";

const N = 1_000_000;
const RUNS = 9;
// node:stream is ~20× slower: fewer runs keep the bench short; its median is still stable.
const SLOW_RUNS = 3;

/** @param {number} n */
async function* source(n) {
  for (let i = 0; i < n; i++) yield i;
}

/** @param {number} n */
async function baseline(n) {
  const out = [];
  for await (const x of source(n)) {
    const y = x + 1;
    if (y % 2 === 0) out.push(y * 2);
  }
  return out;
}

/** @param {AsyncIterable<number>} s */
async function* g1(s) {
  for await (const x of s) yield x + 1;
}
/** @param {AsyncIterable<number>} s */
async function* g2(s) {
  for await (const x of s) if (x % 2 === 0) yield x;
}
/** @param {AsyncIterable<number>} s */
async function* g3(s) {
  for await (const x of s) yield x * 2;
}
/** @param {number} n */
async function generatorChain(n) {
  const out = [];
  for await (const x of g3(g2(g1(source(n))))) out.push(x);
  return out;
}

const handler = pipeline(
  map((/** @type {number} */ x) => x + 1),
  filter((/** @type {number} */ x) => x % 2 === 0),
  map((/** @type {number} */ x) => x * 2),
);
const withProgress = (/** @type {number} */ n) => handler(source(n), { progress: () => {} });

/** @param {number} n */
async function nodeStream(n) {
  return Readable.from(source(n))
    .map((x) => x + 1)
    .filter((x) => x % 2 === 0)
    .map((x) => x * 2)
    .toArray();
}

/** @type {Record<string, (n: number) => Promise<unknown[]>>} */
const peers = {
  "for await loop (baseline)": baseline,
  "@pyrexis/pipeline": (n) => handler(source(n)),
  "@pyrexis/pipeline + progress hook": withProgress,
  "3 chained async generators": generatorChain,
  "node:stream Readable.map/filter": nodeStream,
};

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return /** @type {number} */ (s[Math.floor(s.length / 2)]);
}

const expected = (await baseline(1000)).length;
for (const [name, fn] of Object.entries(peers)) {
  const got = await fn(1000);
  if (got.length !== expected) throw new Error(`${name}: wrong output length ${got.length}`);
}

// Interleave runs so drift (thermal, GC, other load) hits every peer alike.
/** @type {Record<string, number[]>} */
const times = Object.fromEntries(Object.keys(peers).map((k) => [k, []]));
await baseline(N);
for (let r = 0; r < RUNS; r++) {
  for (const [name, fn] of Object.entries(peers)) {
    if (name.startsWith("node:stream") && r >= SLOW_RUNS) continue;
    const t0 = performance.now();
    await fn(N);
    times[name]?.push(performance.now() - t0);
  }
}
const base = median(times["for await loop (baseline)"] ?? []);
const throughput = Object.entries(times).map(([name, ts]) => {
  const ms = median(ts);
  return { name, medianMs: +ms.toFixed(1), itemsPerSec: Math.round((N / ms) * 1000), vsBaseline: +(ms / base).toFixed(2) };
});

const CALLS = 256;
/** @type {{ concurrency: number, ms: number, itemsPerSec: number, speedup: number }[]} */
const concurrency = [];
/** @type {number | undefined} */
let c1;
for (const c of [1, 4, 16, 64]) {
  const h = pipeline(
    map(
      async (/** @type {number} */ x) => {
        await sleep(5);
        return x;
      },
      { concurrency: c },
    ),
  );
  const t0 = performance.now();
  await h(source(CALLS));
  const ms = performance.now() - t0;
  c1 ??= ms;
  concurrency.push({ concurrency: c, ms: +ms.toFixed(1), itemsPerSec: Math.round((CALLS / ms) * 1000), speedup: +(c1 / ms).toFixed(1) });
}

console.log(
  `\n### Throughput: map(x+1) → filter(even) → map(x*2), ${N.toLocaleString("en")} items (median of ${RUNS} interleaved runs; node:stream ${SLOW_RUNS})\n`,
);
console.log("| implementation | median ms | items/s | time vs baseline |");
console.log("|---|---:|---:|---:|");
for (const r of throughput) console.log(`| ${r.name} | ${r.medianMs} | ${r.itemsPerSec.toLocaleString("en")} | ${r.vsBaseline}× |`);
console.log(`\n### Concurrent map over a 5 ms async call, ${CALLS} items\n`);
console.log("| concurrency | ms | items/s | speed-up vs 1 |");
console.log("|---:|---:|---:|---:|");
for (const r of concurrency) console.log(`| ${r.concurrency} | ${r.ms} | ${r.itemsPerSec.toLocaleString("en")} | ${r.speedup}× |`);

mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/pipeline.json", import.meta.url),
  JSON.stringify({ node: process.version, items: N, runs: RUNS, throughput, concurrency, date: new Date().toISOString() }, null, 2),
);
