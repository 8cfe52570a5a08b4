// queryJobs on SQLite beyond the conformance group: corrupt rows, the one-scan path for many
// (status, handler) pairs, and that a (status, handler) filter is an index range scan.
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { JOB_STATUSES, seededRandom, type Job } from "@pyrexis/models";
import { tempDir } from "@pyrexis/test-utils";
import { matchesJobsQuery, normalizeJobsQuery } from "@pyrexis/storage/kit";
import { SqliteJobStore } from "../src/index.js";
import { MAX_MERGED_SCANS } from "../src/query.js";
import { job, recording } from "./helpers.js";

const open: SqliteJobStore[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function store(path: string): Promise<SqliteJobStore> {
  const s = await SqliteJobStore.open({ path });
  open.push(s);
  return s;
}

function variant(id: string, createdAt: number, handler: string, status: Job["status"]): Job {
  return { ...job(id, createdAt), handler, status };
}

describe("SqliteJobStore.queryJobs", () => {
  const tmp = tempDir("pyrexis-sqlite-query-");

  it("skips a corrupt row, reports it, and pages past it", async () => {
    const path = tmp.file("corrupt.db");
    const s = await store(path);
    await s.commit({ insert: [variant("a", 1, "h", "pending"), variant("bad", 2, "h", "pending"), variant("c", 3, "h", "pending")] });
    const raw = new Database(path);
    raw.prepare("UPDATE jobs SET data = ? WHERE id = 'bad'").run("{not json");
    raw.close();
    // The virtual handler column is NULL for a row that is not JSON, so a handler filter skips it
    // outright; a status-only filter reads it and reports it.
    expect((await s.queryJobs({ handler: "h" })).jobs.map((j) => j.id)).toEqual(["a", "c"]);
    const first = await s.queryJobs({ status: "pending", limit: 2 });
    expect(first.jobs.map((j) => j.id)).toEqual(["a"]);
    expect(s.corruptRecords.map((e) => e.jobId)).toEqual(["bad"]);
    expect((await s.queryJobs({ status: "pending", limit: 2, cursor: first.cursor })).jobs.map((j) => j.id)).toEqual(["c"]);
  });

  it(`more than ${MAX_MERGED_SCANS} (status, handler) pairs run as one scan and list the same jobs`, async () => {
    const s = await store(tmp.file("many.db"));
    const handlers = Array.from({ length: 12 }, (_, i) => `h${i}`);
    const jobs: Job[] = [];
    for (let i = 0; i < 300; i++) jobs.push(variant(`j${String(i).padStart(3, "0")}`, i % 37, handlers[i % 12]!, JOB_STATUSES[i % 7]!));
    await s.commit({ insert: jobs });
    const query = { status: [...JOB_STATUSES], handler: handlers.slice(0, 10), order: "desc" as const, limit: 25 };
    expect(JOB_STATUSES.length * 10).toBeGreaterThan(MAX_MERGED_SCANS);
    const normalized = normalizeJobsQuery(query);
    const expected = jobs
      .filter((j) => matchesJobsQuery(j, normalized))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
      .map((j) => j.id);
    const got: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.queryJobs({ ...query, cursor });
      got.push(...page.jobs.map((j) => j.id));
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(got).toEqual(expected);
  });

  it("listing by status alone merges the status's handlers in order, pages by cursor and skips a corrupt row", async () => {
    const path = tmp.file("by-status.db");
    const s = await store(path);
    // More handlers than MAX_MERGED_SCANS: status-only listing scans every (status, handler) pair.
    const handlers = Array.from({ length: MAX_MERGED_SCANS + 6 }, (_, i) => `h${i}`);
    const jobs: Job[] = [];
    for (let i = 0; i < 400; i++)
      jobs.push(variant(`j${String(i).padStart(3, "0")}`, i % 53, handlers[(i * 7) % handlers.length]!, JOB_STATUSES[i % 7]!));
    await s.commit({ insert: jobs });
    const raw = new Database(path);
    raw.prepare("UPDATE jobs SET data = ? WHERE id = 'j007'").run("{not json");
    raw.close();
    for (const order of ["asc", "desc"] as const) {
      const statuses: Job["status"][] = [JOB_STATUSES[0], JOB_STATUSES[3]];
      const expected = jobs
        .filter((j) => statuses.includes(j.status) && j.id !== "j007")
        .sort((a, b) => (order === "asc" ? 1 : -1) * (a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)))
        .map((j) => j.id);
      const listed: string[] = [];
      const queried: string[] = [];
      for (const [method, into] of [
        [(q: { cursor?: string | undefined }) => s.listJobs({ status: statuses, limit: 9, order, ...q }), listed],
        [(q: { cursor?: string | undefined }) => s.queryJobs({ status: statuses, limit: 9, order, ...q }), queried],
      ] as const) {
        let cursor: string | undefined;
        do {
          const page = await method({ cursor });
          into.push(...page.jobs.map((j) => j.id));
          cursor = page.cursor;
        } while (cursor !== undefined);
      }
      expect(listed).toEqual(expected);
      expect(queried).toEqual(expected);
    }
    expect(s.corruptRecords.map((e) => e.jobId)).toEqual(["j007"]);
  });

  it("a skewed status-only listing (one handler holds most jobs) pages the same jobs at every page size", async () => {
    const s = await store(tmp.file("skewed.db"));
    const random = seededRandom(16);
    const jobs: Job[] = [];
    for (let i = 0; i < 500; i++) {
      const handler = random() < 0.8 ? "big" : `small${Math.floor(random() * 9)}`;
      jobs.push(variant(`s${String(i).padStart(3, "0")}`, Math.floor(random() * 120), handler, random() < 0.7 ? "completed" : "failed"));
    }
    await s.commit({ insert: jobs });
    for (const limit of [1, 2, 7, 50, 600]) {
      for (const order of ["asc", "desc"] as const) {
        const expected = jobs
          .filter((j) => j.status === "completed")
          .sort((a, b) => (order === "asc" ? 1 : -1) * (a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)))
          .map((j) => j.id);
        const got: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await s.listJobs({ status: "completed", limit, order, cursor });
          expect(page.jobs.length).toBeLessThanOrEqual(limit);
          got.push(...page.jobs.map((j) => j.id));
          cursor = page.cursor;
        } while (cursor !== undefined);
        expect(got, `limit ${limit} ${order}`).toEqual(expected);
      }
    }
  });
});

