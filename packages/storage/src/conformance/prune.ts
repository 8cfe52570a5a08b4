import assert from "node:assert/strict";
import { JOB_STATUSES, type Job, type JobStatus } from "@pyrexis/models";
import { hasClaims } from "../claims.js";
import type { JobStore } from "../job-store.js";
import { hasPrune, normalizePruneRequest, selectPrunable, type PruneJobStore, type PruneRequest } from "../prune.js";
import { BASE_TIME, makeJob, makeResult } from "./data.js";
import { plain, rejectsWith, snapshot, storeTest, type Harness, type JobStoreFactory, type Rng, type TestApi } from "./harness.js";

// The prune capability (deleting finished work), for stores that declare it: each case is
// skipped unless `capabilities.prune` is declared, and fails when it is declared without
// `pruneFinished`. `describeJobStore` runs these; `describePrune` runs them alone.

const FINISHED = ["completed", "failed", "cancelled"] as const;
const UNFINISHED: readonly JobStatus[] = JOB_STATUSES.filter((s) => !(FINISHED as readonly string[]).includes(s));

/** A seeded mix of jobs of every status, finished (`updatedAt`) at scattered times; terminal ones get a result. */
function mixedJobs(rng: Rng, count: number): { jobs: Job[]; results: ReturnType<typeof makeResult>[] } {
  const jobs: Job[] = [];
  const results: ReturnType<typeof makeResult>[] = [];
  for (let i = 0; i < count; i++) {
    const status = JOB_STATUSES[rng.int(JOB_STATUSES.length)]!;
    const job = makeJob({ status, attempts: status === "created" || status === "pending" ? 0 : 1 });
    // Timestamps unrelated to creation order, with ties, so finish order and list order differ.
    const finished = { ...job, updatedAt: job.createdAt + 1000 * rng.int(40) };
    jobs.push(finished);
    if ((FINISHED as readonly string[]).includes(status)) {
      results.push(makeResult(job.id, { status: status === "completed" ? "completed" : status === "failed" ? "failed" : "cancelled" }));
    }
  }
  return { jobs, results };
}

function prunable(store: JobStore): PruneJobStore {
  assert.ok(hasPrune(store));
  return store;
}

/** Calls `pruneFinished` until `more` is false (bounded), checking each batch's bound; returns every deleted id. */
async function pruneAll(store: PruneJobStore, request: PruneRequest): Promise<string[]> {
  const deleted: string[] = [];
  for (let calls = 0; calls < 10_000; calls++) {
    const report = await store.pruneFinished(request);
    assert.ok(report.deleted.length <= request.limit, `a call deleted ${report.deleted.length} jobs, above its limit ${request.limit}`);
    deleted.push(...report.deleted);
    if (!report.more) return deleted;
    assert.ok(report.deleted.length > 0, "a call that reports more must have deleted something");
  }
  throw new Error("pruneFinished never stopped reporting more");
}

async function allJobs(store: JobStore): Promise<Job[]> {
  const out: Job[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await store.listJobs({ limit: 1000, cursor });
    out.push(...page.jobs);
    if (page.cursor === undefined) return out;
    cursor = page.cursor;
  }
  throw new Error("listJobs never returned a last page");
}

async function assertGone(store: JobStore, ids: readonly string[], what: string): Promise<void> {
  for (const id of ids) {
    assert.equal(await store.getJob(id), undefined, `${what}: job ${id} must be deleted`);
    assert.equal(await store.getResult(id), undefined, `${what}: the result of ${id} must go with its job`);
  }
}

function countsOf(jobs: readonly Job[]): Record<JobStatus, number> {
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const j of jobs) counts[j.status]++;
  return counts;
}

/**
 * `pruneFinished`: only terminal jobs are deleted (old running, claimed, pending, retrying and
 * created jobs survive), results go with their jobs, every call is bounded by `limit`, the
 * selection matches {@link selectPrunable} over a seeded mix for status, age and keep-latest
 * requests, paging stays consistent while pruning, concurrent prunes (also through a second
 * handle) never fail or double-delete, bad requests reject with `ValidationError` and delete
 * nothing, and `StoreClosedError` after close.
 */
