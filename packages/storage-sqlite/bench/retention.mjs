// Retention under steady churn: does the SQLite file stay bounded? Each round submits BATCH jobs,
// runs them (running → completed + result, as an engine writes them) and prunes down to the
// newest KEEP finished jobs (`pruneFinished({ keepLatest })`, in batches of PRUNE_BATCH), then
// measures the database file (and its WAL). Payloads and results vary in size (200–2,000 bytes)
// so freed pages do not fit new rows exactly. Three files in the same run:
//   - a new file (incremental auto-vacuum, what this version creates),
//   - a file created before retention (auto-vacuum off: freed pages are reused, never returned),
//   - no retention (nothing pruned: the peer every store had before, for scale).
// The target: after warm-up (the first WARMUP rounds, until the store has held KEEP finished jobs
// for a while), the database file never exceeds 1.2× its steady-state size, the median of its
// sizes after warm-up (measured after each round's prune).
// Needs `pnpm build` first. Prints a table and writes bench-results/retention.json.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { createJob, createResult, parseJobSpec, transition } from "@pyrexis/models";
import { SqliteJobStore } from "../dist/index.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const KEEP = Number(process.env.BENCH_KEEP ?? 5_000);
const PRUNE_BATCH = 500;
const WARMUP = Math.ceil((2 * KEEP) / BATCH);
const TARGET = 1.2;

/**
 * A seeded PRNG (mulberry32), so every run writes the same sizes.
 * @param {number} seed
 * @returns {() => number}
 */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @param {string} path
 * @returns {{ db: number, wal: number }}
 */
function size(path) {
  const wal = `${path}-wal`;
  return { db: statSync(path).size, wal: existsSync(wal) ? statSync(wal).size : 0 };
}

/** @typedef {{ sizes: { db: number, wal: number }[], pruneMs: number[], autoVacuum: string }} Run */

/**
 * One scenario: `ROUNDS` rounds of submit → complete → prune on `path`; returns sizes per round and prune timings.
 * @param {string} path
 * @param {{ prune: boolean }} options
 * @returns {Promise<Run>}
 */
async function churn(path, { prune }) {
  if (!existsSync(path)) await (await SqliteJobStore.open({ path })).close();
  const mode = autoVacuum(path);
  const random = rng(0x5eed);
  const text = (/** @type {number} */ n) => "x".repeat(n);
  const store = await SqliteJobStore.open({ path });
  const sizes = [];
  const pruneMs = [];
  let t = 1_700_000_000_000;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const pending = Array.from({ length: BATCH }, (_, i) =>
        createJob(
          parseJobSpec({ id: `r${round}-${i}`, handler: "embed", payload: { text: text(200 + Math.floor(random() * 1800)) } }),
          t++,
        ),
      );
      await store.commit({ insert: pending });
      const running = pending.map((j) => transition(j, "running", t, { attempts: 1 }));
      await store.commit({
        update: running.map((j, i) => ({ job: j, expectedVersion: /** @type {import("@pyrexis/models").Job} */ (pending[i]).version })),
      });
      const done = running.map((j) => transition(j, "completed", t++));
      const results = done.map((j) =>
        createResult({
          jobId: j.id,
          status: "completed",
          output: { vector: text(200 + Math.floor(random() * 1800)) },
          startedAt: t,
          endedAt: t,
          attempts: 1,
        }),
      );
      await store.commit({
        update: done.map((j, i) => ({ job: j, expectedVersion: /** @type {import("@pyrexis/models").Job} */ (running[i]).version })),
        results,
      });
      if (prune) {
        for (;;) {
          const started = performance.now();
          const { more } = await store.pruneFinished({ keepLatest: KEEP, limit: PRUNE_BATCH });
          pruneMs.push(performance.now() - started);
          if (!more) break;
        }
      }
      sizes.push(size(path));
    }
  } finally {
    await store.close();
  }
  return { sizes, pruneMs, autoVacuum: mode };
}

