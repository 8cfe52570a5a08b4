// A store without queryJobs: queryJobsPage filters listJobs pages itself, pages never exceed the
// limit, cursors are the store's own, and a sparse filter stops at the read budget (partial).
import { describe, expect, it } from "vitest";
import { createJob, parseJobSpec, type Job, type JobSpecInput } from "@pyrexis/models";
import { FALLBACK_SCAN_BUDGET, MemoryJobStore, queryJobsPage, type JobStore } from "../src/index.js";

let clock = 1_000;
function pending(spec: Partial<JobSpecInput> = {}): Job {
  return createJob(parseJobSpec({ handler: "work", payload: { n: clock }, ...spec }), clock++);
}

/** Only the JobStore contract: no queryJobs, no claims. */
function contractOnly(inner: MemoryJobStore): JobStore {
  return {
    capabilities: {},
    commit: (b) => inner.commit(b),
    getJob: (id) => inner.getJob(id),
    getResult: (id) => inner.getResult(id),
    listJobs: (q) => inner.listJobs(q),
    countByStatus: () => inner.countByStatus(),
    close: () => inner.close(),
  };
}

describe("the listJobs fallback", () => {
  it("lists exactly what queryJobs lists, page by page, never more than the limit", async () => {
    const inner = new MemoryJobStore();
    const jobs: Job[] = [];
    for (let i = 0; i < 300; i++)
      jobs.push(pending({ handler: ["a", "b", "c"][i % 3]!, priority: i % 11, mode: i % 4 === 0 ? "thread" : "async" }));
    await inner.commit({ insert: jobs });
    const plain = contractOnly(inner);
    for (const query of [{ handler: "b" }, { handler: ["a", "c"], minPriority: 6 }, { mode: "thread", status: "pending" as const }, {}]) {
      for (const order of ["asc", "desc"] as const) {
        const via: string[][] = [];
        for (const store of [inner, plain]) {
          const ids: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await queryJobsPage(store, { ...query, order, limit: 9, cursor });
            expect(page.jobs.length).toBeLessThanOrEqual(9);
            expect(page.via).toBe(store === inner ? "queryJobs" : "listJobs");
            ids.push(...page.jobs.map((j) => j.id));
            cursor = page.cursor;
          } while (cursor !== undefined);
          via.push(ids);
        }
        expect(via[1], JSON.stringify(query)).toEqual(via[0]);
        expect(via[0]!.length).toBeGreaterThan(0);
      }
    }
  });

  it("a sparse filter stops at the read budget with a partial page and a cursor to read on", async () => {
    const inner = new MemoryJobStore();
    const jobs: Job[] = [];
    for (let i = 0; i < FALLBACK_SCAN_BUDGET + 50; i++)
      jobs.push(pending({ handler: i === FALLBACK_SCAN_BUDGET + 10 ? "rare" : "common" }));
    await inner.commit({ insert: jobs });
    const first = await queryJobsPage(contractOnly(inner), { handler: "rare", order: "asc", limit: 10 });
    expect(first).toMatchObject({ jobs: [], partial: true });
    expect(first.cursor).toBeDefined();
    const second = await queryJobsPage(contractOnly(inner), { handler: "rare", order: "asc", limit: 10, cursor: first.cursor });
    expect(second.jobs.map((j) => j.handler)).toEqual(["rare"]);
    expect(second.cursor).toBeUndefined();
  });
});
