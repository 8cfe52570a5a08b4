import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job, JobStatus } from "@pyrexis/models";
import type { PostgresJobStore } from "../src/index.js";
import { buildStatements, type Statements } from "../src/statements.js";
import { admin, dropSchemas, freshSchema, job, openStore } from "./helpers.js";

// The plan of every hot statement, so that a regression (a dropped or unusable index, a query
// rewritten into a sequential scan) fails here rather than in production. The table holds a
// realistic mix: mostly finished jobs, a few due, a few running.

let store: PostgresJobStore;
let schema: string;
let s: Statements;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

async function plan(text: string, params: unknown[]): Promise<{ indexes: string[]; seqScans: string[] }> {
  const [row] = await admin<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${text}`, params);
  const all = nodes(row!["QUERY PLAN"][0].Plan);
  return {
    indexes: all.flatMap((n) => (n["Index Name"] === undefined ? [] : [n["Index Name"]])),
    seqScans: all.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "jobs").map((n) => n["Node Type"]),
  };
}

beforeAll(async () => {
  schema = freshSchema("plans");
  store = await openStore(schema);
  s = buildStatements(schema);
  const statusOf = (i: number): JobStatus =>
    i % 40 === 0 ? "pending" : i % 40 === 1 ? "running" : i % 40 === 2 ? "retrying" : "completed";
  for (let b = 0; b < 10; b++) {
    const batch: Job[] = [];
    for (let i = b * 2_000; i < (b + 1) * 2_000; i++)
      batch.push({ ...job(`j${i}`, { createdAt: 1_000 + i, runAt: 1_000 + i }), status: statusOf(i) });
    await store.commit({ insert: batch });
  }
  await admin(`ANALYZE "${schema}".jobs`);
});

afterAll(async () => {
  await store.close();
  await dropSchemas();
});

describe("plans of the hot statements (EXPLAIN)", () => {
  it("claim walks the partial claim index in claim order, with and without a mode filter", async () => {
    for (const modes of [null, ["async"]]) {
      const p = await plan(s.claim, [5_000_000, modes, null, 10, "w", 1000, "chan", null]);
      expect(p.indexes).toContain("jobs_claim");
      expect(p.seqScans).toEqual([]);
    }
  });

  it("a claim of given ids finds them without a sequential scan", async () => {
    const p = await plan(s.claim, [5_000_000, null, null, 10, "w", 1000, "chan", ["j40", "j80"]]);
    expect(p.seqScans).toEqual([]);
    expect(p.indexes.length).toBeGreaterThan(0);
  });

  it("reclaimExpired and leaseOwners read only the partial index of running jobs", async () => {
    expect(await plan(s.expired, [5_000_000, ["dead"], 100])).toMatchObject({ seqScans: [] });
    expect((await plan(s.expired, [5_000_000, [], 100])).indexes).toContain("jobs_running");
    const owners = await plan(s.leaseOwners, []);
    expect(owners.indexes).toContain("jobs_running");
    expect(owners.seqScans).toEqual([]);
  });

  it("renewals, compare-and-set updates, result inserts and getJob find rows by primary key", async () => {
    const ids = ["j1", "j41", "j81"];
    const renew = await plan(s.renew, [5_000_000, ids, [1, 1, 1], "w", 1000]);
    expect(renew.indexes).toContain("jobs_pkey");
    expect(renew.seqScans).toEqual([]);
    const arrays = (v: unknown): unknown[] => ids.map(() => v);
    const columns = [
      ids,
      arrays("completed"),
      arrays("async"),
      arrays("work"),
      arrays(5),
      arrays(1),
      arrays(1),
      arrays(1),
      arrays(1),
      arrays(2),
      arrays(1),
      arrays("{}"),
      arrays(1),
    ];
    const update = await plan(s.updateJobs, columns);
    // The compare-and-set matches (id, created_at): either unique path is a lookup.
    expect(update.indexes.some((i) => i === "jobs_pkey" || i === "jobs_created_id")).toBe(true);
    expect(update.seqScans).toEqual([]);
    const results = await plan(s.insertResults, [ids, arrays("{}")]);
    expect(results.indexes).toContain("jobs_pkey");
    // A group commit of completions: the same update and result insert in one statement.
    const completions = await plan(s.updateJobsResultsNotify, [...columns, ids, arrays("{}"), "chan"]);
    expect(completions.indexes.filter((i) => i === "jobs_pkey" || i === "jobs_created_id").length).toBeGreaterThanOrEqual(2);
    expect(completions.seqScans).toEqual([]);
    const submissions = await plan(s.insertJobsNotify, [...columns.slice(0, 12), "chan"]);
    expect(submissions.seqScans).toEqual([]);
    expect((await plan(s.getJob, ["j1"])).indexes).toEqual(["jobs_pkey"]);
  });

  it("listJobs pages by (created_at, id), filtered by status or not, with and without a cursor", async () => {
    expect((await plan(s.list("asc", "all", false), [101])).indexes).toEqual(["jobs_created_id"]);
    expect((await plan(s.list("desc", "all", true), [101, 5_000, "j4000"])).indexes).toEqual(["jobs_created_id"]);
    for (const cursor of [false, true]) {
      const p = await plan(s.list("asc", "one", cursor), cursor ? [101, "pending", 5_000, "j4000"] : [101, "pending"]);
      expect(p.indexes).toEqual(["jobs_status_created_id"]);
      const many = await plan(
        s.list("desc", "many", cursor),
        cursor ? [101, ["pending", "retrying"], 5_000, "j4000"] : [101, ["pending", "retrying"]],
      );
      expect(many.seqScans).toEqual([]);
    }
  });

  it("a prune batch is a bounded range of the partial index jobs_finished, by age, by count or both", async () => {
    const statuses = ["completed", "failed", "cancelled"];
    for (const params of [
      [statuses, 5_000, null, 100],
      [["completed"], null, 1_000, 100],
      [statuses, 15_000, 500, 100],
      [statuses, null, 0, 100],
    ]) {
      const p = await plan(s.prune, params);
      expect(p.indexes, JSON.stringify(params)).toContain("jobs_finished");
      expect(p.seqScans, JSON.stringify(params)).toEqual([]);
    }
    // Statuses the table holds none of: the planner may prefer the status index; never a table scan.
    expect((await plan(s.prune, [["failed", "cancelled"], 15_000, 500, 100])).seqScans).toEqual([]);
  });
});
