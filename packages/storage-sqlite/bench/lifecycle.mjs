// Lifecycle throughput of SqliteJobStore vs raw better-sqlite3 prepared statements doing the same
// writes (same schema, same JSON) in the same run. Each job: insert → running → completed + result,
// three transactions per batch. Temp files, WAL + synchronous=NORMAL. Needs `pnpm build` first.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { createJob, createResult, parseJobSpec, transition } from "@pyrexis/models";
import { SqliteJobStore } from "../dist/index.js";

const ALL_SCENARIOS = [
  { batch: 1, jobs: 3_000 },
  { batch: 100, jobs: 30_000 },
  { batch: 1_000, jobs: 30_000 },
];
// BENCH_BATCHES=100,1000 runs only those scenarios.
const BATCHES = process.env.BENCH_BATCHES?.split(",").map(Number);
const SCENARIOS = BATCHES ? ALL_SCENARIOS.filter((s) => BATCHES.includes(s.batch)) : ALL_SCENARIOS;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const AGING_RATE = 0.1;

/** @typedef {import("@pyrexis/models").Job} Job */
/** @typedef {{ pending: Job, running: Job, completed: Job, result: import("@pyrexis/models").Result }} Lifecycle */

/**
 * `n` jobs, each with its three records and result, ids tagged so no two runs share a file's ids.
 * @param {number} n
 * @param {string} tag
 * @returns {Lifecycle[]}
 */
function makeLifecycles(n, tag) {
  return Array.from({ length: n }, (_, i) => {
    const pending = createJob(
      parseJobSpec({ id: `${tag}-${i}`, handler: "infer", payload: { prompt: `item ${i}`, tokens: 256 } }),
      1_700_000_000_000 + i,
    );
    const running = transition(pending, "running", pending.createdAt + 10, { attempts: 1 });
    const completed = transition(running, "completed", pending.createdAt + 20);
    const result = createResult({
      jobId: pending.id,
      status: "completed",
      output: { text: "ok" },
      startedAt: running.updatedAt,
      endedAt: completed.updatedAt,
      attempts: 1,
    });
    return { pending, running, completed, result };
  });
}

/**
 * @template T
 * @param {T[]} list
 * @param {number} size
 * @returns {T[][]}
 */
function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * Seconds for `lifecycles` through SqliteJobStore, `batch` jobs per commit.
 * @param {string} path
 * @param {Lifecycle[]} lifecycles
 * @param {number} batch
 */
