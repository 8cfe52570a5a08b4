import assert from "node:assert/strict";
import { JOB_STATUSES, type Job } from "@pyrexis/models";
import { hasQueryJobs, matchesJobsQuery, normalizeJobsQuery, type QueryJobsQuery, type QueryJobStore } from "../query.js";
import { compareListPosition } from "../store-kit.js";
import { BASE_TIME, makeJob } from "./data.js";
import { rejectsWith, storeTest, type JobStoreFactory, type TestApi } from "./harness.js";

// The queryJobs capability, for stores that declare it: call `describeQueryJobs` explicitly
// (it is not part of `describeJobStore`, which every store must pass).

async function queryAll(store: QueryJobStore, query: Omit<QueryJobsQuery, "cursor">): Promise<Job[]> {
  const out: Job[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await store.queryJobs({ ...query, cursor });
    out.push(...page.jobs);
    if (page.cursor === undefined) return out;
    cursor = page.cursor;
  }
  throw new Error("queryJobs never returned a last page");
}

const ids = (jobs: readonly Job[]): string[] => jobs.map((j) => j.id);

function queryable(store: unknown): QueryJobStore {
  const s = store as QueryJobStore;
  assert.equal(s.capabilities.queryJobs, true, "the store must declare capabilities.queryJobs");
  assert.ok(hasQueryJobs(s), "a store that declares queryJobs must have a queryJobs method");
  return s;
}

/** Last errors of the mix: with a code, without one (matched by name), none. */
const ERRORS: (Job["lastError"] | undefined)[] = [
  { name: "TimeoutError", message: "too slow", code: "TIMEOUT" },
  { name: "PyrexisError", message: "rate limited", code: "E_RATE" },
  { name: "TypeError", message: "x is undefined" },
  undefined,
];

/** A seeded mix of jobs over every filtered field. */
function mixedJobs(rng: { int(n: number): number }, count: number): Job[] {
  const handlers = ["email", "resize", "report"];
  const modes = ["async", "thread", "process"];
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) {
    const lastError = ERRORS[rng.int(ERRORS.length)];
    jobs.push(
      makeJob({
        handler: handlers[rng.int(handlers.length)]!,
        mode: modes[rng.int(modes.length)]!,
        priority: rng.int(11),
        status: JOB_STATUSES[rng.int(JOB_STATUSES.length)]!,
        createdAt: BASE_TIME + rng.int(50),
        ...(lastError === undefined ? {} : { lastError }),
      }),
    );
  }
  return jobs;
}

/**
 * `queryJobs`: each filter alone and combined matches {@link matchesJobsQuery} over a seeded
 * mix, both orders and small pages (no gaps or repeats), and `ValidationError` for malformed
 * filters.
 */
export function queryJobs(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  api.describe("queryJobs", () => {
    t("declares the capability and lists what listJobs lists when no filter is given", async ({ store, rng }) => {
      const s = queryable(store);
      await s.commit({ insert: mixedJobs(rng, 30) });
      assert.deepStrictEqual(ids((await s.queryJobs()).jobs), ids((await s.listJobs()).jobs));
      assert.deepStrictEqual(ids((await s.queryJobs({ order: "desc" })).jobs), ids((await s.listJobs({ order: "desc" })).jobs));
    });

    t("every filter, alone and combined, lists exactly the matching jobs in order, across pages", async ({ store, rng }) => {
      const s = queryable(store);
      const jobs = mixedJobs(rng, 240);
      await s.commit({ insert: jobs });
      const queries: Omit<QueryJobsQuery, "cursor">[] = [
        { handler: "email" },
        { handler: ["email", "report"] },
        { mode: "thread" },
        { minPriority: 7 },
        { maxPriority: 2 },
        { minPriority: 3, maxPriority: 3 },
        { createdFrom: BASE_TIME + 10, createdTo: BASE_TIME + 20 },
        { status: ["failed", "cancelled"], handler: "resize", order: "desc" },
        { status: "pending", mode: ["async", "process"], minPriority: 4, createdFrom: BASE_TIME + 5, limit: 3 },
        { handler: "nobody" },
        { errorCode: "TIMEOUT" },
        { status: "failed", errorCode: ["E_RATE", "TypeError"], handler: ["email", "report"], order: "desc" },
        { errorCode: "TimeoutError" },
      ];
      for (const query of queries) {
        const normalized = normalizeJobsQuery(query);
        const expected = jobs.filter((j) => matchesJobsQuery(j, normalized)).sort(compareListPosition);
        if (query.order === "desc") expected.reverse();
        const label = JSON.stringify(query);
        assert.deepStrictEqual(ids(await queryAll(s, { ...query, limit: query.limit ?? 7 })), ids(expected), label);
        const first = await s.queryJobs(query);
        assert.deepStrictEqual(ids(first.jobs), ids(expected.slice(0, query.limit ?? 100)), `${label} first page`);
      }
    });

    t("a filtered page follows updates: a job that stops matching leaves it", async ({ store }) => {
      const s = queryable(store);
      const job = makeJob({ handler: "email" });
      await s.commit({ insert: [job] });
      assert.deepStrictEqual(ids((await s.queryJobs({ handler: "email", status: "pending" })).jobs), [job.id]);
      await s.commit({ update: [{ job: { ...job, status: "cancelled", version: 1 }, expectedVersion: 0 }] });
      assert.deepStrictEqual(ids((await s.queryJobs({ handler: "email", status: "pending" })).jobs), []);
      assert.deepStrictEqual(ids((await s.queryJobs({ handler: "email", status: "cancelled" })).jobs), [job.id]);
    });

    t("rejects malformed filters with ValidationError", async ({ store }) => {
      const s = queryable(store);
      const bad: unknown[] = [
        { handler: "" },
        { handler: [] },
        { mode: [1] },
        { minPriority: 11 },
        { maxPriority: -1 },
        { minPriority: 1.5 },
        { minPriority: 5, maxPriority: 4 },
        { createdFrom: Number.NaN },
        { createdTo: "yesterday" },
        { errorCode: "" },
        { errorCode: [] },
        { status: "sleeping" },
        { limit: 0 },
        { cursor: "nope" },
        { order: "sideways" },
        { colour: "red" },
        "all",
      ];
      for (const query of bad) {
        await rejectsWith(s.queryJobs(query as QueryJobsQuery), "ValidationError", "VALIDATION", JSON.stringify(query));
      }
    });
  });
}
