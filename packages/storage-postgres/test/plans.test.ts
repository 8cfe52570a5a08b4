import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job, JobStatus } from "@pyrexis/models";
import type { PostgresJobStore } from "../src/index.js";
import { buildStatements, type Statements } from "../src/statements.js";
import { PostgresFlow } from "../src/flow.js";
import pg from "pg";
import { admin, dropSchemas, freshSchema, job, openStore, PG_URL } from "./helpers.js";

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
  "Sort Key"?: string[];
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

/** The plans auto_explain logs for `text`, nested ones (a function's statements) included; run in a rolled-back transaction. */
async function nestedPlans(text: string, params: unknown[]): Promise<PlanNode[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  const logged: string[] = [];
  client.on("notice", (n) => logged.push(n.message ?? ""));
  await client.connect();
  try {
    await client.query("LOAD 'auto_explain'");
    for (const set of ["log_min_duration = 0", "log_nested_statements = on", "log_format = json"])
      await client.query(`SET auto_explain.${set}`);
    await client.query("SET client_min_messages = log");
    await client.query("BEGIN");
    const { rows } = await client.query(text, params);
    expect(rows.length).toBeGreaterThan(0);
    await client.query("ROLLBACK");
  } finally {
    await client.end();
  }
  return logged.filter((m) => m.includes("plan:")).map((m) => (JSON.parse(m.slice(m.indexOf("plan:") + 5)) as { Plan: PlanNode }).Plan);
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
      const all = (await nestedPlans(s.claim, [5_000_000, modes, null, 10, "w", 1000, "chan", null])).flatMap(nodes);
      expect(all.map((n) => n["Index Name"])).toContain("jobs_claim");
      expect(all.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "jobs")).toEqual([]);
    }
  });

  it("a claim of given ids finds them without a sequential scan", async () => {
    const p = await plan(s.claimIds, [5_000_000, null, null, 10, "w", 1000, "chan", ["j40", "j80"]]);
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
      arrays(null),
      arrays(null),
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
    const submissions = await plan(s.insertJobsNotify, [...columns.slice(0, 12), "chan", arrays(null), arrays(null)]);
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

// A table that has never been analyzed (a fresh table filled by a big backfill, before
// autovacuum's analyze): the planner guesses that few rows are pending, and a plain
// `ORDER BY … LIMIT` claim read and sorted every pending row (1.95 s per claim at 1,000,000).
// The claim's pick runs in claim_due, planned with sorts and other scans disabled; its plan
// is nested, so auto_explain reports it.
describe("the claim on a table with no statistics", () => {
  let bare: PostgresJobStore;
  let name: string;
  let st: Statements;

  beforeAll(async () => {
    name = freshSchema("pgplan_nostats");
    bare = await openStore(name);
    st = buildStatements(name);
    await admin(`ALTER TABLE "${name}".jobs SET (autovacuum_enabled = false)`);
    await admin(
      `INSERT INTO "${name}".jobs (id, status, mode, handler, priority, run_at, created_at, updated_at, attempts, version, aging_key, data)
       SELECT 'n' || lpad(g::text, 7, '0'), CASE WHEN g % 10 = 0 THEN 'retrying' ELSE 'pending' END,
         CASE WHEN g % 2 = 0 THEN 'async' ELSE 'sync' END, 'work', 5, g, g, g, 0, 1, -g::float8, '{}'
       FROM generate_series(1, 100000) AS g`,
    );
  });

  afterAll(async () => {
    await bare.close();
    await dropSchemas();
  });

  it("has no statistics (the case under test)", async () => {
    const [row] = await admin<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = $1 AND tablename = 'jobs'`, [
      name,
    ]);
    expect(row!.n).toBe(0);
  });

  it("walks jobs_claim with no sort, bitmap or sequential scan, filtered or not, small and large batches", async () => {
    for (const [modes, handlers, limit] of [
      [null, null, 10],
      [["async"], null, 10],
      [["async"], ["work"], 1_000],
      [null, null, 5_000],
    ] as const) {
      const label = JSON.stringify([modes, handlers, limit]);
      const all = (await nestedPlans(st.claim, [5_000_000, modes, handlers, limit, "w", 1000, "chan", null])).flatMap(nodes);
      const onJobs = all.filter((n) => n["Relation Name"] === "jobs");
      expect(
        onJobs.map((n) => [n["Node Type"], n["Index Name"]]),
        label,
      ).toContainEqual(["Index Scan", "jobs_claim"]);
      expect(
        onJobs.filter((n) => n["Node Type"] === "Seq Scan"),
        label,
      ).toEqual([]);
      // The update finds the picked rows by primary key (an index or bitmap lookup of the ids).
      const bitmaps = all.filter((n) => n["Node Type"] === "Bitmap Index Scan").map((n) => n["Index Name"]);
      expect(
        bitmaps.filter((i) => i !== "jobs_pkey"),
        label,
      ).toEqual([]);
      // The only sort allowed is the final one over the claimed rows (u), never over the table.
      const sorts = all.filter((n) => n["Node Type"] === "Sort");
      expect(
        sorts.flatMap((n) => n["Sort Key"] ?? []).filter((k) => !k.startsWith("u.")),
        label,
      ).toEqual([]);
    }
  });

  it("the other hot statements use their indexes too: reclaim, lease owners, renewals, updates, listing", async () => {
    const ids = ["n0000001", "n0000002"];
    const checks: [string, string, unknown[]][] = [
      ["expired", st.expired, [5_000_000, ["dead"], 100]],
      ["expired, no dead owners", st.expired, [5_000_000, [], 100]],
      ["leaseOwners", st.leaseOwners, []],
      ["renew", st.renew, [5_000_000, ids, [1, 1], "w", 1000]],
      ["getJob", st.getJob, ["n0000001"]],
      ["list asc", st.list("asc", "all", false), [101]],
      ["list one status", st.list("asc", "one", true), [101, "pending", 5_000, "n0005000"]],
    ];
    const arrays = (v: unknown): unknown[] => ids.map(() => v);
    const columns = [ids, ...["completed", "async", "work", 5, 1, 1, 1, 1, 2, 1, "{}", 1, null, null].map(arrays)];
    checks.push(
      ["updateJobs", st.updateJobs, columns],
      ["updateJobsResultsNotify", st.updateJobsResultsNotify, [...columns, ids, arrays("{}"), "chan"]],
      ["insertResults", st.insertResults, [ids, arrays("{}")]],
    );
    for (const [label, text, params] of checks) {
      const p = await plan(text, params);
      expect(p.seqScans, label).toEqual([]);
      expect(p.indexes.length, label).toBeGreaterThan(0);
    }
  });

  it("a claim of given ids stays a primary-key lookup", async () => {
    const p = await plan(st.claimIds, [5_000_000, null, null, 10, "w", 1000, "chan", ["n0000010", "n0000020"]]);
    expect(p.indexes).toContain("jobs_pkey");
    expect(p.seqScans).toEqual([]);
  });
});

// The flow claim's reads (src/flow.ts): the groups of a mode (a skip scan of jobs_flow_group)
// and chunks of each group's due jobs in claim order (jobs_flow_group for a group, jobs_claim
// for the jobs without one), on a table with no statistics and after ANALYZE.
describe("the flow claim's group reads", () => {
  let bare: PostgresJobStore;
  let name: string;
  let flow: PostgresFlow["statements"];

  beforeAll(async () => {
    name = freshSchema("pgplan_flow");
    bare = await openStore(name);
    flow = new PostgresFlow(name).statements;
    await admin(`ALTER TABLE "${name}".jobs SET (autovacuum_enabled = false)`);
    await admin(
      `INSERT INTO "${name}".jobs (id, status, mode, handler, priority, run_at, created_at, updated_at, attempts, version, aging_key, data, flow_group)
       SELECT 'n' || lpad(g::text, 7, '0'), CASE WHEN g % 5 = 0 THEN 'pending' ELSE 'completed' END,
         CASE WHEN g % 2 = 0 THEN 'async' ELSE 'sync' END, 'work', 5, g, g, g, 0, 1, -g::float8, '{}',
         CASE WHEN g % 3 = 0 THEN NULL ELSE 'g' || (g % 40) END
       FROM generate_series(1, 100000) AS g`,
    );
  });

  afterAll(async () => {
    await bare.close();
    await dropSchemas();
  });

  const check = async (label: string): Promise<void> => {
    const groups = (await nestedPlans(flow.groups, ["async"])).flatMap(nodes).filter((n) => n["Relation Name"] === "jobs");
    expect(
      groups.map((n) => n["Index Name"]),
      `${label}: groups`,
    ).toContain("jobs_flow_group");
    expect(
      groups.filter((n) => n["Node Type"] === "Seq Scan" || n["Node Type"] === "Bitmap Heap Scan"),
      `${label}: groups`,
    ).toEqual([]);
    const params = [5_000_000, "async", null, ["g10", "g20", null], [null, -5_000, null], [null, "n0005000", null], [10, 50, 10]];
    for (const [what, text] of [
      ["chunks", flow.chunks],
      ["limits-only chunks", flow.limitChunks],
    ] as const)
      await checkChunks(`${label}, ${what}`, text, params);
  };

  const checkChunks = async (label: string, text: string, params: unknown[]): Promise<void> => {
    const all = (await nestedPlans(text, params)).flatMap(nodes);
    const onJobs = all.filter((n) => n["Relation Name"] === "jobs");
    const scans = onJobs.map((n) => [n["Node Type"], n["Index Name"]]);
    expect(scans, `${label}: a group's chunk`).toContainEqual(["Index Scan", "jobs_flow_group"]);
    expect(scans, `${label}: the ungrouped chunk`).toContainEqual(["Index Scan", "jobs_claim"]);
    expect(
      onJobs.filter((n) => n["Node Type"] !== "Index Scan"),
      label,
    ).toEqual([]);
    // The only sort allowed is the final one over the fetched rows (by chunk and position), never over the table.
    const sorts = all.filter((n) => n["Node Type"] === "Sort").flatMap((n) => n["Sort Key"] ?? []);
    expect(
      sorts.filter((k) => k !== "g.ord" && !k.endsWith(".pos")),
      label,
    ).toEqual([]);
  };

  it("the limits-only chunks are the chunks through flow_due_limits, reading no record", () => {
    expect(flow.limitChunks).toContain(".flow_due_limits(");
    expect(flow.limitChunks).toContain(".flow_due_limits_ungrouped(");
    expect(flow.limitChunks).not.toMatch(/\.flow_due(_ungrouped)?\(/);
    expect(flow.limitChunks).not.toContain("j.data");
  });

  it("walk jobs_flow_group and jobs_claim with no statistics", () => check("no statistics"));

  it("and after ANALYZE", async () => {
    await admin(`ANALYZE "${name}".jobs`);
    await check("analyzed");
  });
});