async function runStore(path, lifecycles, batch) {
  const store = await SqliteJobStore.open({ path }, { agingRate: AGING_RATE });
  const start = process.hrtime.bigint();
  for (const group of chunks(lifecycles, batch)) {
    await store.commit({ insert: group.map((l) => l.pending) });
    await store.commit({ update: group.map((l) => ({ job: l.running, expectedVersion: 0 })) });
    await store.commit({ update: group.map((l) => ({ job: l.completed, expectedVersion: 1 })), results: group.map((l) => l.result) });
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await store.close();
  return seconds;
}

/**
 * Seconds for the same writes with raw better-sqlite3 prepared statements.
 * @param {string} path
 * @param {Lifecycle[]} lifecycles
 * @param {number} batch
 */
async function runRaw(path, lifecycles, batch) {
  // Same schema: let the store create it, then write with hand-prepared positional statements.
  await (await SqliteJobStore.open({ path })).close();
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  const insert = db.prepare(
    "INSERT INTO jobs (id, created_at, status, priority, run_at, version, aging_key, data, mode, handler) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
  );
  const update = db.prepare(
    "UPDATE jobs SET status = ?, priority = ?, run_at = ?, version = ?, aging_key = ?, data = ?, mode = ?, handler = ?," +
      " lease_owner = CASE WHEN ? THEN lease_owner END, lease_expires_at = CASE WHEN ? THEN lease_expires_at END" +
      " WHERE id = ? AND version = ? AND created_at = ?",
  );
  const insertResult = db.prepare(
    "INSERT INTO results (job_id, data) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?) ON CONFLICT (job_id) DO NOTHING",
  );
  const key = (/** @type {Job} */ j) => j.priority - (AGING_RATE * j.runAt) / 1000;
  const fail = (/** @type {string} */ what) => {
    throw new Error(what);
  };
  const ins = db.transaction((/** @type {Job[]} */ jobs) => {
    for (const j of jobs)
      if (
        insert.run(j.id, j.createdAt, j.status, j.priority, j.runAt, j.version, key(j), JSON.stringify(j), j.mode, j.handler).changes === 0
      )
        fail("dup");
  });
  const upd = db.transaction(
    (/** @type {{ job: Job, expectedVersion: number }[]} */ updates, /** @type {Lifecycle["result"][]} */ results) => {
      for (const { job: j, expectedVersion } of updates) {
        if (
          update.run(
            j.status,
            j.priority,
            j.runAt,
            j.version,
            key(j),
            JSON.stringify(j),
            j.mode,
            j.handler,
            j.status === "running" ? 1 : 0,
            j.status === "running" ? 1 : 0,
            j.id,
            expectedVersion,
            j.createdAt,
          ).changes === 0
        )
          fail("stale");
      }
      for (const r of results) if (insertResult.run(r.jobId, JSON.stringify(r), r.jobId).changes === 0) fail("result");
    },
  );
  const start = process.hrtime.bigint();
  for (const group of chunks(lifecycles, batch)) {
    ins.immediate(group.map((l) => l.pending));
    upd.immediate(
      group.map((l) => ({ job: l.running, expectedVersion: 0 })),
      [],
    );
    upd.immediate(
      group.map((l) => ({ job: l.completed, expectedVersion: 1 })),
      group.map((l) => l.result),
    );
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  db.close();
  return seconds;
}

const dir = mkdtempSync(join(tmpdir(), "pyrexis-bench-"));
/** @type {{ batch: number, jobs: number, rawJobsPerSec: number, storeJobsPerSec: number, rawOverStore: number }[]} */
const rows = [];
/** @type {{ jobs: number, rawJobsPerSec: number, fullJobsPerSec: number, shapeJobsPerSec: number, rawOverFull: number, rawOverShape: number } | undefined} */
let reads;
try {
  let file = 0;
  for (const { batch, jobs } of SCENARIOS) {
    const best = { raw: Infinity, store: Infinity };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate who goes first so neither always gets the warmer cache.
      /** @type {("raw" | "store")[]} */
      const order = round % 2 === 0 ? ["raw", "store"] : ["store", "raw"];
      for (const who of order) {
        const lifecycles = makeLifecycles(jobs, `${who}${round}`);
        const path = join(dir, `bench-${file++}.db`);
        const seconds = who === "raw" ? await runRaw(path, lifecycles, batch) : await runStore(path, lifecycles, batch);
        best[who] = Math.min(best[who], seconds);
      }
    }
    const raw = jobs / best.raw;
    const store = jobs / best.store;
    rows.push({
      batch,
      jobs,
      rawJobsPerSec: Math.round(raw),
      storeJobsPerSec: Math.round(store),
      rawOverStore: Number((raw / store).toFixed(2)),
    });
  }
  // Reads: what validating every record with zod (parseJob) costs over JSON.parse alone.
  const path = join(dir, "reads.db");
  const seed = await SqliteJobStore.open({ path });
  const lifecycles = makeLifecycles(10_000, "read");
  for (const group of chunks(lifecycles, 1_000)) await seed.commit({ insert: group.map((l) => l.pending) });
  await seed.close();
  const best = { raw: Infinity, store: Infinity, shape: Infinity };
  for (let round = 0; round < ROUNDS; round++) {
    let start;
    for (const readValidation of /** @type {const} */ (["full", "shape"])) {
      const store = await SqliteJobStore.open({ path }, { readValidation });
      start = process.hrtime.bigint();
      let cursor;
      let seen = 0;
      do {
        const page = await store.listJobs({ limit: 1_000, cursor });
        seen += page.jobs.length;
        cursor = page.cursor;
      } while (cursor !== undefined);
      const key = readValidation === "full" ? "store" : "shape";
      best[key] = Math.min(best[key], Number(process.hrtime.bigint() - start) / 1e9);
      await store.close();
      if (seen !== 10_000) throw new Error(`listed ${seen}`);
    }
    const db = new Database(path, { readonly: true });
    /** @type {import("better-sqlite3").Statement<[number, string], { id: string, created_at: number, data: string }>} */
    const page = db.prepare("SELECT id, created_at, data FROM jobs WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT 1001");
    start = process.hrtime.bigint();
    /** @type {[number, string]} */
    let after = [-1, ""];
    for (;;) {
      const got = page.all(after[0], after[1]);
      const jobs = got.slice(0, 1_000).map((r) => JSON.parse(r.data));
      if (got.length <= 1_000) break;
      const last = /** @type {{ id: string, created_at: number }} */ (got[999]);
      after = [last.created_at, last.id];
      void jobs;
    }
    best.raw = Math.min(best.raw, Number(process.hrtime.bigint() - start) / 1e9);
    db.close();
  }
  const rate = (/** @type {number} */ seconds) => Math.round(10_000 / seconds);
  reads = {
    jobs: 10_000,
    rawJobsPerSec: rate(best.raw),
    fullJobsPerSec: rate(best.store),
    shapeJobsPerSec: rate(best.shape),
    rawOverFull: Number((best.store / best.raw).toFixed(2)),
    rawOverShape: Number((best.shape / best.raw).toFixed(2)),
  };
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}`;
console.log(`\nLifecycle throughput (insert → running → completed + result; best of ${ROUNDS}); ${machine}\n`);
console.log("| jobs per commit | jobs | raw better-sqlite3 (jobs/s) | SqliteJobStore (jobs/s) | raw ÷ store |");
console.log("|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.batch} | ${r.jobs.toLocaleString("en")} | ${r.rawJobsPerSec.toLocaleString("en")} | ${r.storeJobsPerSec.toLocaleString("en")} | ${r.rawOverStore.toFixed(2)}× |`,
  );
}
if (!reads) throw new Error("the read benchmark did not run");
console.log(`\nListing 10,000 jobs in pages of 1,000 (best of ${ROUNDS})\n`);
console.log("| reader | jobs/s | raw ÷ reader |");
console.log("|---|---:|---:|");
console.log(`| raw SELECT + JSON.parse | ${reads.rawJobsPerSec.toLocaleString("en")} | 1.00× |`);
console.log(
  `| SqliteJobStore, readValidation "full" (zod) | ${reads.fullJobsPerSec.toLocaleString("en")} | ${reads.rawOverFull.toFixed(2)}× |`,
);
console.log(
  `| SqliteJobStore, readValidation "shape" | ${reads.shapeJobsPerSec.toLocaleString("en")} | ${reads.rawOverShape.toFixed(2)}× |`,
);
mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/lifecycle.json", import.meta.url),
  JSON.stringify({ machine, date: new Date().toISOString(), rounds: ROUNDS, rows, reads }, null, 2),
);
console.log("\nwrote bench-results/lifecycle.json");