export function prune(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: (h: Harness) => Promise<void>): void =>
    storeTest(api, factory, seed, title, body, { capability: { name: "prune", present: hasPrune } });
  api.describe("prune", () => {
    t("deletes only finished jobs older than finishedBefore, with their results; unfinished jobs of any age stay", async ({ store }) => {
      const s = prunable(store);
      const old = BASE_TIME - 10_000_000;
      const finished = FINISHED.map((status) => makeJob({ status, attempts: 1, updatedAt: old }));
      const unfinished = UNFINISHED.map((status) =>
        makeJob({ status, attempts: status === "running" ? 1 : 0, updatedAt: old, runAt: old }),
      );
      const recent = makeJob({ status: "completed", attempts: 1, updatedAt: BASE_TIME + 5_000_000 });
      await s.commit({
        insert: [...finished, ...unfinished, recent],
        results: [...finished, recent].map((j) => makeResult(j.id, { status: j.status === "completed" ? "completed" : "failed" })),
      });
      const report = await s.pruneFinished({ finishedBefore: BASE_TIME, limit: 100 });
      assert.deepEqual([...report.deleted].sort(), finished.map((j) => j.id).sort(), "exactly the old finished jobs");
      assert.equal(report.more, false);
      await assertGone(s, report.deleted, "old finished");
      for (const j of [...unfinished, recent]) assert.deepStrictEqual(plain(await s.getJob(j.id)), plain(j), `${j.status} job kept`);
      assert.ok((await s.getResult(recent.id)) !== undefined, "a kept job keeps its result");
      assert.deepEqual(await s.countByStatus(), countsOf([...unfinished, recent]), "counts follow the deletes");
      const again = await s.pruneFinished({
        finishedBefore: Number.MAX_SAFE_INTEGER,
        status: ["completed", "failed", "cancelled"],
        limit: 100,
      });
      assert.deepEqual(again.deleted, [recent.id], "a later cutoff takes the recent finished job, and never an unfinished one");
    });

    t("a claimed running job with old timestamps is never deleted", async ({ store }) => {
      const s = prunable(store);
      const old = BASE_TIME - 10_000_000;
      const job = makeJob({ createdAt: old, updatedAt: old, runAt: old });
      await s.commit({ insert: [job] });
      if (hasClaims(s)) {
        const claimed = await s.claim({ owner: "engine-prune", limit: 1, leaseMs: 60_000 });
        assert.deepEqual(
          claimed.map((c) => c.job.id),
          [job.id],
        );
      } else {
        await s.commit({ update: [{ job: { ...job, status: "running", attempts: 1, version: 1 }, expectedVersion: 0 }] });
      }
      const report = await s.pruneFinished({ finishedBefore: Number.MAX_SAFE_INTEGER, keepLatest: 0, limit: 100 });
      assert.deepEqual(report, { deleted: [], more: false });
      assert.equal((await s.getJob(job.id))?.status, "running");
    });

    t(
      "every request over a seeded mix deletes exactly what selectPrunable selects, oldest finish first, in bounded batches",
      async ({ store, rng }) => {
        const s = prunable(store);
        const requests: Omit<PruneRequest, "limit">[] = [
          { status: "completed", finishedBefore: BASE_TIME + 15_000 },
          { keepLatest: 12 },
          { status: ["failed", "cancelled"], keepLatest: 3, finishedBefore: BASE_TIME + 30_000 },
          { status: "cancelled", keepLatest: 0 },
          { finishedBefore: BASE_TIME + 10_000_000 },
        ];
        for (const [i, base] of requests.entries()) {
          const { jobs, results } = mixedJobs(rng, 150);
          await s.commit({ insert: jobs, results });
          const before = await allJobs(s);
          const limit = 1 + rng.int(9);
          const request = { ...base, limit };
          const expected = selectPrunable(before, normalizePruneRequest(request)).map((j) => j.id);
          const first = await s.pruneFinished(request);
          assert.deepEqual(first.deleted, expected.slice(0, limit), `request ${i}: the first batch is the ${limit} oldest finished`);
          assert.equal(first.more, expected.length > limit, `request ${i}: more`);
          const rest = await pruneAll(s, request);
          assert.deepEqual([...first.deleted, ...rest], expected, `request ${i}: every batch together`);
          await assertGone(s, expected, `request ${i}`);
          const gone = new Set(expected);
          const survivors = before.filter((j) => !gone.has(j.id));
          assert.deepEqual(
            (await allJobs(s)).map((j) => j.id),
            survivors.map((j) => j.id),
            `request ${i}: the survivors, in list order`,
          );
          assert.deepEqual(await s.countByStatus(), countsOf(survivors), `request ${i}: counts`);
          assert.deepEqual(await s.pruneFinished(request), { deleted: [], more: false }, `request ${i}: nothing left to delete`);
        }
      },
    );

    t("limit bounds every call; more tells when to call again", async ({ store }) => {
      const s = prunable(store);
      const jobs = Array.from({ length: 25 }, (_, i) => makeJob({ status: "completed", attempts: 1, updatedAt: BASE_TIME + i }));
      await s.commit({ insert: jobs });
      const sizes: [number, boolean][] = [];
      for (let i = 0; i < 4; i++) {
        const r = await s.pruneFinished({ keepLatest: 0, limit: 10 });
        sizes.push([r.deleted.length, r.more]);
      }
      assert.deepEqual(sizes, [
        [10, true],
        [10, true],
        [5, false],
        [0, false],
      ]);
    });

    t("listJobs paging with pruning between pages returns every survivor exactly once", async ({ store, rng }) => {
      const s = prunable(store);
      const { jobs, results } = mixedJobs(rng, 200);
      await s.commit({ insert: jobs, results });
      for (const order of ["asc", "desc"] as const) {
        const seen: string[] = [];
        const deleted = new Set<string>();
        let cursor: string | undefined;
        for (let pages = 0; pages < 1000; pages++) {
          const page = await s.listJobs({ limit: 7, cursor, order });
          seen.push(...page.jobs.map((j) => j.id));
          const report = await s.pruneFinished({ keepLatest: 10 + rng.int(20), limit: 1 + rng.int(6) });
          for (const id of report.deleted) deleted.add(id);
          if (page.cursor === undefined) break;
          cursor = page.cursor;
        }
        assert.equal(new Set(seen).size, seen.length, `${order}: no job listed twice`);
        const survivors = (await allJobs(s)).map((j) => j.id);
        const listed = new Set(seen);
        for (const id of survivors) assert.ok(listed.has(id), `${order}: survivor ${id} was skipped while pruning`);
        for (const id of deleted) assert.ok(!survivors.includes(id), `${order}: ${id} was reported deleted but is listed`);
      }
    });

    t("concurrent prunes (also through a second handle) never fail and never delete a job twice", async (h) => {
      const s = prunable(h.store);
      const handles: PruneJobStore[] = [s];
      if (h.store.capabilities.shared === true) {
        const second = await h.openSecond(h.store);
        assert.ok(hasPrune(second), "a second handle on a prune store must have pruneFinished");
        handles.push(second);
      }
      const jobs = Array.from({ length: 120 }, (_, i) =>
        makeJob({ status: FINISHED[i % 3]!, attempts: 1, updatedAt: BASE_TIME + h.rng.int(1000) }),
      );
      await s.commit({ insert: jobs, results: jobs.map((j) => makeResult(j.id)) });
      const reports = await Promise.all(
        Array.from({ length: 8 }, (_, i) => pruneAll(handles[i % handles.length]!, { keepLatest: 20, limit: 1 + h.rng.int(15) })),
      );
      const deleted = reports.flat();
      assert.equal(new Set(deleted).size, deleted.length, "no id reported deleted twice");
      assert.equal(deleted.length, 100, "together they delete all but the newest 20");
      assert.equal((await allJobs(s)).length, 20);
    });

    t("a malformed request rejects with ValidationError and deletes nothing", async ({ store }) => {
      const s = prunable(store);
      const jobs = [
        makeJob({ status: "completed", attempts: 1, updatedAt: BASE_TIME - 1000 }),
        makeJob({ status: "running", attempts: 1, updatedAt: BASE_TIME - 1000 }),
      ];
      await s.commit({ insert: jobs, results: [makeResult(jobs[0]!.id)] });
      const before = await snapshot(
        s,
        jobs.map((j) => j.id),
      );
      const bad: unknown[] = [
        undefined,
        null,
        "all",
        [],
        { limit: 10 },
        { finishedBefore: BASE_TIME },
        { finishedBefore: BASE_TIME, limit: 0 },
        { finishedBefore: BASE_TIME, limit: 10_001 },
        { finishedBefore: BASE_TIME, limit: 1.5 },
        { finishedBefore: BASE_TIME, limit: "10" },
        { finishedBefore: Number.NaN, limit: 10 },
        { finishedBefore: Number.POSITIVE_INFINITY, limit: 10 },
        { finishedBefore: "yesterday", limit: 10 },
        { keepLatest: -1, limit: 10 },
        { keepLatest: 2.5, limit: 10 },
        { keepLatest: Number.NaN, limit: 10 },
        { status: "running", finishedBefore: BASE_TIME, limit: 10 },
        { status: ["completed", "pending"], finishedBefore: BASE_TIME, limit: 10 },
        { status: [], finishedBefore: BASE_TIME, limit: 10 },
        { status: "sleeping", finishedBefore: BASE_TIME, limit: 10 },
        { finishedBefore: BASE_TIME, limit: 10, olderThan: 5 },
      ];
      for (const request of bad) {
        await rejectsWith(
          s.pruneFinished(request as PruneRequest),
          "ValidationError",
          "VALIDATION",
          JSON.stringify(request) ?? "undefined",
        );
      }
      assert.deepStrictEqual(
        await snapshot(
          s,
          jobs.map((j) => j.id),
        ),
        before,
        "nothing deleted by a rejected request",
      );
    });

    t("after close, pruneFinished rejects with StoreClosedError", async ({ store }) => {
      const s = prunable(store);
      await s.close();
      await rejectsWith(s.pruneFinished({ keepLatest: 0, limit: 1 }), "StoreClosedError", "STORE_CLOSED");
    });
  });
}
