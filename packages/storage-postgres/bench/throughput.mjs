// Quick throughput of one store instance on the local PostgreSQL: submissions, claims and
// completions per second, in batches as an engine makes them. Prints a table; not a test.
//   node bench/throughput.mjs [jobs=20000] [batch=100]
// Reads PYREXIS_PG_URL or DATABASE_URL (default: the local server). Uses its own schema and drops it.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createJob, createResult, parseJobSpec, transition } from "@pyrexis/models";
import { PostgresJobStore } from "../dist/index.js";

const url = process.env.PYREXIS_PG_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const total = Number(process.argv[2] ?? 20_000);
const batch = Number(process.argv[3] ?? 100);
const schema = `pyx_bench_${randomBytes(4).toString("hex")}`;

const store = await PostgresJobStore.open({ connectionString: url }, { schema, listen: process.env.LISTEN !== "0" });
/** @type {{ step: string; jobs: number; seconds: string; "per second": number }[]} */
const rows = [];
/**
 * @param {string} name
 * @param {number} n
 * @param {() => Promise<void>} fn
 */
const time = async (name, n, fn) => {
  const t0 = performance.now();
  await fn();
  const s = (performance.now() - t0) / 1000;
  rows.push({ step: name, jobs: n, seconds: s.toFixed(2), "per second": Math.round(n / s) });
};

try {
  const now = Date.now();
  const jobs = Array.from({ length: total }, (_, i) => createJob(parseJobSpec({ handler: "work", payload: { i } }), now - 1000));
  await time(`submit (commit of ${batch} inserts)`, total, async () => {
    for (let i = 0; i < total; i += batch) await store.commit({ insert: jobs.slice(i, i + batch) });
  });
  /** @type {import("@pyrexis/storage").ClaimedJob[]} */
  const claimed = [];
  await time(`claim (limit ${batch})`, total, async () => {
    for (;;) {
      const got = await store.claim({ owner: "bench", limit: batch, leaseMs: 600_000 });
      if (got.length === 0) break;
      claimed.push(...got);
    }
  });
  await time(`renew (one call for all ${claimed.length})`, claimed.length, async () => {
    for (let i = 0; i < claimed.length; i += 10_000)
      await store.renewLeases({ owner: "bench", leaseMs: 600_000, leases: claimed.slice(i, i + 10_000).map((c) => c.lease) });
  });
  await time(`complete (commit of ${batch} updates + results)`, claimed.length, async () => {
    for (let i = 0; i < claimed.length; i += batch) {
      const part = claimed.slice(i, i + batch);
      const t = Date.now();
      await store.commit({
        update: part.map((c) => ({ job: transition(c.job, "completed", t), expectedVersion: c.lease.version })),
        results: part.map((c) =>
          createResult({
            jobId: c.job.id,
            status: "completed",
            output: null,
            startedAt: c.job.updatedAt,
            endedAt: t,
            attempts: c.job.attempts,
          }),
        ),
      });
    }
  });
  const singles = Math.min(2_000, total);
  const more = Array.from({ length: singles }, (_, i) => createJob(parseJobSpec({ handler: "work", payload: { i } }), now - 1000));
  await store.commit({ insert: more });
  await time("claim one at a time (limit 1)", singles, async () => {
    for (let i = 0; i < singles; i++) await store.claim({ owner: "bench", limit: 1, leaseMs: 600_000 });
  });
  console.log(`PostgresJobStore, one instance, ${total} jobs, batches of ${batch}`);
  console.table(rows);
  console.log(JSON.stringify(await store.countByStatus()));
} finally {
  await store.close();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`DROP SCHEMA "${schema}" CASCADE`);
  await c.end();
}
