import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock, transition, type Job } from "@pyrexis/models";
import { tempDir, type TempDir } from "@pyrexis/test-utils";
import {
  PRUNE_DELETE_JOB_SQL,
  PRUNE_DELETE_RESULT_SQL,
  PRUNE_KEEP_BOUNDARY_SQL,
  PRUNE_SCAN_ALL_SQL,
  PRUNE_SCAN_SQL,
} from "../src/prune.js";
import { SqliteJobStore } from "../src/index.js";
import { hashFile, job, legacyStore, result, running } from "./helpers.js";

// SQLite specifics of the prune capability (the rules themselves are the conformance suite's):
// the query plans, the finish-time column on every write path, and giving space back.

let tmp: TempDir;
const open: SqliteJobStore[] = [];

async function openStore(path: string, clock?: ManualClock): Promise<SqliteJobStore> {
  const store = await SqliteJobStore.open({ path }, clock === undefined ? {} : { clock });
  open.push(store);
  return store;
}

beforeEach(() => {
  tmp = tempDir("pyrexis-sqlite-prune-");
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

function pragma(path: string, name: string): number {
  const raw = new Database(path, { readonly: true });
  try {
    return Number(raw.pragma(name, { simple: true }));
  } finally {
    raw.close();
  }
}

/** `count` jobs completed at `finishedAt + i`, each with a result of about `payloadBytes`. */
async function completedJobs(store: SqliteJobStore, prefix: string, count: number, finishedAt: number, payloadBytes = 100): Promise<Job[]> {
  const jobs = Array.from({ length: count }, (_, i) =>
    job(`${prefix}-${String(i).padStart(6, "0")}`, 1_000 + i, { payload: "x".repeat(payloadBytes) }),
  );
  await store.commit({ insert: jobs });
  const done = jobs.map((j) => transition(running(j), "completed", finishedAt + jobs.indexOf(j)));
  await store.commit({
    update: done.map((d) => ({ job: d, expectedVersion: 0 })),
    results: done.map((d) => result(d.id, "y".repeat(payloadBytes))),
  });
  return done;
}

describe("query plans (a regression here makes every prune scan the table)", () => {
  function plan(path: string, text: string, params: unknown): string {
    const raw = new Database(path, { readonly: true });
    try {
      return (raw.prepare(`EXPLAIN QUERY PLAN ${text}`).all(params) as { detail: string }[]).map((r) => r.detail).join(" | ");
    } finally {
      raw.close();
    }
  }

  it("the batch scan and the keep boundary are range scans of jobs_finished with no sort; deletes are by primary key", async () => {
    const path = tmp.file("plan.db");
    const store = await openStore(path);
    await completedJobs(store, "done", 200, 50_000);
    await store.commit({ insert: Array.from({ length: 300 }, (_, i) => job(`pending-${i}`, 5_000 + i)) });
    const raw = new Database(path);
    raw.exec("ANALYZE");
    raw.close();

    const statuses = '["completed","failed"]';
    const scan = plan(path, PRUNE_SCAN_SQL, { statuses, bound_at: 50_100, bound_id: "", limit: 11 });
    expect(scan).toMatch(/SEARCH jobs USING INDEX jobs_finished \(\(finished_at,id\)<\(\?,\?\)\)/);
    expect(scan).not.toMatch(/TEMP B-TREE/);
    const all = plan(path, PRUNE_SCAN_ALL_SQL, { statuses, limit: 11 });
    expect(all).toMatch(/jobs USING INDEX jobs_finished/);
    expect(all).not.toMatch(/TEMP B-TREE/);
    const boundary = plan(path, PRUNE_KEEP_BOUNDARY_SQL, { statuses, offset: 9 });
    expect(boundary).toMatch(/jobs USING INDEX jobs_finished/);
    expect(boundary).not.toMatch(/TEMP B-TREE/);
    expect(plan(path, PRUNE_DELETE_JOB_SQL, ["x"])).toMatch(/SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 \(id=\?\)/);
    expect(plan(path, PRUNE_DELETE_RESULT_SQL, ["x"])).toMatch(/SEARCH results USING INDEX sqlite_autoindex_results_1 \(job_id=\?\)/);
  });
});

describe("the finish time on every write path", () => {
  it("a job failed by reclaimExpired (attempts used up) is pruned by its finish time", async () => {
    const clock = new ManualClock(100_000);
    const store = await openStore(tmp.file("reclaim.db"), clock);
    const j = { ...job("one-shot", 1_000), maxAttempts: 1, status: "pending" as const, runAt: 1_000 };
    await store.commit({ insert: [j] });
    expect(await store.claim({ owner: "a", limit: 1, leaseMs: 1000 })).toHaveLength(1);
    clock.advance(1000);
    const { failed } = await store.reclaimExpired({ limit: 1 });
    expect(failed.map((f) => [f.id, f.updatedAt])).toEqual([["one-shot", 101_000]]);
    expect(await store.pruneFinished({ finishedBefore: 101_000, limit: 10 })).toEqual({ deleted: [], more: false });
    expect(await store.pruneFinished({ finishedBefore: 101_001, limit: 10 })).toEqual({ deleted: ["one-shot"], more: false });
    expect(await store.getResult("one-shot")).toBeUndefined();
  });

  it("a file of the previous schema is migrated: its finished jobs get their finish time and are pruned", async () => {
    const path = tmp.file("v4.db");
    const old = transition(running(job("old-done", 1_000)), "completed", 7_000);
    const waiting = job("old-pending", 1_001);
    await legacyStore(path, "0004_query_indexes", [old, waiting]);
    const store = await openStore(path);
    expect(await store.pruneFinished({ finishedBefore: 7_000, limit: 10 })).toEqual({ deleted: [], more: false });
    expect(await store.pruneFinished({ finishedBefore: 7_001, limit: 10 })).toEqual({ deleted: ["old-done"], more: false });
    expect((await store.getJob("old-pending"))?.status).toBe("pending");
  });
});

describe("space", () => {
  it("a new file is in incremental auto-vacuum mode and shrinks after a large prune", async () => {
    const path = tmp.file("shrink.db");
    const store = await openStore(path);
    expect(pragma(path, "auto_vacuum")).toBe(2);
    await completedJobs(store, "big", 2000, 10_000, 2000);
    const raw = new Database(path);
    raw.pragma("wal_checkpoint(TRUNCATE)");
    raw.close();
    const pagesBefore = pragma(path, "page_count");
    for (;;) if (!(await store.pruneFinished({ keepLatest: 100, limit: 500 })).more) break;
    const pagesAfter = pragma(path, "page_count");
    expect(pagesAfter).toBeLessThan(pagesBefore / 4);
    // What stays free is at most a quarter of the file, kept for the next inserts to reuse.
    expect(pragma(path, "freelist_count")).toBeLessThanOrEqual(Math.ceil(pagesAfter * 0.25));
    expect(pragma(path, "freelist_count")).toBeGreaterThan(0);
  });

  it("an old file (auto-vacuum off) reuses freed pages, and vacuum() converts it so later prunes shrink it", async () => {
    const path = tmp.file("legacy.db");
    await legacyStore(path, "0004_query_indexes", []);
    expect(pragma(path, "auto_vacuum")).toBe(0);
    const store = await openStore(path);
    expect(pragma(path, "auto_vacuum")).toBe(0);
    await completedJobs(store, "first", 1000, 10_000, 2000);
    for (;;) if (!(await store.pruneFinished({ keepLatest: 0, limit: 1000 })).more) break;
    const pages = pragma(path, "page_count");
    expect(pragma(path, "freelist_count")).toBeGreaterThan(pages / 2);
    // The next jobs fill the free pages instead of growing the file.
    await completedJobs(store, "second", 1000, 20_000, 2000);
    expect(pragma(path, "page_count")).toBeLessThanOrEqual(Math.ceil(pages * 1.05));
    for (;;) if (!(await store.pruneFinished({ keepLatest: 0, limit: 1000 })).more) break;
    const { pagesBefore, pagesAfter } = await store.vacuum();
    expect(pagesBefore).toBeGreaterThan(pagesAfter * 4);
    expect(pragma(path, "auto_vacuum")).toBe(2);
    await completedJobs(store, "third", 500, 30_000, 2000);
    const grown = pragma(path, "page_count");
    for (;;) if (!(await store.pruneFinished({ keepLatest: 0, limit: 1000 })).more) break;
    expect(pragma(path, "page_count")).toBeLessThan(grown / 4);
    expect((await store.listJobs()).jobs).toEqual([]);
  });

  it("setting the mode touches only a new file: reopening an existing store leaves its bytes unchanged", async () => {
    const path = tmp.file("reopen.db");
    await (await SqliteJobStore.open({ path })).close();
    const before = hashFile(path);
    await (await SqliteJobStore.open({ path })).close();
    expect(hashFile(path)).toBe(before);
    expect(pragma(path, "auto_vacuum")).toBe(2);
  });

  it("vacuum() after close rejects with StoreClosedError", async () => {
    const store = await openStore(tmp.file("closed.db"));
    await store.close();
    await expect(store.vacuum()).rejects.toMatchObject({ name: "StoreClosedError" });
  });
});