/** A store file as a version before retention made it: auto-vacuum off (a store cannot change that on open). */
/** @param {string} path */
async function legacyFile(path) {
  await (await SqliteJobStore.open({ path })).close();
  const db = new Database(path);
  db.exec("PRAGMA auto_vacuum = NONE; VACUUM;");
  db.close();
}

/**
 * @param {string} path
 * @returns {string}
 */
function autoVacuum(path) {
  const db = new Database(path, { readonly: true });
  try {
    return ["none", "full", "incremental"][Number(db.pragma("auto_vacuum", { simple: true }))] ?? "unknown";
  } finally {
    db.close();
  }
}

/**
 * @param {string} name
 * @param {Run} run
 */
function summarize(name, run) {
  const after = run.sizes.slice(WARMUP);
  const bySize = after.map((s) => s.db).sort((a, b) => a - b);
  const steady = bySize[Math.floor(bySize.length / 2)] ?? 0;
  const maxDb = Math.max(...after.map((s) => s.db));
  const maxTotal = Math.max(...after.map((s) => s.db + s.wal));
  const sorted = [...run.pruneMs].sort((a, b) => a - b);
  const pct = (/** @type {number} */ p) =>
    sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
  return {
    name,
    autoVacuum: run.autoVacuum,
    steadyBytes: steady,
    maxBytes: maxDb,
    finalBytes: run.sizes.at(-1)?.db ?? 0,
    ratio: maxDb / steady,
    maxWithWalBytes: maxTotal,
    pruneCalls: run.pruneMs.length,
    pruneP50Ms: pct(0.5),
    pruneP99Ms: pct(0.99),
    pruneMaxMs: sorted.at(-1) ?? 0,
  };
}

const dir = mkdtempSync(join(tmpdir(), "pyrexis-retention-bench-"));
const rows = [];
try {
  const fresh = join(dir, "new.db");
  rows.push(summarize("new file (incremental auto-vacuum)", await churn(fresh, { prune: true })));
  const legacy = join(dir, "legacy.db");
  await legacyFile(legacy);
  rows.push(summarize("older file (auto-vacuum off)", await churn(legacy, { prune: true })));
  rows.push(summarize("no retention", await churn(join(dir, "none.db"), { prune: false })));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const mb = (/** @type {number} */ n) => (n / 1_048_576).toFixed(2);
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}`;
console.log(
  `\nRetention under steady churn: ${ROUNDS} rounds of ${BATCH} jobs (submit → complete → prune to the newest ${KEEP.toLocaleString("en")}),` +
    ` ${(ROUNDS * BATCH).toLocaleString("en")} jobs in all; steady = median file size after round ${WARMUP}; ${machine}\n`,
);
console.log(
  "| file | auto_vacuum | steady (MB) | max after warm-up (MB) | final (MB) | max ÷ steady | max with WAL (MB) | prune calls | prune p50 / p99 / max (ms) |",
);
console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.autoVacuum} | ${mb(r.steadyBytes)} | ${mb(r.maxBytes)} | ${mb(r.finalBytes)} | ${r.ratio.toFixed(2)}× | ${mb(r.maxWithWalBytes)} | ${r.pruneCalls} | ` +
      (r.pruneCalls === 0 ? "– |" : `${r.pruneP50Ms.toFixed(1)} / ${r.pruneP99Ms.toFixed(1)} / ${r.pruneMaxMs.toFixed(1)} |`),
  );
}
const pruned = rows.filter((r) => r.pruneCalls > 0);
const met = pruned.every((r) => r.ratio <= TARGET);
console.log(`\nTarget: every pruned file within ${TARGET}× of its steady-state size — ${met ? "met" : "NOT met"}.`);
mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/retention.json", import.meta.url),
  JSON.stringify(
    { machine, date: new Date().toISOString(), rounds: ROUNDS, batch: BATCH, keep: KEEP, warmup: WARMUP, target: TARGET, met, rows },
    null,
    2,
  ),
);
console.log("wrote bench-results/retention.json");
