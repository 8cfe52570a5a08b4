// Benchmark (not a test): TimingHistogram vs the naive baseline of keeping every sample in an
// array and sorting for percentiles. Prints a markdown table, writes bench-results/observe.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { seededRandom } from "@pyrexis/test-utils/random";
import { TimingHistogram } from "../dist/index.js";

const N = 1_000_000;
const ROUNDS = 5;

const rand = seededRandom(42);
const sample = new Float64Array(N);
for (let i = 0; i < N; i++)
  sample[i] = Math.exp(Math.log(40) + 1.2 * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));

function hdrRun() {
  const h = new TimingHistogram();
  for (let i = 0; i < N; i++) h.observe(/** @type {number} */ (sample[i]));
  return { snap: h.snapshot(), bytes: h.estimatedFootprintInBytes };
}
function arrayRun() {
  const values = [];
  for (let i = 0; i < N; i++) values.push(sample[i]);
  const sorted = Float64Array.from(values).sort();
  const at = (/** @type {number} */ p) => /** @type {number} */ (sorted[Math.max(1, Math.ceil((p / 100) * N)) - 1]);
  return { snap: { p50: at(50), p95: at(95), p99: at(99) }, bytes: values.length * 8 };
}
/**
 * Median wall time of {@link ROUNDS} calls after one warm-up, and what the last call returned.
 * @template {object} T
 * @param {() => T} fn
 * @returns {{ medianMs: number } & T}
 */
function measure(fn) {
  let out = fn(); // warm-up
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    out = fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { medianMs: /** @type {number} */ (times[Math.floor(ROUNDS / 2)]), ...out };
}

const hdrRes = measure(hdrRun);
const arrRes = measure(arrayRun);
const rows = [
  { name: "TimingHistogram (hdr-histogram-js, JS mode)", ...hdrRes },
  { name: "baseline: array + sort", ...arrRes },
];
const fmt = (/** @type {number} */ n) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });
console.log(`${N.toLocaleString("en-US")} observations + one snapshot, median of ${ROUNDS} runs, Node ${process.version}\n`);
console.log("| series | time (ms) | observations/s | memory per series | p99 (ms) | time vs baseline |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${fmt(r.medianMs)} | ${fmt(N / (r.medianMs / 1000))} | ${fmt(r.bytes / 1024)} KiB | ${r.snap.p99.toFixed(3)} | ${(r.medianMs / arrRes.medianMs).toFixed(2)}× |`,
  );
}
mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/observe.json", import.meta.url),
  JSON.stringify(
    {
      node: process.version,
      observations: N,
      rounds: ROUNDS,
      rows: rows.map(({ name, medianMs, bytes, snap }) => ({ name, medianMs, bytes, p99: snap.p99 })),
    },
    null,
    2,
  ),
);