describe("listing query plans (a regression here makes a listing walk or sort the table)", () => {
  const tmp = tempDir("pyrexis-sqlite-query-plan-");

  // Every listing shape, the index each of its statements must search, and whether a sort is
  // allowed (only the one-scan fallback for many explicit pairs sorts, as before migration 0008).
  const shapes: { name: string; run: (s: SqliteJobStore) => Promise<unknown>; plans: RegExp[] }[] = [
    {
      name: "listJobs by one status",
      run: (s) => s.listJobs({ status: "failed", limit: 5, order: "desc" }),
      plans: [/SEARCH jobs USING COVERING INDEX jobs_status_handler_created_id \(status=\?\)/],
    },
    {
      name: "listJobs by two statuses with a cursor",
      run: async (s) =>
        s.listJobs({
          status: ["failed", "pending"],
          limit: 5,
          cursor: (await s.listJobs({ status: ["failed", "pending"], limit: 5 })).cursor,
        }),
      plans: [
        /SEARCH jobs USING COVERING INDEX jobs_status_handler_created_id \(status=\? AND handler=\? AND \(created_at,id\)>\(\?,\?\)\)/,
      ],
    },
    { name: "listJobs unfiltered", run: (s) => s.listJobs({ limit: 5 }), plans: [/SCAN jobs USING INDEX jobs_created_id/] },
    {
      name: "queryJobs by status and handler",
      run: (s) => s.queryJobs({ status: "failed", handler: "h1", limit: 5 }),
      plans: [/SEARCH jobs USING INDEX jobs_status_handler_created_id \(status=\? AND handler=\?\)/],
    },
    {
      name: "queryJobs by status alone with a creation window",
      run: (s) => s.queryJobs({ status: "completed", createdFrom: 10, createdTo: 200, limit: 5 }),
      plans: [
        /SEARCH jobs USING COVERING INDEX jobs_status_handler_created_id \(status=\? AND handler=\? AND created_at>\? AND created_at<\?\)/,
      ],
    },
    {
      name: "queryJobs by handler",
      run: (s) => s.queryJobs({ handler: ["h1", "h2"], limit: 5 }),
      plans: [/SEARCH jobs USING COVERING INDEX jobs_handler_created_id \(handler=\?\)/],
    },
    { name: "countByStatus", run: (s) => s.countByStatus(), plans: [/SCAN jobs USING COVERING INDEX jobs_status_handler_created_id/] },
  ];

  it.each([false, true])("every listing statement searches its index, never the whole table (ANALYZE statistics: %s)", async (analyze) => {
    const path = tmp.file(`plans-${analyze}.db`);
    const seed = await SqliteJobStore.open({ path });
    // A large, skewed table: one common status and handler, a rare status, so statistics matter.
    const jobs: Job[] = [];
    for (let i = 0; i < 3000; i++)
      jobs.push(variant(`j${i}`, i, i % 50 === 0 ? `h${i % 7}` : "h0", i % 500 === 0 ? "failed" : "completed"));
    await seed.commit({ insert: jobs });
    await seed.close();
    if (analyze) {
      const raw = new Database(path);
      raw.exec("ANALYZE");
      raw.close();
    }
    const { db, runs } = recording(path);
    const s = await SqliteJobStore.open({ database: db });
    open.push(s);
    const explain = new Database(path, { readonly: true });
    try {
      for (const shape of shapes) {
        runs.length = 0;
        await shape.run(s);
        const selects = runs.filter((r) => /^\s*(with|select)\b/i.test(r.text) && /\bjobs\b/.test(r.text));
        expect(selects.length, shape.name).toBeGreaterThan(0);
        const plans = selects.map((r) =>
          (explain.prepare(`EXPLAIN QUERY PLAN ${r.text}`).all(...r.params) as { detail: string }[]).map((p) => p.detail).join(" | "),
        );
        const all = plans.join("\n");
        for (const expected of shape.plans) expect(all, shape.name).toMatch(expected);
        for (const plan of plans) {
          expect(plan, shape.name).not.toMatch(/SCAN jobs(?! USING)/);
          expect(plan, shape.name).not.toContain("TEMP B-TREE");
          // A status filter must never be a residual filter on a walk in creation order.
          if (/status/.test(plan) || shape.name.includes("status")) expect(plan, shape.name).not.toMatch(/jobs_created_id/);
        }
      }
    } finally {
      explain.close();
    }
  });
});
