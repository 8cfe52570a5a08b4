// The jobs list on a large SQLite store, end to end: GET /api/jobs over real HTTP against a
// dashboard on a file of BENCH_JOBS jobs (default 1,000,000), one page of 50 newest first, for
// each filter an operator uses; p50/p95/max of BENCH_RUNS requests each. Prints a table and
// writes bench-results/dashboard-list.json. A benchmark, not a test: it asserts nothing.
// Needs `pnpm build` first. The seeded file is removed at the end.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createJob, parseJobSpec, seededRandom, transition } from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { createDashboard } from "../dist/index.js";

const JOBS = Number(process.env.BENCH_JOBS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const BATCH = 10_000;
const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);
const SPAN = 30 * DAY;

/** The models' seeded generator, so every run seeds the same store. */
const rng = seededRandom;

/**
 * @template {string} T
 * @param {() => number} r
 * @param {readonly (readonly [T, number])[]} weighted
 * @returns {T}
 */
function pick(r, weighted) {
  let x = r();
  for (const [v, w] of weighted) if ((x -= w) < 0) return v;
  return /** @type {readonly [T, number]} */ (weighted[weighted.length - 1])[0];
}

// 20 handlers with a skew (the first takes a third), plus one rare one (0.1 %).
/** @type {(readonly [string, number])[]} */
const HANDLERS = [...Array.from({ length: 20 }, (_, i) => /** @type {const} */ ([`h${i}`, i === 0 ? 0.33 : 0.666 / 19])), ["rare", 0.001]];
/** @type {(readonly [string, number])[]} */
const MODES = [
  ["async", 0.7],
  ["thread", 0.2],
  ["process", 0.1],
];
/** @type {(readonly [import("@pyrexis/models").JobStatus, number])[]} */
const STATUSES = [
  ["completed", 0.85],
  ["failed", 0.05],
  ["cancelled", 0.02],
  ["pending", 0.05],
  ["retrying", 0.02],
  ["running", 0.01],
];

/** @param {SqliteJobStore} store */
async function seed(store) {
  const r = rng(42);
  const started = performance.now();
  for (let done = 0; done < JOBS; done += BATCH) {
    /** @type {import("@pyrexis/models").Job[]} */
    const insert = [];
    for (let i = done; i < Math.min(JOBS, done + BATCH); i++) {
      const createdAt = START + Math.floor((i / JOBS) * SPAN);
      const spec = parseJobSpec({
        id: `job-${String(i).padStart(8, "0")}`,
        handler: pick(r, HANDLERS),
        mode: pick(r, MODES),
        priority: Math.floor(r() * 11),
        payload: { order: i, customer: `c${Math.floor(r() * 50_000)}`, items: [1, 2, 3] },
      });
      const status = pick(r, STATUSES);
      let job = createJob(spec, createdAt);
      if (status !== "pending") job = transition(job, "running", createdAt + 5, { attempts: 1 });
      if (status !== "pending" && status !== "running") job = transition(job, status, createdAt + 50);
      insert.push(job);
    }
    await store.commit({ insert });
  }
  return performance.now() - started;
}

const day = (/** @type {number} */ n) => START + n * DAY;
const QUERIES = [
  ["no filter", ""],
  ["no filter, 40 pages deep", "DEEP"],
  ["status=failed", "status=failed"],
  ["status=pending,retrying", "status=pending,retrying"],
  ["handler=h1", "handler=h1"],
  ["handler=rare", "handler=rare"],
  ["status=failed, handler=rare", "status=failed&handler=rare"],
  ["status=failed, 3 handlers", "status=failed&handler=h0,h1,h2"],
  ["mode=thread, priority>=8", "mode=thread&minPriority=8"],
  ["created in one day", `createdFrom=${day(10)}&createdTo=${day(11)}`],
  ["completed, h3, one day", `status=completed&handler=h3&createdFrom=${day(20)}&createdTo=${day(21)}`],
  ["failed, process, priority 10 (sparse)", "status=failed&mode=process&minPriority=10"],
];

/** @param {number[]} sorted @param {number} p @returns {number} */
function percentile(sorted, p) {
  return /** @type {number} */ (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
}

/** @param {string} url @returns {Promise<{ jobs: unknown[], cursor?: string }>} */
async function get(url) {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return /** @type {Promise<{ jobs: unknown[], cursor?: string }>} */ (res.json());
}

const dir = mkdtempSync(join(tmpdir(), "pyrexis-dashboard-bench-"));
try {
  const store = await SqliteJobStore.open({ path: join(dir, "jobs.db") });
  console.log(`seeding ${JOBS.toLocaleString("en")} jobs…`);
  const seedMs = await seed(store);
  console.log(`seeded in ${(seedMs / 1000).toFixed(1)} s (${Math.round(JOBS / (seedMs / 1000)).toLocaleString("en")} jobs/s)`);
  const dashboard = createDashboard({ store, port: 0, sampleIntervalMs: 60_000 });
  const base = await dashboard.listen();
  // A cursor 40 pages into the unfiltered listing, for the deep-page row.
  /** @type {string | undefined} */
  let deep;
  for (let i = 0; i < 40; i++) deep = (await get(`${base}api/jobs?limit=50${deep ? `&cursor=${encodeURIComponent(deep)}` : ""}`)).cursor;
  /** @type {{ query: string, jobs: number, p50: number, p95: number, max: number }[]} */
  const rows = [];
  for (const [name, query] of QUERIES) {
    const q = query === "DEEP" ? `cursor=${encodeURIComponent(deep ?? "")}` : query;
    const url = `${base}api/jobs?limit=50${q ? `&${q}` : ""}`;
    let jobs = 0;
    for (let i = 0; i < 3; i++) jobs = (await get(url)).jobs.length;
    /** @type {number[]} */
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await get(url);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    rows.push({ query: String(name), jobs, p50: percentile(times, 50), p95: percentile(times, 95), max: percentile(times, 100) });
  }
  /** @type {number[]} */
  const countTimes = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await get(`${base}api/overview`);
    countTimes.push(performance.now() - t);
  }
  countTimes.sort((a, b) => a - b);
  await dashboard.close();
  await store.close();

  const f = (/** @type {number} */ ms) => ms.toFixed(1);
  console.log(`\nGET /api/jobs?limit=50 (newest first) on ${JOBS.toLocaleString("en")} SQLite jobs, ${RUNS} requests each\n`);
  console.log("| query | jobs on the page | p50 ms | p95 ms | max ms |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.query} | ${r.jobs} | ${f(r.p50)} | ${f(r.p95)} | ${f(r.max)} |`);
  console.log(`\nGET /api/overview (countByStatus): p50 ${f(percentile(countTimes, 50))} ms, max ${f(percentile(countTimes, 100))} ms`);
  const out = new URL("../bench-results/", import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(
    new URL("dashboard-list.json", out),
    `${JSON.stringify({ jobs: JOBS, runs: RUNS, seedMs, cpus: cpus().length, node: process.version, rows, overview: { p50: percentile(countTimes, 50) } }, null, 2)}\n`,
  );
  console.log("\nwrote bench-results/dashboard-list.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
