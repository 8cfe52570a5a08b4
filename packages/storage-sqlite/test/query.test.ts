// queryJobs on SQLite beyond the conformance group: corrupt rows, the one-scan path for many
// (status, handler) pairs, and that a (status, handler) filter is an index range scan.
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { JOB_STATUSES, type Job } from "@pyrexis/models";
import { tempDir } from "@pyrexis/test-utils";
import { matchesJobsQuery, normalizeJobsQuery } from "@pyrexis/storage/kit";
import { SqliteJobStore } from "../src/index.js";
import { MAX_MERGED_SCANS } from "../src/query.js";
import { job } from "./helpers.js";

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

  it("a status and handler filter is a range scan of the (status, handler, created_at, id) index", async () => {
    const path = tmp.file("plan.db");
    await store(path);
    const raw = new Database(path, { readonly: true });
    const plan = raw
      .prepare(
        "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE status = ? AND handler = ? AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT 51",
      )
      .all("failed", "email", 0, "") as { detail: string }[];
    raw.close();
    const text = plan.map((p) => p.detail).join("\n");
    expect(text).toMatch(/USING (COVERING )?INDEX jobs_status_handler_created_id/);
    expect(text).not.toContain("TEMP B-TREE");
  });
});
