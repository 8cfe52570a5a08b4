// Benchmark of MemoryJobStore against a named baseline: the obvious Map store that deep-copies
// with structuredClone on every write and read (what a first implementation usually does).
// Not a test. Run: pnpm --filter @pyrexis/storage build && pnpm --filter @pyrexis/storage bench
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { MemoryJobStore } from "../dist/index.js";
import { checkCommit } from "../dist/kit.js";

const N = 100_000;
const BATCH = 100;
const ROUNDS = 3;

/** @typedef {import("@pyrexis/models").Job} Job */
/** What the workloads use of a store. @typedef {Pick<import("../dist/index.js").JobStore, "commit" | "getJob" | "listJobs" | "close">} BenchStore */

/**
 * Baseline: Map + structuredClone in and out, same checks (checkCommit), sort on every listing.
 * @implements {BenchStore}
 */
class CloningMapStore {
  capabilities = {};
  /** @type {Map<string, Job>} */
  #jobs = new Map();
  /** @param {import("../dist/index.js").CommitBatch} batch */
  async commit(batch) {
    checkCommit(batch, { job: (id) => this.#jobs.get(id), hasResult: () => false });
    for (const j of batch.insert ?? []) this.#jobs.set(j.id, structuredClone(j));
    for (const u of batch.update ?? []) this.#jobs.set(u.job.id, structuredClone(u.job));
  }
  /** @param {string} id */
  async getJob(id) {
    const j = this.#jobs.get(id);
    return j === undefined ? undefined : structuredClone(j);
  }
  /** @param {import("../dist/index.js").ListJobsQuery} [query] */
  async listJobs({ limit = 100, cursor } = {}) {
    const all = [...this.#jobs.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    const start = cursor === undefined ? 0 : Number(cursor);
    const jobs = all.slice(start, start + limit).map((j) => structuredClone(j));
    return start + limit < all.length ? { jobs, cursor: String(start + limit) } : { jobs };
  }
  async close() {}
}

/** @returns {Job[]} */
function makeJobs() {
  return Array.from({ length: N }, (_, i) => ({
    id: `job-${String(i).padStart(7, "0")}`,
    handler: "infer",
    payload: { prompt: `summarize document ${i}`, model: "small", params: { temperature: 0.2, maxTokens: 256 } },
    priority: 5,
    mode: "async",
    maxAttempts: 3,
    backoff: { baseMs: 1000, maxMs: 300000, jitter: 0 },
    status: "pending",
    attempts: 0,
    createdAt: 1_700_000_000_000 + i,
    updatedAt: 1_700_000_000_000 + i,
    runAt: 1_700_000_000_000 + i,
    version: 0,
  }));
}

/** Milliseconds `fn` takes. @param {() => Promise<void>} fn */
async function time(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** @type {Record<string, () => BenchStore>} */
const subjects = {
  "baseline: Map + structuredClone": () => new CloningMapStore(),
  'MemoryJobStore "freeze"': () => new MemoryJobStore(),
  'MemoryJobStore "clone"': () => new MemoryJobStore({ ownership: "clone" }),
};

/** @type {Record<string, (store: BenchStore, jobs: Job[]) => Promise<void>>} */
const workloads = {
  [`insert ${N / 1000}k (batches of ${BATCH})`]: async (store, jobs) => {
    for (let i = 0; i < N; i += BATCH) await store.commit({ insert: jobs.slice(i, i + BATCH) });
  },
  [`update ${N / 1000}k (batches of ${BATCH})`]: async (store, jobs) => {
    for (let i = 0; i < N; i += BATCH) {
      /** @type {import("../dist/index.js").JobUpdate[]} */
      const update = [];
      for (let k = i; k < i + BATCH; k++) {
        const j = /** @type {Job} */ (jobs[k]);
        update.push({ job: { ...j, status: "running", attempts: 1, version: 1 }, expectedVersion: 0 });
      }
      await store.commit({ update });
    }
  },
  [`getJob ${N / 1000}k`]: async (store, jobs) => {
    for (const j of jobs) await store.getJob(j.id);
  },
  [`list all ${N / 1000}k (pages of 1000)`]: async (store) => {
    /** @type {string | undefined} */
    let cursor;
    do {
      const page = await store.listJobs({ limit: 1000, cursor });
      cursor = page.cursor;
    } while (cursor !== undefined);
  },
};

/** Best milliseconds by subject, then by workload. @type {Record<string, Record<string, number>>} */
const results = {};
for (const [name, make] of Object.entries(subjects)) {
  /** @type {Record<string, number>} */
  const best = {};
  results[name] = best;
  for (let round = 0; round < ROUNDS; round++) {
    const jobs = makeJobs();
    const store = make();
    for (const [w, fn] of Object.entries(workloads)) {
      const ms = await time(() => fn(store, jobs));
      best[w] = Math.min(best[w] ?? Infinity, ms);
    }
    await store.close();
  }
}

const names = Object.keys(subjects);
const baseline = /** @type {string} */ (names[0]);
const ms = (/** @type {string} */ subject, /** @type {string} */ workload) => /** @type {number} */ (results[subject]?.[workload]);
const lines = [
  `| workload | ${names.map((n) => `${n} (ms)`).join(" | ")} | ${names
    .slice(1)
    .map((n) => `speed-up ${n.replace("MemoryJobStore ", "")}`)
    .join(" | ")} |`,
  `|---|${names.map(() => "---:").join("|")}|${names
    .slice(1)
    .map(() => "---:")
    .join("|")}|`,
];
for (const w of Object.keys(workloads)) {
  const base = ms(baseline, w);
  lines.push(
    `| ${w} | ${names.map((n) => ms(n, w).toFixed(1)).join(" | ")} | ${names
      .slice(1)
      .map((n) => `${(base / ms(n, w)).toFixed(1)}×`)
      .join(" | ")} |`,
  );
}
const table = lines.join("\n");
console.log(`MemoryJobStore vs ${baseline} — best of ${ROUNDS}, Node ${process.version}, ${cpus().length} cores\n`);
console.log(table);
mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/memory-job-store.json", import.meta.url),
  JSON.stringify({ node: process.version, cores: cpus().length, n: N, batch: BATCH, rounds: ROUNDS, baseline, results }, null, 2),
);
